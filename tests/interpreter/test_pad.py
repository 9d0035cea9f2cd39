"""PAD, PADV2 and MIRROR_PAD against LiteRT."""

import numpy as np
import pytest

from tests.interpreter.oneop import Const, assert_fails, compare_with_litert, options

RNG = np.random.default_rng(0)
REFLECT, SYMMETRIC = 0, 1

CASES = [
    ((5,), [[2, 3]]),
    ((3, 4), [[1, 0], [0, 2]]),
    ((3, 4), [[0, 0], [0, 0]]),
    ((2, 3, 4), [[1, 1], [2, 0], [0, 3]]),
    ((1, 5, 6, 3), [[0, 0], [1, 2], [2, 1], [0, 0]]),
    ((2, 4, 3, 2), [[1, 0], [3, 3], [0, 2], [1, 1]]),
]


def padded_shape(shape, pads):
    return tuple(n + a + b for n, (a, b) in zip(shape, pads, strict=True))


@pytest.mark.parametrize("index_type", [np.int32, np.int64])
@pytest.mark.parametrize("shape, pads", CASES)
def test_pad(shape, pads, index_type):
    x = RNG.standard_normal(shape).astype(np.float32)
    paddings = Const(np.array(pads, index_type))
    [out] = compare_with_litert("PAD", [x, paddings], [padded_shape(shape, pads)])
    assert np.count_nonzero(out) == x.size


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_pad_integers(dtype):
    x = RNG.integers(-50, 50, (3, 4)).astype(dtype)
    pads = [[1, 2], [2, 1]]
    compare_with_litert(
        "PAD", [x, Const(np.array(pads, np.int32))], [(6, 7)], output_dtypes=[dtype]
    )


@pytest.mark.parametrize("shape, pads", CASES)
@pytest.mark.parametrize("constant", [True, False])
def test_padv2(shape, pads, constant):
    x = RNG.standard_normal(shape).astype(np.float32)
    value = np.array([-2.5], np.float32)
    inputs = [x, Const(np.array(pads, np.int32)), Const(value) if constant else value]
    [out] = compare_with_litert("PADV2", inputs, [padded_shape(shape, pads)])
    border = out.size - x.size
    assert np.count_nonzero(out == -2.5) == border


def test_padv2_scalar_value():
    x = RNG.standard_normal((3, 4)).astype(np.float32)
    inputs = [x, Const(np.array([[1, 1], [2, 2]], np.int32)), Const(np.array(7.0, np.float32))]
    compare_with_litert("PADV2", inputs, [(5, 8)])


MIRROR_CASES = [
    ((5,), [[2, 3]]),
    ((5,), [[4, 0]]),
    ((3, 4), [[1, 0], [0, 2]]),
    ((3, 4), [[2, 2], [3, 3]]),
    ((2, 3, 4), [[1, 1], [2, 0], [0, 3]]),
    ((1, 5, 6, 3), [[0, 0], [1, 2], [2, 1], [0, 0]]),
    ((2, 4, 3, 2), [[1, 0], [3, 2], [0, 2], [1, 1]]),
]


@pytest.mark.parametrize("mode", [REFLECT, SYMMETRIC])
@pytest.mark.parametrize("shape, pads", MIRROR_CASES)
def test_mirror_pad(shape, pads, mode):
    edge = 1 if mode == REFLECT else 0
    pads = [[min(a, n - edge), min(b, n - edge)] for n, (a, b) in zip(shape, pads, strict=True)]
    x = RNG.standard_normal(shape).astype(np.float32)
    compare_with_litert(
        "MIRROR_PAD",
        [x, Const(np.array(pads, np.int32))],
        [padded_shape(shape, pads)],
        options("MirrorPadOptions", mode=mode),
    )


@pytest.mark.parametrize("mode", [REFLECT, SYMMETRIC])
def test_mirror_pad_values(mode):
    x = np.arange(1, 4, dtype=np.float32)
    [out] = compare_with_litert(
        "MIRROR_PAD",
        [x, Const(np.array([[2, 2]], np.int32))],
        [(7,)],
        options("MirrorPadOptions", mode=mode),
    )
    expected = [3, 2, 1, 2, 3, 2, 1] if mode == REFLECT else [2, 1, 1, 2, 3, 3, 2]
    np.testing.assert_array_equal(out, expected)


def test_pad_bad_nodes():
    x = np.zeros((3, 4), np.float32)
    pads = Const(np.zeros((3, 2), np.int32))
    assert_fails("PAD", [x, pads], [(3, 4)], match=r"paddings shape \[3, 2\] is not")
    negative = Const(np.array([[0, -1], [0, 0]], np.int32))
    assert_fails("PAD", [x, negative], [(3, 3)], match="must not be negative")
    assert_fails("PAD", [x, np.zeros((2, 2), np.int32)], [(3, 4)], match="must be constant")
    floats = Const(np.zeros((2, 2), np.float32))
    assert_fails("PAD", [x, floats], [(3, 4)], match="int32 or int64")


def test_padv2_bad_nodes():
    x = np.zeros((3, 4), np.float32)
    pads = Const(np.ones((2, 2), np.int32))
    int_value = Const(np.zeros(1, np.int32))
    assert_fails("PADV2", [x, pads, int_value], [(5, 6)], match="constant value is int32")
    two = Const(np.zeros(2, np.float32))
    assert_fails("PADV2", [x, pads, two], [(5, 6)], match="one element")


def test_mirror_pad_bad_nodes():
    x = np.zeros((3, 4), np.float32)
    big = Const(np.array([[3, 0], [0, 0]], np.int32))
    reflect = options("MirrorPadOptions", mode=REFLECT)
    assert_fails("MIRROR_PAD", [x, big], [(6, 4)], reflect, match="REFLECT paddings .* too large")
    bigger = Const(np.array([[4, 0], [0, 0]], np.int32))
    symmetric = options("MirrorPadOptions", mode=SYMMETRIC)
    assert_fails(
        "MIRROR_PAD", [x, bigger], [(7, 4)], symmetric, match="SYMMETRIC paddings .* too large"
    )

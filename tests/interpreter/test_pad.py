"""PAD, PADV2 and MIRROR_PAD against LiteRT."""

import numpy as np
import pytest

from emberlite.interpreter import Interpreter
from emberlite.interpreter.registry import KernelError
from tests.interpreter.oneop import Const, compare_with_litert, one_op_model, options

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


def _allocate(op, inputs, out, opts=None):
    Interpreter(model_content=one_op_model(op, inputs, [out], opts)).allocate_tensors()


def test_pad_bad_nodes():
    x = np.zeros((3, 4), np.float32)
    with pytest.raises(KernelError, match=r"node 0 \(PAD\): paddings shape \[3, 2\] is not"):
        _allocate("PAD", [x, Const(np.zeros((3, 2), np.int32))], (3, 4))
    with pytest.raises(KernelError, match="must not be negative"):
        _allocate("PAD", [x, Const(np.array([[0, -1], [0, 0]], np.int32))], (3, 3))
    with pytest.raises(KernelError, match="must be constant"):
        _allocate("PAD", [x, np.zeros((2, 2), np.int32)], (3, 4))
    with pytest.raises(KernelError, match="int32 or int64"):
        _allocate("PAD", [x, Const(np.zeros((2, 2), np.float32))], (3, 4))


def test_padv2_bad_nodes():
    x = np.zeros((3, 4), np.float32)
    pads = Const(np.ones((2, 2), np.int32))
    with pytest.raises(KernelError, match=r"\(PADV2\): constant value is int32"):
        _allocate("PADV2", [x, pads, Const(np.zeros(1, np.int32))], (5, 6))
    with pytest.raises(KernelError, match="one element"):
        _allocate("PADV2", [x, pads, Const(np.zeros(2, np.float32))], (5, 6))


def test_mirror_pad_bad_nodes():
    x = np.zeros((3, 4), np.float32)
    big = Const(np.array([[3, 0], [0, 0]], np.int32))
    with pytest.raises(KernelError, match=r"\(MIRROR_PAD\): REFLECT paddings .* too large"):
        _allocate("MIRROR_PAD", [x, big], (6, 4), options("MirrorPadOptions", mode=REFLECT))
    bigger = Const(np.array([[4, 0], [0, 0]], np.int32))
    with pytest.raises(KernelError, match="SYMMETRIC paddings .* too large"):
        _allocate("MIRROR_PAD", [x, bigger], (7, 4), options("MirrorPadOptions", mode=SYMMETRIC))

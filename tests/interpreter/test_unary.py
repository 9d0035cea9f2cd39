"""Elementwise math of one input, and CAST, against LiteRT."""

import numpy as np
import pytest

from tests.interpreter.oneop import QUANTIZED, Const, assert_fails, compare_with_litert

RNG = np.random.default_rng(2)
SHAPES = [(1,), (7,), (2, 3, 5), (1, 4, 4, 3)]
ANY_SIGN = ["EXP", "SQUARE", "ABS", "NEG", "SIN", "COS", "FLOOR", "CEIL", "ROUND", "SIGN"]
POSITIVE = ["LOG", "SQRT", "RSQRT"]


@pytest.mark.parametrize("op", ANY_SIGN + POSITIVE)
@pytest.mark.parametrize("shape", SHAPES)
def test_float(op, shape):
    x = np.array(RNG.standard_normal(shape) * 4, np.float32)
    if op in POSITIVE:
        x = np.abs(x) + np.float32(0.01)
    compare_with_litert(op, [x], [shape])


@pytest.mark.parametrize("op", ANY_SIGN + POSITIVE)
def test_float_special_values(op):
    x = np.array([0.0, -0.0, 1e-30, -1e-30, 100.0, -100.0, np.inf, -np.inf, np.nan], np.float32)
    with np.errstate(all="ignore"):
        compare_with_litert(op, [x], [x.shape])


def test_round_half_to_even():
    x = np.array([-3.5, -2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, 2.4999998, -2.7], np.float32)
    (out,) = compare_with_litert("ROUND", [x], [x.shape])
    np.testing.assert_array_equal(out, [-4, -2, -2, 0, 0, 2, 2, 4, 2, -3])


@pytest.mark.parametrize(
    "op, dtype",
    [("ABS", np.int32), ("NEG", np.int32), ("NEG", np.int64), ("SIGN", np.int32)],
)
@pytest.mark.parametrize("shape", SHAPES[:3])
def test_integer(op, dtype, shape):
    x = np.array(RNG.integers(-50, 50, shape), dtype)
    compare_with_litert(op, [x], [shape], output_dtypes=[dtype])


def test_constant_input_is_folded():
    x = np.array([1.0, 4.0, 9.0], np.float32)
    (out,) = compare_with_litert("RSQRT", [Const(x)], [x.shape])
    np.testing.assert_allclose(out, [1, 0.5, 1 / 3], rtol=1e-6)


def test_errors():
    i = np.zeros(3, np.int32)
    assert_fails("EXP", [i], [(3,)], dtypes=[np.int32], match="int32; supported: float32")
    assert_fails("SQUARE", [i], [(3,)], dtypes=[np.int32], match="int32; supported: float32")
    assert_fails("ABS", [i.astype(np.int64)], [(3,)], dtypes=[np.int64], match="int64")
    assert_fails("SIGN", [i], [(3,)], match="output 0 has type float32; expected int32")
    f = np.zeros(3, np.float32)
    assert_fails("SQRT", [f, f], [(3,)], match="takes 1 inputs")
    q = np.zeros(3, np.int8)
    assert_fails("ABS", [q], [(3,)], dtypes=[np.int8], match="quantized int8", edit={0: QUANTIZED})


# -- CAST -----------------------------------------------------------------------------------------

TYPES = [
    np.float32,
    np.float16,
    np.float64,
    np.int8,
    np.int16,
    np.int32,
    np.int64,
    np.uint8,
    np.uint16,
    np.uint32,
    np.bool_,
]
# Truncation toward zero, saturation at both ends, NaN -> the maximum, float16 overflow to inf.
SPECIAL = [-2.7, -1.5, -0.5, -0.0, 0.5, 1.5, 2.5, 2.7, 127.9, 128.0, -128.0, -129.0, 255.5]
SPECIAL += [256.0, -32769.0, 65535.9, 70000.0, 3e9, -3e9, 2.0**31, -(2.0**31), 2.0**63]
SPECIAL += [-(2.0**63), 2.0**64, 1e30, -1e30, np.inf, -np.inf, np.nan]


@pytest.mark.parametrize("target", TYPES)
@pytest.mark.parametrize("source", [np.float32, np.float16, np.float64])
def test_cast_from_float(source, target):
    with np.errstate(over="ignore", invalid="ignore"):  # float16 overflow; inf - inf in parity
        x = np.array(SPECIAL + list(RNG.standard_normal(20) * 100), source)
        compare_with_litert("CAST", [x], [x.shape], output_dtypes=[target])


@pytest.mark.parametrize("target", TYPES)
@pytest.mark.parametrize("source", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.bool_])
def test_cast_from_integer(source, target):
    # Narrowing integer casts wrap around; to bool is != 0.
    values = [0, 1, -1, 127, 128, -128, 255, 256, -300, 32767, 70000, 2**31 - 1, -(2**31)]
    x = np.array(values + list(RNG.integers(-(2**31), 2**31, 20)), np.int64).astype(source)
    with np.errstate(invalid="ignore"):  # float16 infinities: inf - inf in the parity check
        compare_with_litert("CAST", [x], [x.shape], output_dtypes=[target])


@pytest.mark.parametrize("shape", SHAPES)
def test_cast_shapes(shape):
    x = np.array(RNG.standard_normal(shape) * 1e3, np.float32)
    compare_with_litert("CAST", [x], [shape], output_dtypes=[np.int32])


def test_cast_errors():
    c = np.zeros(3, np.complex64)
    assert_fails("CAST", [c], [(3,)], match="cannot cast input type complex64")
    f = np.zeros(3, np.float32)
    assert_fails("CAST", [f], [(3,)], dtypes=[np.complex64], match="cannot cast output type")
    assert_fails("CAST", [f, f], [(3,)], match="takes 1 inputs")

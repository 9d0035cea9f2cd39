"""Binary arithmetic against LiteRT: broadcasting, fused activations, integer types."""

import numpy as np
import pytest

from emberlite.interpreter import Interpreter
from tests.interpreter.oneop import BROADCAST_SHAPES as SHAPES
from tests.interpreter.oneop import (
    QUANTIZED,
    Const,
    assert_fails,
    assert_invoke_fails,
    compare_with_litert,
    one_op_model,
    options,
    run,
)

RNG = np.random.default_rng(0)
OPTION_TABLES = {"ADD": "AddOptions", "SUB": "SubOptions", "MUL": "MulOptions", "DIV": "DivOptions"}


def random_ints(shape, low, high, dtype=np.int32, nonzero=False):
    x = np.array(RNG.integers(low, high, shape), dtype)
    if nonzero:
        x[x == 0] = 1
    return x


# -- ADD, SUB, MUL, DIV ---------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["ADD", "SUB", "MUL", "DIV"])
@pytest.mark.parametrize("shapes", SHAPES)
@pytest.mark.parametrize("activation", [0, 1, 2, 3])
def test_binary(op, shapes, activation):
    a = RNG.standard_normal(shapes[0]).astype(np.float32) * 3
    b = RNG.standard_normal(shapes[1]).astype(np.float32) + (4 if op == "DIV" else 0)
    out = np.broadcast_shapes(*shapes)
    compare_with_litert(
        op, [a, b], [out], options(OPTION_TABLES[op], fused_activation_function=activation)
    )


def test_constant_operand():
    a = RNG.standard_normal((3, 4)).astype(np.float32)
    compare_with_litert("ADD", [a, Const(np.ones(4, np.float32))], [(3, 4)])


@pytest.mark.parametrize(
    "op, dtype",
    [("ADD", np.int32), ("SUB", np.int32), ("MUL", np.int32), ("DIV", np.int32)]
    + [("ADD", np.int64), ("SUB", np.int64), ("MUL", np.int64)],
)
@pytest.mark.parametrize("shapes", SHAPES[:4])
@pytest.mark.parametrize("activation", [0, 1, 2, 3])
def test_binary_integer(op, dtype, shapes, activation):
    # DIV truncates toward zero; the activations clamp.
    a = random_ints(shapes[0], -20, 20, dtype)
    b = random_ints(shapes[1], -6, 7, dtype, nonzero=True)
    compare_with_litert(
        op,
        [a, b],
        [np.broadcast_shapes(*shapes)],
        options(OPTION_TABLES[op], fused_activation_function=activation),
        output_dtypes=[dtype],
    )


def test_binary_errors():
    x = np.zeros((2, 3), np.float32)
    assert_fails("ADD", [x, np.zeros(4, np.float32)], [(2, 3)], match="do not broadcast")
    assert_fails("ADD", [x, np.zeros(3, np.int32)], [(2, 3)], match="share one type")
    assert_fails("MUL", [x, x], [(2, 3)], dtypes=[np.int32], match="output 0 has type int32")
    assert_fails("ADD", [x], [(2, 3)], match="takes 2 inputs")
    q = np.zeros((2, 3), np.int8)
    assert_fails(
        "ADD", [q, q], [(2, 3)], dtypes=[np.int8], match="quantized int8", edit={0: QUANTIZED}
    )
    i = np.ones(3, np.int32)
    tanh = options("AddOptions", fused_activation_function=4)
    assert_fails("ADD", [i, i], [(3,)], tanh, [np.int32], match="not supported for integers")
    assert_fails("DIV", [i, Const(i * 0)], [(3,)], dtypes=[np.int32], match="division by 0")
    assert_invoke_fails("DIV", [i, i * 0], [(3,)], dtypes=[np.int32], match="division by 0")


def test_float_division_by_zero_is_not_an_error():
    # Integer DIV refuses 0; float DIV gives +-inf (LiteRT clamps those to +-FLT_MAX).
    x = np.array([2.0, -3.0], np.float32)
    content = one_op_model("DIV", [x, np.zeros(2, np.float32)], [(2,)])
    with np.errstate(divide="ignore"):
        (out,) = run(Interpreter(model_content=content), [x, np.zeros(2, np.float32)])
    np.testing.assert_array_equal(out, [np.inf, -np.inf])


# -- MAXIMUM, MINIMUM, SQUARED_DIFFERENCE ---------------------------------------------------------


@pytest.mark.parametrize(
    "op, dtype",
    [(op, t) for op in ("MAXIMUM", "MINIMUM") for t in (np.float32, np.int32, np.int64)]
    + [("SQUARED_DIFFERENCE", np.float32), ("SQUARED_DIFFERENCE", np.int32)],
)
@pytest.mark.parametrize("shapes", SHAPES)
@pytest.mark.parametrize("constant", [False, True])
def test_elementwise(op, dtype, shapes, constant):
    if dtype == np.float32:
        a = RNG.standard_normal(shapes[0]).astype(dtype) * 3
        b = RNG.standard_normal(shapes[1]).astype(dtype) * 3
    else:
        a, b = random_ints(shapes[0], -9, 9, dtype), random_ints(shapes[1], -9, 9, dtype)
    out = np.broadcast_shapes(*shapes)
    compare_with_litert(op, [a, Const(b) if constant else b], [out], output_dtypes=[dtype])


@pytest.mark.parametrize("op", ["MAXIMUM", "MINIMUM"])
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64])
@pytest.mark.parametrize("first", [False, True])
@pytest.mark.parametrize("size", [100, 5000])
def test_extreme_with_constant_bound(op, dtype, first, size):
    # A one-element constant against a tensor: a clip for large tensors.
    x = np.array(RNG.standard_normal((2, size // 2)) * 9, dtype)
    bound = Const(np.array([1.5 if dtype == np.float32 else 2], dtype))
    inputs = [bound, x] if first else [x, bound]
    compare_with_litert(op, inputs, [x.shape], output_dtypes=[dtype])


def test_elementwise_errors():
    x = np.zeros((2, 3), np.float32)
    assert_fails("MAXIMUM", [x, np.zeros((3, 2), np.float32)], [(2, 3)], match="broadcast")
    b = np.zeros(3, np.bool_)
    assert_fails("MINIMUM", [b, b], [(3,)], dtypes=[np.bool_], match="type bool; supported")
    i = np.zeros(3, np.int64)
    assert_fails("SQUARED_DIFFERENCE", [i, i], [(3,)], dtypes=[np.int64], match="int64")


# -- POW ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shapes", SHAPES)
def test_pow_float(shapes):
    a = RNG.uniform(0.1, 3.0, shapes[0]).astype(np.float32)
    b = RNG.uniform(-2.5, 2.5, shapes[1]).astype(np.float32)
    compare_with_litert("POW", [a, b], [np.broadcast_shapes(*shapes)])


def test_pow_float_negative_base():
    # Integral exponents of negative bases are real; others are NaN in both.
    a = np.array([-2.0, -0.5, -3.0, -1.5, 0.0, 0.0, 2.0], np.float32)
    b = np.array([3.0, 2.0, -1.0, 0.5, 0.0, 2.0, -0.0], np.float32)
    with np.errstate(invalid="ignore"):
        compare_with_litert("POW", [a, b], [a.shape])


@pytest.mark.parametrize("shapes", SHAPES)
@pytest.mark.parametrize("constant", [False, True])
def test_pow_int(shapes, constant):
    a = random_ints(shapes[0], -6, 7)
    b = random_ints(shapes[1], 0, 5)
    out = np.broadcast_shapes(*shapes)
    compare_with_litert("POW", [a, Const(b) if constant else b], [out], output_dtypes=[np.int32])


def test_pow_errors():
    i = np.array([2, 3], np.int32)
    assert_fails("POW", [i, Const(-i)], [(2,)], dtypes=[np.int32], match="non-negative")
    assert_invoke_fails("POW", [i, -i], [(2,)], dtypes=[np.int32], match="non-negative")
    j = i.astype(np.int64)
    assert_fails("POW", [j, j], [(2,)], dtypes=[np.int64], match="int64; supported")


# -- FLOOR_DIV, FLOOR_MOD -------------------------------------------------------------------------


def _dividends(shapes, dtype):
    if np.dtype(dtype).kind == "f":
        a = np.array(RNG.standard_normal(shapes[0]) * 10, dtype)
        b = np.array(RNG.standard_normal(shapes[1]) * 3, dtype)
        b[np.abs(b) < 0.25] = 0.5
        return a, b
    return random_ints(shapes[0], -30, 30, dtype), random_ints(shapes[1], -7, 8, dtype, True)


@pytest.mark.parametrize(
    "op, dtype",
    [("FLOOR_DIV", np.float32), ("FLOOR_DIV", np.int32)]
    + [("FLOOR_MOD", t) for t in (np.float32, np.int32, np.int64)],
)
@pytest.mark.parametrize("shapes", SHAPES)
@pytest.mark.parametrize("constant", [False, True])
def test_floor_div_mod(op, dtype, shapes, constant):
    a, b = _dividends(shapes, dtype)
    out = np.broadcast_shapes(*shapes)
    compare_with_litert(op, [a, Const(b) if constant else b], [out], output_dtypes=[dtype])


@pytest.mark.parametrize("op", ["FLOOR_DIV", "FLOOR_MOD"])
def test_floor_div_mod_exact_cases(op):
    # Exact multiples, signed zeros and infinite divisors: where floor and fmod are delicate.
    a = np.array([7, -7, 7, -7, 7.5, -0.0, 6, -6, 1e30, -1, 1], np.float32)
    b = np.array([2, 2, -2, -2, 0.5, 3, 3, 3, 1e-30, np.inf, -np.inf], np.float32)
    with np.errstate(invalid="ignore", over="ignore"):
        compare_with_litert(op, [a, b], [a.shape])


def test_floor_mod_float_by_zero_is_nan():
    a = np.array([1.0, -2.0, 0.0], np.float32)
    with np.errstate(invalid="ignore"):
        (out,) = compare_with_litert("FLOOR_MOD", [a, np.zeros(3, np.float32)], [(3,)])
    assert np.isnan(out).all()


def test_floor_div_mod_errors():
    f = np.array([1.0, 2.0], np.float32)
    i = np.array([1, 2], np.int32)
    zero_f, zero_i = np.array([1.0, 0.0], np.float32), np.array([1, 0], np.int32)
    assert_fails("FLOOR_DIV", [f, Const(zero_f)], [(2,)], match="division by 0")
    assert_invoke_fails("FLOOR_DIV", [f, zero_f], [(2,)], match="division by 0")
    assert_invoke_fails("FLOOR_DIV", [i, zero_i], [(2,)], dtypes=[np.int32], match="division by 0")
    assert_invoke_fails("FLOOR_MOD", [i, zero_i], [(2,)], dtypes=[np.int32], match="division by 0")
    assert_fails("FLOOR_MOD", [i, Const(zero_i)], [(2,)], dtypes=[np.int32], match="division by 0")
    b = np.array([True, False])
    assert_fails("FLOOR_MOD", [b, b], [(2,)], dtypes=[np.bool_], match="type bool")

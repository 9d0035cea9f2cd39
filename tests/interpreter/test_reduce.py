"""Reductions and ARG_MAX / ARG_MIN against LiteRT."""

import numpy as np
import pytest

from tests.interpreter.oneop import (
    QUANTIZED,
    SCALAR,
    Const,
    assert_fails,
    compare_with_litert,
    options,
)

RNG = np.random.default_rng(4)
NUMERIC_OPS = ["MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD"]
# Negative, duplicated (also as the same axis spelled two ways), unsorted, empty, all.
AXES = [[0], [-1], [1, 2], [2, 0], [1, -2], [0, 0], [], [0, 1, 2], [-3, 1, -1]]


def reduced_shape(shape, axes, keep_dims):
    axes = {a % len(shape) for a in axes}
    return tuple(1 if d in axes else n for d, n in enumerate(shape) if keep_dims or d not in axes)


def axis_input(axes):
    # NOTE: an empty constant cannot be stored (an empty buffer means "no data"), so the
    # empty axis list comes in at run time: it has no values to read anyway.
    return Const(np.array(axes, np.int32)) if axes else np.zeros(0, np.int32)


def values(shape, dtype):
    if dtype == np.float32:
        return np.array(RNG.standard_normal(shape) * 2, dtype)
    if dtype == np.bool_:
        return np.array(RNG.integers(0, 4, shape) > 0)
    return np.array(RNG.integers(-9, 10, shape), dtype)


@pytest.mark.parametrize("op", NUMERIC_OPS)
@pytest.mark.parametrize("axes", AXES)
@pytest.mark.parametrize("keep_dims", [False, True])
def test_reduce(op, axes, keep_dims):
    x = values((3, 4, 5), np.float32)
    out = reduced_shape(x.shape, axes, keep_dims)
    opts = options("ReducerOptions", keep_dims=keep_dims)
    compare_with_litert(op, [x, axis_input(axes)], [out], opts)


@pytest.mark.parametrize("op", NUMERIC_OPS)
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@pytest.mark.parametrize("axes", [[1], [0, 2], [-1]])
def test_reduce_integer(op, dtype, axes):
    # Integer MEAN truncates toward zero; products stay small enough not to overflow.
    x = values((2, 3, 4), dtype) % 4 - 1 if op == "REDUCE_PROD" else values((2, 3, 4), dtype)
    out = reduced_shape(x.shape, axes, False)
    axis = Const(np.array(axes, np.int32))
    compare_with_litert(op, [x, axis], [out], options("ReducerOptions"), output_dtypes=[dtype])


@pytest.mark.parametrize(
    "shape, axes",
    [((1, 7, 7, 16), [1, 2]), ((2, 10, 8), [1]), ((64,), [0]), ((3, 1, 5), [1]), ((1,), [0])],
)
@pytest.mark.parametrize("op", NUMERIC_OPS)
def test_reduce_shapes(shape, axes, op):
    x = values(shape, np.float32)
    if op == "REDUCE_PROD":
        x = np.array(1 + 0.1 * np.tanh(x), np.float32)  # long products of moderate factors
    opts = options("ReducerOptions", keep_dims=True)
    compare_with_litert(
        op, [x, Const(np.array(axes, np.int32))], [(reduced_shape(shape, axes, True))], opts
    )


@pytest.mark.parametrize("op", NUMERIC_OPS)
def test_reduce_over_no_elements(op):
    # SUM 0, PROD 1, MAX the lowest float, MIN the highest, MEAN NaN.
    x = np.zeros((2, 0, 3), np.float32)
    compare_with_litert(
        op, [x, Const(np.array([1], np.int32))], [(2, 3)], options("ReducerOptions")
    )


@pytest.mark.parametrize("op", ["REDUCE_ANY", "REDUCE_ALL"])
@pytest.mark.parametrize("axes", AXES)
@pytest.mark.parametrize("keep_dims", [False, True])
def test_reduce_logical(op, axes, keep_dims):
    x = values((3, 4, 5), np.bool_)
    x[0] = True
    x[1] = False
    out = reduced_shape(x.shape, axes, keep_dims)
    opts = options("ReducerOptions", keep_dims=keep_dims)
    compare_with_litert(op, [x, axis_input(axes)], [out], opts, output_dtypes=[np.bool_])


def test_reduce_errors():
    x = np.zeros((2, 3), np.float32)
    reducer = options("ReducerOptions")
    axis = np.array([2], np.int32)
    assert_fails("SUM", [x, Const(axis)], [(2,)], reducer, match="axis 2 is out of range")
    assert_fails("MEAN", [x, Const(-axis - 1)], [(2,)], reducer, match="axis -3 is out of range")
    assert_fails("SUM", [x, axis - 1], [(2,)], reducer, match="must be constant")
    f_axis = Const(np.array([1.0], np.float32))
    assert_fails("SUM", [x, f_axis], [(2,)], reducer, match="axis input must be int32")
    assert_fails("REDUCE_ANY", [x, Const(axis - 1)], [(2,)], reducer, match="float32; supported")
    b = np.zeros((2, 3), np.bool_)
    assert_fails("SUM", [b, Const(axis - 1)], [(2,)], reducer, [np.bool_], match="bool; supported")
    q = np.zeros((2, 3), np.int8)
    one = Const(axis - 1)
    assert_fails(
        "MEAN", [q, one], [(2,)], reducer, [np.int8], match="quantized", edit={0: QUANTIZED}
    )
    i = np.zeros((2, 0), np.int32)
    assert_fails("MEAN", [i, one], [(2,)], reducer, [np.int32], match="integer mean over no")
    assert_fails("SUM", [x], [(2,)], reducer, match="takes 2 inputs")


# -- ARG_MAX, ARG_MIN -----------------------------------------------------------------------------

ARG_OPTIONS = {"ARG_MAX": "ArgMaxOptions", "ARG_MIN": "ArgMinOptions"}
INDEX_TYPES = {2: np.int32, 4: np.int64}  # TensorType codes


@pytest.mark.parametrize("op", ["ARG_MAX", "ARG_MIN"])
@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3])
@pytest.mark.parametrize("output_type", [2, 4])
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.uint8, np.bool_])
def test_arg(op, axis, output_type, dtype):
    # Few distinct values: ties are common and must pick the first index.
    x = values((3, 4, 5), dtype)
    if dtype != np.bool_:
        x = x % 3
    out = tuple(n for d, n in enumerate(x.shape) if d != axis % 3)
    opts = options(ARG_OPTIONS[op], output_type=output_type)
    axis_in = Const(np.array([axis], np.int32))
    compare_with_litert(op, [x, axis_in], [out], opts, output_dtypes=[INDEX_TYPES[output_type]])


@pytest.mark.parametrize("op", ["ARG_MAX", "ARG_MIN"])
@pytest.mark.parametrize("axis", [np.array(1, np.int32), np.array([1], np.int64)])
@pytest.mark.parametrize("shape", [(2, 9), (1, 6, 6, 21)])
def test_arg_axis_forms(op, axis, shape):
    # A scalar axis, an int64 axis; a wide float input.
    x = values(shape, np.float32)
    out = tuple(n for d, n in enumerate(shape) if d != 1)
    opts = options(ARG_OPTIONS[op], output_type=4)
    compare_with_litert(op, [x, Const(axis)], [out], opts, output_dtypes=[np.int64])


def test_arg_errors():
    x = np.zeros((2, 3), np.float32)
    opts = options("ArgMaxOptions", output_type=2)
    one = Const(np.array([1], np.int32))
    two = Const(np.array([0, 1], np.int32))
    assert_fails("ARG_MAX", [x, two], [(2,)], opts, [np.int32], match="exactly one axis")
    assert_fails(
        "ARG_MAX",
        [x, Const(np.array([2], np.int32))],
        [(2,)],
        opts,
        [np.int32],
        match="out of range",
    )
    assert_fails("ARG_MAX", [x, one], [(2,)], None, [np.int32], match="output_type must be")
    assert_fails("ARG_MAX", [x, one], [(2,)], opts, [np.int64], match="expected int32")
    assert_fails(
        "ARG_MIN",
        [np.zeros((2, 0), np.float32), one],
        [(2,)],
        opts,
        [np.int32],
        match="no elements",
    )
    scalar = np.zeros(1, np.float32)
    zero = Const(np.array([0], np.int32))
    assert_fails("ARG_MAX", [scalar, zero], [()], opts, [np.int32], match="rank", edit={0: SCALAR})
    f16 = np.zeros((2, 3), np.float16)
    assert_fails("ARG_MAX", [f16, one], [(2,)], opts, [np.int32], match="float16; supported")

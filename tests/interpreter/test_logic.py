"""Comparisons and logical ops against LiteRT: bool outputs, broadcasting."""

import numpy as np
import pytest

from tests.interpreter.oneop import BROADCAST_SHAPES as SHAPES
from tests.interpreter.oneop import QUANTIZED, Const, assert_fails, compare_with_litert

RNG = np.random.default_rng(1)
COMPARISONS = ["LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL", "EQUAL", "NOT_EQUAL"]


def _values(shape, dtype):
    # Few distinct values, so that ties (where < and <= differ) are common.
    values = RNG.integers(-3, 4, shape)
    if dtype == np.bool_:
        return np.array(values > 0)
    return np.array(values * (0.5 if dtype == np.float32 else 1), dtype)


@pytest.mark.parametrize("op", COMPARISONS)
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64])
@pytest.mark.parametrize("shapes", SHAPES)
def test_comparison(op, dtype, shapes):
    a, b = _values(shapes[0], dtype), _values(shapes[1], dtype)
    out = np.broadcast_shapes(*shapes)
    compare_with_litert(op, [a, b], [out], output_dtypes=[np.bool_])


@pytest.mark.parametrize("op", ["EQUAL", "NOT_EQUAL", "LOGICAL_AND", "LOGICAL_OR"])
@pytest.mark.parametrize("shapes", SHAPES)
@pytest.mark.parametrize("constant", [False, True])
def test_bool_binary(op, shapes, constant):
    a, b = _values(shapes[0], np.bool_), _values(shapes[1], np.bool_)
    out = np.broadcast_shapes(*shapes)
    compare_with_litert(op, [a, Const(b) if constant else b], [out], output_dtypes=[np.bool_])


def test_comparison_of_special_floats():
    a = np.array([np.nan, np.nan, 1.0, np.inf, -np.inf, 0.0], np.float32)
    b = np.array([np.nan, 1.0, np.nan, np.inf, 0.0, -0.0], np.float32)
    for op in COMPARISONS:
        compare_with_litert(op, [a, b], [a.shape], output_dtypes=[np.bool_])


@pytest.mark.parametrize("shape", [(), (5,), (2, 3, 4)])
def test_logical_not(shape):
    x = _values(shape, np.bool_)
    compare_with_litert("LOGICAL_NOT", [x], [shape], output_dtypes=[np.bool_])


def test_errors():
    f = np.zeros(3, np.float32)
    b = np.zeros(3, np.bool_)
    assert_fails("LESS", [f, f], [(3,)], match="output 0 has type float32; expected bool")
    assert_fails("LESS", [b, b], [(3,)], dtypes=[np.bool_], match="type bool; supported")
    assert_fails("EQUAL", [f, b], [(3,)], dtypes=[np.bool_], match="share one type")
    assert_fails(
        "GREATER", [f, np.zeros(2, np.float32)], [(3,)], None, [np.bool_], match="broadcast"
    )
    assert_fails("LOGICAL_AND", [f, f], [(3,)], dtypes=[np.bool_], match="float32; supported")
    assert_fails("LOGICAL_NOT", [f], [(3,)], dtypes=[np.bool_], match="float32; supported")
    assert_fails("LOGICAL_NOT", [b, b], [(3,)], dtypes=[np.bool_], match="takes 1 inputs")
    q = np.zeros(3, np.uint8)
    assert_fails(
        "LESS", [q, q], [(3,)], dtypes=[np.bool_], match="quantized uint8", edit={0: QUANTIZED}
    )

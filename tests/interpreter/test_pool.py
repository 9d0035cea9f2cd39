"""Max and average pooling against LiteRT: windows, strides, paddings, activations."""

import numpy as np
import pytest

from tests.interpreter.oneop import (
    SAME,
    VALID,
    assert_fails,
    compare_with_litert,
    options,
    out_size,
)

RNG = np.random.default_rng(0)
OPS = ["MAX_POOL_2D", "AVERAGE_POOL_2D"]


def pool_case(shape, k, stride, padding, activation=0):
    x = (RNG.standard_normal(shape) * 2).astype(np.float32)
    n, h, w, c = shape
    out = (n, out_size(h, k[0], stride[0], padding), out_size(w, k[1], stride[1], padding), c)
    opts = options(
        "Pool2DOptions",
        padding=padding,
        stride_h=stride[0],
        stride_w=stride[1],
        filter_height=k[0],
        filter_width=k[1],
        fused_activation_function=activation,
    )
    return x, out, opts


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("padding", [SAME, VALID])
@pytest.mark.parametrize(
    "k, stride",
    [
        ((1, 1), (1, 1)),
        ((2, 2), (2, 2)),
        ((3, 3), (1, 1)),
        ((3, 3), (2, 2)),
        ((2, 3), (1, 2)),
        ((4, 4), (3, 3)),
        ((5, 4), (2, 3)),
        ((3, 10), (2, 3)),  # wide strided windows: one reduction over the columns
        ((7, 9), (7, 9)),
        ((6, 6), (1, 1)),
    ],
)
@pytest.mark.parametrize("shape", [(1, 9, 11, 3), (2, 8, 10, 4)])
def test_pool(op, shape, k, stride, padding):
    x, out, opts = pool_case(shape, k, stride, padding)
    compare_with_litert(op, [x], [out], opts)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("padding", [SAME, VALID])
@pytest.mark.parametrize("size", [16, 13])
def test_global_pool(op, size, padding):
    """mediapipe's global pooling: one window over the whole image."""
    x, out, opts = pool_case((1, size, size, 8), (size, size), (size, size), padding)
    compare_with_litert(op, [x], [out], opts)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("activation", [0, 1, 2, 3, 4, 5])  # TANH, SIGN_BIT: no-ops in TFLite
def test_pool_activation(op, activation):
    x, out, opts = pool_case((1, 7, 7, 3), (3, 3), (2, 2), SAME, activation)
    compare_with_litert(op, [x], [out], opts)


def test_average_counts_only_input_pixels():
    """SAME padding: a corner window of a 3x3 average over ones is still exactly one."""
    x = np.ones((1, 4, 4, 1), np.float32)
    opts = options(
        "Pool2DOptions", padding=SAME, stride_h=1, stride_w=1, filter_height=3, filter_width=3
    )
    [out] = compare_with_litert("AVERAGE_POOL_2D", [x], [(1, 4, 4, 1)], opts)
    np.testing.assert_array_equal(out, x)


def test_max_ignores_padding():
    x = -np.ones((1, 3, 3, 2), np.float32) * np.arange(1, 10, dtype=np.float32).reshape(1, 3, 3, 1)
    opts = options(
        "Pool2DOptions", padding=SAME, stride_h=2, stride_w=2, filter_height=2, filter_width=2
    )
    [out] = compare_with_litert("MAX_POOL_2D", [x], [(1, 2, 2, 2)], opts)
    assert out.max() < 0


@pytest.mark.parametrize("op", OPS)
def test_pool_bad_nodes(op):
    x, out, opts = pool_case((1, 6, 6, 2), (2, 2), (2, 2), VALID)
    assert_fails(op, [x[0]], [out[1:]], opts, match="input must have rank 4")
    zero = options(
        "Pool2DOptions", padding=VALID, stride_h=1, stride_w=1, filter_height=0, filter_width=2
    )
    assert_fails(op, [x], [out], zero, match="filter 0x2")
    big = options(
        "Pool2DOptions", padding=VALID, stride_h=1, stride_w=1, filter_height=7, filter_width=2
    )
    assert_fails(op, [x], [out], big, match="does not fit")
    assert_fails(op, [x.astype(np.int8)], [out], opts, match="only float32")

"""L2_NORMALIZATION and LOCAL_RESPONSE_NORMALIZATION against LiteRT."""

import numpy as np
import pytest

from tests.interpreter.oneop import (
    QUANTIZED,
    SCALAR,
    assert_fails,
    compare_with_litert,
    options,
    rand,
)


@pytest.mark.parametrize("shape", [(5,), (3, 8), (2, 3, 7), (1, 4, 4, 16), (1, 1, 2, 3, 6)])
@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
def test_l2_normalization(shape, scale):
    compare_with_litert("L2_NORMALIZATION", [rand(*shape, scale=scale)], [shape])


def test_l2_normalization_epsilon():
    # TFLite divides by max(norm, 1e-6): tiny vectors are scaled up by 1e6, not normalized.
    x = np.array([[0, 0, 0], [1e-7, 0, 0], [3e-7, -4e-7, 0], [1e-3, 0, 0], [3, 4, 0]], np.float32)
    (out,) = compare_with_litert("L2_NORMALIZATION", [x], [x.shape])
    expected = [[0, 0, 0], [0.1, 0, 0], [0.3, -0.4, 0], [1, 0, 0], [0.6, 0.8, 0]]
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_l2_normalization_errors():
    x = np.ones((2, 3), np.float32)
    relu = options("L2NormOptions", fused_activation_function=1)
    assert_fails("L2_NORMALIZATION", [x], [(2, 3)], relu, match="fused activations")
    one = np.ones(1, np.float32)
    assert_fails("L2_NORMALIZATION", [one], [()], match="rank >= 1", edit={0: SCALAR})
    q = np.ones((2, 3), np.int8)
    qd = [np.int8]
    assert_fails(
        "L2_NORMALIZATION", [q], [(2, 3)], None, qd, match="quantized", edit={0: QUANTIZED}
    )


@pytest.mark.parametrize("radius", [0, 1, 2, 5, 40])
@pytest.mark.parametrize("bias, alpha", [(1.0, 1e-4), (2.0, 0.5), (0.5, 1.0)])
@pytest.mark.parametrize("beta", [0.75, 0.5, 1.0])
@pytest.mark.parametrize("shape", [(1, 3, 4, 9), (2, 2, 2, 1), (1, 5, 1, 32)])
def test_local_response_normalization(radius, bias, alpha, beta, shape):
    opts = options(
        "LocalResponseNormalizationOptions", radius=radius, bias=bias, alpha=alpha, beta=beta
    )
    compare_with_litert("LOCAL_RESPONSE_NORMALIZATION", [rand(*shape, scale=2.0)], [shape], opts)


def test_local_response_normalization_window():
    # One channel's square reaches exactly `radius` channels on each side.
    x = np.ones((1, 1, 1, 9), np.float32)
    x[..., 4] = 3
    opts = options("LocalResponseNormalizationOptions", radius=2, bias=0.0, alpha=1.0, beta=1.0)
    (out,) = compare_with_litert("LOCAL_RESPONSE_NORMALIZATION", [x], [x.shape], opts)
    sums = np.array([3, 4, 13, 13, 13, 13, 13, 4, 3], np.float32)
    np.testing.assert_allclose(out.reshape(-1), x.reshape(-1) / sums, rtol=1e-6)


def test_local_response_normalization_defaults():
    # No options: bias = alpha = beta = 0, so x / 0^0 = x.
    x = rand(1, 2, 2, 5, scale=2.0)
    (out,) = compare_with_litert("LOCAL_RESPONSE_NORMALIZATION", [x], [x.shape])
    np.testing.assert_array_equal(out, x)


def test_local_response_normalization_errors():
    opts = options("LocalResponseNormalizationOptions", radius=2, bias=1.0, alpha=1.0, beta=0.5)
    x = np.ones((1, 2, 3), np.float32)
    op = "LOCAL_RESPONSE_NORMALIZATION"
    assert_fails(op, [x], [x.shape], opts, match="4-D input")
    x4 = np.ones((1, 2, 2, 3), np.float32)
    negative = options("LocalResponseNormalizationOptions", radius=-1)
    assert_fails(op, [x4], [x4.shape], negative, match="radius -1 is negative")
    assert_fails(op, [x4.astype(np.int32)], [x4.shape], opts, [np.int32], match="int32")

"""Activations, SOFTMAX and LOG_SOFTMAX against LiteRT."""

import math

import numpy as np
import pytest

from emberlite.interpreter import Interpreter
from tests.interpreter.oneop import (
    QUANTIZED,
    SCALAR,
    Const,
    assert_fails,
    compare_with_litert,
    one_op_model,
    options,
    rand,
    run,
)

RNG = np.random.default_rng(3)
# The last two are large enough for the kernels' np.clip paths (>= 4096 elements).
SHAPES = [(1,), (9,), (2, 3, 5), (1, 6, 6, 4), (1, 16, 16, 20), (2, 30, 40)]
SIMPLE = [
    "RELU",
    "RELU6",
    "RELU_N1_TO_1",
    "RELU_0_TO_1",
    "TANH",
    "LOGISTIC",
    "HARD_SWISH",
    "ELU",
    "GELU",
]


@pytest.mark.parametrize("op", SIMPLE)
@pytest.mark.parametrize("shape", SHAPES)
def test_simple(op, shape):
    compare_with_litert(op, [rand(*shape, scale=4.0)], [shape])


@pytest.mark.parametrize("op", SIMPLE)
def test_edges_and_extremes(op):
    # The clamps' and HARD_SWISH's corners, LOGISTIC's exp overflow, signed zeros, NaN.
    x = [-3.0, 3.0, -6.0, 6.0, -1.0, 1.0, 0.0, -0.0, 1e-20, -1e-20, 30.0, -30.0, 90.0, -90.0]
    x = np.array(x + [200.0, -200.0, 1e30, -1e30, np.nan], np.float32)
    with np.errstate(invalid="ignore"):  # NaN in the parity check
        compare_with_litert(op, [x], [x.shape])


@pytest.mark.parametrize("alpha", [0.0, 0.2, 1.0, 1.5, -0.3, None])
@pytest.mark.parametrize("shape", SHAPES[1:])
def test_leaky_relu(alpha, shape):
    opts = None if alpha is None else options("LeakyReluOptions", alpha=alpha)
    compare_with_litert("LEAKY_RELU", [rand(*shape, scale=4.0)], [shape], opts)


@pytest.mark.parametrize(
    "x_shape, alpha_shape",
    [((1, 5, 5, 3), (3,)), ((1, 5, 5, 3), (1, 1, 3)), ((2, 4, 3), (4, 3)), ((2, 4, 3), ())]
    + [((4, 3), (4, 3)), ((4, 3), (1,)), ((1, 32, 32, 8), (8,))],
)
@pytest.mark.parametrize("alphas", ["small", "large", "mixed"])
@pytest.mark.parametrize("constant", [True, False])
def test_prelu(x_shape, alpha_shape, alphas, constant):
    # All alpha <= 1, all > 1, or both: the kernel's three ways of computing it.
    low, high = {"small": (-0.5, 1.0), "large": (1.01, 3.0), "mixed": (-2.0, 3.0)}[alphas]
    alpha = np.array(RNG.uniform(low, high, alpha_shape), np.float32)
    out = np.broadcast_shapes(x_shape, alpha_shape)
    x = rand(*x_shape, scale=4.0)
    compare_with_litert("PRELU", [x, Const(alpha) if constant else alpha], [out])


@pytest.mark.parametrize("approximate", [False, True, None])
@pytest.mark.parametrize("scale", [1.0, 4.0])
@pytest.mark.parametrize("shape", [(3, 50), (64, 80)])
def test_gelu(approximate, scale, shape):
    opts = None if approximate is None else options("GeluOptions", approximate=approximate)
    compare_with_litert("GELU", [rand(*shape, scale=scale)], [shape], opts)


def test_gelu_exact_precision():
    # Against math.erfc of the same float32 z = x * -sqrt(1/2) that TFLite's erfcf sees: the
    # erfc approximation is good to 1e-8, so the float32 outputs are within 2 ulp.
    x = np.concatenate([np.linspace(-12, 12, 4001), RNG.standard_normal(1000) * 3])
    x = np.concatenate([x, [0.0, 1e-30, -1e-30, 1e-6, -1e-6, 40.0, 1e4, -1e-3]]).astype(np.float32)
    content = one_op_model("GELU", [x], [x.shape], options("GeluOptions", approximate=False))
    (ours,) = run(Interpreter(model_content=content), [x])
    z = x * np.float32(-math.sqrt(0.5))
    ref = np.array([0.5 * float(a) * math.erfc(float(b)) for a, b in zip(x, z, strict=True)])
    np.testing.assert_allclose(ours, ref, rtol=2.4e-7, atol=1e-38)


BETAS = [1.0, 0.5, 2.5, -0.7, None]  # None: the options table's default (0: uniform)


@pytest.mark.parametrize("beta", BETAS)
@pytest.mark.parametrize("shape", [(7,), (3, 10), (2, 3, 1), (1, 4, 4, 6)])
def test_softmax(beta, shape):
    opts = None if beta is None else options("SoftmaxOptions", beta=beta)
    compare_with_litert("SOFTMAX", [rand(*shape, scale=4.0)], [shape], opts)


@pytest.mark.parametrize("beta", [1.0, -1.0])
def test_softmax_is_stable(beta):
    # Rows far from 0 would overflow exp without the shift by the row's max (min for beta < 0).
    x = rand(4, 8, scale=4.0) + np.array([[1000.0], [-1000.0], [80.0], [0.0]], np.float32)
    (out,) = compare_with_litert("SOFTMAX", [x], [x.shape], options("SoftmaxOptions", beta=beta))
    np.testing.assert_allclose(out.sum(axis=-1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("shape", [(7,), (3, 10), (2, 3, 1), (1, 4, 4, 6)])
@pytest.mark.parametrize("offset", [0.0, 1000.0, -1000.0])
def test_log_softmax(shape, offset):
    compare_with_litert("LOG_SOFTMAX", [rand(*shape, scale=4.0) + np.float32(offset)], [shape])


def test_errors():
    f = np.zeros((2, 3), np.float32)
    i = np.zeros((2, 3), np.int32)
    assert_fails("RELU", [i], [(2, 3)], dtypes=[np.int32], match="int32; supported: float32")
    assert_fails("TANH", [f, f], [(2, 3)], match="takes 1 inputs")
    assert_fails("LOGISTIC", [f], [(2, 3)], dtypes=[np.float16], match="output 0 has type float16")
    q = np.zeros((2, 3), np.int8)
    assert_fails(
        "HARD_SWISH", [q], [(2, 3)], dtypes=[np.int8], match="quantized", edit={0: QUANTIZED}
    )
    assert_fails("PRELU", [f, np.zeros(4, np.float32)], [(2, 3)], match="do not broadcast")
    # TFLite broadcasts alpha to the input's shape, never the input to a larger one.
    alpha = np.zeros((2, 2, 3), np.float32)
    assert_fails("PRELU", [f, alpha], [(2, 2, 3)], match="alpha of shape \\[2, 2, 3\\]")
    assert_fails("PRELU", [f], [(2, 3)], match="takes 2 inputs")
    one = np.zeros(1, np.float32)
    assert_fails("SOFTMAX", [one], [()], match="rank >= 1", edit={0: SCALAR})
    assert_fails("LOG_SOFTMAX", [one], [()], match="rank >= 1", edit={0: SCALAR})
    assert_fails("GELU", [i], [(2, 3)], options("GeluOptions"), [np.int32], match="int32")

"""Small IR graphs built by hand, with NumPy references, for the writer and float16 tests.

g, reference = cnn_graph()
ours = run_both(write(g), [x])        # our interpreter and LiteRT agree (parity rule)
np.testing.assert_allclose(ours[0], reference(x), rtol=1e-4, atol=1e-5)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from emberlite.converter.ir import Graph
from tests.interpreter.oneop import compare_models

RNG = np.random.default_rng(0)
Reference = Callable[[np.ndarray], np.ndarray]


def rand(*shape: int, scale: float = 1.0) -> np.ndarray:
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def run_both(content: bytes, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Outputs of our interpreter, asserted to agree with LiteRT's builtin kernels."""
    return compare_models(content, inputs)


def assert_close(actual: np.ndarray, expected: np.ndarray, rtol: float = 1e-4) -> None:
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=1e-5)


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def conv_same(x: np.ndarray, w_ohwi: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """NHWC convolution, stride 1, SAME padding, odd square filter in TFLite's OHWI layout."""
    k = w_ohwi.shape[1]
    padded = np.pad(x, ((0, 0), (k // 2, k // 2), (k // 2, k // 2), (0, 0)))
    windows = sliding_window_view(padded, (k, k), axis=(1, 2))  # N, H, W, C, kh, kw
    return np.einsum("nhwcij,oijc->nhwo", windows, w_ohwi) + bias


def depthwise_same(x: np.ndarray, w_1hwc: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """NHWC depthwise convolution (multiplier 1), stride 1, SAME padding."""
    k = w_1hwc.shape[1]
    padded = np.pad(x, ((0, 0), (k // 2, k // 2), (k // 2, k // 2), (0, 0)))
    windows = sliding_window_view(padded, (k, k), axis=(1, 2))
    return np.einsum("nhwcij,ijc->nhwc", windows, w_1hwc[0]) + bias


def mlp_graph(batch: int | None = None) -> tuple[Graph, Reference]:
    """Dense(16, relu) -> Dense(3) -> softmax on 8 features."""
    g = Graph()
    g.add_tensor("features", (batch, 8), np.float32)
    g.inputs = ["features"]
    w1, b1, w2, b2 = rand(16, 8), rand(16), rand(3, 16), rand(3)
    h = g.add_tensor("hidden", (batch, 16), np.float32)
    z = g.add_tensor("logits", (batch, 3), np.float32)
    p = g.add_tensor("probs", (batch, 3), np.float32)
    g.add_node(
        "FULLY_CONNECTED",
        ["features", g.add_constant("w1", w1), g.add_constant("b1", b1)],
        [h],
        {"fused_activation_function": 1},
        name="dense_1",
    )
    g.add_node("FULLY_CONNECTED", [h, g.add_constant("w2", w2), g.add_constant("b2", b2)], [z])
    g.add_node("SOFTMAX", [z], [p], {"beta": 1.0})
    g.outputs = [p]

    def reference(x: np.ndarray) -> np.ndarray:
        return softmax(np.maximum(x @ w1.T + b1, 0) @ w2.T + b2)

    return g, reference


def cnn_graph(batch: int | None = None, channels: int = 16) -> tuple[Graph, Reference]:
    """Conv 3x3 (relu) -> depthwise 3x3 (relu6) -> global mean -> dense(10) on 8x8x3 images.

    With the default 16 channels its weights hold 3,072 elements (float16 halves them).
    """
    g = Graph()
    g.add_tensor("image", (batch, 8, 8, 3), np.float32)
    g.inputs = ["image"]
    wc, bc = rand(channels, 3, 3, 3, scale=0.3), rand(channels)
    wd, bd = rand(1, 3, 3, channels, scale=0.3), rand(channels)
    wf, bf = rand(10, channels, scale=0.3), rand(10)
    conv = g.add_tensor("conv", (batch, 8, 8, channels), np.float32)
    depthwise = g.add_tensor("depthwise", (batch, 8, 8, channels), np.float32)
    pooled = g.add_tensor("pooled", (batch, channels), np.float32)
    logits = g.add_tensor("logits", (batch, 10), np.float32)
    g.add_node(
        "CONV_2D",
        ["image", g.add_constant("conv_w", wc), g.add_constant("conv_b", bc)],
        [conv],
        {"padding": 0, "fused_activation_function": 1},
    )
    g.add_node(
        "DEPTHWISE_CONV_2D",
        [conv, g.add_constant("dw_w", wd), g.add_constant("dw_b", bd)],
        [depthwise],
        {"padding": 0, "fused_activation_function": 3},
    )
    g.add_node("MEAN", [depthwise, g.add_constant("axes", [1, 2], np.int32)], [pooled])
    g.add_node(
        "FULLY_CONNECTED",
        [pooled, g.add_constant("fc_w", wf), g.add_constant("fc_b", bf)],
        [logits],
    )
    g.outputs = [logits]

    def reference(x: np.ndarray) -> np.ndarray:
        y = np.maximum(conv_same(x, wc, bc), 0)
        y = np.clip(depthwise_same(y, wd, bd), 0, 6)
        return y.mean(axis=(1, 2)) @ wf.T + bf

    return g, reference

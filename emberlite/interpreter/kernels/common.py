"""Helpers the kernels share: standard prepare functions, fused activations, padding."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np

from emberlite.interpreter.registry import NodeContext, NodePlan
from emberlite.schema.types import ActivationFunctionType, Padding

Activation = Callable[[np.ndarray], None] | None


def same_shape(ctx: NodeContext) -> NodePlan:
    """Prepare for ops whose one output has the shape of input 0."""
    return NodePlan((ctx.input(0).shape,))


def broadcast_shape(ctx: NodeContext) -> tuple[int, ...]:
    """NumPy broadcasting of inputs 0 and 1, as TFLite's binary ops do it."""
    a, b = ctx.input(0).shape, ctx.input(1).shape
    try:
        return tuple(np.broadcast_shapes(a, b))
    except ValueError:
        raise ctx.fail(f"shapes {list(a)} and {list(b)} do not broadcast") from None


def _clip(low: float, high: float, x: np.ndarray) -> None:
    np.clip(x, low, high, out=x)


def _relu(x: np.ndarray) -> None:
    np.maximum(x, 0, out=x)


def _tanh(x: np.ndarray) -> None:
    np.tanh(x, out=x)


_ACTIVATIONS: dict[int, Activation] = {
    ActivationFunctionType.NONE: None,
    ActivationFunctionType.RELU: _relu,
    ActivationFunctionType.RELU6: partial(_clip, 0.0, 6.0),
    ActivationFunctionType.RELU_N1_TO_1: partial(_clip, -1.0, 1.0),
    ActivationFunctionType.TANH: _tanh,
}


def fused_activation(ctx: NodeContext) -> Activation:
    """The in-place function for the node's fused_activation_function (None for NONE)."""
    code = ctx.option("fused_activation_function", ActivationFunctionType.NONE)
    if code not in _ACTIVATIONS:
        raise ctx.fail(f"fused activation {code} is not supported")
    return _ACTIVATIONS[code]


def window_padding(
    ctx: NodeContext, size: int, kernel: int, stride: int, dilation: int = 1
) -> tuple[int, int, int]:
    """(output size, padding before, padding after) along one spatial axis, as TFLite pads.

    SAME keeps ceil(size / stride) outputs and puts the odd pixel of padding after; VALID
    keeps only windows that fit.
    """
    if stride < 1 or dilation < 1:
        raise ctx.fail(f"stride {stride} and dilation {dilation} must be >= 1")
    effective = (kernel - 1) * dilation + 1
    padding = ctx.option("padding", Padding.SAME)
    if padding == Padding.SAME:
        out = (size + stride - 1) // stride
    elif padding == Padding.VALID:
        out = (size - effective + stride) // stride
    else:
        raise ctx.fail(f"padding {padding} is not supported")
    total = max((out - 1) * stride + effective - size, 0)
    return max(out, 0), total // 2, total - total // 2

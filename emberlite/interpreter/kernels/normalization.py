"""L2_NORMALIZATION and LOCAL_RESPONSE_NORMALIZATION over the last (channel) axis."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emberlite.interpreter.kernels.common import prepare_float
from emberlite.interpreter.registry import NodeContext, NodePlan, register
from emberlite.schema.types import ActivationFunctionType

# TFLite divides by max(sqrt(sum x^2), 1e-6): an all-zero vector stays zero.
L2_EPSILON = np.float32(1e-6)


def prepare_l2_normalization(ctx: NodeContext) -> NodePlan:
    plan = prepare_float(ctx)
    shape = ctx.input(0).shape
    if not shape:
        raise ctx.fail("needs an input of rank >= 1")
    if ctx.option("fused_activation_function", 0) != ActivationFunctionType.NONE:
        raise ctx.fail("fused activations are not supported (TFLite refuses them too)")
    # data: ones for row sums; scratch outs[1]: the norm of each row, [..., 1].
    scratch = (((*shape[:-1], 1), np.dtype(np.float32)),)
    return NodePlan(plan.output_shapes, np.ones(shape[-1], np.float32), scratch)


@register("L2_NORMALIZATION", prepare=prepare_l2_normalization)
def l2_normalization(ones, ins, outs):
    x, out, norm = ins[0], outs[0], outs[1]
    np.square(x, out=out)
    np.matmul(out, ones, out=norm[..., 0])  # BLAS: row sums, fast for short rows too
    np.sqrt(norm, out=norm)
    np.maximum(norm, L2_EPSILON, out=norm)
    np.divide(x, norm, out=out)


@dataclass(frozen=True, slots=True)
class LocalResponse:
    """x / (bias + alpha * sum of x^2 over channels c - radius .. c + radius) ^ beta.

    Scratch (float64): outs[1], `sums` (depth + 2 radius + 1 channels), holds radius + 1
    zeros, the running sums of x^2, then the total repeated radius times: the window of
    channel c is then sums[c + 2 radius + 1] - sums[c], clipped at both edges; outs[2], the
    scale of each input value.
    """

    radius: int
    depth: int
    bias: float
    alpha: float
    beta: float


def prepare_local_response_normalization(ctx: NodeContext) -> NodePlan:
    plan = prepare_float(ctx)
    shape = ctx.input(0).shape
    if len(shape) != 4:
        raise ctx.fail(f"needs a 4-D input, got shape {list(shape)}")
    radius = int(ctx.option("radius", 0))
    if radius < 0:
        raise ctx.fail(f"radius {radius} is negative")
    depth = shape[-1]
    radius = min(radius, depth)  # a wider window sees no more channels
    data = LocalResponse(
        radius,
        depth,
        float(ctx.option("bias", 0.0)),
        float(ctx.option("alpha", 0.0)),
        float(ctx.option("beta", 0.0)),
    )
    f64 = np.dtype(np.float64)
    scratch = (((*shape[:-1], depth + 2 * radius + 1), f64), (shape, f64))
    return NodePlan(plan.output_shapes, data, scratch)


@register("LOCAL_RESPONSE_NORMALIZATION", prepare=prepare_local_response_normalization)
def local_response_normalization(n: LocalResponse, ins, outs):
    r, d, sums, scale = n.radius, n.depth, outs[1], outs[2]
    sums[..., : r + 1] = 0.0
    running = sums[..., r + 1 : r + 1 + d]
    np.square(ins[0], out=running)
    np.cumsum(running, axis=-1, out=running)
    sums[..., r + 1 + d :] = sums[..., r + d : r + d + 1]
    np.subtract(sums[..., 2 * r + 1 :], sums[..., :d], out=scale)
    scale *= n.alpha
    scale += n.bias
    np.power(scale, -n.beta, out=scale)
    np.multiply(ins[0], scale, out=outs[0])

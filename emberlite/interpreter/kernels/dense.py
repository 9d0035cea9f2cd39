"""FULLY_CONNECTED: y = x W^T + b, on BLAS."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emberlite.interpreter.kernels.common import Activation, fused_activation
from emberlite.interpreter.registry import NodeContext, NodePlan, register


@dataclass(frozen=True, slots=True)
class FullyConnected:
    units: int
    depth: int
    activation: Activation


def prepare_fully_connected(ctx: NodeContext) -> NodePlan:
    ctx.expect_inputs(2, 3)
    x, w = ctx.input(0), ctx.input(1)
    if ctx.option("weights_format", 0) != 0:
        raise ctx.fail("shuffled weights (SHUFFLED4x16INT8) are not supported")
    if len(w.shape) != 2:
        raise ctx.fail(f"weights must be 2-D [units, depth], got {list(w.shape)}")
    units, depth = w.shape
    size = int(np.prod(x.shape))
    if depth == 0 or size % depth:
        raise ctx.fail(f"input {list(x.shape)} does not split into rows of {depth}")
    bias = ctx.inputs[2] if len(ctx.inputs) > 2 else None
    if bias is not None and bias.shape != (units,):
        raise ctx.fail(f"bias shape {list(bias.shape)} is not [{units}]")
    if ctx.option("keep_num_dims", False):
        if x.shape[-1] != depth:
            raise ctx.fail(
                f"keep_num_dims needs the last input dimension {x.shape[-1]} to be {depth}"
            )
        shape = (*x.shape[:-1], units)
    else:
        shape = (size // depth, units)
    return NodePlan((shape,), data=FullyConnected(units, depth, fused_activation(ctx)))


@register("FULLY_CONNECTED", prepare=prepare_fully_connected)
def fully_connected(fc: FullyConnected, ins, outs):
    x, w = ins[0], ins[1]
    out = outs[0].reshape(-1, fc.units)
    np.matmul(x.reshape(-1, fc.depth), w.T, out=out)
    if len(ins) > 2 and ins[2] is not None:
        out += ins[2]
    if fc.activation is not None:
        fc.activation(out)

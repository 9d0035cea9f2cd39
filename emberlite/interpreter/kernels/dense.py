"""FULLY_CONNECTED (y = x W^T + b) and BATCH_MATMUL, on BLAS through np.matmul."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emberlite.interpreter.kernels.common import FLOAT, Activation, fused_activation, input_dtype
from emberlite.interpreter.registry import NodeContext, NodePlan, register
from emberlite.schema.types import ActivationFunctionType


@dataclass(frozen=True, slots=True)
class FullyConnected:
    rows: tuple[int, int]  # the input as [batch, depth]
    out_rows: tuple[int, int]  # the output as [batch, units]
    bias: bool
    activation: Activation


def prepare_fully_connected(ctx: NodeContext) -> NodePlan:
    ctx.expect_inputs(2, 3)
    x, w = ctx.input(0), ctx.input(1)
    bias = ctx.inputs[2] if len(ctx.inputs) > 2 else None
    input_dtype(ctx, FLOAT, 0, 1, *([2] if bias is not None else []))
    if ctx.option("weights_format", 0) != 0:
        raise ctx.fail("shuffled weights (SHUFFLED4x16INT8) are not supported")
    if len(w.shape) != 2:
        raise ctx.fail(f"weights must be 2-D [units, depth], got {list(w.shape)}")
    units, depth = w.shape
    size = int(np.prod(x.shape))
    if depth == 0 or size % depth:
        raise ctx.fail(f"input {list(x.shape)} does not split into rows of {depth}")
    if bias is not None and int(np.prod(bias.shape)) != units:
        raise ctx.fail(f"bias shape {list(bias.shape)} does not hold {units} values")
    if ctx.option("fused_activation_function", 0) == ActivationFunctionType.TANH:
        raise ctx.fail("fused activation TANH is not supported (nor is it by TFLite)")
    batch = size // depth
    if ctx.option("keep_num_dims", False):
        if not x.shape or x.shape[-1] != depth:
            raise ctx.fail(
                f"keep_num_dims needs the last input dimension of {list(x.shape)} to be {depth}"
            )
        shape = (*x.shape[:-1], units)
    else:
        shape = (batch, units)
    activation = fused_activation(ctx, shape)
    data = FullyConnected((batch, depth), (batch, units), bias is not None, activation)
    return NodePlan((shape,), data=data)


@register("FULLY_CONNECTED", prepare=prepare_fully_connected)
def fully_connected(fc: FullyConnected, ins, outs):
    out = outs[0].reshape(fc.out_rows)
    np.matmul(ins[0].reshape(fc.rows), ins[1].T, out=out)
    if fc.bias:
        out += ins[2].reshape(-1)
    if fc.activation is not None:
        fc.activation(out, out)


@dataclass(frozen=True, slots=True)
class BatchMatMul:
    adj_x: bool
    adj_y: bool


def prepare_batch_matmul(ctx: NodeContext) -> NodePlan:
    ctx.expect_inputs(2)
    x, y = ctx.input(0), ctx.input(1)
    input_dtype(ctx, FLOAT, 0, 1)
    if len(x.shape) < 2 or len(y.shape) < 2:
        raise ctx.fail(f"inputs must have rank >= 2, got {list(x.shape)} and {list(y.shape)}")
    adj_x, adj_y = bool(ctx.option("adj_x", False)), bool(ctx.option("adj_y", False))
    rows, depth = x.shape[-2:][::-1] if adj_x else x.shape[-2:]
    depth_y, cols = y.shape[-2:][::-1] if adj_y else y.shape[-2:]
    if depth != depth_y:
        raise ctx.fail(
            f"cannot multiply {list(x.shape)} by {list(y.shape)} (adj_x={adj_x}, adj_y={adj_y})"
        )
    try:
        batch = np.broadcast_shapes(x.shape[:-2], y.shape[:-2])
    except ValueError:
        raise ctx.fail(
            f"batch dimensions of {list(x.shape)} and {list(y.shape)} do not broadcast"
        ) from None
    return NodePlan(((*batch, rows, cols),), data=BatchMatMul(adj_x, adj_y))


@register("BATCH_MATMUL", prepare=prepare_batch_matmul)
def batch_matmul(bm: BatchMatMul, ins, outs):
    x, y = ins
    np.matmul(
        x.swapaxes(-1, -2) if bm.adj_x else x, y.swapaxes(-1, -2) if bm.adj_y else y, out=outs[0]
    )

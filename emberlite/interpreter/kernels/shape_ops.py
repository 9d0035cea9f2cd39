"""Ops that move or re-view data without arithmetic."""

from __future__ import annotations

import numpy as np

from emberlite.interpreter.registry import NodeContext, NodePlan, register


def resolve_shape(ctx: NodeContext, shape: list[int], size: int) -> tuple[int, ...]:
    """A requested shape with at most one -1 (inferred), checked against `size` elements."""
    unknown = [i for i, d in enumerate(shape) if d == -1]
    if len(unknown) > 1 or any(d < -1 for d in shape):
        raise ctx.fail(f"new shape {shape} is invalid")
    known = int(np.prod([d for d in shape if d != -1]))
    if unknown:
        if known == 0 or size % known:
            raise ctx.fail(f"cannot reshape {size} elements to {shape}")
        shape = list(shape)
        shape[unknown[0]] = size // known
    if int(np.prod(shape)) != size:
        raise ctx.fail(f"cannot reshape {size} elements to {shape}")
    return tuple(int(d) for d in shape)


def prepare_reshape(ctx: NodeContext) -> NodePlan:
    x = ctx.input(0)
    if len(ctx.inputs) > 1 and ctx.inputs[1] is not None and ctx.inputs[1].shape not in ((), (0,)):
        shape = [int(d) for d in ctx.constant(1).reshape(-1)]
    elif ctx.options is not None and ctx.option("new_shape") is not None:
        shape = list(ctx.option("new_shape"))
    else:
        shape = list(ctx.outputs[0].shape)
    return NodePlan((resolve_shape(ctx, shape, int(np.prod(x.shape))),))


@register("RESHAPE", prepare=prepare_reshape)
def reshape(data, ins, outs):
    outs[0][...] = ins[0].reshape(outs[0].shape)

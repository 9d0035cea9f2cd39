"""Binary arithmetic with NumPy broadcasting and fused activations."""

from __future__ import annotations

import numpy as np

from emberlite.interpreter.kernels.common import broadcast_shape, fused_activation
from emberlite.interpreter.registry import NodeContext, NodePlan, register


def prepare_binary(ctx: NodeContext) -> NodePlan:
    ctx.expect_inputs(2)
    return NodePlan((broadcast_shape(ctx),), data=fused_activation(ctx))


def _binary(ufunc: np.ufunc):
    def run(activation, ins, outs):
        ufunc(ins[0], ins[1], out=outs[0])
        if activation is not None:
            activation(outs[0])

    return run


register("ADD", prepare=prepare_binary)(_binary(np.add))
register("SUB", prepare=prepare_binary)(_binary(np.subtract))
register("MUL", prepare=prepare_binary)(_binary(np.multiply))
register("DIV", prepare=prepare_binary)(_binary(np.divide))

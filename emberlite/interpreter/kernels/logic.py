"""Comparisons and logical ops: bool outputs, NumPy broadcasting."""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from emberlite.interpreter.kernels.arithmetic import (
    BOOL,
    NUMERIC,
    check_output,
    input_dtype,
    prepare_elementwise,
)
from emberlite.interpreter.registry import NodeContext, NodePlan, register


def _prepare(allowed: Collection[np.dtype]):
    def prepare(ctx: NodeContext) -> NodePlan:
        return NodePlan((prepare_elementwise(ctx, allowed, out=BOOL)[0],))

    return prepare


def _compare(ufunc: np.ufunc):
    def run(data, ins, outs):
        ufunc(ins[0], ins[1], out=outs[0])

    return run


for _name, _ufunc in [
    ("LESS", np.less),
    ("LESS_EQUAL", np.less_equal),
    ("GREATER", np.greater),
    ("GREATER_EQUAL", np.greater_equal),
]:
    register(_name, prepare=_prepare(NUMERIC))(_compare(_ufunc))
register("EQUAL", prepare=_prepare((*NUMERIC, BOOL)))(_compare(np.equal))
register("NOT_EQUAL", prepare=_prepare((*NUMERIC, BOOL)))(_compare(np.not_equal))
register("LOGICAL_AND", prepare=_prepare((BOOL,)))(_compare(np.logical_and))
register("LOGICAL_OR", prepare=_prepare((BOOL,)))(_compare(np.logical_or))


def prepare_logical_not(ctx: NodeContext) -> NodePlan:
    ctx.expect_inputs(1)
    input_dtype(ctx, (BOOL,))
    check_output(ctx, BOOL)
    return NodePlan((ctx.input(0).shape,))


@register("LOGICAL_NOT", prepare=prepare_logical_not)
def logical_not(data, ins, outs):
    np.logical_not(ins[0], out=outs[0])

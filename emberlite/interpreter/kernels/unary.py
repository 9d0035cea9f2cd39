"""Elementwise math of one input, and CAST."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emberlite.interpreter.kernels.common import (
    F32,
    FLOAT,
    I32,
    I64,
    prepare_float,
    prepare_unary,
    ufunc_eval,
)
from emberlite.interpreter.registry import NodeContext, NodePlan, register

for _name, _ufunc, _allowed in [
    ("EXP", np.exp, FLOAT),
    ("LOG", np.log, FLOAT),
    ("SQRT", np.sqrt, FLOAT),
    ("SQUARE", np.square, FLOAT),
    ("SIN", np.sin, FLOAT),
    ("COS", np.cos, FLOAT),
    ("FLOOR", np.floor, FLOAT),
    ("CEIL", np.ceil, FLOAT),
    ("ROUND", np.rint, FLOAT),  # half to even, as TFLite rounds
    ("ABS", np.abs, (F32, I32)),
    ("NEG", np.negative, (F32, I32, I64)),
    ("SIGN", np.sign, (F32, I32)),
]:
    register(_name, prepare=prepare_unary(_allowed))(ufunc_eval(_ufunc))


@register("RSQRT", prepare=prepare_float)
def rsqrt(data, ins, outs):
    np.sqrt(ins[0], out=outs[0])
    np.divide(1.0, outs[0], out=outs[0])


# -- CAST -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Saturation:
    """Float -> integer: TFLite truncates toward zero and saturates; NaN becomes the maximum.
    Scratch outs[1]: a bool mask of the values to saturate."""

    above: np.floating  # the type's maximum + 1: inputs >= this (or NaN) become `high`
    below: np.floating  # the type's minimum: inputs < this become `low`
    high: np.integer
    low: np.integer


def prepare_cast(ctx: NodeContext) -> NodePlan:
    # NOTE: CastOptions (in/out_data_type) are advisory: TFLite casts between the tensors' types.
    ctx.expect_inputs(1)
    src, dst = ctx.input(0).dtype, ctx.outputs[0].dtype
    for role, dtype in (("input", src), ("output", dst)):
        if dtype.kind not in "biuf":
            raise ctx.fail(f"cannot cast {role} type {dtype.name}")
    shape = ctx.input(0).shape
    if src.kind == "f" and dst.kind in "iu":
        info = np.iinfo(dst)
        # Both bounds are powers of two (or 0), exact in every float type.
        above, below = np.float64(int(info.max) + 1), np.float64(int(info.min))
        data = Saturation(above, below, dst.type(info.max), dst.type(info.min))
        return NodePlan((shape,), data, scratch=((shape, np.dtype(np.bool_)),))
    return NodePlan((shape,), None)


@register("CAST", prepare=prepare_cast)
def cast(s: Saturation | None, ins, outs):
    x, out = ins[0], outs[0]
    if s is None:
        with np.errstate(over="ignore"):  # float -> float16 overflows to inf, as in C
            np.copyto(out, x, casting="unsafe")
        return
    with np.errstate(invalid="ignore"):  # out-of-range values are garbage until fixed below
        np.copyto(out, x, casting="unsafe")
    mask = outs[1]
    np.less(x, s.above, out=mask)
    np.logical_not(mask, out=mask)
    np.copyto(out, s.high, where=mask)
    np.less(x, s.below, out=mask)
    np.copyto(out, s.low, where=mask)

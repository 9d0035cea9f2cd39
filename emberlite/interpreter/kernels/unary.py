"""Elementwise math of one input, and CAST."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from emberlite.interpreter.kernels.arithmetic import F32, I32, I64, check_output, input_dtype
from emberlite.interpreter.registry import NodeContext, NodePlan, register


def _prepare(allowed: Collection[np.dtype]):
    def prepare(ctx: NodeContext) -> NodePlan:
        ctx.expect_inputs(1)
        check_output(ctx, input_dtype(ctx, allowed))
        return NodePlan((ctx.input(0).shape,))

    return prepare


def _unary(ufunc: np.ufunc):
    def run(data, ins, outs):
        ufunc(ins[0], out=outs[0])

    return run


_FLOAT = (F32,)
for _name, _ufunc, _allowed in [
    ("EXP", np.exp, _FLOAT),
    ("LOG", np.log, _FLOAT),
    ("SQRT", np.sqrt, _FLOAT),
    ("SQUARE", np.square, _FLOAT),
    ("SIN", np.sin, _FLOAT),
    ("COS", np.cos, _FLOAT),
    ("FLOOR", np.floor, _FLOAT),
    ("CEIL", np.ceil, _FLOAT),
    ("ROUND", np.rint, _FLOAT),  # half to even, as TFLite rounds
    ("ABS", np.abs, (F32, I32)),
    ("NEG", np.negative, (F32, I32, I64)),
    ("SIGN", np.sign, (F32, I32)),
]:
    register(_name, prepare=_prepare(_allowed))(_unary(_ufunc))


@register("RSQRT", prepare=_prepare(_FLOAT))
def rsqrt(data, ins, outs):
    np.sqrt(ins[0], out=outs[0])
    np.divide(1.0, outs[0], out=outs[0])


# -- CAST -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Saturation:
    """Float -> integer: TFLite truncates toward zero and saturates; NaN becomes the maximum."""

    above: np.floating  # the type's maximum + 1: inputs >= this (or NaN) become `high`
    below: np.floating  # the type's minimum: inputs < this become `low`
    high: np.integer
    low: np.integer
    mask: np.ndarray


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
        mask = np.empty(shape, np.bool_)
        return NodePlan(
            (shape,), Saturation(above, below, dst.type(info.max), dst.type(info.min), mask)
        )
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
    np.less(x, s.above, out=s.mask)
    np.logical_not(s.mask, out=s.mask)
    np.copyto(out, s.high, where=s.mask)
    np.less(x, s.below, out=s.mask)
    np.copyto(out, s.low, where=s.mask)

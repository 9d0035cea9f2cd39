"""Reductions over constant axes (MEAN, SUM, REDUCE_*) and ARG_MAX / ARG_MIN."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from emberlite.interpreter.kernels.common import (
    BOOL,
    F32,
    I32,
    I64,
    NUMERIC,
    check_output,
    input_dtype,
)
from emberlite.interpreter.registry import NodeContext, NodePlan, register
from emberlite.schema.types import TensorType


def _axes(ctx: NodeContext, rank: int, many: bool) -> tuple[int, ...]:
    """Input 1's axes, in range and made non-negative; sorted and unique when `many`."""
    axis = ctx.input(1)
    if axis.dtype not in (I32, I64):
        raise ctx.fail(f"the axis input must be int32 or int64, not {axis.dtype.name}")
    # An empty axis list needs no value (and a model cannot store an empty constant).
    empty = 0 in axis.shape
    values = [] if empty else [int(a) for a in ctx.constant(1).reshape(-1)]
    if not many and len(values) != 1:
        raise ctx.fail(f"needs exactly one axis, got {values}")
    for a in values:
        if not -rank <= a < rank:
            raise ctx.fail(f"axis {a} is out of range for rank {rank}")
    return tuple(sorted({a % rank for a in values})) if many else (values[0] % rank,)


@dataclass(frozen=True, slots=True)
class Reduce:
    """`keepdims`: reduced axes stay, with size 1.  MEAN: `count`, the elements per output;
    `total`: integer sums go through int64 scratch, outs[1] (then divided with truncation, as
    C does).

    NOTE: NumPy reduces along a short last axis one row at a time (2 ms for 64K rows of 2).
    When the reduced axes are adjacent, `split` views the input as (outer, reduced, inner):
    float32 sums are then a product with `ones` on BLAS; other reductions of short trailing
    rows go through `columns`: a transposed copy, scratch outs[1], reduced across whole rows.
    """

    ufunc: np.ufunc
    axes: tuple[int, ...]
    keepdims: bool
    initial: object = None
    count: int = 0
    total: bool = False
    split: tuple[int, int, int] = (0, 0, 0)
    ones: np.ndarray | None = None
    columns: bool = False


_UFUNCS = {
    "SUM": np.add,
    "MEAN": np.add,
    "REDUCE_PROD": np.multiply,
    "REDUCE_MAX": np.maximum,
    "REDUCE_MIN": np.minimum,
    "REDUCE_ANY": np.logical_or,
    "REDUCE_ALL": np.logical_and,
}
SHORT_ROW = 64  # longer rows reduce faster in place than through a transposed copy


def prepare_reduce(ctx: NodeContext) -> NodePlan:
    ctx.expect_inputs(2)
    logical = ctx.op_name in ("REDUCE_ANY", "REDUCE_ALL")
    dtype = input_dtype(ctx, (BOOL,) if logical else NUMERIC)
    check_output(ctx, dtype)
    shape = ctx.input(0).shape
    axes = _axes(ctx, len(shape), many=True)
    keepdims = bool(ctx.option("keep_dims", False))
    out = tuple(1 if d in axes else n for d, n in enumerate(shape) if keepdims or d not in axes)
    count = math.prod(shape[a] for a in axes)

    initial = None
    if ctx.op_name in ("REDUCE_MAX", "REDUCE_MIN"):
        # TFLite starts from the type's lowest / highest value: what an empty reduction gives.
        info = np.finfo(dtype) if dtype.kind == "f" else np.iinfo(dtype)
        initial = dtype.type(info.min if ctx.op_name == "REDUCE_MAX" else info.max)
    scratch = ()
    total = dtype.kind == "i" and ctx.op_name == "MEAN"
    if total:
        if count == 0:
            raise ctx.fail("integer mean over no elements")
        scratch = ((out, I64),)

    split, ones, columns = (0, 0, 0), None, False
    if axes and axes == tuple(range(axes[0], axes[-1] + 1)):
        split = (math.prod(shape[: axes[0]]), count, math.prod(shape[axes[-1] + 1 :]))
        outer, _, inner = split
        if dtype == F32 and ctx.op_name in ("SUM", "MEAN"):
            ones = np.ones(count, np.float32)
        elif not total and inner == 1 and outer > 1 and 1 < count <= SHORT_ROW:
            columns = True
            scratch = (((count, outer), dtype),)
    data = Reduce(_UFUNCS[ctx.op_name], axes, keepdims, initial, count, total, split, ones, columns)
    return NodePlan((out,), data, scratch)


def _reduce(r: Reduce, x: np.ndarray, outs) -> None:
    out = outs[0]
    outer, n, inner = r.split
    if r.ones is not None:
        if inner == 1:
            np.matmul(x.reshape(outer, n), r.ones, out=out.reshape(outer))
        else:
            np.matmul(r.ones, x.reshape(outer, n, inner), out=out.reshape(outer, inner))
    elif r.columns:
        columns = outs[1]
        np.copyto(columns, x.reshape(outer, n).T)
        r.ufunc.reduce(columns, axis=0, out=out.reshape(outer))
    elif r.initial is not None:
        r.ufunc.reduce(x, axis=r.axes, keepdims=r.keepdims, out=out, initial=r.initial)
    else:
        r.ufunc.reduce(x, axis=r.axes, keepdims=r.keepdims, out=out)


@register(
    "SUM",
    "REDUCE_PROD",
    "REDUCE_MAX",
    "REDUCE_MIN",
    "REDUCE_ANY",
    "REDUCE_ALL",
    prepare=prepare_reduce,
)
def reduce(r: Reduce, ins, outs):
    _reduce(r, ins[0], outs)


@register("MEAN", prepare=prepare_reduce)
def mean(r: Reduce, ins, outs):
    out = outs[0]
    if r.total:
        total = outs[1]
        np.add.reduce(ins[0], axis=r.axes, keepdims=r.keepdims, out=total)
        np.true_divide(total, r.count, out=out, casting="unsafe")  # truncates, as C does
    elif r.count == 0:
        out.fill(np.nan)
    else:
        _reduce(r, ins[0], outs)
        out /= r.count


# -- ARG_MAX, ARG_MIN -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ArgReduce:
    """`index`: NumPy's intp result goes through scratch outs[1], copied to an int32 output
    (False: written directly)."""

    find: object  # np.argmax / np.argmin
    axis: int
    index: bool


_INDEX_TYPES = {TensorType.INT32: I32, TensorType.INT64: I64}


def prepare_arg(ctx: NodeContext) -> NodePlan:
    ctx.expect_inputs(2)
    input_dtype(ctx, (*NUMERIC, BOOL, np.dtype(np.uint8), np.dtype(np.int8)))
    shape = ctx.input(0).shape
    if not shape:
        raise ctx.fail("needs an input of rank >= 1")
    (axis,) = _axes(ctx, len(shape), many=False)
    if shape[axis] == 0:
        raise ctx.fail(f"axis {axis} has no elements")
    code = ctx.option("output_type", TensorType.FLOAT32)
    if code not in _INDEX_TYPES:
        raise ctx.fail(f"output_type must be INT32 or INT64, got {code}")
    check_output(ctx, _INDEX_TYPES[code])
    out = shape[:axis] + shape[axis + 1 :]
    index = _INDEX_TYPES[code] != np.intp
    find = np.argmax if ctx.op_name == "ARG_MAX" else np.argmin
    scratch = ((out, np.dtype(np.intp)),) if index else ()
    return NodePlan((out,), ArgReduce(find, axis, index), scratch)


# NOTE: ties give the first index, in NumPy as in TFLite.  A NaN wins in NumPy; in TFLite
# (which compares with >) it only does at index 0.
@register("ARG_MAX", "ARG_MIN", prepare=prepare_arg)
def arg_reduce(a: ArgReduce, ins, outs):
    if not a.index:
        a.find(ins[0], axis=a.axis, out=outs[0])
    else:
        a.find(ins[0], axis=a.axis, out=outs[1])
        np.copyto(outs[0], outs[1], casting="unsafe")

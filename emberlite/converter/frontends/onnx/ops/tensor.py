"""Ops that move, pick or reduce elements: reshapes, transposes, slices, gathers, pads,
concatenation, splits, broadcasts, reductions, and the shape queries that fold to constants.

A Transpose emits nothing: it only changes which ONNX axis each IR axis holds.  Axis
attributes are mapped through that order.  A reshape runs in the order its input has where
the merged and split axes sit together there (resnet's [N, C, 1, 1] -> [N, C], shufflenet's
channel split); elsewhere its input is transposed first, as little as needed (a flatten of
NHWC into ONNX's NCHW element order gets a TRANSPOSE to NCHW).
"""

from __future__ import annotations

import math

import numpy as np

from emberlite.converter.frontends.onnx import layout
from emberlite.converter.frontends.onnx.context import OnnxNode, Unsupported, Value, axis_of
from emberlite.converter.frontends.onnx.layout import Dim, Dims, Perm
from emberlite.converter.frontends.onnx.ops.registry import lowers

INT32_MAX, INT32_MIN = 2**31 - 1, -(2**31)
REDUCERS = {
    "ReduceMean": "MEAN",
    "ReduceSum": "SUM",
    "ReduceMax": "REDUCE_MAX",
    "ReduceMin": "REDUCE_MIN",
    "ReduceProd": "REDUCE_PROD",
}


@lowers("Identity", "Dropout")
def identity(n: OnnxNode) -> None:
    """Dropout is the identity at inference (its mask, if asked for, all true)."""
    x = n.input(0)
    if n.op == "Dropout" and n.optional(2) is not None:
        training = n.constant(2, "training_mode")
        if training is None or bool(training):
            raise Unsupported("dropout in training mode")
    n.alias(0, x)
    if len(n.proto.output) > 1 and n.proto.output[1]:
        if not all(isinstance(d, int) for d in x.dims):
            raise Unsupported("Dropout's mask over run-time sizes")
        n.set_known(1, np.ones(x.dims, np.bool_))


@lowers("Shape")
def shape(n: OnnxNode) -> None:
    x = n.input(0)
    dims = x.dims[slice(n.attr("start", 0), n.attr("end"))]
    n.set_known(0, np.array(dims, dtype=object).reshape(len(dims)))


@lowers("Size")
def size(n: OnnxNode) -> None:
    x = n.input(0)
    if not all(isinstance(d, int) for d in x.dims):
        raise Unsupported("the size of a tensor with run-time dims")
    n.set_known(0, np.array(math.prod(x.dims), np.int64))


# -- reshapes -------------------------------------------------------------------------------


@lowers("Transpose")
def transpose(n: OnnxNode) -> None:
    x = n.input(0)
    order = tuple(n.attr("perm", range(x.rank - 1, -1, -1)))
    back = layout.inverse(order)
    n.alias(0, x, perm=tuple(back[p] for p in x.perm), dims=layout.permute(x.dims, order))


@lowers("Reshape")
def reshape(n: OnnxNode) -> None:
    x = n.input(0)
    value = n.input(1)
    if not value.known:
        raise Unsupported(f"the shape ({value.name!r}) must be known at convert time")
    target = list(value.data.reshape(-1))
    reshape_to(n, x, _resolve(x.dims, target, bool(n.attr("allowzero", 0)), n.proto.output[0]))


@lowers("Flatten")
def flatten(n: OnnxNode) -> None:
    x = n.input(0)
    axis = int(n.attr("axis", 1))
    axis = axis + x.rank if axis < 0 else axis  # Flatten's axis runs to rank, not rank - 1
    name = n.proto.output[0]
    reshape_to(n, x, (_product(x.dims[:axis], f"{name}[0]"), _product(x.dims[axis:], f"{name}[1]")))


@lowers("Squeeze")
def squeeze(n: OnnxNode) -> None:
    x = n.input(0)
    axes = n.ints(1, "axes", "axes")
    gone = (
        {a for a, d in enumerate(x.dims) if d == 1}
        if axes is None
        else {axis_of(a, x.rank) for a in axes}
    )
    reshape_to(n, x, tuple(d for a, d in enumerate(x.dims) if a not in gone))


@lowers("Unsqueeze")
def unsqueeze(n: OnnxNode) -> None:
    x = n.input(0)
    axes = n.ints(1, "axes", "axes") or []
    rank = x.rank + len(axes)
    new = {axis_of(a, rank) for a in axes}
    rest = iter(x.dims)
    reshape_to(n, x, tuple(1 if a in new else next(rest) for a in range(rank)))


def reshape_to(n: OnnxNode, x: Value, dims: Dims) -> None:
    """Output 0 is `x` reshaped to ONNX `dims` (in ONNX's row-major element order)."""
    dims = _known_where_inferred(n, dims)
    if dims == x.dims:
        n.alias(0, x)
        return
    groups = layout.reshape_groups(x.dims, dims)
    if groups is None:  # sizes that do not line up (run-time ones): in ONNX's order
        source_perm, out_perm = layout.identity(x.rank), layout.identity(len(dims))
    else:
        source_perm = layout.grouped_order(x.perm, groups)
        out_perm = layout.reshaped_perm(source_perm, x.dims, dims, groups)
    source = n.lowering.ir(x, source_perm)
    out = n.output(0, out_perm, dims)
    n.lowering.reshape(source, out, layout.permute(dims, out_perm))


def _resolve(dims: Dims, target: list, allowzero: bool, name: str) -> Dims:
    """A Reshape's shape input resolved: 0 copies the input's dim, -1 takes what is left
    (unknown when run-time sizes remain on either side after the same ones cancel)."""
    out: list[int | Dim] = [
        dims[i] if (not allowzero and isinstance(d, (int, np.integer)) and d == 0) else d
        for i, d in enumerate(target)
    ]
    out = [d if isinstance(d, Dim) else int(d) for d in out]
    if -1 not in out:
        return tuple(out)
    unmatched = [d for d in dims if isinstance(d, Dim)]
    leftover = False
    for d in out:
        if isinstance(d, Dim):
            if d in unmatched:
                unmatched.remove(d)
            else:
                leftover = True
    others = [d for d in out if d != -1]
    if unmatched or leftover:
        fill: int | Dim = Dim(f"{name}[{out.index(-1)}]")
    else:
        fill = layout.known_size(dims) // max(layout.known_size(others), 1)
    return tuple(fill if d == -1 else d for d in out)


def _product(dims: Dims, name: str) -> int | Dim:
    unknown = [d for d in dims if isinstance(d, Dim)]
    if not unknown:
        return math.prod(dims)
    return unknown[0] if len(unknown) == 1 and layout.known_size(dims) == 1 else Dim(name)


def _known_where_inferred(n: OnnxNode, dims: Dims) -> Dims:
    """`dims`, with sizes shape inference knew where this front end could not."""
    try:
        inferred = n.out_dims()
    except Unsupported:
        return dims
    if len(inferred) != len(dims):
        return dims
    return tuple(
        i if isinstance(d, Dim) and isinstance(i, int) else d
        for d, i in zip(dims, inferred, strict=True)
    )


# -- picking ----------------------------------------------------------------------------------


@lowers("Concat")
def concat(n: OnnxNode) -> None:
    operands = [v for v in n.inputs if v is not None and 0 not in v.dims]
    first = next(v for v in operands if not v.known)
    axis = axis_of(int(n.attr("axis")), first.rank)
    names = [n.lowering.ir(v, first.perm) for v in operands]
    n.produce("CONCATENATION", names, first.perm, axis=layout.ir_axis(first.perm, axis))


@lowers("Split")
def split(n: OnnxNode) -> None:
    x = n.input(0)
    axis = axis_of(int(n.attr("axis", 0)), x.rank)
    count = len(n.proto.output)
    sizes = n.ints(1, "split", "split")
    length = x.dims[axis]
    if sizes is None:
        if not isinstance(length, int):
            raise Unsupported("an even split of a run-time axis")
        part = -(-length // count)  # opset 18's num_outputs: the last part may be smaller
        sizes = [min(part, length - k * part) for k in range(count)]
    lowering, ir_axis = n.lowering, layout.ir_axis(x.perm, axis)
    outs = [n.output(i, x.perm) for i in range(count)]
    axis_name = lowering.int32(f"{n.proto.output[0]}_axis", ir_axis)
    if len(set(sizes)) == 1:
        lowering.emit("SPLIT", [axis_name, lowering.ir(x)], outs, num_splits=count)
    else:
        size_name = lowering.int32(f"{n.proto.output[0]}_sizes", sizes)
        lowering.emit("SPLIT_V", [lowering.ir(x), size_name, axis_name], outs, num_splits=count)


@lowers("Slice")
def slice_(n: OnnxNode) -> None:
    x = n.input(0)
    starts = n.constant(1, "starts").reshape(-1)
    ends = n.constant(2, "ends").reshape(-1)
    axes_data = n.constant(3, "axes")
    steps_data = n.constant(4, "steps")
    axes = range(len(starts)) if axes_data is None else axes_data.reshape(-1)
    steps = [1] * len(starts) if steps_data is None else steps_data.reshape(-1)
    by_axis = {
        axis_of(int(a), x.rank): (int(s), int(e), int(t))
        for a, s, e, t in zip(axes, starts, ends, steps, strict=True)
    }
    begin, end, strides, begin_mask, end_mask = [], [], [], 0, 0
    for i, axis in enumerate(x.perm):
        start, stop, step = by_axis.get(axis, (0, INT32_MAX, 1))
        b, e, masked_b, masked_e = _slice_bounds(x.dims[axis], start, stop, step)
        begin.append(b)
        end.append(e)
        strides.append(step)
        begin_mask |= masked_b << i
        end_mask |= masked_e << i
    lowering, out = n.lowering, n.proto.output[0]
    n.produce(
        "STRIDED_SLICE",
        [
            lowering.ir(x),
            lowering.int32(f"{out}_begin", begin),
            lowering.int32(f"{out}_end", end),
            lowering.int32(f"{out}_strides", strides),
        ],
        x.perm,
        begin_mask=begin_mask,
        end_mask=end_mask,
    )


def _slice_bounds(size: int | Dim, start: int, stop: int, step: int) -> tuple[int, int, int, int]:
    """STRIDED_SLICE's begin, end and mask bits for one axis of ONNX's Slice."""
    if step == 0:
        raise Unsupported("a slice step of 0")
    if isinstance(size, int):  # Python's slice rules are ONNX's
        b, e, _ = slice(start, stop, step).indices(size)
        return b, max(e, 0), 0, int(e < 0)  # a negative stride running past index 0
    far = stop >= INT32_MAX if step > 0 else stop <= INT32_MIN
    start_far = start <= INT32_MIN if step > 0 else start >= INT32_MAX
    clamp = lambda v: int(np.clip(v, INT32_MIN, INT32_MAX))  # noqa: E731
    return clamp(start), clamp(stop), int(start_far), int(far)


@lowers("Gather")
def gather(n: OnnxNode) -> None:
    x, indices = n.input(0), n.input(1)
    axis = axis_of(int(n.attr("axis", 0)), x.rank)
    lowering = n.lowering
    if indices.known:
        data = indices.data.astype(np.int64)
        if isinstance(x.dims[axis], int):
            data = data % x.dims[axis] if x.dims[axis] else data
        elif np.any(data < 0):
            raise Unsupported("negative indices into a run-time axis")
        index_name = lowering.int32(f"{n.proto.output[0]}_indices", data)
    else:
        index_name = lowering.ir(indices, layout.identity(indices.rank))
    k = indices.rank
    position = layout.ir_axis(x.perm, axis)
    moved = [p if p < axis else p + k - 1 for p in x.perm]
    perm = (*moved[:position], *range(axis, axis + k), *moved[position + 1 :])
    n.produce("GATHER", [lowering.ir(x), index_name], perm, axis=position)


@lowers("Pad")
def pad(n: OnnxNode) -> None:
    x = n.input(0)
    flat = n.ints(1, "pads", "pads")
    axes = n.ints(3, "axes", "axes")
    axes = list(range(x.rank)) if axes is None else [axis_of(a, x.rank) for a in axes]
    by_axis = {a: (flat[i], flat[i + len(axes)]) for i, a in enumerate(axes)}
    if any(v < 0 for pair in by_axis.values() for v in pair):
        raise Unsupported("negative pads (cropping)")
    paddings = [list(by_axis.get(a, (0, 0))) for a in x.perm]
    mode = n.attr("mode", "constant")
    lowering, out = n.lowering, n.proto.output[0]
    inputs = [lowering.ir(x), lowering.int32(f"{out}_paddings", paddings)]
    if mode == "reflect":
        n.produce("MIRROR_PAD", inputs, x.perm, mode=0)
        return
    if mode != "constant":
        raise Unsupported(f"Pad mode {mode!r} (TFLite pads with a constant or a reflection)")
    fill = n.constant(2, "constant_value")
    fill = float(n.attr("value", 0.0)) if fill is None else fill.reshape(-1)[0]
    if fill == 0:
        n.produce("PAD", inputs, x.perm)
    else:
        constant = lowering.add_constant(f"{out}_value", fill, x.dtype)
        n.produce("PADV2", [*inputs, constant], x.perm)


# -- broadcasting -----------------------------------------------------------------------------


@lowers("Expand")
def expand(n: OnnxNode) -> None:
    x = n.input(0)
    dims = n.out_dims()
    lead = len(dims) - x.rank
    perm = layout.identity(lead) + tuple(p + lead for p in x.perm)
    if dims == (1,) * lead + x.dims:
        reshape_to(n, x, dims)
        return
    if not all(isinstance(d, int) for d in dims):
        raise Unsupported("expanding to run-time sizes")
    shape = n.lowering.int32(f"{n.proto.output[0]}_shape", layout.permute(dims, perm))
    n.produce("BROADCAST_TO", [n.lowering.broadcast(x, perm), shape], perm)


@lowers("Tile")
def tile(n: OnnxNode) -> None:
    x = n.input(0)
    repeats = n.constant(1, "repeats").reshape(-1)
    multiples = n.lowering.int32(f"{n.proto.output[0]}_multiples", layout.permute(repeats, x.perm))
    n.produce("TILE", [n.lowering.ir(x), multiples], x.perm)


# -- reductions -------------------------------------------------------------------------------


@lowers(*REDUCERS)
def reducer(n: OnnxNode) -> None:
    x = n.input(0)
    axes = n.ints(1, "axes", "axes")
    if not axes:
        if n.attr("noop_with_empty_axes", 0):
            n.alias(0, x)
            return
        axes = list(range(x.rank))
    reduce(n, x, REDUCERS[n.op], axes, bool(n.attr("keepdims", 1)))


def reduce(n: OnnxNode, x: Value, op: str, axes: list[int], keepdims: bool) -> None:
    """Output 0: `op` over the ONNX `axes` of `x`, in the order `x` has."""
    axes = sorted({axis_of(a, x.rank) for a in axes})
    ir_axes = sorted(layout.ir_axis(x.perm, a) for a in axes)
    perm: Perm = x.perm if keepdims else layout.drop_axes(x.perm, axes)
    name = n.lowering.int32(f"{n.proto.output[0]}_axes", ir_axes)
    n.produce(op, [n.lowering.ir(x), name], perm, keep_dims=keepdims)


@lowers("ArgMax", "ArgMin")
def arg_max(n: OnnxNode) -> None:
    x = n.input(0)
    if n.attr("select_last_index", 0):
        raise Unsupported("select_last_index=1 (TFLite picks the first extreme)")
    axis = axis_of(int(n.attr("axis", 0)), x.rank)
    keep = bool(n.attr("keepdims", 1))
    op = "ARG_MAX" if n.op == "ArgMax" else "ARG_MIN"
    lowering, position = n.lowering, layout.ir_axis(x.perm, axis)
    axis_name = lowering.int32(f"{n.proto.output[0]}_axis", [position])
    inputs = [lowering.ir(x), axis_name]
    if not keep:
        n.produce(op, inputs, layout.drop_axes(x.perm, [axis]))
        return
    squeezed = tuple(d for a, d in enumerate(layout.permute(x.dims, x.perm)) if a != position)
    found = n.temp(
        "index", layout.ir_shape(squeezed, layout.identity(len(squeezed))), n.out_dtype()
    )
    lowering.emit(op, inputs, [found])
    position_name = lowering.int32(f"{n.proto.output[0]}_position", position)
    n.produce("EXPAND_DIMS", [found, position_name], x.perm)

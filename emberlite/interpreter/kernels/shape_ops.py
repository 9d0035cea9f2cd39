"""Ops that move or re-view data without arithmetic, and ops that build tensors from shapes.

Shapes, axes, permutations, slice bounds and the like must be known at prepare time (constant
inputs, or computed by nodes that fold): emberlite plans every tensor's shape ahead of invoke.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emberlite.interpreter.kernels.common import Activation, Bordered, bordered, fused_activation
from emberlite.interpreter.registry import (
    KernelError,
    NodeContext,
    NodePlan,
    TensorInfo,
    register,
)

_INDEX_DTYPES = (np.dtype(np.int32), np.dtype(np.int64))
_QUANTIZED = (np.dtype(np.int8), np.dtype(np.uint8), np.dtype(np.int16))


# -- helpers ------------------------------------------------------------------------------------


def _ints(ctx: NodeContext, i: int, what: str) -> list[int]:
    """The constant int32/int64 input `i` as a flat list of Python ints."""
    info = ctx.input(i)
    if info.dtype not in _INDEX_DTYPES:
        raise ctx.fail(f"{what} (input {i}) must be int32 or int64, got {info.dtype}")
    return [int(v) for v in ctx.constant(i).reshape(-1)]


def _scalar(ctx: NodeContext, i: int, what: str) -> int:
    """A constant int input holding exactly one value (a scalar or a 1-element vector)."""
    values = _ints(ctx, i, what)
    if len(values) != 1:
        raise ctx.fail(f"{what} (input {i}) must hold one value, got {len(values)}")
    return values[0]


def _axis(ctx: NodeContext, axis: int, rank: int, what: str = "axis") -> int:
    """`axis` in [-rank, rank), made non-negative."""
    if not -rank <= axis < rank:
        raise ctx.fail(f"{what} {axis} is out of range for rank {rank}")
    return axis + rank if axis < 0 else axis


def _same_dtypes(ctx: NodeContext, infos, what: str = "inputs") -> None:
    dtypes = {info.dtype for info in infos}
    if len(dtypes) > 1:
        raise ctx.fail(f"{what} must share one dtype, got {sorted(str(d) for d in dtypes)}")


def _same_quantization(ctx: NodeContext, infos) -> None:
    """Quantized data may only move unchanged: every tensor must share one scale/zero point."""
    quantized = [info for info in infos if info.dtype in _QUANTIZED]
    params = {
        (tuple(q.scale), tuple(q.zero_point)) if (q := info.tensor.quantization) else ((), ())
        for info in quantized
    }
    if len(params) > 1:
        raise ctx.fail(
            f"{quantized[0].dtype} tensors with different quantization need requantizing, "
            "which is not supported"
        )


def _copy(data, ins, outs):
    """Copy the input's elements, in order, into the output's shape."""
    outs[0].reshape(-1)[...] = ins[0].reshape(-1)


# -- RESHAPE, SQUEEZE, EXPAND_DIMS --------------------------------------------------------------


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
    ctx.expect_inputs(1, 2)
    x = ctx.input(0)
    shape_input = ctx.inputs[1] if len(ctx.inputs) > 1 else None
    # NOTE: as TFLite: the shape input counts only when it is a 1-D int32 tensor (an empty one
    # asks for a scalar); otherwise options.new_shape, where the legacy [0] means a scalar; with
    # neither, the output is a scalar.
    if shape_input is not None and len(shape_input.shape) == 1 and shape_input.dtype == np.int32:
        shape = [int(d) for d in ctx.constant(1)]
    else:
        shape = list(ctx.option("new_shape") or ())
        if shape == [0]:
            shape = []
    return NodePlan((resolve_shape(ctx, shape, int(np.prod(x.shape))),))


register("RESHAPE", prepare=prepare_reshape)(_copy)


def prepare_squeeze(ctx: NodeContext) -> NodePlan:
    ctx.expect_inputs(1)
    shape = ctx.input(0).shape
    dims = ctx.option("squeeze_dims") or ()
    if not dims:
        return NodePlan((tuple(d for d in shape if d != 1),))
    drop = {_axis(ctx, d, len(shape), "squeeze dimension") for d in dims}
    for d in sorted(drop):
        if shape[d] != 1:
            raise ctx.fail(f"cannot squeeze dimension {d} of size {shape[d]} (shape {list(shape)})")
    return NodePlan((tuple(n for d, n in enumerate(shape) if d not in drop),))


register("SQUEEZE", prepare=prepare_squeeze)(_copy)


def prepare_expand_dims(ctx: NodeContext) -> NodePlan:
    ctx.expect_inputs(2)
    shape = ctx.input(0).shape
    axis = _axis(ctx, _scalar(ctx, 1, "axis"), len(shape) + 1)
    return NodePlan((shape[:axis] + (1,) + shape[axis:],))


register("EXPAND_DIMS", prepare=prepare_expand_dims)(_copy)


# -- TRANSPOSE, REVERSE_V2 ----------------------------------------------------------------------


def prepare_transpose(ctx: NodeContext) -> NodePlan:
    ctx.expect_inputs(2)
    shape = ctx.input(0).shape
    perm = [_axis(ctx, p, len(shape), "permutation entry") for p in _ints(ctx, 1, "perm")]
    if sorted(perm) != list(range(len(shape))):
        raise ctx.fail(f"perm {perm} is not a permutation of the {len(shape)} input dimensions")
    return NodePlan((tuple(shape[p] for p in perm),), data=tuple(perm))


@register("TRANSPOSE", prepare=prepare_transpose)
def transpose(perm, ins, outs):
    np.copyto(outs[0], ins[0].transpose(perm))


def prepare_reverse(ctx: NodeContext) -> NodePlan:
    ctx.expect_inputs(2)
    shape = ctx.input(0).shape
    axes = {_axis(ctx, a, len(shape)) for a in _ints(ctx, 1, "axis")}
    if not axes:
        raise ctx.fail("needs at least one axis to reverse")
    index = tuple(slice(None, None, -1) if d in axes else slice(None) for d in range(len(shape)))
    return NodePlan((shape,), data=index)


@register("REVERSE_V2", prepare=prepare_reverse)
def reverse(index, ins, outs):
    np.copyto(outs[0], ins[0][index])


# -- CONCATENATION, PACK, UNPACK, SPLIT, SPLIT_V ------------------------------------------------


@dataclass(frozen=True, slots=True)
class Concat:
    axis: int
    activation: Activation


def prepare_concatenation(ctx: NodeContext) -> NodePlan:
    if not ctx.inputs:
        raise ctx.fail("takes at least 1 input, got 0")
    infos = [ctx.input(i) for i in range(len(ctx.inputs))]
    _same_dtypes(ctx, infos)
    _same_quantization(ctx, [*infos, *ctx.outputs])
    first = infos[0].shape
    axis = _axis(ctx, ctx.option("axis", 0), len(first))
    for info in infos[1:]:
        s = info.shape
        if len(s) != len(first) or s[:axis] + s[axis + 1 :] != first[:axis] + first[axis + 1 :]:
            raise ctx.fail(
                f"input shapes {[list(i.shape) for i in infos]} do not concatenate on axis {axis}"
            )
    shape = (*first[:axis], sum(i.shape[axis] for i in infos), *first[axis + 1 :])
    # NOTE: LiteRT refuses any fused activation here (the converter never fuses one into a
    # concatenation); emberlite applies it to float32 outputs.
    activation = fused_activation(ctx, shape)
    if activation is not None and infos[0].dtype != np.float32:
        raise ctx.fail(f"a fused activation on {infos[0].dtype} is not supported")
    return NodePlan((shape,), data=Concat(axis, activation))


@register("CONCATENATION", prepare=prepare_concatenation)
def concatenation(c: Concat, ins, outs):
    np.concatenate(ins, axis=c.axis, out=outs[0])
    if c.activation is not None:
        c.activation(outs[0], outs[0])


def prepare_pack(ctx: NodeContext) -> NodePlan:
    n = len(ctx.inputs)
    if n < 1 or ctx.option("values_count", n) != n:
        raise ctx.fail(f"values_count {ctx.option('values_count')} but {n} inputs")
    infos = [ctx.input(i) for i in range(n)]
    _same_dtypes(ctx, infos)
    _same_quantization(ctx, [*infos, *ctx.outputs])
    shape = infos[0].shape
    if any(info.shape != shape for info in infos):
        raise ctx.fail(f"inputs must share one shape, got {[list(i.shape) for i in infos]}")
    axis = _axis(ctx, ctx.option("axis", 0), len(shape) + 1)
    return NodePlan((shape[:axis] + (n,) + shape[axis:],), data=axis)


@register("PACK", prepare=prepare_pack)
def pack(axis, ins, outs):
    np.stack(ins, axis=axis, out=outs[0])


def _pieces(shape: tuple[int, ...], axis: int, sizes: list[int]):
    """Output shapes and input index tuples of cutting `shape` along `axis` into `sizes`."""
    shapes, index, start = [], [], 0
    for size in sizes:
        shapes.append(shape[:axis] + (size,) + shape[axis + 1 :])
        index.append((slice(None),) * axis + (slice(start, start + size),))
        start += size
    return tuple(shapes), tuple(index)


def prepare_unpack(ctx: NodeContext) -> NodePlan:
    ctx.expect_inputs(1)
    shape = ctx.input(0).shape
    axis = _axis(ctx, ctx.option("axis", 0), len(shape))
    n = ctx.option("num", len(ctx.outputs))
    if not n == shape[axis] == len(ctx.outputs):
        raise ctx.fail(
            f"num {n}, dimension {axis} of size {shape[axis]} and {len(ctx.outputs)} outputs "
            "must agree"
        )
    shapes = (shape[:axis] + shape[axis + 1 :],) * n
    index = tuple((slice(None),) * axis + (k,) for k in range(n))
    return NodePlan(shapes, data=index)


def prepare_split(ctx: NodeContext) -> NodePlan:
    ctx.expect_inputs(2)
    shape = ctx.input(1).shape
    axis = _axis(ctx, _scalar(ctx, 0, "axis"), len(shape))
    n = ctx.option("num_splits", len(ctx.outputs))
    if n < 1 or n != len(ctx.outputs):
        raise ctx.fail(f"num_splits {n} but {len(ctx.outputs)} outputs")
    if shape[axis] % n:
        raise ctx.fail(f"dimension {axis} of size {shape[axis]} does not split into {n} parts")
    shapes, index = _pieces(shape, axis, [shape[axis] // n] * n)
    return NodePlan(shapes, data=index)


def prepare_split_v(ctx: NodeContext) -> NodePlan:
    ctx.expect_inputs(3)
    shape = ctx.input(0).shape
    axis = _axis(ctx, _scalar(ctx, 2, "axis"), len(shape))
    sizes = _ints(ctx, 1, "size_splits")
    n = ctx.option("num_splits", len(ctx.outputs))
    if len(sizes) != n or n != len(ctx.outputs):
        raise ctx.fail(f"{len(sizes)} size_splits, num_splits {n}, {len(ctx.outputs)} outputs")
    unknown = [i for i, s in enumerate(sizes) if s == -1]
    known = sum(s for s in sizes if s != -1)
    if len(unknown) > 1 or any(s < -1 for s in sizes) or known > shape[axis]:
        raise ctx.fail(f"size_splits {sizes} do not split dimension {axis} of size {shape[axis]}")
    if unknown:
        sizes[unknown[0]] = shape[axis] - known
    elif known != shape[axis]:
        raise ctx.fail(f"size_splits {sizes} do not add up to dimension {axis} ({shape[axis]})")
    shapes, index = _pieces(shape, axis, sizes)
    return NodePlan(shapes, data=index)


def _split(x_input: int):
    def run(index, ins, outs):
        x = ins[x_input]
        for out, sl in zip(outs, index, strict=True):
            np.copyto(out, x[sl])

    return run


register("UNPACK", prepare=prepare_unpack)(_split(0))
register("SPLIT", prepare=prepare_split)(_split(1))
register("SPLIT_V", prepare=prepare_split_v)(_split(0))


# -- SLICE, STRIDED_SLICE -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Slice:
    index: tuple  # basic indexing of the input: slices and (for shrunk axes) ints
    view_shape: tuple[int, ...]  # the output seen with the input's rank minus shrunk axes


def _slice_eval(s: Slice, ins, outs):
    np.copyto(outs[0].reshape(s.view_shape), ins[0][s.index])


def prepare_slice(ctx: NodeContext) -> NodePlan:
    ctx.expect_inputs(3)
    shape = ctx.input(0).shape
    begin, size = _ints(ctx, 1, "begin"), _ints(ctx, 2, "size")
    if len(begin) != len(shape) or len(size) != len(shape):
        raise ctx.fail(f"begin {begin} and size {size} must have one entry per dimension")
    index = []
    for d, (b, n, dim) in enumerate(zip(begin, size, shape, strict=True)):
        if n == -1:
            n = dim - b
        if not (0 <= b <= dim and 0 <= n <= dim - b):
            raise ctx.fail(f"begin {b} size {size[d]} out of range for dimension {d} ({dim})")
        index.append(slice(b, b + n))
    out = tuple(s.stop - s.start for s in index)
    return NodePlan((out,), data=Slice(tuple(index), out))


register("SLICE", prepare=prepare_slice)(_slice_eval)


_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1


def _bit(mask: int, i: int) -> bool:
    return bool((mask >> i) & 1) if i >= 0 else False


def _strided_dims(ctx: NodeContext, shape, begin, end, strides):
    """TFLite's mask processing: one (size, begin, end, stride, begin_masked, end_masked,
    shrink, new_axis) per dimension of the input with the new axes added.

    NOTE: this follows TFLite's BuildStridedSliceParams step by step, quirks included (an
    ellipsis covering no dimension still takes one; spec entries past the input's rank are
    ignored), so that shapes and values match LiteRT's.
    """
    bm, em, elm, nam, sam = (
        ctx.option(k, 0)
        for k in ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")
    )
    rank, n = len(shape), len(begin)
    num_add = sum(1 for i in range(n) if not _bit(elm, i) and _bit(nam, i))
    eff = rank + num_add
    ellipsis, new_axis = set(), set()
    ellipsis_start, expanded, i = eff, 0, 0
    while i < eff:
        if _bit(elm, i):
            ellipsis_start = i
            ellipsis_end = max(i + 1, min(i + 1 + num_add + rank - n, eff))
            expanded = ellipsis_end - ellipsis_start - 1
            ellipsis.update(range(i, ellipsis_end))
            i = ellipsis_end
            continue
        if _bit(nam, i - expanded):
            new_axis.add(i)
        i += 1

    dims, added_ellipsis, added_axes = [], 0, 0
    for i in range(eff):
        if i in new_axis and i not in ellipsis:
            dims.append((1, 0, 1, 1, False, False, False, True))
            added_axes += 1
            continue
        if i - added_axes >= rank:
            raise ctx.fail("new_axis_mask and ellipsis_mask do not fit the input's rank")
        size = shape[i - added_axes]
        if i in ellipsis:
            added_ellipsis = max(0, i - ellipsis_start)
            dims.append((size, 0, 0, 1, True, True, False, False))
        elif i >= n + expanded:
            dims.append((size, 0, 0, 1, True, True, False, False))
        else:
            o = i - added_ellipsis
            masks = (_bit(bm, o), _bit(em, o), _bit(sam, o))
            dims.append((size, begin[o], end[o], strides[o], *masks, False))
    return dims


def _clamp(v: int, size: int, stride: int) -> int:
    low, high = (0, size) if stride > 0 else (-1, size - 1)
    return min(max(v, low), high)


def _slice(start: int, count: int, stride: int) -> slice:
    """The Python slice reading `count` elements from `start` by `stride`."""
    if count == 0:
        return slice(0, 0)
    last = start + (count - 1) * stride
    if stride > 0:
        return slice(start, last + 1, stride)
    return slice(start, last - 1 if last > 0 else None, stride)


def prepare_strided_slice(ctx: NodeContext) -> NodePlan:
    ctx.expect_inputs(4)
    shape = ctx.input(0).shape
    for i, what in ((1, "begin"), (2, "end"), (3, "strides")):
        if len(ctx.input(i).shape) != 1:
            raise ctx.fail(f"{what} must be 1-D, got shape {list(ctx.input(i).shape)}")
    begin, end, strides = _ints(ctx, 1, "begin"), _ints(ctx, 2, "end"), _ints(ctx, 3, "strides")
    if not len(begin) == len(end) == len(strides):
        raise ctx.fail(f"begin {begin}, end {end} and strides {strides} differ in length")
    offset = bool(ctx.option("offset", False))
    if offset and (
        len(begin) != len(shape) or ctx.option("ellipsis_mask", 0) or ctx.option("new_axis_mask", 0)
    ):
        # NOTE: LiteRT computes garbage shapes (or crashes) for offset slices that do not name
        # every dimension.
        raise ctx.fail("offset slices need one begin/end per dimension and no ellipsis/new axis")
    index, view, out, problem = [], [], [], None
    for d, (size, b, e, stride, b_mask, e_mask, shrink, new) in enumerate(
        _strided_dims(ctx, shape, begin, end, strides)
    ):
        if stride == 0:
            raise ctx.fail("strides must be non-zero")
        if new:
            out.append(1)
            continue
        if size == 0:
            start = stop = 0
        else:
            start = (_INT32_MIN if stride > 0 else _INT32_MAX) if b_mask else b
            start = _clamp(start + size if start < 0 else start, size, stride)
            stop = (_INT32_MAX if stride > 0 else _INT32_MIN) if e_mask else e
            stop = _clamp(stop + size if stop < 0 else stop, size, stride)
        if offset:
            # NOTE: TFLite's offset mode: end is a length from begin; no mask, no clamping.
            stop = start + e
        if shrink:
            if stride > 0 and 0 <= start < size:
                index.append(start)
                continue
            # NOTE: LiteRT reads out of bounds, or (negative stride) writes nothing: an error
            # here, unless the output is empty anyway.
            problem = f"cannot shrink dimension {d} (size {size}) at begin {b}, stride {stride}"
            index.append(slice(0, 0))
            view.append(0)
            continue
        count = max(0, -((start - stop) // stride))
        out.append(count)
        if count and not 0 <= start + (count - 1) * stride < size:
            problem = f"begin {b} + end {e} reaches outside dimension {d} of size {size}"
            count = 0
        index.append(_slice(start, count, stride))
        view.append(count)
    if problem is not None and int(np.prod(out)) > 0:
        raise ctx.fail(problem)
    return NodePlan((tuple(out),), data=Slice(tuple(index), tuple(view)))


register("STRIDED_SLICE", prepare=prepare_strided_slice)(_slice_eval)


# -- GATHER, GATHER_ND --------------------------------------------------------------------------


def _check_indices(indices: np.ndarray, limits, message: str) -> None:
    """Raise at invoke (as TFLite does) when an index is negative or past its dimension."""
    if indices.size and (indices.min() < 0 or (indices >= limits).any()):
        raise KernelError(message)


@dataclass(frozen=True, slots=True)
class Gather:
    axis: int
    limit: int  # the gathered dimension's size
    message: str
    check: bool  # False when the indices are constant and were checked at prepare
    # batch_dims > 0: params as (rows, inner) and indices as (batch, 1, k); row = base + index,
    # in scratch outs[1] (batch, outer, k)
    base: np.ndarray | None = None
    rows_shape: tuple[int, ...] = ()
    out_shape: tuple[int, ...] = ()


def _params_and_indices(ctx: NodeContext) -> tuple[tuple[int, ...], TensorInfo]:
    """GATHER's and GATHER_ND's params shape and int32 / int64 indices."""
    ctx.expect_inputs(2)
    params, indices = ctx.input(0), ctx.input(1)
    if indices.dtype not in _INDEX_DTYPES:
        raise ctx.fail(f"indices must be int32 or int64, got {indices.dtype}")
    return params.shape, indices


def prepare_gather(ctx: NodeContext) -> NodePlan:
    p, indices = _params_and_indices(ctx)
    q = indices.shape
    axis = _axis(ctx, ctx.option("axis", 0), len(p))
    batch_dims = ctx.option("batch_dims", 0)
    if batch_dims < 0:
        batch_dims += len(q)
    if not 0 <= batch_dims <= min(axis, len(q)):
        raise ctx.fail(f"batch_dims {ctx.option('batch_dims')} is out of range (axis {axis})")
    if p[:batch_dims] != q[:batch_dims]:
        raise ctx.fail(f"batch dimensions of params {list(p)} and indices {list(q)} differ")
    shape = p[:axis] + q[batch_dims:] + p[axis + 1 :]
    message = f"node {ctx.index} (GATHER): index out of range [0, {p[axis]})"
    check = indices.value is None
    if not check:
        try:
            _check_indices(indices.value, p[axis], message)
        except KernelError:
            raise ctx.fail(f"an index is out of range [0, {p[axis]})") from None
    if batch_dims == 0:
        return NodePlan((shape,), data=Gather(axis, p[axis], message, check))
    batch = int(np.prod(p[:batch_dims]))
    outer = int(np.prod(p[batch_dims:axis]))
    inner = int(np.prod(p[axis + 1 :]))
    base = (np.arange(batch * outer, dtype=np.int64) * p[axis]).reshape(batch, outer, 1)
    data = Gather(axis, p[axis], message, check, base, (-1, inner), (batch, outer, -1, inner))
    rows = (batch, outer, int(np.prod(q)) // batch)
    return NodePlan((shape,), data=data, scratch=((rows, np.dtype(np.int64)),))


@register("GATHER", prepare=prepare_gather)
def gather(g: Gather, ins, outs):
    params, indices = ins
    if g.check:
        _check_indices(indices, g.limit, g.message)
    if g.base is None:
        np.take(params, indices, axis=g.axis, out=outs[0], mode="clip")
    else:
        rows = outs[1]
        np.add(g.base, indices.reshape(g.base.shape[0], 1, -1), out=rows)
        np.take(
            params.reshape(g.rows_shape),
            rows,
            axis=0,
            out=outs[0].reshape(g.out_shape),
            mode="clip",
        )


@dataclass(frozen=True, slots=True)
class GatherNd:
    """Scratch outs[1]: the params row of each index vector."""

    limits: np.ndarray  # the indexed dimensions' sizes
    strides: np.ndarray  # rows per step of each indexed dimension
    rows: tuple[int, int]  # params and output as [rows, elements per row]
    message: str
    check: bool


def prepare_gather_nd(ctx: NodeContext) -> NodePlan:
    p, indices = _params_and_indices(ctx)
    q = indices.shape
    if not q or not p or q[-1] > len(p):
        raise ctx.fail(f"indices {list(q)} cannot index params {list(p)}")
    depth = q[-1]
    limits = np.array(p[:depth], np.int64)
    strides = np.array([int(np.prod(p[d + 1 : depth])) for d in range(depth)], np.int64)
    inner = int(np.prod(p[depth:]))
    message = f"node {ctx.index} (GATHER_ND): index out of range for params {list(p)}"
    check = indices.value is None
    if not check:
        try:
            _check_indices(indices.value, limits, message)
        except KernelError:
            raise ctx.fail(f"an index is out of range for params {list(p)}") from None
    data = GatherNd(limits, strides, (-1, inner), message, check)
    scratch = ((q[:-1], np.dtype(np.int64)),)
    return NodePlan((q[:-1] + p[depth:],), data=data, scratch=scratch)


@register("GATHER_ND", prepare=prepare_gather_nd)
def gather_nd(g: GatherNd, ins, outs):
    params, indices = ins
    if g.check:
        _check_indices(indices, g.limits, g.message)
    rows = outs[1]
    np.matmul(indices, g.strides, out=rows)
    out = outs[0].reshape(g.rows)
    np.take(params.reshape(g.rows), rows.reshape(-1), axis=0, out=out, mode="clip")


# -- SHAPE, FILL, ZEROS_LIKE, RANGE ----------------------------------------------------------------


def prepare_shape(ctx: NodeContext) -> NodePlan:
    ctx.expect_inputs(1)
    dtype = ctx.outputs[0].dtype
    if dtype not in _INDEX_DTYPES:
        raise ctx.fail(f"output type must be int32 or int64, got {dtype}")
    shape = ctx.input(0).shape
    # NOTE: the output depends on the input's shape only: it folds even for run-time inputs.
    return NodePlan(((len(shape),),), data=np.array(shape, dtype), folds=True)


@register("SHAPE", prepare=prepare_shape)
def shape_of(value, ins, outs):
    outs[0][...] = value


def prepare_zeros_like(ctx: NodeContext) -> NodePlan:
    ctx.expect_inputs(1)
    # NOTE: the output depends on the input's shape only: it folds even for run-time inputs.
    return NodePlan((ctx.input(0).shape,), folds=True)


@register("ZEROS_LIKE", prepare=prepare_zeros_like)
def zeros_like(data, ins, outs):
    outs[0].fill(0)


def prepare_fill(ctx: NodeContext) -> NodePlan:
    ctx.expect_inputs(2)
    dims = _ints(ctx, 0, "dims")
    if len(ctx.input(0).shape) != 1 or any(d < 0 for d in dims):
        raise ctx.fail(f"dims must be a 1-D list of sizes >= 0, got {dims}")
    value = ctx.input(1)
    if value.shape != ():
        raise ctx.fail(f"value must be a scalar, got shape {list(value.shape)}")
    if value.dtype != ctx.outputs[0].dtype:
        raise ctx.fail(f"value is {value.dtype} but the output is {ctx.outputs[0].dtype}")
    return NodePlan((tuple(dims),))


@register("FILL", prepare=prepare_fill)
def fill(data, ins, outs):
    outs[0][...] = ins[1]


def prepare_range(ctx: NodeContext) -> NodePlan:
    ctx.expect_inputs(3)
    infos = [ctx.input(i) for i in range(3)]
    _same_dtypes(ctx, infos)
    dtype = infos[0].dtype
    if dtype not in (np.int32, np.int64, np.float32):
        raise ctx.fail(f"{dtype} ranges are not supported")
    if any(info.shape != () for info in infos):
        raise ctx.fail("start, limit and delta must be scalars")
    start, limit, delta = (ctx.constant(i)[()] for i in range(3))
    if delta == 0 or not ((start <= limit and delta > 0) or (start >= limit and delta < 0)):
        raise ctx.fail(f"range({start}, {limit}, {delta}) runs the wrong way or never ends")
    if dtype == np.float32:
        # NOTE: as TFLite: ceil(|(limit - start) / delta|) in float32.
        count = int(np.ceil(np.abs((limit - start) / delta)))
    else:
        count = int((abs(int(limit) - int(start)) + abs(int(delta)) - 1) // abs(int(delta)))
    return NodePlan(((count,),))


@register("RANGE", prepare=prepare_range)
def range_(data, ins, outs):
    # NOTE: TFLite accumulates (value += delta), which a sequential cumsum reproduces exactly.
    out = outs[0]
    if out.size:
        out.fill(ins[2])
        out[0] = ins[0]
        np.cumsum(out, out=out)


# -- TILE, BROADCAST_TO, SELECT, SELECT_V2 ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tile:
    source: tuple[int, ...]  # the input as (1, d0, 1, d1, ...)
    target: tuple[int, ...]  # the output as (m0, d0, m1, d1, ...)


def prepare_tile(ctx: NodeContext) -> NodePlan:
    ctx.expect_inputs(2)
    shape = ctx.input(0).shape
    multiples = _ints(ctx, 1, "multiples")
    if len(multiples) != len(shape) or any(m < 0 for m in multiples):
        raise ctx.fail(f"multiples {multiples} do not fit input shape {list(shape)}")
    source = tuple(v for d in shape for v in (1, d))
    target = tuple(v for d, m in zip(shape, multiples, strict=True) for v in (m, d))
    out = tuple(d * m for d, m in zip(shape, multiples, strict=True))
    return NodePlan((out,), data=Tile(source, target))


@register("TILE", prepare=prepare_tile)
def tile(t: Tile, ins, outs):
    outs[0].reshape(t.target)[...] = ins[0].reshape(t.source)


def prepare_broadcast_to(ctx: NodeContext) -> NodePlan:
    ctx.expect_inputs(2)
    shape = ctx.input(0).shape
    target = tuple(_ints(ctx, 1, "shape"))
    if len(target) < len(shape) or any(
        d not in (1, t) for d, t in zip(shape[::-1], target[::-1], strict=False)
    ):
        raise ctx.fail(f"input shape {list(shape)} does not broadcast to {list(target)}")
    return NodePlan((target,))


@register("BROADCAST_TO", prepare=prepare_broadcast_to)
def broadcast_to(data, ins, outs):
    np.copyto(outs[0], ins[0])


def _prepare_select(version: int):
    def prepare(ctx: NodeContext) -> NodePlan:
        ctx.expect_inputs(3)
        cond, x, y = (ctx.input(i) for i in range(3))
        if cond.dtype != np.bool_:
            raise ctx.fail(f"condition must be bool, got {cond.dtype}")
        _same_dtypes(ctx, (x, y), "x and y")
        _same_quantization(ctx, (x, y, *ctx.outputs))
        if version == 2:
            try:
                shape = tuple(np.broadcast_shapes(cond.shape, x.shape, y.shape))
            except ValueError:
                raise ctx.fail(
                    f"shapes {list(cond.shape)}, {list(x.shape)}, {list(y.shape)} do not broadcast"
                ) from None
            return NodePlan((shape,), data=None)
        if x.shape != y.shape:
            raise ctx.fail(f"x {list(x.shape)} and y {list(y.shape)} must have one shape")
        if cond.shape == x.shape:
            return NodePlan((x.shape,), data=None)
        if len(cond.shape) == 1 and x.shape and cond.shape[0] == x.shape[0]:
            # NOTE: SELECT's one broadcast: a 1-D condition picks whole rows of x or y.
            return NodePlan((x.shape,), data=(-1,) + (1,) * (len(x.shape) - 1))
        raise ctx.fail(f"condition {list(cond.shape)} does not fit x {list(x.shape)}")

    return prepare


def select(cond_shape, ins, outs):
    cond, x, y = ins
    np.copyto(outs[0], y)
    np.copyto(outs[0], x, where=cond if cond_shape is None else cond.reshape(cond_shape))


register("SELECT", prepare=_prepare_select(1))(select)
register("SELECT_V2", prepare=_prepare_select(2))(select)


# -- SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpaceBatch:
    """The padded (uncropped) space-side tensor is scratch, outs[1], when there is padding."""

    space: Bordered | None  # the space-side tensor inside its padding; None: no padding
    space_view: tuple[int, ...]  # that tensor as [n, s0 / b0, b0, s1 / b1, b1, ..., rest]
    batch_view: tuple[int, ...]  # the batch side as [b0, b1, ..., n, s0 / b0, ..., rest]
    perm: tuple[int, ...]  # space_view axes in batch_view order


def _block_and_pads(ctx: NodeContext, what: str):
    ctx.expect_inputs(3)
    x = ctx.input(0)
    if x.dtype in _QUANTIZED:
        # NOTE: quantized tensors pad with their zero point; only float padding is done here.
        raise ctx.fail(f"{x.dtype} inputs are not supported")
    block = _ints(ctx, 1, "block_shape")
    pads = _ints(ctx, 2, what)
    m = len(block)
    if len(ctx.input(1).shape) != 1 or ctx.input(2).shape != (m, 2):
        raise ctx.fail(f"block_shape must be [M] and {what} [M, 2]")
    if not 1 <= m <= len(x.shape) - 1:
        raise ctx.fail(f"{m} block dimensions do not fit input shape {list(x.shape)}")
    if any(b < 1 for b in block) or any(p < 0 for p in pads):
        raise ctx.fail(f"block_shape {block} must be >= 1 and {what} {pads} >= 0")
    return x.shape, block, [tuple(pads[2 * k : 2 * k + 2]) for k in range(m)]


def _space_batch(ctx: NodeContext, space: tuple[int, ...], block, pads) -> SpaceBatch:
    """The plan for moving between `space` (padded or uncropped) and its batch form."""
    m = len(block)
    n, spatial, rest = space[0], space[1 : m + 1], space[m + 1 :]
    space_view = (n, *(v for s, b in zip(spatial, block, strict=True) for v in (s // b, b)), *rest)
    batch_view = (*block, n, *(s // b for s, b in zip(spatial, block, strict=True)), *rest)
    # space_view axes: 0 = n, 1 + 2k = s_k / b_k, 2 + 2k = b_k, then the rest.
    perm = (*(2 + 2 * k for k in range(m)), 0, *(1 + 2 * k for k in range(m)))
    perm += tuple(range(1 + 2 * m, 1 + 2 * m + len(rest)))
    inner = (n, *(s - lo - hi for s, (lo, hi) in zip(spatial, pads, strict=True)), *rest)
    padded = any(lo or hi for lo, hi in pads)
    border = bordered(inner, ((0, 0), *pads, *((0, 0),) * len(rest)), 0) if padded else None
    return SpaceBatch(border, space_view, batch_view, perm)


def prepare_space_to_batch(ctx: NodeContext) -> NodePlan:
    shape, block, pads = _block_and_pads(ctx, "paddings")
    padded = list(shape)
    for k, (b, (lo, hi)) in enumerate(zip(block, pads, strict=True)):
        padded[k + 1] += lo + hi
        if padded[k + 1] % b:
            raise ctx.fail(f"padded dimension {k + 1} ({padded[k + 1]}) is not a multiple of {b}")
    plan = _space_batch(ctx, tuple(padded), block, pads)
    out = (shape[0] * int(np.prod(block)), *plan.batch_view[len(block) + 1 :])
    return NodePlan((out,), data=plan, scratch=_space_scratch(ctx, plan))


def _space_scratch(ctx: NodeContext, plan: SpaceBatch) -> tuple:
    return () if plan.space is None else ((plan.space.shape, ctx.input(0).dtype),)


@register("SPACE_TO_BATCH_ND", prepare=prepare_space_to_batch)
def space_to_batch(s: SpaceBatch, ins, outs):
    space = ins[0] if s.space is None else s.space.load(outs[1], ins[0])
    outs[0].reshape(s.batch_view)[...] = space.reshape(s.space_view).transpose(s.perm)


def prepare_batch_to_space(ctx: NodeContext) -> NodePlan:
    shape, block, crops = _block_and_pads(ctx, "crops")
    size = int(np.prod(block))
    if shape[0] % size:
        raise ctx.fail(f"batch {shape[0]} is not a multiple of the block size {size}")
    m = len(block)
    spatial = [s * b for s, b in zip(shape[1 : m + 1], block, strict=True)]
    if any(lo + hi > s for s, (lo, hi) in zip(spatial, crops, strict=True)):
        raise ctx.fail(f"crops {crops} are larger than the dimensions {spatial}")
    full = (shape[0] // size, *spatial, *shape[m + 1 :])
    plan = _space_batch(ctx, full, block, crops)
    cropped = (s - lo - hi for s, (lo, hi) in zip(spatial, crops, strict=True))
    out = (full[0], *cropped, *shape[m + 1 :])
    return NodePlan((out,), data=plan, scratch=_space_scratch(ctx, plan))


@register("BATCH_TO_SPACE_ND", prepare=prepare_batch_to_space)
def batch_to_space(s: SpaceBatch, ins, outs):
    # The batch side fills the whole uncropped space: the border needs no zeros.
    space = outs[0] if s.space is None else outs[1]
    space.reshape(s.space_view).transpose(s.perm)[...] = ins[0].reshape(s.batch_view)
    if s.space is not None:
        np.copyto(outs[0], outs[1][s.space.interior])

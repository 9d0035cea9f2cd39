"""Ops that turn stored weights into float tensors, and floats into quantized ones.

DEQUANTIZE (float16 or int8/uint8/int16 -> float32) and DENSIFY (sparse -> dense) mostly take
constants, so the executor folds them at allocate time; both also run at invoke.  QUANTIZE
(float32 -> int8/uint8/int16) uses the output tensor's scale and zero point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emberlite.interpreter.registry import NodeContext, NodePlan, TensorInfo, register

_LIMITS = {np.dtype(t): (np.iinfo(t).min, np.iinfo(t).max) for t in (np.int8, np.uint8, np.int16)}
_DENSE, _SPARSE_CSR = 0, 1


def _affine(ctx: NodeContext, info: TensorInfo, what: str) -> tuple[np.ndarray, np.ndarray]:
    """The tensor's (scale, zero point) as float32 arrays that broadcast against it."""
    q = info.tensor.quantization
    if q is None or not q.scale:
        raise ctx.fail(f"{what} {info.name!r} ({info.dtype}) has no quantization scale")
    scale = np.array(q.scale, np.float32)
    zero = np.array(q.zero_point or (0,), np.float32)
    if len(zero) not in (1, len(scale)):
        raise ctx.fail(f"{what} has {len(scale)} scales but {len(zero)} zero points")
    if len(scale) > 1 or len(zero) > 1:
        rank, axis = len(info.shape), q.quantized_dimension
        if not 0 <= axis < rank or info.shape[axis] != len(scale):
            raise ctx.fail(
                f"{what} has {len(scale)} scales for dimension {axis} of shape {list(info.shape)}"
            )
        shape = (-1,) + (1,) * (rank - axis - 1)
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    if (scale <= 0).any():
        raise ctx.fail(f"{what} has a scale <= 0")
    return scale, zero


# -- DEQUANTIZE ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Dequantize:
    scale: np.ndarray | None  # None: a plain float16 -> float32 cast
    zero: np.ndarray | None


def prepare_dequantize(ctx: NodeContext) -> NodePlan:
    ctx.expect_inputs(1)
    x = ctx.input(0)
    if ctx.outputs[0].dtype != np.float32:
        raise ctx.fail(f"output must be float32, got {ctx.outputs[0].dtype}")
    if x.dtype == np.float16:
        return NodePlan((x.shape,), data=Dequantize(None, None))
    if x.dtype not in _LIMITS:
        raise ctx.fail(f"cannot dequantize {x.dtype}")
    return NodePlan((x.shape,), data=Dequantize(*_affine(ctx, x, "input")))


@register("DEQUANTIZE", prepare=prepare_dequantize)
def dequantize(d: Dequantize, ins, outs):
    if d.scale is None:
        np.copyto(outs[0], ins[0])
        return
    np.subtract(ins[0], d.zero, out=outs[0])
    np.multiply(outs[0], d.scale, out=outs[0])


# -- QUANTIZE -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Quantize:
    """Scratch: outs[1] the rounded value (float32 per tensor, float64 per axis); outs[2] its
    magnitude; outs[3] (bool) where it overflows int32; per axis, outs[4] (float32) x / scale.
    """

    per_axis: bool
    factor: np.ndarray  # per tensor: 1 / scale; per axis: scale
    zero: np.ndarray
    low: int
    high: int
    overflowed: np.ndarray  # what an overflowing value becomes before + zero (see quantize)


def prepare_quantize(ctx: NodeContext) -> NodePlan:
    ctx.expect_inputs(1)
    x, out = ctx.input(0), ctx.outputs[0]
    if x.dtype != np.float32:
        raise ctx.fail(f"only float32 inputs are supported, got {x.dtype} (requantizing)")
    if out.dtype not in _LIMITS:
        raise ctx.fail(f"cannot quantize to {out.dtype}")
    out = TensorInfo(out.index, out.tensor, x.shape, out.dtype)
    scale, zero = _affine(ctx, out, "output")
    per_axis = scale.size > 1 or zero.size > 1
    rounded = np.dtype(np.float64 if per_axis else np.float32)
    data = Quantize(
        per_axis,
        scale if per_axis else np.float32(1) / scale,
        zero.astype(rounded),
        *_LIMITS[out.dtype],
        # INT32_MIN + zero_point, wrapped to int32, less the zero point added later.
        ((zero.astype(np.int64) + 2**32) % 2**32 - 2**31 - zero).astype(rounded),
    )
    scratch = [(x.shape, rounded), (x.shape, rounded), (x.shape, np.dtype(np.bool_))]
    if per_axis:
        scratch.append((x.shape, np.dtype(np.float32)))
    return NodePlan((x.shape,), data=data, scratch=tuple(scratch))


@register("QUANTIZE", prepare=prepare_quantize)
def quantize(q: Quantize, ins, outs):
    # NOTE: LiteRT's two paths, matched bit for bit: per tensor, rint(x * (1 / scale)) in
    # float32 (ties to even); per axis, round(x / scale) with ties away from zero.  The latter
    # is done in float64, where |x / scale| + 0.5 is exact (float32 would round 0.49999997 + 0.5
    # up to 1).  Both then convert to int32 (x86 turns NaN and overflow into INT32_MIN), add
    # the zero point in int32 (wrapping) and clamp to the type's range.
    r, magnitude, overflow = outs[1:4]
    if not q.per_axis:
        np.multiply(ins[0], q.factor, out=r)
        np.rint(r, out=r)
    else:
        ratio = outs[4]
        np.divide(ins[0], q.factor, out=ratio)
        np.abs(ratio, out=r)
        r += 0.5
        np.floor(r, out=r)
        np.copysign(r, ratio, out=r)
    np.abs(r, out=magnitude)
    np.less(magnitude, 2.0**31, out=overflow)
    np.logical_not(overflow, out=overflow)
    np.copyto(r, q.overflowed, where=overflow)
    r += q.zero
    np.clip(r, q.low, q.high, out=r)
    np.copyto(outs[0], r, casting="unsafe")


# -- DENSIFY ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Densify:
    dtype: np.dtype
    positions: np.ndarray  # the flat dense index of each stored value


def _sparse_positions(ctx: NodeContext, info: TensorInfo) -> np.ndarray:
    """Where each stored value of a sparse tensor lands in the dense one.

    NOTE: TFLite's FormatConverter::SparseToDense, vectorized: the traversal visits levels in
    `traversal_order` (the dense dimensions, then the block dimensions); a DENSE level walks
    0..dense_size-1, a SPARSE_CSR level walks array_indices[segments[p]:segments[p + 1]] for
    the position p reached in the level above.  Stored values follow that visiting order.
    """
    sp, shape = info.tensor.sparsity, info.shape
    n, order, block_map = len(shape), list(sp.traversal_order), list(sp.block_map)
    levels = n + len(block_map)
    if sorted(order) != list(range(levels)) or len(sp.dim_metadata) != levels:
        raise ctx.fail(
            f"sparsity of {info.name!r}: traversal_order {order} and {len(sp.dim_metadata)} "
            f"dimension records do not fit rank {n} with {len(block_map)} block dimensions"
        )
    if sorted(order[:n]) != list(range(n)) or any(not 0 <= d < n for d in block_map):
        raise ctx.fail(f"sparsity of {info.name!r}: unsupported traversal_order / block_map")
    block_size = [sp.dim_metadata[order[n + k]].dense_size for k in range(len(block_map))]

    position = np.zeros(1, np.int64)  # the position reached in the current level, per path
    columns: list[np.ndarray] = []  # the index taken at each level so far, per path
    for level, meta in enumerate(sp.dim_metadata):
        if meta.format == _DENSE:
            size = meta.dense_size
            if size < 0:
                raise ctx.fail(f"sparsity of {info.name!r}: level {level} has size {size}")
            step = np.arange(size, dtype=np.int64)
            columns = [np.repeat(c, size) for c in columns] + [np.tile(step, len(position))]
            position = (position[:, None] * size + step).reshape(-1)
        elif meta.format == _SPARSE_CSR:
            segments = np.array(meta.array_segments or (), np.int64)
            indices = np.array(meta.array_indices or (), np.int64)
            if (
                len(segments) < 1
                or (position.size and position.max() + 1 >= len(segments))
                or (np.diff(segments) < 0).any()
                or segments[0] < 0
                or segments[-1] > len(indices)
            ):
                raise ctx.fail(f"sparsity of {info.name!r}: bad segments at level {level}")
            starts, counts = segments[position], segments[position + 1] - segments[position]
            first = np.repeat(starts - np.cumsum(counts) + counts, counts)
            taken = first + np.arange(int(counts.sum()), dtype=np.int64)
            columns = [np.repeat(c, counts) for c in columns] + [indices[taken]]
            position = taken
        else:
            raise ctx.fail(f"sparsity of {info.name!r}: unknown dimension format {meta.format}")

    dense_index: list[np.ndarray | None] = [None] * n
    for level in range(n):
        dense_index[order[level]] = columns[level]
    for level in range(n, levels):
        k = order[level] - n
        d = block_map[k]
        dense_index[d] = dense_index[d] * block_size[k] + columns[level]
    if any(((i < 0) | (i >= s)).any() for i, s in zip(dense_index, shape, strict=True)):
        raise ctx.fail(f"sparsity of {info.name!r}: an index falls outside {list(shape)}")
    return np.ravel_multi_index(dense_index, shape) if n else np.zeros(len(position), np.int64)


def prepare_densify(ctx: NodeContext) -> NodePlan:
    ctx.expect_inputs(1)
    x = ctx.input(0)
    if x.tensor.sparsity is None:
        raise ctx.fail(f"input {x.name!r} has no sparsity parameters")
    if ctx.outputs[0].dtype != x.dtype:
        raise ctx.fail(f"output is {ctx.outputs[0].dtype}, input {x.dtype}")
    positions = _sparse_positions(ctx, x)
    stored = ctx.constant(0)
    count = stored.nbytes // x.dtype.itemsize if stored.dtype != x.dtype else stored.size
    if count != len(positions):
        raise ctx.fail(f"{x.name!r} stores {count} values; its sparsity names {len(positions)}")
    return NodePlan((x.shape,), data=Densify(x.dtype, positions))


@register("DENSIFY", prepare=prepare_densify)
def densify(d: Densify, ins, outs):
    out = outs[0].reshape(-1)
    out.fill(0)
    out[d.positions] = ins[0].reshape(-1).view(d.dtype)

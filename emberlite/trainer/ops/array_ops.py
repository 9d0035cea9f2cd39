"""Shape and data movement: reshape, transpose, broadcast, concat/stack/split, slicing,
gather, pad.  Each gradient is another movement op, so these compose to any order."""

from __future__ import annotations

from typing import Any

import numpy as np

from emberlite.trainer.ops.registry import OpError, _read, primitive
from emberlite.trainer.tensor import Tensor, Variable, convert_to_tensor


def normalize_axis(axis: Any, ndim: int, op: str) -> int:
    """`axis` in [0, ndim), negative counting from the end; OpError when out of range."""
    a = int(axis)
    if not -ndim <= a < ndim:
        raise OpError(f"{op}: axis {a} is out of range for a tensor of rank {ndim}")
    return a % ndim


def identity(x: Any) -> Tensor:
    """The same value as a tensor; a Variable is read (so a later assign does not change it)."""
    return _read(x) if isinstance(x, Variable) else convert_to_tensor(x)


@primitive("reshape")
def _reshape(x, shape):
    return np.reshape(x, shape)


@_reshape.grad
def _(op, g):
    return (reshape(g, op.inputs[0].shape),)


def reshape(x: Any, shape: Any) -> Tensor:
    x = convert_to_tensor(x)
    shape = tuple(int(d) for d in np.asarray(shape).reshape(-1))
    return identity(x) if shape == x.shape else _reshape(x, shape=shape)


def expand_dims(x: Any, axis: int) -> Tensor:
    x = convert_to_tensor(x)
    axis = normalize_axis(axis, x.ndim + 1, "expand_dims")
    return reshape(x, x.shape[:axis] + (1,) + x.shape[axis:])


def squeeze(x: Any, axis: Any = None) -> Tensor:
    x = convert_to_tensor(x)
    axes = (
        {normalize_axis(a, x.ndim, "squeeze") for a in ((axis,) if np.ndim(axis) == 0 else axis)}
        if axis is not None
        else None
    )
    for a in axes or ():
        if x.shape[a] != 1:
            raise OpError(f"squeeze: axis {a} of shape {list(x.shape)} is not 1")
    keep = [d for i, d in enumerate(x.shape) if (d != 1 if axes is None else i not in axes)]
    return reshape(x, keep)


@primitive("transpose")
def _transpose(x, perm):
    return np.transpose(x, perm)


@_transpose.grad
def _(op, g):
    return (transpose(g, np.argsort(op.attrs["perm"])),)


def transpose(x: Any, perm: Any = None) -> Tensor:
    x = convert_to_tensor(x)
    if perm is None:
        perm = tuple(range(x.ndim))[::-1]
    else:
        perm = tuple(normalize_axis(p, x.ndim, "transpose") for p in perm)
    return identity(x) if perm == tuple(range(x.ndim)) else _transpose(x, perm=perm)


def swap_last(x: Tensor) -> Tensor:
    """Swap the last two axes (a batch of matrices transposed)."""
    perm = list(range(x.ndim))
    perm[-2:] = perm[-1], perm[-2]
    return transpose(x, perm)


@primitive("broadcast_to")
def _broadcast_to(x, shape):
    return np.broadcast_to(x, shape)


@_broadcast_to.grad
def _(op, g):
    from emberlite.trainer.ops.math_ops import unbroadcast

    return (unbroadcast(g, op.inputs[0].shape),)


def broadcast_to(x: Any, shape: Any) -> Tensor:
    x = convert_to_tensor(x)
    shape = tuple(int(d) for d in shape)
    return identity(x) if x.shape == shape else _broadcast_to(x, shape=shape)


@primitive("concat")
def _concat(*xs, axis):
    return np.concatenate(xs, axis=axis)


@_concat.grad
def _(op, g):
    sizes = [x.shape[op.attrs["axis"]] for x in op.inputs]
    return split(g, sizes, axis=op.attrs["axis"])


def concat(values: Any, axis: int) -> Tensor:
    tensors = [convert_to_tensor(v) for v in values]
    if not tensors:
        raise OpError("concat needs at least one tensor")
    ranks = {t.ndim for t in tensors}
    if len(ranks) != 1:
        raise OpError(f"concat: ranks differ: {[list(t.shape) for t in tensors]}")
    return _concat(*tensors, axis=normalize_axis(axis, tensors[0].ndim, "concat"))


def stack(values: Any, axis: int = 0) -> Tensor:
    tensors = [convert_to_tensor(v) for v in values]
    return concat([expand_dims(t, axis) for t in tensors], axis)


def unstack(x: Any, axis: int = 0) -> list[Tensor]:
    x = convert_to_tensor(x)
    return [squeeze(part, axis) for part in split(x, x.shape[axis], axis)]


@primitive("split", multiple_outputs=True)
def _split(x, sizes, axis):
    return tuple(np.split(x, np.cumsum(sizes)[:-1], axis=axis))


@_split.grad
def _(op, *gs):
    return (concat(gs, op.attrs["axis"]),)


def split(x: Any, num_or_size_splits: Any, axis: int = 0) -> list[Tensor]:
    """Split into equal parts (an int) or parts of the given sizes, as tf.split does."""
    x = convert_to_tensor(x)
    axis = normalize_axis(axis, x.ndim, "split")
    if np.ndim(num_or_size_splits) == 0:
        n = int(num_or_size_splits)
        if n < 1 or x.shape[axis] % n:
            raise OpError(
                f"split: axis {axis} of shape {list(x.shape)} does not split into {n} parts"
            )
        sizes = (x.shape[axis] // n,) * n
    else:
        sizes = tuple(int(s) for s in num_or_size_splits)
        if sum(sizes) != x.shape[axis]:
            raise OpError(
                f"split: sizes {list(sizes)} do not add up to {x.shape[axis]} "
                f"(shape {list(x.shape)})"
            )
    return list(_split(x, sizes=sizes, axis=axis)) if len(sizes) > 1 else [identity(x)]


# -- indexing -----------------------------------------------------------------------------------


def _index(index: tuple, at: tuple[int, ...], arrays: tuple) -> tuple:
    """`index` with the index arrays (tensor inputs) put in at their positions."""
    if not at:
        return index
    parts = list(index)
    for position, array in zip(at, arrays, strict=True):
        parts[position] = array
    return tuple(parts)


@primitive("getitem")
def _getitem(x, *arrays, index, at=()):
    return np.asarray(x[_index(index, at, arrays)])


@_getitem.grad
def _(op, g):
    x, *arrays = op.inputs
    return (_scatter(g, *arrays, shape=x.shape, **_index_attrs(op)), *[None] * len(arrays))


@primitive("scatter_into_zeros")
def _scatter(g, *arrays, index, shape, at=()):
    out = np.zeros(shape, g.dtype)
    np.add.at(out, _index(index, at, arrays), g)  # repeated indices accumulate
    return out


@_scatter.grad
def _(op, g):
    arrays = op.inputs[1:]
    return (_getitem(g, *arrays, **_index_attrs(op)), *[None] * len(arrays))


def _index_attrs(op: Any) -> dict[str, Any]:
    return {k: op.attrs[k] for k in ("index", "at") if k in op.attrs}


def getitem(x: Any, index: Any) -> Tensor:
    """NumPy indexing and slicing (basic and advanced), differentiable in x.

    Tensors in the index are inputs of the op (not values read in Python), so a traced
    function indexes with each call's values; `at` lists their positions in the index.
    """
    x = convert_to_tensor(x)
    parts = index if isinstance(index, tuple) else (index,)
    at = tuple(i for i, part in enumerate(parts) if isinstance(part, Tensor))
    if not at:
        return _getitem(x, index=index)
    static = tuple(0 if i in at else part for i, part in enumerate(parts))
    return _getitem(x, *(parts[i] for i in at), index=static, at=at)


def gather(params: Any, indices: Any, axis: int = 0) -> Tensor:
    """tf.gather: slices of params along axis at the given indices (checked to be in range
    unless they are traced values, which the kernel checks as it runs)."""
    from emberlite.trainer import graph

    params = convert_to_tensor(params)
    axis = normalize_axis(axis, params.ndim, "gather")
    if not isinstance(indices, Tensor):
        indices = np.asarray(indices)
    if not graph.is_traced(indices):
        idx = indices._host() if isinstance(indices, Tensor) else indices
        if idx.size and (idx.min() < -params.shape[axis] or idx.max() >= params.shape[axis]):
            raise OpError(
                f"gather: indices out of range [0, {params.shape[axis]}) for shape "
                f"{list(params.shape)}"
            )
    return getitem(params, (slice(None),) * axis + (indices,))


@primitive("pad")
def _pad(x, paddings, constant_values):
    return np.pad(x, paddings, constant_values=constant_values)


@_pad.grad
def _(op, g):
    index = tuple(
        slice(before, before + d)
        for (before, _), d in zip(op.attrs["paddings"], op.inputs[0].shape, strict=True)
    )
    return (getitem(g, index),)


def pad(x: Any, paddings: Any, constant_values: float = 0) -> Tensor:
    x = convert_to_tensor(x)
    paddings = tuple((int(a), int(b)) for a, b in np.asarray(paddings).reshape(-1, 2))
    if len(paddings) != x.ndim:
        raise OpError(f"pad: {len(paddings)} paddings for a tensor of shape {list(x.shape)}")
    return _pad(x, paddings=paddings, constant_values=constant_values)


def tile(x: Any, multiples: Any) -> Tensor:
    x = convert_to_tensor(x)
    reps = tuple(int(m) for m in multiples)
    expanded = reshape(x, sum(((1, d) for d in x.shape), ()))
    tiled = broadcast_to(expanded, sum(((r, d) for r, d in zip(reps, x.shape, strict=True)), ()))
    return reshape(tiled, tuple(r * d for r, d in zip(reps, x.shape, strict=True)))


def ones(shape: Any, dtype: Any = np.float32) -> Tensor:
    from emberlite.trainer.tensor import constant

    return constant(np.ones(tuple(shape), dtype))


def zeros(shape: Any, dtype: Any = np.float32) -> Tensor:
    from emberlite.trainer.tensor import constant

    return constant(np.zeros(tuple(shape), dtype))

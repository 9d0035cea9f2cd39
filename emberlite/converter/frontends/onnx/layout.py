"""Axis orders between an ONNX tensor and the IR tensor that holds it.

ONNX is NCHW, TFLite NHWC.  The front end does not transpose every tensor it reads: each IR
tensor keeps, as `perm`, which ONNX axis each of its axes holds (`ir = onnx.transpose(perm)`),
so a 4-D activation lives NHWC (perm (0, 2, 3, 1)) from the first convolution on, an ONNX
Transpose only changes the perm, and axis attributes are mapped through it.  A TRANSPOSE is
emitted only where an op needs another order (a flatten in NCHW element order, a graph
output).

Dims are ints or `Dim`s: a size known only at run time, named so that the same unknown size
(the batch) is recognized where it reappears, e.g. in a Reshape to [batch, -1].
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Perm = tuple[int, ...]


@dataclass(frozen=True)
class Dim:
    """A dimension unknown until run time (an ONNX dim_param, or an unnamed unknown)."""

    name: str

    def __repr__(self) -> str:
        return self.name


Dims = tuple["int | Dim", ...]


def identity(rank: int) -> Perm:
    return tuple(range(rank))


def channels_last(rank: int) -> Perm:
    """(0, 2, ..., rank - 1, 1): NCHW's axes in NHWC order (NCW -> NWC for rank 3)."""
    return (0, *range(2, rank), 1) if rank > 2 else identity(rank)


def inverse(perm: Perm) -> Perm:
    out = [0] * len(perm)
    for i, p in enumerate(perm):
        out[p] = i
    return tuple(out)


def permute(items: Sequence, perm: Perm) -> tuple:
    return tuple(items[p] for p in perm)


def ir_shape(dims: Dims, perm: Perm) -> tuple[int | None, ...]:
    """The IR shape of a tensor with ONNX `dims` held in order `perm` (None: unknown)."""
    return tuple(d if isinstance(d, int) else None for d in permute(dims, perm))


def ir_axis(perm: Perm, axis: int) -> int:
    """The IR axis holding ONNX axis `axis` (already non-negative)."""
    return perm.index(axis)


def drop_axes(perm: Perm, axes: Sequence[int]) -> Perm:
    """The perm of the result when the ONNX `axes` are removed (a reduce without keepdims)."""
    kept = [p for p in perm if p not in axes]
    return tuple(sorted(kept).index(p) for p in kept)


def move_to_end(perm: Perm, axis: int) -> Perm:
    """`perm` with ONNX axis `axis` moved to the last IR position."""
    return (*(p for p in perm if p != axis), axis)


def suffix(perm: Perm) -> str:
    """A name suffix for an IR tensor held in order `perm` ("" in ONNX's order)."""
    if perm == identity(len(perm)):
        return ""
    if perm == channels_last(len(perm)):
        return "_nhwc" if len(perm) == 4 else "_channels_last"
    return "_t" + "".join(map(str, perm))


# -- reshapes -------------------------------------------------------------------------------------


def reshape_groups(before: Dims, after: Dims) -> list[tuple[list[int], list[int]]] | None:
    """The axes of a reshape in groups that map onto each other (size-1 axes left out):
    [N, C, H, W] -> [N, C*H*W] is ([0], [0]), ([1, 2, 3], [1]).  None when the sizes do not
    line up (an unknown dim must map one to one onto the same unknown dim)."""
    if 0 in before or 0 in after:
        return None
    src = [a for a, d in enumerate(before) if d != 1]
    dst = [a for a, d in enumerate(after) if d != 1]
    groups, i, j = [], 0, 0
    while i < len(src) and j < len(dst):
        a, b = before[src[i]], after[dst[j]]
        if isinstance(a, Dim) or isinstance(b, Dim):
            if a != b:
                return None
            groups.append(([src[i]], [dst[j]]))
            i, j = i + 1, j + 1
            continue
        ins, outs = [src[i]], [dst[j]]
        left, right = a, b
        i, j = i + 1, j + 1
        while left != right:
            if left < right and i < len(src) and isinstance(before[src[i]], int):
                left *= before[src[i]]
                ins.append(src[i])
                i += 1
            elif right < left and j < len(dst) and isinstance(after[dst[j]], int):
                right *= after[dst[j]]
                outs.append(dst[j])
                j += 1
            else:
                return None
        groups.append((ins, outs))
    return groups if i == len(src) and j == len(dst) else None


def grouped_order(perm: Perm, groups: list[tuple[list[int], list[int]]]) -> Perm:
    """The IR order closest to `perm` in which each group's ONNX axes are adjacent and
    ascending (what a reshape in IR order needs): groups keep the order of their first axis
    in `perm`, size-1 axes keep their places."""
    group_of = {a: k for k, (ins, _) in enumerate(groups) for a in ins}
    seen: list[int] = []
    for p in perm:
        if p in group_of and group_of[p] not in seen:
            seen.append(group_of[p])
    regrouped = iter([a for k in seen for a in groups[k][0]])
    return tuple(next(regrouped) if p in group_of else p for p in perm)


def reshaped_perm(
    perm: Perm, before: Dims, after: Dims, groups: list[tuple[list[int], list[int]]]
) -> Perm | None:
    """The perm of the reshape's result when it can run in the IR order `perm` (each group
    adjacent and ascending there), else None.  Size-1 output axes go after the axis before
    them."""
    order = [p for p in perm if before[p] != 1]
    position = {a: order.index(ins[0]) for ins, _ in groups for a in ins}
    for ins, _ in groups:
        start = position[ins[0]]
        if order[start : start + len(ins)] != ins:
            return None
    placed = [b for ins, outs in sorted(groups, key=lambda g: position[g[0][0]]) for b in outs]
    for b in range(len(after)):
        if after[b] == 1:
            placed.insert(placed.index(b - 1) + 1 if b else 0, b)
    return tuple(placed)


def known_size(dims: Dims) -> int:
    return math.prod(d for d in dims if isinstance(d, int))

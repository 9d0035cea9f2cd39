"""PAD, PADV2 and MIRROR_PAD: the input copied into the middle of a larger output.

The paddings input must be constant (it fixes the output shape).  Only the border is
written besides the copy: the constant fills one slab per padded side, and mirroring copies
reversed slabs of the output itself, axis by axis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emberlite.interpreter.kernels.common import borders, input_dtype
from emberlite.interpreter.registry import NodeContext, NodePlan, register

REFLECT, SYMMETRIC = 0, 1  # MirrorPadMode


@dataclass(frozen=True, slots=True)
class Pad:
    interior: tuple[slice, ...]
    sides: tuple[tuple[slice, ...], ...]  # PAD, PADV2: the border, as disjoint slabs
    mirrors: tuple[tuple[tuple[slice, ...], tuple[slice, ...]], ...]  # (slab, its source)


def _paddings(ctx: NodeContext, rank: int) -> list[tuple[int, int]]:
    p = ctx.input(1)
    if p.dtype not in (np.int32, np.int64):
        raise ctx.fail(f"paddings must be int32 or int64, got {p.dtype}")
    if p.shape != (rank, 2):
        raise ctx.fail(f"paddings shape {list(p.shape)} is not [{rank}, 2]")
    pads = [(int(a), int(b)) for a, b in ctx.constant(1)]
    if any(a < 0 or b < 0 for a, b in pads):
        raise ctx.fail(f"paddings {pads} must not be negative")
    return pads


def prepare_pad(ctx: NodeContext) -> NodePlan:
    ctx.expect_inputs(2, 2 if ctx.op_name == "PAD" else 3)
    x = ctx.input(0)
    input_dtype(ctx, None)  # NOTE: quantized PAD fills with the zero point: not done yet
    out, interior, sides = borders(x.shape, _paddings(ctx, len(x.shape)))
    value = ctx.inputs[2] if len(ctx.inputs) > 2 else None
    if value is not None:
        if value.dtype != x.dtype:
            raise ctx.fail(f"constant value is {value.dtype}; the input is {x.dtype}")
        if int(np.prod(value.shape)) != 1:
            raise ctx.fail(f"constant value must hold one element, got {list(value.shape)}")
    return NodePlan((out,), data=Pad(interior, sides, ()))


@register("PAD", "PADV2", prepare=prepare_pad)
def pad(p: Pad, ins, outs):
    out = outs[0]
    value = ins[2].reshape(()) if len(ins) > 2 and ins[2] is not None else 0
    for side in p.sides:
        out[side] = value
    out[p.interior] = ins[0]


def _reversed(start: int, stop: int) -> slice:
    """Indices start, start-1, ..., stop+1 as a slice."""
    return slice(start, stop if stop >= 0 else None, -1)


def prepare_mirror_pad(ctx: NodeContext) -> NodePlan:
    ctx.expect_inputs(2)
    x = ctx.input(0)
    input_dtype(ctx, None)
    mode = ctx.option("mode", REFLECT)
    if mode not in (REFLECT, SYMMETRIC):
        raise ctx.fail(f"mode {mode} is not supported")
    pads = _paddings(ctx, len(x.shape))
    edge = 1 if mode == REFLECT else 0  # REFLECT leaves the edge pixel out of the mirror
    for n, (a, b) in zip(x.shape, pads, strict=True):
        if max(a, b) > n - edge:
            name = "REFLECT" if mode == REFLECT else "SYMMETRIC"
            raise ctx.fail(f"{name} paddings {pads} are too large for shape {list(x.shape)}")
    out, interior, _ = borders(x.shape, pads)
    mirrors = []
    for d, ((a, b), n) in enumerate(zip(pads, x.shape, strict=True)):
        # Axes before d are padded already: take them whole; axes after d: inside only.
        head, tail = (slice(None),) * d, interior[d + 1 :]
        if a:
            source = _reversed(2 * a - 1 + edge, a - 1 + edge)
            mirrors.append(((*head, slice(0, a), *tail), (*head, source, *tail)))
        if b:
            last = a + n - 1 - edge  # the output index mirrored onto the first after-pixel
            source = _reversed(last, last - b)
            mirrors.append(((*head, slice(a + n, a + n + b), *tail), (*head, source, *tail)))
    return NodePlan((out,), data=Pad(interior, (), tuple(mirrors)))


@register("MIRROR_PAD", prepare=prepare_mirror_pad)
def mirror_pad(p: Pad, ins, outs):
    out = outs[0]
    out[p.interior] = ins[0]
    for slab, source in p.mirrors:
        out[slab] = out[source]

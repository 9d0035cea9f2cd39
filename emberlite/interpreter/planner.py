"""The memory planner: places tensors in one arena by their lifetimes.

Like TFLite's ArenaPlanner (greedy by size): tensors are taken largest first and each goes at
the lowest offset where it overlaps no already-placed tensor whose lifetime intersects its
own.  Offsets are aligned to 64 bytes.  Lifetimes are [first step, last step] of the invoke
plan, inclusive: a tensor written at step i and last read at step j.
"""

from __future__ import annotations

from dataclasses import dataclass

ARENA_ALIGNMENT = 64


@dataclass(frozen=True, slots=True)
class Allocation:
    key: int  # the tensor index
    size: int
    first: int
    last: int


def _aligned(n: int) -> int:
    return (n + ARENA_ALIGNMENT - 1) // ARENA_ALIGNMENT * ARENA_ALIGNMENT


def plan_arena(allocations: list[Allocation]) -> tuple[dict[int, int], int]:
    """Offsets for every allocation, and the arena size they need."""
    order = sorted(allocations, key=lambda a: (-a.size, a.first, a.key))
    placed: list[tuple[int, int, Allocation]] = []  # (offset, end, allocation), by offset
    offsets: dict[int, int] = {}
    arena = 0
    for a in order:
        size = _aligned(a.size)
        offset = 0
        for start, end, other in placed:
            if other.last < a.first or a.last < other.first:
                continue  # lifetimes do not meet: the space can be shared
            if offset + size <= start:
                break
            offset = max(offset, end)
        offsets[a.key] = offset
        placed.append((offset, offset + size, a))
        placed.sort(key=lambda p: p[0])
        arena = max(arena, offset + size)
    return offsets, arena

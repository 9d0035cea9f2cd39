"""Graph optimization passes: each a function `(graph) -> bool` (True when it changed
something), one module each, run by `optimize` in the order of `PASSES` until none changes
anything.  Every pass keeps the graph's numbers (None batch dims included) and can be turned
off by name for debugging.

Set EMBERLITE_VALIDATE_PASSES=1 (or pass validate=True) to check the graph after every pass
that changed it, so a broken rewrite is caught where it happens.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from emberlite.converter.ir import ConversionError, Graph
from emberlite.converter.passes.cancel_transposes import cancel_transposes
from emberlite.converter.passes.fold_batch_norm import fold_batch_norm
from emberlite.converter.passes.fold_constants import fold_constants
from emberlite.converter.passes.fold_padding import fold_padding
from emberlite.converter.passes.fuse_activation import fuse_activation
from emberlite.converter.passes.remove_dead import remove_dead
from emberlite.converter.passes.remove_identity import remove_identity
from emberlite.converter.passes.share_constants import share_constants

PASSES: dict[str, Callable[[Graph], bool]] = {
    "fold_constants": fold_constants,
    "remove_dead": remove_dead,
    "remove_identity": remove_identity,
    "cancel_transposes": cancel_transposes,
    "fold_padding": fold_padding,
    "fold_batch_norm": fold_batch_norm,
    "fuse_activation": fuse_activation,
    "share_constants": share_constants,
}

# Every pass shrinks the graph or strictly simplifies one node, so a fixed point comes fast;
# a graph still changing after this many rounds means two passes undo each other.
MAX_ROUNDS = 100


def optimize(
    graph: Graph, enabled: Iterable[str] | None = None, *, validate: bool | None = None
) -> dict[str, int]:
    """Run the `enabled` passes (all when None) in order, repeatedly, until none changes the
    graph; returns how many times each one changed it."""
    wanted = set(PASSES) if enabled is None else set(enabled)
    names = [name for name in PASSES if name in wanted]
    unknown = sorted(wanted - set(PASSES))
    if unknown:
        raise ConversionError(
            "unknown optimization pass(es)",
            [f"{n!r} (known: {', '.join(PASSES)})" for n in unknown],
        )
    if validate is None:
        validate = os.environ.get("EMBERLITE_VALIDATE_PASSES") == "1"
    changes = dict.fromkeys(names, 0)
    for _ in range(MAX_ROUNDS):
        changed = False
        for name in names:
            if PASSES[name](graph):
                changes[name] += 1
                changed = True
                if validate:
                    graph.validate(f"the graph is inconsistent after pass {name}")
        if not changed:
            return changes
    raise ConversionError(
        f"the optimization passes did not settle in {MAX_ROUNDS} rounds",
        [f"{name} changed the graph {n} times" for name, n in changes.items() if n],
    )


__all__ = ["PASSES", "optimize"]

"""What the passes share: who reads and makes each tensor, constant tests, and the two
rewrites most passes end with (drop a node that copies its input; let a producer take over
the output of the node after it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from emberlite.converter.ir import Graph, Node

# Bounds each fused_activation_function code clamps to (TANH and SIGN_BIT are no clamps).
ACTIVATION = "fused_activation_function"
FUSED_BOUNDS = {0: (-np.inf, np.inf), 1: (0.0, np.inf), 2: (-1.0, 1.0), 3: (0.0, 6.0)}


class Uses:
    """Readers and producers of every tensor, and the graph outputs, at one moment."""

    def __init__(self, graph: Graph):
        self.readers = graph.consumers()
        self.producers = graph.producers()
        self.outputs = set(graph.outputs)

    def producer(self, name: str | None) -> Node | None:
        return self.producers.get(name) if name is not None else None

    def sole_reader(self, name: str) -> Node | None:
        """The one node reading `name` (once), if nothing else needs it (nor the graph)."""
        readers = self.readers.get(name, [])
        if len(readers) != 1 or name in self.outputs:
            return None
        return readers[0]


Rewrite = Callable[[Graph, Node, Uses], bool]


def rewrite_all(graph: Graph, rewrite: Rewrite) -> bool:
    """Apply `rewrite` to nodes until it changes none; True when it changed any.

    After each change the scan starts over with fresh `Uses`, so a rewrite never sees a
    stale picture of the graph.
    """
    changed = False
    while _rewrite_one(graph, rewrite):
        changed = True
    return changed


def _rewrite_one(graph: Graph, rewrite: Rewrite) -> bool:
    uses = Uses(graph)
    return any(rewrite(graph, node, uses) for node in list(graph.nodes))


def activation(node: Node) -> int:
    return int(node.options.get(ACTIVATION, 0))


def uniform_value(array: np.ndarray | None) -> float | None:
    """The one value every element of a constant holds, else None."""
    if array is None or array.size == 0:
        return None
    first = array.reshape(-1)[0]
    return float(first) if np.all(array == first) else None


def broadcasts_into(small: tuple[int, ...], big: tuple[int | None, ...]) -> bool:
    """Broadcasting a `small`-shaped constant against a `big` tensor leaves `big`'s shape."""
    if len(small) > len(big):
        return False
    return all(s == 1 or s == b for s, b in zip(reversed(small), reversed(big), strict=False))


def is_float(graph: Graph, name: str) -> bool:
    return graph.tensors[name].dtype.kind == "f"


def constant_operand(graph: Graph, node: Node, slots: tuple[int, ...]) -> tuple[int, Any] | None:
    """(slot, data) of the first constant among inputs `slots` of a two-input node."""
    for slot in slots:
        data = graph.constant(node.inputs[slot])
        if data is not None:
            return slot, data
    return None


def delete_tensor(graph: Graph, name: str) -> None:
    graph.tensors.pop(name, None)


def take_over(graph: Graph, producer: Node, node: Node) -> None:
    """`producer` writes `node`'s output itself and `node` goes; `producer`'s old output
    (which only `node` read) goes with it."""
    old = producer.outputs[0]
    producer.outputs[0] = node.outputs[0]
    graph.remove_nodes([node])
    delete_tensor(graph, old)


def bypass(graph: Graph, node: Node, source: str, uses: Uses) -> bool:
    """Remove `node`, whose output equals its input `source`; False when it must stay.

    Readers of the output read `source` instead.  When the output is a graph output, its
    name stays (signatures refer to it): `source`'s producer writes it directly, which needs
    `source` to be made by a node and not be a graph output itself.
    """
    out = node.outputs[0]
    if out not in uses.outputs:
        graph.remove_nodes([node])
        graph.replace_uses(out, source)
        delete_tensor(graph, out)
        return True
    producer = uses.producer(source)
    if producer is None or source in uses.outputs:
        return False
    graph.remove_nodes([node])
    producer.outputs = [out if name == source else name for name in producer.outputs]
    graph.replace_uses(source, out)
    delete_tensor(graph, source)
    return True

"""remove_dead: nodes whose outputs nobody reads (nor the graph), then unused tensors."""

from __future__ import annotations

from emberlite.converter.ir import Graph


def remove_dead(graph: Graph) -> bool:
    live = set(graph.outputs)
    kept = []
    for node in reversed(graph.nodes):
        # A node without outputs is there for its effect (ASSIGN_VARIABLE): it stays.
        if not node.outputs or any(name in live for name in node.outputs):
            kept.append(node)
            live.update(name for name in node.inputs if name is not None)
    removed = len(graph.nodes) - len(kept)
    graph.nodes = kept[::-1]
    tensors = len(graph.tensors)
    graph.remove_unused_tensors()
    return removed > 0 or len(graph.tensors) < tensors

"""fold_constants: a node whose inputs are all constants runs now; its outputs become constants."""

from __future__ import annotations

from emberlite.converter.ir import ConversionError, Graph, Node
from emberlite.converter.passes.common import Uses, rewrite_all
from emberlite.converter.passes.evaluate import evaluate
from emberlite.interpreter.registry import lookup

# These exist to keep weights small in the file (float16, sparse): folding would undo them.
KEEP = {"DEQUANTIZE", "DENSIFY"}


def fold_constants(graph: Graph) -> bool:
    return rewrite_all(graph, _fold)


def _fold(graph: Graph, node: Node, uses: Uses) -> bool:
    if node.op in KEEP or any(graph.constant(n) is None for n in node.inputs if n is not None):
        return False
    kernel = lookup(node.op)
    if kernel is None or not kernel.foldable:
        return False
    for name, value in zip(node.outputs, evaluate(graph, node), strict=True):
        tensor = graph.tensors[name]
        if len(tensor.shape) != value.ndim or any(
            d not in (None, v) for d, v in zip(tensor.shape, value.shape, strict=True)
        ):
            raise ConversionError(
                f"{node.op} ({node.name}) computes {name!r} as {list(value.shape)}, "
                f"but the graph declares {list(tensor.shape)}"
            )
        tensor.data, tensor.shape = value, value.shape
    graph.remove_nodes([node])
    return True

"""cancel_transposes: transposes and reshapes that cancel or merge.

- TRANSPOSE after TRANSPOSE is one TRANSPOSE by the composed permutation (none when the
  two are inverses);
- RESHAPE after RESHAPE / SQUEEZE / EXPAND_DIMS reads the earlier op's input directly;
- a TRANSPOSE that moves only size-1 dims is a RESHAPE;
- TRANSPOSE (keeping the batch first) -> RESHAPE to [batch, features] -> FULLY_CONNECTED
  with constant weights: the transpose goes and the weight columns are permuted instead.
  This is the NCHW flatten before a classifier in every CNN exported from PyTorch.
"""

from __future__ import annotations

import math

import numpy as np

from emberlite.converter.ir import Graph, Node
from emberlite.converter.passes.common import Uses, bypass, rewrite_all

RESHAPES = {"RESHAPE", "SQUEEZE", "EXPAND_DIMS"}


def cancel_transposes(graph: Graph) -> bool:
    return rewrite_all(graph, _cancel)


def _cancel(graph: Graph, node: Node, uses: Uses) -> bool:
    if node.op == "RESHAPE":
        return _merge_reshapes(node, uses)
    perm = _perm(graph, node)
    if perm is None:
        return False
    return (
        _merge_transposes(graph, node, perm, uses)
        or _transpose_to_reshape(graph, node, perm)
        or _into_dense_weights(graph, node, perm, uses)
    )


def _perm(graph: Graph, node: Node) -> list[int] | None:
    perm = graph.constant(node.inputs[1]) if node.op == "TRANSPOSE" else None
    return None if perm is None else [int(p) % perm.size for p in perm.reshape(-1)]


def _merge_transposes(graph: Graph, node: Node, perm: list[int], uses: Uses) -> bool:
    before = uses.producer(node.inputs[0])
    first = None if before is None else _perm(graph, before)
    if first is None:
        return False
    composed = [first[p] for p in perm]
    source = before.inputs[0]
    if composed == sorted(composed) and bypass(graph, node, source, uses):
        return True
    node.inputs = [source, graph.add_constant(f"{node.outputs[0]}_perm", composed, np.int32)]
    return True


def _merge_reshapes(node: Node, uses: Uses) -> bool:
    before = uses.producer(node.inputs[0])
    if before is None or before.op not in RESHAPES:
        return False
    node.inputs[0] = before.inputs[0]
    return True


def _transpose_to_reshape(graph: Graph, node: Node, perm: list[int]) -> bool:
    x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
    moved = [p for p in perm if x.shape[p] != 1]  # an unknown dim may be more than 1
    if perm == sorted(perm) or moved != sorted(moved) or y.shape.count(None) > 1:
        return False
    shape = [-1 if d is None else d for d in y.shape]
    node.op, node.options = "RESHAPE", {"new_shape": shape}
    node.inputs = [x.name, graph.add_constant(f"{y.name}_shape", shape, np.int32)]
    return True


def _into_dense_weights(graph: Graph, node: Node, perm: list[int], uses: Uses) -> bool:
    x = graph.tensors[node.inputs[0]]
    flatten = uses.sole_reader(node.outputs[0])
    if perm[0] != 0 or flatten is None or flatten.op != "RESHAPE" or None in x.shape[1:]:
        return False
    features = math.prod(x.shape[1:])
    flat = flatten.outputs[0]
    if graph.tensors[flat].shape[1:] != (features,) or flat in uses.outputs:
        return False
    denses = uses.readers.get(flat, [])
    weights = [graph.constant(d.inputs[1]) for d in denses]
    if not denses or any(
        d.op != "FULLY_CONNECTED" or flat in d.inputs[1:] or w is None or w.shape[1:] != (features,)
        for d, w in zip(denses, weights, strict=True)
    ):
        return False
    transposed = tuple(x.shape[p] for p in perm)
    back = list(np.argsort(perm))
    for dense, w in zip(denses, weights, strict=True):
        columns = w.reshape(w.shape[0], *transposed[1:]).transpose(back).reshape(w.shape)
        dense.inputs[1] = graph.add_constant(f"{dense.inputs[1]}_permuted", columns)
    flatten.inputs[0] = x.name
    graph.remove_nodes([node])
    del graph.tensors[node.outputs[0]]
    return True

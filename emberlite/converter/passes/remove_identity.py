"""remove_identity: nodes that hand their input on unchanged.

RESHAPE / SQUEEZE to the same shape, CAST / DEQUANTIZE to the dtype the input has,
TRANSPOSE by the identity permutation, PAD by zeros, x + 0, x - 0, x * 1, x / 1 (when the
constant's broadcasting leaves x's shape, and with no fused activation), and a
CONCATENATION of one input.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from emberlite.converter.ir import Graph, Node
from emberlite.converter.passes.common import (
    Uses,
    activation,
    broadcasts_into,
    bypass,
    rewrite_all,
    uniform_value,
)


def remove_identity(graph: Graph) -> bool:
    return rewrite_all(graph, _remove)


def _remove(graph: Graph, node: Node, uses: Uses) -> bool:
    rule = RULES.get(node.op)
    source = rule(graph, node) if rule else None
    if source is None or len(node.outputs) != 1:
        return False
    a, b = graph.tensors[source], graph.tensors[node.outputs[0]]
    if a.dtype != b.dtype or a.quantization is not None or b.quantization is not None:
        return False
    return bypass(graph, node, source, uses)


def _same_shape(graph: Graph, node: Node) -> str | None:
    # With two unknown dims, equal declared shapes could still hide a swap of the two.
    x, y = graph.tensors[node.inputs[0]].shape, graph.tensors[node.outputs[0]].shape
    return node.inputs[0] if x == y and x.count(None) <= 1 else None


def _same_dtype(graph: Graph, node: Node) -> str | None:
    return node.inputs[0]  # _remove checks the dtypes


def _identity_perm(graph: Graph, node: Node) -> str | None:
    perm = graph.constant(node.inputs[1])
    if perm is None:
        return None
    rank = perm.size
    return node.inputs[0] if np.array_equal(perm % max(rank, 1), np.arange(rank)) else None


def _zero_pads(graph: Graph, node: Node) -> str | None:
    pads = graph.constant(node.inputs[1])
    return node.inputs[0] if pads is not None and not np.any(pads) else None


def _single(graph: Graph, node: Node) -> str | None:
    return node.inputs[0] if len(node.inputs) == 1 else None


def _neutral(value: float, slots: tuple[int, ...]) -> Callable[[Graph, Node], str | None]:
    """x op c is x when constant c (at one of `slots`) holds only `value`."""

    def rule(graph: Graph, node: Node) -> str | None:
        if activation(node) or len(node.inputs) != 2:
            return None
        for slot in slots:
            c, x = node.inputs[slot], node.inputs[1 - slot]
            data = graph.constant(c)
            if (
                uniform_value(data) == value
                and graph.constant(x) is None
                and broadcasts_into(data.shape, graph.tensors[x].shape)
            ):
                return x
        return None

    return rule


RULES: dict[str, Callable[[Graph, Node], str | None]] = {
    "RESHAPE": _same_shape,
    "SQUEEZE": _same_shape,
    "CAST": _same_dtype,
    "DEQUANTIZE": _same_dtype,
    "TRANSPOSE": _identity_perm,
    "PAD": _zero_pads,
    "PADV2": _zero_pads,
    "MIRROR_PAD": _zero_pads,
    "CONCATENATION": _single,
    "ADD": _neutral(0.0, (0, 1)),
    "SUB": _neutral(0.0, (1,)),
    "MUL": _neutral(1.0, (0, 1)),
    "DIV": _neutral(1.0, (1,)),
}

"""Chains of trainer primitives that TFLite has as one op.

The trainer composes some functions from primitives: reduce_mean is a sum divided by the
count, leaky_relu a `where`, gelu and hard_swish arithmetic around erf and relu6.  Each
fusion recognises its chain ending at one node, where every value inside the chain is read
by the chain alone, and turns that node into a front-end composite ("reduce_mean", ...)
that bundle_ops lowers to the one TFLite op; the chain's other nodes are dropped.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from emberlite.converter.frontends.bundle_graph import SourceGraph, SourceNode
from emberlite.trainer.graph import NodeOutput, Ref


@dataclass
class Fused:
    op: str
    inputs: list[Ref]
    inner: list[SourceNode]  # the chain's other nodes
    attrs: dict[str, Any] = field(default_factory=dict)


class _Matcher:
    def __init__(self, source: SourceGraph):
        self.source = source
        self.uses = source.uses()

    def inner(self, ref: Ref | None, op: str) -> SourceNode | None:
        """The node making `ref`, when it is an `op` whose output only one node reads."""
        if not isinstance(ref, NodeOutput) or self.uses[ref] != 1:
            return None
        node = self.source.node(ref.node)
        return node if node.op == op else None

    def scalar(self, ref: Ref) -> float | None:
        array = self.source.arrays.get(ref)
        return float(array.reshape(-1)[0]) if array is not None and array.size == 1 else None

    def beside(self, node: SourceNode, value: float) -> Ref | None:
        """The operand of binary `node` whose partner is the scalar constant `value`."""
        if len(node.inputs) != 2:
            return None
        for ref, other in (node.inputs, node.inputs[::-1]):
            found = self.scalar(other)
            if found is not None and self.scalar(ref) is None and np.isclose(found, value):
                return ref
        return None

    def scalar_beside(self, node: SourceNode, ref: Ref) -> float | None:
        """The scalar constant that binary `node` combines with `ref`."""
        if len(node.inputs) != 2 or ref not in node.inputs:
            return None
        return self.scalar(node.inputs[1 - node.inputs.index(ref)])


Fusion = Callable[[_Matcher, SourceNode], Fused | None]


def _mean(m: _Matcher, node: SourceNode) -> Fused | None:
    """divide(reduce_sum(x, axes), count of the summed elements)."""
    if node.op != "divide":
        return None
    total = m.inner(node.inputs[0], "reduce_sum")
    count = m.scalar(node.inputs[1])
    if total is None or count is None:
        return None
    shape = m.source.spec(total.inputs[0]).shape
    sizes = [shape[a] for a in total.attrs["axis"]]
    if None in sizes or count != math.prod(sizes):
        return None
    return Fused("reduce_mean", [total.inputs[0]], [total], dict(total.attrs))


def _leaky_relu(m: _Matcher, node: SourceNode) -> Fused | None:
    """where(greater(x, 0), x, multiply(x, alpha))."""
    if node.op != "where":
        return None
    condition, x, y = node.inputs
    positive, scaled = m.inner(condition, "greater"), m.inner(y, "multiply")
    if positive is None or scaled is None or positive.inputs[0] != x:
        return None
    if m.scalar(positive.inputs[1]) != 0:
        return None
    alpha = m.scalar_beside(scaled, x)
    if alpha is None:
        return None
    return Fused("leaky_relu", [x], [positive, scaled], {"alpha": alpha})


def _gelu(m: _Matcher, node: SourceNode) -> Fused | None:
    """multiply(multiply(x, 0.5), add(erf(multiply(x, sqrt(1/2))), 1))."""
    if node.op != "multiply":
        return None
    for first, second in (node.inputs, node.inputs[::-1]):
        half, plus = m.inner(first, "multiply"), m.inner(second, "add")
        x = half and m.beside(half, 0.5)
        erf = plus and m.inner(m.beside(plus, 1.0), "erf")
        scaled = erf and m.inner(erf.inputs[0], "multiply")
        if x is not None and scaled and m.beside(scaled, math.sqrt(0.5)) == x:
            return Fused("gelu", [x], [half, plus, erf, scaled])
    return None


def _hard_swish(m: _Matcher, node: SourceNode) -> Fused | None:
    """multiply(multiply(x, relu6(add(x, 3))), 1/6)."""
    product = m.inner(m.beside(node, 1 / 6), "multiply") if node.op == "multiply" else None
    if product is None:
        return None
    for x, gate in (product.inputs, product.inputs[::-1]):
        clamp = m.inner(gate, "relu6")
        shifted = clamp and m.inner(clamp.inputs[0], "add")
        if shifted and m.beside(shifted, 3.0) == x:
            return Fused("hard_swish", [x], [product, clamp, shifted])
    return None


FUSIONS: tuple[Fusion, ...] = (_mean, _leaky_relu, _gelu, _hard_swish)


def _all_float(source: SourceGraph, found: Fused, node: SourceNode) -> bool:
    """Whether the composite reads and makes floats only, as its TFLite op does."""
    dtypes = [source.spec(r).dtype for r in found.inputs] + [s.dtype for s in node.outputs]
    return all(dtype.kind == "f" for dtype in dtypes)


def fuse(source: SourceGraph) -> None:
    """Replace every chain a fusion recognises in `source` (in place)."""
    m = _Matcher(source)
    dropped: set[int] = set()
    for node in source.nodes:
        for fusion in FUSIONS:
            found = fusion(m, node)
            if found is not None and _all_float(source, found, node):
                node.op, node.inputs, node.attrs = found.op, found.inputs, found.attrs
                dropped.update(n.index for n in found.inner)
                break
    source.nodes = [n for n in source.nodes if n.index not in dropped]

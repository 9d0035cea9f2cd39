"""fuse_activation: clamps (RELU, RELU_N1_TO_1, RELU6, MAXIMUM / MINIMUM with a constant)
merge with the clamp before them and go into the producing op's fused_activation_function.

Each clamp is an interval; two in a row are their intersection.  So MINIMUM(MAXIMUM(x, 0), 6)
becomes RELU6(x), RELU after RELU6 is RELU6, and CONV_2D -> MAXIMUM(·, 0) is a CONV_2D with
a fused RELU.  A clamp goes into its producer only when the producer's output has no other
reader and the result is one of the fused codes.

Not fused, because LiteRT would compute something else (tests/converter/test_passes.py
shows it): TANH, which LiteRT's float kernels ignore or refuse as a fused activation, and
anything into CONCATENATION, which refuses every fused activation.
"""

from __future__ import annotations

import numpy as np

from emberlite.converter.ir import Graph, Node
from emberlite.converter.passes.common import (
    ACTIVATION,
    FUSED_BOUNDS,
    Uses,
    activation,
    broadcasts_into,
    constant_operand,
    is_float,
    rewrite_all,
    take_over,
    uniform_value,
)

Bounds = tuple[float, float]

CLAMP_OPS: dict[str, Bounds] = {
    "RELU": (0.0, np.inf),
    "RELU_N1_TO_1": (-1.0, 1.0),
    "RELU6": (0.0, 6.0),
}
OP_OF_BOUNDS = {bounds: op for op, bounds in CLAMP_OPS.items()}
CODE_OF_BOUNDS = {bounds: code for code, bounds in FUSED_BOUNDS.items()}
# Ops whose LiteRT float kernels apply fused_activation_function (RELU, RELU_N1_TO_1, RELU6).
FUSES = {
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "TRANSPOSE_CONV",
    "FULLY_CONNECTED",
    "ADD",
    "SUB",
    "MUL",
    "DIV",
    "AVERAGE_POOL_2D",
    "MAX_POOL_2D",
}


def fuse_activation(graph: Graph) -> bool:
    return rewrite_all(graph, _fuse)


def _fuse(graph: Graph, node: Node, uses: Uses) -> bool:
    clamp = _clamp(graph, node)
    if clamp is None:
        return False
    x, bounds = clamp
    before = uses.producer(x)
    if before is not None and uses.sole_reader(x) is node:
        earlier = _clamp(graph, before)
        if earlier is not None:
            merged = _intersection(earlier[1], bounds)
            if merged in OP_OF_BOUNDS:
                _become(node, OP_OF_BOUNDS[merged], earlier[0])
                graph.remove_nodes([before])
                del graph.tensors[x]
                return True
        elif before.op in FUSES and activation(before) in FUSED_BOUNDS:
            merged = _intersection(FUSED_BOUNDS[activation(before)], bounds)
            if merged in CODE_OF_BOUNDS:
                before.options[ACTIVATION] = CODE_OF_BOUNDS[merged]
                take_over(graph, before, node)
                return True
    if node.op not in CLAMP_OPS and bounds in OP_OF_BOUNDS:
        _become(node, OP_OF_BOUNDS[bounds], x)  # MAXIMUM(x, 0) is RELU(x)
        return True
    return False


def _clamp(graph: Graph, node: Node) -> tuple[str, Bounds] | None:
    """(input, interval) of a node that clamps a float tensor to an interval, else None."""
    if not node.inputs or not is_float(graph, node.inputs[0]) or len(node.outputs) != 1:
        return None
    if node.op in CLAMP_OPS:
        return node.inputs[0], CLAMP_OPS[node.op]
    if node.op not in ("MAXIMUM", "MINIMUM") or len(node.inputs) != 2:
        return None
    found = constant_operand(graph, node, (0, 1))
    if found is None:
        return None
    slot, constant = found
    x, value = node.inputs[1 - slot], uniform_value(constant)
    if value is None or graph.constant(x) is not None:
        return None
    if not broadcasts_into(constant.shape, graph.tensors[x].shape):
        return None
    return x, ((value, np.inf) if node.op == "MAXIMUM" else (-np.inf, value))


def _intersection(a: Bounds, b: Bounds) -> Bounds:
    return max(a[0], b[0]), min(a[1], b[1])


def _become(node: Node, op: str, x: str) -> None:
    node.op, node.inputs, node.options = op, [x], {}

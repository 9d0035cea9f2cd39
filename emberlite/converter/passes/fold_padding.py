"""fold_padding: an explicit spatial PAD before a VALID window op becomes the op's SAME padding,
when the pads are exactly SAME's for that geometry (TensorFlow's rule: the total split with
the extra row / column at the bottom / right).

CONV_2D and DEPTHWISE_CONV_2D take zero pads.  MAX_POOL_2D takes only -inf-like pads (its
SAME ignores the border, as if it held -inf).  AVERAGE_POOL_2D never: its SAME leaves the
border out of the mean, where a PAD counts zeros in.
"""

from __future__ import annotations

import numpy as np

from emberlite.converter.ir import Graph, Node
from emberlite.converter.passes.common import Uses, rewrite_all

SAME, VALID = 0, 1  # Padding
PAD_OPS = {"PAD", "PADV2"}
LOWEST = float(np.finfo(np.float32).min)


def fold_padding(graph: Graph) -> bool:
    return rewrite_all(graph, _fold)


def _fold(graph: Graph, node: Node, uses: Uses) -> bool:
    if node.op not in ("CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D"):
        return False
    if node.options.get("padding", SAME) != VALID:
        return False
    pad = uses.producer(node.inputs[0])
    if pad is None or pad.op not in PAD_OPS or uses.sole_reader(node.inputs[0]) is not node:
        return False
    pads = graph.constant(pad.inputs[1])
    x = graph.tensors[pad.inputs[0]]
    if pads is None or pads.shape != (4, 2) or np.any(pads[[0, 3]]) or None in x.shape[1:3]:
        return False
    if not _fill_suits(node.op, graph.constant(pad.inputs[2]) if len(pad.inputs) > 2 else 0.0):
        return False
    kernel = _window(graph, node)
    if None in kernel:
        return False
    strides = node.options.get("stride_h", 1), node.options.get("stride_w", 1)
    dilations = node.options.get("dilation_h_factor", 1), node.options.get("dilation_w_factor", 1)
    for size, k, stride, dilation, (before, after) in zip(
        x.shape[1:3], kernel, strides, dilations, pads[1:3].tolist(), strict=True
    ):
        if _same_pads(size, k, stride, dilation) != (before, after):
            return False
    node.inputs[0] = pad.inputs[0]
    node.options["padding"] = SAME
    graph.remove_nodes([pad])
    del graph.tensors[pad.outputs[0]]
    return True


def _fill_suits(op: str, fill: np.ndarray | float | None) -> bool:
    if fill is None:  # a run-time pad value
        return False
    value = float(np.asarray(fill).reshape(-1)[0])
    return value <= LOWEST if op == "MAX_POOL_2D" else value == 0.0


def _window(graph: Graph, node: Node) -> tuple[int | None, ...]:
    if node.op == "MAX_POOL_2D":
        return node.options.get("filter_height", 1), node.options.get("filter_width", 1)
    return graph.tensors[node.inputs[1]].shape[1:3]  # OHWI / [1, kh, kw, cout]


def _same_pads(size: int, k: int, stride: int, dilation: int) -> tuple[int, int]:
    """The (before, after) pads SAME adds along one axis."""
    effective = (k - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2

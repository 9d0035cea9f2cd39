"""fold_batch_norm: per-output-channel (or scalar) constant MUL / DIV / ADD / SUB after a
CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV or FULLY_CONNECTED goes into its filter and bias.

    y = conv(x, W) + b;  y * s + t  ==  conv(x, W * s) + (b * s + t)

This is how an inference batch norm (MUL + ADD with constants) and a separate bias ADD
disappear.  The host must have no fused activation (it would apply before the arithmetic)
and be the only thing reading its output; the host takes over the arithmetic's output and
its fused activation.  New filter and bias constants are made: the old ones may be shared.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emberlite.converter.ir import Graph, Node
from emberlite.converter.passes.common import (
    ACTIVATION,
    Uses,
    activation,
    constant_operand,
    is_float,
    rewrite_all,
    take_over,
)


@dataclass(frozen=True)
class Host:
    filter: int  # input slots
    bias: int
    out_axis: int  # the filter axis of output channels


HOSTS = {
    "CONV_2D": Host(1, 2, 0),  # filter OHWI
    "DEPTHWISE_CONV_2D": Host(1, 2, 3),  # filter [1, kh, kw, cout]
    "TRANSPOSE_CONV": Host(1, 3, 0),  # inputs (output_shape, filter OHWI, x, bias)
    "FULLY_CONNECTED": Host(1, 2, 0),  # weights [out, in]
}
# op: the constant's slots (a constant on the left of SUB / DIV is not per-channel arithmetic)
ARITHMETIC = {"MUL": (0, 1), "DIV": (1,), "ADD": (0, 1), "SUB": (1,)}


def fold_batch_norm(graph: Graph) -> bool:
    return rewrite_all(graph, _fold)


def _fold(graph: Graph, node: Node, uses: Uses) -> bool:
    if node.op not in ARITHMETIC or len(node.inputs) != 2:
        return False
    found = constant_operand(graph, node, ARITHMETIC[node.op])
    if found is None:
        return False
    slot, constant = found
    y = node.inputs[1 - slot]
    host = uses.producer(y)
    if host is None or host.op not in HOSTS or activation(host) or uses.sole_reader(y) is not node:
        return False
    spec = HOSTS[host.op]
    weights = graph.constant(host.inputs[spec.filter])
    bias_name = host.inputs[spec.bias] if len(host.inputs) > spec.bias else None
    bias = graph.constant(bias_name)
    if weights is None or weights.dtype.kind != "f" or not is_float(graph, y):
        return False
    if bias_name is not None and bias is None:
        return False
    channels, dtype = weights.shape[spec.out_axis], weights.dtype
    values = _per_channel(constant, channels, graph.tensors[y].shape)
    if values is None or (node.op == "DIV" and not np.all(values)):
        return False

    if node.op in ("MUL", "DIV"):
        scale = values if node.op == "MUL" else 1.0 / values
        along = [1] * weights.ndim
        along[spec.out_axis] = channels
        weights = weights * scale.reshape(along)
        bias = None if bias is None else bias * scale
    else:
        shift = values if node.op == "ADD" else -values
        bias = shift if bias is None else bias + shift
    host.inputs[spec.filter] = graph.add_constant(
        f"{host.inputs[spec.filter]}_folded", weights.astype(dtype)
    )
    if bias is not None:
        host.inputs += [None] * (spec.bias + 1 - len(host.inputs))
        host.inputs[spec.bias] = graph.add_constant(f"{y}_bias", bias.astype(dtype))
    host.options[ACTIVATION] = activation(node)
    take_over(graph, host, node)
    return True


def _per_channel(
    constant: np.ndarray, channels: int, out_shape: tuple[int | None, ...]
) -> np.ndarray | None:
    """The constant as `channels` float64 values, when it broadcasts along the last axis only
    (a scalar, or [..., 1, C]) without changing the output's shape."""
    shape = constant.shape
    if len(shape) > len(out_shape) or out_shape[-1] != channels:
        return None
    if any(d != 1 for d in shape[:-1]) or (shape and shape[-1] not in (1, channels)):
        return None
    return np.broadcast_to(constant.astype(np.float64).reshape(-1), (channels,))

"""float16 mode: constant weights stored as float16, each behind a DEQUANTIZE to float32.

As TFLite's float16 quantization (tools/optimize/quantize_weights.cc, QuantizeWeightsFloat16)
does: every float32 constant that a node reads, whatever its size (biases too), becomes a
float16 constant (values clamped to float16's finite range) and one DEQUANTIZE node, placed
before its first reader, makes the float32 tensor every reader then takes.  The file holds
about half the bytes; runtimes dequantize once (LiteRT at prepare, ours at allocate).
"""

from __future__ import annotations

import numpy as np

from emberlite.converter import ir

_F32 = np.dtype(np.float32)
_F16_MAX = float(np.finfo(np.float16).max)


def to_float16(graph: ir.Graph) -> int:
    """Rewrite `graph` in place; returns how many constants now hold float16."""
    dequantized: dict[str, str] = {}  # float32 constant -> the DEQUANTIZE output replacing it
    halves: dict[int, np.ndarray] = {}  # id(float32 array) -> its float16 copy (keeps sharing)
    outputs = set(graph.outputs)
    nodes: list[ir.Node] = []
    for node in graph.nodes:
        for name in node.inputs:
            if name is None or name in dequantized or name in outputs:
                continue
            tensor = graph.tensors[name]
            if not tensor.is_constant or tensor.dtype != _F32:
                continue
            key = id(tensor.data)
            if key not in halves:
                halves[key] = np.clip(tensor.data, -_F16_MAX, _F16_MAX).astype(np.float16)
            tensor.data, tensor.dtype = halves[key], np.dtype(np.float16)
            out = graph.add_tensor(f"{name}_dequantize", tensor.shape, _F32)
            nodes.append(ir.Node("DEQUANTIZE", [name], [out], name=f"dequantize {name}"))
            dequantized[name] = out
        node.inputs = [dequantized.get(n, n) if n is not None else None for n in node.inputs]
        nodes.append(node)
    graph.nodes = nodes
    return len(dequantized)

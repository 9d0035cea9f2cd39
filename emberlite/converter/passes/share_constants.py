"""share_constants: identical constants (dtype, shape, bytes, quantization) become one tensor."""

from __future__ import annotations

import hashlib

from emberlite.converter.ir import Graph


def share_constants(graph: Graph) -> bool:
    outputs = set(graph.outputs)
    alike: dict[tuple, list[str]] = {}  # constants of one dtype, shape and quantization
    for name, tensor in graph.tensors.items():
        if tensor.is_constant and name not in outputs:
            key = (tensor.dtype.str, tensor.shape, repr(tensor.quantization))
            alike.setdefault(key, []).append(name)
    merged = False
    for names in alike.values():
        if len(names) < 2:
            continue  # nothing to share with: its bytes need no hashing
        first: dict[bytes, str] = {}
        for name in names:
            data = graph.tensors[name].data
            kept = first.setdefault(hashlib.blake2b(data.tobytes(), digest_size=16).digest(), name)
            if kept != name:
                graph.replace_uses(name, kept)
                del graph.tensors[name]
                merged = True
    return merged

"""TFLite's tensor detail dicts (get_input_details and friends)."""

from __future__ import annotations

from typing import Any

import numpy as np

from emberlite.interpreter.executor import SubgraphExecutor
from emberlite.schema import Tensor


def tensor_details(index: int, t: Tensor, executor: SubgraphExecutor) -> dict[str, Any]:
    """TFLite's tensor detail dict for tensor `index` of the executor's subgraph."""
    info = executor.infos[index] if executor.allocated else None
    shape = info.shape if info is not None else executor.input_shapes.get(index, t.shape)
    q = t.quantization
    scales = np.array(q.scale if q else (), np.float32)
    zero_points = np.array(q.zero_point if q else (), np.int32)
    return {
        "name": t.name,
        "index": index,
        "shape": np.array(shape, np.int32),
        "shape_signature": np.array(
            t.shape_signature if t.shape_signature is not None else t.shape, np.int32
        ),
        "dtype": t.numpy_dtype.type if t.numpy_dtype is not None else np.object_,
        "quantization": (float(scales[0]), int(zero_points[0])) if len(scales) == 1 else (0.0, 0),
        "quantization_parameters": {
            "scales": scales,
            "zero_points": zero_points,
            "quantized_dimension": q.quantized_dimension if q else 0,
            "block_size": 0,  # LiteRT reports it; blockwise quantization is not supported
        },
        "sparsity_parameters": _sparsity_details(t),
    }


def _sparsity_details(t: Tensor) -> dict[str, Any]:
    s = t.sparsity
    if s is None:
        return {}
    dims = []
    for d in s.dim_metadata:
        if d.format == 0:
            dims.append({"format": 0, "dense_size": d.dense_size})
        else:
            dims.append(
                {
                    "format": 1,
                    "array_segments": np.array(d.array_segments or (), np.int32),
                    "array_indices": np.array(d.array_indices or (), np.int32),
                }
            )
    return {
        "traversal_order": np.array(s.traversal_order, np.int32),
        "block_map": np.array(s.block_map, np.int32),
        "dim_metadata": dims,
    }

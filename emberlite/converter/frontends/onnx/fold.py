"""Nodes whose inputs are all known at convert time run now, so that shape arithmetic
(Shape -> Gather -> Concat -> Reshape) and constant subgraphs leave only constants behind.

Plain arrays run through onnx's reference implementation (NumPy, the spec's semantics, every
op).  Shape vectors holding run-time sizes (`Dim`s, e.g. an unknown batch) go through the few
ops PyTorch's exports use on shapes, on NumPy object arrays.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from emberlite.converter.frontends.onnx.context import OnnxNode, Unsupported
from emberlite.converter.frontends.onnx.loader import DEFAULT_DOMAINS

# Folding these would freeze one draw into the model.
RANDOM = {
    "RandomNormal",
    "RandomUniform",
    "RandomNormalLike",
    "RandomUniformLike",
    "Multinomial",
    "Bernoulli",
}


def fold(n: OnnxNode) -> bool:
    """Compute `n` now when all its inputs are known; True when it did."""
    given = [v for v in n.inputs if v is not None]
    if n.op in RANDOM or not all(v.known for v in given) or n.proto.domain not in DEFAULT_DOMAINS:
        return False
    if n.op == "Constant" and "value" in n.attrs:  # the common case, without the evaluator
        results = [numpy_helper.to_array(n.attrs["value"])]
    elif any(v.symbolic for v in given):
        if n.op not in SYMBOLIC:
            raise Unsupported("its inputs hold run-time sizes, which it cannot compute with")
        results = [SYMBOLIC[n.op](n, [None if v is None else v.data for v in n.inputs])]
    else:
        results = evaluate(n)
    for i, data in enumerate(results):
        if n.proto.output[i]:
            n.set_known(i, data)
    return True


def evaluate(n: OnnxNode) -> list[np.ndarray]:
    """Run `n` alone with onnx's reference implementation."""
    node = onnx.NodeProto()
    node.CopyFrom(n.proto)
    del node.input[:], node.output[:]
    node.input.extend(f"in{i}" if v is not None else "" for i, v in enumerate(n.inputs))
    node.output.extend(f"out{i}" if name else "" for i, name in enumerate(n.proto.output))
    feeds = {f"in{i}": v.data for i, v in enumerate(n.inputs) if v is not None}
    inputs = [
        helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(data.dtype), data.shape)
        for name, data in feeds.items()
    ]
    outputs = [helper.make_empty_tensor_value_info(name) for name in node.output if name]
    model = helper.make_model(
        helper.make_graph([node], "fold", inputs, outputs),
        opset_imports=n.lowering.model.opset_import,
        ir_version=n.lowering.model.ir_version,
    )
    try:
        results = ReferenceEvaluator(model).run(None, feeds)
    except Exception as e:  # the reference raises whatever NumPy raises
        raise Unsupported(f"cannot be computed at convert time: {e}") from e
    found = iter(results)
    return [np.asarray(next(found)) if name else np.zeros(0) for name in n.proto.output]


# -- shape vectors with run-time sizes ----------------------------------------------------------

Symbolic = Callable[[OnnxNode, list[np.ndarray | None]], np.ndarray]


def _axes(n: OnnxNode, data: list[np.ndarray | None], i: int) -> list[int] | None:
    """Axes from input `i` (opset 13+) or the "axes" attribute (older)."""
    if i < len(data) and data[i] is not None:
        return [int(a) for a in data[i].reshape(-1)]
    axes = n.attr("axes")
    return None if axes is None else [int(a) for a in axes]


def _gather(n: OnnxNode, data: list) -> np.ndarray:
    return np.take(data[0], data[1].astype(np.int64), axis=n.attr("axis", 0))


def _unsqueeze(n: OnnxNode, data: list) -> np.ndarray:
    rank = data[0].ndim + len(_axes(n, data, 1))
    return np.expand_dims(data[0], tuple(sorted(a % rank for a in _axes(n, data, 1))))


def _squeeze(n: OnnxNode, data: list) -> np.ndarray:
    axes = _axes(n, data, 1)
    return np.squeeze(data[0], None if axes is None else tuple(axes))


def _concat(n: OnnxNode, data: list) -> np.ndarray:
    return np.concatenate([d.astype(object) for d in data], axis=n.attr("axis"))


def _slice(n: OnnxNode, data: list) -> np.ndarray:
    starts, ends = data[1].reshape(-1), data[2].reshape(-1)
    axes = _axes(n, data, 3) or list(range(len(starts)))
    steps = data[4].reshape(-1) if len(data) > 4 and data[4] is not None else [1] * len(starts)
    index = [slice(None)] * data[0].ndim
    for a, start, end, step in zip(axes, starts, ends, steps, strict=True):
        index[a] = slice(int(start), int(end), int(step))
    return data[0][tuple(index)]


SYMBOLIC: dict[str, Symbolic] = {
    "Identity": lambda n, data: data[0],
    "Cast": lambda n, data: data[0],  # sizes are ints in every int type
    "Shape": lambda n, data: np.array(data[0].shape, np.int64),
    "Gather": _gather,
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Concat": _concat,
    "Slice": _slice,
    "Reshape": lambda n, data: data[0].reshape(data[1].astype(np.int64)),
}

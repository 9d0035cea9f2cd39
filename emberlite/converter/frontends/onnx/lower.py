"""The walk: ONNX graph inputs, then each node in order through its lowering (or computed
now when all its inputs are known), then the graph outputs in ONNX's own axis order.

A node that cannot be lowered is recorded and its outputs marked broken; the walk goes on so
that one ConversionError lists every unsupported op and problem in the model.
"""

from __future__ import annotations

from emberlite.converter.frontends.onnx import layout
from emberlite.converter.frontends.onnx.context import (
    Lowering,
    OnnxNode,
    Unsupported,
    Value,
    initializer_value,
    onnx_dims,
    onnx_dtype,
)
from emberlite.converter.frontends.onnx.fold import fold
from emberlite.converter.frontends.onnx.loader import DEFAULT_DOMAINS, OnnxModel
from emberlite.converter.frontends.onnx.ops import OPS
from emberlite.converter.ir import ConversionError, Graph


def lower(model: OnnxModel, *, channels_last_inputs: bool = False) -> Graph:
    """The IR graph of `model`; raises one ConversionError listing every problem."""
    lowering = Lowering(model.proto)
    graph = model.proto.graph
    problems: list[str] = []
    broken: set[str] = set()  # what nodes that failed would have made
    for tensor in graph.initializer:
        try:
            lowering.values[tensor.name] = initializer_value(tensor)
        except Exception as e:  # data that does not fit its dims or type
            problems.append(f"initializer {tensor.name!r} cannot be read: {e}")
            broken.add(tensor.name)
    for value in graph.input:
        if value.name not in lowering.values:
            problem = _graph_input(lowering, value, channels_last_inputs)
            if problem:
                problems.append(problem)
                broken.add(value.name)
    for i, proto in enumerate(graph.node):
        n = OnnxNode(lowering, proto, i)
        lowering.where = n.name
        blocked = bool(broken.intersection(proto.input))
        problem = _lower_node(n, model, blocked)
        if problem:
            problems.append(problem)
        if problem or blocked:
            broken.update(proto.output)
    lowering.where = "graph output"
    for value in graph.output:
        if value.name not in broken:
            found = lowering.values[value.name]
            try:
                lowering.graph.outputs.append(lowering.ir(found, layout.identity(found.rank)))
            except Unsupported as e:
                problems.append(f"graph output {value.name!r}: {e}")
            lowering.graph.output_names.append(value.name)
    if problems:
        count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
        raise ConversionError(f"{model.path}: cannot convert ({count})", problems)
    lowering.graph.remove_unused_tensors()
    return lowering.graph


def _lower_node(n: OnnxNode, model: OnnxModel, blocked: bool) -> str | None:
    """Lower (or fold) one node; the problem it has, if any.  A node reading what failed
    before is only checked for being supported."""
    known_op = n.proto.domain in DEFAULT_DOMAINS and n.op in OPS
    if blocked:
        return None if known_op else _unsupported(n, model)
    try:
        if not fold(n):
            if not known_op:
                return _unsupported(n, model)
            OPS[n.op](n)
    except Unsupported as e:
        return f"{n.op} node {n.name!r} (opset {model.opset_text}): {e}"
    return None


def _graph_input(lowering: Lowering, value, channels_last: bool) -> str | None:
    dims, dtype = onnx_dims(value.type, value.name), onnx_dtype(value.type)
    if dims is None or dtype is None:
        return f"graph input {value.name!r} has no tensor type with a shape"
    perm = (
        layout.channels_last(4) if channels_last and len(dims) == 4 else layout.identity(len(dims))
    )
    tensor = lowering.add_tensor(value.name, layout.ir_shape(dims, perm), dtype)
    lowering.runtime(Value(value.name, dims, dtype), tensor, perm)
    lowering.graph.inputs.append(tensor)
    lowering.graph.input_names.append(value.name)
    return None


def _unsupported(n: OnnxNode, model: OnnxModel) -> str:
    domain = n.proto.domain
    op = f"{domain}.{n.op}" if domain not in DEFAULT_DOMAINS else n.op
    opset = model.opset_text if domain in DEFAULT_DOMAINS else _domain_opset(model, domain)
    return f"unsupported op {op} (node {n.name!r}, opset {opset})"


def _domain_opset(model: OnnxModel, domain: str) -> str:
    versions = [e.version for e in model.proto.opset_import if e.domain == domain]
    return str(versions[0]) if versions else "unknown"

"""Reading an .onnx file: parsed, checked, upgraded to opset 13 or later, shapes inferred.

Each stage lists every problem it finds before giving up, in one ConversionError: a corrupt
file; tensors read but never made, made twice, or nodes in a cycle (found here, all of them,
before onnx.checker, which stops at the first, adds its own message); shapes that disagree
(node by node, once whole-model inference has failed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import onnx
from onnx import shape_inference, version_converter

from emberlite.converter.ir import ConversionError

MIN_OPSET = 13  # what the lowerings read; older models are upgraded by onnx's own converter
# Initializers up to this many elements stay for shape inference (shapes, axes, scales).
SMALL_INITIALIZER = 64
DEFAULT_DOMAINS = ("", "ai.onnx")


@dataclass(frozen=True)
class OnnxModel:
    path: Path
    proto: onnx.ModelProto  # opset >= MIN_OPSET, shapes inferred into value_info
    opset: int
    original_opset: int

    @property
    def opset_text(self) -> str:
        if self.opset == self.original_opset:
            return str(self.opset)
        return f"{self.opset}, upgraded from {self.original_opset}"


def read(path: Path) -> OnnxModel:
    try:
        model = onnx.load(str(path))
    except Exception as e:  # protobuf's DecodeError, OSError, external data errors
        raise ConversionError(
            f"{path}: not a readable ONNX model", [f"{type(e).__name__}: {e}"]
        ) from e
    problems = structure_problems(model.graph)
    try:
        onnx.checker.check_model(_without_weights(model))
    except onnx.checker.ValidationError as e:
        problems.append(f"onnx.checker: {str(e).strip()}")
    if problems:
        raise ConversionError(f"{path}: the ONNX model is invalid", problems)
    original = opset_of(model)
    if original < MIN_OPSET:
        try:
            model = version_converter.convert_version(model, MIN_OPSET)
        except Exception as e:  # the converter raises RuntimeError / its own C++ errors
            raise ConversionError(
                f"{path}: cannot upgrade opset {original} to {MIN_OPSET}", [str(e).strip()]
            ) from e
    inferred = infer_shapes(_without_weights(model), path)
    model.graph.value_info.extend(inferred.graph.value_info)
    return OnnxModel(path, model, opset_of(model), original)


def _without_weights(model: onnx.ModelProto) -> onnx.ModelProto:
    """`model` with its large initializers as typed graph inputs: what the checker and shape
    inference need to see, without serializing megabytes of weights for them (twice)."""
    graph = model.graph
    large = [t for t in graph.initializer if math.prod(t.dims) > SMALL_INITIALIZER]
    if not large:
        return model
    named = {t.name for t in large}
    given = {v.name for v in graph.input}
    as_inputs = [
        onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
        for t in large
        if t.name not in given
    ]
    light = onnx.helper.make_graph(
        graph.node,
        graph.name,
        [*graph.input, *as_inputs],
        graph.output,
        [t for t in graph.initializer if t.name not in named],
        value_info=graph.value_info,
    )
    return onnx.helper.make_model(
        light, opset_imports=model.opset_import, ir_version=model.ir_version
    )


def opset_of(model: onnx.ModelProto) -> int:
    for entry in model.opset_import:
        if entry.domain in DEFAULT_DOMAINS:
            return int(entry.version)
    return 1


def _label(index: int, node: onnx.NodeProto) -> str:
    return f"node {index} {node.op_type} ({node.name or 'unnamed'})"


def structure_problems(graph: onnx.GraphProto) -> list[str]:
    """Dangling names, tensors made twice, cycles; nodes out of order (but acyclic) are put
    in order in place, as ONNX requires."""
    problems = []
    made: dict[str, str] = {v.name: "a graph input" for v in graph.input}
    made.update((t.name, "an initializer") for t in graph.initializer if t.name not in made)
    maker: dict[str, int] = {}
    for i, node in enumerate(graph.node):
        for name in filter(None, node.output):
            if name in made:
                problems.append(f"{_label(i, node)} makes {name!r}, already made by {made[name]}")
            made[name], maker[name] = _label(i, node), i
    for i, node in enumerate(graph.node):
        for name in filter(None, node.input):
            if name not in made:
                problems.append(f"{_label(i, node)} reads {name!r}, which nothing makes")
    for v in graph.output:
        if v.name not in made:
            problems.append(f"graph output {v.name!r} is never made")
    order = _topological(graph, maker)
    if len(order) < len(graph.node):
        stuck = [_label(i, n) for i, n in enumerate(graph.node) if i not in set(order)]
        problems.append(f"a cycle: these nodes can never run (in or after it): {', '.join(stuck)}")
    elif not problems and order != sorted(order):
        nodes = [graph.node[i] for i in order]
        copies = [onnx.NodeProto() for _ in nodes]
        for copy, node in zip(copies, nodes, strict=True):
            copy.CopyFrom(node)
        del graph.node[:]
        graph.node.extend(copies)
    return problems


def _topological(graph: onnx.GraphProto, maker: dict[str, int]) -> list[int]:
    """Node indices in an order where each comes after those it reads (Kahn's algorithm,
    keeping the file's order where it is free to); short of all nodes when there is a cycle."""
    waits = [{maker[n] for n in node.input if n in maker} for node in graph.node]
    readers: dict[int, list[int]] = {}
    for i, deps in enumerate(waits):
        for d in deps:
            readers.setdefault(d, []).append(i)
    ready = [i for i, deps in enumerate(waits) if not deps]
    order = []
    while ready:
        ready.sort(reverse=True)
        i = ready.pop()
        order.append(i)
        for r in readers.get(i, []):
            waits[r].discard(i)
            if not waits[r]:
                ready.append(r)
    return order


def infer_shapes(model: onnx.ModelProto, path: Path) -> onnx.ModelProto:
    """The model with every tensor's type and shape in value_info (strict: a disagreement is
    an error), shape arithmetic propagated so that Reshape outputs have shapes."""
    try:
        return shape_inference.infer_shapes(
            model, check_type=True, strict_mode=True, data_prop=True
        )
    except (shape_inference.InferenceError, onnx.checker.ValidationError) as e:
        problems = node_shape_problems(model) or [str(e).strip()]
        raise ConversionError(f"{path}: shapes in the ONNX model do not agree", problems) from e


def node_shape_problems(model: onnx.ModelProto) -> list[str]:
    """Every node whose own shape inference fails, given its inputs' (declared or inferred)
    types."""
    loose = shape_inference.infer_shapes(model)
    graph = loose.graph
    types = {v.name: v.type for v in (*graph.input, *graph.value_info, *graph.output)}
    for t in graph.initializer:
        types.setdefault(t.name, onnx.helper.make_tensor_type_proto(t.data_type, t.dims))
    opsets = {e.domain or "": e.version for e in model.opset_import}
    problems = []
    for i, node in enumerate(graph.node):
        try:
            schema = onnx.defs.get_schema(node.op_type, opsets.get(node.domain, 1), node.domain)
            shape_inference.infer_node_outputs(
                schema,
                node,
                {n: types[n] for n in node.input if n in types},
                opset_imports=list(model.opset_import),
            )
        except onnx.defs.SchemaError:
            continue  # an unknown op: the front end reports it
        except Exception as e:  # InferenceError and the C++ checker's errors
            problems.append(f"{_label(i, node)}: {str(e).strip()}")
    return problems

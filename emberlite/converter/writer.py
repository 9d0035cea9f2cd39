"""The converter's last stage: IR Graph -> `emberlite.schema.Model` -> .tflite bytes.

What it adds to the graph, as TensorFlow's converter writes it:
- operator codes, one per (op, version), the version from the features each node uses
  (op_versions.py);
- each node's options table complete: the node's fields over the schema's defaults, and the
  fields TF always fills (strides 1, output types and counts read off the node's tensors);
- unknown dims (None) as 1 in `shape` and -1 in `shape_signature`;
- one buffer per constant array (tensors holding the same array share it);
- a zero bias for a float CONV_2D / DEPTHWISE_CONV_2D without one (LiteRT's float kernels
  need it; TF's converter always writes one);
- a SignatureDef with the graph's signature key and input/output names, the subgraph "main";
- metadata: "min_runtime_version" (16 bytes, NUL-padded), "producer" ("emberlite X.Y.Z"),
  then every `graph.metadata` entry (labels, normalization) under its own name.
Everything the writer cannot express is collected and raised as one ConversionError.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from emberlite import __version__
from emberlite.converter import ir
from emberlite.converter.op_versions import (
    OpSignature,
    TensorSig,
    min_runtime_version,
    op_version,
    options_kind,
)
from emberlite.schema import (
    Buffer,
    BuiltinOperator,
    Metadata,
    Model,
    Operator,
    OperatorCode,
    Options,
    SignatureDef,
    SubGraph,
    Tensor,
    TensorMap,
    write_model,
)
from emberlite.schema import model_generated as fb
from emberlite.schema.reader import snake_case
from emberlite.schema.types import NUMPY_DTYPES

PRODUCER = f"emberlite {__version__}"
SUBGRAPH_NAME = "main"
RUNTIME_VERSION_BYTES = 16  # TFLite's fixed size of the "min_runtime_version" buffer
TENSOR_TYPES = {dtype: code for code, dtype in NUMPY_DTYPES.items()}
# Fields whose schema default (0) is never what a model means.
_UNIT_FIELDS = ("stride_w", "stride_h", "stride_d")
# Float kernels of LiteRT that need their bias input (2): TF's converter writes zeros for it.
_BIAS_REQUIRED = ("CONV_2D", "DEPTHWISE_CONV_2D")


def write(graph: ir.Graph) -> bytes:
    """The .tflite bytes of `graph`."""
    return write_model(to_model(graph))


def to_model(graph: ir.Graph) -> Model:
    """`graph` as the schema's object model (raises ConversionError listing every problem)."""
    graph.validate("cannot write an inconsistent graph")
    return _ModelBuilder(graph).build()


@functools.cache
def _option_defaults(kind: str) -> tuple[tuple[str, Any], ...]:
    """The fields of options table `kind` with the schema's defaults, in field order."""
    return tuple((snake_case(k), v) for k, v in vars(getattr(fb, kind + "T")()).items())


def _field_value(value: Any) -> Any:
    """An options value as the schema writer takes it: ints, floats, bools, tuples."""
    if isinstance(value, np.ndarray | list | tuple):
        return tuple(_field_value(v) for v in value)
    if isinstance(value, np.generic):
        return value.item()
    return value


class _ModelBuilder:
    def __init__(self, graph: ir.Graph):
        self.graph = graph
        self.problems: list[str] = []
        self.index: dict[str, int] = {}
        self.tensors: list[Tensor] = []
        self.buffers: list[Buffer] = [Buffer()]  # buffer 0: the empty sentinel
        self.buffer_of: dict[int, int] = {}  # id(constant array) -> buffer index
        self.codes: dict[tuple[str, int], int] = {}  # (op, version) -> operator code index
        self.zero_biases: dict[int, str] = {}  # channels -> name of a zero bias tensor
        self.extra: dict[str, ir.Tensor] = {}  # tensors the writer adds (zero biases)

    def build(self) -> Model:
        g = self.graph
        used = {*g.inputs, *g.outputs}
        for node in g.nodes:
            used.update(n for n in node.inputs if n is not None)
            used.update(node.outputs)
        for name, tensor in g.tensors.items():
            if name in used:
                self.index[name] = len(self.tensors)
                self.tensors.append(self.tensor(tensor))
        operators = tuple(self.operator(i, node) for i, node in enumerate(g.nodes))
        signature = self.signature()
        metadata = self.metadata()
        if self.problems:
            raise ir.ConversionError(
                "the graph cannot be written as a .tflite model", self.problems
            )
        subgraph = SubGraph(
            tensors=tuple(self.tensors),
            inputs=tuple(self.index[n] for n in g.inputs),
            outputs=tuple(self.index[n] for n in g.outputs),
            operators=operators,
            name=SUBGRAPH_NAME,
        )
        buffers = self.buffers + [Buffer(memoryview(data)) for _, data in metadata]
        first = len(self.buffers)
        return Model(
            operator_codes=tuple(
                OperatorCode.for_builtin(BuiltinOperator[op], version) for op, version in self.codes
            ),
            subgraphs=(subgraph,),
            description=PRODUCER,
            buffers=tuple(buffers),
            metadata=tuple(Metadata(name, first + i) for i, (name, _) in enumerate(metadata)),
            signature_defs=(signature,),
        )

    # -- tensors ----------------------------------------------------------------------------

    def tensor(self, t: ir.Tensor) -> Tensor:
        code = TENSOR_TYPES.get(t.dtype)
        if code is None:
            self.problems.append(f"tensor {t.name!r} has dtype {t.dtype}, which TFLite lacks")
            code = 0
        dynamic = None in t.shape
        return Tensor(
            name=t.name,
            shape=tuple(1 if d is None else d for d in t.shape),
            type=code,
            buffer=self.buffer(t.data) if t.is_constant else 0,
            quantization=t.quantization,
            shape_signature=tuple(-1 if d is None else d for d in t.shape) if dynamic else None,
            has_rank=True,
        )

    def buffer(self, data: np.ndarray) -> int:
        key = id(data)
        if key not in self.buffer_of:
            little = np.ascontiguousarray(data, dtype=data.dtype.newbyteorder("<"))
            self.buffers.append(Buffer(memoryview(little.reshape(-1).view(np.uint8))))
            self.buffer_of[key] = len(self.buffers) - 1
        return self.buffer_of[key]

    # -- operators --------------------------------------------------------------------------

    def operator(self, i: int, node: ir.Node) -> Operator:
        where = f"node {i} {node.op} ({node.name})"
        if node.op not in BuiltinOperator.__members__ or node.op == "CUSTOM":
            self.problems.append(f"{where}: {node.op!r} is not a TFLite builtin op")
            return Operator(0, (), ())
        options, fields = self.options(where, node)
        inputs = self.with_bias(node) if node.op in _BIAS_REQUIRED else node.inputs
        sig = OpSignature(
            node.op,
            tuple(None if n is None else self.sig(n) for n in inputs),
            tuple(self.sig(n) for n in node.outputs),
            fields,
        )
        code = self.codes.setdefault((node.op, op_version(sig)), len(self.codes))
        return Operator(
            opcode_index=code,
            inputs=tuple(-1 if n is None else self.index[n] for n in inputs),
            outputs=tuple(self.index[n] for n in node.outputs),
            builtin_options=options,
        )

    def sig(self, name: str) -> TensorSig:
        t = self.graph.tensors.get(name) or self.extra[name]
        return TensorSig(t.dtype, t.shape)

    def with_bias(self, node: ir.Node) -> list[str | None]:
        """The inputs of a float convolution, a zero bias in place of an omitted one."""
        inputs = list(node.inputs)
        out = self.graph.tensors[node.outputs[0]]
        channels = out.shape[-1]
        has_bias = len(inputs) > 2 and inputs[2] is not None
        if has_bias or channels is None or not np.issubdtype(out.dtype, np.floating):
            return inputs
        if channels not in self.zero_biases:
            name = self.graph.unique_name(f"zero_bias_{channels}")
            zeros = np.zeros(channels, out.dtype)
            self.extra[name] = ir.Tensor(name, zeros.shape, zeros.dtype, zeros)
            self.index[name] = len(self.tensors)
            self.tensors.append(self.tensor(self.extra[name]))
            self.zero_biases[channels] = name
        return [*inputs[:2], self.zero_biases[channels]]

    def options(self, where: str, node: ir.Node) -> tuple[Options | None, dict[str, Any]]:
        kind = options_kind(node.op)
        if kind is None:
            if node.options:
                self.problems.append(
                    f"{where}: {node.op} has no options table, but got {sorted(node.options)}"
                )
            return None, {}
        fields = dict(_option_defaults(kind))
        unknown = sorted(set(node.options) - set(fields))
        if unknown:
            self.problems.append(f"{where}: {kind} has no field {', '.join(map(repr, unknown))}")
        fields.update(self.implied(node, fields))
        fields.update((k, _field_value(v)) for k, v in node.options.items() if k in fields)
        return Options(kind, tuple(fields.items())), fields

    def implied(self, node: ir.Node, fields: dict[str, Any]) -> dict[str, Any]:
        """Fields TF's converter always writes, as the node's tensors determine them."""
        tensors = self.graph.tensors
        first_in = tensors[node.inputs[0]] if node.inputs and node.inputs[0] else None
        first_out = tensors[node.outputs[0]] if node.outputs else None
        implied: dict[str, Any] = dict.fromkeys((f for f in _UNIT_FIELDS if f in fields), 1)
        if "depth_multiplier" in fields and first_in is not None and first_out is not None:
            cin, cout = first_in.shape[-1], first_out.shape[-1]
            implied["depth_multiplier"] = cout // cin if cin and cout else 1
        for field, tensor in (
            ("output_type", first_out),  # ARG_MAX, ARG_MIN
            ("out_type", first_out),  # SHAPE
            ("in_data_type", first_in),  # CAST
            ("out_data_type", first_out),  # CAST
        ):
            if field in fields and tensor is not None and tensor.dtype in TENSOR_TYPES:
                implied[field] = int(TENSOR_TYPES[tensor.dtype])
        for field, count in (
            ("num_splits", len(node.outputs)),  # SPLIT, SPLIT_V
            ("num", len(node.outputs)),  # UNPACK
            ("values_count", len(node.inputs)),  # PACK
        ):
            if field in fields:
                implied[field] = count
        return implied

    # -- signature and metadata -------------------------------------------------------------

    def signature(self) -> SignatureDef:
        g = self.graph

        def maps(what: str, tensors: list[str], names: list[str]) -> tuple[TensorMap, ...]:
            if names and len(names) != len(tensors):
                self.problems.append(
                    f"{len(names)} signature {what} names for {len(tensors)} graph {what}"
                )
            return tuple(
                TensorMap(name, self.index.get(t, 0))
                for t, name in zip(tensors, names or tensors, strict=False)
            )

        return SignatureDef(
            g.signature_key,
            inputs=maps("input", g.inputs, g.input_names),
            outputs=maps("output", g.outputs, g.output_names),
        )

    def metadata(self) -> list[tuple[str, bytes]]:
        runtime = min_runtime_version((op, v) for op, v in self.codes)
        entries = [
            ("min_runtime_version", runtime.encode().ljust(RUNTIME_VERSION_BYTES, b"\0")),
            ("producer", PRODUCER.encode()),
        ]
        reserved = {name for name, _ in entries}
        for name, data in self.graph.metadata.items():
            if name in reserved:
                self.problems.append(f"metadata {name!r} is written by the converter itself")
            entries.append((name, bytes(data)))
        return entries

"""The state of one ONNX -> IR lowering: what each ONNX value is, and the helpers ops use.

Every ONNX value is a `Value`: its ONNX dims and dtype, and either its data (known at
convert time: an initializer, a Constant, anything computed from those, or a shape) or the IR
tensor holding it at run time together with that tensor's axis order (layout.py).  An op's
lowering reads its inputs and sets its outputs through `OnnxNode`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference

from emberlite.converter.frontends.onnx import layout
from emberlite.converter.frontends.onnx.layout import Dim, Dims, Perm
from emberlite.converter.ir import Graph


class Unsupported(Exception):
    """This node cannot be lowered; the message says why (recorded, the walk goes on)."""


@dataclass
class Value:
    name: str  # the ONNX name
    dims: Dims  # in ONNX's axis order
    dtype: np.dtype
    tensor: str | None = None  # the IR tensor holding it at run time
    perm: Perm = ()  # IR axis i of `tensor` holds ONNX axis perm[i]
    # Its value when known at convert time, in ONNX order.  dtype object: a shape vector
    # holding `Dim`s (sizes known only at run time) beside ints.
    data: np.ndarray | None = None

    @property
    def rank(self) -> int:
        return len(self.dims)

    @property
    def known(self) -> bool:
        return self.data is not None

    @property
    def symbolic(self) -> bool:
        return self.data is not None and self.data.dtype == object


def known_value(name: str, data: np.ndarray) -> Value:
    """A Value known at convert time; a shape vector without Dims becomes int64."""
    if data.dtype == object and not any(isinstance(d, Dim) for d in data.reshape(-1)):
        data = data.astype(np.int64)
    dtype = np.dtype(np.int64) if data.dtype == object else data.dtype  # a shape's ONNX type
    return Value(name, tuple(data.shape), dtype, data=data)


def axis_of(axis: int, rank: int) -> int:
    """An ONNX axis attribute (negative: from the end) as a non-negative axis."""
    if not -rank <= axis < max(rank, 1):
        raise Unsupported(f"axis {axis} is out of range for rank {rank}")
    return axis % rank if rank else 0


def onnx_dims(type_proto: onnx.TypeProto, owner: str) -> Dims | None:
    """The dims of a tensor type (None when even the rank is unknown)."""
    tensor = type_proto.tensor_type
    if not tensor.HasField("shape"):
        return None
    dims: list[int | Dim] = []
    for axis, d in enumerate(tensor.shape.dim):
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value))
        else:
            dims.append(Dim(d.dim_param or f"{owner}[{axis}]"))
    return tuple(dims)


def onnx_dtype(type_proto: onnx.TypeProto) -> np.dtype | None:
    elem = type_proto.tensor_type.elem_type
    return np.dtype(helper.tensor_dtype_to_np_dtype(elem)) if elem else None


class Lowering:
    """The IR graph being built, the ONNX values seen so far, and the IR helpers."""

    def __init__(self, model: onnx.ModelProto):
        self.model = model
        self.graph = Graph()
        self.values: dict[str, Value] = {}
        self.types: dict[str, onnx.TypeProto] = {
            v.name: v.type
            for v in (*model.graph.input, *model.graph.value_info, *model.graph.output)
        }
        self.where = ""  # the node being lowered, to name IR nodes after it
        # IR tensors already made for a value in an order: (IR tensor or ONNX name, order)
        self._laid_out: dict[tuple, str] = {}

    # -- IR tensors -------------------------------------------------------------------------

    def add_tensor(self, name: str, shape: Any, dtype: Any) -> str:
        return self.graph.add_tensor(name, shape, dtype)

    def add_constant(self, name: str, array: Any, dtype: Any = None) -> str:
        return self.graph.add_constant(name, np.require(np.asarray(array, dtype), requirements="C"))

    def int32(self, name: str, values: Any) -> str:
        return self.add_constant(name, values, np.int32)

    def emit(self, op: str, inputs: list[str | None], outputs: list[str], **options: Any) -> None:
        self.graph.add_node(op, inputs, outputs, options, name=self.where)

    def runtime(self, value: Value, tensor: str, perm: Perm) -> Value:
        """`value` as held at run time by IR tensor `tensor` in order `perm`."""
        value.tensor, value.perm, value.data = tensor, perm, None
        self.values[value.name] = value
        return value

    def ir(self, value: Value, perm: Perm | None = None) -> str:
        """The IR tensor holding `value` in axis order `perm` (default: the one it has; ONNX's
        for constants): a constant laid out now, or a TRANSPOSE of the run-time tensor."""
        if value.known:
            return self._constant(value, layout.identity(value.rank) if perm is None else perm)
        assert value.tensor is not None
        if perm is None or perm == value.perm:
            return value.tensor
        key = (value.tensor, perm)
        if key not in self._laid_out:
            out = self.add_tensor(
                value.name + layout.suffix(perm), layout.ir_shape(value.dims, perm), value.dtype
            )
            moves = [value.perm.index(p) for p in perm]
            self.emit("TRANSPOSE", [value.tensor, self.int32(f"{out}_perm", moves)], [out])
            self._laid_out[key] = out
        return self._laid_out[key]

    def broadcast(self, value: Value, perm: Perm) -> str:
        """`value` as an operand of a broadcasting op whose output has ONNX rank len(perm)
        and IR order `perm`: aligned to the right in ONNX order, then laid out."""
        rank, lead = len(perm), len(perm) - value.rank
        if value.known:
            return self._constant(value, perm, aligned=True)
        inner = perm[lead:]
        if perm[:lead] == layout.identity(lead) and all(p >= lead for p in inner):
            return self.ir(value, tuple(p - lead for p in inner))
        return self.ir(self.expand_rank(value, rank), perm)

    def _constant(self, value: Value, perm: Perm, aligned: bool = False) -> str:
        """An IR constant of `value`'s data in order `perm`; `aligned`: as a broadcasting
        operand of rank len(perm) (leading size-1 axes dropped: TFLite aligns right too).
        Made once per value of the ONNX graph and arrangement."""
        if value.symbolic:
            raise Unsupported(f"{value.name!r} holds run-time sizes {value.data.tolist()}")
        key = (value.name, perm, aligned)
        registered = self.values.get(value.name) is value  # not a stand-in made by a lowering
        if registered and key in self._laid_out:
            return self._laid_out[key]
        data = value.data
        if aligned:
            data = data.reshape((1,) * (len(perm) - data.ndim) + data.shape)
        data = data.transpose(perm)
        while aligned and data.ndim and data.shape[0] == 1:
            data = data[0]
        name = self.add_constant(value.name + layout.suffix(perm), data)
        if registered:
            self._laid_out[key] = name
        return name

    def expand_rank(self, value: Value, rank: int) -> Value:
        """`value` with size-1 axes put in front up to `rank` (a RESHAPE in ONNX order)."""
        dims = (1,) * (rank - value.rank) + value.dims
        if value.known:
            return known_value(value.name, value.data.reshape(dims))
        out = self.add_tensor(
            f"{value.name}_rank{rank}", layout.ir_shape(dims, layout.identity(rank)), value.dtype
        )
        self.reshape(self.ir(value, layout.identity(value.rank)), out, dims)
        return Value(f"{value.name}_rank{rank}", dims, value.dtype, out, layout.identity(rank))

    def reshape(self, source: str, out: str, ir_dims: Dims) -> None:
        """RESHAPE `source` into `out` of IR dims `ir_dims` (one may be unknown)."""
        unknown = [d for d in ir_dims if not isinstance(d, int)]
        if len(unknown) > 1:
            raise Unsupported(f"a reshape to {list(ir_dims)} has more than one run-time size")
        shape = [d if isinstance(d, int) else -1 for d in ir_dims]
        self.emit("RESHAPE", [source, self.int32(f"{out}_shape", shape)], [out], new_shape=shape)


class OnnxNode:
    """One ONNX node while it is lowered: its attributes, input Values, and outputs."""

    def __init__(self, lowering: Lowering, proto: onnx.NodeProto, index: int):
        self.lowering = lowering
        self.proto = proto
        self.op = proto.op_type
        self.name = proto.name or f"{proto.op_type}_{index}"
        self.attrs = {a.name: helper.get_attribute_value(a) for a in proto.attribute}
        self.inputs: list[Value | None] = [
            lowering.values.get(n) if n else None for n in proto.input
        ]
        self._reinferred: dict[str, Dims | None] | None = None

    def attr(self, name: str, default: Any = None) -> Any:
        value = self.attrs.get(name, default)
        return value.decode() if isinstance(value, bytes) else value

    def input(self, i: int) -> Value:
        value = self.inputs[i] if i < len(self.inputs) else None
        if value is None:
            raise Unsupported(f"input {i} is missing")
        return value

    def optional(self, i: int) -> Value | None:
        return self.inputs[i] if i < len(self.inputs) else None

    def constant(self, i: int, what: str) -> np.ndarray | None:
        """The convert-time data of input `i` (None when the input is omitted)."""
        value = self.optional(i)
        if value is None:
            return None
        if not value.known:
            raise Unsupported(f"{what} ({value.name!r}) must be known at convert time")
        if value.symbolic:
            raise Unsupported(f"{what} ({value.name!r}) holds run-time sizes")
        return value.data

    def ints(self, i: int, attr: str, what: str) -> list[int] | None:
        """A list of ints from input `i` (opsets that moved it there) or attribute `attr`."""
        data = self.constant(i, what) if i < len(self.inputs) else None
        if data is not None:
            return [int(v) for v in data.reshape(-1)]
        value = self.attr(attr)
        return None if value is None else [int(v) for v in value]

    # -- outputs ----------------------------------------------------------------------------

    def out_dims(self, i: int = 0) -> Dims:
        """Output `i`'s dims: from shape inference over the whole model, or, where that left
        sizes it could not explain by the inputs' (it could not follow shape arithmetic that
        folded here), inferred again for this node from what is now known of its inputs."""
        name = self.proto.output[i]
        dims = self._inferred(name)
        if dims is None or self._unexplained(dims):
            dims = _merge(dims, self._infer_again().get(name))
        if dims is None:
            raise Unsupported(f"the shape of output {name!r} is unknown (shape inference)")
        return dims

    def _inferred(self, name: str) -> Dims | None:
        types = self.lowering.types
        return onnx_dims(types[name], name) if name in types else None

    def _unexplained(self, dims: Dims) -> bool:
        seen = {d for v in self.inputs if v is not None for d in v.dims}
        seen.update(d for v in self.inputs if v is not None and v.symbolic for d in v.data.flat)
        return any(isinstance(d, Dim) and d not in seen for d in dims)

    def _infer_again(self) -> dict[str, Dims | None]:
        """This node's output dims inferred from its input Values (data where known)."""
        if self._reinferred is not None:
            return self._reinferred
        types, data = {}, {}
        for name, value in zip(self.proto.input, self.inputs, strict=False):
            if value is None:
                continue
            shape = [d if isinstance(d, int) else d.name for d in value.dims]
            elem = helper.np_dtype_to_tensor_dtype(value.dtype)
            types[name] = helper.make_tensor_type_proto(elem, shape)
            if value.known and not value.symbolic:
                data[name] = numpy_helper.from_array(value.data, name)
        model = self.lowering.model
        versions = {e.domain: e.version for e in model.opset_import}
        try:
            schema = onnx.defs.get_schema(
                self.op, versions.get(self.proto.domain, 1), self.proto.domain
            )
            found = shape_inference.infer_node_outputs(
                schema, self.proto, types, data, opset_imports=list(model.opset_import)
            )
        except Exception as e:  # onnx's InferenceError and SchemaError
            raise Unsupported(f"cannot infer its output shapes: {str(e).strip()}") from e
        self._reinferred = {name: onnx_dims(t, name) for name, t in found.items()}
        return self._reinferred

    def out_dtype(self, i: int = 0) -> np.dtype:
        name = self.proto.output[i]
        dtype = onnx_dtype(self.lowering.types[name]) if name in self.lowering.types else None
        return dtype or self.input(0).dtype

    def output(self, i: int, perm: Perm, dims: Dims | None = None, dtype: Any = None) -> str:
        """A new IR tensor for output `i`, in order `perm`; returns its name."""
        name = self.proto.output[i]
        dims = self.out_dims(i) if dims is None else dims
        dtype = np.dtype(dtype or self.out_dtype(i))
        value = Value(name, dims, dtype)
        shape = layout.ir_shape(dims, perm)
        tensor = self.lowering.add_tensor(name + layout.suffix(perm), shape, dtype)
        self.lowering.runtime(value, tensor, perm)
        return tensor

    def produce(self, op: str, inputs: list[str | None], perm: Perm, **options: Any) -> str:
        """Output 0 made by one IR op, in order `perm`; returns its IR name."""
        out = self.output(0, perm)
        self.lowering.emit(op, inputs, [out], **options)
        return out

    def alias(self, i: int, value: Value, perm: Perm | None = None, dims: Dims | None = None):
        """Output `i` is `value` itself (Identity, Dropout), or its tensor seen with another
        axis order / dims (a Transpose)."""
        name = self.proto.output[i]
        if value.known:
            self.set_known(i, value.data)
            return
        dims = value.dims if dims is None else dims
        copy = Value(name, dims, value.dtype)
        self.lowering.runtime(copy, value.tensor, value.perm if perm is None else perm)

    def set_known(self, i: int, data: np.ndarray) -> None:
        name = self.proto.output[i]
        self.lowering.values[name] = known_value(name, np.asarray(data))

    def temp(self, purpose: str, shape: Any, dtype: Any = np.float32) -> str:
        """An intermediate IR tensor, named after output 0."""
        return self.lowering.add_tensor(f"{self.proto.output[0]}_{purpose}", shape, dtype)


def _merge(first: Dims | None, second: Dims | None) -> Dims | None:
    """Two inferences of one tensor's dims, each size known where either knows it."""
    if first is None or second is None or len(first) != len(second):
        return second if first is None else first
    return tuple(
        b if isinstance(a, Dim) and isinstance(b, int) else a
        for a, b in zip(first, second, strict=True)
    )


def initializer_value(tensor: onnx.TensorProto) -> Value:
    return known_value(tensor.name, numpy_helper.to_array(tensor))

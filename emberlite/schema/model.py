"""The object model of a .tflite file: plain, typed, frozen Python records.

`read_model` builds it and `write_model` serializes it (see reader.py / writer.py).  Records
are immutable; derive changed copies with `dataclasses.replace`.  Constant data is never
copied: `Buffer.data` is a read-only memoryview into the bytes (or the memory map) the model
was read from, and it keeps them alive for as long as the record lives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from emberlite.schema.types import (
    NUMPY_DTYPES,
    PACKED_BITS,
    BuiltinOperator,
    builtin_name,
    tensor_type_name,
)

EMPTY = memoryview(b"")
# The int8 field of OperatorCode holds codes up to 126; 127 stands for "see builtin_code".
_DEPRECATED_CODE_LIMIT = 127


@dataclass(frozen=True, slots=True)
class Options:
    """A decoded options table (Conv2DOptions, ...): its schema name and fields in id order.

    Fields read as attributes in the schema's snake_case (`opts.stride_w`).  Vector fields are
    tuples, strings are `str`, nested tables are `Options`.
    """

    kind: str
    fields: tuple[tuple[str, Any], ...] = ()

    def __getattr__(self, name: str) -> Any:
        for key, value in object.__getattribute__(self, "fields"):
            if key == name:
                return value
        raise AttributeError(f"{object.__getattribute__(self, 'kind')} has no field {name!r}")

    def as_dict(self) -> dict[str, Any]:
        return {k: v.as_dict() if isinstance(v, Options) else v for k, v in self.fields}


@dataclass(frozen=True, slots=True)
class QuantizationParameters:
    """real = scale * (q - zero_point); per-axis along `quantized_dimension` when len(scale) > 1."""

    scale: tuple[float, ...] = ()
    zero_point: tuple[int, ...] = ()
    min: tuple[float, ...] = ()
    max: tuple[float, ...] = ()
    quantized_dimension: int = 0
    details: Options | None = None  # CustomQuantization / BlockwiseQuantization / ...

    @property
    def is_per_axis(self) -> bool:
        return len(self.scale) > 1


@dataclass(frozen=True, slots=True)
class DimensionMetadata:
    """One dimension of a sparse tensor: DENSE (dense_size) or SPARSE_CSR (segments, indices)."""

    format: int = 0
    dense_size: int = 0
    array_segments: tuple[int, ...] | None = None
    array_segments_kind: str = ""  # Int32Vector / Uint16Vector / Uint8Vector
    array_indices: tuple[int, ...] | None = None
    array_indices_kind: str = ""


@dataclass(frozen=True, slots=True)
class SparsityParameters:
    traversal_order: tuple[int, ...] = ()
    block_map: tuple[int, ...] = ()
    dim_metadata: tuple[DimensionMetadata, ...] = ()


@dataclass(frozen=True, slots=True)
class Tensor:
    """A tensor of a subgraph.  `buffer` indexes Model.buffers (0: no constant data)."""

    name: str
    shape: tuple[int, ...]
    type: int  # a TensorType code
    buffer: int = 0
    quantization: QuantizationParameters | None = None
    is_variable: bool = False
    sparsity: SparsityParameters | None = None
    shape_signature: tuple[int, ...] | None = None  # -1 marks a dynamic dimension
    has_rank: bool = False
    variant_tensors: tuple[Options, ...] | None = None
    external_buffer: int = 0

    @property
    def type_name(self) -> str:
        return tensor_type_name(self.type)

    @property
    def numpy_dtype(self) -> np.dtype | None:
        """The NumPy dtype of the elements, or None for types NumPy lacks (STRING, INT4, ...)."""
        return NUMPY_DTYPES.get(self.type)

    def nbytes(self) -> int | None:
        """Bytes a dense value of this shape takes, or None when the type has no fixed size."""
        count = math.prod(self.shape)
        if self.type in NUMPY_DTYPES:
            return count * NUMPY_DTYPES[self.type].itemsize
        if self.type in PACKED_BITS:
            return (count * PACKED_BITS[self.type] + 7) // 8
        return None


@dataclass(frozen=True, slots=True)
class Buffer:
    """Raw constant bytes (read-only, never copied on read)."""

    data: memoryview = EMPTY


@dataclass(frozen=True, slots=True)
class OperatorCode:
    """An entry of the model's op table.  Both code fields are kept as written in the file."""

    builtin_code: int = 0
    deprecated_builtin_code: int = 0
    custom_code: str | None = None
    version: int = 1

    @classmethod
    def for_builtin(cls, code: int, version: int = 1) -> OperatorCode:
        """The entry TFLite's converter writes for a builtin: both fields filled."""
        return cls(
            builtin_code=code,
            deprecated_builtin_code=min(code, _DEPRECATED_CODE_LIMIT),
            version=version,
        )

    @classmethod
    def for_custom(cls, custom_code: str, version: int = 1) -> OperatorCode:
        return cls(BuiltinOperator.CUSTOM, BuiltinOperator.CUSTOM, custom_code, version)

    @property
    def code(self) -> int:
        # NOTE: files from before op 127 only fill the int8 field; newer ones write 127 there.
        return max(self.builtin_code, self.deprecated_builtin_code)

    @property
    def name(self) -> str:
        """'CONV_2D' for builtins, the custom code for custom ops."""
        if self.code == BuiltinOperator.CUSTOM:
            return self.custom_code or "CUSTOM"
        return builtin_name(self.code)

    @property
    def is_custom(self) -> bool:
        return self.code == BuiltinOperator.CUSTOM


@dataclass(frozen=True, slots=True)
class Operator:
    """A node: tensor indices in and out (-1 for an omitted optional input) and its options."""

    opcode_index: int
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    builtin_options: Options | None = None
    custom_options: bytes | None = None
    custom_options_format: int = 0
    mutating_variable_inputs: tuple[bool, ...] | None = None
    intermediates: tuple[int, ...] | None = None
    builtin_options_2: Options | None = None
    debug_metadata_index: int = -1
    # Union codes this schema does not know, kept so the writer can refuse them by name.
    unknown_options_type: int = 0


@dataclass(frozen=True, slots=True)
class SubGraph:
    tensors: tuple[Tensor, ...] = ()
    inputs: tuple[int, ...] = ()
    outputs: tuple[int, ...] = ()
    operators: tuple[Operator, ...] = ()
    name: str | None = None
    debug_metadata_index: int = -1


@dataclass(frozen=True, slots=True)
class Metadata:
    """A named blob of the model (min_runtime_version, TFLITE_METADATA, ...) in a buffer."""

    name: str
    buffer: int


@dataclass(frozen=True, slots=True)
class TensorMap:
    name: str
    tensor_index: int


@dataclass(frozen=True, slots=True)
class SignatureDef:
    """A named entry point: its input/output names mapped to tensors of one subgraph."""

    signature_key: str
    subgraph_index: int = 0
    inputs: tuple[TensorMap, ...] = ()
    outputs: tuple[TensorMap, ...] = ()


@dataclass(frozen=True, slots=True)
class Model:
    """A whole .tflite file.  Subgraph 0 is the main graph; buffer 0 is the empty sentinel."""

    version: int = 3
    operator_codes: tuple[OperatorCode, ...] = ()
    subgraphs: tuple[SubGraph, ...] = ()
    description: str | None = None
    buffers: tuple[Buffer, ...] = (Buffer(),)
    metadata_buffer: tuple[int, ...] | None = None
    metadata: tuple[Metadata, ...] = ()
    signature_defs: tuple[SignatureDef, ...] = ()
    external_buffer_groups: tuple[Options, ...] = ()
    external_buffers: tuple[Options, ...] = ()
    # Where the model came from, for messages ("mobilenet.tflite"); not part of the file.
    source: str = field(default="<bytes>", compare=False)

    def op_name(self, op: Operator) -> str:
        return self.operator_codes[op.opcode_index].name

    def constant(self, tensor: Tensor) -> np.ndarray | None:
        """The tensor's constant value as a read-only NumPy view, or None if it has none.

        Types NumPy lacks come back as raw uint8 bytes.
        """
        data = self.buffers[tensor.buffer].data if tensor.buffer < len(self.buffers) else EMPTY
        if len(data) == 0:
            return None
        dtype = tensor.numpy_dtype
        if dtype is None or tensor.sparsity is not None:
            return np.frombuffer(data, dtype=np.uint8)
        return np.frombuffer(data, dtype=dtype).reshape(tensor.shape)

    def metadata_bytes(self, name: str) -> memoryview | None:
        for entry in self.metadata:
            if entry.name == name:
                return self.buffers[entry.buffer].data
        return None

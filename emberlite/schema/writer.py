"""Write the object model of model.py as a .tflite FlatBuffer.

Constant buffers are 16-byte aligned (the schema's `force_align: 16`, which flatc's Python
code does not honour by itself).  Models whose constants would push the FlatBuffer past its
2 GB offset limit store them after it instead, as TFLite's converter does (Buffer.offset and
Buffer.size, absolute file positions).
"""

from __future__ import annotations

import os
import struct
import tempfile
from pathlib import Path
from typing import Any

import flatbuffers
import numpy as np

from emberlite.errors import ModelWriteError
from emberlite.schema import model_generated as fb
from emberlite.schema.model import Buffer, Model, Operator, Options, Tensor
from emberlite.schema.verify import FILE_IDENTIFIER

BUFFER_ALIGNMENT = 16
# FlatBuffers offsets are 32-bit signed in practice; stay well clear of 2 GiB.
INLINE_LIMIT = 2**31 - 2**24
# Placeholder Buffer.offset while the FlatBuffer is built; patched once its size is known.
_OFFSET_PLACEHOLDER = 1


def camel_case(field: str) -> str:
    """The object-API attribute of a schema field: dilation_w_factor -> dilationWFactor."""
    head, *rest = field.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def write_model(model: Model, *, out_of_band: bool | None = None) -> bytes:
    """Serialize `model` to the bytes of a .tflite file.

    `out_of_band`: store constant buffers after the FlatBuffer (True), inside it (False), or
    decide by size (None: after it only when they would not fit in 2 GB).
    """
    total = sum(len(b.data) for b in model.buffers)
    if out_of_band is None:
        out_of_band = total > INLINE_LIMIT
    builder = flatbuffers.Builder(1024 if out_of_band else total + 65536)
    root = _model_t(model, out_of_band).Pack(builder)
    builder.Finish(root, file_identifier=FILE_IDENTIFIER)
    head = builder.Output()
    if not out_of_band:
        return bytes(head)
    return _append_buffers(bytearray(head), model.buffers)


def save_model(model: Model, path: str | os.PathLike, **kwargs: Any) -> None:
    """Write `model` to `path` atomically: the file is either the old one or the whole new one."""
    data = write_model(model, **kwargs)
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # NOTE: mkstemp makes 0600; a new file gets 0644-ish
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# -- object model -> generated object API ----------------------------------------------------


class _AlignedBufferT(fb.BufferT):
    """BufferT whose data vector is aligned to BUFFER_ALIGNMENT bytes."""

    def __init__(self, data: memoryview | None, offset: int = 0, size: int = 0):
        super().__init__(data=data, offset=offset, size=size)

    def Pack(self, builder: flatbuffers.Builder) -> int:  # noqa: N802 (generated API name)
        data_offset = None
        if self.data is not None:
            n = len(self.data)
            builder.StartVector(1, n, BUFFER_ALIGNMENT)
            builder.head -= n
            builder.Bytes[builder.head : builder.head + n] = self.data
            data_offset = builder.EndVector()
        fb.BufferStart(builder)
        if data_offset is not None:
            fb.BufferAddData(builder, data_offset)
        fb.BufferAddOffset(builder, self.offset)
        fb.BufferAddSize(builder, self.size)
        return fb.BufferEnd(builder)


def _model_t(model: Model, out_of_band: bool) -> fb.ModelT:
    t = fb.ModelT()
    t.version = model.version
    t.operatorCodes = [_opcode_t(c) for c in model.operator_codes]
    t.subgraphs = [_subgraph_t(model, i) for i in range(len(model.subgraphs))]
    t.description = model.description
    t.buffers = [_buffer_t(b, out_of_band) for b in model.buffers]
    t.metadataBuffer = _list(model.metadata_buffer)
    t.metadata = [_init(fb.MetadataT, name=m.name, buffer=m.buffer) for m in model.metadata]
    t.signatureDefs = [
        _init(
            fb.SignatureDefT,
            signatureKey=s.signature_key,
            subgraphIndex=s.subgraph_index,
            inputs=[
                _init(fb.TensorMapT, name=m.name, tensorIndex=m.tensor_index) for m in s.inputs
            ],
            outputs=[
                _init(fb.TensorMapT, name=m.name, tensorIndex=m.tensor_index) for m in s.outputs
            ],
        )
        for s in model.signature_defs
    ]
    t.externalBufferGroups = [options_t(g) for g in model.external_buffer_groups] or None
    t.externalBuffers = [options_t(b) for b in model.external_buffers] or None
    return t


def _buffer_t(buffer: Buffer, out_of_band: bool) -> fb.BufferT:
    if out_of_band and len(buffer.data):
        return _AlignedBufferT(None, _OFFSET_PLACEHOLDER, len(buffer.data))
    return _AlignedBufferT(buffer.data if len(buffer.data) else None)


def _opcode_t(code: Any) -> fb.OperatorCodeT:
    return _init(
        fb.OperatorCodeT,
        deprecatedBuiltinCode=code.deprecated_builtin_code,
        customCode=code.custom_code,
        version=code.version,
        builtinCode=code.builtin_code,
    )


def _subgraph_t(model: Model, index: int) -> fb.SubGraphT:
    sg = model.subgraphs[index]
    return _init(
        fb.SubGraphT,
        tensors=[_tensor_t(t) for t in sg.tensors],
        inputs=list(sg.inputs),
        outputs=list(sg.outputs),
        operators=[_operator_t(model, index, i, op) for i, op in enumerate(sg.operators)],
        name=sg.name,
        debugMetadataIndex=sg.debug_metadata_index,
    )


def _tensor_t(t: Tensor) -> fb.TensorT:
    quant = None
    if t.quantization is not None:
        q = t.quantization
        quant = _init(
            fb.QuantizationParametersT,
            min=_list(q.min),
            max=_list(q.max),
            scale=_list(q.scale),
            zeroPoint=_list(q.zero_point),
            quantizedDimension=q.quantized_dimension,
        )
        if q.details is not None:
            quant.detailsType = getattr(fb.QuantizationDetails, q.details.kind)
            quant.details = options_t(q.details)
    sparsity = None
    if t.sparsity is not None:
        s = t.sparsity
        sparsity = _init(
            fb.SparsityParametersT,
            traversalOrder=list(s.traversal_order),
            blockMap=list(s.block_map),
            dimMetadata=[
                _init(
                    fb.DimensionMetadataT,
                    format=d.format,
                    denseSize=d.dense_size,
                    arraySegmentsType=_index_vector_type(d.array_segments_kind),
                    arraySegments=_index_vector_t(d.array_segments_kind, d.array_segments),
                    arrayIndicesType=_index_vector_type(d.array_indices_kind),
                    arrayIndices=_index_vector_t(d.array_indices_kind, d.array_indices),
                )
                for d in s.dim_metadata
            ],
        )
    return _init(
        fb.TensorT,
        shape=list(t.shape),
        type=t.type,
        buffer=t.buffer,
        name=t.name,
        quantization=quant,
        isVariable=t.is_variable,
        sparsity=sparsity,
        shapeSignature=_list(t.shape_signature),
        hasRank=t.has_rank,
        variantTensors=None
        if t.variant_tensors is None
        else [options_t(v) for v in t.variant_tensors],
        externalBuffer=t.external_buffer,
    )


def _index_vector_type(kind: str) -> int:
    return getattr(fb.SparseIndexVector, kind) if kind else 0


def _index_vector_t(kind: str, values: tuple[int, ...] | None) -> Any:
    return None if not kind else _init(getattr(fb, kind + "T"), values=list(values or ()))


def _operator_t(model: Model, subgraph: int, index: int, op: Operator) -> fb.OperatorT:
    if op.unknown_options_type:
        raise ModelWriteError(
            f"{model.source}: subgraph {subgraph} operator {index} ({model.op_name(op)}) has "
            f"options of a type this schema does not know ({op.unknown_options_type}); "
            "it cannot be written back"
        )
    t = _init(
        fb.OperatorT,
        opcodeIndex=op.opcode_index,
        inputs=list(op.inputs),
        outputs=list(op.outputs),
        customOptions=None
        if op.custom_options is None
        else np.frombuffer(op.custom_options, np.uint8),
        customOptionsFormat=op.custom_options_format,
        mutatingVariableInputs=_list(op.mutating_variable_inputs),
        intermediates=_list(op.intermediates),
        debugMetadataIndex=op.debug_metadata_index,
    )
    if op.builtin_options is not None:
        t.builtinOptionsType = _union_member(fb.BuiltinOptions, op.builtin_options, model, op)
        t.builtinOptions = options_t(op.builtin_options)
    if op.builtin_options_2 is not None:
        t.builtinOptions2Type = _union_member(fb.BuiltinOptions2, op.builtin_options_2, model, op)
        t.builtinOptions2 = options_t(op.builtin_options_2)
    return t


def _union_member(union: type, options: Options, model: Model, op: Operator) -> int:
    code = getattr(union, options.kind, None)
    if code is None:
        raise ModelWriteError(
            f"{model.source}: {options.kind} is not a member of {union.__name__} "
            f"(operator {model.op_name(op)})"
        )
    return code


def options_t(options: Options) -> Any:
    """An Options record as the generated object-API instance that can Pack itself."""
    cls = getattr(fb, options.kind + "T", None)
    if cls is None:
        raise ModelWriteError(f"unknown options table {options.kind!r}")
    t = cls()
    for name, value in options.fields:
        attr = camel_case(name)
        if not hasattr(t, attr):
            raise ModelWriteError(f"{options.kind} has no field {name!r}")
        setattr(t, attr, _value_t(value))
    return t


def _value_t(value: Any) -> Any:
    if isinstance(value, Options):
        return options_t(value)
    if isinstance(value, tuple):
        return [_value_t(v) for v in value]
    return value


def _init(cls: type, **fields: Any) -> Any:
    t = cls()
    for k, v in fields.items():
        setattr(t, k, v)
    return t


def _list(values: tuple | None) -> list | None:
    return None if values is None else list(values)


# -- out-of-band buffers ----------------------------------------------------------------------


def _append_buffers(out: bytearray, buffers: tuple[Buffer, ...]) -> bytes:
    """Append constant data after the FlatBuffer and patch each Buffer.offset to point at it."""
    root = fb.Model.GetRootAs(out, 0)
    for i, buffer in enumerate(buffers):
        if not len(buffer.data):
            continue
        out.extend(b"\0" * (-len(out) % BUFFER_ALIGNMENT))
        table = root.Buffers(i)._tab
        field = table.Offset(6)  # Buffer.offset, field id 1
        if not field:
            raise ModelWriteError(f"buffer {i}: the offset placeholder was not written")
        struct.pack_into("<Q", out, table.Pos + field, len(out))
        out.extend(buffer.data)
    return bytes(out)

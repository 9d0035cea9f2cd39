"""Read a .tflite file into the object model of model.py.

The file is verified first (verify.py), then decoded with flatc's generated object API, then
checked for consistency (indices in range, constant buffers as large as their tensors).  Any
problem is a ModelFormatError that names the file and the place.
"""

from __future__ import annotations

import mmap
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from emberlite.errors import ModelFormatError
from emberlite.schema import model_generated as fb
from emberlite.schema.model import (
    EMPTY,
    Buffer,
    DimensionMetadata,
    Metadata,
    Model,
    Operator,
    OperatorCode,
    Options,
    QuantizationParameters,
    SignatureDef,
    SparsityParameters,
    SubGraph,
    Tensor,
    TensorMap,
)
from emberlite.schema.types import TensorType
from emberlite.schema.verify import verify_model_buffer

ModelSource = str | os.PathLike | bytes | bytearray | memoryview

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
# Buffer.offset values of 0 and 1 mean "no out-of-band data" (1 is the converter's placeholder).
_NO_OFFSET = 1


def snake_case(attr: str) -> str:
    """The schema's field name for an object-API attribute: dilationWFactor -> dilation_w_factor."""
    return _CAMEL.sub("_", attr).lower()


def read_model(source: ModelSource, *, name: str | None = None) -> Model:
    """Read a TFLite model from a path or from its bytes.

    A path is memory-mapped, so constant data is never copied into Python: the returned
    model's buffers are views of the map (or of the given bytes), which stay alive with it.
    `name` labels the model in error messages (default: the path, or "<bytes>").
    """
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        label = name or str(path)
        try:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                buf = (
                    memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)) if size else EMPTY
                )
        except OSError as e:
            raise ModelFormatError(f"{label}: cannot read: {e.strerror or e}") from e
    else:
        label = name or "<bytes>"
        # A bytearray could change under the model: freeze it.
        buf = memoryview(bytes(source) if isinstance(source, bytearray) else source).cast("B")
    return _Decoder(buf, label).model()


class _Decoder:
    def __init__(self, buf: memoryview, source: str):
        self.buf = buf
        self.source = source

    def fail(self, where: str, what: str) -> ModelFormatError:
        return ModelFormatError(f"{self.source}: {where}: {what}")

    def model(self) -> Model:
        root = verify_model_buffer(self.buf, self.source)
        raw = fb.ModelT.InitFromBuf(self.buf, root)
        buffers = tuple(self.buffer(i, b) for i, b in enumerate(raw.buffers or ()))
        model = Model(
            version=raw.version,
            operator_codes=tuple(self.opcode(c) for c in raw.operatorCodes or ()),
            subgraphs=tuple(self.subgraph(i, s) for i, s in enumerate(raw.subgraphs or ())),
            description=self.text("model.description", raw.description),
            buffers=buffers,
            metadata_buffer=_ints(raw.metadataBuffer),
            metadata=tuple(
                Metadata(self.text("metadata.name", m.name) or "", m.buffer)
                for m in raw.metadata or ()
            ),
            signature_defs=tuple(self.signature(s) for s in raw.signatureDefs or ()),
            external_buffer_groups=tuple(
                self.options(g, "model") for g in raw.externalBufferGroups or ()
            ),
            external_buffers=tuple(self.options(b, "model") for b in raw.externalBuffers or ()),
            source=self.source,
        )
        self.check(model)
        return model

    # -- tables -----------------------------------------------------------------------------

    def text(self, where: str, raw: bytes | None) -> str | None:
        if raw is None:
            return None
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise self.fail(where, f"string is not UTF-8 ({e.reason} at byte {e.start})") from e

    def buffer(self, index: int, raw: fb.BufferT) -> Buffer:
        if raw.offset > _NO_OFFSET:
            end = raw.offset + raw.size
            if end > len(self.buf):
                raise self.fail(
                    f"buffer {index}",
                    f"claims bytes {raw.offset}..{end} but the file has {len(self.buf)}",
                )
            return Buffer(self.buf[raw.offset : end])
        if raw.data is None:
            return Buffer()
        return Buffer(memoryview(raw.data))

    def opcode(self, raw: fb.OperatorCodeT) -> OperatorCode:
        return OperatorCode(
            builtin_code=raw.builtinCode,
            deprecated_builtin_code=raw.deprecatedBuiltinCode,
            custom_code=self.text("operator code", raw.customCode),
            version=raw.version,
        )

    def subgraph(self, index: int, raw: fb.SubGraphT) -> SubGraph:
        where = f"subgraph {index}"
        return SubGraph(
            tensors=tuple(
                self.tensor(f"{where} tensor {i}", t) for i, t in enumerate(raw.tensors or ())
            ),
            inputs=_ints(raw.inputs) or (),
            outputs=_ints(raw.outputs) or (),
            operators=tuple(
                self.operator(f"{where} operator {i}", o) for i, o in enumerate(raw.operators or ())
            ),
            name=self.text(where, raw.name),
            debug_metadata_index=raw.debugMetadataIndex,
        )

    def tensor(self, where: str, raw: fb.TensorT) -> Tensor:
        return Tensor(
            name=self.text(where, raw.name) or "",
            shape=_ints(raw.shape) or (),
            type=raw.type,
            buffer=raw.buffer,
            quantization=self.quantization(where, raw.quantization),
            is_variable=raw.isVariable,
            sparsity=self.sparsity(raw.sparsity),
            shape_signature=_ints(raw.shapeSignature),
            has_rank=raw.hasRank,
            variant_tensors=None
            if raw.variantTensors is None
            else tuple(self.options(v, where) for v in raw.variantTensors),
            external_buffer=raw.externalBuffer,
        )

    def quantization(
        self, where: str, raw: fb.QuantizationParametersT | None
    ) -> QuantizationParameters | None:
        if raw is None:
            return None
        return QuantizationParameters(
            scale=_floats(raw.scale),
            zero_point=_ints(raw.zeroPoint) or (),
            min=_floats(raw.min),
            max=_floats(raw.max),
            quantized_dimension=raw.quantizedDimension,
            details=None if raw.details is None else self.options(raw.details, where),
        )

    def sparsity(self, raw: fb.SparsityParametersT | None) -> SparsityParameters | None:
        if raw is None:
            return None
        dims = tuple(
            DimensionMetadata(
                format=d.format,
                dense_size=d.denseSize,
                array_segments=None
                if d.arraySegments is None
                else _ints(d.arraySegments.values) or (),
                array_segments_kind=_kind(d.arraySegments),
                array_indices=None
                if d.arrayIndices is None
                else _ints(d.arrayIndices.values) or (),
                array_indices_kind=_kind(d.arrayIndices),
            )
            for d in raw.dimMetadata or ()
        )
        return SparsityParameters(
            traversal_order=_ints(raw.traversalOrder) or (),
            block_map=_ints(raw.blockMap) or (),
            dim_metadata=dims,
        )

    def operator(self, where: str, raw: fb.OperatorT) -> Operator:
        custom = None if raw.customOptions is None else bytes(raw.customOptions)
        if raw.largeCustomOptionsSize:
            start, size = raw.largeCustomOptionsOffset, raw.largeCustomOptionsSize
            if start + size > len(self.buf):
                raise self.fail(
                    where, f"custom options claim bytes {start}..{start + size} past the end"
                )
            custom = bytes(self.buf[start : start + size])
        unknown = 0
        if raw.builtinOptionsType and raw.builtinOptions is None:
            unknown = raw.builtinOptionsType
        if raw.builtinOptions2Type and raw.builtinOptions2 is None:
            unknown = 1000 + raw.builtinOptions2Type
        return Operator(
            opcode_index=raw.opcodeIndex,
            inputs=_ints(raw.inputs) or (),
            outputs=_ints(raw.outputs) or (),
            builtin_options=None
            if raw.builtinOptions is None
            else self.options(raw.builtinOptions, where),
            custom_options=custom,
            custom_options_format=raw.customOptionsFormat,
            mutating_variable_inputs=None
            if raw.mutatingVariableInputs is None
            else tuple(bool(v) for v in raw.mutatingVariableInputs),
            intermediates=_ints(raw.intermediates),
            builtin_options_2=None
            if raw.builtinOptions2 is None
            else self.options(raw.builtinOptions2, where),
            debug_metadata_index=raw.debugMetadataIndex,
            unknown_options_type=unknown,
        )

    def signature(self, raw: fb.SignatureDefT) -> SignatureDef:
        key = self.text("signature", raw.signatureKey) or ""
        where = f"signature {key!r}"
        return SignatureDef(
            signature_key=key,
            subgraph_index=raw.subgraphIndex,
            inputs=tuple(
                TensorMap(self.text(where, m.name) or "", m.tensorIndex) for m in raw.inputs or ()
            ),
            outputs=tuple(
                TensorMap(self.text(where, m.name) or "", m.tensorIndex) for m in raw.outputs or ()
            ),
        )

    def options(self, raw: Any, where: str) -> Options:
        """Any generated object-API table as a generic Options record."""
        kind = type(raw).__name__.removesuffix("T")
        return Options(
            kind, tuple((snake_case(k), self.value(v, where)) for k, v in vars(raw).items())
        )

    def value(self, v: Any, where: str) -> Any:
        if isinstance(v, np.ndarray):
            return tuple(v.tolist())
        if isinstance(v, list):
            return tuple(self.value(x, where) for x in v)
        if isinstance(v, bytes):
            return self.text(where, v)
        if hasattr(v, "Pack"):
            return self.options(v, where)
        return v

    # -- consistency ------------------------------------------------------------------------

    def check(self, model: Model) -> None:
        n_buffers, n_codes, n_subgraphs = (
            len(model.buffers),
            len(model.operator_codes),
            len(model.subgraphs),
        )
        for m in model.metadata:
            if m.buffer >= n_buffers:
                raise self.fail(
                    f"metadata {m.name!r}",
                    f"buffer {m.buffer} does not exist ({n_buffers} buffers)",
                )
        for si, sg in enumerate(model.subgraphs):
            n_tensors = len(sg.tensors)
            for ti, t in enumerate(sg.tensors):
                self.check_tensor(f"subgraph {si} tensor {ti} ({t.name!r})", t, model)
            for label, indices in (("inputs", sg.inputs), ("outputs", sg.outputs)):
                bad = [i for i in indices if not 0 <= i < n_tensors]
                if bad:
                    raise self.fail(
                        f"subgraph {si} {label}",
                        f"tensor {bad[0]} does not exist ({n_tensors} tensors)",
                    )
            for oi, op in enumerate(sg.operators):
                where = f"subgraph {si} operator {oi}"
                if op.opcode_index >= n_codes:
                    raise self.fail(
                        where, f"operator code {op.opcode_index} does not exist ({n_codes} codes)"
                    )
                for label, indices in (
                    ("input", op.inputs),
                    ("output", op.outputs),
                    ("intermediate", op.intermediates or ()),
                ):
                    bad = [i for i in indices if not -1 <= i < n_tensors]
                    if bad:
                        raise self.fail(
                            f"{where} ({model.op_name(op)})",
                            f"{label} tensor {bad[0]} does not exist ({n_tensors} tensors)",
                        )
        for sig in model.signature_defs:
            where = f"signature {sig.signature_key!r}"
            if sig.subgraph_index >= n_subgraphs:
                raise self.fail(where, f"subgraph {sig.subgraph_index} does not exist")
            n_tensors = len(model.subgraphs[sig.subgraph_index].tensors)
            for m in sig.inputs + sig.outputs:
                if m.tensor_index >= n_tensors:
                    raise self.fail(
                        where, f"{m.name!r} names tensor {m.tensor_index}, which does not exist"
                    )

    def check_tensor(self, where: str, t: Tensor, model: Model) -> None:
        try:
            TensorType(t.type)
        except ValueError:
            raise self.fail(where, f"unknown tensor type {t.type}") from None
        if t.buffer >= len(model.buffers):
            raise self.fail(
                where, f"buffer {t.buffer} does not exist ({len(model.buffers)} buffers)"
            )
        if any(d < 0 for d in t.shape) and not t.shape_signature:
            raise self.fail(where, f"shape {list(t.shape)} has a negative dimension")
        if (
            t.quantization
            and t.quantization.zero_point
            and len(t.quantization.zero_point) != len(t.quantization.scale)
        ):
            raise self.fail(where, "quantization has different numbers of scales and zero points")
        held = len(model.buffers[t.buffer].data)
        if held and t.sparsity is None:
            if any(d < 0 for d in t.shape):
                raise self.fail(where, f"constant with dynamic shape {list(t.shape)}")
            expected = t.nbytes()
            if expected is not None and expected != held:
                raise self.fail(
                    where,
                    f"shape {list(t.shape)} of {t.type_name} needs {expected} bytes "
                    f"but buffer {t.buffer} holds {held}",
                )


def _ints(v: Any) -> tuple[int, ...] | None:
    return (
        None
        if v is None
        else tuple(int(x) for x in (v.tolist() if isinstance(v, np.ndarray) else v))
    )


def _floats(v: Any) -> tuple[float, ...]:
    return (
        ()
        if v is None
        else tuple(float(x) for x in (v.tolist() if isinstance(v, np.ndarray) else v))
    )


def _kind(index_vector: Any) -> str:
    return "" if index_vector is None else type(index_vector).__name__.removesuffix("T")

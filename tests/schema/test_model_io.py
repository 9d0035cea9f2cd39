"""Reading and writing hand-built models, and the errors bad input gets."""

from __future__ import annotations

import os
import struct
from dataclasses import replace

import numpy as np
import pytest

from emberlite.errors import EmberliteError, ModelFormatError, ModelWriteError
from emberlite.schema import (
    Buffer,
    BuiltinOperator,
    Metadata,
    Model,
    Operator,
    OperatorCode,
    Options,
    QuantizationParameters,
    SignatureDef,
    SubGraph,
    Tensor,
    TensorMap,
    TensorType,
    read_model,
    save_model,
    write_model,
)
from tests.litert import run_litert

BIAS = np.arange(6, dtype=np.float32).reshape(2, 3)


def add_model(**tensor_overrides) -> Model:
    """y = x + BIAS + ReLU, with a signature and metadata: a tiny model LiteRT can run."""
    tensors = [
        Tensor("x", (2, 3), TensorType.FLOAT32, shape_signature=(-1, 3)),
        Tensor("bias", (2, 3), TensorType.FLOAT32, buffer=1),
        Tensor("y", (2, 3), TensorType.FLOAT32),
    ]
    tensors[1] = replace(tensors[1], **tensor_overrides)
    add = Operator(
        opcode_index=0,
        inputs=(0, 1),
        outputs=(2,),
        builtin_options=Options(
            "AddOptions", (("fused_activation_function", 1), ("pot_scale_int16", True))
        ),
    )
    return Model(
        operator_codes=(OperatorCode.for_builtin(BuiltinOperator.ADD),),
        subgraphs=(
            SubGraph(
                tensors=tuple(tensors), inputs=(0,), outputs=(2,), operators=(add,), name="main"
            ),
        ),
        description="hand-built",
        buffers=(Buffer(), Buffer(memoryview(BIAS.tobytes())), Buffer(memoryview(b"1.5.0"))),
        metadata=(Metadata("min_runtime_version", 2),),
        signature_defs=(
            SignatureDef("serving_default", 0, (TensorMap("x", 0),), (TensorMap("y", 2),)),
        ),
    )


def test_hand_built_model_roundtrips_and_runs_in_litert():
    model = add_model()
    data = write_model(model)
    assert data[4:8] == b"TFL3"
    assert read_model(data) == model
    (out,) = run_litert(data)
    assert out.shape == (2, 3) and (out >= 0).all()  # fused RELU


def test_options_read_as_attributes():
    op = read_model(write_model(add_model())).subgraphs[0].operators[0]
    assert op.builtin_options.kind == "AddOptions"
    assert op.builtin_options.fused_activation_function == 1
    assert op.builtin_options.as_dict() == {"fused_activation_function": 1, "pot_scale_int16": True}
    with pytest.raises(AttributeError, match="AddOptions has no field 'stride_w'"):
        _ = op.builtin_options.stride_w


def test_op_codes_above_127_fill_both_fields():
    code = OperatorCode.for_builtin(BuiltinOperator.GELU)
    assert code.deprecated_builtin_code == 127 and code.builtin_code == BuiltinOperator.GELU
    assert code.name == "GELU"
    # Old files fill only the int8 field; the code is the larger of the two.
    assert OperatorCode(builtin_code=0, deprecated_builtin_code=3).name == "CONV_2D"
    assert OperatorCode.for_custom("MyOp").name == "MyOp"


def test_quantization_roundtrips():
    q = QuantizationParameters(scale=(0.5, 0.25), zero_point=(0, 0), quantized_dimension=1)
    model = add_model(quantization=q)
    assert read_model(write_model(model)).subgraphs[0].tensors[1].quantization == q


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "model.tflite"
    save_model(add_model(), path)
    before = path.read_bytes()

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        save_model(Model(), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.tflite"]


def test_unknown_options_table_is_refused_by_name():
    model = add_model()
    op = Operator(0, (0, 1), (2,), builtin_options=Options("NoSuchOptions"))
    bad = Model(
        operator_codes=model.operator_codes,
        subgraphs=(SubGraph(model.subgraphs[0].tensors, (0,), (2,), (op,)),),
        buffers=model.buffers,
    )
    with pytest.raises(ModelWriteError, match="NoSuchOptions"):
        write_model(bad)


# -- bad input ----------------------------------------------------------------------------------


def read_error(data: bytes) -> str:
    with pytest.raises(ModelFormatError) as info:
        read_model(data, name="bad.tflite")
    message = str(info.value)
    assert message.startswith("bad.tflite: ") and "\n" not in message
    return message


def test_truncated_file():
    data = write_model(add_model())
    assert "too short" in read_error(data[:5])
    for cut in (len(data) // 3, len(data) // 2, len(data) - 9):
        read_error(data[:cut])


def test_wrong_identifier():
    data = bytearray(write_model(add_model()))
    data[4:8] = b"TFL2"
    assert "file identifier b'TFL2'" in read_error(bytes(data))


def test_root_offset_out_of_range():
    data = bytearray(write_model(add_model()))
    struct.pack_into("<I", data, 0, 0x7FFFFFF0)
    assert "outside" in read_error(bytes(data))


def test_vector_claiming_more_than_the_file_holds():
    data = bytearray(write_model(add_model()))
    at = data.find(BIAS.tobytes()) - 4  # the length word of the bias buffer's data vector
    assert struct.unpack_from("<I", data, at)[0] == BIAS.nbytes
    struct.pack_into("<I", data, at, 0xFFFFFFF0)
    assert "buffers[1].data" in read_error(bytes(data))


def test_out_of_band_buffer_past_the_end():
    data = write_model(add_model(), out_of_band=True)
    assert "buffer 2: claims bytes" in read_error(data[: len(data) - 8])  # the metadata blob


@pytest.mark.parametrize(
    "override, message",
    [
        ({"buffer": 7}, "buffer 7 does not exist"),
        ({"type": 99}, "unknown tensor type 99"),
        ({"shape": (4, 3)}, "needs 48 bytes but buffer 1 holds 24"),
        (
            {"quantization": QuantizationParameters(scale=(1.0,), zero_point=(0, 0))},
            "scales and zero points",
        ),
    ],
)
def test_inconsistent_tensor_is_named(override, message):
    error = read_error(write_model(add_model(**override)))
    assert "subgraph 0 tensor 1 ('bias')" in error and message in error


def test_operator_with_missing_tensor_or_code_is_named():
    model = add_model()
    sg = model.subgraphs[0]
    for op, message in [
        (Operator(0, (0, 9), (2,)), "input tensor 9 does not exist"),
        (Operator(5, (0, 1), (2,)), "operator code 5 does not exist"),
    ]:
        bad = Model(
            operator_codes=model.operator_codes,
            subgraphs=(SubGraph(sg.tensors, (0,), (2,), (op,)),),
            buffers=model.buffers,
        )
        assert message in read_error(write_model(bad))


def test_signature_naming_a_missing_tensor():
    model = add_model()
    bad = Model(
        operator_codes=model.operator_codes,
        subgraphs=model.subgraphs,
        buffers=model.buffers,
        signature_defs=(SignatureDef("s", 0, (TensorMap("x", 42),)),),
    )
    assert "signature 's'" in read_error(write_model(bad))


def test_invalid_utf8_name():
    data = bytearray(write_model(add_model()))
    at = data.find(b"hand-built")
    data[at] = 0xFF
    assert "not UTF-8" in read_error(bytes(data))


def test_missing_file_is_a_format_error(tmp_path):
    with pytest.raises(EmberliteError, match="cannot read"):
        read_model(tmp_path / "nope.tflite")


def test_empty_file(tmp_path):
    (tmp_path / "empty.tflite").write_bytes(b"")
    with pytest.raises(ModelFormatError, match="too short"):
        read_model(tmp_path / "empty.tflite")

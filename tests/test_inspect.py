"""`emberlite inspect`: the summary against LiteRT's view of real models, and the CLI's errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from emberlite import __version__
from emberlite.cli import main
from emberlite.inspect import human_bytes, summarize
from emberlite.schema import (
    Buffer,
    BuiltinOperator,
    Metadata,
    Model,
    Operator,
    OperatorCode,
    QuantizationParameters,
    SignatureDef,
    SubGraph,
    Tensor,
    TensorMap,
    TensorType,
    read_model,
    write_model,
)
from tests.litert import litert_op_histogram

# Wide enough that rich never folds a tensor or op name across lines.
WIDE = {"COLUMNS": "250"}


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


# -- real models -------------------------------------------------------------------------------


def test_json_histogram_matches_litert(real_model: Path) -> None:
    result = run("inspect", "--json", str(real_model))
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)  # stdout holds nothing but the JSON
    assert summary["file_size"] == real_model.stat().st_size
    assert summary["subgraphs"][0]["op_histogram"] == dict(
        litert_op_histogram(real_model.read_bytes())
    )


def test_table_names_inputs_and_ops(real_model: Path) -> None:
    summary = summarize(read_model(real_model))
    result = run("inspect", str(real_model), env=WIDE)
    assert result.exit_code == 0, result.stderr
    for sg in summary["subgraphs"]:
        for tensor in sg["inputs"]:
            assert tensor["name"] in result.stdout
        for op_name in sg["op_histogram"]:
            assert op_name in result.stdout


def test_sine_summary(model_files: dict[str, Path]) -> None:
    summary = summarize(read_model(model_files["sine_float.tflite"]))
    (graph,) = summary["subgraphs"]
    assert graph["op_histogram"] == {"FULLY_CONNECTED": 3}
    (x,) = graph["inputs"]
    assert (x["shape"], x["shape_signature"], x["dtype"]) == ([1, 1], [-1, 1], "FLOAT32")
    assert x["quantization"] is None
    assert summary["signatures"][0]["key"] == "serving_default"
    assert summary["custom_ops"] == []


# -- a hand-built model ------------------------------------------------------------------------


def _opcode(op: BuiltinOperator, custom: str | None = None, version: int = 1) -> OperatorCode:
    return OperatorCode(op, min(op, 127), custom, version)


def tiny_model() -> Model:
    """x -> FULLY_CONNECTED(w, b) -> RELU -> MyOp -> RELU -> y, plus metadata and a signature.

    Tensors 1 and 2 share buffer 1 (counted once); buffer 2 holds the INT32 bias.
    """
    weights = np.arange(8, dtype=np.int8).tobytes()
    bias = np.array([5, -5], dtype=np.int32).tobytes()
    per_tensor = QuantizationParameters(scale=(0.5,), zero_point=(-3,))
    per_axis = QuantizationParameters(scale=(0.1, 0.2), zero_point=(0, 0), quantized_dimension=0)
    f32, i8, i32 = TensorType.FLOAT32, TensorType.INT8, TensorType.INT32
    tensors = (
        Tensor("x", (1, 4), i8, quantization=per_tensor, shape_signature=(-1, 4)),
        Tensor("w", (2, 4), i8, buffer=1, quantization=per_axis),
        Tensor("w_alias", (2, 4), i8, buffer=1),
        Tensor("b", (2,), i32, buffer=2),
        Tensor("fc", (1, 2), f32),
        Tensor("relu", (1, 2), f32),
        Tensor("custom", (1, 2), f32),
        Tensor("y", (1, 2), f32, quantization=QuantizationParameters()),  # empty table
    )
    operators = (
        Operator(0, (0, 1, 3), (4,)),
        Operator(1, (4,), (5,)),
        Operator(2, (5, 2), (6,)),
        Operator(1, (6,), (7,)),
    )
    codes = (
        _opcode(BuiltinOperator.FULLY_CONNECTED, version=9),
        _opcode(BuiltinOperator.RELU),
        _opcode(BuiltinOperator.CUSTOM, "MyOp"),
    )
    return Model(
        operator_codes=codes,
        subgraphs=(SubGraph(tensors, inputs=(0,), outputs=(7,), operators=operators, name="main"),),
        description="tiny",
        buffers=(
            Buffer(),
            Buffer(memoryview(weights)),
            Buffer(memoryview(bias)),
            Buffer(memoryview(b"1.5.0\0")),
        ),
        metadata=(Metadata("min_runtime_version", 3),),
        signature_defs=(
            SignatureDef("serving_default", 0, (TensorMap("in", 0),), (TensorMap("out", 7),)),
        ),
    )


@pytest.fixture
def tiny_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.tflite"
    path.write_bytes(write_model(tiny_model()))
    return path


def test_summarize_tiny_model(tiny_file: Path) -> None:
    summary = summarize(read_model(tiny_file), file_size=1234)
    (graph,) = summary["subgraphs"]
    assert graph["op_histogram"] == {"RELU": 2, "FULLY_CONNECTED": 1, "MyOp": 1}
    assert list(graph["op_histogram"]) == ["RELU", "FULLY_CONNECTED", "MyOp"]  # by count
    assert graph["dtypes"] == {
        "INT8": {"tensors": 3, "constant_bytes": 8},
        "INT32": {"tensors": 1, "constant_bytes": 8},
        "FLOAT32": {"tensors": 4, "constant_bytes": 0},
    }
    assert (graph["name"], graph["num_tensors"], graph["num_operators"]) == ("main", 8, 4)
    assert graph["inputs"] == [
        {
            "index": 0,
            "name": "x",
            "shape": [1, 4],
            "shape_signature": [-1, 4],
            "dtype": "INT8",
            "quantization": {"scales": [0.5], "zero_points": [-3], "quantized_dimension": 0},
        }
    ]
    (y,) = graph["outputs"]
    assert (y["index"], y["name"], y["shape_signature"], y["quantization"]) == (7, "y", None, None)
    assert summary["custom_ops"] == [{"name": "MyOp", "used_by": [{"subgraph": 0, "operator": 2}]}]
    assert summary["signatures"] == [
        {"key": "serving_default", "subgraph_index": 0, "inputs": {"in": 0}, "outputs": {"out": 7}}
    ]
    assert summary["metadata"] == [{"name": "min_runtime_version", "bytes": 6}]
    assert summary["operator_codes"] == [
        {"name": "FULLY_CONNECTED", "version": 9},
        {"name": "RELU", "version": 1},
        {"name": "MyOp", "version": 1},
    ]
    assert summary["constant_bytes"] == 16
    assert (summary["file_size"], summary["description"], summary["schema_version"]) == (
        1234,
        "tiny",
        3,
    )
    assert json.loads(json.dumps(summary)) == summary


def test_cli_on_tiny_model(tiny_file: Path) -> None:
    as_json = run("inspect", "--json", str(tiny_file))
    assert as_json.exit_code == 0, as_json.stderr
    assert json.loads(as_json.stdout)["file_size"] == tiny_file.stat().st_size
    table = run("inspect", str(tiny_file), env=WIDE)
    assert table.exit_code == 0, table.stderr
    for text in ("MyOp", "0:2", "scale 0.5, zero point -3", "[?, 4]", "min_runtime_version"):
        assert text in table.stdout
    assert table.stderr == ""


# -- errors ------------------------------------------------------------------------------------


def assert_one_line_error(result: Result) -> None:
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("emberlite: error: "), result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("keep", [0, 0.25, 0.5, 0.9])
@pytest.mark.parametrize("as_json", [False, True])
def test_truncated_file(tiny_file: Path, tmp_path: Path, keep: float, as_json: bool) -> None:
    data = tiny_file.read_bytes()
    cut = tmp_path / "cut.tflite"
    cut.write_bytes(data[: int(len(data) * keep)])
    assert_one_line_error(run("inspect", *(["--json"] if as_json else []), str(cut)))


@pytest.mark.parametrize(
    "content", [b"not a model, just text\n" * 10, b"\x00" * 64, bytes(range(256))]
)
def test_not_a_model(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "junk.tflite"
    path.write_bytes(content)
    result = run("inspect", str(path))
    assert_one_line_error(result)
    assert str(path) in result.stderr


def test_missing_file_and_directory(tmp_path: Path) -> None:
    assert_one_line_error(run("inspect", str(tmp_path / "absent.tflite")))
    assert_one_line_error(run("inspect", str(tmp_path)))


def test_version() -> None:
    result = run("--version")
    assert result.exit_code == 0
    assert __version__ in result.stdout


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0 B"), (999, "999 B"), (1000, "1.0 kB"), (1_234_567, "1.2 MB"), (999_960, "1.0 MB")],
)
def test_human_bytes(n: int, text: str) -> None:
    assert human_bytes(n) == text

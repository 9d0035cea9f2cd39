"""`emberlite.convert` and `emberlite convert`: front-end choice, options, the report, atomic
output, and one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

import emberlite
import emberlite.converter as converter
from emberlite.cli import main
from emberlite.converter import ConversionError, convert
from emberlite.converter.ir import Graph
from emberlite.schema import read_model
from tests.converter.handmade import assert_close, cnn_graph, mlp_graph, rand, run_both


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def report_rows(output: str) -> dict[str, list[str]]:
    """The op table of the report: {op: [before, after]}."""
    rows = [line.split() for line in output.splitlines()]
    return {row[0]: row[1:] for row in rows if len(row) == 3 and row[0].isupper()}


def with_batch_norm() -> tuple[Graph, np.ndarray, np.ndarray]:
    """The MLP with a batch norm (MUL + ADD of constants) after the first dense, unfused."""
    g, _ = mlp_graph()
    dense = g.nodes[0]
    dense.options = {}  # the activation as its own node, as front ends lower it
    scale, shift = rand(16), rand(16)
    names = [g.add_tensor(n, (None, 16), np.float32) for n in ("scaled", "shifted", "relu")]
    g.nodes[1:1] = [
        g.add_node("MUL", ["hidden", g.add_constant("scale", scale)], [names[0]]),
        g.add_node("ADD", [names[0], g.add_constant("shift", shift)], [names[1]]),
        g.add_node("RELU", [names[1]], [names[2]]),
    ]
    del g.nodes[-3:]  # add_node appended them too
    g.nodes[4].inputs[0] = names[2]
    return g, scale, shift


@pytest.fixture
def handmade(monkeypatch, tmp_path):
    """`convert` of any path in tmp_path/"model" loads the graph this returns a setter for."""
    made: dict[str, Graph] = {}

    def load(path, *, signature):
        made["signature"] = signature
        return made["graph"]

    monkeypatch.setattr(converter, "_front_end", lambda source: load)

    def use(graph: Graph):
        made["graph"] = graph
        return made

    return use


def test_convert_optimizes_writes_and_reports(handmade, tmp_path):
    g, scale, shift = with_batch_norm()
    w1, b1, w2, b2 = (g.constant(n).copy() for n in ("w1", "b1", "w2", "b2"))
    made = handmade(g)
    out = tmp_path / "model.tflite"
    result = emberlite.convert(tmp_path / "model", out, signature="serving_default")
    assert made["signature"] == "serving_default"
    assert result.ops_before == {"FULLY_CONNECTED": 2, "MUL": 1, "ADD": 1, "RELU": 1, "SOFTMAX": 1}
    assert sum(result.ops_after.values()) < sum(result.ops_before.values())
    assert out.read_bytes() == result.content and result.size == len(result.content)
    assert result.output == out and result.seconds > 0
    x = rand(1, 8)
    (ours,) = run_both(result.content, [x])
    hidden = np.maximum((x @ w1.T + b1) * scale + shift, 0)
    z = hidden @ w2.T + b2
    e = np.exp(z - z.max(-1, keepdims=True))
    assert_close(ours, e / e.sum(-1, keepdims=True))


def test_no_optimize_and_disable_keep_the_lowered_ops(handmade, tmp_path):
    handmade(with_batch_norm()[0])
    plain = convert(tmp_path / "model", optimize=False)
    assert plain.ops_after == plain.ops_before and plain.output is None
    handmade(with_batch_norm()[0])
    kept = convert(tmp_path / "model", disable=["fuse_activation"])
    assert kept.ops_after.get("RELU") == 1
    with pytest.raises(ConversionError, match="no optimization pass named 'fold_everything'"):
        convert(tmp_path / "model", disable=["fold_everything"])


def test_float16_mode_halves_the_weights(handmade, tmp_path):
    handmade(cnn_graph(channels=128)[0])
    full = convert(tmp_path / "model")
    handmade(cnn_graph(channels=128)[0])
    half = convert(tmp_path / "model", quantize="float16")
    assert half.ops_after["DEQUANTIZE"] == 6 and "DEQUANTIZE" not in half.ops_before
    assert read_model(half.content).operator_codes[0].name == "DEQUANTIZE"
    assert half.size < 0.6 * full.size


def test_a_failing_conversion_leaves_an_existing_output_untouched(handmade, tmp_path):
    g, _ = mlp_graph()
    g.nodes[-1].op = "SOFTMAX_OF_THE_FUTURE"
    handmade(g)
    out = tmp_path / "model.tflite"
    out.write_bytes(b"the previous model")
    with pytest.raises(ConversionError, match="SOFTMAX_OF_THE_FUTURE"):
        convert(tmp_path / "model", out)
    assert out.read_bytes() == b"the previous model"
    assert [p.name for p in tmp_path.iterdir()] == ["model.tflite"]  # no temporary left


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "absent", "no such file or directory"),
        (lambda p: (p / "notes.txt").write_text("hi") and p / "notes.txt", "unknown model format"),
        (lambda p: p, "a directory without bundle.json is not a bundle"),
    ],
    ids=["missing", "unknown format", "not a bundle"],
)
def test_inputs_that_are_no_model_are_named(tmp_path, make, message):
    source = make(tmp_path)
    with pytest.raises(ConversionError, match=message) as info:
        convert(source)
    assert str(source) in str(info.value)


def test_unknown_quantize_mode_is_refused_before_loading(tmp_path):
    with pytest.raises(ConversionError, match="quantize='int4' is not a mode; choose one of"):
        convert(tmp_path / "absent", quantize="int4")


def test_an_unwritable_output_is_one_conversion_error(handmade, tmp_path):
    handmade(mlp_graph()[0])
    with pytest.raises(ConversionError, match="cannot write"):
        convert(tmp_path / "model", tmp_path / "no_dir" / "m.tflite")


# -- a real bundle ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def saved_cnn(tmp_path_factory):
    """A small trainer CNN saved as a bundle with labels and normalization, and its inputs."""
    import emberlite.trainer as et
    from emberlite.trainer import layers

    et.set_random_seed(0)
    inputs = et.Input(shape=(8, 8, 1), name="image")
    x = layers.Conv2D(4, 3, padding="same")(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(3, activation="softmax", name="probs")(x)
    model = et.Model(inputs, outputs)
    path = tmp_path_factory.mktemp("bundle") / "cnn"
    model.save(path, labels=["a", "b", "c"], normalization={"mean": 0.5, "std": 2})
    x = np.random.default_rng(1).normal(size=(1, 8, 8, 1)).astype(np.float32)
    return path, x, model.predict(x, verbose=0)


def test_cli_converts_a_bundle_that_predicts_like_the_trainer(saved_cnn, tmp_path):
    bundle, x, expected = saved_cnn
    out = tmp_path / "cnn.tflite"
    result = invoke("convert", bundle, "-o", out)
    assert result.exit_code == 0, result.output
    rows = report_rows(result.output)
    assert rows["CONV_2D"][1] == "1" and "RELU" in rows and rows["RELU"][1] == "0"
    (ours,) = run_both(out.read_bytes(), [x])
    assert_close(ours, expected)
    model = read_model(out)
    assert bytes(model.metadata_bytes("labels.txt")).split() == [b"a", b"b", b"c"]
    assert model.metadata_bytes("normalization.json") is not None


def test_a_bundle_in_float16_runs_within_1e_3(saved_cnn, tmp_path):
    bundle, x, expected = saved_cnn
    result = convert(bundle, quantize="float16")
    (ours,) = run_both(result.content, [x])
    np.testing.assert_allclose(ours, expected, rtol=1e-3, atol=1e-4)


def test_a_corrupt_bundle_is_one_line_and_keeps_the_output(tmp_path):
    bundle = tmp_path / "broken"
    bundle.mkdir()
    (bundle / "bundle.json").write_text("{ not json")
    out = tmp_path / "m.tflite"
    out.write_bytes(b"keep me")
    result = invoke("convert", bundle, "-o", out)
    assert result.exit_code == 1
    (line,) = result.output.splitlines()
    assert line.startswith("emberlite: error: ") and "broken" in line
    assert out.read_bytes() == b"keep me"


def test_cli_converts_an_onnx_file_like_onnxruntime(tmp_path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper, numpy_helper

    w, b = rand(4, 8), rand(4)
    graph = helper.make_graph(
        [
            helper.make_node("Gemm", ["x", "w", "b"], ["h"], transB=1),
            helper.make_node("Relu", ["h"], ["y"]),
        ],
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    source, out = tmp_path / "mlp.onnx", tmp_path / "mlp.tflite"
    onnx.save(model, source)
    result = invoke("convert", source, "-o", out)
    assert result.exit_code == 0, result.output
    x = rand(1, 8)
    (ours,) = run_both(out.read_bytes(), [x])
    assert_close(ours, ort.InferenceSession(str(source)).run(None, {"x": x})[0])


# -- the command ------------------------------------------------------------------------------


def test_cli_prints_ops_before_and_after_size_and_time(handmade, tmp_path):
    handmade(with_batch_norm()[0])
    out = tmp_path / "m.tflite"
    result = invoke("convert", tmp_path / "model", "-o", out, "--disable", "share_constants")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].split() == ["op", "before", "after"]
    rows = report_rows(result.output)
    assert rows["MUL"] == ["1", "0"] and rows["FULLY_CONNECTED"] == ["2", "2"]
    assert "ops: 6 -> " in result.output and "kB (" in result.output and " s" in result.output
    assert f"wrote {out}" in result.output
    assert read_model(out).subgraphs[0].operators


def test_cli_passes_quantize_no_optimize_and_comma_separated_disables(handmade, tmp_path):
    made = handmade(with_batch_norm()[0])
    out = tmp_path / "m.tflite"
    result = invoke(
        "convert",
        tmp_path / "model",
        "-o",
        out,
        "--quantize",
        "float16",
        "--signature",
        "infer",
        "--disable",
        "fuse_activation,share_constants",
    )
    assert result.exit_code == 0, result.output
    assert made["signature"] == "infer"
    ops = [read_model(out).op_name(op) for op in read_model(out).subgraphs[0].operators]
    assert "DEQUANTIZE" in ops and "RELU" in ops
    handmade(with_batch_norm()[0])
    result = invoke("convert", tmp_path / "model", "-o", out, "--no-optimize")
    assert result.exit_code == 0, result.output
    assert report_rows(result.output)["MUL"] == ["1", "1"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["absent"], "absent: no such file or directory"),
        (["notes.txt"], "unknown model format"),
        (["absent", "--quantize", "int8"], "quantize='int8' is not a mode"),
    ],
)
def test_cli_errors_are_one_line_and_exit_1(tmp_path, args, message):
    (tmp_path / "notes.txt").write_text("not a model")
    out = tmp_path / "m.tflite"
    out.write_bytes(b"keep me")
    source, *rest = args
    result = invoke("convert", tmp_path / source, "-o", out, *rest)
    assert result.exit_code == 1
    (line,) = result.output.splitlines()
    assert line.startswith("emberlite: error: ") and message in line
    assert out.read_bytes() == b"keep me"

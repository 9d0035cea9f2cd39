"""The writer: IR graphs built by hand -> .tflite bytes that read back the same and run in our
interpreter and in LiteRT; op versions LiteRT accepts; options, shapes, buffers, metadata."""

from __future__ import annotations

import numpy as np
import pytest

from emberlite import __version__
from emberlite.converter.ir import ConversionError, Graph
from emberlite.converter.op_versions import min_runtime_version, options_kind
from emberlite.converter.writer import to_model, write
from emberlite.interpreter import Interpreter
from emberlite.schema import TensorType, read_model
from tests.converter.handmade import assert_close, cnn_graph, mlp_graph, rand, run_both
from tests.interpreter.oneop import Const
from tests.litert import litert_interpreter


def one_op_graph(op, inputs, output_shapes, options=None, output_dtype=np.float32) -> Graph:
    """One node reading `inputs` (arrays: graph inputs in0, in1, ...; Const: constants)."""
    g = Graph()
    names = []
    for i, x in enumerate(inputs):
        if x is None:
            names.append(None)
        elif isinstance(x, Const):
            names.append(g.add_constant(f"c{i}", x.value))
        else:
            names.append(g.add_tensor(f"in{i}", x.shape, x.dtype))
            g.inputs.append(names[-1])
    outs = [g.add_tensor(f"out{j}", s, output_dtype) for j, s in enumerate(output_shapes)]
    g.add_node(op, names, outs, options)
    g.outputs = outs
    return g


def feeds(inputs) -> list[np.ndarray]:
    return [x for x in inputs if x is not None and not isinstance(x, Const)]


def versions(content: bytes) -> dict[str, int]:
    return {code.name: code.version for code in read_model(content).operator_codes}


# -- round trip -------------------------------------------------------------------------------


def test_round_trip_keeps_ops_tensors_options_signature_and_constants():
    g, _ = cnn_graph()
    g.input_names, g.output_names = ["pixels"], ["scores"]
    g.signature_key = "classify"
    model = read_model(write(g))
    sg = model.subgraphs[0]
    names = [t.name for t in sg.tensors]
    assert sorted(names) == sorted(g.tensors) and sg.name == "main"
    assert [model.op_name(op) for op in sg.operators] == [n.op for n in g.nodes]
    for op, node in zip(sg.operators, g.nodes, strict=True):
        assert [names[i] for i in op.inputs] == node.inputs
        assert [names[i] for i in op.outputs] == node.outputs
        if op.builtin_options is not None:
            assert op.builtin_options.kind == options_kind(node.op)
            assert node.options.items() <= op.builtin_options.as_dict().items()
    for t in sg.tensors:
        source = g.tensors[t.name]
        assert t.numpy_dtype == source.dtype
        if source.is_constant:
            np.testing.assert_array_equal(model.constant(t), source.data)
        else:
            assert model.constant(t) is None
    assert [names[i] for i in sg.inputs] == ["image"] and [names[i] for i in sg.outputs] == [
        "logits"
    ]
    (sig,) = model.signature_defs
    assert sig.signature_key == "classify"
    assert [(m.name, names[m.tensor_index]) for m in sig.inputs] == [("pixels", "image")]
    assert [(m.name, names[m.tensor_index]) for m in sig.outputs] == [("scores", "logits")]
    assert model.description == f"emberlite {__version__}"


def test_signature_names_default_to_tensor_names_and_litert_lists_them():
    g, _ = mlp_graph()
    content = write(g)
    assert litert_interpreter(content).get_signature_list() == {
        "serving_default": {"inputs": ["features"], "outputs": ["probs"]}
    }


# -- running ----------------------------------------------------------------------------------


def test_mlp_runs_in_both_interpreters_like_numpy():
    g, reference = mlp_graph(batch=4)
    x = rand(4, 8)
    (ours,) = run_both(write(g), [x])
    assert_close(ours, reference(x))


def test_cnn_runs_in_both_interpreters_like_numpy():
    g, reference = cnn_graph(batch=2)
    x = rand(2, 8, 8, 3)
    (ours,) = run_both(write(g), [x])
    assert_close(ours, reference(x))


def test_none_batch_is_1_in_shape_and_minus_1_in_signature_and_resizes():
    g, reference = cnn_graph(batch=None)
    content = write(g)
    sg = read_model(content).subgraphs[0]
    image = next(t for t in sg.tensors if t.name == "image")
    assert image.shape == (1, 8, 8, 3) and image.shape_signature == (-1, 8, 8, 3)
    weights = next(t for t in sg.tensors if t.name == "conv_w")
    assert weights.shape_signature is None
    x = rand(3, 8, 8, 3)
    for interpreter in (Interpreter(model_content=content), litert_interpreter(content)):
        (detail,) = interpreter.get_input_details()
        assert list(detail["shape_signature"]) == [-1, 8, 8, 3]
        interpreter.resize_tensor_input(detail["index"], [3, 8, 8, 3])
        interpreter.allocate_tensors()
        interpreter.set_tensor(detail["index"], x)
        interpreter.invoke()
        out = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
        assert_close(out, reference(x))


# -- op versions ------------------------------------------------------------------------------

x4 = rand(1, 6, 6, 4)
VERSION_CASES = {
    # name: (op, inputs, output shapes, options, expected version)
    "conv": ("CONV_2D", [x4, Const(rand(2, 3, 3, 4)), Const(rand(2))], [(1, 6, 6, 2)], {}, 1),
    "conv grouped": (
        "CONV_2D",
        [x4, Const(rand(6, 3, 3, 2)), Const(rand(6))],
        [(1, 6, 6, 6)],
        {"fused_activation_function": 1},
        6,
    ),
    "depthwise dilated": (
        "DEPTHWISE_CONV_2D",
        [x4, Const(rand(1, 3, 3, 4)), Const(rand(4))],
        [(1, 6, 6, 4)],
        {"dilation_w_factor": 2, "dilation_h_factor": 2},
        2,
    ),
    "dense with bias": ("FULLY_CONNECTED", [rand(2, 8), Const(rand(3, 8)), None], [(2, 3)], {}, 1),
    "dense, 2 inputs": ("FULLY_CONNECTED", [rand(2, 8), Const(rand(3, 8))], [(2, 3)], {}, 6),
    "dense keep_num_dims": (
        "FULLY_CONNECTED",
        [rand(2, 5, 8), Const(rand(3, 8)), Const(rand(3))],
        [(2, 5, 3)],
        {"keep_num_dims": True},
        5,
    ),
    "transpose conv with bias": (
        "TRANSPOSE_CONV",
        [Const(np.array([1, 8, 8, 2], np.int32)), Const(rand(2, 3, 3, 4)), rand(1, 4, 4, 4)]
        + [Const(rand(2))],
        [(1, 8, 8, 2)],
        {"padding": 0, "stride_w": 2, "stride_h": 2},
        3,
    ),
    "transpose conv fused relu": (
        "TRANSPOSE_CONV",
        [Const(np.array([1, 8, 8, 2], np.int32)), Const(rand(2, 3, 3, 4)), rand(1, 4, 4, 4)]
        + [Const(rand(2))],
        [(1, 8, 8, 2)],
        {"padding": 0, "stride_w": 2, "stride_h": 2, "fused_activation_function": 1},
        4,
    ),
    "bilinear half pixel": (
        "RESIZE_BILINEAR",
        [rand(1, 4, 4, 2), Const(np.array([8, 8], np.int32))],
        [(1, 8, 8, 2)],
        {"half_pixel_centers": True},
        3,
    ),
    "nearest half pixel": (
        "RESIZE_NEAREST_NEIGHBOR",
        [rand(1, 4, 4, 2), Const(np.array([8, 8], np.int32))],
        [(1, 8, 8, 2)],
        {"half_pixel_centers": True},
        3,
    ),
    "transpose 5-D": (
        "TRANSPOSE",
        [rand(2, 3, 1, 4, 5), Const(np.array([4, 3, 2, 1, 0], np.int32))],
        [(5, 4, 1, 3, 2)],
        None,
        4,
    ),
    "pad 5-D": (
        "PAD",
        [rand(1, 2, 3, 2, 2), Const(np.array([[0, 0], [1, 1], [0, 2], [1, 0], [0, 0]], np.int32))],
        [(1, 4, 5, 3, 2)],
        None,
        4,
    ),
    "sub broadcast 5-D": (
        "SUB",
        [rand(2, 1, 3, 1, 2), rand(1, 4, 1, 5, 1)],
        [(2, 4, 3, 5, 2)],
        {},
        3,
    ),
    "gather batch_dims": (
        "GATHER",
        [rand(2, 5, 3), Const(np.array([[0, 4], [3, 3]], np.int32))],
        [(2, 2, 3)],
        {"axis": 1, "batch_dims": 1},
        5,
    ),
    "slice 5-D": (
        "SLICE",
        [rand(2, 3, 4, 2, 2), Const(np.array([0, 1, 1, 0, 0], np.int32))]
        + [Const(np.array([2, 2, 2, 1, 2], np.int32))],
        [(2, 2, 2, 1, 2)],
        None,
        5,
    ),
    "broadcast_to": (
        "BROADCAST_TO",
        [rand(1, 3), Const(np.array([4, 3], np.int32))],
        [(4, 3)],
        None,
        2,
    ),
    "mean": ("MEAN", [x4, Const(np.array([1, 2], np.int32))], [(1, 4)], {}, 1),
}


@pytest.mark.parametrize("case", VERSION_CASES, ids=str)
def test_op_version_for_the_features_used_is_one_litert_runs(case):
    op, inputs, shapes, options, expected = VERSION_CASES[case]
    content = write(one_op_graph(op, inputs, shapes, options))
    assert versions(content) == {op: expected}
    run_both(content, feeds(inputs))  # LiteRT's resolver has this version; the outputs agree


def test_min_runtime_version_is_the_newest_op_needs_padded_to_16_bytes():
    g, _ = mlp_graph()
    g.add_tensor("extra", (None, 3), np.float32)
    g.add_node("FULLY_CONNECTED", ["probs", g.add_constant("w3", rand(3, 3))], ["extra"])
    g.outputs = ["extra"]
    model = read_model(write(g))
    assert {(c.name, c.version) for c in model.operator_codes} == {
        ("FULLY_CONNECTED", 1),
        ("FULLY_CONNECTED", 6),
        ("SOFTMAX", 1),
    }
    assert bytes(model.metadata_bytes("min_runtime_version")) == b"2.1.0".ljust(16, b"\0")
    assert bytes(model.metadata_bytes("producer")) == f"emberlite {__version__}".encode()
    assert min_runtime_version([("CONV_2D", 1), ("DEPTHWISE_CONV_2D", 2)]) == "1.12.0"
    assert min_runtime_version([("MEAN", 1), ("MEAN", 3), ("UNKNOWN_OP", 1)]) == "2.4.0"
    assert min_runtime_version([]) == ""


def test_user_metadata_entries_are_written_under_their_names():
    g, _ = mlp_graph()
    g.metadata = {"labels.txt": b"cat\ndog\nbird\n", "normalization.json": b'{"mean": [0.5]}'}
    model = read_model(write(g))
    assert [m.name for m in model.metadata] == [
        "min_runtime_version",
        "producer",
        "labels.txt",
        "normalization.json",
    ]
    assert bytes(model.metadata_bytes("labels.txt")) == b"cat\ndog\nbird\n"
    assert bytes(model.metadata_bytes("normalization.json")) == b'{"mean": [0.5]}'


# -- options, buffers, op codes ---------------------------------------------------------------


def test_omitted_options_get_tflite_defaults_and_what_the_tensors_imply():
    x = rand(1, 6, 6, 4)
    conv = one_op_graph(
        "CONV_2D", [x, Const(rand(2, 3, 3, 4)), None], [(1, 4, 4, 2)], {"padding": 1}
    )
    assert _options(conv) == {
        "padding": 1,
        "stride_w": 1,
        "stride_h": 1,
        "fused_activation_function": 0,
        "dilation_w_factor": 1,
        "dilation_h_factor": 1,
        "quantized_bias_type": 0,
    }
    depthwise = one_op_graph(
        "DEPTHWISE_CONV_2D", [x, Const(rand(1, 3, 3, 8)), None], [(1, 6, 6, 8)], {}
    )
    assert _options(depthwise)["depth_multiplier"] == 2
    argmax = one_op_graph(
        "ARG_MAX", [x, Const(np.int32(3))], [(1, 6, 6)], {}, output_dtype=np.int64
    )
    assert _options(argmax) == {"output_type": TensorType.INT64}
    split = one_op_graph("SPLIT", [Const(np.int32(3)), x], [(1, 6, 6, 2)] * 2, {})
    assert _options(split) == {"num_splits": 2}
    cast = one_op_graph("CAST", [x], [(1, 6, 6, 4)], {}, output_dtype=np.int32)
    assert _options(cast) == {"in_data_type": TensorType.FLOAT32, "out_data_type": TensorType.INT32}
    for g in (depthwise, argmax):  # LiteRT checks both fields against the tensors
        run_both(write(g), [x])


@pytest.mark.parametrize("op", ["CONV_2D", "DEPTHWISE_CONV_2D"])
@pytest.mark.parametrize("omitted", [[None], []], ids=["-1", "absent"])
def test_convolutions_without_bias_get_a_shared_zero_bias(op, omitted):
    x = rand(1, 6, 6, 4)
    g = Graph()
    g.add_tensor("x", x.shape, np.float32)
    g.inputs = ["x"]
    w = g.add_constant("w", rand(4, 3, 3, 4) if op == "CONV_2D" else rand(1, 3, 3, 4))
    for source, out in (("x", "y0"), ("y0", "y1")):
        g.add_tensor(out, (1, 6, 6, 4), np.float32)
        g.add_node(op, [source, w, *omitted], [out])
    g.outputs = ["y1"]
    model = to_model(g)
    sg = model.subgraphs[0]
    (bias,) = {op.inputs[2] for op in sg.operators}
    assert sg.tensors[bias].name == "zero_bias_4"
    np.testing.assert_array_equal(model.constant(sg.tensors[bias]), np.zeros(4, np.float32))
    assert g.nodes[0].inputs[2:] == omitted  # the graph itself is left as it was
    run_both(write(g), [x])  # LiteRT's float kernels refuse a convolution without bias


def _options(g: Graph) -> dict:
    return to_model(g).subgraphs[0].operators[0].builtin_options.as_dict()


def test_ops_without_options_tables_get_none_and_codes_are_shared():
    g = Graph()
    g.add_tensor("x", (2, 3), np.float32)
    g.inputs = ["x"]
    prev = "x"
    for i, op in enumerate(["RELU", "TANH", "RELU", "ADD"]):
        out = g.add_tensor(f"y{i}", (2, 3), np.float32)
        g.add_node(op, [prev, prev] if op == "ADD" else [prev], [out])
        prev = out
    g.outputs = [prev]
    model = to_model(g)
    assert [c.name for c in model.operator_codes] == ["RELU", "TANH", "ADD"]
    ops = model.subgraphs[0].operators
    assert [op.opcode_index for op in ops] == [0, 1, 0, 2]
    assert [op.builtin_options is None for op in ops] == [True, True, True, False]
    x = rand(2, 3)
    (ours,) = run_both(write(g), [x])
    assert_close(ours, 2 * np.maximum(np.tanh(np.maximum(x, 0)), 0))


def test_tensors_sharing_an_array_share_one_buffer_and_unused_tensors_are_dropped():
    shared = rand(3)
    g = Graph()
    g.add_tensor("x", (2, 3), np.float32)
    g.inputs = ["x"]
    a, b = g.add_constant("a", shared), g.add_constant("b", shared)
    g.tensors[b].data = g.tensors[a].data  # as the shared-constants pass leaves them
    g.add_constant("unused", rand(100))
    g.add_tensor("y", (2, 3), np.float32)
    g.add_tensor("z", (2, 3), np.float32)
    g.add_node("ADD", ["x", a], ["y"])
    g.add_node("MUL", ["y", b], ["z"])
    g.outputs = ["z"]
    model = to_model(g)
    tensors = {t.name: t for t in model.subgraphs[0].tensors}
    assert "unused" not in tensors
    assert tensors["a"].buffer == tensors["b"].buffer != 0
    assert len(model.buffers) == 1 + 1 + 2  # sentinel, the shared constant, two metadata
    x = rand(2, 3)
    (ours,) = run_both(write(g), [x])
    assert_close(ours, (x + shared) * shared)


# -- bad graphs -------------------------------------------------------------------------------


def test_every_problem_is_listed_at_once():
    g = one_op_graph("CONV_2D", [rand(1, 4, 4, 1), Const(rand(1, 1, 1, 1)), None], [(1, 4, 4, 1)])
    g.nodes[0].options = {"padding": 1, "strides": 2}
    g.add_tensor("t", (4,), np.float32)
    g.add_node("MAGIC_OP", ["out0"], ["t"], name="magic")
    g.add_tensor("s", (4,), np.float32)
    g.add_node("RELU", ["t"], ["s"], {"max": 6})
    text = g.add_constant("text", np.array(["a"]))
    g.add_tensor("u", (1,), np.float32)
    g.add_node("IDENTITY", [text], ["u"])
    g.outputs = ["s", "u"]
    with pytest.raises(ConversionError) as info:
        write(g)
    problems = info.value.problems
    assert len(problems) == 5, problems
    message = str(info.value)
    for part in (
        "Conv2DOptions has no field 'strides'",
        "'MAGIC_OP' is not a TFLite builtin op",
        "node 1 MAGIC_OP (magic)",
        "RELU has no options table, but got ['max']",
        "tensor 'text' has dtype <U1",
        "'IDENTITY' is not a TFLite builtin op",
    ):
        assert part in message


def test_an_inconsistent_graph_is_refused_before_writing():
    g, _ = mlp_graph()
    g.nodes[1].inputs[0] = "nowhere"
    with pytest.raises(ConversionError, match="cannot write an inconsistent graph") as info:
        write(g)
    assert any("'nowhere'" in p for p in info.value.problems)


def test_options_table_names_follow_the_schema():
    assert options_kind("CONV_2D") == "Conv2DOptions"
    assert options_kind("GATHER_ND") == "GatherNdOptions"
    assert options_kind("SELECT_V2") == "SelectV2Options"
    assert options_kind("MAX_POOL_2D") == options_kind("AVERAGE_POOL_2D") == "Pool2DOptions"
    assert options_kind("MEAN") == options_kind("REDUCE_MAX") == "ReducerOptions"
    assert options_kind("PADV2") == "PadV2Options"
    assert options_kind("BATCH_MATMUL") == "BatchMatMulOptions"
    assert options_kind("RELU") is options_kind("LOGISTIC") is None

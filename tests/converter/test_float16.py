"""float16 mode: float32 constants stored as float16 behind DEQUANTIZE nodes, as TFLite's float16
quantization does; files about half the size that run in both interpreters."""

from __future__ import annotations

import numpy as np

from emberlite.converter.float16 import to_float16
from emberlite.converter.ir import Graph
from emberlite.converter.writer import write
from emberlite.schema import read_model
from tests.converter.handmade import assert_close, cnn_graph, mlp_graph, rand, run_both


def test_every_float32_constant_read_by_a_node_becomes_float16_behind_a_dequantize():
    g, _ = cnn_graph()
    weights = {
        name: t.data.copy()
        for name, t in g.tensors.items()
        if t.is_constant and t.dtype == np.float32
    }
    assert to_float16(g) == len(weights) == 6  # weights and biases alike, as TFLite does
    g.validate()
    for name, original in weights.items():
        tensor = g.tensors[name]
        assert tensor.dtype == np.float16
        np.testing.assert_array_equal(tensor.data, original.astype(np.float16))
    assert g.tensors["axes"].dtype == np.int32  # integer constants stay as they are
    ops = [(n.op, n.inputs[0]) for n in g.nodes]
    # each DEQUANTIZE comes right before the first node reading its constant
    assert ops[:3] == [("DEQUANTIZE", "conv_w"), ("DEQUANTIZE", "conv_b"), ("CONV_2D", "image")]
    conv = g.nodes[2]
    assert conv.inputs[1:] == ["conv_w_dequantize", "conv_b_dequantize"]
    assert g.tensors["conv_w_dequantize"].dtype == np.float32


def test_a_constant_read_twice_gets_one_dequantize_and_shared_arrays_stay_shared():
    g = Graph()
    g.add_tensor("x", (2, 3), np.float32)
    g.inputs = ["x"]
    shared = rand(3)
    a, b = g.add_constant("a", shared), g.add_constant("b", shared)
    g.tensors[b].data = g.tensors[a].data
    for out, inputs in (("y", ["x", a]), ("z", ["y", a]), ("w", ["z", b])):
        g.add_tensor(out, (2, 3), np.float32)
        g.add_node("ADD", inputs, [out])
    g.outputs = ["w"]
    assert to_float16(g) == 2
    assert [n.op for n in g.nodes] == ["DEQUANTIZE", "ADD", "ADD", "DEQUANTIZE", "ADD"]
    assert g.nodes[1].inputs[1] == g.nodes[2].inputs[1] == "a_dequantize"
    assert g.tensors[a].data is g.tensors[b].data  # the writer will store it once
    x = rand(2, 3)
    half = shared.astype(np.float16).astype(np.float32)
    (ours,) = run_both(write(g), [x])
    assert_close(ours, x + 3 * half)


def test_values_beyond_float16_range_are_clamped_and_graph_output_constants_kept():
    g = Graph()
    g.add_tensor("x", (3,), np.float32)
    g.inputs = ["x"]
    c = g.add_constant("c", np.array([1e6, -1e6, 0.5], np.float32))
    g.add_tensor("y", (3,), np.float32)
    g.add_node("MUL", ["x", c], ["y"])
    g.outputs = ["y", c]
    assert to_float16(g) == 0  # c is also an output: its readers must see it as float32
    g.outputs = ["y"]
    assert to_float16(g) == 1
    np.testing.assert_array_equal(g.tensors[c].data, np.array([65504, -65504, 0.5], np.float16))


def test_float16_file_is_about_half_the_size_and_runs_within_1e_3():
    g32, reference = cnn_graph(batch=2, channels=256)  # 12k weights: the file is mostly data
    g16, _ = cnn_graph(batch=2, channels=256)
    for name, tensor in g32.tensors.items():  # the same weights in both
        g16.tensors[name].data = tensor.data
    to_float16(g16)
    f32, f16 = write(g32), write(g16)
    assert 0.5 < len(f16) / len(f32) < 0.55, (len(f16), len(f32))
    model = read_model(f16)
    codes = {c.name: c.version for c in model.operator_codes}
    assert codes["DEQUANTIZE"] == 3  # float16 input: version 3, as TFLite writes it
    x = rand(2, 8, 8, 3)
    (full,) = run_both(f32, [x])
    (half,) = run_both(f16, [x])
    assert_close(full, reference(x))
    np.testing.assert_allclose(half, full, rtol=1e-3, atol=1e-3 * np.abs(full).max())


def test_mlp_in_float16_runs_in_both():
    g, reference = mlp_graph(batch=3)
    to_float16(g)
    x = rand(3, 8)
    (ours,) = run_both(write(g), [x])
    np.testing.assert_allclose(ours, reference(x), rtol=1e-2, atol=1e-3)

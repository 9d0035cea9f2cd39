"""The traced graph: its JSON form round-trips exactly (attrs included), it prunes to what
its outputs need, and bad JSON is refused with the part at fault named."""

from __future__ import annotations

import json

import numpy as np
import pytest

import emberlite.trainer as et
import emberlite.trainer.nn as nn
from emberlite.trainer.function import TensorSpec, function
from emberlite.trainer.graph import (
    Const,
    Graph,
    GraphError,
    Input,
    Node,
    NodeOutput,
    Var,
    decode_attr,
    encode_attr,
)


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def round_trip(graph: Graph, variables=None) -> Graph:
    data, constants = graph.to_json()
    text = json.dumps(data)
    return Graph.from_json(json.loads(text), constants, variables or graph.variables)


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        3,
        -2.5,
        "SAME",
        (1, 2),
        ((0, 1), (2, 3)),
        [1, (2, 3)],
        (),
        slice(None, -1, 2),
        slice(np.int64(1), None, None),
        (Ellipsis, None, slice(2, None)),
        np.dtype("float16"),
        np.int64(7),
        np.float32(0.1),
        np.bool_(True),
        np.array([[0, 2], [1, 1]], np.int32),
        np.zeros((0, 3), np.int64),
        np.array([True, False]),
        np.array(np.float32(1.5)),
    ],
)
def test_attrs_round_trip_exactly(value):
    back = decode_attr(json.loads(json.dumps(encode_attr(value))))
    assert type(back) is type(value)
    if isinstance(value, np.ndarray | np.generic):
        assert back.dtype == value.dtype and back.shape == value.shape
        np.testing.assert_array_equal(back, value)
    else:
        assert back == value
        assert repr(back) == repr(value)  # nested types too: tuples stay tuples


def test_attr_encoding_is_readable_and_refuses_what_it_cannot_write():
    assert encode_attr((1, slice(None, 3, None))) == {"tuple": [1, {"slice": [None, 3, None]}]}
    assert encode_attr(np.dtype("float32")) == {"dtype": "float32"}
    assert encode_attr(np.float32) == {"dtype": "float32"}
    with pytest.raises(GraphError, match="cannot write an attr of type dict"):
        encode_attr({"a": 1})
    with pytest.raises(GraphError, match="unknown attr tag 'bogus'"):
        decode_attr({"bogus": 1})


def test_json_round_trip_of_a_cnn_gives_the_same_results():
    kernel, dense = (
        et.Variable(rand(3, 3, 2, 4) * 0.5, name="conv/kernel"),
        et.Variable(rand(4, 3, seed=1), name="dense/kernel"),
    )

    def model(x):
        h = nn.relu(nn.conv2d(x, kernel, 2, "SAME"))
        h = nn.max_pool2d(h, 2, 2, "VALID")[..., ::-1, None, 1:3]  # Ellipsis, newaxis, steps
        h = et.cast(et.cast(h * 100, np.int32), np.float32) / 100  # dtypes in attrs
        flat = et.reshape(h, (-1, 4))
        return nn.softmax(et.matmul(flat, dense) + np.float32(0.5))

    f = function(model, input_signature=[TensorSpec((None, 8, 4, 2), name="image")])
    x = rand(3, 8, 4, 2, seed=2)
    graph = f.get_concrete_function().graph
    data, constants = graph.to_json()
    assert data["inputs"] == [{"name": "image", "shape": [None, 8, 4, 2], "dtype": "float32"}]
    assert {"name": "conv/kernel", "shape": [3, 3, 2, 4], "dtype": "float32"} in data["variables"]
    conv = next(n for n in data["nodes"] if n["op"] == "conv2d")
    assert conv["inputs"] == [{"input": 0}, {"var": "conv/kernel"}]
    assert conv["outputs"] == [{"shape": [None, 4, 2, 4], "dtype": "float32"}]
    assert conv["attrs"]["strides"] == {"tuple": [2, 2]}
    index = next(n for n in data["nodes"] if n["op"] == "getitem")["attrs"]["index"]
    assert index == {
        "tuple": [{"ellipsis": None}, {"slice": [None, None, -1]}, None, {"slice": [1, 3, None]}]
    }
    back = round_trip(graph)
    assert back.nodes == graph.nodes and back.outputs == graph.outputs
    for n in (3, 5):
        x = rand(n, 8, 4, 2, seed=n)
        expected = model(x).numpy()
        np.testing.assert_array_equal(back.run([et.constant(x)])[0].numpy(), expected)
        np.testing.assert_array_equal(f(x).numpy(), expected)


def test_json_round_trip_of_a_training_step_keeps_the_assigns():
    w = et.Variable(rand(4, 2), name="w")

    @function
    def step(x):
        with et.GradientTape() as tape:
            loss = et.reduce_sum(et.matmul(x, w) ** 2)
        w.assign_sub(0.01 * tape.gradient(loss, w))
        return loss

    x = rand(3, 4, seed=1)
    graph = step.get_concrete_function(x).graph
    data, _ = graph.to_json()
    assign = data["nodes"][-1]
    assert (
        assign["op"] == "assign" and assign["var"] == "w" and set(assign) == {"op", "var", "value"}
    )
    twin = et.Variable(w.numpy(), name="w")
    back = round_trip(graph, {"w": twin})
    for _ in range(3):
        loss = step(x)
        np.testing.assert_array_equal(back.run([et.constant(x)])[0].numpy(), loss.numpy())
        np.testing.assert_array_equal(twin.numpy(), w.numpy())


def test_json_round_trip_of_tensor_indices():
    graph = function(lambda x, i: x[1:, i] * 2).get_concrete_function(rand(3, 4), np.int64(0)).graph
    data, _ = graph.to_json()
    getitem = data["nodes"][0]
    assert getitem["inputs"] == [{"input": 0}, {"input": 1}]
    assert getitem["attrs"] == {
        "index": {"tuple": [{"slice": [1, None, None]}, 0]},
        "at": {"tuple": [1]},
    }
    x = rand(3, 4, seed=1)
    for i in (3, -1, 2):
        out = round_trip(graph).run([et.constant(x), et.constant(np.int64(i))])[0]
        np.testing.assert_array_equal(out.numpy(), x[1:, i] * 2)


def test_prune_keeps_what_the_outputs_and_assigns_need():
    v = et.Variable(1.0, name="v")

    def f(x):
        unused = et.exp(x) * 2  # noqa: F841 - dead code the graph drops
        v.assign_add(1.0)
        return x + 1

    graph = function(f).get_concrete_function(np.ones(2, np.float32)).graph
    assert [n.op for n in graph.nodes] == ["read_variable", "add", "assign", "add"]
    forward = graph.prune(keep_assigns=False)
    assert [n.op for n in forward.nodes] == ["add"]
    assert forward.variables == {} and forward.outputs == [NodeOutput(0, 0)]
    np.testing.assert_array_equal(forward.run([et.constant([1.0, 2.0])])[0].numpy(), [2.0, 3.0])
    assert float(v) == 1.0


def test_variables_of_one_name_get_distinct_names():
    a, b = et.Variable(1.0, name="kernel"), et.Variable(2.0, name="kernel")
    graph = function(lambda x: x * a + b).get_concrete_function(np.float32(1)).graph
    assert graph.variables == {"kernel": a, "kernel_1": b}
    data, _ = graph.to_json()
    assert [v["name"] for v in data["variables"]] == ["kernel", "kernel_1"]
    np.testing.assert_array_equal(round_trip(graph).run([et.constant(3.0)])[0].numpy(), 5.0)


def test_constants_travel_beside_the_json():
    table = rand(3, 2, seed=4)
    graph = function(lambda x: x + table).get_concrete_function(np.ones((3, 2), np.float32)).graph
    data, constants = graph.to_json()
    ((name, array),) = constants.items()
    np.testing.assert_array_equal(array, table)
    assert data["nodes"][0]["inputs"] == [{"input": 0}, {"const": name}]


def make_graph(**changes) -> dict:
    graph = Graph(
        [TensorSpec((2,), name="x")],
        [
            Node("add", (Input(0), Const("c0")), {}, (TensorSpec((2,)),)),
            Node("assign", (Var("v"), NodeOutput(0))),
        ],
        [NodeOutput(0)],
        {"c0": np.ones(2, np.float32)},
        {"v": et.Variable([0.0, 0.0], name="v")},
    )
    data, _ = graph.to_json()
    return json.loads(json.dumps(data)) | changes


@pytest.mark.parametrize(
    ("data", "variables", "message"),
    [
        (make_graph(), {}, "the graph needs variable 'v', which was not given"),
        (make_graph(), {"v": et.Variable([0, 0, 0])}, "variable 'v' has shape \\[3\\] int32"),
        (
            make_graph(nodes=[{"op": "nope", "inputs": [], "attrs": {}, "outputs": []}]),
            None,
            "node 0: unknown op 'nope'",
        ),
        (
            make_graph(outputs=[{"node": 5, "output": 0}]),
            None,
            "the outputs: .* is not in the graph",
        ),
        (make_graph(outputs=[{"const": "c9"}]), None, "\\{'const': 'c9'\\} is not in the graph"),
        (make_graph(outputs=[{"what": 1}]), None, "not a reference"),
        (make_graph(outputs=[{"node": 0, "output": 1}]), None, "'output': 1\\} is not in"),
        (make_graph(nodes=[{"op": "add"}]), None, "malformed graph JSON: KeyError: 'inputs'"),
    ],
)
def test_bad_json_is_refused_naming_the_fault(data, variables, message):
    given = {"v": et.Variable([0.0, 0.0])} if variables is None else variables
    with pytest.raises(GraphError, match=message):
        Graph.from_json(data, {"c0": np.ones(2, np.float32)}, given)


def test_from_json_runs_a_hand_written_graph():
    v = et.Variable([0.0, 0.0], name="v")
    graph = Graph.from_json(make_graph(), {"c0": np.ones(2, np.float32)}, {"v": v})
    out = graph.run([et.constant([1.0, 2.0])])
    np.testing.assert_array_equal(out[0].numpy(), [2.0, 3.0])
    np.testing.assert_array_equal(v.numpy(), [2.0, 3.0])
    with pytest.raises(GraphError, match="the graph takes 1 inputs, got 0"):
        graph.run([])
    with pytest.raises(
        GraphError, match=r"input 0 \(x\) must have shape \(2,\) float32, got \(3,\)"
    ):
        graph.run([et.constant([1.0, 2.0, 3.0])])

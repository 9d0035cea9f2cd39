"""The optimization passes, one by one and together: small graphs built by hand, the op list
after the pass, and the numbers: the graph before and after is written and run, the optimized
one in our interpreter and in LiteRT, within 1e-5 of the original."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from emberlite.converter.ir import ConversionError, Graph
from emberlite.converter.passes import PASSES, optimize
from emberlite.converter.writer import write
from emberlite.interpreter import Interpreter
from emberlite.schema import QuantizationParameters
from tests.litert import litert_interpreter

RNG = np.random.default_rng(7)
RELU, RELU_N1_TO_1, RELU6, TANH = 1, 2, 3, 4
SAME, VALID = 0, 1


def rand(*shape: int, scale: float = 1.0) -> np.ndarray:
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


class Net:
    """A graph written op by op: `net.op("RELU", [x], shape)` returns the output's name."""

    def __init__(self, **inputs: tuple[int | None, ...]):
        self.graph = Graph()
        for name, shape in inputs.items():
            self.graph.add_tensor(name, shape, np.float32)
            self.graph.inputs.append(name)

    def const(self, value: Any, dtype: Any = np.float32, name: str = "c") -> str:
        return self.graph.add_constant(name, value, dtype)

    def op(
        self, op: str, inputs: list[str | None], shape: tuple, dtype: Any = np.float32, **options
    ) -> str:
        out = self.graph.add_tensor(op.lower(), shape, dtype)
        self.graph.add_node(op, inputs, [out], options)
        return out

    def done(self, *outputs: str) -> Graph:
        self.graph.outputs = list(outputs)
        self.graph.validate()
        return self.graph


def run(interpreter: Any, feeds: list[np.ndarray]) -> list[np.ndarray]:
    for d, x in zip(interpreter.get_input_details(), feeds, strict=True):
        interpreter.resize_tensor_input(d["index"], x.shape)
    interpreter.allocate_tensors()
    for d, x in zip(interpreter.get_input_details(), feeds, strict=True):
        interpreter.set_tensor(d["index"], x)
    interpreter.invoke()
    return [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]


def outputs_of(graph: Graph, feeds: list[np.ndarray], *, litert: bool = False) -> list:
    content = write(graph)
    return run(litert_interpreter(content) if litert else Interpreter(model_content=content), feeds)


def assert_close(got: list[np.ndarray], want: list[np.ndarray], what: str) -> None:
    assert len(got) == len(want), what
    for a, b in zip(got, want, strict=True):
        assert a.shape == b.shape, f"{what}: shape {a.shape}, expected {b.shape}"
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5, err_msg=what)


def optimized(
    graph: Graph, feeds: list[np.ndarray], passes: Callable[[Graph], Any]
) -> list[np.ndarray]:
    """Apply `passes` to `graph`; assert it still computes what it did, in both runtimes.
    Returns the original outputs."""
    want = outputs_of(graph, feeds)
    passes(graph)
    graph.validate()
    assert_close(outputs_of(graph, feeds), want, "emberlite after the pass")
    assert_close(outputs_of(graph, feeds, litert=True), want, "LiteRT after the pass")
    return want


def one(name: str) -> Callable[[Graph], bool]:
    """Run pass `name` alone; it must report a change."""

    def apply(graph: Graph) -> bool:
        assert PASSES[name](graph), f"{name} changed nothing"
        return True

    return apply


def ops(graph: Graph) -> list[str]:
    return [n.op for n in graph.nodes]


def conv_net(x_shape=(None, 6, 6, 3), cout=4, bias: bool = True, **conv) -> tuple[Net, str]:
    net = Net(x=x_shape)
    options = {"padding": SAME, "stride_w": 1, "stride_h": 1, **conv}
    inputs = ["x", net.const(rand(cout, 3, 3, x_shape[3]), name="w")]
    if bias:  # without, the conv has no bias input (the writer gives LiteRT zeros)
        inputs.append(net.const(rand(cout), name="b"))
    return net, net.op("CONV_2D", inputs, (*x_shape[:3], cout), **options)


# -- fold_constants ---------------------------------------------------------------------------


def test_fold_constants_computes_constant_subgraphs_with_the_interpreters_kernels():
    net, weights = Net(x=(None, 4)), rand(4, 3)
    w = net.op("TRANSPOSE", [net.const(weights), net.const([1, 0], np.int32)], (3, 4))
    b = net.op("ADD", [net.const(rand(3)), net.const(rand(3))], (3,))
    y = net.op("FULLY_CONNECTED", ["x", w, b], (None, 3))
    graph = net.done(y)
    optimized(graph, [rand(2, 4)], one("fold_constants"))
    assert ops(graph) == ["FULLY_CONNECTED"]
    np.testing.assert_array_equal(graph.constant(graph.nodes[0].inputs[1]), weights.T)


def test_fold_constants_keeps_dequantize_and_names_a_shape_disagreement():
    net = Net(x=(2,))
    half = net.op("DEQUANTIZE", [net.const([1.5, 2.0], np.float16)], (2,))
    graph = net.done(net.op("ADD", ["x", half], (2,)))
    assert not PASSES["fold_constants"](graph)
    assert ops(graph) == ["DEQUANTIZE", "ADD"]

    net = Net()
    wrong = net.op("ADD", [net.const(rand(3)), net.const(rand(3))], (4,))
    graph = net.done(wrong)
    with pytest.raises(ConversionError, match=r"ADD \(add\) computes 'add' as \[3\], .* \[4\]"):
        PASSES["fold_constants"](graph)

    net = Net()
    graph = net.done(net.op("ADD", [net.const(rand(3)), net.const(rand(4))], (4,)))
    with pytest.raises(ConversionError, match=r"ADD \(add\) cannot be computed\n.*broadcast"):
        PASSES["fold_constants"](graph)


# -- remove_dead ------------------------------------------------------------------------------


def test_remove_dead_drops_unread_nodes_and_tensors_but_keeps_inputs():
    net = Net(x=(None, 3), unused=(1,))
    kept = net.op("RELU", ["x"], (None, 3))
    net.op("TANH", [net.op("ABS", ["x"], (None, 3))], (None, 3))
    net.const(rand(5), name="orphan")
    graph = net.done(kept)
    optimized(graph, [rand(2, 3), rand(1)], one("remove_dead"))
    assert ops(graph) == ["RELU"]
    assert set(graph.tensors) == {"x", "unused", kept}
    assert not PASSES["remove_dead"](graph)

    graph.add_node("ASSIGN_VARIABLE", ["x", kept], [])  # no outputs: kept for its effect
    assert not PASSES["remove_dead"](graph)


# -- remove_identity --------------------------------------------------------------------------


def test_remove_identity_drops_ops_that_change_nothing():
    net = Net(x=(None, 2, 3))
    y = net.op("ABS", ["x"], (None, 2, 3))
    y = net.op("RESHAPE", [y, net.const([-1, 2, 3], np.int32)], (None, 2, 3))
    y = net.op("TRANSPOSE", [y, net.const([0, 1, 2], np.int32)], (None, 2, 3))
    y = net.op("PAD", [y, net.const(np.zeros((3, 2)), np.int32)], (None, 2, 3))
    y = net.op("ADD", [net.const(np.zeros((1, 3))), y], (None, 2, 3))
    y = net.op("SUB", [y, net.const(0.0)], (None, 2, 3))
    y = net.op("MUL", [y, net.const(np.ones(3))], (None, 2, 3))
    y = net.op("DIV", [y, net.const(1.0)], (None, 2, 3))
    y = net.op("CAST", [y], (None, 2, 3))
    y = net.op("CONCATENATION", [y], (None, 2, 3), axis=1)
    graph = net.done(net.op("RELU", [y], (None, 2, 3)))
    optimized(graph, [rand(2, 2, 3)], one("remove_identity"))
    assert ops(graph) == ["ABS", "RELU"]


def test_remove_identity_keeps_the_output_name_and_what_only_looks_like_identity():
    net = Net(x=(None, 3), two=(None, None))
    y = net.op("NEG", ["x"], (None, 3))
    out = net.op("RESHAPE", [y, net.const([-1, 3], np.int32)], (None, 3))
    passthrough = net.op("RESHAPE", ["x", net.const([-1, 3], np.int32)], (None, 3))
    y, two = net.op("ABS", ["x"], (None, 3)), net.op("ABS", ["two"], (None, None))
    looks = [
        net.op("ADD", [y, net.const(np.zeros((2, 1)))], (2, 3)),  # broadcasting grows y
        net.op("SUB", [net.const(0.0), y], (None, 3)),  # 0 - y
        net.op("MUL", [y, net.const(1.0)], (None, 3), fused_activation_function=RELU),
        net.op("MUL", [y, net.const([1.0, 1.0, 2.0])], (None, 3)),
        net.op("RESHAPE", [two, net.const([-1, 3], np.int32)], (None, None)),  # 2 unknowns
    ]
    graph = net.done(
        out, passthrough, *(net.op("NEG", [t], net.graph.tensors[t].shape) for t in looks)
    )
    optimized(graph, [rand(2, 3), rand(3, 2)], one("remove_identity"))
    # The first NEG now writes the graph output itself; an input handed straight to an
    # output stays.
    assert ops(graph)[:7] == ["NEG", "RESHAPE", "ABS", "ABS", "ADD", "SUB", "MUL"]
    assert ops(graph)[7:9] == ["MUL", "RESHAPE"]
    assert graph.outputs[0] == out and graph.nodes[0].outputs == [out]


# -- fold_batch_norm --------------------------------------------------------------------------


def test_fold_batch_norm_folds_scale_and_shift_into_conv_filter_and_a_new_bias():
    net, y = conv_net(bias=False)
    scale, shift = rand(4), rand(1, 1, 1, 4)
    y = net.op("MUL", [y, net.const(scale)], (None, 6, 6, 4))
    y = net.op("ADD", [net.const(shift), y], (None, 6, 6, 4), fused_activation_function=RELU6)
    graph = net.done(y)
    x = rand(2, 6, 6, 3)
    want = optimized(graph, [x], one("fold_batch_norm"))
    assert ops(graph) == ["CONV_2D"]
    conv = graph.nodes[0]
    assert conv.options["fused_activation_function"] == RELU6 and conv.outputs == [y]
    np.testing.assert_allclose(graph.constant(conv.inputs[2]), shift.reshape(4), rtol=1e-6)
    assert (want[0] >= 0).all() and (want[0] <= 6).all()


@pytest.mark.parametrize(
    ("host", "arithmetic"),
    [
        ("DEPTHWISE_CONV_2D", ["DIV", "SUB"]),
        ("FULLY_CONNECTED", ["ADD"]),  # the bias add of a dense without bias
        ("TRANSPOSE_CONV", ["MUL", "ADD"]),
    ],
)
def test_fold_batch_norm_and_activations_go_into_every_host(host: str, arithmetic: list[str]):
    if host == "FULLY_CONNECTED":
        net = Net(x=(None, 5))
        y = net.op(host, ["x", net.const(rand(4, 5)), None], (None, 4))
        shape = (None, 4)
    elif host == "DEPTHWISE_CONV_2D":
        net = Net(x=(None, 5, 5, 2))
        w, b = net.const(rand(1, 3, 3, 4)), net.const(rand(4))
        shape = (None, 3, 3, 4)
        y = net.op(host, ["x", w, b], shape, padding=VALID, depth_multiplier=2)
    else:
        net = Net(x=(1, 4, 4, 3))
        out_shape = net.const([1, 8, 8, 4], np.int32)
        w = net.const(rand(4, 3, 3, 3))
        shape = (1, 8, 8, 4)
        y = net.op(host, [out_shape, w, "x"], shape, padding=SAME, stride_w=2, stride_h=2)
    for op in arithmetic:
        y = net.op(op, [y, net.const(rand(4) + 3.0)], shape)
    graph = net.done(net.op("RELU6", [y], shape))
    feed = rand(*[2 if d is None else d for d in graph.tensors["x"].shape], scale=3)
    optimized(graph, [feed], lambda g: optimize(g, ["fold_batch_norm", "fuse_activation"]))
    assert ops(graph) == [host]
    assert graph.nodes[0].options["fused_activation_function"] == RELU6


@pytest.mark.parametrize(
    "case", ["after a fused activation", "read twice", "not per channel", "constant minus conv"]
)
def test_fold_batch_norm_leaves_what_it_cannot_fold(case: str):
    activation = RELU if case == "after a fused activation" else 0
    net, y = conv_net(fused_activation_function=activation)
    if case == "not per channel":
        out = net.op("MUL", [y, net.const(rand(6, 1, 1))], (None, 6, 6, 4))
    elif case == "constant minus conv":
        out = net.op("SUB", [net.const(rand(4)), y], (None, 6, 6, 4))
    else:
        out = net.op("ADD", [y, net.const(rand(4))], (None, 6, 6, 4))
    graph = net.done(out, *([y] if case == "read twice" else []))
    assert not PASSES["fold_batch_norm"](graph)


# -- fuse_activation --------------------------------------------------------------------------


def test_fuse_activation_moves_clamps_into_their_producers():
    net, y = conv_net()
    y = net.op("RELU", [y], (None, 6, 6, 4))
    pool = {"stride_w": 2, "stride_h": 2, "filter_width": 2, "filter_height": 2}
    pooled = net.op("MAX_POOL_2D", [y], (None, 3, 3, 4), padding=VALID, **pool)
    y = net.op("ADD", [pooled, net.const(rand(4))], (None, 3, 3, 4))
    y = net.op("MAXIMUM", [y, net.const(0.0)], (None, 3, 3, 4))
    y = net.op("MINIMUM", [net.const(np.full((1, 4), 6.0)), y], (None, 3, 3, 4))
    z = net.op("MUL", [pooled, net.const(-0.25)], (None, 3, 3, 4))
    graph = net.done(y, net.op("RELU_N1_TO_1", [z], (None, 3, 3, 4)))
    optimized(graph, [rand(2, 6, 6, 3, scale=4)], one("fuse_activation"))
    assert ops(graph) == ["CONV_2D", "MAX_POOL_2D", "ADD", "MUL"]
    fused = [n.options.get("fused_activation_function") for n in graph.nodes]
    assert fused == [RELU, None, RELU6, RELU_N1_TO_1]


def test_fuse_activation_merges_clamps_on_their_own():
    net = Net(x=(None, 5))
    low = net.op("MAXIMUM", [net.op("MINIMUM", ["x", net.const(1.0)], (None, 5)),
                             net.const([-1.0])], (None, 5))  # fmt: skip
    six = net.op("RELU", [net.op("RELU6", ["x"], (None, 5))], (None, 5))
    plain = net.op("MAXIMUM", [net.const(0.0), "x"], (None, 5))
    graph = net.done(low, six, plain)
    optimized(graph, [rand(3, 5, scale=4)], one("fuse_activation"))
    assert ops(graph) == ["RELU_N1_TO_1", "RELU6", "RELU"]


def test_fuse_activation_leaves_what_litert_would_compute_differently():
    net, y = conv_net()
    tanh = net.op("TANH", [y], (None, 6, 6, 4))
    joined = net.op("CONCATENATION", ["x", "x"], (None, 6, 6, 6), axis=3)
    after_concat = net.op("RELU", [joined], (None, 6, 6, 6))
    net2, y2 = conv_net()
    read_twice = net2.op("RELU", [y2], (None, 6, 6, 4))
    clip_too_narrow = net2.op("MAXIMUM", [y2, net2.const(0.5)], (None, 6, 6, 4))
    assert not PASSES["fuse_activation"](net.done(tanh, after_concat))
    assert not PASSES["fuse_activation"](net2.done(read_twice, clip_too_narrow, y2))


@pytest.mark.parametrize(("op", "code"), [("CONV_2D", TANH), ("CONCATENATION", RELU)])
def test_litert_does_not_apply_these_fused_activations(op: str, code: int):
    """Why fuse_activation leaves TANH and CONCATENATION alone."""
    if op == "CONV_2D":
        net, y = conv_net(fused_activation_function=code)
    else:
        net = Net(x=(None, 6, 6, 3))
        y = net.op(op, ["x", "x"], (None, 6, 6, 6), axis=3, fused_activation_function=code)
    x = rand(1, 6, 6, 3, scale=3)
    try:
        got = outputs_of(net.done(y), [x], litert=True)[0]
    except RuntimeError as e:
        assert "activation" in str(e)  # refused
    else:  # ignored: the result is not in tanh's range
        assert np.abs(got).max() > 1.5


# -- fold_padding -----------------------------------------------------------------------------


def padded(net: Net, pads: list[list[int]], size: int, value: float | None = None) -> str:
    shape = (None, size + pads[1][0] + pads[1][1], size + pads[2][0] + pads[2][1], 3)
    paddings = net.const(np.array(pads), np.int32)
    if value is None:
        return net.op("PAD", ["x", paddings], shape)
    return net.op("PADV2", ["x", paddings, net.const(value)], shape)


@pytest.mark.parametrize("op", ["CONV_2D", "DEPTHWISE_CONV_2D"])
@pytest.mark.parametrize(
    ("size", "pads", "geometry"),
    [
        (6, [1, 1], {}),
        (8, [0, 1], {"stride_h": 2, "stride_w": 2}),  # SAME puts the odd pad after
        (7, [2, 2], {"dilation_h_factor": 2, "dilation_w_factor": 2}),
    ],
)
def test_fold_padding_turns_an_explicit_pad_into_same_padding(op, size, pads, geometry):
    net = Net(x=(None, size, size, 3))
    y = padded(net, [[0, 0], pads, pads, [0, 0]], size)
    w = net.const(rand(4, 3, 3, 3) if op == "CONV_2D" else rand(1, 3, 3, 3))
    out = -(-size // geometry.get("stride_h", 1))
    cout = 4 if op == "CONV_2D" else 3
    b = net.const(rand(cout))
    z = net.op(op, [y, w, b], (None, out, out, cout), padding=VALID, **geometry)
    graph = net.done(z)
    optimized(graph, [rand(2, size, size, 3)], one("fold_padding"))
    assert ops(graph) == [op] and graph.nodes[0].options["padding"] == SAME


def test_fold_padding_folds_max_pool_only_with_minus_infinity_pads():
    pool = {"padding": VALID, "filter_width": 3, "filter_height": 3, "stride_w": 2, "stride_h": 2}
    net = Net(x=(None, 6, 6, 3))
    lowest = padded(net, [[0, 0], [0, 1], [0, 1], [0, 0]], 6, value=-np.inf)
    zeros = padded(net, [[0, 0], [0, 1], [0, 1], [0, 0]], 6)
    avg = padded(net, [[0, 0], [0, 1], [0, 1], [0, 0]], 6)
    graph = net.done(
        net.op("MAX_POOL_2D", [lowest], (None, 3, 3, 3), **pool),
        net.op("MAX_POOL_2D", [zeros], (None, 3, 3, 3), **pool),
        net.op("AVERAGE_POOL_2D", [avg], (None, 3, 3, 3), **pool),
    )
    optimized(graph, [rand(2, 6, 6, 3) - 5.0], one("fold_padding"))
    assert ops(graph) == ["PAD", "PAD", "MAX_POOL_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D"]
    assert [n.options.get("padding") for n in graph.nodes[2:]] == [SAME, VALID, VALID]


def test_fold_padding_leaves_pads_that_are_not_sames():
    net = Net(x=(None, 8, 8, 3))
    y = padded(net, [[0, 0], [1, 1], [1, 1], [0, 0]], 8)  # PyTorch's symmetric pads, stride 2
    w, b = net.const(rand(4, 3, 3, 3)), net.const(rand(4))
    graph = net.done(
        net.op("CONV_2D", [y, w, b], (None, 4, 4, 4), padding=VALID, stride_w=2, stride_h=2)
    )
    assert not PASSES["fold_padding"](graph)


# -- cancel_transposes ------------------------------------------------------------------------


def test_cancel_transposes_merges_transposes_and_reshapes():
    net = Net(x=(None, 2, 3, 4))
    y = net.op("ABS", ["x"], (None, 2, 3, 4))
    nchw = net.op("TRANSPOSE", [y, net.const([0, 3, 1, 2], np.int32)], (None, 4, 2, 3))
    back = net.op("TRANSPOSE", [nchw, net.const([0, 2, 3, 1], np.int32)], (None, 2, 3, 4))
    swapped = net.op("TRANSPOSE", [nchw, net.const([0, 1, 3, 2], np.int32)], (None, 4, 3, 2))
    flat = net.op("RESHAPE", ["x", net.const([-1, 6, 4], np.int32)], (None, 6, 4))
    again = net.op("RESHAPE", [flat, net.const([-1, 24], np.int32)], (None, 24))
    graph = net.done(net.op("RELU", [back], (None, 2, 3, 4)), swapped, again)
    optimized(graph, [rand(2, 2, 3, 4)], one("cancel_transposes"))
    PASSES["remove_dead"](graph)
    assert ops(graph) == ["ABS", "TRANSPOSE", "RESHAPE", "RELU"]
    assert graph.nodes[3].inputs == [y]
    assert graph.nodes[1].inputs[0] == y and graph.constant(graph.nodes[1].inputs[1]).tolist() == [
        0, 3, 2, 1
    ]  # fmt: skip
    assert graph.nodes[2].inputs[0] == "x"


def test_cancel_transposes_makes_a_reshape_of_a_transpose_that_moves_only_unit_dims():
    net = Net(x=(None, 1, 5, 1))
    graph = net.done(net.op("TRANSPOSE", ["x", net.const([0, 3, 2, 1], np.int32)], (None, 1, 5, 1)))
    graph.nodes[0].inputs[1] = graph.add_constant("perm", np.array([3, 0, 1, 2], np.int32))
    graph.tensors[graph.outputs[0]].shape = (1, None, 1, 5)
    optimized(graph, [rand(3, 1, 5, 1)], one("cancel_transposes"))
    assert ops(graph) == ["RESHAPE"]
    assert graph.constant(graph.nodes[0].inputs[1]).tolist() == [1, -1, 1, 5]


def test_cancel_transposes_moves_an_nchw_flatten_into_the_dense_weights():
    net = Net(x=(None, 3, 2, 4))
    nchw = net.op("TRANSPOSE", ["x", net.const([0, 3, 1, 2], np.int32)], (None, 4, 3, 2))
    flat = net.op("RESHAPE", [nchw, net.const([-1, 24], np.int32)], (None, 24))
    w = net.const(rand(5, 24))
    one_head = net.op("FULLY_CONNECTED", [flat, w, None], (None, 5))
    other_head = net.op("FULLY_CONNECTED", [flat, w, net.const(rand(5))], (None, 5))
    graph = net.done(one_head, other_head)
    optimized(graph, [rand(2, 3, 2, 4)], one("cancel_transposes"))
    assert ops(graph) == ["RESHAPE", "FULLY_CONNECTED", "FULLY_CONNECTED"]


# -- share_constants --------------------------------------------------------------------------


def test_share_constants_keeps_one_copy_of_equal_constants():
    net = Net(x=(None, 3))
    a = net.op("ADD", ["x", net.const([1.0, 2.0, 3.0])], (None, 3))
    b = net.op("ADD", [a, net.const([1.0, 2.0, 3.0])], (None, 3))
    c = net.op("MUL", [b, net.const(np.arange(1.0, 4.0))], (None, 3))
    ints = net.op("ADD", [net.op("CAST", [c], (None, 3), np.int32),
                          net.const([1, 2, 3], np.int32)], (None, 3), np.int32)  # fmt: skip
    graph = net.done(ints)
    optimized(graph, [rand(2, 3)], one("share_constants"))
    constants = {n for n, t in graph.tensors.items() if t.is_constant}
    assert len(constants) == 2  # one float32 [1, 2, 3] and the int32 one
    assert graph.nodes[0].inputs[1] == graph.nodes[1].inputs[1] == graph.nodes[2].inputs[1]

    graph.tensors[graph.nodes[1].inputs[1]].quantization = QuantizationParameters((0.5,), (0,))
    graph.nodes[1].inputs[1] = graph.add_constant("c", [1.0, 2.0, 3.0], np.float32)
    assert not PASSES["share_constants"](graph)  # other quantization: not the same constant


# -- optimize ---------------------------------------------------------------------------------


def digits_cnn() -> Graph:
    """A digits-style CNN as a front end lowers it: explicit pad, conv + batch norm + relu,
    max pool, NCHW flatten, dense + bias + relu, dense, softmax."""
    net = Net(image=(None, 8, 8, 1))
    net.graph.input_names = ["image"]
    y = net.op("PAD", ["image", net.const([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32)],
               (None, 10, 10, 1))  # fmt: skip
    y = net.op("CONV_2D", [y, net.const(rand(6, 3, 3, 1))], (None, 8, 8, 6), padding=VALID)
    y = net.op("ADD", [y, net.const(rand(6))], (None, 8, 8, 6))  # the conv's bias
    scale = net.op("MUL", [net.const(rand(6)), net.const(0.5)], (6,))  # gamma / sqrt(var)
    y = net.op("MUL", [y, scale], (None, 8, 8, 6))
    y = net.op("ADD", [y, net.const(rand(6))], (None, 8, 8, 6))
    y = net.op("RELU", [y], (None, 8, 8, 6))
    pool = {"padding": VALID, "filter_width": 2, "filter_height": 2, "stride_w": 2, "stride_h": 2}
    y = net.op("MAX_POOL_2D", [y], (None, 4, 4, 6), **pool)
    y = net.op("TRANSPOSE", [y, net.const([0, 3, 1, 2], np.int32)], (None, 6, 4, 4))
    y = net.op("RESHAPE", [y, net.const([-1, 96], np.int32)], (None, 96))
    y = net.op("FULLY_CONNECTED", [y, net.const(rand(16, 96)), None], (None, 16))
    y = net.op("ADD", [y, net.const(rand(16))], (None, 16))
    y = net.op("MAXIMUM", [y, net.const(0.0)], (None, 16))
    y = net.op("FULLY_CONNECTED", [y, net.const(rand(10, 16)), net.const(rand(10))], (None, 10))
    y = net.op("DIV", [y, net.const(1.0)], (None, 10))
    graph = net.done(net.op("SOFTMAX", [y], (None, 10), beta=1.0))
    graph.output_names = ["probabilities"]
    return graph


def test_optimize_leaves_a_lean_cnn_with_the_same_numbers(monkeypatch):
    monkeypatch.setenv("EMBERLITE_VALIDATE_PASSES", "1")
    graph = digits_cnn()
    counts: dict[str, int] = {}
    optimized(graph, [rand(3, 8, 8, 1)], lambda g: counts.update(optimize(g)))
    assert ops(graph) == [
        "CONV_2D",
        "MAX_POOL_2D",
        "RESHAPE",
        "FULLY_CONNECTED",
        "FULLY_CONNECTED",
        "SOFTMAX",
    ]
    conv, _, _, dense, _, _ = graph.nodes
    assert conv.options == {"padding": SAME, "fused_activation_function": RELU}
    assert dense.options["fused_activation_function"] == RELU
    assert all(counts[name] for name in PASSES if name != "share_constants")
    assert optimize(graph) == dict.fromkeys(PASSES, 0)  # a fixed point
    assert set(graph.tensors) == {t for n in graph.nodes for t in (*n.inputs, *n.outputs)}


def test_each_pass_can_be_turned_off_by_name():
    graph = digits_cnn()
    counts = optimize(graph, set(PASSES) - {"fuse_activation", "fold_padding"})
    assert "fuse_activation" not in counts
    assert ops(graph) == ["PAD", "CONV_2D", "RELU", "MAX_POOL_2D", "RESHAPE", "FULLY_CONNECTED",
                          "MAXIMUM", "FULLY_CONNECTED", "SOFTMAX"]  # fmt: skip
    graph = digits_cnn()
    assert optimize(graph, []) == {} and len(graph.nodes) == 16
    with pytest.raises(ConversionError, match=r"'fuse_activations' \(known: fold_constants,"):
        optimize(graph, ["fuse_activations"])


def test_a_broken_pass_is_caught_where_it_happens_and_an_endless_one_is_stopped(monkeypatch):
    def breaks(graph: Graph) -> bool:
        graph.nodes[0].inputs[0] = "nowhere"
        return True

    monkeypatch.setitem(PASSES, "breaks", breaks)
    with pytest.raises(ConversionError, match="inconsistent after pass breaks"):
        optimize(digits_cnn(), ["breaks"], validate=True)
    monkeypatch.setitem(PASSES, "breaks", lambda graph: True)
    with pytest.raises(ConversionError, match=r"did not settle in 100 rounds\n  - breaks"):
        optimize(digits_cnn(), ["breaks"])

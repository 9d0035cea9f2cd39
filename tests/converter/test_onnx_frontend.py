"""The ONNX front end, op by op: models built with onnx.helper, converted, run in our
interpreter and in LiteRT, compared with onnxruntime; layouts (NHWC inside, no TRANSPOSE
where none is needed); every problem reported at once; bad files; opset upgrades.

Most ops are tested after a 1x1 Conv ("h" is then NHWC inside the IR, so axis attributes
must be mapped) and some also on the graph input itself (NCHW inside).
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from emberlite.converter import convert
from emberlite.converter.frontends.onnx import layout, load
from emberlite.converter.frontends.onnx.layout import Dim
from emberlite.converter.ir import ConversionError
from emberlite.errors import EmberliteError
from tests.converter.onnx_check import check_onnx, inner_transposes, save

RNG = np.random.default_rng(0)
F, I64 = TensorProto.FLOAT, TensorProto.INT64
SHAPE = (1, 4, 6, 6)
IR = 8  # an IR version onnxruntime reads (onnx writes its newest by default)


def rand(*shape: int, scale: float = 1.0) -> np.ndarray:
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def node(op: str, inputs: list[str], outputs: tuple[str, ...] = ("y",), **attrs) -> onnx.NodeProto:
    return helper.make_node(op, inputs, list(outputs), name=f"{op.lower()}_{outputs[0]}", **attrs)


def build(
    nodes: list[onnx.NodeProto],
    inputs: dict[str, tuple],
    inits: dict[str, np.ndarray] | None = None,
    outputs: dict[str, int | tuple[int, tuple]] | None = None,
    opset: int = 17,
) -> onnx.ModelProto:
    """A model; `inputs` float tensors by shape (str dims: dim_params), `outputs` by type (and
    shape, where shape inference cannot tell it: the checker wants it)."""
    typed = [
        (n, t if isinstance(t, tuple) else (t, None)) for n, t in (outputs or {"y": F}).items()
    ]
    graph = helper.make_graph(
        nodes,
        "test",
        [helper.make_tensor_value_info(n, F, s) for n, s in inputs.items()],
        [helper.make_tensor_value_info(n, t, s) for n, (t, s) in typed],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in (inits or {}).items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=IR)
    return onnx.shape_inference.infer_shapes(model)  # output shapes, which the checker wants


def after_conv(*nodes, inits=None, shape=SHAPE, **kw) -> onnx.ModelProto:
    """x -> 1x1 Conv -> "h" (NHWC inside) -> `nodes` -> y."""
    c = shape[1]
    pre = helper.make_node("Conv", ["x", "pre_w", "pre_b"], ["h"], name="pre")
    inits = {"pre_w": rand(c, c, 1, 1), "pre_b": rand(c), **(inits or {})}
    return build([pre, *nodes], {"x": shape}, inits, **kw)


def ints(*values: int) -> np.ndarray:
    return np.array(values, np.int64)


def check(tmp_path, model: onnx.ModelProto, x: np.ndarray | None = None, **feeds):
    feeds = {"x": rand(*SHAPE) if x is None else x, **feeds}
    return check_onnx(save(model, tmp_path), feeds)


# -- ops: one model each, parity with onnxruntime ---------------------------------------------

UNARY = ["Relu", "Sigmoid", "Tanh", "Exp", "HardSwish", "Neg", "Abs", "Floor", "Ceil", "Sin"]
UNARY += ["Cos", "Sign", "Erf", "Softplus", "Identity", "Dropout"]


@pytest.mark.parametrize("op", UNARY)
def test_unary_ops(tmp_path, op):
    check(tmp_path, after_conv(node(op, ["h"])))


@pytest.mark.parametrize("op", ["Sqrt", "Log"])
def test_unary_ops_of_positive_inputs(tmp_path, op):
    check(tmp_path, build([node(op, ["x"])], {"x": SHAPE}), np.abs(rand(*SHAPE)) + 0.1)


@pytest.mark.parametrize(
    "op, attrs",
    [
        ("LeakyRelu", {"alpha": 0.2}),
        ("LeakyRelu", {}),
        ("Elu", {}),
        ("Elu", {"alpha": 0.5}),
        ("HardSigmoid", {"alpha": 1 / 6, "beta": 0.5}),
        ("HardSigmoid", {}),
        ("Softmax", {"axis": 1}),
        ("Softmax", {"axis": 2}),
        ("Softmax", {}),
        ("LogSoftmax", {"axis": 1}),
        ("LRN", {"size": 3, "alpha": 0.01, "beta": 0.6, "bias": 2.0}),
        ("LRN", {"size": 5}),
        ("GlobalAveragePool", {}),
        ("GlobalMaxPool", {}),
    ],
)
def test_ops_with_attributes(tmp_path, op, attrs):
    check(tmp_path, after_conv(node(op, ["h"], **attrs)))


@pytest.mark.parametrize("low, high", [(0.0, 6.0), (-1.0, 1.0), (0.0, None), (-0.5, 0.7)])
def test_clip(tmp_path, low, high):
    inits = {"low": np.float32(low)}
    if high is not None:
        inits["high"] = np.float32(high)
    names = ["h", "low"] + (["high"] if high is not None else [])
    check(tmp_path, after_conv(node("Clip", names), inits=inits), rand(*SHAPE, scale=4))


def test_gelu(tmp_path):
    check(tmp_path, after_conv(node("Gelu", ["h"]), opset=20))


def test_prelu_with_per_channel_slope(tmp_path):
    check(tmp_path, after_conv(node("PRelu", ["h", "slope"]), inits={"slope": rand(4, 1, 1)}))


BINARY = ["Add", "Sub", "Mul", "Div", "Max", "Min", "Sum"]


@pytest.mark.parametrize("op", BINARY)
@pytest.mark.parametrize("constant", [(4, 1, 1), (6,), (1, 4, 6, 6), ()], ids=str)
def test_binary_ops_with_constants(tmp_path, op, constant):
    """Per-channel, per-column, full and scalar constants, against an NHWC tensor."""
    value = rand(*constant) + (3.0 if op == "Div" else 0.0)
    check(tmp_path, after_conv(node(op, ["h", "c"]), inits={"c": value}))


@pytest.mark.parametrize("op", BINARY)
def test_binary_ops_of_two_layouts(tmp_path, op):
    """An NHWC tensor with the NCHW graph input, and with a runtime [N, C, 1, 1] vector."""
    pooled = node("GlobalAveragePool", ["h"], ("p",))
    mixed = node(op, ["h", "x"], ("m",))
    gate = node("Sigmoid", ["p"], ("g",)) if op != "Div" else node("Exp", ["p"], ("g",))
    check(tmp_path, after_conv(pooled, mixed, gate, node(op, ["m", "g"])))


def test_variadic_sum_of_three_with_broadcasting(tmp_path):
    sum3 = node("Sum", ["h", "x", "c"])
    check(tmp_path, after_conv(sum3, inits={"c": rand(6)}))


def test_pow_with_an_integer_exponent(tmp_path):
    model = build([node("Pow", ["x", "e"])], {"x": SHAPE}, {"e": np.int64(2)})
    check(tmp_path, model)


@pytest.mark.parametrize(
    "attrs, w_shape",
    [
        ({"pads": [1, 1, 1, 1]}, (8, 4, 3, 3)),
        ({"pads": [0, 1, 2, 1], "strides": [2, 2]}, (8, 4, 3, 3)),
        ({"pads": [2, 2, 2, 2], "dilations": [2, 2]}, (8, 4, 3, 3)),
        ({"auto_pad": "SAME_UPPER", "strides": [2, 2]}, (8, 4, 3, 3)),
        ({"auto_pad": "SAME_LOWER", "strides": [2, 2]}, (8, 4, 4, 4)),
        ({"auto_pad": "VALID"}, (8, 4, 2, 3)),
        ({"group": 4, "pads": [1, 1, 1, 1]}, (4, 1, 3, 3)),
        ({"group": 4, "strides": [2, 2], "pads": [1, 1, 1, 1]}, (8, 1, 3, 3)),
        ({"group": 2}, (6, 2, 3, 3)),
    ],
    ids=[
        "same",
        "uneven",
        "dilated",
        "same-upper",
        "same-lower",
        "valid",
        "depthwise",
        "depthwise-x2",
        "grouped",
    ],
)
def test_conv(tmp_path, attrs, w_shape):
    inits = {"w": rand(*w_shape, scale=0.5), "b": rand(w_shape[0])}
    check(tmp_path, after_conv(node("Conv", ["h", "w", "b"], **attrs), inits=inits))


def test_conv_on_the_graph_input_without_bias(tmp_path):
    model = build(
        [node("Conv", ["x", "w"], pads=[1, 1, 1, 1])], {"x": SHAPE}, {"w": rand(5, 4, 3, 3)}
    )
    result = check(tmp_path, model)
    assert inner_transposes(result) == 0


@pytest.mark.parametrize(
    "attrs, kernel",
    [
        ({"strides": [2, 2], "pads": [1, 1, 1, 1], "output_padding": [1, 1]}, 3),
        ({"strides": [2, 2], "pads": [1, 1, 1, 1]}, 4),
        ({"strides": [2, 2]}, 2),
        ({"strides": [2, 2], "output_padding": [1, 1]}, 1),
        ({"strides": [2, 2], "auto_pad": "SAME_UPPER"}, 3),
        ({"strides": [3, 2], "output_shape": [17, 12]}, 3),
    ],
    ids=["pytorch-upsample", "k4", "k2", "past-the-end", "same-upper", "output-shape"],
)
def test_conv_transpose(tmp_path, attrs, kernel):
    inits = {"w": rand(4, 3, kernel, kernel, scale=0.5), "b": rand(3)}
    check(tmp_path, after_conv(node("ConvTranspose", ["h", "w", "b"], **attrs), inits=inits))


@pytest.mark.parametrize(
    "attrs",
    [
        {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]},
        {"kernel_shape": [2, 2], "strides": [2, 2]},
        {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1},
        {"kernel_shape": [3, 3], "auto_pad": "SAME_UPPER"},
        {"kernel_shape": [3, 3], "pads": [0, 0, 1, 1], "strides": [2, 2]},
    ],
    ids=["padded", "plain", "ceil", "same", "same-as-pads"],
)
@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
def test_pools(tmp_path, op, attrs):
    shape = (1, 4, 7, 7)
    check(tmp_path, after_conv(node(op, ["h"], **attrs), shape=shape), rand(*shape))


@pytest.mark.parametrize("ceil", [0, 1])
def test_average_pool_counting_padding(tmp_path, ceil):
    attrs = {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}
    shape = (1, 4, 8, 8)
    pool = node("AveragePool", ["h"], count_include_pad=1, ceil_mode=ceil, **attrs)
    check(tmp_path, after_conv(pool, shape=shape), rand(*shape))


def test_batch_normalization(tmp_path):
    stats = {"s": rand(4), "bias": rand(4), "mean": rand(4), "var": np.abs(rand(4)) + 0.5}
    bn = node("BatchNormalization", ["h", "s", "bias", "mean", "var"], epsilon=1e-3)
    check(tmp_path, after_conv(bn, inits=stats))


def test_batch_normalization_of_features(tmp_path):
    stats = {"s": rand(5), "bias": rand(5), "mean": rand(5), "var": np.abs(rand(5)) + 0.5}
    bn = node("BatchNormalization", ["x", "s", "bias", "mean", "var"])
    check(tmp_path, build([bn], {"x": (3, 5)}, stats), rand(3, 5))


@pytest.mark.parametrize(
    "attrs, b_shape, c_shape",
    [
        ({"transB": 1}, (5, 8), (5,)),
        ({}, (8, 5), (1, 5)),
        ({"transA": 1, "alpha": 0.5, "beta": 2.0}, (8, 5), (3, 5)),
        ({"beta": 0.5}, (8, 5), ()),
        ({}, (8, 5), None),
    ],
    ids=["torch-linear", "row-bias", "trans-a-full-c", "scalar-c", "no-c"],
)
def test_gemm(tmp_path, attrs, b_shape, c_shape):
    a_shape = (8, 3) if attrs.get("transA") else (3, 8)
    inits = {"b": rand(*b_shape)} | ({"c": rand(*c_shape)} if c_shape is not None else {})
    inputs = ["x", "b"] + (["c"] if c_shape is not None else [])
    check(tmp_path, build([node("Gemm", inputs, **attrs)], {"x": a_shape}, inits), rand(*a_shape))


@pytest.mark.parametrize("a_shape", [(3, 8), (2, 3, 8)])
def test_matmul_with_constant_weights(tmp_path, a_shape):
    model = build([node("MatMul", ["x", "w"])], {"x": a_shape}, {"w": rand(8, 5)})
    check(tmp_path, model, rand(*a_shape))


def test_matmul_of_two_runtime_tensors(tmp_path):
    model = build([node("MatMul", ["x", "z"])], {"x": (2, 3, 4), "z": (2, 4, 5)})
    check(tmp_path, model, rand(2, 3, 4), z=rand(2, 4, 5))


def test_concat_of_nhwc_and_nchw_tensors_along_channels(tmp_path):
    check(
        tmp_path, after_conv(node("Concat", ["h", "x", "c"], axis=1), inits={"c": rand(1, 2, 6, 6)})
    )


@pytest.mark.parametrize(
    "shape", [(1, 144), (1, 2, 2, 36), (1, 4, 36), (-1, 36), (0, 2, -1, 0)], ids=str
)
def test_reshape(tmp_path, shape):
    check(tmp_path, after_conv(node("Reshape", ["h", "shape"]), inits={"shape": ints(*shape)}))


def test_channel_shuffle_keeps_nhwc(tmp_path):
    """[N, C, H, W] -> [N, g, C/g, H, W] -> swap -> [N, C, H, W]: one 5-D TRANSPOSE between
    two RESHAPEs in NHWC, nothing back to NCHW in between."""
    nodes = [
        node("Reshape", ["h", "split"], ("s",)),
        node("Transpose", ["s"], ("t",), perm=[0, 2, 1, 3, 4]),
        node("Reshape", ["t", "merge"], ("m",)),
        node("Conv", ["m", "w"]),
    ]
    inits = {"split": ints(1, 2, 2, 6, 6), "merge": ints(1, 4, 6, 6), "w": rand(3, 4, 1, 1)}
    result = check(tmp_path, after_conv(*nodes, inits=inits))
    assert result.ops_after.get("TRANSPOSE") == 3  # at the input, at the output, the shuffle
    assert inner_transposes(result) == 1


@pytest.mark.parametrize("axis", [0, 1, 2, 4, -1])
def test_flatten(tmp_path, axis):
    check(tmp_path, after_conv(node("Flatten", ["h"], axis=axis)))


def test_transpose_then_conv_needs_no_transpose(tmp_path):
    """An NHWC graph input transposed to NCHW in the graph (as tf2onnx writes): the
    Transpose only relabels axes, so the model has none."""
    nodes = [node("Transpose", ["x"], ("t",), perm=[0, 3, 1, 2]), node("Conv", ["t", "w"])]
    model = build(nodes, {"x": (1, 6, 6, 4)}, {"w": rand(3, 4, 3, 3)})
    result = check(tmp_path, model, rand(1, 6, 6, 4))
    assert inner_transposes(result) == 0 and result.ops_after.get("TRANSPOSE") == 1  # output


def test_squeeze_and_unsqueeze(tmp_path):
    nodes = [
        node("GlobalAveragePool", ["h"], ("p",)),
        node("Squeeze", ["p", "axes"], ("s",)),
        node("Unsqueeze", ["s", "new"]),
    ]
    inits = {"axes": ints(2, 3), "new": ints(0, 3)}
    result = check(tmp_path, after_conv(*nodes, inits=inits))
    assert inner_transposes(result) == 0


@pytest.mark.parametrize(
    "starts, ends, axes, steps",
    [
        ((1,), (3,), (1,), (1,)),
        ((0, 1), (6, 5), (2, 3), (2, 1)),
        ((-1,), (-7,), (3,), (-1,)),
        ((5, 2), (0, 100), (2, 1), (-2, 1)),
    ],
    ids=["channels", "strided", "reversed", "mixed"],
)
def test_slice(tmp_path, starts, ends, axes, steps):
    inits = {"st": ints(*starts), "en": ints(*ends), "ax": ints(*axes), "sp": ints(*steps)}
    check(tmp_path, after_conv(node("Slice", ["h", "st", "en", "ax", "sp"]), inits=inits))


@pytest.mark.parametrize("indices", [ints(2, 0, 3), ints(-1), np.array(1, np.int64)], ids=str)
@pytest.mark.parametrize("axis", [1, 3])
def test_gather(tmp_path, indices, axis):
    check(tmp_path, after_conv(node("Gather", ["h", "i"], axis=axis), inits={"i": indices}))


@pytest.mark.parametrize(
    "mode, value", [("constant", 0.0), ("constant", 1.5), ("reflect", 0.0)], ids=str
)
def test_pad(tmp_path, mode, value):
    inits = {"pads": ints(0, 1, 2, 0, 0, 2, 1, 1), "v": np.float32(value)}
    check(tmp_path, after_conv(node("Pad", ["h", "pads", "v"], mode=mode), inits=inits))


@pytest.mark.parametrize(
    "attrs, scales",
    [
        (
            {
                "mode": "nearest",
                "coordinate_transformation_mode": "asymmetric",
                "nearest_mode": "floor",
            },
            (1, 1, 2, 2),
        ),
        ({"mode": "nearest"}, (1, 1, 2, 3)),
        (
            {
                "mode": "nearest",
                "coordinate_transformation_mode": "half_pixel",
                "nearest_mode": "round_prefer_ceil",
            },
            (1, 1, 0.5, 0.5),
        ),
        ({"mode": "linear", "coordinate_transformation_mode": "pytorch_half_pixel"}, (1, 1, 2, 2)),
        ({"mode": "linear", "coordinate_transformation_mode": "align_corners"}, (1, 1, 2, 2)),
        ({"mode": "linear", "coordinate_transformation_mode": "asymmetric"}, (1, 1, 0.5, 1)),
    ],
    ids=[
        "nearest-torch",
        "nearest-default",
        "nearest-down",
        "bilinear-torch",
        "bilinear-corners",
        "bilinear-asymmetric",
    ],
)
def test_resize_with_scales(tmp_path, attrs, scales):
    resize = node("Resize", ["h", "", "scales"], **attrs)
    check(tmp_path, after_conv(resize, inits={"scales": np.array(scales, np.float32)}))


def test_resize_with_sizes(tmp_path):
    resize = node("Resize", ["h", "", "", "sizes"], mode="linear")
    check(tmp_path, after_conv(resize, inits={"sizes": ints(1, 4, 9, 12)}))


@pytest.mark.parametrize("op", ["ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin"])
@pytest.mark.parametrize("axes, keep", [((2, 3), 0), ((1,), 1), ((1, 3), 0)], ids=str)
def test_reductions(tmp_path, op, axes, keep):
    reduce = node(op, ["h", "axes"], keepdims=keep)
    check(tmp_path, after_conv(reduce, inits={"axes": ints(*axes)}, opset=18))


def test_reduce_mean_with_axes_attribute(tmp_path):
    check(tmp_path, after_conv(node("ReduceMean", ["h"], axes=[2, 3], keepdims=1), opset=13))


@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
@pytest.mark.parametrize("axis, keep", [(1, 0), (1, 1), (3, 0)])
def test_arg_max(tmp_path, op, axis, keep):
    model = after_conv(node(op, ["h"], axis=axis, keepdims=keep), outputs={"y": I64})
    check(tmp_path, model)


@pytest.mark.parametrize("split", [None, (1, 3)], ids=["even", "uneven"])
def test_split(tmp_path, split):
    names = ["h"] + (["split"] if split else [])
    inits = {"split": ints(*split)} if split else {}
    parts = node("Split", names, ("a", "b"), axis=1)
    model = (
        after_conv(parts, node("Mul", ["a", "b"]), inits=inits)
        if not split
        else after_conv(parts, node("Concat", ["b", "a"], axis=1), inits=inits)
    )
    check(tmp_path, model)


def test_expand_and_tile(tmp_path):
    nodes = [
        node("GlobalAveragePool", ["h"], ("p",)),
        node("Expand", ["p", "shape"], ("e",)),
        node("Tile", ["e", "reps"], ("t",)),
        node("Add", ["t", "x"]),
    ]
    inits = {"shape": ints(1, 4, 3, 6), "reps": ints(1, 1, 2, 1)}
    check(tmp_path, after_conv(*nodes, inits=inits))


def test_cast_round_trip(tmp_path):
    nodes = [node("Cast", ["h"], ("i",), to=TensorProto.INT32), node("Cast", ["i"], to=F)]
    check(tmp_path, after_conv(*nodes), rand(*SHAPE, scale=5))


def test_constant_nodes_and_shape_arithmetic_fold_away(tmp_path):
    """x.view(x.size(0), -1) as PyTorch exports it, with a dynamic batch: Shape -> Gather ->
    Unsqueeze -> Concat -> Reshape leaves one RESHAPE with a constant shape."""
    nodes = [
        node("Shape", ["h"], ("shape",)),
        node("Constant", [], ("zero",), value=numpy_helper.from_array(np.array(0, np.int64))),
        node("Gather", ["shape", "zero"], ("batch",), axis=0),
        node("Unsqueeze", ["batch", "axes"], ("batch1",)),
        node("Constant", [], ("rest",), value_ints=[-1]),
        node("Concat", ["batch1", "rest"], ("target",), axis=0),
        node("Reshape", ["h", "target"], ("flat",)),
        node("Gemm", ["flat", "w"], transB=1),
    ]
    model = after_conv(*nodes, inits={"axes": ints(0), "w": rand(3, 144)}, shape=("batch", 4, 6, 6))
    result = check(tmp_path, model, rand(2, 4, 6, 6))
    graph = load(save(model, tmp_path))
    assert graph.tensors["x"].shape == (None, 4, 6, 6)
    assert result.ops_after == {"TRANSPOSE": 1, "CONV_2D": 1, "RESHAPE": 1, "FULLY_CONNECTED": 1}


def test_dynamic_batch_runs_at_other_sizes(tmp_path):
    model = after_conv(node("Relu", ["h"]), shape=("n", 4, 6, 6))
    path = save(model, tmp_path)
    check_onnx(path, {"x": rand(3, 4, 6, 6)})
    check_onnx(path, {"x": rand(1, 4, 6, 6)}, unoptimized=False)


def test_inputs_and_outputs_keep_onnx_names_and_layout(tmp_path):
    nodes = [node("Conv", ["h", "w"], ("features",)), node("Relu", ["features"], ("scores",))]
    model = after_conv(*nodes, inits={"w": rand(3, 4, 1, 1)}, outputs={"features": F, "scores": F})
    graph = load(save(model, tmp_path), signature="classify")
    graph.validate()
    assert (graph.input_names, graph.output_names) == (["x"], ["features", "scores"])
    assert graph.outputs == ["features", "scores"] and graph.signature_key == "classify"
    assert [graph.tensors[t].shape for t in graph.outputs] == [(1, 3, 6, 6)] * 2
    assert graph.tensors["x"].shape == SHAPE


def test_channels_last_inputs_skip_the_input_transpose(tmp_path):
    path = save(
        after_conv(node("Relu", ["h"]), node("Flatten", ["y"], ("z",)), outputs={"z": F}), tmp_path
    )
    graph = load(path, channels_last_inputs=True)
    graph.validate()
    assert graph.tensors["x"].shape == (1, 6, 6, 4)
    assert graph.op_counts().get("TRANSPOSE") == 1  # the NCHW flatten only


# -- layouts ------------------------------------------------------------------------------------


def test_plain_cnn_has_no_inner_transpose(tmp_path):
    """conv -> bn -> relu -> pool -> conv -> global pool -> flatten -> gemm -> softmax."""
    stats = {"s": rand(8), "bias": rand(8), "mean": rand(8), "var": np.abs(rand(8)) + 0.5}
    nodes = [
        node("Conv", ["h", "w1", "b1"], ("c1",), pads=[1, 1, 1, 1]),
        node("BatchNormalization", ["c1", "s", "bias", "mean", "var"], ("n1",)),
        node("Relu", ["n1"], ("r1",)),
        node("MaxPool", ["r1"], ("p1",), kernel_shape=[2, 2], strides=[2, 2]),
        node("Conv", ["p1", "w2"], ("c2",), pads=[1, 1, 1, 1]),
        node("Flatten", ["c2"], ("f",)),
        node("Gemm", ["f", "w3", "b3"], ("g",), transB=1),
        node("Softmax", ["g"], axis=1),
    ]
    inits = {
        "w1": rand(8, 4, 3, 3),
        "b1": rand(8),
        "w2": rand(6, 8, 3, 3),
        "w3": rand(10, 54),
        "b3": rand(10),
        **stats,
    }
    result = check(tmp_path, after_conv(*nodes, inits=inits))
    assert inner_transposes(result) == 0
    assert set(result.ops_after) == {
        "TRANSPOSE",
        "CONV_2D",
        "MAX_POOL_2D",
        "RESHAPE",
        "FULLY_CONNECTED",
        "SOFTMAX",
    }


def test_reshape_groups_and_orders():
    n, b = Dim("batch"), Dim("b")
    assert layout.reshape_groups((n, 4, 6, 6), (n, 144)) == [([0], [0]), ([1, 2, 3], [1])]
    assert layout.reshape_groups((1, 4, 1, 1), (1, 4)) == [([1], [1])]
    assert layout.reshape_groups((n, 6), (b, 6)) is None
    assert layout.reshape_groups((4, 6), (3, 8)) == [([0, 1], [0, 1])]
    assert layout.reshape_groups((4, 6), (5, 5)) is None
    nhwc = layout.channels_last(4)
    groups = layout.reshape_groups((1, 4, 6, 6), (1, 2, 2, 6, 6))
    assert layout.reshaped_perm(nhwc, (1, 4, 6, 6), (1, 2, 2, 6, 6), groups) == (0, 3, 4, 1, 2)
    flat = layout.reshape_groups((1, 4, 6, 6), (1, 144))
    assert layout.reshaped_perm(nhwc, (1, 4, 6, 6), (1, 144), flat) is None
    assert layout.grouped_order(nhwc, flat) == (0, 1, 2, 3)
    assert layout.drop_axes(nhwc, [2, 3]) == (0, 1)


# -- problems, all at once ------------------------------------------------------------------


def problems_of(tmp_path, model_or_bytes) -> ConversionError:
    path = tmp_path / "bad.onnx"
    if isinstance(model_or_bytes, bytes):
        path.write_bytes(model_or_bytes)
    else:
        path.write_bytes(model_or_bytes.SerializeToString())
    with pytest.raises(ConversionError) as info:
        load(path)
    assert isinstance(info.value, EmberliteError)
    return info.value


def test_every_unsupported_op_is_reported_at_once(tmp_path):
    nodes = [
        helper.make_node("Hardmax", ["x"], ["a"], name="first"),
        helper.make_node("Relu", ["a"], ["b"], name="after_first"),
        helper.make_node("Celu", ["x"], ["c"], name="second"),
        helper.make_node("Sum", ["b", "c"], ["y"], name="sum"),
        helper.make_node("Resize", ["x", "", "sc"], ["z"], name="cubic", mode="cubic"),
    ]
    sc = {"sc": np.array([1, 1, 2, 2], np.float32)}
    model = build(nodes, {"x": (1, 1, 4, 4)}, sc, outputs={"y": F, "z": F})
    error = problems_of(tmp_path, model)
    assert error.problems == [
        "unsupported op Hardmax (node 'first', opset 17)",
        "unsupported op Celu (node 'second', opset 17)",
        "Resize node 'cubic' (opset 17): Resize mode=cubic, "
        "coordinate_transformation_mode=half_pixel",
    ]


def test_unsupported_ops_of_other_domains_and_upgraded_opsets(tmp_path):
    nodes = [
        helper.make_node("FusedThing", ["x"], ["a"], name="custom", domain="com.example"),
        helper.make_node("Hardmax", ["a"], ["y"], name="hm"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", F, (2, 3))],
        [helper.make_tensor_value_info("y", F, (2, 3))],
    )
    opsets = [helper.make_opsetid("", 11), helper.make_opsetid("com.example", 2)]
    model = helper.make_model(graph, opset_imports=opsets, ir_version=IR)
    error = problems_of(tmp_path, model)
    assert error.problems == [
        "unsupported op com.example.FusedThing (node 'custom', opset 2)",
        "unsupported op Hardmax (node 'hm', opset 13, upgraded from 11)",
    ]


def test_corrupt_file(tmp_path):
    error = problems_of(tmp_path, b"\x08\x07garbage that is not a protobuf\xff\xff")
    assert "not a readable ONNX model" in str(error)


def test_dangling_names_duplicates_and_cycles_are_all_listed(tmp_path):
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="r1"),
        helper.make_node("Relu", ["ghost"], ["b"], name="r2"),
        helper.make_node("Relu", ["a"], ["a"], name="r3"),
        helper.make_node("Add", ["c", "a"], ["d"], name="loop1"),
        helper.make_node("Relu", ["d"], ["c"], name="loop2"),
        helper.make_node("Relu", ["d"], ["y"], name="r4"),
    ]
    outputs = {"y": (F, (2, 3)), "z": (F, (2, 3))}
    error = problems_of(tmp_path, build(nodes, {"x": (2, 3)}, outputs=outputs))
    text = str(error)
    assert "node 1 Relu (r2) reads 'ghost', which nothing makes" in text
    assert "node 2 Relu (r3) makes 'a', already made by node 0 Relu (r1)" in text
    assert "graph output 'z' is never made" in text
    cycle = "node 2 Relu (r3), node 3 Add (loop1), node 4 Relu (loop2), node 5 Relu (r4)"
    assert f"a cycle: these nodes can never run (in or after it): {cycle}" in text
    assert "onnx.checker:" in text


def test_nodes_out_of_order_are_sorted(tmp_path):
    nodes = [node("Relu", ["a"]), helper.make_node("Neg", ["x"], ["a"], name="neg")]
    check(tmp_path, build(nodes, {"x": (2, 3)}, outputs={"y": (F, (2, 3))}), rand(2, 3))


def test_disagreeing_shapes_are_all_listed(tmp_path):
    nodes = [
        helper.make_node("Add", ["x", "p"], ["a"], name="add_bad"),
        helper.make_node("MatMul", ["x", "q"], ["b"], name="matmul_bad"),
        helper.make_node("Concat", ["a", "b"], ["y"], name="cat", axis=0),
    ]
    inits = {"p": rand(4, 5), "q": rand(4, 5)}
    model = build(nodes, {"x": (2, 3)}, inits, outputs={"y": (F, (4, 5))})
    error = problems_of(tmp_path, model)
    assert "do not agree" in str(error)
    assert len(error.problems) >= 2
    assert "add_bad" in error.problems[0] and "matmul_bad" in error.problems[1]


def test_convert_api_reports_onnx_problems_and_leaves_no_file(tmp_path):
    model = build([helper.make_node("Hardmax", ["x"], ["y"], name="hm")], {"x": (2, 3)})
    path = save(model, tmp_path)
    out = tmp_path / "out.tflite"
    with pytest.raises(ConversionError, match="unsupported op Hardmax"):
        convert(path, out)
    assert not out.exists()


# -- older opsets ------------------------------------------------------------------------------


def test_opset_9_model_is_upgraded(tmp_path):
    """Opset 9: Upsample (now Resize), BatchNormalization, Reshape, Gemm."""
    stats = {"s": rand(4), "bias": rand(4), "mean": rand(4), "var": np.abs(rand(4)) + 0.5}
    nodes = [
        node("Conv", ["x", "w"], ("c",), pads=[1, 1, 1, 1]),
        node("BatchNormalization", ["c", "s", "bias", "mean", "var"], ("n",)),
        node("Relu", ["n"], ("r",)),
        node("Upsample", ["r", "scales"], ("u",), mode="nearest"),
        node("MaxPool", ["u"], ("p",), kernel_shape=[2, 2], strides=[2, 2]),
        node("Reshape", ["p", "shape"], ("f",)),
        node("Gemm", ["f", "w2", "b2"], transB=1),
    ]
    inits = {
        "w": rand(4, 4, 3, 3),
        "scales": np.array([1, 1, 2, 2], np.float32),
        "shape": ints(1, -1),
        "w2": rand(5, 144),
        "b2": rand(5),
        **stats,
    }
    model = build(nodes, {"x": SHAPE}, inits, opset=9)
    result = check(tmp_path, model)
    assert inner_transposes(result) == 0

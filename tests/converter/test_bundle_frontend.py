"""The bundle front end: trainer models saved as bundles -> IR graphs (op lists, validation)
-> .tflite files that give `model.predict`'s numbers in our interpreter and in LiteRT, with
and without the optimization passes; bad bundles fail with every problem listed."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import numpy as np
import pytest

import emberlite.trainer as et
from emberlite.converter import passes
from emberlite.converter.frontends.bundle import load
from emberlite.converter.ir import ConversionError, Graph
from emberlite.converter.writer import write
from emberlite.interpreter import Interpreter
from emberlite.parity import difference
from emberlite.schema import read_model
from emberlite.trainer import layers, mixed_precision, nn
from emberlite.trainer import numpy as enp
from emberlite.trainer.ops.nn_ops import erf, one_hot, random_uniform
from emberlite.trainer.saving.bundle_files import MANIFEST
from tests.litert import litert_interpreter
from tests.trainer.test_bundle import every_layer_model

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RNG = np.random.default_rng(0)


def images(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def run_both(content: bytes, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The serving signature's outputs in our interpreter, asserted to agree with LiteRT's."""
    ours = Interpreter(model_content=content).get_signature_runner()(**feeds)
    theirs = litert_interpreter(content).get_signature_runner()(**feeds)
    assert ours.keys() == theirs.keys()
    for name, value in ours.items():
        assert value.shape == theirs[name].shape and value.dtype == theirs[name].dtype, name
        diff = difference(value, theirs[name])
        assert diff.ok, f"output {name}: ours vs LiteRT: {diff}"
    return ours


def lowered(path: Path, optimize: bool) -> tuple[Graph, bytes]:
    """The bundle at `path` loaded by the front end (and optimized), and written."""
    graph = load(path)
    graph.validate()
    if optimize:
        passes.optimize(graph, validate=True)
    return graph, write(graph)


def assert_converts(model, path: Path, *inputs: np.ndarray, **save_args) -> dict[str, Graph]:
    """`model`, its weights randomized, saved at `path`: both the plain lowering and the
    optimized one give predict's outputs (batch sizes 1 and len(inputs[0])) in both
    interpreters.  Returns the two graphs."""
    randomized(model).save(path, **save_args)
    specs = json.loads((path / MANIFEST).read_text())["signatures"]["serving_default"]["inputs"]
    names = [spec["name"] for spec in specs]
    graphs = {}
    for optimize in (False, True):
        graph, content = lowered(path, optimize)
        graphs["optimized" if optimize else "plain"] = graph
        for batch in (1, len(inputs[0])):
            feeds = {name: x[:batch] for name, x in zip(names, inputs, strict=True)}
            expected = model.predict(
                list(feeds.values()) if len(feeds) > 1 else feeds[names[0]], verbose=0
            )
            expected = expected if isinstance(expected, list) else [expected]
            got = run_both(content, feeds)
            for k, want in enumerate(expected):
                np.testing.assert_allclose(
                    got[f"output_{k}"], want, rtol=1e-4, atol=1e-5, err_msg=f"output {k}"
                )
    return graphs


def randomized(model):
    """`model` with every weight random, as training leaves them (biases and batch-norm
    statistics far from 0 and 1, so no arithmetic vanishes as a no-op)."""
    for v in model.weights:
        low = 0.5 if "variance" in v.name else -1.0
        v.assign(RNG.uniform(low, 2.0, size=v.shape).astype(v.dtype))
    return model


def ops(graph: Graph) -> list[str]:
    return [node.op for node in graph.nodes]


# -- the proof models ---------------------------------------------------------------------------


def test_mlp(tmp_path):
    x = et.Input(shape=(6,), name="features")
    h = layers.Dense(16, activation="relu")(x)
    model = et.Model(x, layers.Dense(3, activation="softmax")(layers.Dense(8, "tanh")(h)))
    graphs = assert_converts(model, tmp_path / "mlp", images(5, 6))
    assert ops(graphs["plain"]) == [
        *("FULLY_CONNECTED", "ADD", "RELU"),
        *("FULLY_CONNECTED", "ADD", "TANH"),
        *("FULLY_CONNECTED", "ADD", "SOFTMAX"),
    ]
    graph = graphs["optimized"]
    assert ops(graph) == [
        "FULLY_CONNECTED",
        "FULLY_CONNECTED",
        "TANH",
        "FULLY_CONNECTED",
        "SOFTMAX",
    ]
    assert graph.inputs == graph.input_names == ["features"]
    assert graph.tensors["features"].shape == (None, 6)
    assert graph.output_names == ["output_0"]


def test_digits_cnn_with_labels_and_normalization(tmp_path):
    model = runpy.run_path(str(EXAMPLES / "train_digits.py"))["build_model"]()
    labels = [str(d) for d in range(10)]
    normalization = {"mean": 0.5, "std": 0.25}
    graphs = assert_converts(
        model, tmp_path / "digits", images(3, 8, 8, 1), labels=labels, normalization=normalization
    )
    assert graphs["plain"].op_counts() == {
        "CONV_2D": 3, "ADD": 6, "RELU": 3, "SQRT": 1, "DIV": 1, "MUL": 3, "NEG": 1,
        "MAX_POOL_2D": 1, "RESHAPE": 1, "FULLY_CONNECTED": 1, "SOFTMAX": 1,
    }  # fmt: skip
    optimized = graphs["optimized"]
    # the promise: no batch-norm arithmetic left, activations fused
    assert optimized.op_counts() == {
        "CONV_2D": 3, "MAX_POOL_2D": 1, "RESHAPE": 1, "FULLY_CONNECTED": 1, "SOFTMAX": 1,
    }  # fmt: skip
    assert [n.options.get("fused_activation_function") for n in optimized.nodes
            if n.op == "CONV_2D"] == [1, 1, 1]  # fmt: skip
    assert optimized.metadata == {
        "labels.txt": "".join(f"{d}\n" for d in labels).encode(),
        "normalization.json": json.dumps({"mean": [0.5], "std": [0.25]}).encode(),
    }
    written = {m.name for m in read_model(write(optimized)).metadata}
    assert {"labels.txt", "normalization.json"} <= written


def test_functional_model_with_branches(tmp_path):
    x = et.Input(shape=(6, 6, 2), name="pixels")
    stem = layers.Conv2D(4, 3, padding="same", activation="relu")(x)
    left = layers.Conv2D(4, 1)(stem)
    right = layers.Conv2D(4, 3, padding="same", dilation_rate=2, activation="relu6")(stem)
    merged = layers.Add()([left, right])
    both = layers.Concatenate()([merged, layers.Multiply()([left, right]), stem])
    pooled = layers.GlobalAveragePooling2D()(both)
    logits = layers.Dense(3, name="logits")(pooled)
    probs = layers.Softmax(name="probs")(logits)
    model = et.Model(x, [logits, probs])
    graphs = assert_converts(model, tmp_path / "branches", images(4, 6, 6, 2))
    assert graphs["plain"].output_names == ["output_0", "output_1"]
    assert ops(graphs["optimized"]).count("CONV_2D") == 3
    assert "MEAN" in ops(graphs["plain"])  # global pooling's sum / count, fused


def test_depthwise_and_separable_convolutions(tmp_path):
    model = et.Sequential(
        [
            et.Input(shape=(9, 9, 3)),
            layers.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2),
            layers.SeparableConv2D(5, 3, padding="same", activation="relu"),
            layers.DepthwiseConv2D(3, padding="valid", dilation_rate=2),
            layers.Flatten(),
        ]
    )
    graphs = assert_converts(model, tmp_path / "depthwise", images(3, 9, 9, 3))
    plain = graphs["plain"]
    depthwise = [n for n in plain.nodes if n.op == "DEPTHWISE_CONV_2D"]
    assert [n.options["depth_multiplier"] for n in depthwise] == [2, 1, 1]
    assert plain.tensors[depthwise[0].inputs[1]].shape == (1, 3, 3, 6)


def test_grouped_convolution_is_one_conv_2d(tmp_path):
    model = et.Sequential([et.Input(shape=(5, 5, 4)), layers.Conv2D(6, 3, groups=2)])
    graph = assert_converts(model, tmp_path / "grouped", images(2, 5, 5, 4))["optimized"]
    assert ops(graph) == ["CONV_2D"]
    assert graph.tensors[graph.nodes[0].inputs[1]].shape == (6, 3, 3, 2)  # OHWI, 2 per group


def test_batch_norm_folds_into_convolution_and_dense(tmp_path):
    model = et.Sequential(
        [
            et.Input(shape=(5, 5, 3)),
            layers.Conv2D(4, 3),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.Flatten(),
            layers.Dense(6),
            layers.BatchNormalization(),
        ]
    )
    graphs = assert_converts(model, tmp_path / "bn", images(3, 5, 5, 3))
    assert ops(graphs["optimized"]) == ["CONV_2D", "RESHAPE", "FULLY_CONNECTED"]


def test_upsampling_bilinear_and_nearest(tmp_path):
    x = et.Input(shape=(3, 4, 2))
    bilinear = layers.UpSampling2D((2, 3), interpolation="bilinear")(x)
    nearest = layers.UpSampling2D(2, interpolation="nearest")(x)
    model = et.Model(x, [bilinear, nearest])
    graph = assert_converts(model, tmp_path / "upsampling", images(2, 3, 4, 2))["plain"]
    resizes = {n.op: n.options for n in graph.nodes}
    assert resizes["RESIZE_BILINEAR"] == {"align_corners": False, "half_pixel_centers": True}
    assert "RESIZE_NEAREST_NEIGHBOR" in resizes


def test_global_pooling_and_pooling(tmp_path):
    x = et.Input(shape=(7, 7, 3))
    a = layers.GlobalAveragePooling2D()(layers.AveragePooling2D(3, strides=2, padding="same")(x))
    b = layers.GlobalMaxPooling2D()(layers.MaxPooling2D(2, padding="same")(x))
    c = layers.GlobalAveragePooling2D(keepdims=True)(x)
    model = et.Model(x, [a, b, c])
    graph = assert_converts(model, tmp_path / "pooling", images(3, 7, 7, 3))["plain"]
    assert graph.op_counts() == {
        "AVERAGE_POOL_2D": 1, "MEAN": 2, "MAX_POOL_2D": 1, "REDUCE_MAX": 1,
    }  # fmt: skip
    assert all(n.options["padding"] == 0 for n in graph.nodes if n.op.endswith("POOL_2D"))


@pytest.mark.parametrize(
    "args",
    [
        {"strides": 2, "padding": "same"},
        {"strides": 2, "padding": "valid"},
        {"strides": 3, "padding": "valid", "output_padding": 1},
        {"strides": 1, "padding": "same", "activation": "relu"},
    ],
    ids=["same", "valid", "output_padding", "stride1"],
)
def test_conv2d_transpose(tmp_path, args):
    model = et.Sequential([et.Input(shape=(4, 5, 3)), layers.Conv2DTranspose(2, 3, **args)])
    graph = assert_converts(model, tmp_path / "transpose", images(3, 4, 5, 3))["optimized"]
    conv = next(n for n in graph.nodes if n.op == "TRANSPOSE_CONV")
    assert graph.tensors[conv.inputs[1]].shape == (2, 3, 3, 3)  # OHWI
    assert len(conv.inputs) == 4  # the bias folded in


def test_embedding_and_two_inputs(tmp_path):
    tokens = et.Input(shape=(4,), dtype="int32", name="tokens")
    scale = et.Input(shape=(1,), name="scale")
    vectors = layers.Flatten()(layers.Embedding(10, 3)(tokens))
    model = et.Model([tokens, scale], layers.Multiply()([vectors, scale]))
    ids = RNG.integers(0, 10, (3, 4)).astype(np.int32)
    graph = assert_converts(model, tmp_path / "embedding", ids, images(3, 1))["optimized"]
    assert ops(graph) == ["GATHER", "RESHAPE", "MUL"]
    assert graph.input_names == ["tokens", "scale"]


def test_every_layer_model(tmp_path):
    model = every_layer_model()
    ids = RNG.integers(0, 10, (2, 5)).astype(np.int32)
    graphs = assert_converts(model, tmp_path / "every", images(2, 8, 8, 3), ids)
    assert {"LEAKY_RELU", "TRANSPOSE_CONV", "GATHER", "STRIDED_SLICE"} <= set(
        ops(graphs["optimized"])
    )


def test_mixed_precision_model_becomes_float32(tmp_path):
    mixed_precision.set_global_policy("mixed_float16")
    try:
        x = et.Input(shape=(6, 6, 2))
        h = layers.Flatten()(layers.Conv2D(4, 3, activation="relu")(x))
        model = et.Model(x, layers.Dense(3, activation="softmax", dtype="float32")(h))
    finally:
        mixed_precision.set_global_policy("float32")
    randomized(model).save(tmp_path / "b")
    graph, content = lowered(tmp_path / "b", optimize=True)
    assert ops(graph) == ["CONV_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"]  # casts gone
    assert {t.dtype for t in graph.tensors.values()} <= {np.dtype(np.float32), np.dtype(np.int32)}
    x = images(2, 6, 6, 2)
    (got,) = run_both(content, {graph.input_names[0]: x}).values()
    np.testing.assert_allclose(got, model.predict(x, verbose=0), rtol=1e-2, atol=1e-3)


# -- activations and primitives through Lambda layers ---------------------------------------------


def test_activations(tmp_path):
    x = et.Input(shape=(7,))
    names = ["relu", "relu6", "sigmoid", "tanh", "softmax", "log_softmax", "elu", "selu",
             "gelu", "silu", "softplus", "softsign", "hard_sigmoid", "hard_silu",
             "leaky_relu", "exponential"]  # fmt: skip
    outs = [layers.Activation(name)(x) for name in names]
    outs += [layers.ReLU(max_value=4.0, negative_slope=0.1, threshold=0.5)(x)]
    outs += [layers.ELU(alpha=0.5)(x), layers.LeakyReLU(0.3)(x), layers.PReLU()(x)]
    outs += [layers.Lambda(lambda v: nn.gelu(v, approximate=True))(x)]
    model = et.Model(x, layers.Concatenate()(outs))
    graph = assert_converts(model, tmp_path / "activations", images(4, 7) * 3)["plain"]
    counts = graph.op_counts()
    # ELU(alpha) is where(elu(x) > 0, elu(x), elu(x) * alpha): a leaky ReLU of the ELU
    assert counts["GELU"] == 1 and counts["HARD_SWISH"] == 1 and counts["LEAKY_RELU"] == 3


def lambda_model(fn, *shapes, dtype="float32"):
    inputs = [et.Input(shape=s, dtype=dtype) for s in shapes]
    return et.Model(inputs, layers.Lambda(lambda v: fn(*v) if len(shapes) > 1 else fn(v))(
        inputs if len(shapes) > 1 else inputs[0]))  # fmt: skip


MATH = {
    "erf": lambda x: erf(x) + erf(x * 0.3),
    "expm1_log1p": lambda x: enp.expm1(x) + enp.log1p(et.abs(x)),
    "rounding": lambda x: et.sign(x) + enp.floor(x * 3) + enp.round(x * 2),
    "trig_pow": lambda x: et.sin(x) * et.cos(x) + et.pow(et.abs(x) + 1, x) - et.sqrt(et.abs(x)),
    "exp_log": lambda x: et.exp(x) / et.log(et.abs(x) + 2),
    "compare": lambda x: (
        et.cast(
            et.logical_or(et.logical_and(et.greater(x, 0), et.less(x, 1)), et.equal(x, 2)),
            "float32",
        )
        + et.where(et.less_equal(x, 0.5), x, -x)
        + et.cast(et.not_equal(x, 1), "float32")
    ),
    "min_max": lambda x: (
        et.reduce_min(x, axis=1, keepdims=True)
        + et.maximum(x, 0.2)
        - et.minimum(x, -0.3)
        + et.reduce_max(x, axis=(1, 2), keepdims=True)
    ),
    "almost_leaky_relu": lambda x: (
        et.where(et.greater(0.0, x), x, x * 0.2)  # not fused
        + et.where(et.greater(x, 0.0), x, et.abs(x) * 0.2)
    ),
    "softmax_axes": lambda x: et.nn.softmax(x, axis=1) + et.nn.log_softmax(x, axis=2),
    "reduce": lambda x: (
        et.reduce_mean(x, axis=(1, 2), keepdims=True)
        + et.reduce_sum(x, axis=2)[:, :, None]
        + et.reduce_variance(x, axis=1, keepdims=True)
    ),
}


@pytest.mark.parametrize("fn", MATH.values(), ids=MATH)
def test_math(tmp_path, fn):
    assert_converts(lambda_model(fn, (3, 4)), tmp_path / "math", images(2, 3, 4) * 2)


WEIGHTS = RNG.normal(size=(4, 4)).astype(np.float32)  # made once: each trace sees the same
SHAPES = {
    "transpose_reshape": lambda x: et.reshape(et.transpose(x, (0, 2, 3, 1)), (-1, 4, 15)),
    "slices": lambda x: et.concat([x[:, 1:3, ::2], x[:, :0:-1, 1::2]], axis=2),
    "ints_and_new_axes": lambda x: x[:, -1, None, 2:, 1] * x[:, 0, None, 1:-1, 2],
    "ellipsis": lambda x: x[..., 1:2] + x[:, None, 0, ..., -1:],
    "gather": lambda x: (
        et.gather(x, [2, 0, -1], axis=2) + et.gather(x, [1, 1, 0], axis=1)[:, :, :3]
    ),
    "split_pad": lambda x: (
        et.concat(et.split(x, [1, 2], axis=1)[::-1], axis=1)
        + et.pad(x, [[0, 0], [0, 0], [1, 0], [0, 0]], constant_values=2.0)[:, :, :5]
        + et.pad(x, [[0, 0], [1, 0], [0, 0], [0, 0]])[:, 1:]
    ),
    "broadcast": lambda x: (
        x + et.broadcast_to(et.constant(np.arange(4.0, dtype="float32")), (5, 4))
    ),
    "argmax_one_hot": lambda x: (
        et.cast(et.argmax(x, axis=3), "float32")[..., None] + one_hot(et.argmax(x, axis=3), 4) * x
    ),
    "matmul": lambda x: (
        et.matmul(x, et.transpose(x, (0, 1, 3, 2)))[..., :4]
        + et.matmul(x, et.constant(WEIGHTS[None, None]))
        + et.matmul(x, et.constant(WEIGHTS))
    ),
}


@pytest.mark.parametrize("fn", SHAPES.values(), ids=SHAPES)
def test_shapes_and_indexing(tmp_path, fn):
    assert_converts(lambda_model(fn, (3, 5, 4)), tmp_path / "shapes", images(2, 3, 5, 4))


def test_explicit_window_padding(tmp_path):
    pads = [[0, 0], [2, 0], [0, 1], [0, 0]]
    w_conv = et.constant(RNG.normal(size=(3, 3, 4, 2)).astype(np.float32))
    w_up = et.constant(RNG.normal(size=(3, 3, 2, 4)).astype(np.float32))

    def fn(x):
        avg = nn.avg_pool2d(x, 3, 2, pads)  # [3, 2]
        peak = nn.max_pool2d(x, 2, 1, [[0, 0], [1, 0], [0, 1], [0, 0]])  # [6, 5]
        conv = nn.conv2d(x, w_conv, 1, pads)  # [6, 4]
        up = nn.conv2d_transpose(
            x, w_up, (x.shape[0], 11, 10, 2), 2, [[0, 0], [1, 2], [0, 1], [0, 0]]
        )
        return avg[..., :2] + peak[:, :3, :2, :2] + conv[:, :3, :2] + up[:, :3, :2]

    graph = assert_converts(lambda_model(fn, (6, 5, 4)), tmp_path / "pads", images(2, 6, 5, 4))
    plain = graph["plain"]
    assert {"PAD", "PADV2", "TRANSPOSE_CONV", "STRIDED_SLICE"} <= set(ops(plain))


# -- signatures, the convert API, bad bundles ---------------------------------------------------


def mlp() -> et.Model:
    x = et.Input(shape=(4,), name="features")
    return et.Model(x, layers.Dense(3, activation="relu")(layers.Dense(5)(x)))


def test_a_named_signature_and_its_output_names(tmp_path):
    model = randomized(mlp())

    def logits(features):
        return {"scores": model(features) * 2.0, "best": et.argmax(model(features), axis=1)}

    spec = et.TensorSpec((None, 4), np.float32, "features")
    model.save(tmp_path / "b", signatures={"scores": et.function(logits, input_signature=[spec])})
    graph = load(tmp_path / "b", signature="scores")
    graph.validate()
    assert graph.signature_key == "scores"
    assert graph.output_names == ["best", "scores"]  # a dict's outputs, by sorted key
    x = images(3, 4)
    got = run_both_signature(write(graph), "scores", {"features": x})
    np.testing.assert_allclose(got["scores"], model.predict(x, verbose=0) * 2, rtol=1e-4)
    np.testing.assert_array_equal(got["best"], np.argmax(model.predict(x, verbose=0), axis=1))
    with pytest.raises(ConversionError, match=r"no signature 'nope'.*'serving_default', 'scores'"):
        load(tmp_path / "b", signature="nope")


def run_both_signature(content: bytes, key: str, feeds: dict) -> dict[str, np.ndarray]:
    ours = Interpreter(model_content=content).get_signature_runner(key)(**feeds)
    theirs = litert_interpreter(content).get_signature_runner(key)(**feeds)
    for name, value in ours.items():
        np.testing.assert_allclose(value, theirs[name], rtol=1e-5, atol=1e-6)
    return ours


def test_emberlite_convert_reads_bundles(tmp_path):
    from emberlite.converter import convert

    model = randomized(mlp())
    model.save(tmp_path / "b")
    result = convert(tmp_path / "b", tmp_path / "mlp.tflite")
    assert result.ops_before == {"FULLY_CONNECTED": 2, "ADD": 2, "RELU": 1}
    assert result.ops_after == {"FULLY_CONNECTED": 2}
    x = images(2, 4)
    got = run_both(result.content, {"features": x})
    np.testing.assert_allclose(got["output_0"], model.predict(x, verbose=0), rtol=1e-4, atol=1e-5)


def test_unsupported_primitives_are_all_listed(tmp_path):
    w = et.constant(RNG.normal(size=(3, 3, 2, 2)).astype(np.float32))

    def fn(x):
        up = nn.conv2d_transpose(x, w, (x.shape[0], 8, 8, 2), 1, "SAME", dilations=2)
        return up + random_uniform((8, 8, 2))

    model = lambda_model(fn, (8, 8, 2))
    model.save(tmp_path / "b")
    with pytest.raises(ConversionError) as failed:
        load(tmp_path / "b")
    assert failed.value.problems == [
        "node 0 (conv2d_backprop_input): TFLite's TRANSPOSE_CONV has no dilations or groups "
        "(got dilations [2, 2], groups 1)",
        "node 1 (random_uniform): primitive 'random_uniform' has no TFLite lowering",
    ]
    assert "signature 'serving_default' cannot be converted" in str(failed.value)


def edit_graph(path: Path, edit) -> None:
    manifest = json.loads((path / MANIFEST).read_text())
    edit(manifest["signatures"]["serving_default"])
    (path / MANIFEST).write_text(json.dumps(manifest))


def test_dangling_references_cycles_and_bad_attrs_are_all_listed(tmp_path):
    mlp().save(tmp_path / "b")

    def damage(graph):
        nodes = graph["nodes"]
        assert [n["op"] for n in nodes] == ["matmul", "add", "matmul", "add", "relu"]
        nodes[1]["inputs"][0] = {"node": 3}  # a later node: a cycle
        nodes[2]["inputs"][1] = {"var": "no/such/kernel"}
        nodes[3]["inputs"][1] = {"const": "c9"}
        nodes[4]["inputs"].append({"input": 5})
        graph["outputs"] = [{"node": 9, "output": 0}]

    edit_graph(tmp_path / "b", damage)
    with pytest.raises(ConversionError) as failed:
        load(tmp_path / "b")
    assert "signature 'serving_default': the graph is inconsistent" in str(failed.value)
    assert failed.value.problems == [
        "node 1 (add) reads {'node': 3}: a node at or after the reader (a cycle)",
        "node 2 (matmul) reads {'var': 'no/such/kernel'}: no variable of that name",
        "node 3 (add) reads {'const': 'c9'}: no constant of that name",
        "node 4 (relu) reads {'input': 5}: no such input",
        "an output reads {'node': 9, 'output': 0}: no such node",
    ]


def test_bad_attrs_and_corrupt_bundles_fail_by_name(tmp_path):
    model = et.Sequential([et.Input(shape=(4, 4, 1)), layers.Conv2D(2, 3)])
    model.save(tmp_path / "b")
    edit_graph(tmp_path / "b", lambda g: g["nodes"][0]["attrs"].pop("strides"))
    with pytest.raises(ConversionError, match=r"node 0 \(conv2d\): bad attrs: KeyError"):
        load(tmp_path / "b")
    (tmp_path / "b" / MANIFEST).write_text("{not json")
    with pytest.raises(ConversionError, match="bundle.json is not valid JSON"):
        load(tmp_path / "b")
    with pytest.raises(ConversionError, match="not an emberlite bundle"):
        load(tmp_path)

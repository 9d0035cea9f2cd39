"""emberlite.function: traces replay bit for bit what eager code computes, retrace when (and
only when) the signature changes, and refuse what a graph cannot replay faithfully."""

from __future__ import annotations

import collections
import re

import numpy as np
import pytest

import emberlite.trainer as et
import emberlite.trainer.nn as nn
from emberlite.errors import EmberliteError
from emberlite.trainer.function import ConcreteFunction, InputSpecError, TensorSpec, function
from emberlite.trainer.graph import TracingError


def rand(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def cnn_params(seed=0):
    """A small conv net's parameters as fresh variables (one set per test side)."""
    return {
        "conv": et.Variable(rand(3, 3, 2, 4, seed=seed) * 0.5, name="conv/kernel"),
        "bias": et.Variable(rand(4, seed=seed + 1) * 0.1, name="conv/bias"),
        "dense": et.Variable(rand(16, 3, seed=seed + 2) * 0.3, name="dense/kernel"),
    }


def cnn(p, x):
    h = nn.relu(nn.conv2d(x, p["conv"], 1, "SAME") + p["bias"])
    h = nn.max_pool2d(h, 2, 2, "VALID")
    h = et.concat([h[:, :, :, :2], nn.avg_pool2d(h, 1, 1, "SAME")[..., 2:]], axis=-1)
    flat = et.reshape(h, (-1, 16))
    logits = et.matmul(flat, p["dense"])
    return nn.softmax(et.where(logits > 0, logits, logits * 0.5))


def train_step(p, x, y, lr=0.1):
    variables = list(p.values())
    with et.GradientTape() as tape:
        probs = cnn(p, x)
        picked = et.reduce_sum(probs * nn_one_hot(y), axis=-1)
        loss = -et.reduce_mean(et.log(picked))
    for v, g in zip(variables, tape.gradient(loss, variables), strict=True):
        v.assign_sub(lr * g)
    return loss


def nn_one_hot(y):
    return et.cast(et.equal(et.reshape(y, (-1, 1)), np.arange(3)), np.float32)


def batch(seed, n=4):
    return rand(n, 4, 4, 2, seed=seed), np.random.default_rng(seed).integers(0, 3, n).astype(
        np.int32
    )


# -- traced == eager -------------------------------------------------------------------------------


def test_mlp_forward_matches_numpy_and_eager_on_every_call():
    w, b = et.Variable(rand(5, 3)), et.Variable(rand(3, seed=1))
    f = function(lambda x: nn.softmax(et.matmul(x, w) + b))
    for seed in range(3):
        x = rand(4, 5, seed=10 + seed)
        logits = x @ w.numpy() + b.numpy()
        expected = np.exp(logits - logits.max(-1, keepdims=True))
        expected /= expected.sum(-1, keepdims=True)
        got = f(x).numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-6)
        np.testing.assert_array_equal(got, nn.softmax(et.matmul(x, w) + b).numpy())
    assert f.experimental_get_tracing_count() == 1


def test_cnn_replay_is_bit_for_bit_eager():
    p = cnn_params()
    f = function(cnn)
    for seed in range(3):
        x = rand(2, 4, 4, 2, seed=seed)
        np.testing.assert_array_equal(f(p, x).numpy(), cnn(p, x).numpy())
    assert f.experimental_get_tracing_count() == 1


def test_training_step_traced_once_equals_eager_steps_bit_for_bit():
    eager, traced = cnn_params(), cnn_params()
    step = function(train_step)
    for seed in range(4):
        x, y = batch(seed)
        assert step(traced, x, y).numpy() == train_step(eager, x, y).numpy()
        for name in eager:
            np.testing.assert_array_equal(traced[name].numpy(), eager[name].numpy())
    assert step.experimental_get_tracing_count() == 1
    assert not np.array_equal(eager["conv"].numpy(), cnn_params()["conv"].numpy())  # it learned


def test_reads_after_an_assign_see_it_on_replay():
    v = et.Variable(1.0)

    def bump(x):
        before = v * 1
        v.assign_add(x)
        return before, v * 10, v.read_value()

    f = function(bump)
    results = [tuple(float(t) for t in f(2.0 * np.float32(k))) for k in range(1, 4)]
    assert results == [(1.0, 30.0, 3.0), (3.0, 70.0, 7.0), (7.0, 130.0, 13.0)]
    assert f.experimental_get_tracing_count() == 1


def test_variables_built_on_the_first_trace_are_captured():
    class Dense:
        def __init__(self):
            self.kernel = None

        @function
        def __call__(self, x):
            if self.kernel is None:  # builds on first call, as Keras layers do
                self.kernel = et.Variable(np.full((x.shape[-1], 2), 0.5, np.float32))
            return et.matmul(x, self.kernel)

    layer, other = Dense(), Dense()
    x = rand(3, 4)
    first = layer(x).numpy()
    layer.kernel.assign(np.ones((4, 2), np.float32))
    np.testing.assert_allclose(layer(x).numpy(), x @ np.ones((4, 2)), rtol=1e-6)
    np.testing.assert_allclose(first, x @ np.full((4, 2), 0.5), rtol=1e-6)
    np.testing.assert_allclose(other(x).numpy(), first)  # its own trace and kernel
    assert other.kernel is not layer.kernel
    assert Dense.__call__.__get__(layer).experimental_get_tracing_count() == 1


def test_tensor_indices_embeddings_and_labels_are_inputs_not_baked():
    table = et.Variable(rand(6, 3))
    shards = [et.Variable(table.numpy()[k::2]) for k in range(2)]  # "mod" sharding

    @function
    def f(ids, labels, logits, i):
        rows = nn.embedding_lookup(table, ids)
        assert_same(nn.embedding_lookup(shards, ids), rows)
        with et.GradientTape() as tape:
            tape.watch(logits)
            loss = et.reduce_sum(nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
        return rows, logits[i], tape.gradient(loss, logits)

    logits = rand(2, 3, seed=5)
    for seed in range(3):
        rng = np.random.default_rng(seed)
        ids, labels = rng.integers(0, 6, (2, 2)), rng.integers(0, 3, 2).astype(np.int32)
        i = np.int64(seed % 2)
        rows, row, grad = f(ids, labels, logits, i)
        np.testing.assert_array_equal(rows.numpy(), table.numpy()[ids])
        np.testing.assert_array_equal(row.numpy(), logits[i])
        soft = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
        np.testing.assert_allclose(grad.numpy(), soft - np.eye(3)[labels], atol=1e-6)
    assert f.experimental_get_tracing_count() == 1


def assert_same(a, b):
    """An op-level check inside traced code: the graph fails on replay where a != b."""
    et.gather(et.constant([0]), et.cast(et.reduce_max(et.abs(a - b)) > 0, np.int32) * 5)


def test_a_tape_around_a_replayed_function_differentiates_it():
    p = cnn_params()
    f = function(lambda p, x: et.reduce_sum(cnn(p, x) ** 2))
    x = rand(2, 4, 4, 2, seed=3)
    f(p, x)  # the trace
    grads = []
    for g in (f, lambda p, x: et.reduce_sum(cnn(p, x) ** 2)):
        xt = et.constant(x)
        with et.GradientTape() as tape:
            tape.watch(xt)
            y = g(p, xt)
        grads.append(tape.gradient(y, [xt, *p.values()]))
    for replayed, eager in zip(*grads, strict=True):
        np.testing.assert_array_equal(replayed.numpy(), eager.numpy())


def test_nested_functions_inline_and_structures_round_trip():
    Pair = collections.namedtuple("Pair", "total scaled")
    inner = function(lambda x, k: x * k)

    @function
    def outer(batch):
        scaled = inner(batch["x"], 3.0)
        return {"pair": Pair(et.reduce_sum(scaled), [scaled, batch["ys"][1]]), "tag": "ok"}

    for seed in range(2):
        x, ys = rand(2, 2, seed=seed), [rand(1, seed=7), rand(3, seed=seed)]
        out = outer({"x": x, "ys": ys})
        assert out["tag"] == "ok" and isinstance(out["pair"], Pair)
        np.testing.assert_array_equal(out["pair"].scaled[0].numpy(), x * np.float32(3))
        np.testing.assert_array_equal(out["pair"].scaled[1].numpy(), ys[1])
        assert float(out["pair"].total) == pytest.approx(float((x * 3).sum()), rel=1e-6)
    assert outer.experimental_get_tracing_count() == 1
    assert inner.experimental_get_tracing_count() == 1


# -- retracing -----------------------------------------------------------------------------------


def test_retraces_on_new_shapes_dtypes_and_python_values_only():
    traces = []

    @function
    def f(x, scale=1.0, mode="sum"):
        traces.append((x.shape, x.dtype, scale, mode))
        return et.reduce_sum(x) * scale if mode == "sum" else et.reduce_max(x)

    x = rand(2, 3)
    assert float(f(x)) == pytest.approx(float(x.sum()), rel=1e-6)
    f(rand(2, 3, seed=1))
    f(et.constant(rand(2, 3, seed=2)), 1.0, mode="sum")  # same signature, by keyword
    assert f.experimental_get_tracing_count() == 1
    f(rand(3, 3))  # shape
    f(rand(3, 3, dtype=np.float64))  # dtype
    f(x, 2.0)  # a Python value
    assert float(f(x, mode="max")) == pytest.approx(float(x.max()))
    f(x, 2.0)
    assert f.experimental_get_tracing_count() == len(traces) == 5
    assert float(f(x, 1)) == pytest.approx(float(x.sum()), rel=1e-6)  # int 1 is not 1.0
    assert f.experimental_get_tracing_count() == 6


def test_a_variable_argument_keys_by_identity():
    f = function(lambda v, x: v * x)
    a, b = et.Variable([1.0, 2.0]), et.Variable([3.0, 4.0])
    np.testing.assert_array_equal(f(a, 2.0).numpy(), [2.0, 4.0])
    np.testing.assert_array_equal(f(b, 2.0).numpy(), [6.0, 8.0])
    assert f.experimental_get_tracing_count() == 2


def test_unhashable_python_arguments_are_an_error():
    f = function(lambda x, options: x)
    with pytest.raises(InputSpecError, match="argument 'options' is an unhashable set"):
        f(1.0, {1})


def test_input_signature_with_none_dims_does_not_retrace():
    w = et.Variable(rand(3, 2))
    f = function(
        lambda x: nn.relu(et.matmul(x, w)),
        input_signature=[TensorSpec((None, 3), "float32", name="features")],
    )
    for n in (5, 1, 8):
        x = rand(n, 3, seed=n)
        np.testing.assert_array_equal(f(x).numpy(), np.maximum(x @ w.numpy(), 0))
    assert f.experimental_get_tracing_count() == 1
    concrete = f.get_concrete_function()
    assert concrete.inputs == [TensorSpec((None, 3), np.float32, "features")]
    assert concrete.outputs[0].shape == (None, 2)


def test_input_signature_mismatches_name_the_argument():
    f = function(lambda x, y: x + y, input_signature=[TensorSpec((None, 3)), TensorSpec((3,))])
    with pytest.raises(
        InputSpecError,
        match=r"argument 'x' must match shape \(None, 3\) float32, got shape \(2, 4\) float32",
    ):
        f(rand(2, 4), rand(3))
    with pytest.raises(InputSpecError, match=r"argument 'y' .* got shape \(3,\) int64"):
        f(rand(2, 3), np.arange(3))
    with pytest.raises(InputSpecError, match="missing a required argument: 'y'"):
        f(rand(2, 3))
    with pytest.raises(InputSpecError, match="input_signature has 2 specs for 1 arguments"):
        function(lambda x: x, input_signature=[TensorSpec(()), TensorSpec(())])


def test_a_graph_that_bakes_an_unknown_size_is_refused():
    flatten = function(
        lambda x: et.reshape(x, (x.shape[0], 4)), input_signature=[TensorSpec((None, 2, 2))]
    )
    with pytest.raises(
        TracingError, match=r"node 0 \(reshape\): attr 'shape' is \(3, 4\) .* Use -1"
    ):
        flatten(rand(3, 2, 2))
    mean = function(lambda x: et.reduce_mean(x), input_signature=[TensorSpec((None,))])
    with pytest.raises(TracingError, match=r"node 1 \(divide\): input 1 changes with the unknown"):
        mean(rand(4))
    ok = function(lambda x: et.reshape(x, (-1, 4)), input_signature=[TensorSpec((None, 2, 2))])
    assert ok(rand(3, 2, 2)).shape == (3, 4) and ok(rand(5, 2, 2)).shape == (5, 4)


def test_a_function_branching_on_an_unknown_size_is_refused():
    f = function(lambda x: x * 2 if x.shape[0] % 2 else x + 1, input_signature=[TensorSpec([None])])
    with pytest.raises(
        TracingError,
        match=r"different ops for inputs of shapes \[2\] and \[3\] \(from node 0 on: add vs mul",
    ):
        f(rand(2))
    with pytest.raises(EmberliteError, match="TensorSpec shape must be a list of sizes, got None"):
        TensorSpec(None)


def test_the_check_trace_leaves_variables_as_one_call_does():
    counter = et.Variable(0.0)

    @function(input_signature=[TensorSpec((None,))])
    def count(x):
        counter.assign_add(et.reduce_sum(x * 0 + 1))
        return counter * 1

    assert float(count(rand(3))) == 3.0  # the real trace, then one on stand-ins, undone
    assert float(counter) == 3.0
    assert float(count(rand(2))) == 5.0


def test_get_concrete_function_traces_on_zeros_without_effects():
    v = et.Variable([1.0, 1.0])

    @function
    def f(x, k):
        v.assign(v * k)
        return x * v

    concrete = f.get_concrete_function(TensorSpec((None, 2), name="x"), 2.0)
    assert isinstance(concrete, ConcreteFunction)
    np.testing.assert_array_equal(v.numpy(), [1.0, 1.0])  # zeros traces changed nothing
    assert concrete.structured_input_signature == (
        (TensorSpec((None, 2), np.float32, "x"), 2.0),
        {},
    )
    assert concrete.structured_outputs == TensorSpec((None, 2), np.float32)
    np.testing.assert_array_equal(
        concrete(np.ones((3, 2), np.float32), 2.0).numpy(), 2 * np.ones((3, 2))
    )
    np.testing.assert_array_equal(f(np.ones((4, 2), np.float32), 2.0).numpy(), 4 * np.ones((4, 2)))
    assert f.experimental_get_tracing_count() == 1  # the call used the concrete function
    with pytest.raises(
        InputSpecError, match=r"takes x: \(None, 2\) float32, k=2.0, got x: \(3, 3\) float32, k=2.0"
    ):
        concrete(np.ones((3, 3), np.float32), 2.0)
    assert f.get_concrete_function(TensorSpec((None, 2)), 2.0) is concrete


# -- dropout ---------------------------------------------------------------------------------------


def test_dropout_draws_a_fresh_mask_on_every_replay():
    x = np.ones((50, 40), np.float32)
    f = function(lambda x, training: nn.dropout(x, 0.5, training=training))
    masks = [f(x, True).numpy() for _ in range(3)]
    for m in masks:
        assert set(np.unique(m)) == {0.0, 2.0} and abs((m == 0).mean() - 0.5) < 0.1
    assert not np.array_equal(masks[1], masks[2])
    np.testing.assert_array_equal(f(x, False).numpy(), x)
    seeded = function(lambda x: nn.dropout(x, 0.5, seed=3))
    np.testing.assert_array_equal(seeded(x).numpy(), seeded(x).numpy())
    np.testing.assert_array_equal(seeded(x).numpy(), nn.dropout(x, 0.5, seed=3).numpy())


def test_the_ops_that_replace_python_reads():
    from emberlite.trainer.ops.nn_ops import OpError, one_hot, random_uniform

    labels = np.array([[0, 2], [3, -1]])
    expected = np.array([[[1, 0, 0], [0, 0, 1]], [[0, 0, 0], [0, 0, 0]]], np.float16)
    got = one_hot(labels, 3, dtype=np.float16).numpy()
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got, expected)  # outside [0, depth): zeros, as tf.one_hot
    u = random_uniform((1000,), dtype=np.float64, seed=5).numpy()
    assert u.dtype == np.float64 and 0 <= u.min() and u.max() < 1 and abs(u.mean() - 0.5) < 0.05
    np.testing.assert_array_equal(u, np.random.default_rng(5).random(1000))
    assert not np.array_equal(random_uniform((8,)).numpy(), random_uniform((8,)).numpy())
    with pytest.raises(
        OpError, match="random_uniform: dtype must be float32 or float64, got int32"
    ):
        random_uniform((2,), dtype=np.int32)


def test_dropout_with_a_python_rng_cannot_be_traced():
    f = function(lambda x: nn.dropout(x, 0.5, rng=np.random.default_rng(0)))
    with pytest.raises(TracingError, match=r"dropout\(rng=...\) draws its mask in Python"):
        f(np.ones(4, np.float32))


# -- the value guard ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("read", "how"),
    [
        (lambda x, v: float(et.reduce_sum(x)), "float()"),
        (lambda x, v: bool(et.reduce_sum(x) > 0), "bool()"),
        (lambda x, v: int(et.cast(x[0], np.int32)), "int()"),
        (lambda x, v: [0, 1, 2][et.cast(x[0], np.int32)], "using it as an index"),
        (lambda x, v: x.numpy(), ".numpy()"),
        (lambda x, v: np.asarray(x * 2), "np.asarray()"),
        (lambda x, v: v.numpy(), ".numpy()"),
    ],
)
def test_reading_traced_values_in_python_is_refused(read, how):
    v = et.Variable(1.0, name="scale")
    f = function(read)
    with pytest.raises(TracingError, match=rf"^{re.escape(how)} reads the value of .* traces"):
        f(np.ones(2, np.float32), v)
    assert float(v) == 1.0 and float(et.constant(2.0)) == 2.0  # no guard outside a trace


def test_the_guard_names_the_variable_and_lets_repr_and_constants_be():
    v = et.Variable(1.0, name="scale")
    captured = et.constant(4.0)

    @function
    def f(x):
        text = repr(x) + repr(v)  # repr still works
        assert "Tensor" in text and "scale" in text
        return x * float(captured)  # not traced: a constant's value may be read

    np.testing.assert_array_equal(f(np.ones(1, np.float32)).numpy(), [4.0])
    g = function(lambda: float(v))
    with pytest.raises(TracingError, match="float\\(\\) reads the value of variable 'scale'"):
        g()

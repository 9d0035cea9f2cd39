"""emberlite.trainer.nn: values, gradients against finite differences (first and second
order), PyTorch parity where PyTorch is importable, and the shape errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import emberlite.trainer as et
import emberlite.trainer.nn as nn
from emberlite.trainer.ops import nn_ops
from emberlite.trainer.ops.registry import OpError
from tests.trainer.gradcheck import check_gradients
from tests.trainer.test_cpu_kernels import windows

try:
    import torch
    import torch.nn.functional as F  # noqa: N812 (PyTorch's usual name)
except ImportError:
    torch = None
needs_torch = pytest.mark.skipif(
    torch is None, reason="PyTorch is not installed (pip install torch) for the parity checks"
)


def rand(*shape, seed=0, low=None):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape) if low is None else rng.uniform(low, 1.0, shape)


def explicit(pads):
    """nn_ops' (top, bottom, left, right) as TF's explicit NHWC padding."""
    return [[0, 0], [pads[0], pads[1]], [pads[2], pads[3]], [0, 0]]


def first_gradient(f):
    """x... -> the tape's gradient of f with respect to every input, flattened and joined:
    differentiating it again (another tape around it) gives second derivatives."""

    def grad(*xs):
        with et.GradientTape() as tape:
            tape.watch(list(xs))
            y = f(*xs)
        return et.concat([et.reshape(g, [-1]) for g in tape.gradient(y, list(xs))], 0)

    return grad


# -- convolutions -----------------------------------------------------------------------------


@settings(max_examples=15, deadline=None)
@given(case=windows(max_size=5), cout=st.integers(1, 2), seed=st.integers(0, 2**16))
def test_conv2d_gradients(case, cout, seed):
    shape, kernel, strides, dilations, pads = case
    x, w = rand(*shape, seed=seed), rand(*kernel, shape[3], cout, seed=seed + 1)
    check_gradients(
        lambda x, w: nn.conv2d(x, w, strides, explicit(pads), dilations=dilations), x, w
    )


@settings(max_examples=8, deadline=None)
@given(case=windows(max_size=5), seed=st.integers(0, 2**16))
def test_depthwise_conv2d_gradients(case, seed):
    shape, kernel, strides, dilations, pads = case
    x, w = rand(*shape, seed=seed), rand(*kernel, shape[3], 2, seed=seed + 1)
    check_gradients(
        lambda x, w: nn.depthwise_conv2d(x, w, strides, explicit(pads), dilations=dilations),
        x,
        w,
    )


@pytest.mark.parametrize("padding", ["SAME", "VALID"])
def test_conv2d_transpose_is_the_input_gradient_of_conv2d(padding):
    x, w = rand(2, 7, 6, 3), rand(3, 2, 3, 4, seed=1)
    xt = et.constant(x)
    with et.GradientTape() as tape:
        tape.watch(xt)
        y = nn.conv2d(xt, w, [1, 2, 2, 1], padding)
        dy = rand(*y.shape, seed=2)
        target = et.reduce_sum(y * dy)
    expected = tape.gradient(target, xt).numpy()
    got = nn.conv2d_transpose(dy, w, x.shape, 2, padding)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
    check_gradients(lambda dy, w: nn.conv2d_transpose(dy, w, x.shape, 2, padding), dy, w)


def test_second_derivatives_through_conv2d():
    x, w = rand(1, 5, 4, 2), rand(3, 3, 2, 2, seed=1) * 0.5
    r = rand(1, 3, 4, 2, seed=2)

    def loss(x, w):  # nonlinear, so that the second derivatives in x and w are not zero
        return et.reduce_sum(et.tanh(nn.conv2d(x, w, [2, 1], "SAME", dilations=[1, 2])) * r)

    check_gradients(first_gradient(loss), x, w, rtol=1e-5, atol=1e-6)


def test_second_derivatives_through_conv2d_transpose_and_depthwise():
    x, w = rand(1, 4, 4, 2), rand(2, 2, 2, 2, seed=1)
    depthwise = first_gradient(
        lambda x, w: et.reduce_sum(et.sin(nn.depthwise_conv2d(x, w, 1, "SAME")))
    )
    check_gradients(depthwise, x, w, atol=1e-6)
    dy, w = rand(1, 3, 3, 2, seed=2), rand(2, 2, 3, 2, seed=3)
    transposed = first_gradient(
        lambda dy, w: et.reduce_sum(et.sin(nn.conv2d_transpose(dy, w, [1, 6, 6, 3], 2, "SAME")))
    )
    check_gradients(transposed, dy, w, atol=1e-6)


def test_grouped_conv2d_matches_separate_convolutions():
    x, w = rand(2, 5, 5, 4), rand(3, 3, 2, 6, seed=1)  # 2 groups of 2 channels, 3 outputs each
    y = nn.conv2d(x, w, 1, "SAME").numpy()
    for g in range(2):
        part = nn.conv2d(x[..., 2 * g : 2 * g + 2], w[..., 3 * g : 3 * g + 3], 1, "SAME")
        np.testing.assert_allclose(y[..., 3 * g : 3 * g + 3], part.numpy(), rtol=1e-12)
    check_gradients(lambda x, w: nn.conv2d(x, w, 2, "VALID"), x[:1], w)


def test_pointwise_conv2d_fast_path():
    x, w = rand(2, 3, 4, 5), rand(1, 1, 5, 3, seed=1)
    np.testing.assert_allclose(
        nn.conv2d(x, w, 1, "VALID").numpy(), np.einsum("nhwc,co->nhwo", x, w[0, 0]), rtol=1e-12
    )
    check_gradients(lambda x, w: nn.conv2d(x, w, 1, "SAME"), x, w)


def test_conv2d_nchw_is_nhwc_transposed():
    x, w = rand(2, 6, 5, 3), rand(3, 3, 3, 2, seed=1)
    nhwc = nn.conv2d(x, w, [1, 2, 1, 1], "SAME").numpy()
    nchw = nn.conv2d(x.transpose(0, 3, 1, 2), w, [1, 1, 2, 1], "SAME", data_format="NCHW")
    np.testing.assert_allclose(nchw.numpy().transpose(0, 2, 3, 1), nhwc, rtol=1e-12)


def test_conv2d_kernels_in_chunks_and_in_float32(monkeypatch):
    x, w, dy = rand(3, 9, 8, 4), rand(3, 3, 4, 5, seed=1), rand(3, 5, 4, 5, seed=2)
    args = dict(strides=(2, 2), dilations=(1, 1), pads=(1, 1, 1, 1), groups=1)

    def run(dtype):
        xs, ws, dys = (a.astype(dtype) for a in (x, w, dy))
        return (
            nn_ops._conv2d_kernel(xs, ws, **args),
            nn_ops._conv2d_backprop_input_kernel(dys, ws, x.shape, **args),
            nn_ops._conv2d_backprop_filter_kernel(xs, dys, w.shape, **args),
        )

    whole = run(np.float64)
    monkeypatch.setattr(nn_ops, "COLS_BUDGET", 2000)  # one image per im2col chunk
    for got, expected in zip(run(np.float64), whole, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-12)
    for got, expected in zip(run(np.float32), whole, strict=True):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_conv2d_on_a_dtype_without_fast_kernels_uses_the_reference():
    x, w = rand(1, 5, 5, 2), rand(3, 3, 2, 2, seed=1)
    y16 = nn.conv2d(x.astype(np.float16), w.astype(np.float16), 2, "SAME")
    assert y16.dtype == np.float16
    np.testing.assert_allclose(y16.numpy(), nn.conv2d(x, w, 2, "SAME").numpy(), atol=0.05)


# -- pooling ----------------------------------------------------------------------------------


@settings(max_examples=15, deadline=None)
@given(case=windows(dilate=False, max_size=5), seed=st.integers(0, 2**16))
def test_pooling_gradients(case, seed):
    shape, ksize, strides, _, pads = case
    x = rand(*shape, seed=seed)
    check_gradients(lambda x: nn.max_pool2d(x, ksize, strides, explicit(pads)), x)
    check_gradients(lambda x: nn.avg_pool2d(x, ksize, strides, explicit(pads)), x)


def test_avg_pool_divides_by_the_unpadded_count():
    x = np.arange(1.0, 10.0).reshape(1, 3, 3, 1)
    y = nn.avg_pool2d(x, 2, 2, "SAME").numpy()[0, :, :, 0]
    np.testing.assert_array_equal(y, [[(1 + 2 + 4 + 5) / 4, (3 + 6) / 2], [(7 + 8) / 2, 9]])


def test_max_pool_padding_never_wins():
    x = -np.ones((1, 3, 3, 1))
    np.testing.assert_array_equal(nn.max_pool2d(x, 3, 1, "SAME").numpy(), x)


def test_second_derivatives_through_pooling():
    x = rand(1, 5, 4, 2)
    for pool in (nn.max_pool2d, nn.avg_pool2d):
        check_gradients(
            first_gradient(lambda x, pool=pool: et.reduce_sum(pool(x, 3, 2, "SAME") ** 3)), x
        )


def test_pooling_nchw_and_tf_aliases():
    x = rand(2, 5, 6, 3)
    for pool, alias in ((nn.max_pool2d, nn.max_pool), (nn.avg_pool2d, nn.avg_pool)):
        nhwc = pool(x, [1, 2, 3, 1], [1, 2, 2, 1], "SAME").numpy()
        nchw = alias(x.transpose(0, 3, 1, 2), [1, 1, 2, 3], [1, 1, 2, 2], "SAME", "NCHW")
        np.testing.assert_array_equal(nchw.numpy().transpose(0, 2, 3, 1), nhwc)


# -- activations ------------------------------------------------------------------------------

ACTIVATIONS = {
    "relu": (nn.relu, lambda x: np.maximum(x, 0)),
    "relu6": (nn.relu6, lambda x: np.clip(x, 0, 6)),
    "leaky_relu": (lambda x: nn.leaky_relu(x, 0.1), lambda x: np.where(x > 0, x, 0.1 * x)),
    "elu": (nn.elu, lambda x: np.where(x > 0, x, np.expm1(x))),
    "selu": (
        nn.selu,
        lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(x)),
    ),
    "sigmoid": (nn.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    "tanh": (nn.tanh, np.tanh),
    "softplus": (nn.softplus, lambda x: np.log1p(np.exp(x))),
    "gelu": (nn.gelu, lambda x: 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))),
    "gelu_tanh": (
        lambda x: nn.gelu(x, approximate=True),
        lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))),
    ),
    "hard_swish": (nn.hard_swish, lambda x: x * np.clip(x + 3, 0, 6) / 6),
    "hard_sigmoid": (nn.hard_sigmoid, lambda x: np.clip(x + 3, 0, 6) / 6),
    "silu": (nn.silu, lambda x: x / (1 + np.exp(-x))),
    "softmax": (nn.softmax, lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True)),
    "log_softmax": (
        lambda x: nn.log_softmax(x, axis=0),
        lambda x: x - np.log(np.exp(x).sum(0, keepdims=True)),
    ),
}


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_values_and_gradients(name):
    ours, reference = ACTIVATIONS[name]
    # away from the kinks (0, +-3, 6), where finite differences straddle two pieces
    x = np.array([[-7.0, -4.0, -2.5, -1.0, -0.3], [0.2, 0.9, 2.0, 4.5, 7.0]])
    np.testing.assert_allclose(ours(x).numpy(), reference(x), rtol=1e-12, atol=1e-15)
    check_gradients(ours, x)
    assert ours(x.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize(
    "name",
    [
        "elu",
        "selu",
        "sigmoid",
        "softplus",
        "gelu",
        "gelu_tanh",
        "silu",
        "softmax",
        "log_softmax",
        "tanh",
    ],
)
def test_activation_second_derivatives(name):
    ours = ACTIVATIONS[name][0]
    x = np.array([[-2.5, -1.0, -0.3], [0.2, 0.9, 2.0]])
    check_gradients(
        first_gradient(lambda x: et.reduce_sum(ours(x) * np.arange(6.0).reshape(2, 3))), x
    )


def test_relu_gradients_at_the_kinks_follow_tensorflow():
    x = et.constant([-1.0, 0.0, 3.0, 6.0, 7.0])
    for f, expected in ((nn.relu, [0, 0, 1, 1, 1]), (nn.relu6, [0, 0, 1, 0, 0])):
        with et.GradientTape() as tape:
            tape.watch(x)
            y = f(x)
        np.testing.assert_array_equal(tape.gradient(y, x).numpy(), expected)


def test_activations_do_not_overflow():
    x = np.array([-1000.0, -50.0, 50.0, 1000.0], np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        np.testing.assert_allclose(
            nn.sigmoid(x).numpy(), [0, 1 / (1 + np.exp(50)), 1, 1], rtol=1e-6
        )
        np.testing.assert_allclose(nn.softplus(x).numpy(), [0, np.exp(-50.0), 50, 1000])
        np.testing.assert_allclose(nn.softmax(x).numpy(), [0, 0, 0, 1])
        assert np.isfinite(nn.log_softmax(x).numpy()).all()
        np.testing.assert_array_equal(nn.elu(x).numpy(), [-1, -1, 50, 1000])


def test_gelu_is_exact_in_float64():
    x = np.linspace(-6, 6, 101)
    expected = np.array([0.5 * v * math.erfc(-v / math.sqrt(2)) for v in x])
    # NOTE: 1 + erf(x) (TF's formula) cancels to an absolute error of 1e-16 for x << 0
    np.testing.assert_allclose(nn.gelu(x).numpy(), expected, rtol=1e-14, atol=1e-15)


# -- losses -----------------------------------------------------------------------------------


def test_softmax_cross_entropy_values_and_gradients():
    logits = rand(4, 5)
    labels = np.random.default_rng(1).dirichlet(np.ones(5), 4)
    expected = -(labels * (logits - np.log(np.exp(logits).sum(-1, keepdims=True)))).sum(-1)
    loss = nn.softmax_cross_entropy_with_logits(labels, logits)
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-12)
    check_gradients(nn.softmax_cross_entropy_with_logits, labels, logits)
    check_gradients(lambda y, z: nn.softmax_cross_entropy_with_logits(y, z, axis=0), labels, logits)
    # d/dlogits = softmax - labels for labels that are distributions
    z = et.constant(logits)
    with et.GradientTape() as tape:
        tape.watch(z)
        loss = et.reduce_sum(nn.softmax_cross_entropy_with_logits(labels, z))
    softmax = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    np.testing.assert_allclose(tape.gradient(loss, z).numpy(), softmax - labels, rtol=1e-12)
    check_gradients(
        first_gradient(
            lambda z: et.reduce_sum(
                nn.softmax_cross_entropy_with_logits(labels, z) * np.arange(4.0)
            )
        ),
        logits,
    )


def test_sparse_softmax_cross_entropy():
    logits, labels = rand(2, 3, 4), np.array([[0, 3, 1], [2, 2, 0]])
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = -np.take_along_axis(log_p, labels[..., None], -1)[..., 0]
    loss = nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-12)
    check_gradients(lambda z: nn.sparse_softmax_cross_entropy_with_logits(labels, z), logits)
    check_gradients(
        first_gradient(
            lambda z: et.reduce_sum(nn.sparse_softmax_cross_entropy_with_logits(labels, z) ** 2)
        ),
        logits,
    )


def test_cross_entropies_are_stable_for_huge_logits():
    logits = np.array([[1e4, -1e4, 0.0]], np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        sparse = nn.sparse_softmax_cross_entropy_with_logits([1], logits).numpy()
        dense = nn.softmax_cross_entropy_with_logits([[0.0, 1.0, 0.0]], logits).numpy()
        sigmoid = nn.sigmoid_cross_entropy_with_logits(logits * 0 + 1, logits).numpy()
    np.testing.assert_allclose(sparse, [2e4])
    np.testing.assert_allclose(dense, [2e4])
    np.testing.assert_allclose(sigmoid, [[0, 1e4, math.log(2)]], rtol=1e-6)


def test_sigmoid_cross_entropy_and_l2_loss():
    logits, labels = rand(3, 4), rand(3, 4, seed=1, low=0.0)
    p = 1 / (1 + np.exp(-logits))
    expected = -(labels * np.log(p) + (1 - labels) * np.log(1 - p))
    np.testing.assert_allclose(
        nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits).numpy(),
        expected,
        rtol=1e-12,
    )
    check_gradients(lambda y, z: nn.sigmoid_cross_entropy_with_logits(y, z), labels, logits)
    assert float(nn.l2_loss(logits)) == pytest.approx((logits**2).sum() / 2, rel=1e-12)
    check_gradients(nn.l2_loss, logits)


# -- normalization, bias, dropout, embeddings -----------------------------------------------------


def test_moments_and_batch_normalization():
    x = rand(4, 3, 2, 5)
    mean, variance = nn.moments(x, axes=[0, 1, 2])
    np.testing.assert_allclose(mean.numpy(), x.mean((0, 1, 2)), rtol=1e-12)
    np.testing.assert_allclose(variance.numpy(), x.var((0, 1, 2)), rtol=1e-12)
    kept_mean, kept_variance = nn.moments(x, axes=[1], keepdims=True)
    assert kept_mean.shape == kept_variance.shape == (4, 1, 2, 5)
    check_gradients(lambda x: nn.moments(x, [0, 2])[1], x[:2])
    check_gradients(lambda x: nn.moments(x, [0, 2])[0], x[:2])

    offset, scale = rand(5, seed=1), rand(5, seed=2)
    m, v = x.mean((0, 1, 2)), x.var((0, 1, 2))
    y = nn.batch_normalization(x, m, v, offset, scale, 1e-3)
    np.testing.assert_allclose(y.numpy(), (x - m) / np.sqrt(v + 1e-3) * scale + offset, rtol=1e-12)
    np.testing.assert_allclose(
        nn.batch_normalization(x, m, v, None, None, 1e-3).numpy(),
        (x - m) / np.sqrt(v + 1e-3),
        rtol=1e-12,
    )
    check_gradients(
        lambda x, o, s: nn.batch_normalization(x, *nn.moments(x, [0, 1, 2]), o, s, 1e-3),
        x[:2],
        offset,
        scale,
    )


def test_bias_add():
    value, bias = rand(2, 3, 4), rand(4, seed=1)
    np.testing.assert_allclose(nn.bias_add(value, bias).numpy(), value + bias)
    nchw = nn.bias_add(value.transpose(0, 2, 1), bias, data_format="NCHW").numpy()
    np.testing.assert_allclose(nchw, (value + bias).transpose(0, 2, 1))
    check_gradients(nn.bias_add, value, bias)


def test_dropout_scales_the_kept_elements():
    x = np.ones((200, 100), np.float32)
    y = nn.dropout(x, 0.3, seed=7).numpy()
    assert abs((y == 0).mean() - 0.3) < 0.02
    np.testing.assert_allclose(y[y != 0], 1 / 0.7, rtol=1e-6)
    np.testing.assert_array_equal(nn.dropout(x, 0.3, seed=7).numpy(), y)  # same seed, mask
    assert not np.array_equal(nn.dropout(x, 0.3).numpy(), nn.dropout(x, 0.3).numpy())
    a = nn.dropout(x, 0.5, rng=np.random.default_rng(1)).numpy()
    b = nn.dropout(x, 0.5, rng=np.random.default_rng(1)).numpy()
    np.testing.assert_array_equal(a, b)
    xt = et.constant(x)
    assert nn.dropout(xt, 0.3, training=False) is xt
    assert nn.dropout(xt, 0.0) is xt
    shared = nn.dropout(x, 0.5, noise_shape=[200, 1], seed=0).numpy()
    assert ((shared == 0).all(axis=1) | (shared != 0).all(axis=1)).all()


def test_dropout_gradient_is_the_mask():
    x = et.constant(rand(50, 8))
    with et.GradientTape() as tape:
        tape.watch(x)
        y = nn.dropout(x, 0.25, seed=3)
    g = tape.gradient(y, x).numpy()
    np.testing.assert_allclose(g, np.where(y.numpy() != 0, 1 / 0.75, 0), rtol=1e-12)


def test_embedding_lookup():
    table, ids = rand(7, 3), np.array([[0, 6], [2, 2]])
    np.testing.assert_array_equal(nn.embedding_lookup(table, ids).numpy(), table[ids])
    check_gradients(lambda t: nn.embedding_lookup(t, ids), table)  # repeated ids accumulate
    # a list of tables is one table split by id modulo 3 ("mod" partitioning)
    shards = [table[0::3], table[1::3], table[2::3]]
    np.testing.assert_array_equal(nn.embedding_lookup(shards, ids).numpy(), table[ids])
    clipped = nn.embedding_lookup(table * 10, ids, max_norm=1.0).numpy()
    np.testing.assert_allclose(np.linalg.norm(clipped, axis=-1), 1.0, rtol=1e-12)


# -- PyTorch parity ---------------------------------------------------------------------------


def _tape(fn, *arrays, weights):
    xs = [et.constant(a) for a in arrays]
    with et.GradientTape() as tape:
        tape.watch(xs)
        y = fn(*xs)
        target = et.reduce_sum(y * weights)
    return y.numpy(), [g.numpy() for g in tape.gradient(target, xs)]


def _torch(fn, *arrays, weights):
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    y = fn(*ts)
    (y * torch.tensor(weights)).sum().backward()
    return y.detach().numpy(), [t.grad.numpy() for t in ts]


def _assert_same(ours, theirs, rtol):
    np.testing.assert_allclose(ours[0], theirs[0], rtol=rtol, atol=rtol)
    for a, b in zip(ours[1], theirs[1], strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol)


@needs_torch
@pytest.mark.parametrize(
    "shape, kernel, strides, dilations, padding, groups",
    [
        ((2, 9, 8, 3), (3, 3), (1, 1), (1, 1), "SAME", 1),
        ((2, 9, 8, 3), (5, 5), (2, 2), (1, 1), "SAME", 1),
        ((2, 10, 7, 4), (3, 2), (2, 3), (2, 1), "VALID", 1),
        ((1, 8, 8, 4), (3, 3), (1, 2), (1, 1), [[0, 0], [2, 0], [1, 3], [0, 0]], 2),
        ((3, 6, 6, 4), (3, 3), (1, 1), (1, 1), "SAME", 4),
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv2d_matches_torch(shape, kernel, strides, dilations, padding, groups, dtype):
    cin = shape[3] // groups
    x, w = rand(*shape).astype(dtype), rand(*kernel, cin, 2 * groups, seed=1).astype(dtype)
    pads, out_hw = nn_ops._padding(padding, shape[1:3], kernel, strides, dilations, "", False, "")
    weights = rand(shape[0], *out_hw, 2 * groups, seed=2).astype(dtype)

    def theirs(x, w):
        xp = F.pad(x.permute(0, 3, 1, 2), (pads[2], pads[3], pads[0], pads[1]))
        y = F.conv2d(xp, w.permute(3, 2, 0, 1), stride=strides, dilation=dilations, groups=groups)
        return y.permute(0, 2, 3, 1)

    ours = _tape(
        lambda x, w: nn.conv2d(x, w, strides, padding, dilations=dilations), x, w, weights=weights
    )
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    _assert_same(ours, _torch(theirs, x, w, weights=weights), rtol)


@needs_torch
def test_conv2d_transpose_matches_torch():
    x, w = rand(2, 4, 3, 3), rand(3, 3, 2, 3, seed=1)  # filters [kh, kw, out, in]
    out_shape = (2, 9, 7, 2)  # VALID, stride 2: (4 - 1) * 2 + 3
    weights = rand(*out_shape, seed=2)

    def theirs(x, w):
        y = F.conv_transpose2d(x.permute(0, 3, 1, 2), w.permute(3, 2, 0, 1), stride=2)
        return y.permute(0, 2, 3, 1)

    ours = _tape(
        lambda x, w: nn.conv2d_transpose(x, w, out_shape, 2, "VALID"), x, w, weights=weights
    )
    _assert_same(ours, _torch(theirs, x, w, weights=weights), 1e-10)


@needs_torch
@pytest.mark.parametrize("padding", ["VALID", "SAME"])
@pytest.mark.parametrize("size, ksize, stride", [(8, 2, 2), (7, 3, 2), (7, 3, 1), (9, 3, 3)])
def test_pooling_matches_torch(size, ksize, stride, padding):
    x = rand(2, size, size, 3)
    window = ((ksize, ksize), (stride, stride), (1, 1))
    pads, out_hw = nn_ops._padding(padding, x.shape[1:3], *window, "", False, "")
    assert pads[0] == pads[1] and pads[2] == pads[3]  # PyTorch pads symmetrically only
    weights = rand(2, *out_hw, 3, seed=1)
    torch_args = dict(kernel_size=ksize, stride=stride, padding=(pads[0], pads[2]))

    def max_theirs(x):
        return F.max_pool2d(x.permute(0, 3, 1, 2), **torch_args).permute(0, 2, 3, 1)

    def avg_theirs(x):
        y = F.avg_pool2d(x.permute(0, 3, 1, 2), count_include_pad=False, **torch_args)
        return y.permute(0, 2, 3, 1)

    ours = _tape(lambda x: nn.max_pool2d(x, ksize, stride, padding), x, weights=weights)
    _assert_same(ours, _torch(max_theirs, x, weights=weights), 1e-12)
    ours = _tape(lambda x: nn.avg_pool2d(x, ksize, stride, padding), x, weights=weights)
    _assert_same(ours, _torch(avg_theirs, x, weights=weights), 1e-12)


@needs_torch
def test_cross_entropies_match_torch():
    logits, weights = rand(6, 5), rand(6, seed=1)
    labels = np.random.default_rng(2).dirichlet(np.ones(5), 6)
    classes = np.array([0, 4, 2, 2, 1, 3])

    ours = _tape(nn.softmax_cross_entropy_with_logits, labels, logits, weights=weights)
    theirs = _torch(
        lambda y, z: F.cross_entropy(z, y, reduction="none"), labels, logits, weights=weights
    )
    _assert_same(ours, theirs, 1e-12)

    ours = _tape(
        lambda z: nn.sparse_softmax_cross_entropy_with_logits(classes, z), logits, weights=weights
    )
    theirs = _torch(
        lambda z: F.cross_entropy(z, torch.tensor(classes), reduction="none"),
        logits,
        weights=weights,
    )
    _assert_same(ours, theirs, 1e-12)

    targets = rand(6, 5, seed=3, low=0.0)
    ours = _tape(nn.sigmoid_cross_entropy_with_logits, targets, logits, weights=weights[:, None])
    theirs = _torch(
        lambda t, z: F.binary_cross_entropy_with_logits(z, t, reduction="none"),
        targets,
        logits,
        weights=weights[:, None],
    )
    _assert_same(ours, theirs, 1e-12)


# -- errors -----------------------------------------------------------------------------------


def test_shape_errors_name_the_op_and_both_shapes():
    x, w = np.zeros((1, 5, 5, 3)), np.zeros((3, 3, 2, 4))
    with pytest.raises(OpError, match=r"conv2d: input of shape \[1, 5, 5, 3\].*\[3, 3, 2, 4\]"):
        nn.conv2d(x, w, 1, "SAME")
    with pytest.raises(OpError, match=r"conv2d: .*rank 4.*\[5, 5, 3\] and \[3, 3, 3, 4\]"):
        nn.conv2d(x[0], np.zeros((3, 3, 3, 4)), 1, "SAME")
    with pytest.raises(OpError, match=r"conv2d: a 7x7 window .*\[1, 5, 5, 3\].*\[7, 7, 3, 1\]"):
        nn.conv2d(x, np.zeros((7, 7, 3, 1)), 1, "VALID")
    with pytest.raises(OpError, match=r"depthwise_conv2d: .*\[1, 5, 5, 3\].*\[3, 3, 2, 1\]"):
        nn.depthwise_conv2d(x, np.zeros((3, 3, 2, 1)), 1, "SAME")
    with pytest.raises(OpError, match=r"conv2d_transpose: input of shape \[1, 5, 5, 3\]"):
        nn.conv2d_transpose(x, np.zeros((3, 3, 2, 3)), [1, 8, 8, 2], 1, "SAME")
    with pytest.raises(OpError, match=r"max_pool2d: a 6x6 window .*\[1, 5, 5, 3\]"):
        nn.max_pool2d(x, 6, 1, "VALID")
    with pytest.raises(
        OpError,
        match=r"softmax_cross_entropy_with_logits: labels of shape "
        r"\[2, 3\] and logits of shape \[2, 4\]",
    ):
        nn.softmax_cross_entropy_with_logits(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(
        OpError,
        match=r"sparse_softmax_cross_entropy_with_logits: labels of "
        r"shape \[3\] do not match logits of shape \[2, 4\]",
    ):
        nn.sparse_softmax_cross_entropy_with_logits(np.zeros(3, np.int32), np.zeros((2, 4)))
    with pytest.raises(OpError, match=r"bias_add: bias of shape \[3\] .* shape \[2, 4\]"):
        nn.bias_add(np.zeros((2, 4)), np.zeros(3))


def test_argument_errors():
    x = np.zeros((1, 4, 4, 1))
    with pytest.raises(OpError, match="label 5 is outside"):
        nn.sparse_softmax_cross_entropy_with_logits(np.array([5]), np.zeros((1, 4)))
    with pytest.raises(OpError, match=r"strides \[2, 2, 2, 1\] must be 1"):
        nn.conv2d(x, np.zeros((1, 1, 1, 1)), [2, 2, 2, 1], "SAME")
    with pytest.raises(OpError, match="padding must be 'SAME', 'VALID'"):
        nn.max_pool2d(x, 2, 2, "FULL")
    with pytest.raises(OpError, match="leaves windows"):
        nn.max_pool2d(x, 2, 2, [[0, 0], [2, 0], [0, 0], [0, 0]])
    with pytest.raises(OpError, match=r"dropout: rate must be in \[0, 1\)"):
        nn.dropout(x, 1.0)
    with pytest.raises(OpError, match="data_format"):
        nn.conv2d(x, np.zeros((1, 1, 1, 1)), 1, "SAME", data_format="NWHC")
    with pytest.raises(OpError, match="same dtype"):
        nn.conv2d(x.astype(np.float32), np.zeros((1, 1, 1, 1)), 1, "SAME")

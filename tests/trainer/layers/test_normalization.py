"""BatchNormalization: training and inference outputs, moving statistics, axes, gradients,
mixed precision."""

import numpy as np
import pytest

import emberlite.trainer as et
from emberlite.trainer import initializers, layers, mixed_precision
from emberlite.trainer.layers.base import LayerError
from tests.trainer.gradcheck import check_gradients
from tests.trainer.layers.helpers import check_weight_gradients, data, torch


def normalized(x, mean, variance, gamma, beta, epsilon):
    return gamma * (x - mean) / np.sqrt(variance + epsilon) + beta


def test_training_uses_batch_statistics_and_updates_the_moving_ones():
    layer = layers.BatchNormalization(
        momentum=0.9, gamma_initializer=initializers.Constant(2.0), beta_initializer="ones"
    )
    x = data(4, 3, 3, 5) * 3 + 1
    mean, variance = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
    y = layer(x, training=True)
    np.testing.assert_allclose(y.numpy(), normalized(x, mean, variance, 2, 1, 1e-3), rtol=1e-5)
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.1 * mean, rtol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.numpy(), 0.9 + 0.1 * variance, rtol=1e-5)
    layer(x, training=True)
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.19 * mean, rtol=1e-5)


def test_inference_uses_the_moving_statistics_and_changes_nothing():
    layer = layers.BatchNormalization(epsilon=0.5)
    x = data(3, 4)
    layer(x, training=True)
    statistics = [layer.moving_mean, layer.moving_variance]
    moving = [v.numpy().copy() for v in statistics]
    expected = normalized(x, *moving, 1, 0, 0.5)
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-5)
    np.testing.assert_allclose(layer(x, training=False).numpy(), expected, rtol=1e-5)
    layer.trainable = False  # as Keras: a frozen layer runs in inference mode
    np.testing.assert_allclose(layer(x, training=True).numpy(), expected, rtol=1e-5)
    for before, after in zip(moving, statistics, strict=True):
        np.testing.assert_array_equal(before, after.numpy())


def test_weights_order_and_center_scale_off():
    layer = layers.BatchNormalization()
    layer(data(2, 3))
    names = [w.name.split("/")[1] for w in layer.weights]
    assert names == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert len(layer.trainable_weights) == 2
    bare = layers.BatchNormalization(center=False, scale=False)
    x = data(5, 2)
    y = bare(x, training=True).numpy()
    assert len(bare.weights) == 2
    np.testing.assert_allclose(y, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-3), rtol=1e-5)


@pytest.mark.parametrize("axis, kept", [(1, (1,)), ([1, 3], (1, 3)), (-3, (1,))])
def test_other_axes(axis, kept):
    layer = layers.BatchNormalization(axis=axis)
    x = data(2, 3, 4, 5) + 2
    reduced = tuple(i for i in range(4) if i not in kept)
    mean, variance = x.mean(reduced, keepdims=True), x.var(reduced, keepdims=True)
    y = layer(x, training=True)
    assert layer.gamma.shape == tuple(x.shape[i] for i in kept)
    np.testing.assert_allclose(y.numpy(), normalized(x, mean, variance, 1, 0, 1e-3), rtol=1e-5)
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.01 * mean.squeeze(), rtol=1e-5)


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
def test_training_output_gradients_and_moving_mean_match_torch():
    x = data(4, 3, 3, 2, dtype=np.float64)
    r = data(4, 3, 3, 2, seed=1, dtype=np.float64)
    layer = layers.BatchNormalization(dtype="float64")
    layer(x, training=True)
    layer.set_weights([np.array([1.5, 0.5]), np.array([0.2, -0.1]), np.zeros(2), np.ones(2)])
    xt = et.constant(x)
    with et.GradientTape() as tape:
        tape.watch(xt)
        y = layer(xt, training=True)
        loss = et.reduce_sum(y * r)
    dx, dgamma, dbeta = tape.gradient(loss, [xt, layer.gamma, layer.beta])

    bn = torch.nn.BatchNorm2d(2, eps=1e-3, momentum=0.01, dtype=torch.float64)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([1.5, 0.5], dtype=torch.float64))
        bn.bias.copy_(torch.tensor([0.2, -0.1], dtype=torch.float64))
    t = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
    out = bn(t)
    (out * torch.tensor(r.transpose(0, 3, 1, 2))).sum().backward()
    np.testing.assert_allclose(y.numpy(), out.detach().numpy().transpose(0, 2, 3, 1), atol=1e-12)
    np.testing.assert_allclose(dx.numpy(), t.grad.numpy().transpose(0, 2, 3, 1), atol=1e-12)
    np.testing.assert_allclose(dgamma.numpy(), bn.weight.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(dbeta.numpy(), bn.bias.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(layer.moving_mean.numpy(), bn.running_mean.numpy(), atol=1e-12)


def test_gradients_by_finite_differences():
    x = data(3, 2, 2, dtype=np.float64)
    layer = layers.BatchNormalization(dtype="float64")
    check_weight_gradients(layer, x, training=True)
    check_gradients(lambda t: layer(t, training=True), x)
    check_gradients(lambda t: layer(t, training=False), x)


def test_mixed_precision_computes_in_float32_and_returns_float16():
    mixed_precision.set_global_policy("mixed_float16")
    try:
        layer = layers.BatchNormalization()
    finally:
        mixed_precision.set_global_policy("float32")
    x = (data(8, 6) * 100 + 3000).astype(np.float16)  # float16 statistics would overflow
    with et.GradientTape() as tape:
        y = layer(x, training=True)
        loss = et.reduce_sum(et.cast(y, np.float32))
    assert y.dtype == np.float16 and all(w.dtype == np.float32 for w in layer.weights)
    exact = x.astype(np.float32)
    expected = (exact - exact.mean(0)) / np.sqrt(exact.var(0) + 1e-3)
    np.testing.assert_allclose(y.numpy(), expected, atol=2e-3)
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.01 * exact.mean(0), rtol=1e-4)
    assert all(g.dtype == np.float32 for g in tape.gradient(loss, layer.trainable_weights))


def test_errors_name_the_layer():
    with pytest.raises(LayerError, match="'bn'.*axis 4 does not name distinct axes"):
        layers.BatchNormalization(axis=4, name="bn")(data(2, 3))
    layer = layers.BatchNormalization(name="bn2")
    layer(data(2, 3))
    with pytest.raises(LayerError, match=r"'bn2'.*axis 1 .* value 3.*\(2, 4\)"):
        layer(data(2, 4))
    with pytest.raises(LayerError, match="momentum must be in"):
        layers.BatchNormalization(momentum=1.5)

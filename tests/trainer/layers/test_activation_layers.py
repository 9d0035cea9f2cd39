"""ReLU, LeakyReLU, PReLU, ELU, Softmax layers (Activation: test_activations.py)."""

import numpy as np
import pytest

from emberlite.trainer import initializers, layers
from emberlite.trainer.layers.base import LayerError
from tests.trainer.gradcheck import check_gradients
from tests.trainer.layers.helpers import check_weight_gradients, data

X = data(2, 3, 4, 5)


def test_relu_family():
    np.testing.assert_array_equal(layers.ReLU()(X).numpy(), np.maximum(X, 0))
    np.testing.assert_allclose(
        layers.LeakyReLU()(X).numpy(), np.where(X > 0, X, 0.3 * X), rtol=1e-6
    )  # Keras's layer default, 0.3
    keras2 = layers.LeakyReLU(alpha=0.1)
    assert keras2.get_config()["negative_slope"] == 0.1
    np.testing.assert_allclose(keras2(X).numpy(), np.where(X > 0, X, 0.1 * X), rtol=1e-6)
    np.testing.assert_allclose(
        layers.ELU(0.7)(X).numpy(), np.where(X > 0, X, 0.7 * np.expm1(X)), rtol=1e-6
    )
    with pytest.raises(LayerError, match="'r'.*negative_slope must be >= 0"):
        layers.ReLU(negative_slope=-1, name="r")
    with pytest.raises(LayerError, match="max_value must be >= 0"):
        layers.ReLU(max_value=-1.0)


def test_softmax_axis():
    e = np.exp(X - X.max(axis=1, keepdims=True))
    np.testing.assert_allclose(
        layers.Softmax(axis=1)(X).numpy(), e / e.sum(axis=1, keepdims=True), rtol=1e-6
    )


def test_prelu_learns_an_alpha_per_element_or_shared():
    layer = layers.PReLU(alpha_initializer=initializers.Constant(0.25))
    y = layer(X)
    assert layer.alpha.shape == (3, 4, 5)
    np.testing.assert_allclose(y.numpy(), np.where(X > 0, X, 0.25 * X), rtol=1e-6)
    shared = layers.PReLU(shared_axes=[1, 2])
    shared(X)
    assert shared.alpha.shape == (1, 1, 5)
    shared.set_weights([np.arange(5, dtype=np.float32).reshape(1, 1, 5)])
    alpha = np.arange(5).reshape(1, 1, 1, 5)
    np.testing.assert_allclose(shared(X).numpy(), np.where(X > 0, X, alpha * X), rtol=1e-6)
    # a shared axis may change size; the others are fixed
    assert shared(data(2, 7, 1, 5)).shape == (2, 7, 1, 5)
    with pytest.raises(LayerError, match=r"axis 3 .* value 5.*\(2, 3, 4, 6\)"):
        shared(data(2, 3, 4, 6))
    with pytest.raises(LayerError, match=r"shared_axes \[0\] must be axes 1..3"):
        layers.PReLU(shared_axes=0)(X)


def test_prelu_gradients():
    layer = layers.PReLU(alpha_initializer=initializers.Constant(0.3), dtype="float64")
    x = data(2, 3, dtype=np.float64)
    check_weight_gradients(layer, x)
    check_gradients(layer, x)

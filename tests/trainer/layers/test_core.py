"""Dense and Embedding against NumPy, their gradients, and their errors."""

import numpy as np
import pytest

import emberlite.trainer as et
from emberlite.trainer import initializers, layers
from emberlite.trainer.layers.base import LayerError
from emberlite.trainer.ops.registry import OpError
from tests.trainer.gradcheck import check_gradients
from tests.trainer.layers.helpers import check_weight_gradients, data


def test_dense_is_x_times_kernel_plus_bias_then_activation():
    layer = layers.Dense(3, activation="tanh", bias_initializer=initializers.Constant(0.5))
    x = data(4, 5)
    y = layer(x)
    assert layer.kernel.shape == (5, 3) and layer.kernel.name == f"{layer.name}/kernel"
    np.testing.assert_allclose(y.numpy(), np.tanh(x @ layer.kernel.numpy() + 0.5), rtol=1e-5)


def test_dense_works_on_the_last_axis_of_any_rank():
    layer = layers.Dense(2, use_bias=False)
    x = data(2, 3, 4, 5)
    assert layer.bias is None and len(layer.weights) == 0
    np.testing.assert_allclose(layer(x).numpy(), x @ layer.kernel.numpy(), rtol=1e-5)
    assert layer.weights == [layer.kernel]
    assert layers.Dense(7)(et.Input(shape=(None, 4))).shape == (None, None, 7)


def test_dense_gradients():
    layer = layers.Dense(3, activation="sigmoid", dtype="float64")
    x = data(2, 3, 4, dtype=np.float64)
    check_weight_gradients(layer, x)
    check_gradients(layer, x)


def test_dense_errors_name_the_layer_and_shapes():
    layer = layers.Dense(3, name="head")
    layer(data(2, 4))
    with pytest.raises(LayerError, match=r"'head'.*axis -1 .* value 4.*\(2, 5\)"):
        layer(data(2, 5))
    with pytest.raises(LayerError, match=r"'head'.*min_ndim=2, found ndim=1.*\(4,\)"):
        layer(data(4))
    with pytest.raises(LayerError, match="units must be a positive int, got 0"):
        layers.Dense(0)


def test_embedding_looks_up_rows_and_accumulates_their_gradients():
    layer = layers.Embedding(6, 3)
    ids = np.array([[0, 5, 5], [2, 0, 1]])
    y = layer(ids)
    table = layer.embeddings.numpy()
    np.testing.assert_array_equal(y.numpy(), table[ids])
    assert np.abs(table).max() <= 0.05  # Keras's "uniform": RandomUniform(-0.05, 0.05)
    np.testing.assert_array_equal(layer(ids.astype(np.float32) + 0.25).numpy(), table[ids])
    with et.GradientTape() as tape:
        loss = et.reduce_sum(layer(ids))
    counts = np.bincount(ids.ravel(), minlength=6)[:, None] * np.ones((1, 3))
    np.testing.assert_array_equal(tape.gradient(loss, layer.embeddings).numpy(), counts)
    with pytest.raises(OpError, match="out of range"):
        layer(np.array([6]))

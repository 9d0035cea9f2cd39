"""Merge layers against NumPy, in functional graphs, and their errors."""

import numpy as np
import pytest

import emberlite.trainer as et
from emberlite.trainer import layers
from emberlite.trainer.layers.base import LayerError
from tests.trainer.layers.helpers import data

A, B, C = data(2, 3, 4, seed=0), data(2, 3, 4, seed=1), data(2, 1, 4, seed=2)


@pytest.mark.parametrize(
    "layer, expected",
    [
        (layers.Add(), A + B + C),
        (layers.Multiply(), A * B * C),
        (layers.Average(), (A + B + C) / 3),
        (layers.Maximum(), np.maximum(np.maximum(A, B), C)),
        (layers.Minimum(), np.minimum(np.minimum(A, B), C)),
    ],
)
def test_elementwise_merges_broadcast(layer, expected):
    np.testing.assert_allclose(layer([A, B, C]).numpy(), expected, rtol=1e-6)


def test_subtract_and_concatenate():
    np.testing.assert_array_equal(layers.Add()([A]).numpy(), A)  # Keras takes one input too
    np.testing.assert_array_equal(layers.Subtract()([A, C]).numpy(), A - C)
    np.testing.assert_array_equal(layers.Concatenate()([A, B]).numpy(), np.concatenate([A, B], -1))
    joined = layers.Concatenate(axis=1)([A, C, B]).numpy()
    np.testing.assert_array_equal(joined, np.concatenate([A, C, B], 1))


def test_in_a_functional_model_with_gradients():
    x, y = et.Input(shape=(3,)), et.Input(shape=(3,))
    total = layers.Concatenate()([layers.Add()([x, y]), layers.Multiply()([x, y])])
    model = et.Model([x, y], total)
    assert model.output_shape == (None, 6)
    a, b = et.constant(data(2, 3)), et.constant(data(2, 3, seed=1))
    with et.GradientTape() as tape:
        tape.watch([a, b])
        out = et.reduce_sum(model([a, b]))
    da, db = tape.gradient(out, [a, b])
    np.testing.assert_allclose(da.numpy(), 1 + b.numpy(), rtol=1e-6)
    np.testing.assert_allclose(db.numpy(), 1 + a.numpy(), rtol=1e-6)


def test_errors_name_the_layer_and_shapes():
    with pytest.raises(LayerError, match="'s'.*list of exactly 2 input.s., got 3"):
        layers.Subtract(name="s")([A, B, C])
    with pytest.raises(LayerError, match="'a'.*list of at least 1 input.s., got Tensor"):
        layers.Add(name="a")(et.constant(A))
    with pytest.raises(LayerError, match="'a2'.*list of at least 1 input.s., got 0"):
        layers.Add(name="a2")([])
    with pytest.raises(LayerError, match=r"'m'.*must broadcast.*\(2, 3, 4\), \(2, 5\)"):
        layers.Multiply(name="m")([A, data(2, 5)])
    with pytest.raises(LayerError, match=r"'c'.*axis 1.*agree on all others.*\(2, 3, 5\)"):
        layers.Concatenate(axis=1, name="c")([A, data(2, 3, 5)])
    with pytest.raises(LayerError, match=r"'c2'.*axis 3"):
        layers.Concatenate(axis=3, name="c2")([A, B])

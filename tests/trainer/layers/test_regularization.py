"""Dropout and SpatialDropout2D: only when training, the right rate and scale, shared draws,
repeatable under set_random_seed."""

import numpy as np
import pytest

import emberlite.trainer as et
from emberlite.trainer import layers, random
from emberlite.trainer.layers.base import LayerError

ONES = np.ones((400, 50), np.float32)


def test_dropout_only_when_training():
    layer = layers.Dropout(0.5)
    np.testing.assert_array_equal(layer(ONES).numpy(), ONES)
    np.testing.assert_array_equal(layer(ONES, training=False).numpy(), ONES)
    y = layer(ONES, training=True).numpy()
    assert set(np.unique(y)) == {0.0, 2.0}  # kept elements scaled by 1 / (1 - rate)
    assert (y == 0).mean() == pytest.approx(0.5, abs=0.02)
    assert not np.array_equal(y, layer(ONES, training=True).numpy())  # fresh masks


def test_dropout_gradient_uses_the_same_mask():
    layer = layers.Dropout(0.3)
    x = et.constant(ONES)
    with et.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), y.numpy(), rtol=1e-6)


def test_noise_shape_shares_draws_and_none_takes_the_input_size():
    y = layers.Dropout(0.5, noise_shape=(None, 1))(ONES, training=True).numpy()
    rows = y[:, 0]
    np.testing.assert_array_equal(y, np.repeat(rows[:, None], 50, axis=1))
    assert 0.3 < (rows == 0).mean() < 0.7
    with pytest.raises(LayerError, match=r"'d'.*noise_shape \[1\] does not fit.*\(400, 50\)"):
        layers.Dropout(0.5, noise_shape=[1], name="d")(ONES, training=True)


def test_spatial_dropout_drops_whole_feature_maps():
    x = np.ones((8, 3, 3, 40), np.float32)
    y = layers.SpatialDropout2D(0.25)(x, training=True).numpy()
    assert (y == y[:, :1, :1, :]).all()
    assert (y[:, 0, 0] == 0).mean() == pytest.approx(0.25, abs=0.1)
    np.testing.assert_allclose(np.unique(y), [0, 4 / 3], rtol=1e-6)
    with pytest.raises(LayerError, match="data_format='channels_first' is not supported"):
        layers.SpatialDropout2D(0.5, data_format="channels_first")


def test_set_random_seed_repeats_the_masks():
    layer = layers.Dropout(0.5)
    random.set_random_seed(3)
    first = [layer(ONES, training=True).numpy() for _ in range(2)]
    random.set_random_seed(3)
    again = [layer(ONES, training=True).numpy() for _ in range(2)]
    np.testing.assert_array_equal(first, again)


def test_rate_is_checked():
    with pytest.raises(LayerError, match=r"'d'.*rate must be in \[0, 1\), got 1"):
        layers.Dropout(1, name="d")
    np.testing.assert_array_equal(layers.Dropout(0.0)(ONES, training=True).numpy(), ONES)

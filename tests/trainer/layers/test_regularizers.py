"""Regularizers: penalties against NumPy, gradients, names, and losses on layers and models."""

import numpy as np
import pytest

import emberlite.trainer as et
from emberlite.errors import EmberliteError
from emberlite.trainer import layers, regularizers
from emberlite.trainer.serialization import SerializationError
from tests.trainer.layers.helpers import data

W = data(3, 4, seed=2)


@pytest.mark.parametrize(
    "regularizer, expected",
    [
        (regularizers.L1(0.3), 0.3 * np.abs(W).sum()),
        (regularizers.L2(0.2), 0.2 * np.square(W).sum()),
        (regularizers.L1L2(0.1, 0.5), 0.1 * np.abs(W).sum() + 0.5 * np.square(W).sum()),
        (regularizers.L1L2(), 0.0),
        (regularizers.get("l1"), 0.01 * np.abs(W).sum()),
        (regularizers.get("l2"), 0.01 * np.square(W).sum()),
        (regularizers.get("l1_l2"), 0.01 * (np.abs(W).sum() + np.square(W).sum())),
        (regularizers.l1_l2(l2=0.1), 0.01 * np.abs(W).sum() + 0.1 * np.square(W).sum()),
    ],
)
def test_penalty_matches_numpy(regularizer, expected):
    penalty = regularizer(W)
    assert penalty.shape == () and penalty.dtype == np.float32
    np.testing.assert_allclose(float(penalty), expected, rtol=1e-6)


def test_penalty_differentiates_on_a_variable():
    v = et.Variable(W.astype(np.float64))
    with et.GradientTape() as tape:
        penalty = regularizers.L1L2(0.1, 0.5)(v)
    np.testing.assert_allclose(tape.gradient(penalty, v).numpy(), 0.1 * np.sign(W) + W, rtol=1e-6)


def test_get_serialize_and_errors():
    assert regularizers.get(None) is None
    reg = regularizers.L2(0.3)
    assert regularizers.get(reg) is reg
    config = regularizers.serialize(reg)
    assert config == {"class_name": "L2", "config": {"l2": 0.3}}
    assert regularizers.get(config).get_config() == {"l2": 0.3}
    assert regularizers.deserialize(regularizers.serialize(regularizers.L1L2(1.0, 2.0))).l2 == 2.0
    with pytest.raises(SerializationError, match="unknown regularizer 'l3'"):
        regularizers.get("l3")
    with pytest.raises(EmberliteError, match="l2 must be >= 0"):
        regularizers.L2(-1.0)


def test_weight_regularizers_appear_in_layer_and_model_losses():
    x = et.Input(shape=(3,))
    dense = layers.Dense(4, kernel_regularizer="l2", bias_regularizer=regularizers.L1(0.5))
    bn = layers.BatchNormalization(gamma_regularizer=regularizers.L2(0.1))
    model = et.Model(x, bn(dense(x)))
    dense.bias.assign(np.full(4, 2.0, np.float32))
    expected_dense = [0.01 * np.square(dense.kernel.numpy()).sum(), 0.5 * 8.0]
    np.testing.assert_allclose([float(t) for t in dense.losses], expected_dense, rtol=1e-6)
    np.testing.assert_allclose(
        [float(t) for t in model.losses], expected_dense + [0.1 * 4], rtol=1e-6
    )
    # computed when read, so a tape sees them
    with et.GradientTape() as tape:
        total = sum(model.losses)
    grad = tape.gradient(total, dense.kernel)
    np.testing.assert_allclose(grad.numpy(), 0.02 * dense.kernel.numpy(), rtol=1e-6)
    dense.trainable = False
    assert len(dense.losses) == 0


def test_activity_regularizer_penalizes_the_output_of_each_call():
    layer = layers.Dense(2, activation="relu", activity_regularizer=regularizers.L1(0.5))
    x = data(4, 3)
    y = layer(x).numpy()
    (loss,) = layer.losses
    np.testing.assert_allclose(float(loss), 0.5 * np.abs(y).sum(), rtol=1e-6)
    layer(x[:1])
    assert len(layer.losses) == 1  # replaced, not accumulated
    np.testing.assert_allclose(float(layer.losses[0]), 0.5 * np.abs(y[:1]).sum(), rtol=1e-6)

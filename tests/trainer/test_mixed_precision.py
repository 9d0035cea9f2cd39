"""Mixed precision: float16 math, float32 variables, dynamic loss scaling, same accuracy."""

import numpy as np
import pytest

import emberlite.trainer as et
from emberlite.trainer import layers, mixed_precision, optimizers


@pytest.fixture
def mixed():
    mixed_precision.set_global_policy("mixed_float16")
    yield
    mixed_precision.set_global_policy("float32")


def digits():
    datasets = pytest.importorskip("sklearn.datasets")
    data = datasets.load_digits()
    x = (data.images / 16.0).astype(np.float32)[..., None]
    y = data.target.astype(np.int32)
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    return (x[:1400], y[:1400]), (x[1400:], y[1400:])


def classifier():
    return et.Sequential(
        [
            layers.Conv2D(8, 3, padding="same", activation="relu", input_shape=(8, 8, 1)),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(32, activation="relu"),
            # NOTE: Keras's advice: the last layer (softmax) in float32
            layers.Dense(10, activation="softmax", dtype="float32"),
        ]
    )


def train_accuracy(seed=0):
    (x, y), (x_test, y_test) = digits()
    et.set_random_seed(seed)
    model = classifier()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=6, batch_size=32, verbose=0)
    return model, model.evaluate(x_test, y_test, verbose=0)[1]


def test_layers_compute_in_float16_with_float32_variables(mixed):
    dense = layers.Dense(3)
    y = dense(np.ones((2, 4), np.float32))
    assert y.dtype == np.float16
    assert dense.kernel.dtype == np.float32 and dense.compute_dtype == "float16"
    with et.GradientTape() as tape:
        loss = et.reduce_sum(et.cast(dense(np.ones((2, 4), np.float32)), "float32"))
    assert all(g.dtype == np.float32 for g in tape.gradient(loss, dense.trainable_variables))
    norm = layers.BatchNormalization()
    norm(np.ones((4, 3), np.float32), training=True)
    assert norm.moving_mean.dtype == np.float32


def test_a_model_trains_to_the_same_accuracy_under_both_policies():
    _, full = train_accuracy()
    mixed_precision.set_global_policy("mixed_float16")
    try:
        model, half = train_accuracy()
    finally:
        mixed_precision.set_global_policy("float32")
    assert isinstance(model.optimizer, optimizers.LossScaleOptimizer)
    assert model.layers[0].compute_dtype == "float16"
    assert all(v.dtype == np.float32 for v in model.weights)
    assert full >= 0.9 and half >= 0.9
    assert abs(full - half) <= 0.02, (full, half)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_loss_scale_skips_overflowing_steps_and_halves(mixed):
    model = et.Sequential([layers.Dense(1, input_shape=(2,))])
    model.compile(optimizer=optimizers.SGD(0.1), loss="mse")
    scale = float(model.optimizer.dynamic_scale)
    before = model.get_weights()
    model.train_on_batch(np.full((4, 2), 6e4, np.float32), np.zeros((4, 1), np.float32))
    assert float(model.optimizer.dynamic_scale) == scale / 2
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_embedding_ids_are_not_rounded_to_float16(mixed):
    embedding = layers.Embedding(4000, 2)
    rows = embedding(np.array([[3001.0, 2049.0]]))
    table = embedding.embeddings.numpy().astype(np.float16)
    np.testing.assert_array_equal(rows.numpy()[0], table[[3001, 2049]])

"""compile / fit / evaluate / predict on real models, checked against NumPy and each other."""

import warnings

import numpy as np
import pytest

import emberlite.trainer as et
from emberlite.errors import EmberliteError
from emberlite.trainer import (
    callbacks,
    layers,
    losses,
    metrics,
    mixed_precision,
    optimizers,
    random,
)
from emberlite.trainer.data_adapter import DataError
from emberlite.trainer.function import Function
from emberlite.trainer.layers.base import LayerError
from emberlite.trainer.training import TrainingError


def blobs(n=128, seed=0):
    """Two linearly separable classes in 4 dimensions."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5, 1.0]) > 0).astype(np.int32)
    return x, y


def mlp(seed=0, classes=2):
    random.set_random_seed(seed)
    return et.Sequential(
        [
            layers.Dense(8, activation="relu", input_shape=(4,)),
            layers.Dense(classes, activation="softmax"),
        ]
    )


def compiled(model, optimizer=None, **kwargs):
    model.compile(
        optimizer=optimizer or optimizers.Adam(0.05),
        loss=kwargs.pop("loss", "sparse_categorical_crossentropy"),
        metrics=kwargs.pop("metrics", ["accuracy"]),
        **kwargs,
    )
    return model


def same_weights(a, b):
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)


def cross_entropy(probs, labels):
    p = np.clip(probs[np.arange(len(labels)), labels], 1e-7, 1 - 1e-7)
    return -np.log(p)


# -- learning ------------------------------------------------------------------------------------


def test_mlp_learns_separable_data():
    x, y = blobs(256)
    model = compiled(mlp())
    history = model.fit(x, y, epochs=15, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0] / 3
    assert history.epoch == list(range(15))
    assert model.evaluate(x, y, verbose=0, return_dict=True)["accuracy"] > 0.95
    assert model.train_function.experimental_get_tracing_count() == 1  # 256 = 8 full batches


def test_small_cnn_learns_bright_halves():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 96).astype(np.int32)
    x = rng.normal(scale=0.3, size=(96, 6, 6, 1)).astype(np.float32)
    x[y == 1, :3] += 1.0  # class 1: bright top half; class 0: bright bottom half
    x[y == 0, 3:] += 1.0
    random.set_random_seed(1)
    inputs = et.Input(shape=(6, 6, 1))
    h = layers.Conv2D(4, 3, activation="relu")(inputs)
    h = layers.MaxPooling2D()(h)
    h = layers.Flatten()(h)
    outputs = layers.Dense(1, activation="sigmoid")(h)
    model = et.Model(inputs, outputs)
    model.compile(optimizers.Adam(0.05), "binary_crossentropy", metrics=["accuracy"])
    model.fit(x, y.astype(np.float32), epochs=8, batch_size=16, verbose=0)
    # "accuracy" became BinaryAccuracy from the sigmoid output and the loss
    assert type(model.metrics[1]) is metrics.BinaryAccuracy
    assert model.evaluate(x, y.astype(np.float32), verbose=0)[1] > 0.95


# -- inputs ----------------------------------------------------------------------------------------


def test_generators_iterables_and_sequences_train_as_the_same_batches():
    x, y = blobs(40)
    batches = [(x[i : i + 16], y[i : i + 16]) for i in range(0, 40, 16)]

    class Sequence:
        def __len__(self):
            return len(batches)

        def __getitem__(self, i):
            return batches[i]

    arrays = compiled(mlp())
    arrays.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    generator = compiled(mlp())
    generator.fit((b for _ in range(2) for b in batches), epochs=2, steps_per_epoch=3, verbose=0)
    for data in (batches, Sequence()):  # re-iterated each epoch
        other = compiled(mlp())
        other.fit(iter_again(data), epochs=2, verbose=0)
        same_weights(arrays, other)
    same_weights(arrays, generator)
    tensors = compiled(mlp())
    tensors.fit(et.constant(x), et.constant(y), epochs=2, batch_size=16, shuffle=False, verbose=0)
    same_weights(arrays, tensors)


class iter_again:  # noqa: N801 (an iterable wrapper, read as a function)
    def __init__(self, data):
        self.data = data

    def __iter__(self):
        return (self.data[i] for i in range(len(self.data)))


def test_multi_input_dict_data():
    x, y = blobs(64)
    a, b = et.Input(shape=(2,), name="a"), et.Input(shape=(2,), name="b")
    merged = layers.Concatenate()([a, b])
    model = et.Model({"a": a, "b": b}, layers.Dense(2, activation="softmax")(merged))
    compiled(model).fit({"a": x[:, :2], "b": x[:, 2:]}, y, epochs=2, verbose=0)
    expected = model({"a": x[:5, :2], "b": x[:5, 2:]}).numpy()
    np.testing.assert_array_equal(
        model.predict({"a": x[:5, :2], "b": x[:5, 2:]}, verbose=0), expected
    )


def test_generator_that_runs_out_stops_training_with_a_warning():
    x, y = blobs(32)
    model = compiled(mlp())
    seen = []
    log = callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(epoch))
    batches = ((x[i : i + 8], y[i : i + 8]) for i in range(0, 32, 8))
    with pytest.warns(UserWarning, match="ran out of data"):
        model.fit(batches, epochs=5, steps_per_epoch=3, callbacks=[log], verbose=0)
    assert seen == [0, 1]  # the second epoch had 1 batch, then training stopped


def test_a_generator_without_steps_is_one_epoch_of_data():
    x, y = blobs(32)
    model = compiled(mlp())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one epoch of one pass: nothing ran out
        model.fit(((x[i : i + 8], y[i : i + 8]) for i in range(0, 32, 8)), verbose=0)
    with pytest.warns(UserWarning, match="ran out of data"):
        history = model.fit(iter([(x, y)]), epochs=3, verbose=0)
    assert history.epoch == [0]


# -- validation ------------------------------------------------------------------------------------


def test_validation_split_equals_validation_data_of_the_last_samples():
    x, y = blobs(100)
    split = compiled(mlp()).fit(x, y, epochs=3, validation_split=0.2, shuffle=False, verbose=0)
    model = compiled(mlp())
    given = model.fit(
        x[:80], y[:80], epochs=3, validation_data=(x[80:], y[80:]), shuffle=False, verbose=0
    )
    assert split.history == given.history
    assert set(given.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    final = model.evaluate(x[80:], y[80:], verbose=0, return_dict=True)
    assert final == {
        "loss": given.history["val_loss"][-1],
        "accuracy": given.history["val_accuracy"][-1],
    }


def test_validation_data_as_batches():
    x, y = blobs(40)
    val = [(x[:16], y[:16]), (x[16:32], y[16:32])]
    model = compiled(mlp())
    history = model.fit(x, y, epochs=2, validation_data=iter_again(val), verbose=0)
    final = model.evaluate(x[:32], y[:32], batch_size=16, verbose=0, return_dict=True)
    assert history.history["val_loss"][-1] == final["loss"]
    # a generator with validation_steps goes on where the last validation stopped
    batches = ((x[i : i + 8], y[i : i + 8]) for i in range(0, 40, 8))
    history = model.fit(x, y, epochs=2, validation_data=batches, validation_steps=2, verbose=0)
    final = model.evaluate(x[16:32], y[16:32], batch_size=8, verbose=0, return_dict=True)
    assert history.history["val_loss"][-1] == final["loss"]


def test_validation_freq():
    x, y = blobs(32)
    history = compiled(mlp()).fit(
        x, y, epochs=4, validation_data=(x, y), validation_freq=2, verbose=0
    )
    assert len(history.history["loss"]) == 4 and len(history.history["val_loss"]) == 2
    history = compiled(mlp()).fit(
        x, y, epochs=3, validation_data=(x, y), validation_freq=[1, 3], verbose=0
    )
    assert len(history.history["val_loss"]) == 2


# -- shuffling and weights -------------------------------------------------------------------------


def test_shuffle_repeats_under_a_seed_and_unshuffled_ignores_it():
    x, y = blobs(64)

    def trained(seed, shuffle):
        model = compiled(mlp(), optimizer="sgd")
        random.set_random_seed(seed)
        model.fit(x, y, epochs=2, batch_size=8, shuffle=shuffle, verbose=0)
        return model.get_weights()

    a, b, c = trained(1, True), trained(1, True), trained(2, True)
    for wa, wb in zip(a, b, strict=True):
        np.testing.assert_array_equal(wa, wb)
    assert any(not np.array_equal(wa, wc) for wa, wc in zip(a, c, strict=True))
    for wa, wb in zip(trained(1, False), trained(2, False), strict=True):
        np.testing.assert_array_equal(wa, wb)


def test_class_weight_equals_explicit_sample_weights():
    x, y = blobs(48)
    class_weight = {0: 0.25, 1: 2.0}
    weighted = compiled(mlp())
    weighted.fit(x, y, epochs=2, batch_size=16, class_weight=class_weight, shuffle=False, verbose=0)
    explicit = compiled(mlp())
    sample_weight = np.where(y == 1, 2.0, 0.25).astype(np.float32)
    explicit.fit(
        x, y, epochs=2, batch_size=16, sample_weight=sample_weight, shuffle=False, verbose=0
    )
    same_weights(weighted, explicit)
    plain = compiled(mlp())
    plain.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    assert not np.array_equal(plain.get_weights()[0], weighted.get_weights()[0])


# -- evaluate / predict ----------------------------------------------------------------------------


def test_evaluate_equals_the_loss_and_accuracy_computed_with_numpy():
    x, y = blobs(50)
    model = compiled(mlp())
    probs = model(x).numpy()
    per_sample = cross_entropy(probs, y)
    hits = (probs.argmax(-1) == y).astype(np.float64)
    loss, accuracy = model.evaluate(x, y, batch_size=16, verbose=0)
    np.testing.assert_allclose(loss, per_sample.mean(), rtol=1e-5)
    np.testing.assert_allclose(accuracy, hits.mean(), rtol=1e-6)
    # sample weights: the loss sums weighted losses over the samples (Keras's
    # sum_over_batch_size per batch, batches weighted by their sizes); the unweighted
    # metric ignores them, a weighted metric uses them
    w = np.linspace(0.0, 2.0, 50).astype(np.float32)
    model.compile(
        "sgd",
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
        weighted_metrics=["accuracy"],
    )
    logs = model.evaluate(x, y, sample_weight=w, batch_size=16, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "accuracy", "weighted_accuracy"}
    np.testing.assert_allclose(logs["loss"], (w * per_sample).sum() / 50, rtol=1e-5)
    np.testing.assert_allclose(logs["accuracy"], hits.mean(), rtol=1e-6)
    np.testing.assert_allclose(logs["weighted_accuracy"], (w * hits).sum() / w.sum(), rtol=1e-5)


def test_predict_concatenates_the_batches_of_model_calls():
    x, _ = blobs(37)
    model = mlp()
    predicted = model.predict(x, batch_size=10, verbose=0)
    assert isinstance(predicted, np.ndarray) and predicted.shape == (37, 2)
    expected = np.concatenate([model(x[i : i + 10]).numpy() for i in range(0, 37, 10)])
    np.testing.assert_array_equal(predicted, expected)
    np.testing.assert_array_equal(model.predict_on_batch(x[:10]), expected[:10])
    batches = ((x[i : i + 10], np.zeros(10)) for i in range(0, 37, 10))  # (x, y): y ignored
    np.testing.assert_array_equal(model.predict(batches, verbose=0), expected)


def test_on_batch_methods_accumulate_until_reset():
    x, y = blobs(32)
    model = compiled(mlp(), optimizer="sgd")
    first = model.train_on_batch(x[:16], y[:16], return_dict=True)
    assert set(first) == {"loss", "accuracy"} and int(model.optimizer.iterations) == 1
    model.reset_metrics()
    loss, accuracy = model.test_on_batch(x, y)
    probs = model.predict_on_batch(x)
    np.testing.assert_allclose(loss, cross_entropy(probs, y).mean(), rtol=1e-5)
    np.testing.assert_allclose(accuracy, (probs.argmax(-1) == y).mean(), rtol=1e-6)


# -- multiple outputs, regularization --------------------------------------------------------------


def two_headed():
    random.set_random_seed(0)
    inputs = et.Input(shape=(4,))
    h = layers.Dense(8, activation="relu")(inputs)
    cls = layers.Dense(2, activation="softmax", name="cls")(h)
    reg = layers.Dense(1, name="reg")(h)
    return et.Model(inputs, [cls, reg])


def test_multiple_outputs_weighted_losses_and_named_metrics():
    x, y = blobs(40)
    target = x[:, :1] * 2
    model = two_headed()
    model.compile(
        "adam",
        loss={"cls": "sparse_categorical_crossentropy", "reg": "mse"},
        loss_weights=[1.0, 0.5],
        metrics={"cls": ["accuracy"], "reg": ["mae"]},
    )
    model.fit(x, {"cls": y, "reg": target}, epochs=1, verbose=0)
    assert model.metrics_names == ["loss", "cls_loss", "reg_loss", "cls_accuracy", "reg_mae"]
    logs = model.evaluate(x, [y, target], verbose=0, return_dict=True)
    np.testing.assert_allclose(logs["loss"], logs["cls_loss"] + 0.5 * logs["reg_loss"], rtol=1e-5)
    probs, value = model.predict(x, verbose=0)
    np.testing.assert_allclose(logs["reg_loss"], ((value - target) ** 2).mean(), rtol=1e-5)
    np.testing.assert_allclose(logs["reg_mae"], np.abs(value - target).mean(), rtol=1e-5)
    np.testing.assert_allclose(logs["cls_loss"], cross_entropy(probs, y).mean(), rtol=1e-5)


def test_compile_errors_name_the_outputs():
    x, y = blobs(8)
    model = two_headed()
    model.compile("sgd", loss={"cls": "mse", "nope": "mse"})
    with pytest.raises(EmberliteError, match=r"\['nope'\].*outputs are \['cls', 'reg'\]"):
        model.fit(x, [y, y], verbose=0)
    model.compile("sgd", loss=["mse"])
    with pytest.raises(EmberliteError, match="1 entries, but the model has 2 output"):
        model.fit(x, [y, y], verbose=0)
    model.compile("sgd", loss="mse")
    with pytest.raises(EmberliteError, match="pass y as a list or a dict"):
        model.fit(x, y, verbose=0)


def test_regularization_losses_are_part_of_the_loss():
    x, y = blobs(16)
    random.set_random_seed(0)
    model = et.Sequential(
        [layers.Dense(2, activation="softmax", kernel_regularizer="l2", input_shape=(4,))]
    )
    compiled(model, optimizer="sgd")
    kernel = model.layers[0].kernel.numpy()
    expected = cross_entropy(model(x).numpy(), y).mean() + 0.01 * (kernel**2).sum()
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0)[0], expected, rtol=1e-5)


# -- steps -----------------------------------------------------------------------------------------


def test_run_eagerly_and_traced_steps_give_the_same_weights_bit_for_bit():
    x, y = blobs(50)

    def trained(run_eagerly):
        random.set_random_seed(0)
        model = et.Sequential(
            [
                layers.Dense(8, input_shape=(4,)),
                layers.BatchNormalization(),
                layers.Activation("relu"),
                layers.Dense(2, activation="softmax"),
            ]
        )
        compiled(model, run_eagerly=run_eagerly)
        history = model.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
        return model, history

    eager, eager_history = trained(True)
    traced, traced_history = trained(False)
    assert not isinstance(eager.train_function, Function)
    assert traced.train_function.experimental_get_tracing_count() == 2  # 16, then the last 2
    same_weights(eager, traced)
    assert eager_history.history == traced_history.history


def test_custom_train_step_runs_inside_fit():
    x, y = blobs(32)
    target = (x @ np.array([[1.0], [2.0], [0.0], [-1.0]])).astype(np.float32)

    class ManualSGD(et.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(1, kernel_initializer="zeros")

        def call(self, inputs):
            return self.dense(inputs)

        def train_step(self, data):
            x, y = data
            with et.GradientTape() as tape:
                loss = self.compute_loss(y=y, y_pred=self(x, training=True))
            grads = tape.gradient(loss, self.trainable_variables)
            for variable, grad in zip(self.trainable_variables, grads, strict=True):
                variable.assign_sub(0.1 * grad)
            for metric in self.metrics:
                metric.update_state(loss)
            return {m.name: m.result() for m in self.metrics}

    model = ManualSGD()
    model.compile(loss="mse")
    history = model.fit(x, target, epochs=1, batch_size=32, verbose=0)
    # one full-batch step of plain gradient descent on the MSE, by hand
    grad_w = 2 * x.T @ (0 - target) / 32
    grad_b = 2 * (0 - target).mean(0)
    np.testing.assert_allclose(model.dense.kernel.numpy(), -0.1 * grad_w, rtol=1e-5)
    np.testing.assert_allclose(model.dense.bias.numpy(), -0.1 * grad_b, rtol=1e-5)
    np.testing.assert_allclose(history.history["loss"], [(target**2).mean()], rtol=1e-5)
    assert int(model.optimizer.iterations) == 0  # the default optimizer was never used


def test_tf2_style_custom_step_matches_the_default_step():
    x, y = blobs(40)

    class TF2Style(et.Sequential):
        def train_step(self, data):
            x, y = data
            with et.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compiled_loss(y, y_pred, regularization_losses=self.losses)
            grads = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.trainable_variables, strict=True))
            self.compiled_metrics.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    def trained(cls):
        random.set_random_seed(0)
        model = cls([layers.Dense(2, activation="softmax", kernel_regularizer="l2")])
        compiled(model)
        return model, model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)

    default, default_history = trained(et.Sequential)
    custom, custom_history = trained(TF2Style)
    same_weights(default, custom)
    assert custom_history.history == default_history.history


# -- compile ---------------------------------------------------------------------------------------


def test_compile_config_round_trip():
    model = mlp()
    model.compile(
        optimizer=optimizers.SGD(0.3, momentum=0.5),
        loss=losses.SparseCategoricalCrossentropy(from_logits=False),
        metrics=["accuracy", metrics.SparseTopKCategoricalAccuracy(k=1)],
    )
    config = model.get_compile_config()
    assert config["optimizer"]["class_name"] == "SGD" and config["metrics"][0] == "accuracy"
    other = mlp()
    other.compile_from_config(config)
    assert isinstance(other.optimizer, optimizers.SGD) and other.optimizer.momentum == 0.5
    x, y = blobs(16)
    logs = other.evaluate(x, y, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "accuracy", "sparse_top_k_categorical_accuracy"}
    assert logs["accuracy"] == logs["sparse_top_k_categorical_accuracy"]  # k=1 is accuracy
    assert mlp().get_compile_config() is None


def test_mixed_float16_wraps_the_optimizer_and_trains():
    x, y = blobs(32)
    mixed_precision.set_global_policy("mixed_float16")
    try:
        model = mlp()
    finally:
        mixed_precision.set_global_policy("float32")
    compiled(model, optimizer="adam")
    assert isinstance(model.optimizer, optimizers.LossScaleOptimizer)
    history = model.fit(x, y, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert model.layers[0].kernel.dtype == np.float32
    assert model.predict(x[:2], verbose=0).dtype == np.float16


# -- errors ----------------------------------------------------------------------------------------


def test_wrong_input_shapes_keep_the_layers_message():
    x, y = blobs(8)
    model = compiled(mlp())
    with pytest.raises(LayerError) as direct:
        model(np.zeros((8, 5), np.float32))
    for run in (
        lambda: model.fit(np.zeros((8, 5), np.float32), y, verbose=0),
        lambda: model.predict(np.zeros((8, 5), np.float32), verbose=0),
    ):
        with pytest.raises(LayerError) as raised:
            run()
        assert str(raised.value) == str(direct.value)
        assert "(8, 5)" in str(raised.value)


def test_training_errors():
    x, y = blobs(8)
    with pytest.raises(TrainingError, match=r"call compile\(\) before calling fit\(\)"):
        mlp().fit(x, y, verbose=0)
    with pytest.raises(TrainingError, match="evaluate"):
        mlp().evaluate(x, y, verbose=0)
    model = compiled(mlp())
    with pytest.raises(DataError, match=r"'x' sizes: 8; 'y' sizes: 7"):
        model.fit(x, y[:7], verbose=0)
    with pytest.raises(DataError, match="validation_split is only supported for arrays"):
        model.fit(((x, y) for _ in range(2)), validation_split=0.5, verbose=0)
    with pytest.raises(DataError, match=r"class indices .*'1'"):
        model.fit(x, y, class_weight={"1": 2.0}, verbose=0)
    no_loss = mlp()
    no_loss.compile("sgd")
    with pytest.raises(TrainingError, match="no loss to minimize"):
        no_loss.fit(x, y, verbose=0)

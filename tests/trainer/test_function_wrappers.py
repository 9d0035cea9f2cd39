"""The built-in loss and metric classes declared through `FunctionWrapper`: Keras's
constructors, and configs that rebuild them."""

import inspect

import numpy as np
import pytest

from emberlite.trainer import losses, metrics
from emberlite.trainer.serialization import register_serializable

SBS = "'sum_over_batch_size'"

# Keras 3's signatures (dtype, which emberlite's losses do not take, left out).
KERAS_SIGNATURES = [
    (losses.MeanSquaredError, f"(reduction={SBS}, name='mean_squared_error')"),
    (losses.Huber, f"(delta=1.0, reduction={SBS}, name='huber_loss')"),
    (
        losses.BinaryFocalCrossentropy,
        "(apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False, "
        f"label_smoothing=0.0, axis=-1, reduction={SBS}, name='binary_focal_crossentropy')",
    ),
    (
        losses.SparseCategoricalCrossentropy,
        f"(from_logits=False, ignore_class=None, reduction={SBS}, "
        "name='sparse_categorical_crossentropy')",
    ),
    (metrics.BinaryAccuracy, "(name='binary_accuracy', dtype=None, threshold=0.5)"),
    (metrics.TopKCategoricalAccuracy, "(k=5, name='top_k_categorical_accuracy', dtype=None)"),
    (metrics.LogCoshError, "(name='logcosh', dtype=None)"),
    (
        metrics.BinaryCrossentropy,
        "(name='binary_crossentropy', dtype=None, from_logits=False, label_smoothing=0.0)",
    ),
    (
        metrics.SparseCategoricalCrossentropy,
        "(name='sparse_categorical_crossentropy', dtype=None, from_logits=False, axis=-1)",
    ),
]


IDS = [f"{cls.__module__.split('.')[2]}.{cls.__name__}" for cls, _ in KERAS_SIGNATURES]


@pytest.mark.parametrize(("cls", "expected"), KERAS_SIGNATURES, ids=IDS)
def test_constructors_have_keras_signatures(cls, expected):
    assert str(inspect.signature(cls)) == expected


def test_positional_arguments_go_where_keras_puts_them():
    y_true, y_pred = np.array([[0.0, 2.0]]), np.array([[0.3, 0.0]])
    loss = losses.Huber(0.5, "sum", "h")
    assert (loss.name, loss.reduction, loss.fn_kwargs) == ("h", "sum", {"delta": 0.5})
    error = np.abs(y_pred - y_true)
    expected = np.where(error <= 0.5, 0.5 * error**2, 0.5 * error - 0.125).mean()
    np.testing.assert_allclose(float(loss(y_true, y_pred)), expected, rtol=1e-6)

    top2 = metrics.TopKCategoricalAccuracy(2, "top2")
    top2.update_state([[0, 1, 0], [1, 0, 0]], [[0.5, 0.3, 0.2], [0.1, 0.6, 0.3]])
    assert (top2.name, float(top2.result())) == ("top2", 0.5)


def test_bad_arguments_name_the_class():
    with pytest.raises(TypeError, match=r"Huber\(\): .*unexpected keyword argument 'axis'"):
        losses.Huber(axis=0)
    with pytest.raises(TypeError, match=r"BinaryAccuracy\(\): too many positional"):
        metrics.BinaryAccuracy("acc", None, 0.5, 1)


@register_serializable()
class _HalfMeanSquaredError(losses.MeanSquaredError):
    def call(self, y_true, y_pred):
        return super().call(y_true, y_pred) * 0.5


def test_subclass_of_a_builtin_keeps_its_constructor_and_round_trips():
    loss = _HalfMeanSquaredError("sum", name="half")
    config = losses.serialize(loss)
    assert config["config"] == {"name": "half", "reduction": "sum"}  # no "fn": it is fixed
    rebuilt = losses.deserialize(config)
    assert type(rebuilt) is _HalfMeanSquaredError
    assert float(rebuilt([[1.0, 3.0]], [[0.0, 0.0]])) == pytest.approx(0.5 * 5.0)


def test_builtin_configs_rebuild_the_same_objects():
    for obj, module in [
        (losses.BinaryCrossentropy(True, 0.1, reduction="sum"), losses),
        (metrics.SparseCategoricalCrossentropy("scce", from_logits=True), metrics),
    ]:
        rebuilt = module.deserialize(module.serialize(obj))
        assert type(rebuilt) is type(obj)
        assert rebuilt.get_config() == obj.get_config()
        assert rebuilt.fn is obj.fn

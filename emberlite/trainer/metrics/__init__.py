"""Metrics, as `keras.metrics`: stateful objects that accumulate over batches.

    >>> from emberlite.trainer import metrics
    >>> m = metrics.BinaryAccuracy()
    >>> m.update_state([[1], [0]], [[0.9], [0.8]])
    >>> m.update_state([[1]], [[0.7]], sample_weight=[2.0])
    >>> float(m.result())
    0.75
    >>> m.reset_state(); float(m.result())
    0.0

`get("accuracy")` (also "acc", "crossentropy", "ce") gives a `DeferredMetric` that compile
resolves once the loss and shapes are known (`accuracy_for`, `crossentropy_for`).
"""

from __future__ import annotations

from typing import Any

from emberlite.trainer import losses, serialization
from emberlite.trainer.metrics.accuracy_metrics import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
    accuracy,
    binary_accuracy,
    categorical_accuracy,
    in_top_k,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)
from emberlite.trainer.metrics.base import (
    Mean,
    MeanMetricWrapper,
    Metric,
    MetricError,
    Sum,
    reduce_to_samplewise_values,
)
from emberlite.trainer.metrics.compile_choice import (
    DeferredMetric,
    accuracy_for,
    crossentropy_for,
    target_kind,
)
from emberlite.trainer.metrics.confusion import (
    AUC,
    FalseNegatives,
    FalsePositives,
    Precision,
    Recall,
    TrueNegatives,
    TruePositives,
    update_confusion_counts,
)
from emberlite.trainer.metrics.loss_metrics import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    CosineSimilarity,
    Hinge,
    KLDivergence,
    LogCoshError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    Poisson,
    RootMeanSquaredError,
    SparseCategoricalCrossentropy,
    cosine_similarity,
)

# Functions known by name in MeanMetricWrapper configs: the losses', and the accuracies.
FUNCTIONS = {
    **losses.FUNCTIONS,
    **{
        fn.__name__: fn
        for fn in (
            accuracy,
            binary_accuracy,
            categorical_accuracy,
            sparse_categorical_accuracy,
            top_k_categorical_accuracy,
            sparse_top_k_categorical_accuracy,
            cosine_similarity,
        )
    },
}

CLASSES = {
    cls.__name__: cls
    for cls in (
        Metric,
        Mean,
        Sum,
        MeanMetricWrapper,
        Accuracy,
        BinaryAccuracy,
        CategoricalAccuracy,
        SparseCategoricalAccuracy,
        TopKCategoricalAccuracy,
        SparseTopKCategoricalAccuracy,
        AUC,
        Precision,
        Recall,
        TruePositives,
        FalsePositives,
        TrueNegatives,
        FalseNegatives,
        MeanSquaredError,
        MeanAbsoluteError,
        MeanAbsolutePercentageError,
        MeanSquaredLogarithmicError,
        RootMeanSquaredError,
        LogCoshError,
        CosineSimilarity,
        Hinge,
        KLDivergence,
        Poisson,
        BinaryCrossentropy,
        CategoricalCrossentropy,
        SparseCategoricalCrossentropy,
    )
}
_DEFERRED = {
    "accuracy": "accuracy",
    "acc": "accuracy",
    "crossentropy": "crossentropy",
    "ce": "crossentropy",
}
# Names `get` knows besides the class names (those compile defers are handled first).
_BY_NAME: dict[str, type] = {
    name: cls for name, cls in CLASSES.items() if name not in ("Metric", "MeanMetricWrapper")
}
_BY_NAME.update(
    {
        name: cls
        for cls, names in {
            BinaryAccuracy: ("binary_accuracy",),
            CategoricalAccuracy: ("categorical_accuracy",),
            SparseCategoricalAccuracy: ("sparse_categorical_accuracy",),
            TopKCategoricalAccuracy: ("top_k_categorical_accuracy",),
            SparseTopKCategoricalAccuracy: ("sparse_top_k_categorical_accuracy",),
            MeanSquaredError: ("mean_squared_error", "mse"),
            MeanAbsoluteError: ("mean_absolute_error", "mae"),
            MeanAbsolutePercentageError: ("mean_absolute_percentage_error", "mape"),
            MeanSquaredLogarithmicError: ("mean_squared_logarithmic_error", "msle"),
            RootMeanSquaredError: ("root_mean_squared_error", "rmse"),
            LogCoshError: ("logcosh", "log_cosh", "log_cosh_error"),
            CosineSimilarity: ("cosine_similarity",),
            Hinge: ("hinge",),
            KLDivergence: ("kl_divergence", "kld", "kullback_leibler_divergence"),
            Poisson: ("poisson",),
            BinaryCrossentropy: ("binary_crossentropy", "bce"),
            CategoricalCrossentropy: ("categorical_crossentropy",),
            SparseCategoricalCrossentropy: ("sparse_categorical_crossentropy",),
        }.items()
        for name in names
    }
)


class _MetricCatalog(serialization.Catalog):
    """Names compile resolves later give a DeferredMetric; other names a metric named as
    written."""

    def get(self, identifier: Any) -> Any:
        if not isinstance(identifier, str):
            return super().get(identifier)
        kind = _DEFERRED.get(identifier.replace("_", "").lower())
        if kind is not None:
            return DeferredMetric(kind, identifier)
        metric = super().get(identifier)
        metric.name = identifier
        return metric


_CATALOG = _MetricCatalog("metric", Metric, CLASSES, FUNCTIONS, _BY_NAME, MetricError)


def get(identifier: Any) -> Any:
    """Keras's `metrics.get`: a name (a new metric of that kind, named as written, which is
    how compile shows it: get("mse").name == "mse"), a serialized config, a Metric class
    (instantiated), or a Metric or function (as it is).  "accuracy", "acc", "crossentropy"
    and "ce" give a DeferredMetric."""
    return _CATALOG.get(identifier)


def serialize(metric: Any) -> Any:
    """A Metric as {"class_name", "config"}; a built-in metric function as its name."""
    return _CATALOG.serialize(metric)


def deserialize(config: Any, custom_objects: dict[str, Any] | None = None) -> Any:
    """What `serialize` wrote: a name or a {"class_name", "config"} dict."""
    return _CATALOG.deserialize(config, custom_objects)


__all__ = [name for name in dir() if not name.startswith("_")]

"""Losses, as `keras.losses` (Keras 3 semantics).

A loss function maps (y_true, y_pred) to one value per sample (the last axis reduced); a
`Loss` object weights those values by `sample_weight` and reduces them ("sum_over_batch_size",
the default, "sum" or "none"):

    >>> import numpy as np
    >>> from emberlite.trainer import losses
    >>> y_true, y_pred = np.array([[0.0, 1.0], [1.0, 1.0]]), np.array([[1.0, 1.0], [1.0, 0.0]])
    >>> losses.mean_squared_error(y_true, y_pred).numpy()
    array([0.5, 0.5])
    >>> float(losses.MeanSquaredError()(y_true, y_pred, sample_weight=[1.0, 0.0]))
    0.25

Everything is written with ops on tensors of dynamic batch size (no count or shape of the batch
axis baked in), so losses run inside `emberlite.function` with `input_signature` batch dims
of None.  Probabilities are clipped to [1e-7, 1 - 1e-7] before logs, as Keras does; with
`from_logits=True` the fused cross-entropy ops are used instead.
"""

from __future__ import annotations

from typing import Any

from emberlite.trainer import serialization
from emberlite.trainer.losses.functions import (
    BCE,
    FUNCTIONS,
    KLD,
    MAE,
    MAPE,
    MSE,
    MSLE,
    bce,
    binary_crossentropy,
    binary_focal_crossentropy,
    categorical_crossentropy,
    cosine_similarity,
    hinge,
    huber,
    kl_divergence,
    kld,
    kullback_leibler_divergence,
    l2_normalize,
    log_cosh,
    logcosh,
    mae,
    mape,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    mse,
    msle,
    poisson,
    sparse_categorical_crossentropy,
)
from emberlite.trainer.losses.loss import (
    BinaryCrossentropy,
    BinaryFocalCrossentropy,
    CategoricalCrossentropy,
    CosineSimilarity,
    Hinge,
    Huber,
    KLDivergence,
    LogCosh,
    Loss,
    LossFunctionWrapper,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    Poisson,
    SparseCategoricalCrossentropy,
)
from emberlite.trainer.losses.reduction import (
    EPSILON,
    REDUCTIONS,
    LossError,
    reduce_weighted_values,
    standardize_reduction,
)
from emberlite.trainer.serialization import deserialize_function, serialize_function

# -- get / serialize / deserialize --------------------------------------------------------------

CLASSES = {
    cls.__name__: cls
    for cls in (
        Loss,
        LossFunctionWrapper,
        MeanSquaredError,
        MeanAbsoluteError,
        MeanAbsolutePercentageError,
        MeanSquaredLogarithmicError,
        Huber,
        LogCosh,
        Hinge,
        KLDivergence,
        Poisson,
        CosineSimilarity,
        BinaryCrossentropy,
        BinaryFocalCrossentropy,
        CategoricalCrossentropy,
        SparseCategoricalCrossentropy,
    )
}
# Names `get` knows: class names, function names and Keras's short names, each a Loss class.
_BY_NAME: dict[str, type] = {
    name: cls for name, cls in CLASSES.items() if name not in ("Loss", "LossFunctionWrapper")
}
_BY_NAME.update(
    {
        name: cls
        for cls, names in {
            MeanSquaredError: ("mean_squared_error", "mse"),
            MeanAbsoluteError: ("mean_absolute_error", "mae"),
            MeanAbsolutePercentageError: ("mean_absolute_percentage_error", "mape"),
            MeanSquaredLogarithmicError: ("mean_squared_logarithmic_error", "msle"),
            Huber: ("huber", "huber_loss"),
            LogCosh: ("log_cosh", "logcosh"),
            Hinge: ("hinge",),
            KLDivergence: ("kl_divergence", "kld", "kullback_leibler_divergence"),
            Poisson: ("poisson",),
            CosineSimilarity: ("cosine_similarity",),
            BinaryCrossentropy: ("binary_crossentropy", "bce"),
            BinaryFocalCrossentropy: ("binary_focal_crossentropy",),
            CategoricalCrossentropy: ("categorical_crossentropy", "cce"),
            SparseCategoricalCrossentropy: ("sparse_categorical_crossentropy", "scce"),
        }.items()
        for name in names
    }
)


_CATALOG = serialization.Catalog("loss", Loss, CLASSES, FUNCTIONS, _BY_NAME, LossError)


def get(identifier: Any) -> Any:
    """Keras's `losses.get`: a name ("mse", "binary_crossentropy", "Huber": a new `Loss` of
    that kind), a serialized config, a Loss class (instantiated) or a callable (as it is)."""
    return _CATALOG.get(identifier)


def serialize(loss: Any) -> Any:
    """A Loss as {"class_name", "config"}; a built-in loss function as its name."""
    return _CATALOG.serialize(loss)


def deserialize(config: Any, custom_objects: dict[str, Any] | None = None) -> Any:
    """What `serialize` wrote: a name or a {"class_name", "config"} dict."""
    return _CATALOG.deserialize(config, custom_objects)


__all__ = [name for name in dir() if not name.startswith("_")]

"""Metrics named after losses: the mean of the loss function over all samples seen."""

from __future__ import annotations

from typing import Any

from emberlite.trainer import losses
from emberlite.trainer.losses.functions import l2_normalize
from emberlite.trainer.losses.reduction import match_shapes
from emberlite.trainer.metrics.base import Mean, MeanMetricWrapper
from emberlite.trainer.ops.math_ops import reduce_sum, sqrt, square
from emberlite.trainer.tensor import Tensor


def cosine_similarity(y_true: Any, y_pred: Any, axis: int = -1) -> Tensor:
    """The cosine of the angle (1 is best; the loss of this name is its negative)."""
    y_true, y_pred = match_shapes(y_true, y_pred, "cosine_similarity")
    return reduce_sum(l2_normalize(y_true, axis) * l2_normalize(y_pred, axis), axis=axis)


# The built-in metrics (see `FunctionWrapper` for the class keywords).


class MeanSquaredError(MeanMetricWrapper, fn=losses.mean_squared_error): ...


class MeanAbsoluteError(MeanMetricWrapper, fn=losses.mean_absolute_error): ...


class MeanAbsolutePercentageError(MeanMetricWrapper, fn=losses.mean_absolute_percentage_error): ...


class MeanSquaredLogarithmicError(MeanMetricWrapper, fn=losses.mean_squared_logarithmic_error): ...


class RootMeanSquaredError(Mean):
    """sqrt of the mean squared error over all elements seen."""

    def __init__(self, name: str = "root_mean_squared_error", dtype: Any = None):
        super().__init__(name, dtype)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y_true, y_pred = match_shapes(y_true, y_pred, self.name)
        super().update_state(square(y_pred - y_true), sample_weight)

    def result(self) -> Tensor:
        return sqrt(super().result())


class LogCoshError(MeanMetricWrapper, fn=losses.log_cosh, name="logcosh"): ...


class CosineSimilarity(MeanMetricWrapper, fn=cosine_similarity): ...


class Hinge(MeanMetricWrapper, fn=losses.hinge): ...


class KLDivergence(MeanMetricWrapper, fn=losses.kl_divergence): ...


class Poisson(MeanMetricWrapper, fn=losses.poisson): ...


# Keras's metrics take only some of the functions' arguments.
class BinaryCrossentropy(
    MeanMetricWrapper,
    fn=losses.binary_crossentropy,
    arguments=("name", "dtype", "from_logits", "label_smoothing"),
): ...


class CategoricalCrossentropy(MeanMetricWrapper, fn=losses.categorical_crossentropy): ...


class SparseCategoricalCrossentropy(
    MeanMetricWrapper,
    fn=losses.sparse_categorical_crossentropy,
    arguments=("name", "dtype", "from_logits", "axis"),
): ...

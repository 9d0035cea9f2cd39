"""`Loss` objects: a loss function's values, weighted by sample and reduced."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emberlite.trainer.layers.base import snake_case
from emberlite.trainer.losses import functions
from emberlite.trainer.losses.reduction import (
    as_float,
    reduce_weighted_values,
    squeeze_last,
    standardize_reduction,
)
from emberlite.trainer.losses.wrapper import FunctionWrapper
from emberlite.trainer.ops.math_ops import not_equal
from emberlite.trainer.serialization import Serializable
from emberlite.trainer.tensor import Tensor, convert_to_tensor


class Loss(Serializable):
    """Base class: subclasses define `call(y_true, y_pred)` (one value per sample, ops only);
    `__call__` weights and reduces those values."""

    def __init__(self, name: str | None = None, reduction: str | None = "sum_over_batch_size"):
        self.name = name or snake_case(type(self).__name__)
        self.reduction = standardize_reduction(reduction)

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Tensor:
        y_pred = as_float(y_pred)
        values = self.call(y_true, y_pred)
        return reduce_weighted_values(
            values, sample_weight, self.reduction, self.mask(y_true, values), self.name
        )

    def call(self, y_true: Any, y_pred: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} must define call(y_true, y_pred)")

    def mask(self, y_true: Any, values: Tensor) -> Tensor | None:
        """Which values count (None: all), for losses that leave some out."""
        return None

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "reduction": self.reduction}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} reduction={self.reduction!r}>"


class LossFunctionWrapper(FunctionWrapper, Loss):
    """A `Loss` computing `fn(y_true, y_pred, **kwargs)`."""

    what = "loss"
    own_arguments_first = False

    def __init__(
        self,
        fn: Callable[..., Tensor],
        reduction: str | None = "sum_over_batch_size",
        name: str | None = None,
        **kwargs: Any,
    ):
        super().__init__(name=name or getattr(fn, "__name__", None), reduction=reduction)
        self.fn = fn
        self.fn_kwargs = kwargs

    @classmethod
    def builtin_functions(cls) -> dict[str, Callable[..., Tensor]]:
        return functions.FUNCTIONS

    def call(self, y_true: Any, y_pred: Tensor) -> Tensor:
        return self.fn(y_true, y_pred, **self.fn_kwargs)


# The built-in losses (see `FunctionWrapper` for the class keywords).


class MeanSquaredError(LossFunctionWrapper, fn=functions.mean_squared_error): ...


class MeanAbsoluteError(LossFunctionWrapper, fn=functions.mean_absolute_error): ...


class MeanAbsolutePercentageError(
    LossFunctionWrapper, fn=functions.mean_absolute_percentage_error
): ...


class MeanSquaredLogarithmicError(
    LossFunctionWrapper, fn=functions.mean_squared_logarithmic_error
): ...


class Huber(LossFunctionWrapper, fn=functions.huber, name="huber_loss"): ...


class LogCosh(LossFunctionWrapper, fn=functions.log_cosh): ...


class Hinge(LossFunctionWrapper, fn=functions.hinge): ...


class KLDivergence(LossFunctionWrapper, fn=functions.kl_divergence): ...


class Poisson(LossFunctionWrapper, fn=functions.poisson): ...


class CosineSimilarity(LossFunctionWrapper, fn=functions.cosine_similarity): ...


class BinaryCrossentropy(LossFunctionWrapper, fn=functions.binary_crossentropy): ...


class BinaryFocalCrossentropy(LossFunctionWrapper, fn=functions.binary_focal_crossentropy): ...


class CategoricalCrossentropy(LossFunctionWrapper, fn=functions.categorical_crossentropy): ...


class SparseCategoricalCrossentropy(
    LossFunctionWrapper,
    fn=functions.sparse_categorical_crossentropy,
    arguments=("from_logits", "ignore_class", "reduction", "name"),  # no axis, as Keras
):
    """With `ignore_class`, those labels are left out, also of the mean's count."""

    def mask(self, y_true: Any, values: Tensor) -> Tensor | None:
        ignore_class = self.fn_kwargs["ignore_class"]
        if ignore_class is None:
            return None
        labels = convert_to_tensor(y_true)
        labels = squeeze_last(labels) if labels.ndim > values.ndim else labels
        return not_equal(labels, ignore_class)

"""`Loss` objects: a loss function's values, weighted by sample and reduced."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emberlite.trainer.layers.base import snake_case
from emberlite.trainer.losses.functions import (
    FUNCTIONS,
    binary_crossentropy,
    binary_focal_crossentropy,
    categorical_crossentropy,
    cosine_similarity,
    deserialize_function,
    hinge,
    huber,
    kl_divergence,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    poisson,
    serialize_function,
    sparse_categorical_crossentropy,
)
from emberlite.trainer.losses.reduction import (
    as_float,
    reduce_weighted_values,
    squeeze_last,
    standardize_reduction,
)
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


class LossFunctionWrapper(Loss):
    """A `Loss` computing `fn(y_true, y_pred, **kwargs)`."""

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

    def call(self, y_true: Any, y_pred: Tensor) -> Tensor:
        return self.fn(y_true, y_pred, **self.fn_kwargs)

    def get_config(self) -> dict[str, Any]:
        config = {**super().get_config(), **self.fn_kwargs}
        if type(self) is LossFunctionWrapper:  # subclasses fix their function
            config["fn"] = serialize_function(self.fn, FUNCTIONS)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LossFunctionWrapper:
        if cls is LossFunctionWrapper:
            config = {**config, "fn": deserialize_function(config["fn"], FUNCTIONS, "loss")}
        return cls(**config)


_DEFAULT = "sum_over_batch_size"


class MeanSquaredError(LossFunctionWrapper):
    def __init__(self, reduction: str | None = _DEFAULT, name: str = "mean_squared_error"):
        super().__init__(mean_squared_error, reduction, name)


class MeanAbsoluteError(LossFunctionWrapper):
    def __init__(self, reduction: str | None = _DEFAULT, name: str = "mean_absolute_error"):
        super().__init__(mean_absolute_error, reduction, name)


class MeanAbsolutePercentageError(LossFunctionWrapper):
    def __init__(
        self, reduction: str | None = _DEFAULT, name: str = "mean_absolute_percentage_error"
    ):
        super().__init__(mean_absolute_percentage_error, reduction, name)


class MeanSquaredLogarithmicError(LossFunctionWrapper):
    def __init__(
        self, reduction: str | None = _DEFAULT, name: str = "mean_squared_logarithmic_error"
    ):
        super().__init__(mean_squared_logarithmic_error, reduction, name)


class Huber(LossFunctionWrapper):
    def __init__(
        self, delta: float = 1.0, reduction: str | None = _DEFAULT, name: str = "huber_loss"
    ):
        super().__init__(huber, reduction, name, delta=delta)


class LogCosh(LossFunctionWrapper):
    def __init__(self, reduction: str | None = _DEFAULT, name: str = "log_cosh"):
        super().__init__(log_cosh, reduction, name)


class Hinge(LossFunctionWrapper):
    def __init__(self, reduction: str | None = _DEFAULT, name: str = "hinge"):
        super().__init__(hinge, reduction, name)


class KLDivergence(LossFunctionWrapper):
    def __init__(self, reduction: str | None = _DEFAULT, name: str = "kl_divergence"):
        super().__init__(kl_divergence, reduction, name)


class Poisson(LossFunctionWrapper):
    def __init__(self, reduction: str | None = _DEFAULT, name: str = "poisson"):
        super().__init__(poisson, reduction, name)


class CosineSimilarity(LossFunctionWrapper):
    def __init__(
        self, axis: int = -1, reduction: str | None = _DEFAULT, name: str = "cosine_similarity"
    ):
        super().__init__(cosine_similarity, reduction, name, axis=axis)


class BinaryCrossentropy(LossFunctionWrapper):
    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: str | None = _DEFAULT,
        name: str = "binary_crossentropy",
    ):
        super().__init__(
            binary_crossentropy,
            reduction,
            name,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )


class BinaryFocalCrossentropy(LossFunctionWrapper):
    def __init__(
        self,
        apply_class_balancing: bool = False,
        alpha: float = 0.25,
        gamma: float = 2.0,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: str | None = _DEFAULT,
        name: str = "binary_focal_crossentropy",
    ):
        super().__init__(
            binary_focal_crossentropy,
            reduction,
            name,
            apply_class_balancing=apply_class_balancing,
            alpha=alpha,
            gamma=gamma,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )


class CategoricalCrossentropy(LossFunctionWrapper):
    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: str | None = _DEFAULT,
        name: str = "categorical_crossentropy",
    ):
        super().__init__(
            categorical_crossentropy,
            reduction,
            name,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """With `ignore_class`, those labels are left out, also of the mean's count."""

    def __init__(
        self,
        from_logits: bool = False,
        ignore_class: int | None = None,
        reduction: str | None = _DEFAULT,
        name: str = "sparse_categorical_crossentropy",
    ):
        super().__init__(
            sparse_categorical_crossentropy,
            reduction,
            name,
            from_logits=from_logits,
            ignore_class=ignore_class,
        )

    def mask(self, y_true: Any, values: Tensor) -> Tensor | None:
        ignore_class = self.fn_kwargs["ignore_class"]
        if ignore_class is None:
            return None
        labels = convert_to_tensor(y_true)
        labels = squeeze_last(labels) if labels.ndim > values.ndim else labels
        return not_equal(labels, ignore_class)

"""`Metric` and the reducing metrics `Sum`, `Mean` and `MeanMetricWrapper`.

A metric keeps its state in non-trainable float32 Variables.  `update_state` changes them
with ops and `assign_add` only, so it runs inside a traced training step; `result()` is ops
too, read outside the step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from emberlite.errors import EmberliteError
from emberlite.trainer.layers.base import snake_case
from emberlite.trainer.losses.reduction import (
    broadcast_weights,
    count,
    divide_no_nan,
    squeeze_or_expand_to_same_rank,
)
from emberlite.trainer.losses.wrapper import FunctionWrapper
from emberlite.trainer.ops.array_ops import identity
from emberlite.trainer.ops.math_ops import cast, reduce_mean, reduce_sum
from emberlite.trainer.serialization import Serializable
from emberlite.trainer.tensor import Tensor, Variable, convert_to_tensor


class MetricError(EmberliteError, ValueError):
    """A metric was set up wrongly or got inputs it cannot take; names the metric."""


class Metric(Serializable):
    """Base class: subclasses make their state with `add_variable` in `__init__`, and define
    `update_state(...)` and `result()` with ops."""

    def __init__(self, name: str | None = None, dtype: Any = None):
        self.name = name or snake_case(type(self).__name__)
        # NOTE: float32 under mixed precision too, as Keras: counts of many batches need it.
        self.dtype = np.dtype(dtype or np.float32)
        self._variables: list[Variable] = []

    def add_variable(
        self,
        shape: Sequence[int] = (),
        initializer: str | float = "zeros",
        dtype: Any = None,
        name: str | None = None,
    ) -> Variable:
        """A non-trainable state variable named "<metric name>/<name>"."""
        name = name or f"variable_{len(self._variables)}"
        fill = {"zeros": 0.0, "ones": 1.0}.get(initializer, initializer)
        if isinstance(fill, str):
            raise MetricError(
                f"metric {self.name!r}: unknown initializer {initializer!r} for variable "
                f"{name!r} (use 'zeros', 'ones' or a number)"
            )
        value = np.full(tuple(shape), fill, np.dtype(dtype or self.dtype))
        variable = Variable(value, trainable=False, name=f"{self.name}/{name}")
        self._variables.append(variable)
        return variable

    add_weight = add_variable  # Keras 2's name

    @property
    def variables(self) -> list[Variable]:
        return list(self._variables)

    def update_state(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define update_state()")

    def result(self) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} must define result()")

    def reset_state(self) -> None:
        for variable in self._variables:
            variable.assign(np.zeros(variable.shape, variable.dtype))

    def __call__(self, *args: Any, **kwargs: Any) -> Tensor:
        """Update with one batch, then the result so far."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype.name}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"


def reduce_to_samplewise_values(
    values: Any,
    sample_weight: Any,
    reduce_fn: Callable[..., Tensor],
    dtype: np.dtype,
    what: str = "metric",
) -> tuple[Tensor, Tensor | None]:
    """Keras's reduction of values (and weights) to one per sample, the values weighted.

    Weights align from the batch axis; values with more axes are first reduced to the
    weights' rank.  A scalar weight weighs each sample (as in Keras 2).
    """
    values = cast(values, dtype)
    weights = None
    if sample_weight is not None:
        weights = cast(convert_to_tensor(sample_weight), dtype)
        values, weights = squeeze_or_expand_to_same_rank(values, weights)
        keep = max(weights.ndim, 1)
        if values.ndim > keep:
            values = reduce_fn(values, axis=tuple(range(keep, values.ndim)))
        weights = broadcast_weights(weights, values, what)
        values = values * weights
        if weights.ndim > 1:
            weights = reduce_fn(weights, axis=tuple(range(1, weights.ndim)))
    if values.ndim > 1:
        values = reduce_fn(values, axis=tuple(range(1, values.ndim)))
    return values, weights


class Sum(Metric):
    """The (weighted) sum of all values seen."""

    def __init__(self, name: str = "sum", dtype: Any = None):
        super().__init__(name, dtype)
        self.total = self.add_variable((), name="total")

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        values, _ = reduce_to_samplewise_values(
            values, sample_weight, reduce_sum, self.dtype, self.name
        )
        self.total.assign_add(reduce_sum(values))

    def result(self) -> Tensor:
        return identity(self.total)


class Mean(Metric):
    """The (weighted) mean of all values seen: each sample's values are averaged first."""

    def __init__(self, name: str = "mean", dtype: Any = None):
        super().__init__(name, dtype)
        self.total = self.add_variable((), name="total")
        self.count = self.add_variable((), name="count")

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        values, weights = reduce_to_samplewise_values(
            values, sample_weight, reduce_mean, self.dtype, self.name
        )
        self.total.assign_add(reduce_sum(values))
        self.count.assign_add(reduce_sum(weights) if weights is not None else count(values))

    def result(self) -> Tensor:
        return divide_no_nan(identity(self.total), identity(self.count))


class MeanMetricWrapper(FunctionWrapper, Mean):
    """The mean of `fn(y_true, y_pred, **kwargs)` over all samples seen."""

    what = "metric"
    own_arguments_first = True

    def __init__(
        self, fn: Callable[..., Tensor], name: str | None = None, dtype: Any = None, **kwargs: Any
    ):
        super().__init__(name=name or getattr(fn, "__name__", None), dtype=dtype)
        self.fn = fn
        self.fn_kwargs = kwargs

    @classmethod
    def builtin_functions(cls) -> dict[str, Callable[..., Tensor]]:
        from emberlite.trainer.metrics import FUNCTIONS  # the package imports this module

        return FUNCTIONS

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        super().update_state(self.fn(y_true, y_pred, **self.fn_kwargs), sample_weight)

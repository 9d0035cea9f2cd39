"""The shape rules, weighting and reductions that losses (and metrics) share.

Written with ops on tensors of dynamic batch size: no count or shape of the batch axis is
baked in, so they run inside `emberlite.function` with `input_signature` batch dims of None.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from emberlite.errors import EmberliteError
from emberlite.trainer.ops.array_ops import reshape
from emberlite.trainer.ops.math_ops import (
    cast,
    constant_like,
    equal,
    maximum,
    minimum,
    reduce_sum,
    where,
)
from emberlite.trainer.tensor import Tensor, convert_to_tensor

EPSILON = 1e-7  # keras.backend.epsilon()
REDUCTIONS = ("sum_over_batch_size", "sum", "none", "mean", "mean_with_sample_weight")


class LossError(EmberliteError, ValueError):
    """A loss got inputs it cannot work with; the message names the loss and the shapes."""


# -- shape helpers (shared with metrics) ----------------------------------------------------------


def as_float(x: Any) -> Tensor:
    """Predictions as a float tensor: float16 (mixed precision) and non-floats become float32."""
    x = convert_to_tensor(x)
    return x if x.dtype.kind == "f" and x.dtype.itemsize >= 4 else cast(x, np.float32)


def squeeze_last(x: Tensor) -> Tensor:
    """(..., 1) -> (...), keeping the batch size dynamic."""
    return reshape(x, (-1, *x.shape[1:-1]) if x.ndim > 1 else ())


def expand_last(x: Tensor) -> Tensor:
    """(...) -> (..., 1), keeping the batch size dynamic."""
    return reshape(x, (-1, *x.shape[1:], 1) if x.ndim > 0 else (1,))


def squeeze_or_expand_to_same_rank(x1: Tensor, x2: Tensor) -> tuple[Tensor, Tensor]:
    """Keras's rule for ranks one apart where the higher one ends in 1: a rank-1 tensor gains a
    trailing 1 ((N,) labels meet (N, 1) predictions), else the other loses its trailing 1."""
    if x1.ndim == x2.ndim + 1 and x1.shape[-1] == 1:
        return (x1, expand_last(x2)) if x2.ndim == 1 else (squeeze_last(x1), x2)
    if x2.ndim == x1.ndim + 1 and x2.shape[-1] == 1:
        return (expand_last(x1), x2) if x1.ndim == 1 else (x1, squeeze_last(x2))
    return x1, x2


def match_shapes(y_true: Any, y_pred: Any, what: str) -> tuple[Tensor, Tensor]:
    """y_pred as a float tensor and y_true in its dtype, of one shape (LossError if not)."""
    y_pred = as_float(y_pred)
    y_true = cast(y_true, y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    if y_true.shape != y_pred.shape:
        raise LossError(
            f"{what}: y_true of shape {list(y_true.shape)} does not match y_pred of shape "
            f"{list(y_pred.shape)}"
        )
    return y_true, y_pred


def sparse_labels(y_true: Any, y_pred: Tensor, what: str) -> Tensor:
    """Integer class labels of shape y_pred.shape[:-1] ((N, 1) labels lose their last axis)."""
    labels = convert_to_tensor(y_true)
    if labels.dtype.kind not in "iu":
        labels = cast(labels, np.int32)
    if labels.ndim == y_pred.ndim and labels.ndim > 0 and labels.shape[-1] == 1:
        labels = squeeze_last(labels)
    if y_pred.ndim == 0 or labels.shape != y_pred.shape[:-1]:
        raise LossError(
            f"{what}: labels of shape {list(convert_to_tensor(y_true).shape)} do not match "
            f"y_pred of shape {list(y_pred.shape)} (expected labels of shape "
            f"{list(y_pred.shape[:-1])} or {[*y_pred.shape[:-1], 1]})"
        )
    return labels


def broadcast_like(x: Any, like: Tensor) -> Tensor:
    """`x` broadcast to like's shape, without baking that shape into a traced graph."""
    x = x if isinstance(x, Tensor) else constant_like(x, like)
    return where(equal(like, like), x, x)  # NOTE: the condition only carries the shape


def count(x: Tensor) -> Tensor:
    """The number of elements of x, as a tensor of its dtype (dynamic in the batch size)."""
    return reduce_sum(broadcast_like(1, x))


def divide_no_nan(a: Any, b: Any) -> Tensor:
    """a / b, 0 where b is 0 (and no NaN gradient there)."""
    b = convert_to_tensor(b)
    zero = equal(b, 0)
    return where(zero, 0.0, a / where(zero, constant_like(1, b), b))


def clip(x: Tensor, low: float, high: float) -> Tensor:
    return minimum(maximum(x, low), high)


def broadcast_weights(sample_weight: Any, values: Tensor, what: str) -> Tensor:
    """Sample weights in values' dtype and shape.  They align from the batch axis: a trailing
    1 is dropped and missing trailing axes are added ((N,) weights for (N, T) values)."""
    weights = convert_to_tensor(sample_weight)
    weights = cast(weights, values.dtype)
    if weights.ndim == values.ndim + 1 and weights.shape[-1] == 1:
        weights = squeeze_last(weights)
    if 0 < weights.ndim < values.ndim:
        weights = reshape(weights, (-1, *weights.shape[1:]) + (1,) * (values.ndim - weights.ndim))
    try:
        fits = np.broadcast_shapes(weights.shape, values.shape) == values.shape
    except ValueError:
        fits = False
    if not fits:
        raise LossError(
            f"{what}: sample_weight of shape {list(convert_to_tensor(sample_weight).shape)} "
            f"does not broadcast to values of shape {list(values.shape)}"
        )
    return broadcast_like(weights, values)


# -- reduction --------------------------------------------------------------------------------


def standardize_reduction(reduction: str | None) -> str:
    """A reduction name; None is "none" and Keras 2's "auto" is "sum_over_batch_size"."""
    reduction = "none" if reduction is None else reduction
    reduction = "sum_over_batch_size" if reduction == "auto" else reduction
    if reduction not in REDUCTIONS:
        raise LossError(f"unknown reduction {reduction!r}; known: {', '.join(REDUCTIONS)}")
    return reduction


def reduce_weighted_values(
    values: Any,
    sample_weight: Any = None,
    reduction: str = "sum_over_batch_size",
    mask: Any = None,
    what: str = "loss",
) -> Tensor:
    """values * sample_weight, reduced.  Where `mask` is given (0 for entries to leave out),
    the means are over the entries it keeps."""
    reduction = standardize_reduction(reduction)
    values = convert_to_tensor(values)
    weights = None if sample_weight is None else broadcast_weights(sample_weight, values, what)
    if mask is not None:
        mask = cast(mask, values.dtype)
        if reduction in ("sum_over_batch_size", "mean"):
            mask = mask * divide_no_nan(count(mask), reduce_sum(mask))
        weights = mask if weights is None else weights * mask
    if weights is not None:
        values = values * weights
    if reduction == "none" or values.ndim == 0:
        return values
    total = reduce_sum(values)
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and weights is not None:
        return divide_no_nan(total, reduce_sum(weights))
    return divide_no_nan(total, count(values))

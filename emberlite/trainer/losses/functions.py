"""Loss functions: one value per sample (the last axis reduced), Keras 3's formulas."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from emberlite.trainer.losses.reduction import (
    EPSILON,
    LossError,
    as_float,
    clip,
    match_shapes,
    sparse_labels,
)
from emberlite.trainer.ops.math_ops import (
    abs,
    cast,
    equal,
    greater,
    less_equal,
    log,
    logical_or,
    maximum,
    not_equal,
    pow,
    reduce_mean,
    reduce_min,
    reduce_sum,
    rsqrt,
    square,
    where,
)
from emberlite.trainer.ops.nn_ops import (
    sigmoid,
    sigmoid_cross_entropy_with_logits,
    softmax_cross_entropy_with_logits,
    softplus,
    sparse_softmax_cross_entropy_with_logits,
)
from emberlite.trainer.tensor import Tensor


def _paired(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """fn(y_true, y_pred, ...) called with match_shapes's tensors."""

    @functools.wraps(fn)
    def loss(y_true: Any, y_pred: Any, *args: Any, **kwargs: Any) -> Tensor:
        return fn(*match_shapes(y_true, y_pred, fn.__name__), *args, **kwargs)

    return loss


@_paired
def mean_squared_error(y_true: Tensor, y_pred: Tensor) -> Tensor:
    return reduce_mean(square(y_true - y_pred), axis=-1)


@_paired
def mean_absolute_error(y_true: Tensor, y_pred: Tensor) -> Tensor:
    return reduce_mean(abs(y_true - y_pred), axis=-1)


@_paired
def mean_absolute_percentage_error(y_true: Tensor, y_pred: Tensor) -> Tensor:
    diff = abs((y_true - y_pred) / maximum(abs(y_true), EPSILON))
    return reduce_mean(diff, axis=-1) * 100.0


@_paired
def mean_squared_logarithmic_error(y_true: Tensor, y_pred: Tensor) -> Tensor:
    first, second = log(maximum(y_pred, EPSILON) + 1.0), log(maximum(y_true, EPSILON) + 1.0)
    return reduce_mean(square(first - second), axis=-1)


@_paired
def huber(y_true: Tensor, y_pred: Tensor, delta: float = 1.0) -> Tensor:
    error = y_pred - y_true
    abs_error = abs(error)
    quadratic = square(error) * 0.5
    linear = abs_error * delta - 0.5 * delta * delta
    return reduce_mean(where(less_equal(abs_error, delta), quadratic, linear), axis=-1)


@_paired
def log_cosh(y_true: Tensor, y_pred: Tensor) -> Tensor:
    x = y_pred - y_true
    return reduce_mean(x + softplus(x * -2.0) - float(np.log(2.0)), axis=-1)


@_paired
def hinge(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """Labels are -1 or 1; labels that are all 0 or 1 are mapped to -1 or 1 first."""
    binary = reduce_min(cast(logical_or(equal(y_true, 0), equal(y_true, 1)), y_true.dtype))
    y_true = where(greater(binary, 0), y_true * 2.0 - 1.0, y_true)
    return reduce_mean(maximum(1.0 - y_true * y_pred, 0.0), axis=-1)


@_paired
def kl_divergence(y_true: Tensor, y_pred: Tensor) -> Tensor:
    y_true, y_pred = clip(y_true, EPSILON, 1.0), clip(y_pred, EPSILON, 1.0)
    return reduce_sum(y_true * log(y_true / y_pred), axis=-1)


@_paired
def poisson(y_true: Tensor, y_pred: Tensor) -> Tensor:
    return reduce_mean(y_pred - y_true * log(y_pred + EPSILON), axis=-1)


def l2_normalize(x: Tensor, axis: int = -1) -> Tensor:
    """x / ||x|| along axis (tf.math.l2_normalize: a norm below 1e-6 counts as 1e-6)."""
    return x * rsqrt(maximum(reduce_sum(square(x), axis, keepdims=True), 1e-12))


@_paired
def cosine_similarity(y_true: Tensor, y_pred: Tensor, axis: int = -1) -> Tensor:
    """The negative cosine of the angle (-1 is best), as the Keras loss."""
    return -reduce_sum(l2_normalize(y_true, axis) * l2_normalize(y_pred, axis), axis=axis)


def _elementwise_bce(y_true: Tensor, y_pred: Tensor, from_logits: bool) -> Tensor:
    if from_logits:
        return sigmoid_cross_entropy_with_logits(labels=y_true, logits=y_pred)
    y_pred = clip(y_pred, EPSILON, 1.0 - EPSILON)
    return -(y_true * log(y_pred) + (1.0 - y_true) * log(1.0 - y_pred))


def _smooth_binary(y_true: Tensor, label_smoothing: float) -> Tensor:
    return y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing if label_smoothing else y_true


@_paired
def binary_crossentropy(
    y_true: Tensor,
    y_pred: Tensor,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> Tensor:
    y_true = _smooth_binary(y_true, label_smoothing)
    return reduce_mean(_elementwise_bce(y_true, y_pred, from_logits), axis=axis)


@_paired
def binary_focal_crossentropy(
    y_true: Tensor,
    y_pred: Tensor,
    apply_class_balancing: bool = False,
    alpha: float = 0.25,
    gamma: float = 2.0,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> Tensor:
    """Binary cross-entropy down-weighted by (1 - p_t) ** gamma for easy examples."""
    y_true = _smooth_binary(y_true, label_smoothing)
    probs = sigmoid(y_pred) if from_logits else y_pred
    p_t = y_true * probs + (1.0 - y_true) * (1.0 - probs)
    focal = pow(1.0 - p_t, gamma) * _elementwise_bce(y_true, probs, from_logits=False)
    if apply_class_balancing:
        focal = focal * (y_true * alpha + (1.0 - y_true) * (1.0 - alpha))
    return reduce_mean(focal, axis=axis)


@_paired
def categorical_crossentropy(
    y_true: Tensor,
    y_pred: Tensor,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> Tensor:
    if y_pred.ndim and y_pred.shape[-1] == 1:
        warnings.warn(
            f"categorical_crossentropy: y_pred of shape {list(y_pred.shape)} has one class; "
            "use binary_crossentropy for two classes",
            stacklevel=3,
        )
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[axis]
    if from_logits:
        return softmax_cross_entropy_with_logits(y_true, y_pred, axis=axis)
    probs = y_pred / reduce_sum(y_pred, axis, keepdims=True)  # rows that do not sum to 1
    return -reduce_sum(y_true * log(clip(probs, EPSILON, 1.0 - EPSILON)), axis=axis)


def sparse_categorical_crossentropy(
    y_true: Any,
    y_pred: Any,
    from_logits: bool = False,
    ignore_class: int | None = None,
    axis: int = -1,
) -> Tensor:
    """Cross-entropy for integer labels (shape y_pred.shape[:-1], or with a trailing 1);
    labels equal to `ignore_class` get a loss of 0."""
    what = "sparse_categorical_crossentropy"
    y_pred = as_float(y_pred)
    if axis not in (-1, y_pred.ndim - 1):
        raise LossError(f"{what}: only axis=-1 is supported, got axis={axis}")
    labels = sparse_labels(y_true, y_pred, what)
    valid = None
    if ignore_class is not None:
        valid = not_equal(labels, ignore_class)
        labels = where(valid, labels, 0)
    logits = y_pred if from_logits else log(clip(y_pred, EPSILON, 1.0 - EPSILON))
    values = sparse_softmax_cross_entropy_with_logits(labels, logits)
    return values if valid is None else where(valid, values, 0.0)


# Keras's short names.
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kullback_leibler_divergence = kl_divergence
logcosh = log_cosh
bce = BCE = binary_crossentropy

FUNCTIONS = {
    fn.__name__: fn
    for fn in (
        mean_squared_error,
        mean_absolute_error,
        mean_absolute_percentage_error,
        mean_squared_logarithmic_error,
        huber,
        log_cosh,
        hinge,
        kl_divergence,
        poisson,
        cosine_similarity,
        binary_crossentropy,
        binary_focal_crossentropy,
        categorical_crossentropy,
        sparse_categorical_crossentropy,
    )
}

"""Accuracy metrics: the per-sample functions (1.0 for a hit, else 0.0) and their means."""

from __future__ import annotations

from typing import Any

import numpy as np

from emberlite.trainer.losses.reduction import LossError, as_float, match_shapes, sparse_labels
from emberlite.trainer.metrics.base import MeanMetricWrapper
from emberlite.trainer.ops.math_ops import (
    argmax,
    cast,
    constant_like,
    equal,
    greater,
    less,
    reduce_max,
    reduce_sum,
    where,
)
from emberlite.trainer.ops.nn_ops import one_hot
from emberlite.trainer.tensor import Tensor

FLOAT = np.float32


def _hits(a: Tensor, b: Tensor) -> Tensor:
    return cast(equal(a, b), FLOAT)


def accuracy(y_true: Any, y_pred: Any) -> Tensor:
    """Exact equality of each element."""
    return _hits(*match_shapes(y_true, y_pred, "accuracy"))


def binary_accuracy(y_true: Any, y_pred: Any, threshold: float = 0.5) -> Tensor:
    """Each element: does (y_pred > threshold) equal the 0/1 label?"""
    y_true, y_pred = match_shapes(y_true, y_pred, "binary_accuracy")
    return _hits(y_true, cast(greater(y_pred, threshold), y_pred.dtype))


def _class_labels(y_true: Any, y_pred: Tensor, what: str) -> Tensor:
    """One-hot rows (or class scores) of y_true's shape as the index of their maximum."""
    y_true, y_pred = match_shapes(y_true, y_pred, what)
    if y_pred.ndim == 0:
        raise LossError(f"{what}: y_pred must have a class axis, got shape []")
    return argmax(y_true, axis=-1)


def categorical_accuracy(y_true: Any, y_pred: Any) -> Tensor:
    """Each sample: is the largest score at the one-hot label's class?"""
    labels = _class_labels(y_true, y_pred, "categorical_accuracy")
    return _hits(labels, argmax(as_float(y_pred), axis=-1))


def sparse_categorical_accuracy(y_true: Any, y_pred: Any) -> Tensor:
    """Each sample: is the largest score at the integer label?"""
    y_pred = as_float(y_pred)
    labels = sparse_labels(y_true, y_pred, "sparse_categorical_accuracy")
    return _hits(cast(labels, np.int64), argmax(y_pred, axis=-1))


def in_top_k(labels: Tensor, predictions: Tensor, k: int) -> Tensor:
    """Whether each label's score is among the k largest of its row (tf.math.in_top_k: ties
    at the boundary count as in; a label outside the classes is not)."""
    classes = predictions.shape[-1]
    picked = one_hot(labels, classes, dtype=np.bool_)
    floor = constant_like(-np.inf, predictions)
    target = reduce_max(where(picked, predictions, floor), axis=-1, keepdims=True)
    above = reduce_sum(cast(greater(predictions, target), FLOAT), axis=-1)
    in_range = reduce_sum(cast(picked, FLOAT), axis=-1)  # 0 for a label outside [0, classes)
    return cast(less(above, k), FLOAT) * in_range


def top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> Tensor:
    """Each sample: is the one-hot label's class among the k largest scores?"""
    labels = _class_labels(y_true, y_pred, "top_k_categorical_accuracy")
    return in_top_k(labels, as_float(y_pred), k)


def sparse_top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> Tensor:
    """Each sample: is the integer label among the k largest scores?"""
    y_pred = as_float(y_pred)
    labels = sparse_labels(y_true, y_pred, "sparse_top_k_categorical_accuracy")
    return in_top_k(labels, y_pred, k)


# The built-in metrics (see `FunctionWrapper` for the class keywords).


class Accuracy(MeanMetricWrapper, fn=accuracy): ...


class BinaryAccuracy(MeanMetricWrapper, fn=binary_accuracy): ...


class CategoricalAccuracy(MeanMetricWrapper, fn=categorical_accuracy): ...


class SparseCategoricalAccuracy(MeanMetricWrapper, fn=sparse_categorical_accuracy): ...


# NOTE: k comes first in these two, as in Keras.
class TopKCategoricalAccuracy(
    MeanMetricWrapper, fn=top_k_categorical_accuracy, arguments=("k", "name", "dtype")
): ...


class SparseTopKCategoricalAccuracy(
    MeanMetricWrapper, fn=sparse_top_k_categorical_accuracy, arguments=("k", "name", "dtype")
): ...

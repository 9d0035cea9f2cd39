"""Confusion-matrix metrics: counts at thresholds, Precision, Recall and AUC.

A prediction is positive at threshold t when it is > t, a label when it is nonzero.  Counts
are kept per threshold, computed by broadcasting the predictions against the thresholds
(no sorting, no Python loop over values), as Keras's `update_confusion_matrix_variables`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from emberlite.trainer.losses.reduction import (
    EPSILON,
    as_float,
    broadcast_weights,
    divide_no_nan,
    squeeze_or_expand_to_same_rank,
)
from emberlite.trainer.metrics.base import Metric, MetricError
from emberlite.trainer.ops.array_ops import identity, reshape
from emberlite.trainer.ops.math_ops import (
    cast,
    equal,
    greater,
    less,
    less_equal,
    log,
    logical_and,
    maximum,
    minimum,
    not_equal,
    reduce_mean,
    reduce_sum,
    where,
)
from emberlite.trainer.ops.nn_ops import sigmoid
from emberlite.trainer.tensor import Tensor, Variable, constant

NEG_INF = -1e10  # the threshold of Precision/Recall with top_k: every kept score is above it
FLOAT = np.float32
_NAMES = {
    "tp": "true_positives",
    "fp": "false_positives",
    "tn": "true_negatives",
    "fn": "false_negatives",
}


def parse_thresholds(thresholds: Any, default: float, what: str) -> list[float]:
    """Thresholds as a list (one float is a list of one), each checked to be in [0, 1]."""
    if thresholds is None:
        return [default]
    values = [float(t) for t in np.atleast_1d(thresholds)]
    for t in values:
        if not 0.0 <= t <= 1.0:
            raise MetricError(f"{what}: thresholds must be in [0, 1], got {t}")
    return values


def top_k_mask(x: Tensor, k: int) -> Tensor:
    """True at the k largest entries of each row of x (ties go to the lower index, as top_k).

    An entry's rank is the number of entries above it plus the equal ones before it, found by
    comparing every pair in the row.
    """
    lead = (-1, *x.shape[1:-1]) if x.ndim > 1 else ()
    classes = x.shape[-1]
    row = reshape(x, (*lead, 1, classes))  # [..., i, j] = x_j
    entry = reshape(x, (*lead, classes, 1))  # [..., i, j] = x_i
    earlier = constant(np.tri(classes, k=-1, dtype=bool))  # j < i
    ahead = greater(row, entry)
    tied_before = cast(logical_and(equal(row, entry), earlier), FLOAT)
    rank = reduce_sum(cast(ahead, FLOAT) + tied_before, axis=-1)
    return less(reshape(rank, (-1, *x.shape[1:]) if x.ndim > 1 else x.shape), k)


def update_confusion_counts(
    counts: dict[str, Variable],
    y_true: Any,
    y_pred: Any,
    thresholds: list[float],
    what: str,
    top_k: int | None = None,
    class_id: int | None = None,
    sample_weight: Any = None,
    multi_label: bool = False,
) -> None:
    """Add this batch's (weighted) counts to `counts` ("tp", "fp", "tn", "fn": variables of
    shape (thresholds,), or (thresholds, labels) when multi_label keeps labels apart)."""
    y_pred = cast(as_float(y_pred), FLOAT)
    y_true = cast(y_true, FLOAT)
    y_pred, y_true = squeeze_or_expand_to_same_rank(y_pred, y_true)
    if y_true.shape != y_pred.shape:
        raise MetricError(
            f"{what}: y_true of shape {list(y_true.shape)} does not match y_pred of shape "
            f"{list(y_pred.shape)}"
        )
    if top_k is not None:
        y_pred = where(top_k_mask(y_pred, top_k), y_pred, NEG_INF)
    if class_id is not None:
        if y_pred.ndim < 2 or not 0 <= class_id < y_pred.shape[-1]:
            raise MetricError(
                f"{what}: class_id={class_id} needs y_pred of shape (samples, classes) with "
                f"more than {class_id} classes, got shape {list(y_pred.shape)}"
            )
        y_true, y_pred = y_true[..., class_id : class_id + 1], y_pred[..., class_id : class_id + 1]
    weights = None if sample_weight is None else broadcast_weights(sample_weight, y_pred, what)

    # One row per threshold: (thresholds, values), or (thresholds, samples, labels).
    flat = (1, -1, y_pred.shape[-1]) if multi_label else (1, -1)
    preds, labels = reshape(y_pred, flat), reshape(y_true, flat)
    at = constant(np.asarray(thresholds, FLOAT).reshape((-1,) + (1,) * (len(flat) - 1)))
    predicted = {True: greater(preds, at), False: less_equal(preds, at)}
    actual = {True: not_equal(labels, 0.0), False: equal(labels, 0.0)}
    outcomes = {"tp": (True, True), "fp": (False, True), "tn": (False, False), "fn": (True, False)}
    for key, variable in counts.items():
        label, prediction = outcomes[key]
        hits = cast(logical_and(actual[label], predicted[prediction]), FLOAT)
        if weights is not None:
            hits = hits * reshape(weights, flat)
        variable.assign_add(reduce_sum(hits, axis=1))


class _ConfusionMetric(Metric):
    """Counts at thresholds; the result is a scalar for one threshold, else one per threshold."""

    counted: tuple[str, ...] = ()

    def __init__(
        self,
        thresholds: Any = None,
        top_k: int | None = None,
        class_id: int | None = None,
        name: str | None = None,
        dtype: Any = None,
    ):
        super().__init__(name, dtype)
        self.init_thresholds, self.top_k, self.class_id = thresholds, top_k, class_id
        default = 0.5 if top_k is None else NEG_INF
        self.thresholds = parse_thresholds(thresholds, default, self.name)
        shape = (len(self.thresholds),)
        self.counts = {key: self.add_variable(shape, name=_NAMES[key]) for key in self.counted}

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        update_confusion_counts(
            self.counts,
            y_true,
            y_pred,
            self.thresholds,
            self.name,
            self.top_k,
            self.class_id,
            sample_weight,
        )

    def result(self) -> Tensor:
        value = self.ratio(*(identity(self.counts[key]) for key in self.counted))
        return value[0] if len(self.thresholds) == 1 else value

    def ratio(self, *counts: Tensor) -> Tensor:
        return counts[0]

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "thresholds": self.init_thresholds,
            "top_k": self.top_k,
            "class_id": self.class_id,
        }


class _ConditionCount(_ConfusionMetric):
    """One count at thresholds (no top_k or class_id, as Keras's counting metrics)."""

    def __init__(self, thresholds: Any = None, name: str | None = None, dtype: Any = None):
        super().__init__(thresholds, name=name, dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype.name, "thresholds": self.init_thresholds}


class TruePositives(_ConditionCount):
    counted = ("tp",)


class FalsePositives(_ConditionCount):
    counted = ("fp",)


class TrueNegatives(_ConditionCount):
    counted = ("tn",)


class FalseNegatives(_ConditionCount):
    counted = ("fn",)


class Precision(_ConfusionMetric):
    """tp / (tp + fp): of the predicted positives, the share that are positive."""

    counted = ("tp", "fp")

    def ratio(self, tp: Tensor, fp: Tensor) -> Tensor:
        return divide_no_nan(tp, tp + fp)


class Recall(_ConfusionMetric):
    """tp / (tp + fn): of the positives, the share predicted positive."""

    counted = ("tp", "fn")

    def ratio(self, tp: Tensor, fn: Tensor) -> Tensor:
        return divide_no_nan(tp, tp + fn)


class AUC(Metric):
    """Area under the ROC or precision-recall curve, from counts at `num_thresholds`
    thresholds spread evenly over [0, 1] (or the given `thresholds`), summed as Keras does:
    trapezoids ("interpolation"; for PR the interpolation of Davis & Goadrich), or rectangles
    of the lower ("minoring") or higher ("majoring") end.

    `multi_label=True` keeps each label's curve apart (the result is their mean); otherwise all
    labels count as one curve.
    """

    def __init__(
        self,
        num_thresholds: int = 200,
        curve: str = "ROC",
        summation_method: str = "interpolation",
        name: str | None = None,
        dtype: Any = None,
        thresholds: Any = None,
        multi_label: bool = False,
        num_labels: int | None = None,
        from_logits: bool = False,
    ):
        super().__init__(name, dtype)
        self.curve = _choice(curve, ("ROC", "PR"), "curve", self.name)
        self.summation_method = _choice(
            summation_method,
            ("interpolation", "minoring", "majoring"),
            "summation_method",
            self.name,
        )
        if thresholds is not None:
            inner = sorted(parse_thresholds(thresholds, 0.5, self.name))
        elif int(num_thresholds) > 1:
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        else:
            raise MetricError(f"{self.name}: num_thresholds must be > 1, got {num_thresholds}")
        self.init_thresholds = thresholds
        self.num_thresholds = len(inner) + 2
        # NOTE: end points just outside [0, 1], so predictions of exactly 0 or 1 are counted.
        self.thresholds = [-EPSILON, *inner, 1.0 + EPSILON]
        self.multi_label, self.num_labels, self.from_logits = multi_label, num_labels, from_logits
        self.counts: dict[str, Variable] = {}
        if not multi_label or num_labels is not None:
            self._build(num_labels)

    def _build(self, num_labels: int | None) -> None:
        shape = (self.num_thresholds,) + ((num_labels,) if self.multi_label else ())
        self.num_labels = num_labels
        self.counts = {key: self.add_variable(shape, name=name) for key, name in _NAMES.items()}

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y_pred = as_float(y_pred)
        if self.multi_label:
            if y_pred.ndim != 2:
                raise MetricError(
                    f"{self.name}: multi_label needs y_pred of shape (samples, labels), got "
                    f"shape {list(y_pred.shape)}"
                )
            if not self.counts:  # NOTE: as Keras, the labels are known at the first batch
                self._build(y_pred.shape[-1])
            if y_pred.shape[-1] != self.num_labels:
                raise MetricError(
                    f"{self.name}: expected {self.num_labels} labels, got y_pred of shape "
                    f"{list(y_pred.shape)}"
                )
        if self.from_logits:
            y_pred = sigmoid(y_pred)
        update_confusion_counts(
            self.counts,
            y_true,
            y_pred,
            self.thresholds,
            self.name,
            sample_weight=sample_weight,
            multi_label=self.multi_label,
        )

    def result(self) -> Tensor:
        if not self.counts:
            return constant(0.0)
        tp, fp, tn, fn = (identity(self.counts[k]) for k in ("tp", "fp", "tn", "fn"))
        if self.curve == "PR" and self.summation_method == "interpolation":
            areas = _interpolated_pr_areas(tp, fp, fn)
        else:
            recall = divide_no_nan(tp, tp + fn)
            if self.curve == "ROC":
                x, y = divide_no_nan(fp, fp + tn), recall
            else:
                x, y = recall, divide_no_nan(tp, tp + fp)
            heights = {
                "interpolation": lambda a, b: (a + b) / 2.0,
                "minoring": minimum,
                "majoring": maximum,
            }[self.summation_method](y[:-1], y[1:])
            areas = (x[:-1] - x[1:]) * heights
        per_label = reduce_sum(areas, axis=0)
        return reduce_mean(per_label) if self.multi_label else per_label

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "num_thresholds": self.num_thresholds,
            "curve": self.curve,
            "summation_method": self.summation_method,
            "thresholds": self.init_thresholds,
            "multi_label": self.multi_label,
            "num_labels": self.num_labels,
            "from_logits": self.from_logits,
        }


def _interpolated_pr_areas(tp: Tensor, fp: Tensor, fn: Tensor) -> Tensor:
    """Areas under the PR curve between neighbouring thresholds, precision interpolated along
    the way as Davis & Goadrich (2006) do (Keras's `interpolate_pr_auc`): between two
    thresholds tp grows linearly in p = tp + fp, so precision = slope + intercept / p, whose
    integral over recall has a log term."""
    p = tp + fp
    dtp, dp = tp[:-1] - tp[1:], p[:-1] - p[1:]
    slope = divide_no_nan(dtp, maximum(dp, 0.0))
    intercept = tp[1:] - slope * p[1:]
    both_positive = logical_and(greater(p[:-1], 0.0), greater(p[1:], 0.0))
    p_ratio = where(both_positive, divide_no_nan(p[:-1], maximum(p[1:], 0.0)), 1.0)
    positives = maximum(tp[1:] + fn[1:], 0.0)
    return divide_no_nan(slope * (dtp + intercept * log(p_ratio)), positives)


def _choice(value: str, allowed: tuple[str, ...], argument: str, what: str) -> str:
    """`value` as spelled in `allowed` (case-insensitive)."""
    for option in allowed:
        if str(value).lower() == option.lower():
            return option
    raise MetricError(f"{what}: {argument} must be one of {', '.join(allowed)}, got {value!r}")

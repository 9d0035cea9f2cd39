"""What "accuracy" and "crossentropy" mean in `compile(metrics=[...])`: a metric chosen, as
Keras's compile chooses it, from the loss and the shapes of y_true and y_pred.

    >>> from emberlite.trainer import metrics
    >>> metrics.accuracy_for("sparse_categorical_crossentropy", (32,), (32, 10))
    <SparseCategoricalAccuracy name='accuracy'>
    >>> metrics.accuracy_for("mse", (32, 1), (32, 1))
    <BinaryAccuracy name='accuracy'>
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from emberlite.trainer import losses
from emberlite.trainer.metrics import accuracy_metrics as acc
from emberlite.trainer.metrics import loss_metrics
from emberlite.trainer.metrics.base import Metric

Shape = Sequence[int | None]

_LOSS_KINDS = (
    (losses.binary_crossentropy, "binary"),
    (losses.binary_focal_crossentropy, "binary"),
    (losses.categorical_crossentropy, "categorical"),
    (losses.sparse_categorical_crossentropy, "sparse"),
)


def _loss_kind(loss: Any) -> tuple[str | None, bool]:
    """("binary" | "categorical" | "sparse" | None, from_logits) of a cross-entropy loss."""
    if isinstance(loss, str | dict):
        loss = losses.get(loss)
    wrapped = isinstance(loss, losses.LossFunctionWrapper)
    fn = loss.fn if wrapped else loss
    from_logits = bool(loss.fn_kwargs.get("from_logits", False)) if wrapped else False
    return next((kind for f, kind in _LOSS_KINDS if f is fn), None), from_logits


def target_kind(loss: Any, y_true_shape: Shape, y_pred_shape: Shape) -> str:
    """ "binary", "categorical" or "sparse": from a cross-entropy loss, else from the shapes
    as Keras does (one prediction per sample: binary; labels of lower rank, or of last size 1
    beside several classes: sparse; else categorical)."""
    kind, _ = _loss_kind(loss)
    if kind is not None:
        return kind
    true_shape, pred_shape = tuple(y_true_shape), tuple(y_pred_shape)
    if len(pred_shape) <= 1 or pred_shape[-1] == 1:
        return "binary"
    if len(true_shape) < len(pred_shape) or (true_shape and true_shape[-1] == 1):
        return "sparse"
    return "categorical"


def accuracy_for(
    loss: Any, y_true_shape: Shape, y_pred_shape: Shape, name: str = "accuracy"
) -> Metric:
    """Binary, categorical or sparse categorical accuracy, as `target_kind` says.  Binary
    accuracy of logits (a loss with from_logits=True) thresholds at 0, i.e. probability 0.5."""
    kind = target_kind(loss, y_true_shape, y_pred_shape)
    if kind == "binary":
        threshold = 0.0 if _loss_kind(loss)[1] else 0.5
        return acc.BinaryAccuracy(name=name, threshold=threshold)
    if kind == "sparse":
        return acc.SparseCategoricalAccuracy(name=name)
    return acc.CategoricalAccuracy(name=name)


def crossentropy_for(
    loss: Any, y_true_shape: Shape, y_pred_shape: Shape, name: str = "crossentropy"
) -> Metric:
    """Binary, categorical or sparse categorical cross-entropy, as `target_kind` says (of
    logits where the loss takes logits)."""
    metric = {
        "binary": loss_metrics.BinaryCrossentropy,
        "categorical": loss_metrics.CategoricalCrossentropy,
        "sparse": loss_metrics.SparseCategoricalCrossentropy,
    }[target_kind(loss, y_true_shape, y_pred_shape)]
    return metric(name=name, from_logits=_loss_kind(loss)[1])


class DeferredMetric:
    """What `metrics.get("accuracy")` ("acc", "crossentropy", "ce") returns: `compile`, once
    it knows the loss and the shapes, calls `resolve` for the metric itself."""

    def __init__(self, kind: str, name: str):
        self.kind, self.name = kind, name

    def resolve(self, loss: Any, y_true_shape: Shape, y_pred_shape: Shape) -> Metric:
        choose = accuracy_for if self.kind == "accuracy" else crossentropy_for
        return choose(loss, y_true_shape, y_pred_shape, name=self.name)

    def __repr__(self) -> str:
        return f"<DeferredMetric {self.kind} name={self.name!r}>"

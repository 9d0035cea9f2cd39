"""What `compile(loss=..., metrics=...)` makes: the compiled loss and the compiled metrics.

Both settle at the first batch, once the model's outputs are known: a model's outputs are
flattened as the ops flatten structures (lists in order, dicts by sorted key), and each is
named (its dict key, else the output layer's name, else "output_<i>").  A loss, a loss
weight, a list of metrics or a sample weight is given for all outputs at once, as a list
in output order, or as a dict by output name (outputs a dict leaves out get no loss and no
metrics).  With several outputs, each output's loss is also tracked ("<output>_loss") and
its metrics are named "<output>_<metric>"; a weighted metric whose name is taken by an
unweighted one is named "weighted_<metric>".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from emberlite.errors import EmberliteError
from emberlite.trainer.autodiff import _flatten
from emberlite.trainer.ops.math_ops import cast, reduce_sum
from emberlite.trainer.tensor import Tensor


class CompileError(EmberliteError, ValueError):
    """compile()'s losses, metrics or weights do not fit the model's outputs, or its data."""


def output_names(model: Any, y_pred: Any) -> list[str]:
    """The names of the model's outputs, in their flattened order."""
    count = len(_flatten(y_pred))
    if isinstance(y_pred, dict) and count == len(y_pred):
        return sorted(y_pred)
    outputs = getattr(model, "outputs", None) or []
    names = [getattr(getattr(x, "node", None), "layer", None) for x in outputs]
    names = [layer.name for layer in names if layer is not None]
    if len(names) == count and len(set(names)) == count:
        return names
    return [f"output_{i}" for i in range(count)]


def per_output(value: Any, names: list[str], what: str) -> list[Any]:
    """`value` for each output: a dict by output name, a list or tuple in output order, or
    anything else for every output."""
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(names), key=str)
        if unknown:
            raise CompileError(
                f"{what} names {unknown}, which are not outputs of the model; its outputs "
                f"are {names}"
            )
        return [value.get(name) for name in names]
    if isinstance(value, list | tuple):
        if len(value) != len(names):
            raise CompileError(
                f"{what} has {len(value)} entries, but the model has {len(names)} output(s): "
                f"{names}"
            )
        return list(value)
    return [value] * len(names)


def _targets(y: Any, names: list[str]) -> list[Any]:
    """y_true for each output (a single target goes with a single output only)."""
    if len(names) > 1 and not isinstance(y, list | tuple | dict):
        raise CompileError(
            f"the model has {len(names)} outputs ({names}): pass y as a list or a dict of "
            "as many targets"
        )
    return per_output(y, names, "y")


def samples_in(y_pred: Any) -> int:
    """The batch size of a model's outputs."""
    return _flatten(y_pred)[0].shape[0]


class CompileLoss:
    """The loss of `compile(loss=..., loss_weights=...)`: the weighted sum of each output's
    loss, plus regularization losses; per-output losses are tracked with several outputs."""

    def __init__(self, loss: Any, loss_weights: Any, name_outputs: Callable[[Any], list[str]]):
        self._loss, self._loss_weights = loss, loss_weights
        self._name_outputs = name_outputs
        self.names: list[str] | None = None
        self.losses: list[Any] = []  # a Loss (or None) per output
        self.weights: list[float] = []
        self.metrics: list[Any] = []  # the per-output trackers

    def build(self, y_pred: Any) -> None:
        from emberlite.trainer import losses, metrics

        self.names = names = self._name_outputs(y_pred)
        self.losses = [
            _as_loss(losses.get(loss)) if loss is not None else None
            for loss in per_output(self._loss, names, "loss")
        ]
        weights = per_output(self._loss_weights, names, "loss_weights")
        bad = [w for w in weights if w is not None and not isinstance(w, int | float)]
        if bad:
            raise CompileError(f"loss_weights must be numbers, got {bad[0]!r}")
        self.weights = [1.0 if w is None else float(w) for w in weights]
        if sum(loss is not None for loss in self.losses) > 1:
            self.metrics = [
                metrics.Mean(name=f"{name}_loss")
                for name, loss in zip(names, self.losses, strict=True)
                if loss is not None
            ]

    def __call__(
        self, y_true: Any, y_pred: Any, sample_weight: Any = None, regularization_losses=()
    ) -> Tensor:
        if self.names is None:
            self.build(y_pred)
        y_true = _targets(y_true, self.names)
        weights = per_output(sample_weight, self.names, "sample_weight")
        trackers = iter(self.metrics)
        total = None
        for name, loss, loss_weight, yt, yp, sw in zip(
            self.names, self.losses, self.weights, y_true, _flatten(y_pred), weights, strict=True
        ):
            if loss is None:
                continue
            if yt is None:
                raise CompileError(f"output {name!r} has a loss but no target in y")
            value = _float32(loss(yt, yp, sample_weight=sw))
            if self.metrics:
                next(trackers).update_state(value, sample_weight=samples_in(yp))
            term = value * loss_weight if loss_weight != 1.0 else value
            total = term if total is None else total + term
        for extra in regularization_losses:  # each summed to a scalar, as Keras
            extra = reduce_sum(_float32(extra))
            total = extra if total is None else total + extra
        return total


def _as_loss(loss: Any) -> Any:
    """A Loss object; a plain function of (y_true, y_pred) is wrapped (mean over samples)."""
    from emberlite.trainer import losses

    if isinstance(loss, losses.Loss):
        return loss
    return losses.LossFunctionWrapper(loss)


def _float32(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) and x.dtype == np.float32 else cast(x, np.float32)


class CompileMetrics:
    """The metrics of `compile(metrics=..., weighted_metrics=...)`, per output; weighted
    metrics are given the sample weights, the others not (Keras 3)."""

    def __init__(
        self,
        metrics: Any,
        weighted_metrics: Any,
        name_outputs: Callable[[Any], list[str]],
        compile_loss: CompileLoss | None,
    ):
        self._given = (metrics, weighted_metrics)
        self._name_outputs = name_outputs
        self._compile_loss = compile_loss
        self.names: list[str] | None = None
        self._unweighted: list[list[Any]] = []  # per output
        self._weighted: list[list[Any]] = []

    @property
    def metrics(self) -> list[Any]:
        return [m for group in (*self._unweighted, *self._weighted) for m in group]

    def build(self, y_true: Any, y_pred: Any) -> None:
        self.names = names = self._name_outputs(y_pred)
        targets, outputs = _targets(y_true, names), _flatten(y_pred)
        if self._compile_loss is not None and self._compile_loss.names is None:
            self._compile_loss.build(y_pred)
        losses = self._compile_loss.losses if self._compile_loss else [None] * len(names)
        metrics, weighted = self._given
        groups = []
        for given, what in ((metrics, "metrics"), (weighted, "weighted_metrics")):
            groups.append(
                [
                    [_metric(m, loss, yt, yp) for m in entries] if yt is not None else []
                    for entries, loss, yt, yp in zip(
                        _metric_lists(given, names, what), losses, targets, outputs, strict=True
                    )
                ]
            )
        self._unweighted, self._weighted = groups
        if len(names) > 1:
            for name, unweighted, weighted in zip(names, *groups, strict=True):
                for metric in unweighted + weighted:
                    metric.name = f"{name}_{metric.name}"
        taken = {metric.name for group in self._unweighted for metric in group}
        for group in self._weighted:
            for metric in group:
                if metric.name in taken:
                    metric.name = f"weighted_{metric.name}"

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        if self.names is None:
            self.build(y_true, y_pred)
        targets, outputs = _targets(y_true, self.names), _flatten(y_pred)
        weights = per_output(sample_weight, self.names, "sample_weight")
        for i, (yt, yp, sw) in enumerate(zip(targets, outputs, weights, strict=True)):
            for metric in self._unweighted[i]:
                metric.update_state(yt, yp)
            for metric in self._weighted[i]:
                metric.update_state(yt, yp, sample_weight=sw)

    def reset_state(self) -> None:
        for metric in self.metrics:
            metric.reset_state()

    def result(self) -> dict[str, Tensor]:
        return {metric.name: metric.result() for metric in self.metrics}


def _metric_lists(given: Any, names: list[str], what: str) -> list[list[Any]]:
    """The metrics of each output: a dict by output name or a list of lists (one per
    output), else one list (or one metric) for every output (Keras 2)."""
    per_output_lists = isinstance(given, dict) or (
        len(names) > 1
        and isinstance(given, list | tuple)
        and all(isinstance(g, list | tuple) or g is None for g in given)
    )
    entries = per_output(given, names, what) if per_output_lists else [given] * len(names)
    lists = []
    for entry in entries:
        if entry is None:
            lists.append([])
        else:
            lists.append(list(entry) if isinstance(entry, list | tuple) else [entry])
    return lists


def _metric(identifier: Any, loss: Any, y_true: Any, y_pred: Tensor) -> Any:
    """A new metric object (one per output, each with its own state)."""
    from emberlite.trainer import metrics

    metric = metrics.get(identifier)
    if isinstance(metric, metrics.DeferredMetric):
        return metric.resolve(loss, np.shape(y_true), y_pred.shape)
    if isinstance(metric, metrics.Metric):
        return metric
    if callable(metric):
        return metrics.MeanMetricWrapper(metric)
    raise CompileError(f"could not interpret metric {identifier!r}")

"""Callbacks: code that `fit`, `evaluate` and `predict` call at fixed points, as Keras's.

A callback overrides any of the hooks below; `self.model` is the model being trained and
`self.params` holds {"verbose", "epochs", "steps"} of the run.  Logs are dicts of Python
floats: running means of the loss and metrics over the epoch so far ("val_" ones at
`on_epoch_end` when validating).  A callback may add to the epoch logs (callbacks that come
later, History last, see the addition) and may set `model.stop_training = True`.

    fit:      on_train_begin, then per epoch: on_epoch_begin, per batch on_train_batch_begin /
              on_train_batch_end, validation (on_test_* hooks), on_epoch_end; on_train_end
    evaluate: on_test_begin, on_test_batch_begin / _end per batch, on_test_end
    predict:  on_predict_begin, on_predict_batch_begin / _end ({"outputs": ...}), on_predict_end
"""

from __future__ import annotations

import csv
import inspect
import math
import os
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from emberlite.errors import EmberliteError
from emberlite.trainer.progbar import Progbar, resolve_verbose

Logs = dict[str, float] | None


class CallbackError(EmberliteError, ValueError):
    """A callback was set up wrongly; the message names the callback and the argument."""


class Callback:
    """Base class of callbacks: every hook does nothing."""

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}
        self._model: Any = None

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params

    def set_model(self, model: Any) -> None:
        self._model = model

    @property
    def model(self) -> Any:
        return self._model

    def on_train_begin(self, logs: Logs = None) -> None: ...
    def on_train_end(self, logs: Logs = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None: ...
    def on_test_begin(self, logs: Logs = None) -> None: ...
    def on_test_end(self, logs: Logs = None) -> None: ...
    def on_predict_begin(self, logs: Logs = None) -> None: ...
    def on_predict_end(self, logs: Logs = None) -> None: ...
    def on_batch_begin(self, batch: int, logs: Logs = None) -> None: ...
    def on_batch_end(self, batch: int, logs: Logs = None) -> None: ...
    def on_test_batch_begin(self, batch: int, logs: Logs = None) -> None: ...
    def on_test_batch_end(self, batch: int, logs: Logs = None) -> None: ...
    def on_predict_batch_begin(self, batch: int, logs: Logs = None) -> None: ...
    def on_predict_batch_end(self, batch: int, logs: Logs = None) -> None: ...

    # Keras 2's on_batch_* are the training batch hooks
    def on_train_batch_begin(self, batch: int, logs: Logs = None) -> None:
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch: int, logs: Logs = None) -> None:
        self.on_batch_end(batch, logs)


HOOKS = tuple(
    name for name, _ in inspect.getmembers(Callback, inspect.isfunction) if name.startswith("on_")
)


class CallbackList(Callback):
    """Calls every hook on each of `callbacks` in order; adds a History (last but the
    progress bar) and a ProgbarLogger (last) when asked and not given."""

    def __init__(
        self,
        callbacks: Iterable[Callback] | None = None,
        add_history: bool = False,
        add_progbar: bool = False,
        model: Any = None,
        **params: Any,
    ):
        super().__init__()
        self.callbacks = list(callbacks or [])
        for i, callback in enumerate(self.callbacks):
            if not isinstance(callback, Callback):
                raise CallbackError(
                    f"callbacks[{i}] is a {type(callback).__name__}, not a Callback"
                )
        if add_history and not any(isinstance(c, History) for c in self.callbacks):
            self.callbacks.append(History())
        if add_progbar and not any(isinstance(c, ProgbarLogger) for c in self.callbacks):
            self.callbacks.append(ProgbarLogger())
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)

    def append(self, callback: Callback) -> None:
        self.callbacks.append(callback)

    def set_params(self, params: dict[str, Any]) -> None:
        super().set_params(params)
        for callback in self.callbacks:
            callback.set_params(params)

    def set_model(self, model: Any) -> None:
        super().set_model(model)
        for callback in self.callbacks:
            callback.set_model(model)

    def __iter__(self):
        return iter(self.callbacks)


def _fan_out(hook: str) -> Callable[..., None]:
    def call(self: CallbackList, *args: Any) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(*args)

    call.__name__ = hook
    return call


for _hook in HOOKS:
    setattr(CallbackList, _hook, _fan_out(_hook))


class History(Callback):
    """Records the epoch logs: `history` {name: [value per epoch]}, `epoch` [indices].
    `fit` returns it (also `model.history`)."""

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs: Logs = None) -> None:
        self.epoch = []

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        self.epoch.append(epoch)
        for name, value in (logs or {}).items():
            self.history.setdefault(name, []).append(value)
        self.model.history = self


class ProgbarLogger(Callback):
    """Prints the progress bar of each epoch (and of evaluate / predict run alone)."""

    def __init__(self) -> None:
        super().__init__()
        self.progbar: Progbar | None = None
        self.seen = 0
        self._called_in_fit = False

    def on_train_begin(self, logs: Logs = None) -> None:
        self._called_in_fit = True

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        self._start()
        epochs = self.params.get("epochs", 1)
        if self._verbose and epochs > 1:
            print(f"Epoch {epoch + 1}/{epochs}")

    def on_train_batch_end(self, batch: int, logs: Logs = None) -> None:
        self._update(batch, logs)

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        self._finish(logs)

    def on_test_begin(self, logs: Logs = None) -> None:
        if not self._called_in_fit:
            self._start()

    def on_test_batch_end(self, batch: int, logs: Logs = None) -> None:
        if not self._called_in_fit:
            self._update(batch, logs)

    def on_test_end(self, logs: Logs = None) -> None:
        if not self._called_in_fit:
            self._finish(logs)

    def on_predict_begin(self, logs: Logs = None) -> None:
        self._start()

    def on_predict_batch_end(self, batch: int, logs: Logs = None) -> None:
        self._update(batch, None)

    def on_predict_end(self, logs: Logs = None) -> None:
        self._finish(None)

    @property
    def _verbose(self) -> int:
        return resolve_verbose(self.params.get("verbose", 1))

    def _start(self) -> None:
        self.seen = 0
        self.progbar = Progbar(self.params.get("steps"), verbose=self._verbose)

    def _show(self, current: int, logs: Logs, finalize: bool) -> None:
        logs = logs or {}
        self.progbar.stateful_metrics.update(logs)  # logs are running means already
        self.progbar.update(current, list(logs.items()), finalize=finalize)

    def _update(self, batch: int, logs: Logs) -> None:
        self.seen = batch + 1
        if self._verbose == 1:
            self._show(self.seen, logs, finalize=False)

    def _finish(self, logs: Logs) -> None:
        if self.progbar.target is None:
            self.progbar.target = self.seen
        self._show(self.progbar.target, logs, finalize=True)


# -- watching a metric ----------------------------------------------------------------------------


_UP = ("acc", "auc", "precision", "recall")  # names of metrics that go up when better


def _check_mode(callback: str, mode: str) -> None:
    if mode not in ("auto", "min", "max"):
        raise CallbackError(f"{callback}: mode must be 'auto', 'min' or 'max', got {mode!r}")


def _improvement(
    mode: str, monitor: str, model: Any, min_delta: float = 0.0
) -> Callable[[float, float | None], bool]:
    """`improves(value, best)` of `monitor`: beyond `best` (None: nothing yet) by more than
    `min_delta`.  mode "auto" maximizes what the metric object says goes up (its
    `_direction`), else accuracies, AUCs, precisions and recalls; it minimizes the rest."""
    if mode == "auto":
        name = monitor.removeprefix("val_")
        metrics = [m for m in getattr(model, "metrics", None) or [] if m.name == name]
        direction = getattr(metrics[0], "_direction", None) if metrics else None
        if direction is None:
            direction = "up" if any(word in name for word in _UP) else "down"
        mode = "max" if direction == "up" else "min"
    if mode == "max":
        return lambda value, best: best is None or value > best + min_delta
    return lambda value, best: best is None or value < best - min_delta


def _monitored(callback: str, monitor: str, logs: Logs) -> float | None:
    value = (logs or {}).get(monitor)
    if value is None:
        warnings.warn(
            f"{callback} is conditioned on metric {monitor!r}, which is not available; "
            f"available metrics are: {', '.join(logs or {}) or 'none'}",
            stacklevel=3,
        )
    return value


def _learning_rate(model: Any, callback: str) -> float:
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not hasattr(optimizer, "learning_rate"):
        raise CallbackError(f"{callback}: the model's optimizer has no learning_rate")
    return float(optimizer.learning_rate)


class EarlyStopping(Callback):
    """Stop training when `monitor` has stopped improving for `patience` epochs.

    Args:
        monitor: the log to watch ("val_loss").
        min_delta: the least change that counts as an improvement.
        patience: epochs without improvement before stopping.
        verbose: 1 prints when it stops and restores.
        mode: "min", "max", or "auto" (from the metric's name).
        baseline: training stops unless the value improves on this within `patience` epochs.
        restore_best_weights: at the end, go back to the weights of the best epoch.
        start_from_epoch: epochs to wait before watching (warm-up).
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 0,
        verbose: int = 0,
        mode: str = "auto",
        baseline: float | None = None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
    ):
        super().__init__()
        self.monitor, self.mode = monitor, mode
        self.min_delta = abs(min_delta)
        self.patience, self.verbose = patience, verbose
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        _check_mode("EarlyStopping", mode)

    def on_train_begin(self, logs: Logs = None) -> None:
        self._improves = _improvement(self.mode, self.monitor, self.model, self.min_delta)
        self.wait = 0
        self.stopped_epoch = 0
        self.best: float | None = None
        self.best_weights: list[np.ndarray] | None = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        current = _monitored("EarlyStopping", self.monitor, logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights, self.best_epoch = self.model.get_weights(), epoch
        self.wait += 1
        if self._improves(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._improves(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: Logs = None) -> None:
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(
                    "Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}."
                )
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(Callback):
    """Save the model (`model.save`, a bundle directory) or its weights (`save_weights`)
    every epoch or every `save_freq` batches.

    Args:
        filepath: where; formatted with the epoch and the logs, e.g.
            "ckpt/{epoch:02d}-{val_loss:.2f}" ("{batch}" too when saving per batch).
        monitor, mode: the log that decides the best model, and whether lower is better.
        verbose: 1 prints each save.
        save_best_only: save only when `monitor` improves.
        save_weights_only: `model.save_weights(path)` instead of `model.save(path)`.
        save_freq: "epoch", or an int: every that many batches.
        initial_value_threshold: the value to beat first (save_best_only).
    """

    def __init__(
        self,
        filepath: str | os.PathLike,
        monitor: str = "val_loss",
        verbose: int = 0,
        save_best_only: bool = False,
        save_weights_only: bool = False,
        mode: str = "auto",
        save_freq: str | int = "epoch",
        initial_value_threshold: float | None = None,
    ):
        super().__init__()
        if save_freq != "epoch" and not (isinstance(save_freq, int) and save_freq > 0):
            raise CallbackError(
                "ModelCheckpoint: save_freq must be 'epoch' or a positive integer, got "
                f"{save_freq!r}"
            )
        self.filepath = os.fspath(filepath)
        self.monitor, self.mode, self.verbose = monitor, mode, verbose
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        self.save_freq = save_freq
        self.best = initial_value_threshold
        _check_mode("ModelCheckpoint", mode)
        self._epoch = 0
        self._batches_since_save = 0

    def on_train_begin(self, logs: Logs = None) -> None:
        self._improves = _improvement(self.mode, self.monitor, self.model)

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: Logs = None) -> None:
        if self.save_freq == "epoch":
            return
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._epoch, batch, logs)

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        if self.save_freq == "epoch":
            self._save(epoch, None, logs)

    def _save(self, epoch: int, batch: int | None, logs: Logs) -> None:
        logs = logs or {}
        path = self._path(epoch, batch, logs)
        if self.save_best_only:
            current = _monitored("ModelCheckpoint", self.monitor, logs)
            if current is None:
                return
            if not self._improves(current, self.best):
                if self.verbose > 0:
                    print(
                        f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}"
                    )
                return
            if self.verbose > 0:
                was = "inf" if self.best is None else f"{self.best:.5f}"
                print(
                    f"\nEpoch {epoch + 1}: {self.monitor} improved from {was} to "
                    f"{current:.5f}, saving model to {path}"
                )
            self.best = current
        elif self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)

    def _path(self, epoch: int, batch: int | None, logs: dict[str, float]) -> str:
        fields = dict(logs, epoch=epoch + 1)
        if batch is not None:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(**fields)
        except KeyError as e:
            raise CallbackError(
                f"ModelCheckpoint: filepath {self.filepath!r} names {e}, which is not among the "
                f"logs ({', '.join(fields)})"
            ) from None


class LearningRateScheduler(Callback):
    """Set the optimizer's learning rate at each epoch's start to `schedule(epoch, lr)`
    (or `schedule(epoch)`), epoch counted from 0; the epoch logs get "learning_rate"."""

    def __init__(self, schedule: Callable[..., float], verbose: int = 0):
        super().__init__()
        self.schedule, self.verbose = schedule, verbose
        try:
            parameters = inspect.signature(schedule).parameters.values()
            self._takes_rate = len(parameters) >= 2 or any(
                p.kind == p.VAR_POSITIONAL for p in parameters
            )
        except (TypeError, ValueError):  # no signature (a builtin): the Keras 3 form
            self._takes_rate = True

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        rate = _learning_rate(self.model, "LearningRateScheduler")
        new = self.schedule(epoch, rate) if self._takes_rate else self.schedule(epoch)
        if isinstance(new, bool) or not isinstance(new, int | float | np.floating | np.integer):
            raise CallbackError(
                f"LearningRateScheduler: the schedule must return a number, got {new!r} at "
                f"epoch {epoch}"
            )
        self.model.optimizer.learning_rate = float(new)
        if self.verbose > 0:
            print(
                f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {float(new)}."
            )

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        if logs is not None:
            logs["learning_rate"] = _learning_rate(self.model, "LearningRateScheduler")


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by `factor` when `monitor` has not improved (by more than
    `min_delta`) for `patience` epochs; then wait `cooldown` epochs; never below `min_lr`.
    The epoch logs get "learning_rate"."""

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        verbose: int = 0,
        mode: str = "auto",
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
    ):
        super().__init__()
        if factor >= 1.0:
            raise CallbackError(f"ReduceLROnPlateau: factor must be < 1.0, got {factor!r}")
        self.monitor, self.factor, self.patience = monitor, factor, patience
        self.verbose, self.mode, self.min_delta = verbose, mode, min_delta
        self.cooldown, self.min_lr = cooldown, min_lr
        _check_mode("ReduceLROnPlateau", mode)

    def on_train_begin(self, logs: Logs = None) -> None:
        self._improves = _improvement(self.mode, self.monitor, self.model, self.min_delta)
        self.best: float | None = None
        self.wait = 0
        self.cooldown_counter = 0

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        rate = _learning_rate(self.model, "ReduceLROnPlateau")
        if logs is not None:
            logs["learning_rate"] = rate
        current = _monitored("ReduceLROnPlateau", self.monitor, logs)
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improves(current, self.best):
            self.best, self.wait = current, 0
            return
        if self.cooldown_counter > 0:
            return
        self.wait += 1
        if self.wait >= self.patience and rate > np.float32(self.min_lr):
            new = max(rate * self.factor, self.min_lr)
            self.model.optimizer.learning_rate = new
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")
            self.cooldown_counter, self.wait = self.cooldown, 0


class CSVLogger(Callback):
    """Write the epoch logs to a CSV file: a header ("epoch" and the log names, sorted),
    then a row per epoch ("NA" for a missing value); `append` continues an existing file."""

    def __init__(self, filename: str | os.PathLike, separator: str = ",", append: bool = False):
        super().__init__()
        self.filename, self.sep, self.append = os.fspath(filename), separator, append
        self.keys: list[str] | None = None
        self._file: Any = None
        self._writer: csv.DictWriter | None = None

    def on_train_begin(self, logs: Logs = None) -> None:
        self._header = not (self.append and os.path.exists(self.filename))
        if not self._header:
            with open(self.filename, encoding="utf-8") as f:
                self._header = not f.readline()
        self._file = open(self.filename, "a" if self.append else "w", newline="", encoding="utf-8")  # noqa: SIM115
        self.keys, self._writer = None, None

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.params.get("do_validation") and not any(k.startswith("val_") for k in logs):
                self.keys += [f"val_{k}" for k in self.keys]  # validation_freq > 1
            self._writer = csv.DictWriter(
                self._file, fieldnames=["epoch", *self.keys], delimiter=self.sep
            )
            if self._header:
                self._writer.writeheader()
        self._writer.writerow({"epoch": epoch, **{k: logs.get(k, "NA") for k in self.keys}})
        self._file.flush()

    def on_train_end(self, logs: Logs = None) -> None:
        self._file.close()
        self._writer = None


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch's loss is NaN or infinite."""

    def on_batch_end(self, batch: int, logs: Logs = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback of functions: `LambdaCallback(on_epoch_end=lambda epoch, logs: ...)`; any
    hook by its name."""

    def __init__(self, **hooks: Callable[..., Any]):
        super().__init__()
        unknown = sorted(set(hooks) - set(HOOKS))
        if unknown:
            raise CallbackError(
                f"LambdaCallback: unknown hook(s) {', '.join(unknown)}; the hooks are "
                f"{', '.join(HOOKS)}"
            )
        for name, fn in hooks.items():
            if fn is not None:
                setattr(self, name, fn)

"""`Trainer`: compile / fit / evaluate / predict, the part of `Model` that trains (Keras 3).

    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=5, validation_split=0.1)
    loss, accuracy = model.evaluate(x_test, y_test)

One training step is `train_step(data)`: forward with `training=True`, `compute_loss` (the
compiled loss plus the layers' `losses`), gradients of the trainable weights, the
optimizer's update, the metrics; it returns the metrics' results.  Override it (or
`test_step`, `predict_step`) to train differently inside `fit`, as in Keras.  Unless
`run_eagerly`, each step is an `emberlite.function`: traced once per batch signature (the
last, smaller batch traces once more) and replayed after, so the step must keep to ops and
`Variable.assign` (no Python `if` on tensor values).

Metrics are running means over the epoch: the "loss" tracker first, then each output's loss
with several outputs, then the compiled metrics.  Logs (what callbacks and `evaluate(...,
return_dict=True)` get) are those results as Python floats, sorted by name as Keras 3's.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import numpy as np

from emberlite.errors import EmberliteError
from emberlite.trainer.autodiff import GradientTape, _flatten, _restructure
from emberlite.trainer.callbacks import CallbackList, History
from emberlite.trainer.compile_utils import CompileLoss, CompileMetrics, output_names, samples_in
from emberlite.trainer.data_adapter import (
    EpochIterator,
    make_batch,
    train_validation_split,
    unpack_x_y_sample_weight,
)
from emberlite.trainer.progbar import resolve_verbose
from emberlite.trainer.tensor import Tensor


class TrainingError(EmberliteError, ValueError):
    """fit / evaluate / predict cannot run as asked; the message names the model and why."""


class Trainer:
    """The training half of `Model` (a mixin: `Model` inherits it with `Layer`)."""

    def __init__(self) -> None:
        self.compiled = False
        self.optimizer: Any = None
        self.loss: Any = None
        self.stop_training = False
        self.history: History | None = None
        self._run_eagerly = False
        self._compile_config: dict[str, Any] | None = None
        self._compile_loss: CompileLoss | None = None  # also for regularization alone
        self._compile_metrics: CompileMetrics | None = None
        self._loss_tracker: Any = None
        self._reset_functions()

    def _reset_functions(self) -> None:
        self.train_function = self.test_function = self.predict_function = None

    # -- compile ---------------------------------------------------------------------------------

    def compile(
        self,
        optimizer: Any = "rmsprop",
        loss: Any = None,
        metrics: Any = None,
        loss_weights: Any = None,
        weighted_metrics: Any = None,
        run_eagerly: bool = False,
        jit_compile: Any = "auto",
        auto_scale_loss: bool = True,
    ) -> None:
        """Set up training: the optimizer, the loss (one for all outputs, a list, or a dict
        by output name), metrics, loss weights and weighted metrics (the same forms; strings
        as `get` resolves them, "accuracy" from the loss and shapes at the first batch).
        The arguments are in tf.keras's order (Keras 3 puts loss_weights before metrics).
        Under the "mixed_float16" policy the optimizer is wrapped in a LossScaleOptimizer
        (unless `auto_scale_loss=False`).  `jit_compile` is accepted and ignored (no XLA)."""
        from emberlite.trainer import metrics as metrics_module
        from emberlite.trainer import optimizers

        del jit_compile
        self._compile_config = {
            "optimizer": optimizer,
            "loss": loss,
            "loss_weights": loss_weights,
            "metrics": metrics,
            "weighted_metrics": weighted_metrics,
        }
        optimizer = optimizers.get(optimizer)
        scaled = isinstance(optimizer, optimizers.LossScaleOptimizer)
        if auto_scale_loss and self.dtype_policy.name == "mixed_float16" and not scaled:
            optimizer = optimizers.LossScaleOptimizer(optimizer)
        self.optimizer = optimizer
        self.loss = loss
        name_outputs = functools.partial(output_names, self)
        self._compile_loss = CompileLoss(loss, loss_weights, name_outputs)
        self._compile_metrics = CompileMetrics(
            metrics, weighted_metrics, name_outputs, self._compile_loss
        )
        self._loss_tracker = metrics_module.Mean(name="loss")
        self.run_eagerly = run_eagerly
        self.stop_training = False
        self.compiled = True

    @property
    def run_eagerly(self) -> bool:
        """Run the steps as plain Python (for debugging) instead of traced functions."""
        return self._run_eagerly

    @run_eagerly.setter
    def run_eagerly(self, value: bool) -> None:
        self._run_eagerly = bool(value)
        self._reset_functions()

    def get_compile_config(self) -> dict[str, Any] | None:
        """compile()'s arguments, serialized (what a bundle stores)."""
        if not self.compiled:
            return None
        config = {}
        for name, value in self._compile_config.items():
            codec = _codec(name)
            config[name] = value if codec is None else _serialized(value, codec[0])
        return config

    def compile_from_config(self, config: dict[str, Any]) -> None:
        """compile() again with the arguments `get_compile_config` gave."""
        arguments = {}
        for name, value in config.items():
            codec = _codec(name)
            arguments[name] = value if codec is None else _rebuild(value, codec[1])
        self.compile(**arguments)

    def _assert_compiled(self, method: str) -> None:
        if not self.compiled:
            raise TrainingError(
                f"model {self.name!r}: you must call compile() before calling {method}()"
            )

    # -- metrics ---------------------------------------------------------------------------------

    @property
    def metrics(self) -> list[Any]:
        """The "loss" tracker, each output's loss tracker, then the compiled metrics (these
        exist from the first batch on)."""
        if not self.compiled:
            return []
        return [self._loss_tracker, *self._compile_loss.metrics, *self._compile_metrics.metrics]

    @property
    def metrics_names(self) -> list[str]:
        return [m.name for m in self.metrics]

    def reset_metrics(self) -> None:
        for metric in self.metrics:
            metric.reset_state()

    def get_metrics_result(self) -> dict[str, Tensor]:
        """{name: result} of every metric (tensors: also inside a step)."""
        return {metric.name: metric.result() for metric in self.metrics}

    @property
    def compiled_metrics(self) -> CompileMetrics | None:
        """TF2's: the compiled metrics, for custom train steps (`update_state(y, y_pred)`)."""
        return self._compile_metrics

    # -- steps -----------------------------------------------------------------------------------

    def compute_loss(
        self,
        x: Any = None,
        y: Any = None,
        y_pred: Any = None,
        sample_weight: Any = None,
        training: bool = True,
    ) -> Tensor:
        """The loss to minimize: the compiled loss of (y, y_pred) plus `self.losses`
        (regularization, `add_loss`), in float32."""
        del x, training  # Keras's signature: overrides may use them
        return self._total_loss(y, y_pred, sample_weight, self.losses)

    def compiled_loss(
        self, y: Any, y_pred: Any, sample_weight: Any = None, regularization_losses: Any = None
    ) -> Tensor:
        """TF2's: the compiled loss plus `regularization_losses`, also counted in the "loss"
        metric (Keras 3's `compute_loss` leaves that to the step)."""
        loss = self._total_loss(y, y_pred, sample_weight, regularization_losses or [])
        self._loss_tracker.update_state(loss, sample_weight=samples_in(y_pred))
        return loss

    def _total_loss(self, y: Any, y_pred: Any, sample_weight: Any, extra: list) -> Tensor:
        total = self._compile_loss(y, y_pred, sample_weight, regularization_losses=extra)
        if total is None:
            raise TrainingError(
                f"model {self.name!r} has no loss to minimize: pass loss= to compile() (or "
                "add losses in layers with add_loss)"
            )
        return total

    def compute_metrics(
        self, x: Any, y: Any, y_pred: Any, sample_weight: Any = None
    ) -> dict[str, Tensor]:
        """Update the compiled metrics with a batch; every metric's result."""
        del x
        self._compile_metrics.update_state(y, y_pred, sample_weight)
        return self.get_metrics_result()

    def train_step(self, data: Any) -> dict[str, Tensor]:
        """One step of training on a batch `(x,)`, `(x, y)` or `(x, y, sample_weight)`."""
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        with GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x, y, y_pred, sample_weight, training=True)
            scaled = self.optimizer.scale_loss(loss)
        self._loss_tracker.update_state(loss, sample_weight=samples_in(y_pred))
        variables = self.trainable_weights
        if variables:
            gradients = tape.gradient(scaled, variables)
            self.optimizer.apply_gradients(zip(gradients, variables, strict=True))
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def test_step(self, data: Any) -> dict[str, Tensor]:
        """The loss and metrics of a batch, with `training=False`."""
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        y_pred = self(x, training=False)
        loss = self.compute_loss(x, y, y_pred, sample_weight, training=False)
        self._loss_tracker.update_state(loss, sample_weight=samples_in(y_pred))
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def predict_step(self, data: Any) -> Any:
        """The model's outputs for a batch, with `training=False`."""
        x, _, _ = unpack_x_y_sample_weight(data)
        return self(x, training=False)

    def make_train_function(self, force: bool = False) -> Any:
        if self.train_function is None or force:
            self.train_function = self._stepper(self.train_step)
        return self.train_function

    def make_test_function(self, force: bool = False) -> Any:
        if self.test_function is None or force:
            self.test_function = self._stepper(self.test_step)
        return self.test_function

    def make_predict_function(self, force: bool = False) -> Any:
        if self.predict_function is None or force:
            self.predict_function = self._stepper(self.predict_step)
        return self.predict_function

    def _stepper(self, step: Any) -> Any:
        from emberlite.trainer.function import function

        return step if self.run_eagerly else function(step)

    # -- fit -------------------------------------------------------------------------------------

    def fit(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        epochs: int = 1,
        verbose: Any = "auto",
        callbacks: Any = None,
        validation_split: float = 0.0,
        validation_data: Any = None,
        shuffle: bool = True,
        class_weight: dict[int, float] | None = None,
        sample_weight: Any = None,
        initial_epoch: int = 0,
        steps_per_epoch: int | None = None,
        validation_steps: int | None = None,
        validation_batch_size: int | None = None,
        validation_freq: int | list[int] = 1,
    ) -> History:
        """Train for `epochs` epochs (from `initial_epoch`); the History of the epoch logs.

        x, y, sample_weight: arrays / tensors (lists or dicts of them for several inputs or
        outputs), or x a generator, iterable or Sequence of `(x, y[, sample_weight])`
        batches (see `data_adapter`).  validation_split: the last fraction of the arrays
        (before shuffling) is held out; validation_data: `(x, y[, sample_weight])` or
        batches, evaluated every `validation_freq` epochs (an int, or a list of epochs
        counted from 1) into "val_" logs.  class_weight: {class index: weight}.
        """
        self._assert_compiled("fit")
        if validation_split and validation_data is None:
            (x, y, sample_weight), validation_data = train_validation_split(
                (x, y, sample_weight), validation_split
            )
        train = EpochIterator(
            x, y, sample_weight, batch_size, steps_per_epoch, bool(shuffle), class_weight
        )
        validation = None
        if validation_data is not None:
            val_x, val_y, val_weight = unpack_x_y_sample_weight(validation_data)
            validation = EpochIterator(
                val_x, val_y, val_weight, validation_batch_size or batch_size, validation_steps
            )
        verbose = resolve_verbose(verbose)
        callbacks = CallbackList(
            callbacks,
            add_history=True,
            add_progbar=verbose != 0,
            model=self,
            verbose=verbose,
            epochs=epochs,
            steps=train.num_batches,
            do_validation=validation is not None,
        )
        history = next(c for c in callbacks if isinstance(c, History))
        self.stop_training = False
        train_function = self.make_train_function()
        callbacks.on_train_begin()
        epoch_logs: dict[str, Any] = {}
        for epoch in range(initial_epoch, epochs):
            self.reset_metrics()
            callbacks.on_epoch_begin(epoch)
            logs, steps = {}, 0
            for step, batch in train.enumerate_epoch():
                callbacks.on_train_batch_begin(step)
                logs = pythonify_logs(train_function(batch))
                steps += 1
                callbacks.on_train_batch_end(step, logs)
                if self.stop_training:
                    break
            if train.ran_out:
                _warn_ran_out(self.name)
                if not steps:
                    break
            epoch_logs = dict(logs)
            if validation is not None and _validates(epoch, validation_freq):
                val_logs = self._test_loop(validation, callbacks)
                epoch_logs.update({f"val_{name}": value for name, value in val_logs.items()})
            callbacks.on_epoch_end(epoch, epoch_logs)
            if self.stop_training or train.ran_out:
                break
        callbacks.on_train_end(epoch_logs)
        self.history = history
        return history

    # -- evaluate / predict ----------------------------------------------------------------------

    def evaluate(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        verbose: Any = "auto",
        sample_weight: Any = None,
        steps: int | None = None,
        callbacks: Any = None,
        return_dict: bool = False,
    ) -> Any:
        """The loss and metrics over the data: a float (loss only), a list in
        `metrics_names` order, or a dict with `return_dict`."""
        self._assert_compiled("evaluate")
        data = EpochIterator(x, y, sample_weight, batch_size, steps)
        logs = self._test_loop(data, self._callbacks(callbacks, verbose, data))
        return logs if return_dict else self._in_metrics_order(logs)

    def _test_loop(self, data: EpochIterator, callbacks: CallbackList) -> dict[str, Any]:
        test_function = self.make_test_function()
        callbacks.on_test_begin()
        self.reset_metrics()
        logs: dict[str, Any] = {}
        for step, batch in data.enumerate_epoch():
            callbacks.on_test_batch_begin(step)
            logs = pythonify_logs(test_function(batch))
            callbacks.on_test_batch_end(step, logs)
        callbacks.on_test_end(logs)
        return logs

    def predict(
        self,
        x: Any,
        batch_size: int | None = None,
        verbose: Any = "auto",
        steps: int | None = None,
        callbacks: Any = None,
    ) -> Any:
        """The model's outputs for `x` as NumPy arrays (batches concatenated; the model's
        output structure for several outputs)."""
        data = EpochIterator(x, batch_size=batch_size, steps_per_epoch=steps)
        callbacks = self._callbacks(callbacks, verbose, data)
        predict_function = self.make_predict_function()
        callbacks.on_predict_begin()
        outputs = []
        for step, batch in data.enumerate_epoch():
            callbacks.on_predict_batch_begin(step)
            batch_outputs = predict_function(batch)
            outputs.append([np.asarray(t) for t in _flatten(batch_outputs)])
            callbacks.on_predict_batch_end(step, {"outputs": batch_outputs})
        callbacks.on_predict_end()
        if not outputs:
            raise TrainingError(f"model {self.name!r}: predict got no batches of data")
        return _restructure(
            batch_outputs, [np.concatenate(parts) for parts in zip(*outputs, strict=True)]
        )

    def _callbacks(self, callbacks: Any, verbose: Any, data: EpochIterator) -> CallbackList:
        verbose = resolve_verbose(verbose)
        return CallbackList(
            callbacks,
            add_progbar=verbose != 0,
            model=self,
            verbose=verbose,
            epochs=1,
            steps=data.num_batches,
        )

    def _in_metrics_order(self, logs: dict[str, Any]) -> Any:
        """Keras's list form of logs: metrics_names order, then any others by name; a lone
        value as itself."""
        names = [name for name in self.metrics_names if name in logs]
        values = [logs[name] for name in names]
        values += [logs[name] for name in sorted(logs) if name not in names]
        return values[0] if len(values) == 1 else values

    # -- single batches ----------------------------------------------------------------------------

    def train_on_batch(
        self,
        x: Any,
        y: Any = None,
        sample_weight: Any = None,
        class_weight: dict[int, float] | None = None,
        return_dict: bool = False,
    ) -> Any:
        """One training step on this batch; the metrics so far (they accumulate over calls
        until `reset_metrics`, as in Keras 3)."""
        self._assert_compiled("train_on_batch")
        batch = make_batch(x, y, sample_weight, class_weight)
        logs = pythonify_logs(self.make_train_function()(batch))
        return logs if return_dict else self._in_metrics_order(logs)

    def test_on_batch(
        self, x: Any, y: Any = None, sample_weight: Any = None, return_dict: bool = False
    ) -> Any:
        """The loss and metrics with this batch added (accumulating, as train_on_batch)."""
        self._assert_compiled("test_on_batch")
        logs = pythonify_logs(self.make_test_function()(make_batch(x, y, sample_weight)))
        return logs if return_dict else self._in_metrics_order(logs)

    def predict_on_batch(self, x: Any) -> Any:
        """The model's outputs for this batch, as NumPy arrays."""
        outputs = self.make_predict_function()(make_batch(x))
        return _restructure(outputs, [np.array(t) for t in _flatten(outputs)])


# -- helpers ------------------------------------------------------------------------------------


def pythonify_logs(logs: Any) -> dict[str, Any]:
    """A step's logs as Python floats (arrays stay arrays), sorted by name (Keras 3)."""
    if not isinstance(logs, dict):
        raise TrainingError(
            f"a train/test step must return a dict of logs, got a {type(logs).__name__}"
        )
    out = {}
    for name in sorted(logs):
        value = np.asarray(logs[name])
        out[name] = float(value) if value.size == 1 else value
    return out


def _validates(epoch: int, validation_freq: int | list[int]) -> bool:
    if isinstance(validation_freq, int):
        return (epoch + 1) % validation_freq == 0
    return epoch + 1 in validation_freq


def _warn_ran_out(model: str) -> None:
    warnings.warn(
        f"model {model!r}: the input ran out of data; training stops. Make sure the "
        "generator can give at least steps_per_epoch * epochs batches",
        stacklevel=3,
    )


def _codec(argument: str) -> tuple[Any, Any] | None:
    """(serialize, deserialize) of a compile argument's objects; None: plain values."""
    from emberlite.trainer import losses, metrics, optimizers

    module = {
        "optimizer": optimizers,
        "loss": losses,
        "metrics": metrics,
        "weighted_metrics": metrics,
    }.get(argument)
    return None if module is None else (module.serialize, module.deserialize)


def _rebuild(value: Any, deserialize: Any) -> Any:
    """A compile argument from its config: objects deserialized, names kept."""
    if isinstance(value, dict) and "class_name" in value:
        return deserialize(value)
    if isinstance(value, dict):
        return {k: _rebuild(v, deserialize) for k, v in value.items()}
    if isinstance(value, list):
        return [_rebuild(v, deserialize) for v in value]
    return value


def _serialized(value: Any, serialize: Any) -> Any:
    """`value` (nested lists and dicts) with its objects serialized; names kept."""
    if isinstance(value, dict):
        return {k: _serialized(v, serialize) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_serialized(v, serialize) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return serialize(value)

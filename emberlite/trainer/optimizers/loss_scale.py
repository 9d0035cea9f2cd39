"""`LossScaleOptimizer`: loss scaling for float16 training (Keras 3's, with TF2's names too).

    scaled = optimizer.scale_loss(loss)                 # TF2: get_scaled_loss
    grads = tape.gradient(scaled, variables)
    optimizer.apply_gradients(zip(grads, variables))    # unscales; steps if all are finite

A traced step must decide on every replay whether the gradients were finite, so there is no
Python branch: the inner optimizer steps on the unscaled gradients (zeros where they are not
finite, so no inf/NaN arithmetic happens), then every Variable it touched (the variables,
their slots, `iterations`) is assigned `where(finite, new, old)`.  The scale halves (not
below 1, as TF2) on a non-finite step and doubles after `dynamic_growth_steps` finite steps
in a row.  With `dynamic=False` the scale stays fixed and every step is applied (as TF2).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import numpy as np

from emberlite.trainer import serialization
from emberlite.trainer.ops.math_ops import abs as absolute
from emberlite.trainer.ops.math_ops import (
    greater_equal,
    less,
    logical_and,
    maximum,
    reduce_max,
    where,
)
from emberlite.trainer.optimizers.base import Optimizer, OptimizerError, _in_dtype
from emberlite.trainer.serialization import register_serializable
from emberlite.trainer.tensor import Tensor, Variable, constant, convert_to_tensor


@register_serializable()
class LossScaleOptimizer(Optimizer):
    """Wraps `inner_optimizer`: scales the loss up, the gradients back down, and skips the
    steps whose gradients overflowed (see the module docstring)."""

    # NOTE: Optimizer.__init__ is not called: the state (iterations, learning rate, slots)
    # is the inner optimizer's, which the properties below hand through.
    def __init__(
        self,
        inner_optimizer: Optimizer,
        dynamic: bool = True,
        initial_scale: float = 2.0**15,
        dynamic_growth_steps: int = 2000,
        name: str = "loss_scale_optimizer",
    ):
        if not isinstance(inner_optimizer, Optimizer):
            raise OptimizerError(
                f"{name}: inner_optimizer must be an Optimizer, got "
                f"{type(inner_optimizer).__name__}"
            )
        if isinstance(inner_optimizer, LossScaleOptimizer):
            raise OptimizerError(f"{name}: cannot wrap another LossScaleOptimizer")
        if not initial_scale > 0:
            raise OptimizerError(f"{name}: initial_scale must be > 0, got {initial_scale!r}")
        if not dynamic_growth_steps >= 1:
            raise OptimizerError(
                f"{name}: dynamic_growth_steps must be >= 1, got {dynamic_growth_steps!r}"
            )
        self.name = name
        self.inner_optimizer = inner_optimizer
        self.dynamic = dynamic
        self.initial_scale = initial_scale
        self.dynamic_growth_steps = dynamic_growth_steps
        self._names: set[str] = set()
        self.dynamic_scale = self._state_variable(np.float32(initial_scale), "dynamic_scale")
        self.step_counter = self._state_variable(np.int64(0), "step_counter")

    # -- the inner optimizer's state -------------------------------------------------------------

    @property
    def iterations(self) -> Variable:
        """The inner optimizer's steps: skipped steps do not count."""
        return self.inner_optimizer.iterations

    @property
    def learning_rate(self) -> Tensor:
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        self.inner_optimizer.learning_rate = value

    @property
    def loss_scale(self) -> Variable:
        """The current scale (TF2's name for `dynamic_scale`)."""
        return self.dynamic_scale

    @property
    def variables(self) -> list[Variable]:
        """The scale state (dynamic_scale, step_counter), then the inner optimizer's."""
        return [self.dynamic_scale, self.step_counter, *self.inner_optimizer.variables]

    def build(self, var_list: Iterable[Variable]) -> None:
        self.inner_optimizer.build(var_list)

    def get_slot(self, variable: Variable, slot_name: str) -> Variable:
        return self.inner_optimizer.get_slot(variable, slot_name)

    def exclude_from_weight_decay(self, var_list=None, var_names=None) -> None:
        self.inner_optimizer.exclude_from_weight_decay(var_list, var_names)

    # -- scaling ---------------------------------------------------------------------------------

    def scale_loss(self, loss: Any) -> Tensor:
        """`loss` times the current scale (Keras 3)."""
        loss = convert_to_tensor(loss)
        return loss * _in_dtype(self.dynamic_scale, loss.dtype)

    def get_scaled_loss(self, loss: Any) -> Any:
        """TF2's name: `scale_loss`, also for a zero-argument callable (returns one)."""
        if callable(loss):
            return lambda: self.scale_loss(loss())
        return self.scale_loss(loss)

    def get_unscaled_gradients(self, grads: Iterable[Any]) -> list[Any]:
        """Each gradient divided by the current scale (None stays None)."""
        return [None if g is None else self._unscale(convert_to_tensor(g)) for g in grads]

    def _unscale(self, gradient: Tensor) -> Tensor:
        return gradient / _in_dtype(self.dynamic_scale, gradient.dtype)

    # -- stepping --------------------------------------------------------------------------------

    def apply(self, grads: Iterable[Any], trainable_variables: Iterable[Variable] | None = None):
        """Unscale `grads` and step the inner optimizer with them if they are all finite."""
        inner = self.inner_optimizer
        grads, variables = inner._present(grads, trainable_variables)
        if not variables:
            return
        grads = [self._unscale(g) for g in grads]
        if not self.dynamic:
            inner.apply(grads, variables)
            return
        finite = _all_finite(grads)
        inner.build(variables)
        state = [inner.iterations, *variables, *inner._slots_of(variables)]
        before = [v.read_value() for v in state]
        inner.apply([where(finite, g, 0.0) for g in grads], variables)
        for variable, old in zip(state, before, strict=True):
            variable.assign(where(finite, variable, old))
        self._update_scale(finite)

    def _update_scale(self, finite: Tensor) -> None:
        counter = where(finite, self.step_counter + 1, 0)
        grow = greater_equal(counter, self.dynamic_growth_steps)
        scale = self.dynamic_scale
        grown = where(grow, scale * 2.0, scale)
        self.dynamic_scale.assign(where(finite, grown, maximum(scale * 0.5, 1.0)))
        self.step_counter.assign(where(grow, 0, counter))

    # -- config ----------------------------------------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        return {
            "inner_optimizer": serialization.serialize(self.inner_optimizer),
            "dynamic": self.dynamic,
            "initial_scale": self.initial_scale,
            "dynamic_growth_steps": self.dynamic_growth_steps,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LossScaleOptimizer:
        config = dict(config)
        config["inner_optimizer"] = serialization.deserialize(
            config["inner_optimizer"], what="optimizer"
        )
        return cls(**config)


def _all_finite(grads: list[Tensor]) -> Tensor:
    """Whether no gradient holds an inf or a NaN (the largest |g| is then below inf; NaN
    compares False)."""
    checks = [less(reduce_max(absolute(g)), np.inf) for g in grads if g.size]
    return functools.reduce(logical_and, checks) if checks else constant(True)

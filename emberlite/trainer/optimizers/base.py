"""`Optimizer`: what every optimizer shares, as Keras 3's `keras.optimizers.Optimizer` (with
TF2's `minimize`, `get_slot` and `gradient_transformers`).

One step, `apply_gradients(zip(grads, vars))`:

1. pairs whose gradient is None are dropped; new variables get their slots (`build`);
2. each gradient is cast to its variable's math dtype (float32, float64 for float64
   variables; slots have that dtype too);
3. clipping (clipnorm per gradient, global_clipnorm over all, or clipvalue), then each of
   `gradient_transformers` (functions from (gradient, variable) pairs to pairs);
4. per variable: decoupled weight decay (variable - variable * weight_decay * lr), then the
   optimizer's own update, assigned in the variable's own dtype;
5. `iterations` goes up by one.

It is all ops and `Variable.assign`: `emberlite.function` traces a step once and replays it,
reading the learning rate (a Variable, or a schedule of `iterations`) on every replay.

A new optimizer defines `_slots()` (the name and initial value of each slot a variable gets)
and `_update_step(gradient, variable, learning_rate)`, which assigns the slots (read them
with `get_slot`) and returns the amount to subtract from the variable.  Its constructor
arguments are kept as attributes of the same names: that is its `get_config`.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from emberlite.errors import EmberliteError
from emberlite.trainer import serialization
from emberlite.trainer.autodiff import GradientTape
from emberlite.trainer.ops.math_ops import cast, maximum, minimum, reduce_sum, sqrt, square
from emberlite.trainer.optimizers.schedules import LearningRateSchedule
from emberlite.trainer.optimizers.schedules import deserialize as deserialize_schedule
from emberlite.trainer.serialization import Serializable
from emberlite.trainer.tensor import Tensor, Variable, constant, convert_to_tensor, to_device

GradientsAndVariables = list[tuple[Tensor, Variable]]


class OptimizerError(EmberliteError, ValueError):
    """An optimizer got arguments it cannot work with; the message names the optimizer."""


class Optimizer(Serializable):
    """Base class of the optimizers (see the module docstring)."""

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        weight_decay: float | None = None,
        gradient_transformers: list[Callable[[GradientsAndVariables], Any]] | None = None,
        name: str = "optimizer",
    ):
        self.name = name
        clips = {"clipnorm": clipnorm, "clipvalue": clipvalue, "global_clipnorm": global_clipnorm}
        given = [arg for arg, value in clips.items() if value is not None]
        if len(given) > 1:
            raise OptimizerError(
                f"{name}: only one of clipnorm, clipvalue and global_clipnorm can be set, got "
                + ", ".join(f"{arg}={clips[arg]!r}" for arg in given)
            )
        for arg in given:
            if not clips[arg] > 0:
                raise OptimizerError(f"{name}: {arg} must be > 0, got {clips[arg]!r}")
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self.weight_decay = weight_decay
        self.gradient_transformers = list(gradient_transformers or [])
        self._names: set[str] = set()
        self._iterations = self._state_variable(np.int64(0), "iterations")
        if isinstance(learning_rate, LearningRateSchedule):
            self._learning_rate: LearningRateSchedule | Variable = learning_rate
        else:
            rate = np.float32(self._rate(learning_rate))
            self._learning_rate = self._state_variable(rate, "learning_rate")
        self._built_variables: list[Variable] = []
        self._slot_variables: dict[int, dict[str, Variable]] = {}  # id(variable) -> its slots
        self._excluded: dict[int, Variable] = {}  # from weight decay
        self._excluded_patterns: tuple[str, ...] = ()

    # -- what subclasses define ------------------------------------------------------------------

    def _slots(self) -> dict[str, float]:
        """Name -> initial value of the slots each variable gets, in order."""
        return {}

    def _update_step(self, gradient: Tensor, variable: Variable, learning_rate: Tensor) -> Tensor:
        """Assign the slots of `variable`; the amount to subtract from it.  `gradient` and
        `learning_rate` come in the variable's math dtype (that of its slots)."""
        raise NotImplementedError(f"{type(self).__name__} must define _update_step")

    # -- state -----------------------------------------------------------------------------------

    @property
    def iterations(self) -> Variable:
        """The number of steps taken (an int64 Variable)."""
        return self._iterations

    @property
    def learning_rate(self) -> Tensor:
        """The rate of the next step: the Variable holding it, or the schedule's value at
        `iterations`.  Set it to a number between steps (not under a schedule)."""
        if isinstance(self._learning_rate, LearningRateSchedule):
            return _in_dtype(self._learning_rate(self._iterations), np.float32)
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        if isinstance(self._learning_rate, LearningRateSchedule):
            raise OptimizerError(
                f"{self.name}: its learning rate comes from a "
                f"{type(self._learning_rate).__name__} schedule, so it cannot be set; create "
                "the optimizer with a float learning_rate to set it"
            )
        if isinstance(value, LearningRateSchedule):
            raise OptimizerError(
                f"{self.name}: a learning rate schedule can only be given to the constructor"
            )
        if isinstance(value, Tensor):
            self._learning_rate.assign(cast(value, np.float32))
        else:
            self._learning_rate.assign(np.float32(self._rate(value)))

    @property
    def variables(self) -> list[Variable]:
        """Every state Variable: iterations, the learning rate (unless a schedule gives it),
        then each built variable's slots, in the order the variables were built."""
        state = [self._iterations]
        if isinstance(self._learning_rate, Variable):
            state.append(self._learning_rate)
        return state + self._slots_of(self._built_variables)

    def build(self, var_list: Iterable[Variable]) -> None:
        """Create the slots of the variables in `var_list` that have none yet (no step)."""
        for variable in self._checked(var_list):
            if id(variable) in self._slot_variables:
                continue
            dtype, device = _math_dtype(variable), variable.device
            self._slot_variables[id(variable)] = {
                slot: self._state_variable(
                    np.full(variable.shape, initial, dtype), f"{slot}/{variable.name}", device
                )
                for slot, initial in self._slots().items()
            }
            self._built_variables.append(variable)

    def get_slot(self, variable: Variable, slot_name: str) -> Variable:
        """The slot `slot_name` ("m", "momentum", ...) of `variable`."""
        slots = self._slot_variables.get(id(variable))
        if slots is None or slot_name not in slots:
            known = ", ".join(self._slots()) or "none"
            raise OptimizerError(
                f"{self.name}: no slot {slot_name!r} for variable "
                f"{getattr(variable, 'name', variable)!r} (slots: {known}; built variables "
                "only)"
            )
        return slots[slot_name]

    def exclude_from_weight_decay(
        self, var_list: Iterable[Variable] | None = None, var_names: Iterable[str] | None = None
    ) -> None:
        """Exempt these variables, and those whose names match a regex of `var_names`, from
        weight decay.  Only before the optimizer is built (as Keras)."""
        if self._built_variables:
            raise OptimizerError(
                f"{self.name}: exclude_from_weight_decay can only be called before the "
                "optimizer is built"
            )
        self._excluded.update((id(v), v) for v in self._checked(var_list or ()))
        self._excluded_patterns = tuple(var_names or ())

    # -- stepping --------------------------------------------------------------------------------

    def apply_gradients(self, grads_and_vars: Iterable[tuple[Any, Variable]]) -> None:
        """One step on (gradient, variable) pairs; pairs with a None gradient are skipped."""
        pairs = list(grads_and_vars)
        for i, pair in enumerate(pairs):
            if not (isinstance(pair, tuple | list) and len(pair) == 2):
                raise OptimizerError(
                    f"{self.name}: apply_gradients takes (gradient, variable) pairs, got a "
                    f"{type(pair).__name__} at position {i}"
                )
        self.apply([g for g, _ in pairs], [v for _, v in pairs])

    def apply(self, grads: Iterable[Any], trainable_variables: Iterable[Variable] | None = None):
        """One step: `grads` for `trainable_variables` (default: the built ones), as Keras 3."""
        grads, variables = self._present(grads, trainable_variables)
        if not variables:
            return
        self.build(variables)
        learning_rate = self.learning_rate
        pairs = list(zip(self._clip(grads), variables, strict=True))
        for transform in self.gradient_transformers:
            pairs = list(transform(pairs))
        for gradient, variable in pairs:
            dtype = _math_dtype(variable)
            rate = _in_dtype(learning_rate, dtype)
            step = self._update_step(_in_dtype(gradient, dtype), variable, rate)
            value = _in_dtype(variable, dtype)
            if self._decays(variable):
                value = value - value * float(self.weight_decay) * rate
            variable.assign(_in_dtype(value - step, variable.dtype))
        self._iterations.assign_add(1)

    def minimize(
        self,
        loss: Tensor | Callable[[], Tensor],
        var_list: Iterable[Variable] | Callable[[], Iterable[Variable]],
        tape: GradientTape | None = None,
    ) -> None:
        """Take the gradients of `loss` for `var_list` and apply them (TF2's minimize).

        `loss` is a zero-argument callable, or a tensor computed under `tape`; `var_list` is
        a list of Variables or a zero-argument callable returning one."""
        if tape is None and not callable(loss):
            raise OptimizerError(
                f"{self.name}: minimize needs tape= (the GradientTape that recorded a tensor "
                "loss), or the loss as a zero-argument callable"
            )
        tape = tape or GradientTape()
        with tape:
            if not callable(var_list):  # watched first, so non-trainable ones count too
                var_list = self._checked(var_list)
                tape.watch(var_list)
            if callable(loss):
                loss = loss()
            # a callable var_list is called after the loss, which may create the variables
            variables = self._checked(var_list()) if callable(var_list) else var_list
            loss = self.scale_loss(loss)
        grads = tape.gradient(loss, variables)
        self.apply_gradients(zip(grads, variables, strict=True))

    def scale_loss(self, loss: Any) -> Any:
        """The loss to differentiate (as Keras 3: unchanged here; LossScaleOptimizer scales)."""
        return loss

    # -- config ----------------------------------------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, the schedule serialized (gradient_transformers, being
        functions, are left out, as in TF2)."""
        config = {name: getattr(self, name) for name in _constructor_arguments(type(self))}
        del config["gradient_transformers"]
        rate = self._learning_rate
        if isinstance(rate, LearningRateSchedule):
            config["learning_rate"] = serialization.serialize(rate)
        else:  # the shortest decimal of the float32 (0.001, not 0.0010000000474974513)
            config["learning_rate"] = float(str(rate.numpy()))
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Optimizer:
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = deserialize_schedule(config["learning_rate"])
        return cls(**config)

    # -- helpers ---------------------------------------------------------------------------------

    def _rate(self, value: Any) -> float:
        try:
            if isinstance(value, str):
                raise TypeError
            return float(value)
        except (TypeError, ValueError):
            raise OptimizerError(
                f"{self.name}: learning_rate must be a number or a LearningRateSchedule, got "
                f"{type(value).__name__}"
            ) from None

    def _state_variable(self, value: np.ndarray, name: str, device: str | None = None):
        """A non-trainable Variable named "<optimizer>/<name>" (made unique)."""
        base = unique = f"{self.name}/{name}"
        n = 0
        while unique in self._names:
            n += 1
            unique = f"{base}_{n}"
        self._names.add(unique)
        initial = constant(value)
        if device is not None:
            initial = to_device(initial, device)
        return Variable(initial, trainable=False, name=unique)

    def _slots_of(self, variables: Iterable[Variable]) -> list[Variable]:
        return [s for v in variables for s in self._slot_variables.get(id(v), {}).values()]

    def _checked(self, var_list: Iterable[Any]) -> list[Variable]:
        variables = list(var_list)
        for i, v in enumerate(variables):
            if not isinstance(v, Variable):
                raise OptimizerError(
                    f"{self.name}: can only update Variables, got a {type(v).__name__} at "
                    f"position {i} of the variable list"
                )
            if v.dtype.kind != "f":
                raise OptimizerError(
                    f"{self.name}: cannot update variable {v.name!r} of dtype {v.dtype.name} "
                    "(floating variables only)"
                )
        return variables

    def _present(
        self, grads: Iterable[Any], trainable_variables: Iterable[Variable] | None
    ) -> tuple[list[Tensor], list[Variable]]:
        """The gradients that are not None, each in its variable's math dtype, and their
        variables (checked: Variables, as many as gradients, shapes alike)."""
        grads = list(grads)
        variables = self._checked(
            self._built_variables if trainable_variables is None else trainable_variables
        )
        if len(grads) != len(variables):
            raise OptimizerError(
                f"{self.name}: got {len(grads)} gradients for {len(variables)} variables"
            )
        kept = []
        for g, v in zip(grads, variables, strict=True):
            if g is None:
                continue
            g = convert_to_tensor(g)
            if g.shape != v.shape:
                raise OptimizerError(
                    f"{self.name}: the gradient for variable {v.name!r} has shape "
                    f"{list(g.shape)}, the variable {list(v.shape)}"
                )
            kept.append((_in_dtype(g, _math_dtype(v)), v))
        return [g for g, _ in kept], [v for _, v in kept]

    def _clip(self, grads: list[Tensor]) -> list[Tensor]:
        if self.clipnorm is not None:
            return [g * (self.clipnorm / maximum(_norm([g]), self.clipnorm)) for g in grads]
        if self.global_clipnorm is not None:
            norm = _norm(grads)  # NaN when a gradient is not finite: every gradient gets NaN
            scale = self.global_clipnorm / maximum(norm, self.global_clipnorm)
            return [g * _in_dtype(scale, g.dtype) for g in grads]
        if self.clipvalue is not None:
            return [minimum(maximum(g, -self.clipvalue), self.clipvalue) for g in grads]
        return grads

    def _decays(self, variable: Variable) -> bool:
        return bool(self.weight_decay) and not (
            id(variable) in self._excluded
            or any(re.search(p, variable.name) for p in self._excluded_patterns)
        )


def _norm(grads: list[Tensor]) -> Tensor:
    """The L2 norm of all of `grads` together, in the widest of their dtypes."""
    dtype = np.result_type(*(g.dtype for g in grads))
    return sqrt(sum(_in_dtype(reduce_sum(square(g)), dtype) for g in grads))


def _math_dtype(variable: Variable) -> np.dtype:
    """The dtype a variable's update is computed in: float32, or float64 for float64."""
    return np.promote_types(variable.dtype, np.float32)


def _in_dtype(x: Any, dtype: np.dtype) -> Any:
    return x if x.dtype == dtype else cast(x, dtype)


def _constructor_arguments(cls: type) -> list[str]:
    """The named arguments of the constructors from `Optimizer` down to `cls`."""
    names: dict[str, None] = {}
    for klass in reversed(cls.__mro__):
        if issubclass(klass, Optimizer) and "__init__" in vars(klass):
            for p in inspect.signature(klass.__init__).parameters.values():
                if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
                    names[p.name] = None
    return list(names)

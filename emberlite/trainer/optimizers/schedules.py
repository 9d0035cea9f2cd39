"""Learning-rate schedules, as `keras.optimizers.schedules`.

A schedule maps the optimizer's step (its `iterations`, an int64 Variable) to a learning rate
with ops only, so a traced training step computes this step's rate on every replay:

    >>> from emberlite.trainer.optimizers import schedules
    >>> decay = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    >>> round(float(decay(20)), 6)
    0.025
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import numpy as np

from emberlite.errors import EmberliteError
from emberlite.trainer import serialization
from emberlite.trainer.ops.math_ops import (
    cast,
    cos,
    equal,
    floor,
    less,
    less_equal,
    log,
    minimum,
    where,
)
from emberlite.trainer.serialization import Serializable, register_serializable
from emberlite.trainer.tensor import Tensor, constant, convert_to_tensor


class ScheduleError(EmberliteError, ValueError):
    """A schedule was given arguments it cannot work with; the message names the schedule."""


class LearningRateSchedule(Serializable):
    """Base class: subclasses define `__call__(step)` (ops only) and keep each constructor
    argument as an attribute of the same name, which is what `get_config` returns."""

    def __call__(self, step: Any) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} must define __call__(step)")

    def get_config(self) -> dict[str, Any]:
        params = inspect.signature(type(self).__init__).parameters
        return {name: getattr(self, name) for name in params if name != "self"}


def _float_step(step: Any) -> Tensor:
    """The step as a float32 tensor (ints, int tensors and the iterations Variable)."""
    step = convert_to_tensor(step)
    return step if step.dtype == np.float32 else cast(step, np.float32)


def _positive(schedule: str, **values: float) -> None:
    for name, value in values.items():
        if not value > 0:
            raise ScheduleError(f"{schedule}: {name} must be > 0, got {value!r}")


def _ceil(x: Tensor) -> Tensor:
    return -floor(-x)


class _StepRatioDecay(LearningRateSchedule):
    """A decay by `decay_rate` as a function of step / decay_steps (floored when
    `staircase`), which subclasses give as `_decayed(ratio)`; the name defaults to the
    class's."""

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        decay_rate: float,
        staircase: bool = False,
        name: str | None = None,
    ):
        name = name or type(self).__name__
        _positive(name, decay_steps=decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step: Any) -> Tensor:
        ratio = _float_step(step) / float(self.decay_steps)
        return self._decayed(floor(ratio) if self.staircase else ratio)

    def _decayed(self, ratio: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} must define _decayed(ratio)")


@register_serializable()
class ExponentialDecay(_StepRatioDecay):
    """initial_learning_rate * decay_rate ** (step / decay_steps) (the exponent floored when
    `staircase`)."""

    def _decayed(self, ratio: Tensor) -> Tensor:
        return float(self.initial_learning_rate) * float(self.decay_rate) ** ratio


@register_serializable()
class PiecewiseConstantDecay(LearningRateSchedule):
    """values[0] while step <= boundaries[0], values[i] while step <= boundaries[i], and
    values[-1] after the last boundary."""

    def __init__(self, boundaries: list, values: list, name: str = "PiecewiseConstant"):
        if len(values) != len(boundaries) + 1:
            raise ScheduleError(
                f"{name}: values must have one more element than boundaries, got "
                f"{len(values)} values and {len(boundaries)} boundaries"
            )
        if list(boundaries) != sorted(boundaries):
            raise ScheduleError(f"{name}: boundaries must increase, got {list(boundaries)}")
        self.boundaries = list(boundaries)
        self.values = list(values)
        self.name = name

    def __call__(self, step: Any) -> Tensor:
        step = _float_step(step)
        rate = constant(float(self.values[-1]), np.float32)
        # from the last interval back, so the first boundary that holds wins
        for boundary, value in zip(self.boundaries[::-1], self.values[-2::-1], strict=True):
            rate = where(less_equal(step, float(boundary)), float(value), rate)
        return rate


@register_serializable()
class PolynomialDecay(LearningRateSchedule):
    """From initial_learning_rate to end_learning_rate over decay_steps along
    (1 - step / decay_steps) ** power; then constant, or (`cycle`) again over the next
    multiple of decay_steps."""

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        end_learning_rate: float = 0.0001,
        power: float = 1.0,
        cycle: bool = False,
        name: str = "PolynomialDecay",
    ):
        _positive(name, decay_steps=decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name

    def __call__(self, step: Any) -> Tensor:
        step = _float_step(step)
        decay_steps = float(self.decay_steps)
        if self.cycle:
            # the first multiple of decay_steps at or after step (1 at step 0)
            multiple = where(equal(step, 0.0), 1.0, _ceil(step / decay_steps))
            p = step / (multiple * decay_steps)
        else:
            p = minimum(step, decay_steps) / decay_steps
        span = float(self.initial_learning_rate) - float(self.end_learning_rate)
        return span * (1.0 - p) ** float(self.power) + float(self.end_learning_rate)


@register_serializable()
class InverseTimeDecay(_StepRatioDecay):
    """initial_learning_rate / (1 + decay_rate * step / decay_steps) (the ratio floored when
    `staircase`)."""

    def _decayed(self, ratio: Tensor) -> Tensor:
        return float(self.initial_learning_rate) / (1.0 + float(self.decay_rate) * ratio)


def _cosine(fraction: Tensor, alpha: float) -> Tensor:
    """From 1 at fraction 0 down to alpha at fraction 1 along half a cosine."""
    return (1.0 - alpha) * (0.5 * (1.0 + cos(math.pi * fraction))) + alpha


@register_serializable()
class CosineDecay(LearningRateSchedule):
    """Cosine decay over decay_steps down to alpha * the peak rate, after an optional linear
    warmup from initial_learning_rate to warmup_target over warmup_steps (Keras 3)."""

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        alpha: float = 0.0,
        name: str = "CosineDecay",
        warmup_target: float | None = None,
        warmup_steps: int = 0,
    ):
        _positive(name, decay_steps=decay_steps)
        if warmup_steps < 0:
            raise ScheduleError(f"{name}: warmup_steps must be >= 0, got {warmup_steps!r}")
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_target = warmup_target
        self.warmup_steps = warmup_steps

    def __call__(self, step: Any) -> Tensor:
        step = _float_step(step)
        initial, decay_steps = float(self.initial_learning_rate), float(self.decay_steps)
        if self.warmup_target is None:
            return initial * _cosine(minimum(step, decay_steps) / decay_steps, float(self.alpha))
        target, warmup = float(self.warmup_target), float(self.warmup_steps)
        step = minimum(step, decay_steps + warmup)
        # NOTE: both branches are computed (no Python branching on the step); max(.., 1)
        # keeps the unused warmup branch finite when warmup_steps is 0.
        warming = (target - initial) * (step / max(warmup, 1.0)) + initial
        decaying = target * _cosine((step - warmup) / decay_steps, float(self.alpha))
        return where(less(step, warmup), warming, decaying)


@register_serializable()
class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR): periods of first_decay_steps, each t_mul times
    longer than the one before and starting m_mul times lower."""

    def __init__(
        self,
        initial_learning_rate: float,
        first_decay_steps: int,
        t_mul: float = 2.0,
        m_mul: float = 1.0,
        alpha: float = 0.0,
        name: str = "SGDRDecay",
    ):
        _positive(name, first_decay_steps=first_decay_steps, t_mul=t_mul)
        self.initial_learning_rate = initial_learning_rate
        self.first_decay_steps = first_decay_steps
        self.t_mul = t_mul
        self.m_mul = m_mul
        self.alpha = alpha
        self.name = name

    def __call__(self, step: Any) -> Tensor:
        fraction = _float_step(step) / float(self.first_decay_steps)
        t_mul = float(self.t_mul)
        if t_mul == 1.0:
            restart = floor(fraction)
            fraction = fraction - restart
        else:
            # periods 1, t, t^2, ... of first_decay_steps: restart i starts at (1-t^i)/(1-t)
            restart = floor(log(1.0 - fraction * (1.0 - t_mul)) / math.log(t_mul))
            start = (1.0 - t_mul**restart) / (1.0 - t_mul)
            fraction = (fraction - start) / t_mul**restart
        decayed = float(self.m_mul) ** restart * (0.5 * (1.0 + cos(math.pi * fraction)))
        alpha = float(self.alpha)
        return float(self.initial_learning_rate) * ((1.0 - alpha) * decayed + alpha)


def serialize(schedule: LearningRateSchedule) -> dict[str, Any]:
    """`{"class_name": ..., "config": ...}` of a schedule."""
    return serialization.serialize(schedule)


def deserialize(config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> Any:
    """The schedule `serialize` described."""
    schedule = serialization.deserialize(config, custom_objects, what="learning rate schedule")
    if not isinstance(schedule, LearningRateSchedule):
        raise ScheduleError(f"{config.get('class_name')!r} is not a LearningRateSchedule")
    return schedule

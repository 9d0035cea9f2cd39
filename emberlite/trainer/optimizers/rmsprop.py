"""RMSprop."""

from __future__ import annotations

from typing import Any

from emberlite.trainer.ops.math_ops import sqrt, square
from emberlite.trainer.optimizers.base import Optimizer
from emberlite.trainer.serialization import register_serializable
from emberlite.trainer.tensor import Tensor, Variable


@register_serializable()
class RMSprop(Optimizer):
    """rms = rho * rms + (1 - rho) * g**2; the step is lr * g / sqrt(rms + epsilon)
    (`centered`: rms minus the square of the moving average of g), accumulated with
    `momentum` when it is set.  (torch.optim.RMSprop adds its eps outside the sqrt.)"""

    def __init__(
        self,
        learning_rate: Any = 0.001,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
        centered: bool = False,
        name: str = "rmsprop",
        **kwargs: Any,
    ):
        super().__init__(learning_rate, name=name, **kwargs)
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = centered

    def _slots(self) -> dict[str, float]:
        slots = {"rms": 0.0}
        if self.momentum:
            slots["momentum"] = 0.0
        if self.centered:
            slots["mg"] = 0.0
        return slots

    def _update_step(self, gradient: Tensor, variable: Variable, learning_rate: Tensor) -> Tensor:
        rms = self.get_slot(variable, "rms")
        rms.assign(rms * self.rho + square(gradient) * (1 - self.rho))
        if self.centered:
            mg = self.get_slot(variable, "mg")
            mg.assign(mg * self.rho + gradient * (1 - self.rho))
            denominator = rms - square(mg) + self.epsilon
        else:
            denominator = rms + self.epsilon
        increment = learning_rate * gradient / sqrt(denominator)
        if not self.momentum:
            return increment
        momentum = self.get_slot(variable, "momentum")
        momentum.assign(momentum * self.momentum + increment)
        return momentum

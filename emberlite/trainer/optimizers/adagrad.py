"""Adagrad."""

from __future__ import annotations

from typing import Any

from emberlite.trainer.ops.math_ops import sqrt, square
from emberlite.trainer.optimizers.base import Optimizer
from emberlite.trainer.serialization import register_serializable
from emberlite.trainer.tensor import Tensor, Variable


@register_serializable()
class Adagrad(Optimizer):
    """accumulator += g**2 (from initial_accumulator_value); the step is
    lr * g / sqrt(accumulator + epsilon).  (torch.optim.Adagrad adds its eps outside.)"""

    def __init__(
        self,
        learning_rate: Any = 0.001,
        initial_accumulator_value: float = 0.1,
        epsilon: float = 1e-7,
        name: str = "adagrad",
        **kwargs: Any,
    ):
        super().__init__(learning_rate, name=name, **kwargs)
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon

    def _slots(self) -> dict[str, float]:
        return {"accumulator": self.initial_accumulator_value}

    def _update_step(self, gradient: Tensor, variable: Variable, learning_rate: Tensor) -> Tensor:
        accumulator = self.get_slot(variable, "accumulator")
        accumulator.assign_add(square(gradient))
        return learning_rate * gradient / sqrt(accumulator + self.epsilon)

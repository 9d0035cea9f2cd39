"""Stochastic gradient descent, with optional (Nesterov) momentum."""

from __future__ import annotations

from typing import Any

from emberlite.trainer.optimizers.base import Optimizer, OptimizerError
from emberlite.trainer.serialization import register_serializable
from emberlite.trainer.tensor import Tensor, Variable


@register_serializable()
class SGD(Optimizer):
    """Without momentum: variable -= lr * g.  With it, Keras's form (the same as
    torch.optim.SGD's for a constant rate): m = momentum * m - lr * g, then
    variable += m, or with `nesterov` variable += momentum * m - lr * g."""

    def __init__(
        self,
        learning_rate: Any = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        name: str = "SGD",
        **kwargs: Any,
    ):
        if not 0 <= momentum <= 1:
            raise OptimizerError(f"{name}: momentum must be a float in [0, 1], got {momentum!r}")
        super().__init__(learning_rate, name=name, **kwargs)
        self.momentum = momentum
        self.nesterov = nesterov

    def _slots(self) -> dict[str, float]:
        return {"momentum": 0.0} if self.momentum else {}

    def _update_step(self, gradient: Tensor, variable: Variable, learning_rate: Tensor) -> Tensor:
        scaled = gradient * learning_rate
        if not self.momentum:
            return scaled
        m = self.get_slot(variable, "momentum")
        m.assign(m * self.momentum - scaled)
        return scaled - m * self.momentum if self.nesterov else -m

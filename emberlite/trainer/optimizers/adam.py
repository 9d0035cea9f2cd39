"""Adam and AdamW (Adam with decoupled weight decay)."""

from __future__ import annotations

from typing import Any

from emberlite.trainer.ops.math_ops import cast, maximum, sqrt, square
from emberlite.trainer.optimizers.base import Optimizer, OptimizerError
from emberlite.trainer.serialization import register_serializable
from emberlite.trainer.tensor import Tensor, Variable


@register_serializable()
class Adam(Optimizer):
    """Adam in Keras's form: at step t (from 1), m and v are moving averages of g and g**2,
    and variable -= lr * sqrt(1 - beta_2**t) / (1 - beta_1**t) * m / (sqrt(v) + epsilon).
    (torch.optim.Adam adds its eps to sqrt(v / (1 - beta_2**t)) instead.)  `amsgrad` uses
    the largest v so far."""

    def __init__(
        self,
        learning_rate: Any = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        name: str = "adam",
        **kwargs: Any,
    ):
        super().__init__(learning_rate, name=name, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = amsgrad

    def _slots(self) -> dict[str, float]:
        return {"m": 0.0, "v": 0.0, **({"vhat": 0.0} if self.amsgrad else {})}

    def _update_step(self, gradient: Tensor, variable: Variable, learning_rate: Tensor) -> Tensor:
        m, v = self.get_slot(variable, "m"), self.get_slot(variable, "v")
        t = cast(self.iterations + 1, gradient.dtype)
        alpha = learning_rate * sqrt(1 - self.beta_2**t) / (1 - self.beta_1**t)
        m.assign_add((gradient - m) * (1 - self.beta_1))
        v.assign_add((square(gradient) - v) * (1 - self.beta_2))
        if self.amsgrad:
            vhat = self.get_slot(variable, "vhat")
            vhat.assign(maximum(vhat, v))
            v = vhat
        return m * alpha / (sqrt(v) + self.epsilon)


@register_serializable()
class AdamW(Adam):
    """Adam with decoupled weight decay: each step first takes variable * weight_decay * lr
    off the variable (as torch.optim.AdamW)."""

    def __init__(
        self,
        learning_rate: Any = 0.001,
        weight_decay: float = 0.004,
        name: str = "adamw",
        **kwargs: Any,
    ):
        if weight_decay is None:
            raise OptimizerError(f"{name}: weight_decay must be a float, got None")
        super().__init__(learning_rate, weight_decay=weight_decay, name=name, **kwargs)

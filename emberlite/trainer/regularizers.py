"""Weight regularizers, as keras.regularizers: `reg(weight) -> scalar tensor` (written with
ops, so the penalty differentiates within a tape).

    >>> import numpy as np
    >>> from emberlite.trainer import regularizers
    >>> round(float(regularizers.get("l2")(np.array([1.0, 2.0], np.float32))), 6)  # 0.01 * 5
    0.05
"""

from __future__ import annotations

from typing import Any

from emberlite.errors import EmberliteError
from emberlite.trainer import serialization
from emberlite.trainer.ops import math_ops
from emberlite.trainer.ops.math_ops import constant_like, reduce_sum, square
from emberlite.trainer.serialization import Serializable
from emberlite.trainer.tensor import Tensor, convert_to_tensor


class Regularizer(Serializable):
    """Base class: `__call__(weight)` returns the scalar penalty."""

    def __call__(self, x: Any) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} must define __call__")

    def get_config(self) -> dict[str, Any]:
        return {}


def _factor(value: Any, what: str) -> float:
    value = float(value)
    if not value >= 0:
        raise EmberliteError(f"regularizer factor {what} must be >= 0, got {value}")
    return value


class L1L2(Regularizer):
    """l1 * sum(|x|) + l2 * sum(x^2)."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        self.l1, self.l2 = _factor(l1, "l1"), _factor(l2, "l2")

    def __call__(self, x: Any) -> Tensor:
        x = convert_to_tensor(x)
        terms = []
        if self.l1:
            terms.append(reduce_sum(math_ops.abs(x)) * self.l1)
        if self.l2:
            terms.append(reduce_sum(square(x)) * self.l2)
        if not terms:
            return constant_like(0, x)
        return terms[0] if len(terms) == 1 else terms[0] + terms[1]

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """l1 * sum(|x|)."""

    def __init__(self, l1: float = 0.01):
        super().__init__(l1=l1)

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1}


class L2(L1L2):
    """l2 * sum(x^2) (no 1/2, as Keras)."""

    def __init__(self, l2: float = 0.01):
        super().__init__(l2=l2)

    def get_config(self) -> dict[str, Any]:
        return {"l2": self.l2}


for _cls in (L1L2, L1, L2):
    serialization.register_serializable()(_cls)

# Keras's lower-case names
l1 = L1
l2 = L2


def l1_l2(l1: float = 0.01, l2: float = 0.01) -> L1L2:
    return L1L2(l1=l1, l2=l2)


def get(identifier: Any) -> Any:
    """A regularizer from "l1", "l2", "l1_l2" (Keras's defaults: 0.01 each), a serialized
    config, or a regularizer (any callable of a weight); None stays None."""
    if identifier is None:
        return None
    by_name = {"l1": L1(), "l2": L2(), "l1_l2": l1_l2()}
    found = serialization.resolve(identifier, by_name, "regularizer")
    if not callable(found):
        raise EmberliteError(f"could not interpret regularizer {identifier!r}")
    return found


def serialize(regularizer: Any) -> Any:
    return serialization.serialize(regularizer)


def deserialize(config: Any, custom_objects: dict[str, Any] | None = None) -> Any:
    return serialization.deserialize(config, custom_objects, "regularizer")

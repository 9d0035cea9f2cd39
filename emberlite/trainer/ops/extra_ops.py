"""Primitives the NumPy-style API (emberlite.trainer.numpy) needs and no composite gives:
expm1 and log1p, exact near 0 where exp(x) - 1 and log(1 + x) lose every digit of x."""

from __future__ import annotations

from typing import Any

import numpy as np

from emberlite.trainer.ops.registry import primitive
from emberlite.trainer.tensor import Tensor, convert_to_tensor


@primitive("expm1")
def _expm1(x):
    return np.expm1(x)


@_expm1.grad
def _(op, g):
    return (g * (op.outputs[0] + 1),)


@primitive("log1p")
def _log1p(x):
    return np.log1p(x)


@_log1p.grad
def _(op, g):
    return (g / (op.inputs[0] + 1),)


def expm1(x: Any) -> Tensor:
    """exp(x) - 1, accurate for small x."""
    return _expm1(convert_to_tensor(x))


def log1p(x: Any) -> Tensor:
    """log(1 + x), accurate for small x."""
    return _log1p(convert_to_tensor(x))

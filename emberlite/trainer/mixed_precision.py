"""Dtype policies, as `keras.mixed_precision`: float16 math with float32 variables.

    >>> from emberlite.trainer import mixed_precision
    >>> mixed_precision.set_global_policy("mixed_float16")
    >>> mixed_precision.global_policy().compute_dtype
    'float16'
    >>> mixed_precision.set_global_policy("float32")

Under "mixed_float16" a layer keeps its variables in float32, casts its floating inputs to
float16, and reads its float32 variables as float16 inside its `call` (the autocast scope,
Keras's AutoCastVariable).  The cast is an op, so gradients come back to the float32
variables in float32.  The optimizer then scales the loss so small float16 gradients do not
flush to zero (`optimizers.LossScaleOptimizer`, which `compile` adds under this policy).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

from emberlite.errors import EmberliteError

_POLICIES = {
    "float32": ("float32", "float32"),
    "float16": ("float16", "float16"),
    "float64": ("float64", "float64"),
    "mixed_float16": ("float16", "float32"),
}


class Policy:
    """A layer's dtypes: `compute_dtype` for its math, `variable_dtype` for its weights."""

    def __init__(self, name: str):
        if isinstance(name, Policy):
            name = name.name
        name = np.dtype(name).name if name not in _POLICIES and _is_dtype(name) else name
        if name not in _POLICIES:
            known = ", ".join(sorted(_POLICIES))
            extra = " (NumPy has no bfloat16)" if "bfloat16" in str(name) else ""
            raise EmberliteError(f"unknown dtype policy {name!r}{extra}; known: {known}")
        self.name = name
        self.compute_dtype, self.variable_dtype = _POLICIES[name]

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Policy) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f'<Policy "{self.name}">'


def _is_dtype(name: Any) -> bool:
    try:
        np.dtype(name)
    except TypeError:
        return False
    return True


_state = threading.local()
_global = Policy("float32")


def set_global_policy(policy: str | Policy | None) -> None:
    """The policy of layers created from now on (None: back to float32)."""
    global _global
    _global = Policy(policy or "float32")


def global_policy() -> Policy:
    return _global


def autocast_dtype() -> np.dtype | None:
    """The dtype float32 variables are read as inside the current layer call (None: as is)."""
    return getattr(_state, "autocast", None)


@contextlib.contextmanager
def autocast(policy: Policy) -> Iterator[None]:
    """Within a layer's call: read float32 variables in the policy's compute dtype."""
    previous = autocast_dtype()
    differs = policy.compute_dtype != policy.variable_dtype
    _state.autocast = np.dtype(policy.compute_dtype) if differs else None
    try:
        yield
    finally:
        _state.autocast = previous

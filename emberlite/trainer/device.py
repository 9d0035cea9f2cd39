"""Where tensors live: the CPU (NumPy) or a CUDA GPU (numba), TensorFlow-style placement.

    with emberlite.trainer.device("gpu:0"):
        y = model(x)            # new tensors and ops on the GPU; data stays there between ops

A backend is one small object behind a fixed interface (tinygrad-style): `available()`,
`to_device(host_array)`, `to_host(device_array)`, and `kernel(op)` for the op's kernel on
that backend (None: the op runs on the host and its result is moved back).  Where no GPU
exists, "gpu" falls back to the CPU with a single warning (TensorFlow's soft placement).
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from emberlite.errors import EmberliteError


class CpuBackend:
    name = "cpu"

    def available(self) -> bool:
        return True

    def to_device(self, array: np.ndarray) -> np.ndarray:
        return array

    def to_host(self, array: Any) -> np.ndarray:
        return array

    def kernel(self, op: str) -> Callable | None:
        from emberlite.trainer.ops.registry import PRIMITIVES

        return PRIMITIVES[op].cpu


class GpuBackend:
    """numba CUDA; also runs under numba's simulator (NUMBA_ENABLE_CUDASIM=1)."""

    name = "gpu"

    def available(self) -> bool:
        try:
            from numba import cuda

            return bool(cuda.is_available())
        except Exception:  # noqa: BLE001 - a broken CUDA install is "no GPU"
            return False

    def to_device(self, array: np.ndarray) -> Any:
        from numba import cuda

        # NOTE: np.require, not np.ascontiguousarray, which makes 0-d arrays 1-d.
        return cuda.to_device(np.require(array, requirements="C"))

    def to_host(self, array: Any) -> np.ndarray:
        return array.copy_to_host() if hasattr(array, "copy_to_host") else np.asarray(array)

    def kernel(self, op: str) -> Callable | None:
        from emberlite.trainer.kernels import cuda  # noqa: F401 - registers the GPU kernels
        from emberlite.trainer.ops.registry import PRIMITIVES

        return PRIMITIVES[op].gpu


BACKENDS = {"cpu": CpuBackend(), "gpu": GpuBackend()}


@dataclass(frozen=True, slots=True)
class Device:
    kind: str  # "cpu" or "gpu"
    index: int = 0

    @property
    def backend(self) -> Any:
        return BACKENDS[self.kind]

    def __str__(self) -> str:
        return f"{self.kind}:{self.index}"


CPU = Device("cpu")
_state = threading.local()
_warned_fallback = False


def parse_device(spec: str | Device) -> Device:
    """'gpu:0', '/GPU:0', 'cpu' -> Device; a GPU that is not there falls back to the CPU."""
    global _warned_fallback
    if isinstance(spec, Device):
        return spec
    name = spec.strip().lstrip("/").lower().replace("device:", "")
    kind, _, index = name.partition(":")
    if kind not in BACKENDS or (index and not index.isdigit()):
        raise EmberliteError(f"unknown device {spec!r}: use 'cpu:0' or 'gpu:0'")
    device = Device(kind, int(index or 0))
    if not device.backend.available():
        if not _warned_fallback:
            warnings.warn(
                f"device {spec!r} is not available; placing on the CPU instead", stacklevel=4
            )
            _warned_fallback = True
        return CPU
    return device


def current_device() -> Device | None:
    """The device a `with device(...)` block asked for, or None outside of one."""
    stack = getattr(_state, "stack", None)
    return stack[-1] if stack else None


@contextlib.contextmanager
def device(spec: str | Device) -> Iterator[Device]:
    """Place new tensors and ops inside the block on `spec` ('cpu:0', 'gpu:0')."""
    placed = parse_device(spec)
    stack = _state.__dict__.setdefault("stack", [])
    stack.append(placed)
    try:
        yield placed
    finally:
        stack.pop()

"""Primitive ops: the one table of forward kernels and gradient rules.

A primitive has a NumPy kernel (the reference), optionally a GPU kernel, and a gradient rule.
Everything else (mean, softmax, logsumexp, ...) is composed from primitives in Python and
needs no gradient of its own.  Gradient rules are written with ops too, so the backward pass
is itself recorded by outer tapes: that is how second derivatives work.

    @primitive("exp")
    def exp(x):                     # kernel: arrays in, array out; attrs as keywords
        return np.exp(x)

    @exp.grad
    def _(op, dy):                  # op.inputs / op.outputs are Tensors, op.attrs a dict
        return (dy * op.outputs[0],)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from emberlite.errors import EmberliteError
from emberlite.trainer import autodiff, graph, mixed_precision
from emberlite.trainer.device import CPU, current_device
from emberlite.trainer.tensor import Tensor, Variable, convert_to_tensor, to_device


class OpError(EmberliteError, ValueError):
    """An op got inputs it cannot work with; the message names the op and the shapes."""


@dataclass
class Primitive:
    name: str
    cpu: Callable[..., Any]
    gpu: Callable[..., Any] | None = None
    gradient: Callable[..., Sequence[Tensor | None]] | None = None
    differentiable: bool = True  # False: comparisons, argmax ... (no gradient flows)
    multiple_outputs: bool = False  # the kernel returns a tuple of arrays

    def grad(self, rule: Callable[..., Sequence[Tensor | None]]) -> Callable:
        """Decorator registering the gradient rule."""
        self.gradient = rule
        return rule

    def gpu_kernel(self, kernel: Callable[..., Any]) -> Callable:
        """Decorator registering the numba CUDA kernel (device arrays in, device array out)."""
        self.gpu = kernel
        return kernel

    def __call__(self, *inputs: Any, **attrs: Any) -> Any:
        return apply(self, inputs, attrs)


PRIMITIVES: dict[str, Primitive] = {}


def primitive(
    name: str, *, differentiable: bool = True, multiple_outputs: bool = False
) -> Callable[[Callable], Primitive]:
    """Register the decorated NumPy kernel as primitive `name`; returns the Primitive."""

    def decorate(kernel: Callable) -> Primitive:
        if name in PRIMITIVES:
            raise RuntimeError(f"primitive {name} registered twice")
        prim = Primitive(
            name, kernel, differentiable=differentiable, multiple_outputs=multiple_outputs
        )
        PRIMITIVES[name] = prim
        return prim

    return decorate


def apply(prim: Primitive, inputs: Sequence[Any], attrs: dict[str, Any]) -> Any:
    """Run `prim` eagerly on the placement device and record it on the active tapes (and
    tracers: a Variable input stays a variable there, read when the graph runs)."""
    if prim.name != "cast":
        inputs = [autocast(x) if isinstance(x, Variable) else x for x in inputs]
    tensors = [_snapshot(x) if isinstance(x, Variable) else convert_to_tensor(x) for x in inputs]
    device = current_device() or next((t._device for t in tensors if t._device != CPU), CPU)
    kernel = device.backend.kernel(prim.name)
    on_host = kernel is None  # NOTE: no kernel on this device: run on the host (slow, rare)
    if on_host:
        kernel, arrays = prim.cpu, [t._host() for t in tensors]
    else:
        arrays = [to_device(t, device)._data for t in tensors]
    try:
        result = kernel(*arrays, **attrs)
    except (ValueError, IndexError, TypeError) as e:
        shapes = ", ".join(str(list(t.shape)) for t in tensors)
        raise OpError(f"{prim.name}: cannot apply to inputs of shapes {shapes}: {e}") from None
    results = tuple(result) if prim.multiple_outputs else (result,)
    if on_host:
        results = [device.backend.to_device(np.asarray(r)) for r in results]
    outputs = tuple(Tensor(_as_array(r), device) for r in results)
    if prim.differentiable:
        autodiff.record(prim, tensors, outputs, attrs)
    if graph.is_tracing():
        variables = [isinstance(x, Variable) for x in inputs]
        traced = [x if v else t for x, t, v in zip(inputs, tensors, variables, strict=True)]
        reads = [t if v else None for t, v in zip(tensors, variables, strict=True)]
        graph.record_op(prim.name, traced, attrs, outputs, reads)
    return outputs if prim.multiple_outputs else outputs[0]


def _as_array(r: Any) -> Any:
    """Kernel results as arrays (NumPy reductions return scalars; device arrays pass)."""
    return np.asarray(r) if isinstance(r, np.generic) or not hasattr(r, "shape") else r


@primitive("read_variable")
def _read_variable(value):
    return value


@_read_variable.grad
def _(op, g):
    return (g,)


def autocast(variable: Variable) -> Any:
    """Inside a mixed-precision layer's call, a trainable float32 variable read in the
    compute dtype (a recorded cast, so its gradient comes back in float32); otherwise the
    variable itself.  Non-trainable ones (moving statistics, counters) stay float32, as Keras
    creates them with autocast=False."""
    dtype = mixed_precision.autocast_dtype()
    if dtype is None or not variable.trainable or variable.dtype != np.float32:
        return variable
    return PRIMITIVES["cast"](variable, dtype=dtype)


def _read(variable: Variable) -> Tensor:
    """A variable's current value, as a recorded op: later assigns do not change it, and a
    tape that watches the variable sees everything computed from this read (TF's
    ReadVariableOp).  A trace records it as a read_variable node."""
    out = _snapshot(variable)
    graph.record_op(_read_variable.name, (variable,), {}, (out,))
    return out


def _snapshot(variable: Variable) -> Tensor:
    """_read for apply's inputs, which tracers record as the variable itself."""
    out = Tensor(variable._data, variable._device)
    autodiff.record(_read_variable, (variable,), (out,), {})
    return out

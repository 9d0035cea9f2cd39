"""The op registry: one entry per op, holding its `prepare` and its `eval`.

A kernel is registered once, by the op's name: the builtin's enum name ("CONV_2D") or a
custom op's custom code ("Convolution2DTransposeBias").  As in TFLite Micro, `prepare` runs
at `allocate_tensors`: it validates the node, works out its output shapes and precomputes
whatever does not depend on input values into a per-node record.  `eval` runs at every
`invoke`: it only computes, reading input arrays and writing into preallocated outputs.

    @register("ABS", prepare=same_shape)
    def abs_eval(data, ins, outs):
        np.abs(ins[0], out=outs[0])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from emberlite.errors import EmberliteError
from emberlite.schema import Options, Tensor


class KernelError(EmberliteError, ValueError):
    """A node cannot run: bad shapes, unsupported options or dtypes.  Names the node."""


@dataclass(frozen=True, slots=True)
class TensorInfo:
    """What `prepare` knows of one tensor: its resolved shape, dtype, and value if constant."""

    index: int
    tensor: Tensor  # the model's record (name, quantization, sparsity, declared shape)
    shape: tuple[int, ...]
    dtype: np.dtype
    value: np.ndarray | None = None  # known before invoke: a constant, or folded at prepare

    @property
    def name(self) -> str:
        return self.tensor.name


@dataclass(frozen=True, slots=True)
class NodeContext:
    """A node as `prepare` sees it.  Optional inputs a model omits (index -1) are None."""

    index: int
    op_name: str
    options: Options | None
    custom_options: bytes | None
    inputs: tuple[TensorInfo | None, ...]
    outputs: tuple[TensorInfo, ...]  # as the model declares them

    def fail(self, message: str) -> KernelError:
        return KernelError(f"node {self.index} ({self.op_name}): {message}")

    def option(self, name: str, default: Any = None) -> Any:
        """An options field, or `default` when the node has no options table."""
        return default if self.options is None else getattr(self.options, name, default)

    def input(self, i: int) -> TensorInfo:
        """Input `i`, which the op requires."""
        if i >= len(self.inputs) or self.inputs[i] is None:
            raise self.fail(f"needs input {i}, which the model does not give")
        return self.inputs[i]

    def constant(self, i: int) -> np.ndarray:
        """The value of input `i`, which must be known before invoke (a constant or folded)."""
        value = self.input(i).value
        if value is None:
            raise self.fail(
                f"input {i} ({self.input(i).name!r}) must be constant; it is computed at run time"
            )
        return value

    def expect_inputs(self, low: int, high: int | None = None) -> None:
        n = len(self.inputs)
        if not low <= n <= (low if high is None else high):
            expected = low if high is None or high == low else f"{low} to {high}"
            raise self.fail(f"takes {expected} inputs, got {n}")


@dataclass(frozen=True, slots=True)
class NodePlan:
    """What `prepare` returns: the output shapes and the record `eval` receives as `data`.

    `scratch`: (shape, dtype) of temporary buffers the node needs while it runs (padded
    inputs, im2col columns).  They live in the arena, shared with other nodes' temporaries,
    and reach `eval` after the outputs: `outs[n_outputs + j]`.  Their contents do not survive
    between invokes.
    `folds`: eval may run at prepare time even when inputs are not constant, because the
    outputs depend only on shapes (SHAPE does this).
    """

    output_shapes: tuple[tuple[int, ...], ...]
    data: Any = None
    scratch: tuple[tuple[tuple[int, ...], Any], ...] = ()
    folds: bool = False


Eval = Callable[[Any, Sequence[np.ndarray | None], Sequence[np.ndarray]], None]
Prepare = Callable[[NodeContext], NodePlan]


@dataclass(frozen=True, slots=True)
class Kernel:
    name: str
    prepare: Prepare
    eval: Eval
    # False for ops whose result must not be computed ahead of invoke (state, randomness).
    foldable: bool = True


KERNELS: dict[str, Kernel] = {}


def register(*names: str, prepare: Prepare, foldable: bool = True) -> Callable[[Eval], Eval]:
    """Register the decorated eval function, with `prepare`, under each of `names`."""

    def decorate(eval_fn: Eval) -> Eval:
        for name in names:
            if name in KERNELS:
                raise RuntimeError(f"kernel {name} registered twice")
            KERNELS[name] = Kernel(name, prepare, eval_fn, foldable)
        return eval_fn

    return decorate


def lookup(name: str) -> Kernel | None:
    from emberlite.interpreter import kernels  # noqa: F401  (registers every kernel module)

    return KERNELS.get(name)

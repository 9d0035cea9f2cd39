"""Layers merging a list of tensors: Add, Subtract, Multiply, Average, Maximum, Minimum
(element by element, shapes broadcasting) and Concatenate."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from emberlite.trainer.layers.base import Layer, LayerError
from emberlite.trainer.ops.array_ops import concat
from emberlite.trainer.ops.math_ops import add, maximum, minimum, multiply, subtract
from emberlite.trainer.tensor import Tensor


class _Merge(Layer):
    """Combines its inputs pairwise with `_combine`, left to right."""

    _combine: Callable[[Tensor, Tensor], Tensor]  # a staticmethod
    _exactly: int | None = None  # the number of inputs it takes, where fixed

    def call(self, inputs: list[Tensor]) -> Tensor:
        shapes = self.check_inputs(inputs)
        try:
            np.broadcast_shapes(*shapes)
        except ValueError:
            raise LayerError(
                f"layer {self.name!r} merges element by element, so its inputs' shapes must "
                f"broadcast together; got {shapes}"
            ) from None
        return functools.reduce(self._combine, inputs)

    def check_inputs(self, inputs: Any) -> list[tuple]:
        """The shapes of `inputs`, which must be a list of tensors of the right length."""
        count = len(inputs) if isinstance(inputs, list | tuple) else None
        if count is None or (count != self._exactly if self._exactly else count < 1):
            expected = f"exactly {self._exactly}" if self._exactly else "at least 1"
            got = type(inputs).__name__ if count is None else str(count)
            raise LayerError(
                f"layer {self.name!r} ({type(self).__name__}) must be called on a list of "
                f"{expected} input(s), got {got}"
            )
        return [tuple(x.shape) for x in inputs]


class Add(_Merge):
    _combine = staticmethod(add)


class Subtract(_Merge):
    """inputs[0] - inputs[1]."""

    _combine = staticmethod(subtract)
    _exactly = 2


class Multiply(_Merge):
    _combine = staticmethod(multiply)


class Maximum(_Merge):
    _combine = staticmethod(maximum)


class Minimum(_Merge):
    _combine = staticmethod(minimum)


class Average(_Merge):
    _combine = staticmethod(add)

    def call(self, inputs: list[Tensor]) -> Tensor:
        return super().call(inputs) * (1 / len(inputs))


class Concatenate(_Merge):
    """The inputs joined along `axis` (their other dimensions must agree)."""

    def __init__(self, axis: int = -1, **kwargs: Any):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def call(self, inputs: list[Tensor]) -> Tensor:
        shapes = self.check_inputs(inputs)
        rank = len(shapes[0])
        axis = self.axis % rank if -rank <= self.axis < rank else None
        fits = axis is not None and all(len(s) == rank for s in shapes)
        if not fits or len({s[:axis] + s[axis + 1 :] for s in shapes}) != 1:
            raise LayerError(
                f"layer {self.name!r} concatenates along axis {self.axis}, so its inputs must "
                f"have that axis and agree on all others; got shapes {shapes}"
            )
        return concat(inputs, axis)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}

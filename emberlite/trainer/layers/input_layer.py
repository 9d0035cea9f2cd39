"""Symbolic tensors for the functional API: `Input`, `KerasTensor`, and the nodes they make.

`x = Input(shape=(28, 28, 1))` is a `KerasTensor`: a shape (batch dimension None) and a
dtype, with the node that made it.  Calling a layer on KerasTensors computes nothing
real; it records a `Node` (layer, input KerasTensors, other arguments) and returns new
KerasTensors.  Their shapes come from running the layer eagerly on zeros with every unknown
dimension set to two different sizes: a dimension that follows the stand-in size is unknown
(None) in the output too.  That builds the layer as a side effect and needs no shape rules
per layer, and it is exact, because it runs the very code that will run later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from emberlite.trainer.autodiff import _flatten, _restructure
from emberlite.trainer.layers.base import Layer, LayerError, _shape_str, training_scope
from emberlite.trainer.tensor import constant

# stand-in sizes of unknown dimensions: batch, then every other unknown dimension
_STAND_INS = ((1, 5), (2, 7))


class KerasTensor:
    """A symbolic tensor of the functional API: shape (None where unknown) and dtype."""

    def __init__(self, shape: tuple, dtype: Any, node: Node | None = None, index: int = 0):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.node = node  # what made it (None: not yet attached)
        self.index = index  # which output of that node

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        made_by = f" (created by layer {self.node.layer.name!r})" if self.node else ""
        return f"<KerasTensor shape={_shape_str(self.shape)} dtype={self.dtype.name}{made_by}>"

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise LayerError(
            f"{self!r} is symbolic: it has no value until the model runs; wrap computations "
            "on it in a layer (e.g. layers.Lambda) or subclass Model"
        )


@dataclass(eq=False)
class Node:
    """One call of a layer in a functional graph."""

    layer: Layer
    inputs: Any  # the first argument: a structure of KerasTensors
    args: tuple  # further positional arguments (not tensors)
    kwargs: dict
    outputs: Any = None  # a structure of KerasTensors
    parents: list[Node] = field(default_factory=list)

    @property
    def input_tensors(self) -> list[KerasTensor]:
        return [x for x in _flatten(self.inputs) if isinstance(x, KerasTensor)]

    @property
    def output_tensors(self) -> list[KerasTensor]:
        return _flatten(self.outputs)


def _stand_in(shape: tuple, sizes: tuple[int, int]) -> tuple[int, ...]:
    batch, other = sizes
    return tuple((batch if i == 0 else other) if d is None else d for i, d in enumerate(shape))


def symbolic_call(layer: Layer, inputs: Any, args: tuple, kwargs: dict) -> Any:
    """Call `layer` on KerasTensors: record a node and return the output KerasTensors."""
    flat = _flatten(inputs)
    for x in flat:
        if not isinstance(x, KerasTensor):
            raise LayerError(
                f"layer {layer.name!r}: mixing symbolic (Input) and concrete tensors in one "
                f"call is not supported, got {type(x).__name__}"
            )
    runs = []
    for sizes in _STAND_INS:
        zeros = [constant(np.zeros(_stand_in(x.shape, sizes), x.dtype)) for x in flat]
        with training_scope(False):
            out = layer._eager_call(_restructure(inputs, zeros), args, dict(kwargs))
        runs.append(out)
        if not any(d is None for x in flat for d in x.shape):
            break
    first = _flatten(runs[0])
    last = _flatten(runs[-1])
    node = Node(layer, inputs, args, dict(kwargs), parents=[x.node for x in flat if x.node])
    outputs = [
        KerasTensor(
            tuple(a if a == b else None for a, b in zip(x.shape, y.shape, strict=True)),
            x.dtype,
            node,
            index,
        )
        for index, (x, y) in enumerate(zip(first, last, strict=True))
    ]
    node.outputs = _restructure(runs[0], outputs)
    layer._activity_losses = []
    layer._inbound_nodes.append(node)
    return node.outputs


class InputLayer(Layer):
    """The layer behind `Input`: it passes its input through (the functional graph's start)."""

    def __init__(
        self,
        shape: Any = None,
        batch_size: int | None = None,
        dtype: Any = "float32",
        name: str | None = None,
        batch_input_shape: Any = None,
        **kwargs: Any,
    ):
        if batch_input_shape is None:
            if shape is None:
                raise LayerError("Input needs a shape (without the batch dimension)")
            shape = (shape,) if isinstance(shape, int) else tuple(shape)
            batch_input_shape = (batch_size, *shape)
        super().__init__(name=name, batch_input_shape=batch_input_shape, **kwargs)
        self.input_dtype = np.dtype(dtype)
        self.built = True
        node = Node(self, None, (), {})
        node.outputs = KerasTensor(self._batch_input_shape, self.input_dtype, node, 0)
        self._inbound_nodes.append(node)

    @property
    def output(self) -> KerasTensor:
        return self._inbound_nodes[0].outputs

    def call(self, inputs: Any) -> Any:
        return inputs

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dtype": self.input_dtype.name,
            "batch_input_shape": list(self._batch_input_shape),
        }


def Input(  # noqa: N802 (Keras's name)
    shape: Any = None,
    batch_size: int | None = None,
    name: str | None = None,
    dtype: Any = "float32",
    batch_shape: Any = None,
) -> KerasTensor:
    """A symbolic input of a functional model: `Input(shape=(28, 28, 1))`."""
    return InputLayer(
        shape=shape, batch_size=batch_size, dtype=dtype, name=name, batch_input_shape=batch_shape
    ).output

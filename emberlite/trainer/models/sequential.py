"""`Sequential`: a plain stack of layers, each feeding the next.

With an input shape known (an `Input` / `InputLayer` first, or `input_shape=` on the first
layer) it builds at once, through a functional graph that also gives `summary()` its shapes;
otherwise it builds on its first call, from the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from emberlite.trainer.layers.base import Layer, LayerError
from emberlite.trainer.layers.input_layer import InputLayer, KerasTensor
from emberlite.trainer.models.functional import Functional
from emberlite.trainer.models.model import Model
from emberlite.trainer.serialization import deserialize, serialize


class Sequential(Model):
    def __init__(self, layers: Sequence[Layer] | None = None, name: str | None = None, **kwargs):
        super().__init__(name=name, **kwargs)
        self._layers: list[Layer] = []
        self._graph: Functional | None = None
        for layer in layers or ():
            self.add(layer)

    def add(self, layer: Layer | KerasTensor) -> None:
        """Append a layer (an `Input(...)` first fixes the input shape)."""
        if isinstance(layer, KerasTensor):
            layer = layer.node.layer
        if not isinstance(layer, Layer):
            raise LayerError(f"Sequential.add takes layers, got {type(layer).__name__}")
        if isinstance(layer, InputLayer) and self._layers:
            raise LayerError(f"Sequential {self.name!r}: an InputLayer can only come first")
        self._layers.append(layer)
        self._tracked_layers.append(layer)
        self.built, self._graph = False, None
        shape = self._input_batch_shape()
        if shape is not None:
            self.build(shape)

    def pop(self) -> Layer:
        layer = self._layers.pop()
        self._tracked_layers.remove(layer)
        self.built, self._graph = False, None
        return layer

    @property
    def layers(self) -> list[Layer]:
        # Keras leaves the InputLayer out of a Sequential's layers
        return [layer for layer in self._layers if not isinstance(layer, InputLayer)]

    def _input_batch_shape(self) -> tuple | None:
        return self._layers[0]._batch_input_shape if self._layers else None

    def build(self, input_shape: Any = None) -> None:
        """Build every layer for inputs of `input_shape` (batch dimension included)."""
        input_shape = input_shape or self._input_batch_shape()
        if input_shape is None:
            raise LayerError(f"Sequential {self.name!r}: build() needs an input shape")
        first = self._layers[0] if self._layers else None
        dtype = first.input_dtype if isinstance(first, InputLayer) else self.compute_dtype
        x = inputs = InputLayer(batch_input_shape=tuple(input_shape), dtype=dtype).output
        for layer in self.layers:
            x = layer(x)
        self._graph = Functional(inputs, x, name=self.name)
        self._build_input_shape = tuple(input_shape)
        self.built = True

    def _build_for(self, inputs: Any) -> None:
        self.build((None, *tuple(inputs.shape)[1:]))

    def _check_inputs(self, inputs: Any) -> None:
        if self._graph is not None:
            self._graph._check_inputs(inputs)

    def call(self, inputs: Any, training: bool = False) -> Any:
        if not self.layers:
            raise LayerError(f"Sequential {self.name!r} has no layers")
        x = inputs
        for layer in self.layers:
            x = layer(x)
        return x

    @property
    def input_shape(self) -> Any:
        return self._graph.input_shape if self._graph else None

    @property
    def output_shape(self) -> Any:
        return self._graph.output_shape if self._graph else None

    def _summary_rows(self) -> list[tuple[Layer, str]]:
        rows = self._graph._summary_rows() if self._graph else []
        return [(layer, shape) for layer, shape in rows if not isinstance(layer, InputLayer)]

    def get_config(self) -> dict[str, Any]:
        config = {
            "name": self.name,
            "trainable": self.trainable,
            "layers": [serialize(layer) for layer in self._layers],
        }
        if self._build_input_shape is not None:
            config["build_input_shape"] = list(self._build_input_shape)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sequential:
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for entry in config["layers"]:
            model.add(deserialize(entry, what="layer"))
        if not model.built and config.get("build_input_shape"):
            model.build(tuple(config["build_input_shape"]))
        return model

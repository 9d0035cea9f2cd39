"""Activation layers: Activation, ReLU, LeakyReLU, PReLU, ELU, Softmax."""

from __future__ import annotations

from typing import Any

from emberlite.trainer import activations, initializers, regularizers
from emberlite.trainer.layers.base import InputSpec, Layer, LayerError
from emberlite.trainer.tensor import Tensor


class Activation(Layer):
    """An activation function ("relu", ...) as a layer."""

    def __init__(self, activation: Any, **kwargs: Any):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs: Tensor) -> Tensor:
        return self.activation(inputs)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


def _at_least_zero(layer: str, **values: float | None) -> None:
    for what, value in values.items():
        if value is not None and not value >= 0:
            raise LayerError(f"layer {layer!r}: {what} must be >= 0, got {value!r}")


class ReLU(Layer):
    """x above `threshold` (capped at `max_value`), else negative_slope * (x - threshold)."""

    def __init__(
        self,
        max_value: float | None = None,
        negative_slope: float = 0.0,
        threshold: float = 0.0,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        _at_least_zero(self.name, max_value=max_value, negative_slope=negative_slope)
        self.max_value, self.negative_slope, self.threshold = max_value, negative_slope, threshold

    def call(self, inputs: Tensor) -> Tensor:
        return activations.relu(inputs, self.negative_slope, self.max_value, self.threshold)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "max_value": self.max_value,
            "negative_slope": self.negative_slope,
            "threshold": self.threshold,
        }


class LeakyReLU(Layer):
    """x where positive, else negative_slope * x (Keras 2's name for it, `alpha`, works too)."""

    def __init__(self, negative_slope: float = 0.3, alpha: float | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.negative_slope = negative_slope if alpha is None else alpha
        _at_least_zero(self.name, negative_slope=self.negative_slope)

    def call(self, inputs: Tensor) -> Tensor:
        return activations.leaky_relu(inputs, self.negative_slope)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "negative_slope": self.negative_slope}


class PReLU(Layer):
    """x where positive, else alpha * x, with alpha learned per element of an example (one
    alpha along each of `shared_axes`, counted with the batch axis as 0)."""

    def __init__(
        self,
        alpha_initializer: Any = "zeros",
        alpha_regularizer: Any = None,
        shared_axes: Any = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        axes = [shared_axes] if isinstance(shared_axes, int) else shared_axes
        self.shared_axes = None if axes is None else [int(a) for a in axes]

    def build(self, input_shape: tuple) -> None:
        shared = set(self.shared_axes or ())
        if not all(0 < a < len(input_shape) for a in shared):
            raise LayerError(
                f"layer {self.name!r}: shared_axes {self.shared_axes} must be axes 1.."
                f"{len(input_shape) - 1} of inputs of shape {input_shape}"
            )
        shape = tuple(1 if i in shared else d for i, d in enumerate(input_shape) if i > 0)
        self.alpha = self.add_weight(
            "alpha", shape, initializer=self.alpha_initializer, regularizer=self.alpha_regularizer
        )
        kept = {i: d for i, d in enumerate(input_shape) if i > 0 and i not in shared}
        self.input_spec = InputSpec(ndim=len(input_shape), axes=kept)

    def call(self, inputs: Tensor) -> Tensor:
        return activations.relu(inputs) - self.alpha * activations.relu(-inputs)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "alpha_initializer": initializers.serialize(self.alpha_initializer),
            "alpha_regularizer": regularizers.serialize(self.alpha_regularizer),
            "shared_axes": self.shared_axes,
        }


class ELU(Layer):
    """x where positive, else alpha * (exp(x) - 1)."""

    def __init__(self, alpha: float = 1.0, **kwargs: Any):
        super().__init__(**kwargs)
        self.alpha = alpha

    def call(self, inputs: Tensor) -> Tensor:
        return activations.elu(inputs, self.alpha)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "alpha": self.alpha}


class Softmax(Layer):
    """exp(x) / sum(exp(x)) along `axis`."""

    def __init__(self, axis: int = -1, **kwargs: Any):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def call(self, inputs: Tensor) -> Tensor:
        return activations.softmax(inputs, self.axis)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}

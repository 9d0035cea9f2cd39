"""Core layers: Dense, Embedding, Lambda; and `BiasActivationLayer`, the base of the layers
with Keras's bias, `activation` and `activity_regularizer` arguments (Dense, convolutions)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from emberlite.trainer import activations, initializers, regularizers
from emberlite.trainer.layers.base import InputSpec, Layer, LayerError
from emberlite.trainer.ops.array_ops import gather
from emberlite.trainer.ops.math_ops import cast, matmul
from emberlite.trainer.serialization import SerializationError
from emberlite.trainer.tensor import Tensor, Variable


def positive_int(layer: str, what: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise LayerError(f"layer {layer!r}: {what} must be a positive int, got {value!r}")
    return int(value)


class BiasActivationLayer(Layer):
    """The base of Dense and the convolutions: their output gets an optional bias, goes
    through `activation`, then `activity_regularizer` (whose penalty of the output is added
    to `losses`, unscaled, as Keras 3)."""

    def __init__(
        self,
        activation: Any = None,
        use_bias: bool = True,
        bias_initializer: Any = "zeros",
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.bias_initializer = initializers.get(bias_initializer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.bias: Variable | None = None

    def build_bias(self, size: int) -> None:
        if self.use_bias:
            self.bias = self.add_weight(
                "bias",
                (size,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
            )

    def finish(self, outputs: Tensor) -> Tensor:
        if self.bias is not None:
            outputs = outputs + self.bias
        outputs = self.activation(outputs)
        if self.activity_regularizer is not None:
            # NOTE: a float16 output's penalty in float32, where its sum of squares fits
            wide = cast(outputs, np.float32) if outputs.dtype == np.float16 else outputs
            self.add_loss(self.activity_regularizer(wide))
        return outputs

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
        }


class Dense(BiasActivationLayer):
    """activation(inputs @ kernel + bias), over the last axis of inputs of any rank >= 2."""

    def __init__(
        self,
        units: int,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        **kwargs: Any,
    ):
        super().__init__(
            activation=activation,
            use_bias=use_bias,
            bias_initializer=bias_initializer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            **kwargs,
        )
        self.units = positive_int(self.name, "units", units)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.input_spec = InputSpec(min_ndim=2)

    def build(self, input_shape: tuple) -> None:
        features = input_shape[-1]
        self.kernel = self.add_weight(
            "kernel",
            (features, self.units),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )
        self.build_bias(self.units)
        self.input_spec = InputSpec(min_ndim=2, axes={-1: features})

    def call(self, inputs: Tensor) -> Tensor:
        return self.finish(matmul(inputs, self.kernel))

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "units": self.units,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
        }


class Embedding(Layer):
    """Rows of an [input_dim, output_dim] table at integer indices (floats are truncated to
    int32, as Keras does)."""

    autocast_inputs = False

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        embeddings_initializer: Any = "uniform",
        embeddings_regularizer: Any = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.input_dim = positive_int(self.name, "input_dim", input_dim)
        self.output_dim = positive_int(self.name, "output_dim", output_dim)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)

    def build(self, input_shape: tuple) -> None:
        self.embeddings = self.add_weight(
            "embeddings",
            (self.input_dim, self.output_dim),
            initializer=self.embeddings_initializer,
            regularizer=self.embeddings_regularizer,
        )

    def call(self, inputs: Tensor) -> Tensor:
        if inputs.dtype.kind not in "iu":
            inputs = cast(inputs, np.int32)
        return gather(self.embeddings, inputs)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
            "embeddings_regularizer": regularizers.serialize(self.embeddings_regularizer),
        }


class Lambda(Layer):
    """`function(inputs, **arguments)` as a layer.  Only a named activation ("relu", ...) or
    a layer can be saved in a config: Python functions cannot be serialized."""

    def __init__(
        self, function: Callable[..., Any] | str, arguments: dict | None = None, **kwargs: Any
    ):
        super().__init__(**kwargs)
        # a name or a config (what get_config wrote) resolves as an activation
        self.function = activations.get(function) if isinstance(function, str | dict) else function
        if not callable(self.function):
            raise LayerError(f"layer {self.name!r}: Lambda needs a function, got {function!r}")
        self.arguments = dict(arguments or {})

    def call(self, inputs: Any) -> Any:
        return self.function(inputs, **self.arguments)

    def get_config(self) -> dict[str, Any]:
        try:
            function = activations.serialize(self.function)
        except SerializationError:
            raise SerializationError(
                f"Lambda layer {self.name!r} cannot be serialized: its function "
                f"{getattr(self.function, '__name__', self.function)!r} is Python code; give it "
                "a named activation (Lambda('relu')) or write a Layer subclass with get_config"
            ) from None
        return {**super().get_config(), "function": function, "arguments": self.arguments}

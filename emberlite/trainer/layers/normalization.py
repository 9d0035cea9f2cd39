"""BatchNormalization."""

from __future__ import annotations

from typing import Any

import numpy as np

from emberlite.trainer import initializers, mixed_precision, nn, regularizers
from emberlite.trainer.layers.base import InputSpec, Layer, LayerError
from emberlite.trainer.ops.array_ops import reshape
from emberlite.trainer.ops.math_ops import cast
from emberlite.trainer.tensor import Tensor, Variable

_FLOAT32 = mixed_precision.Policy("float32")


class BatchNormalization(Layer):
    """Normalize each feature along `axis` by the batch's statistics while training (also
    updating the moving ones), by the moving statistics in inference (training False, or the
    layer not trainable): gamma * (x - mean) / sqrt(variance + epsilon) + beta.

    The moving statistics follow moving = moving * momentum + batch * (1 - momentum), with
    the batch's biased variance (as Keras 3).  Under "mixed_float16" the layer computes in
    float32 and returns float16, as Keras does.
    """

    def __init__(
        self,
        axis: int | list[int] = -1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        moving_mean_initializer: Any = "zeros",
        moving_variance_initializer: Any = "ones",
        beta_regularizer: Any = None,
        gamma_regularizer: Any = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.axis = axis if isinstance(axis, int) else list(axis)
        self.momentum, self.epsilon = float(momentum), float(epsilon)
        if not 0 <= self.momentum <= 1 or not self.epsilon > 0:
            raise LayerError(
                f"layer {self.name!r}: momentum must be in [0, 1] and epsilon positive, got "
                f"momentum={momentum!r}, epsilon={epsilon!r}"
            )
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)

    def build(self, input_shape: tuple) -> None:
        rank = len(input_shape)
        given = [self.axis] if isinstance(self.axis, int) else self.axis
        axes = sorted({a % rank for a in given if -rank <= a < rank})
        if len(axes) != len(given):
            raise LayerError(
                f"layer {self.name!r}: axis {self.axis} does not name distinct axes of inputs of "
                f"shape {input_shape}"
            )
        self._reduction = tuple(i for i in range(rank) if i not in axes)
        # the parameters' shape broadcast against the input ([C] already is, for the last axis)
        self._broadcast_shape = (
            None
            if axes == [rank - 1]
            else tuple(input_shape[i] if i in axes else 1 for i in range(rank))
        )
        shape = tuple(input_shape[a] for a in axes)
        # float16 parameters would lose too much, so float16 layers keep them in float32
        dtype = np.float32 if self.variable_dtype == "float16" else self.variable_dtype

        def weight(name: str, initializer: Any, regularizer: Any = None, trainable: bool = True):
            return self.add_weight(
                name,
                shape,
                dtype=dtype,
                initializer=initializer,
                regularizer=regularizer,
                trainable=trainable,
            )

        self.gamma = (
            weight("gamma", self.gamma_initializer, self.gamma_regularizer) if self.scale else None
        )
        self.beta = (
            weight("beta", self.beta_initializer, self.beta_regularizer) if self.center else None
        )
        self.moving_mean = weight("moving_mean", self.moving_mean_initializer, trainable=False)
        self.moving_variance = weight(
            "moving_variance", self.moving_variance_initializer, trainable=False
        )
        self.input_spec = InputSpec(ndim=rank, axes={a: input_shape[a] for a in axes})

    def call(self, inputs: Tensor, training: bool = False) -> Tensor:
        # NOTE: float32 math under float16 policies (float16 statistics lose too much), with
        # gamma and beta read as they are
        with mixed_precision.autocast(_FLOAT32):
            x = cast(inputs, np.float32) if inputs.dtype == np.float16 else inputs
            if training and self.trainable:
                mean, variance = nn.moments(x, self._reduction)
                self._follow(self.moving_mean, mean)
                self._follow(self.moving_variance, variance)
            else:
                mean, variance = self.moving_mean, self.moving_variance
            outputs = nn.batch_normalization(
                x,
                self._broadcast(mean),
                self._broadcast(variance),
                self._broadcast(self.beta),
                self._broadcast(self.gamma),
                self.epsilon,
            )
            return cast(outputs, inputs.dtype)

    def _follow(self, moving: Variable, batch: Tensor) -> None:
        moving.assign(moving * self.momentum + cast(batch, moving.dtype) * (1 - self.momentum))

    def _broadcast(self, value: Tensor | None) -> Tensor | None:
        if value is None or self._broadcast_shape is None:
            return value
        return reshape(value, self._broadcast_shape)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
            "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
        }

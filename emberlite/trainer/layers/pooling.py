"""2-D pooling (NHWC): MaxPooling2D, AveragePooling2D and their global forms."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emberlite.trainer import nn
from emberlite.trainer.layers.arguments import channels_last, int_tuple, padding_mode
from emberlite.trainer.layers.base import InputSpec, Layer
from emberlite.trainer.ops.math_ops import reduce_max, reduce_mean
from emberlite.trainer.tensor import Tensor


class _Pooling2D(Layer):
    """A window op over each channel; `strides` default to `pool_size`."""

    def __init__(
        self,
        pool_size: Any = (2, 2),
        strides: Any = None,
        padding: str = "valid",
        data_format: str | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.pool_size = int_tuple(self.name, "pool_size", pool_size, 2)
        self.strides = (
            self.pool_size if strides is None else int_tuple(self.name, "strides", strides, 2)
        )
        self.padding = padding_mode(self.name, padding)
        self.data_format = channels_last(self.name, data_format)
        self.input_spec = InputSpec(ndim=4)

    _pool: Callable[..., Tensor]  # the nn op: (inputs, ksize, strides, padding)

    def call(self, inputs: Tensor) -> Tensor:
        return self._pool(inputs, self.pool_size, self.strides, self.padding.upper())

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "pool_size": self.pool_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
        }


class MaxPooling2D(_Pooling2D):
    """The maximum of each window."""

    _pool = staticmethod(nn.max_pool2d)


class AveragePooling2D(_Pooling2D):
    """The mean of each window (of its elements inside the input, with 'same' padding)."""

    _pool = staticmethod(nn.avg_pool2d)


class _GlobalPooling2D(Layer):
    """A reduction over height and width: [n, h, w, c] -> [n, c] ([n, 1, 1, c] with
    keepdims)."""

    def __init__(self, data_format: str | None = None, keepdims: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        self.data_format = channels_last(self.name, data_format)
        self.keepdims = bool(keepdims)
        self.input_spec = InputSpec(ndim=4)

    _reduce: Callable[..., Tensor]  # the reduction: (inputs, axis, keepdims)

    def call(self, inputs: Tensor) -> Tensor:
        return self._reduce(inputs, (1, 2), self.keepdims)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalAveragePooling2D(_GlobalPooling2D):
    _reduce = staticmethod(reduce_mean)


class GlobalMaxPooling2D(_GlobalPooling2D):
    _reduce = staticmethod(reduce_max)


# Keras's aliases
MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D
GlobalAvgPool2D = GlobalAveragePooling2D
GlobalMaxPool2D = GlobalMaxPooling2D

"""Layers that move elements: Flatten, Reshape, Permute, RepeatVector, UpSampling2D,
ZeroPadding2D, Cropping2D.

None of them puts the batch size into the ops they run (reshapes take -1 for it), so traced
models keep an unknown batch dimension.
"""

from __future__ import annotations

import math
from typing import Any

from emberlite.trainer.layers.arguments import channels_last, int_tuple, pairs_2d
from emberlite.trainer.layers.base import InputSpec, Layer, LayerError
from emberlite.trainer.layers.core import positive_int
from emberlite.trainer.ops import image_ops
from emberlite.trainer.ops.array_ops import concat, pad, reshape, transpose
from emberlite.trainer.tensor import Tensor


class Flatten(Layer):
    """[n, d1, d2, ...] -> [n, d1 * d2 * ...] ([n] -> [n, 1])."""

    def __init__(self, data_format: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.data_format = channels_last(self.name, data_format)

    def call(self, inputs: Tensor) -> Tensor:
        return reshape(inputs, (-1, math.prod(inputs.shape[1:])))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": self.data_format}


class Reshape(Layer):
    """Each example to `target_shape` (which may hold one -1: the size that fits)."""

    def __init__(self, target_shape: Any, **kwargs: Any):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)
        if self.target_shape.count(-1) > 1 or any(d < -1 or d == 0 for d in self.target_shape):
            raise LayerError(
                f"layer {self.name!r}: target_shape {self.target_shape} must hold positive sizes "
                "and at most one -1"
            )

    def call(self, inputs: Tensor) -> Tensor:
        size = math.prod(inputs.shape[1:])
        known = math.prod(d for d in self.target_shape if d != -1)
        fits = size % known == 0 if -1 in self.target_shape else size == known
        if not fits:
            raise LayerError(
                f"layer {self.name!r}: cannot reshape inputs of shape {inputs.shape} "
                f"({size} elements per example) to target_shape {self.target_shape}"
            )
        target = tuple(size // known if d == -1 else d for d in self.target_shape)
        return reshape(inputs, (-1, *target))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "target_shape": list(self.target_shape)}


class Permute(Layer):
    """Axes of each example in the order `dims` (1-based: the batch axis stays first)."""

    def __init__(self, dims: Any, **kwargs: Any):
        super().__init__(**kwargs)
        self.dims = tuple(int(d) for d in dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise LayerError(
                f"layer {self.name!r}: dims {self.dims} must be a permutation of "
                f"1..{len(self.dims)}"
            )
        self.input_spec = InputSpec(ndim=len(self.dims) + 1)

    def call(self, inputs: Tensor) -> Tensor:
        return transpose(inputs, (0, *self.dims))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "dims": list(self.dims)}


class RepeatVector(Layer):
    """[n, features] -> [n, times, features]."""

    def __init__(self, n: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.n = positive_int(self.name, "n", n)
        self.input_spec = InputSpec(ndim=2)

    def call(self, inputs: Tensor) -> Tensor:
        # NOTE: copies joined, and -1 for the batch: a tile or broadcast would take its size
        column = reshape(inputs, (-1, 1, inputs.shape[1]))
        return concat([column] * self.n, axis=1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "n": self.n}


class UpSampling2D(Layer):
    """Height and width times `size`: each pixel repeated ("nearest"), or interpolated
    ("bilinear", as tf.image.resize: half-pixel centers)."""

    def __init__(
        self,
        size: Any = (2, 2),
        data_format: str | None = None,
        interpolation: str = "nearest",
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.size = int_tuple(self.name, "size", size, 2)
        self.data_format = channels_last(self.name, data_format)
        if interpolation not in ("nearest", "bilinear"):
            raise LayerError(
                f"layer {self.name!r}: interpolation must be 'nearest' or 'bilinear', got "
                f"{interpolation!r}"
            )
        self.interpolation = interpolation
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs: Tensor) -> Tensor:
        height, width = inputs.shape[1] * self.size[0], inputs.shape[2] * self.size[1]
        return image_ops.resize(inputs, (height, width), method=self.interpolation)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "size": self.size,
            "data_format": self.data_format,
            "interpolation": self.interpolation,
        }


class ZeroPadding2D(Layer):
    """Zeros around each image: `padding` is an int, (height, width) or
    ((top, bottom), (left, right))."""

    def __init__(self, padding: Any = (1, 1), data_format: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.padding = pairs_2d(self.name, "padding", padding)
        self.data_format = channels_last(self.name, data_format)
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs: Tensor) -> Tensor:
        return pad(inputs, ((0, 0), *self.padding, (0, 0)))

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "padding": [list(p) for p in self.padding],
            "data_format": self.data_format,
        }


class Cropping2D(Layer):
    """Rows and columns cut from each image's edges: `cropping` is an int, (height, width)
    or ((top, bottom), (left, right))."""

    def __init__(self, cropping: Any = ((0, 0), (0, 0)), data_format: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.cropping = pairs_2d(self.name, "cropping", cropping)
        self.data_format = channels_last(self.name, data_format)
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs: Tensor) -> Tensor:
        (top, bottom), (left, right) = self.cropping
        if top + bottom >= inputs.shape[1] or left + right >= inputs.shape[2]:
            raise LayerError(
                f"layer {self.name!r}: cropping {self.cropping} leaves nothing of inputs of "
                f"shape {inputs.shape}"
            )
        # NOTE: stops counted from the end, so the slice does not depend on the image size
        return inputs[:, top : -bottom or None, left : -right or None]

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "cropping": [list(p) for p in self.cropping],
            "data_format": self.data_format,
        }

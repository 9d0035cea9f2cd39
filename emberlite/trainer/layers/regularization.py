"""Dropout and SpatialDropout2D: active only when training."""

from __future__ import annotations

from typing import Any

from emberlite.trainer import nn
from emberlite.trainer.layers.arguments import channels_last
from emberlite.trainer.layers.base import InputSpec, Layer, LayerError
from emberlite.trainer.tensor import Tensor


class Dropout(Layer):
    """While training, zero each element with probability `rate` and scale the rest by
    1 / (1 - rate); `noise_shape` shares one draw along its axes of size 1 (None: the input's
    size).

    The masks come from the ops' generator, which `set_random_seed` seeds, fresh on every
    step.  `seed` is accepted and kept in the config, but a seeded op would draw the same
    mask on every step of a traced training loop, so it does not pick the masks.
    """

    def __init__(
        self, rate: float, noise_shape: Any = None, seed: int | None = None, **kwargs: Any
    ):
        super().__init__(**kwargs)
        if not 0 <= rate < 1:
            raise LayerError(f"layer {self.name!r}: rate must be in [0, 1), got {rate!r}")
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else list(noise_shape)
        self.seed = seed

    def mask_shape(self, inputs: Tensor) -> tuple[int, ...] | None:
        if self.noise_shape is None:
            return None
        if len(self.noise_shape) != inputs.ndim:
            raise LayerError(
                f"layer {self.name!r}: noise_shape {self.noise_shape} does not fit inputs of "
                f"shape {inputs.shape}"
            )
        return tuple(
            d if n is None else n for n, d in zip(self.noise_shape, inputs.shape, strict=True)
        )

    def call(self, inputs: Tensor, training: bool = False) -> Tensor:
        if not training or self.rate == 0:
            return inputs
        return nn.dropout(inputs, self.rate, noise_shape=self.mask_shape(inputs))

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "rate": self.rate,
            "noise_shape": self.noise_shape,
            "seed": self.seed,
        }


class SpatialDropout2D(Dropout):
    """Dropout of whole feature maps: one draw per image and channel."""

    def __init__(
        self, rate: float, data_format: str | None = None, seed: int | None = None, **kwargs: Any
    ):
        super().__init__(rate, seed=seed, **kwargs)
        self.data_format = channels_last(self.name, data_format)
        self.input_spec = InputSpec(ndim=4)

    def mask_shape(self, inputs: Tensor) -> tuple[int, ...]:
        return (inputs.shape[0], 1, 1, inputs.shape[3])

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["noise_shape"]
        return {**config, "data_format": self.data_format}

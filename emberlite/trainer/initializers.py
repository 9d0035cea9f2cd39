"""Weight initializers, as keras.initializers: `init(shape, dtype=None) -> np.ndarray`.

    >>> from emberlite.trainer import initializers
    >>> init = initializers.get("he_normal")
    >>> init((3, 3, 16, 32)).shape
    (3, 3, 16, 32)
    >>> initializers.serialize(initializers.Constant(2.0))
    {'class_name': 'Constant', 'config': {'value': 2.0}}

Initializers without a seed draw from the process generator (`random.set_random_seed`
makes them repeatable); with a seed, every call gives the same values, as in Keras.  Fans
are Keras's: a kernel [..., in, out] has fan_in = in * receptive field (the product of the
leading dimensions), fan_out = out * receptive field.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from emberlite.errors import EmberliteError
from emberlite.trainer import random, serialization
from emberlite.trainer.serialization import Serializable

# stddev of a standard normal truncated to [-2, 2]: dividing by it restores the variance
_TRUNCATED_STDDEV = 0.87962566103423978


class Initializer(Serializable):
    """Base class: `__call__(shape, dtype=None)` returns a NumPy array (float32 default)."""

    def __call__(self, shape: Sequence[int], dtype: Any = None) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must define __call__")

    def get_config(self) -> dict[str, Any]:
        return {}


def _dtype(dtype: Any) -> np.dtype:
    return np.dtype(np.float32 if dtype is None else dtype)


class Zeros(Initializer):
    def __call__(self, shape: Sequence[int], dtype: Any = None) -> np.ndarray:
        return np.zeros(tuple(shape), _dtype(dtype))


class Ones(Initializer):
    def __call__(self, shape: Sequence[int], dtype: Any = None) -> np.ndarray:
        return np.ones(tuple(shape), _dtype(dtype))


class Constant(Initializer):
    """Every element `value`."""

    def __init__(self, value: float = 0.0):
        if np.ndim(value) != 0:
            raise EmberliteError(f"Constant: value must be a scalar, got {value!r}")
        self.value = value

    def __call__(self, shape: Sequence[int], dtype: Any = None) -> np.ndarray:
        return np.full(tuple(shape), self.value, _dtype(dtype))

    def get_config(self) -> dict[str, Any]:
        return {"value": self.value}


class _Random(Initializer):
    """An initializer drawing random numbers (from its seed, else the process generator)."""

    def __init__(self, seed: int | None = None):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise EmberliteError(f"{type(self).__name__}: seed must be an int, got {seed!r}")
        self.seed = seed

    def __call__(self, shape: Sequence[int], dtype: Any = None) -> np.ndarray:
        dtype = _dtype(dtype)
        if dtype.kind != "f":
            raise EmberliteError(
                f"{type(self).__name__} makes floating-point values, not {dtype.name}"
            )
        rng = random.generator() if self.seed is None else np.random.default_rng(self.seed)
        return self._draw(rng, tuple(int(d) for d in shape)).astype(dtype)

    def _draw(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed}


def _truncated_normal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normal values, those beyond two standard deviations drawn again."""
    values = rng.standard_normal(shape)
    while True:
        outside = np.abs(values) > 2
        if not outside.any():
            return values
        values[outside] = rng.standard_normal(int(outside.sum()))


class RandomNormal(_Random):
    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def _draw(self, rng, shape):
        return rng.normal(self.mean, self.stddev, shape)

    def get_config(self) -> dict[str, Any]:
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class TruncatedNormal(RandomNormal):
    """Normal values within two standard deviations of the mean."""

    def _draw(self, rng, shape):
        return self.mean + self.stddev * _truncated_normal(rng, shape)


class RandomUniform(_Random):
    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None):
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def _draw(self, rng, shape):
        return rng.uniform(self.minval, self.maxval, shape)

    def get_config(self) -> dict[str, Any]:
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}


def compute_fans(shape: Sequence[int]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of `shape`, as Keras computes them."""
    shape = tuple(int(d) for d in shape)
    if not shape:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")


class VarianceScaling(_Random):
    """Values of variance scale / n, n the fan of `mode` (fan_in, fan_out or their mean)."""

    def __init__(
        self,
        scale: float = 1.0,
        mode: str = "fan_in",
        distribution: str = "truncated_normal",
        seed: int | None = None,
    ):
        super().__init__(seed)
        name = type(self).__name__
        if not scale > 0:
            raise EmberliteError(f"{name}: scale must be positive, got {scale!r}")
        distribution = "truncated_normal" if distribution == "normal" else distribution
        if mode not in _MODES:
            raise EmberliteError(f"{name}: mode must be one of {_MODES}, got {mode!r}")
        if distribution not in _DISTRIBUTIONS:
            raise EmberliteError(
                f"{name}: distribution must be one of {_DISTRIBUTIONS}, got {distribution!r}"
            )
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def _draw(self, rng, shape):
        fan_in, fan_out = compute_fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, fan)
        if self.distribution == "uniform":
            limit = math.sqrt(3 * variance)
            return rng.uniform(-limit, limit, shape)
        if self.distribution == "untruncated_normal":
            return math.sqrt(variance) * rng.standard_normal(shape)
        return math.sqrt(variance) / _TRUNCATED_STDDEV * _truncated_normal(rng, shape)

    def get_config(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            **super().get_config(),
        }


class _Preset(VarianceScaling):
    """A VarianceScaling of fixed settings, configured by its seed alone (as Keras's)."""

    _settings: tuple[float, str, str]  # scale, mode, distribution

    def __init__(self, seed: int | None = None):
        super().__init__(*self._settings, seed=seed)

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed}


class GlorotUniform(_Preset):
    """Uniform in +-sqrt(6 / (fan_in + fan_out))."""

    _settings = (1.0, "fan_avg", "uniform")


class GlorotNormal(_Preset):
    """Truncated normal of variance 2 / (fan_in + fan_out)."""

    _settings = (1.0, "fan_avg", "truncated_normal")


class HeUniform(_Preset):
    """Uniform in +-sqrt(6 / fan_in)."""

    _settings = (2.0, "fan_in", "uniform")


class HeNormal(_Preset):
    """Truncated normal of variance 2 / fan_in."""

    _settings = (2.0, "fan_in", "truncated_normal")


class LecunUniform(_Preset):
    """Uniform in +-sqrt(3 / fan_in)."""

    _settings = (1.0, "fan_in", "uniform")


class LecunNormal(_Preset):
    """Truncated normal of variance 1 / fan_in."""

    _settings = (1.0, "fan_in", "truncated_normal")


class Orthogonal(_Random):
    """An orthogonal matrix (the weight flattened to [prod(shape[:-1]), shape[-1]]) * gain."""

    def __init__(self, gain: float = 1.0, seed: int | None = None):
        super().__init__(seed)
        self.gain = gain

    def _draw(self, rng, shape):
        if len(shape) < 2:
            raise EmberliteError(f"Orthogonal needs a shape of rank >= 2, got {list(shape)}")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        q, r = np.linalg.qr(rng.standard_normal((max(rows, cols), min(rows, cols))))
        q *= np.sign(np.diag(r))  # makes the distribution uniform (Haar)
        if rows < cols:
            q = q.T
        return self.gain * q.reshape(shape)

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain, **super().get_config()}


class Identity(Initializer):
    """The identity matrix * gain (2-D shapes only; a rectangular one has ones on its
    diagonal)."""

    def __init__(self, gain: float = 1.0):
        self.gain = gain

    def __call__(self, shape: Sequence[int], dtype: Any = None) -> np.ndarray:
        if len(shape) != 2:
            raise EmberliteError(f"Identity needs a 2-D shape, got {list(shape)}")
        return (self.gain * np.eye(*shape)).astype(_dtype(dtype))

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain}


_CLASSES = (
    Zeros,
    Ones,
    Constant,
    RandomNormal,
    RandomUniform,
    TruncatedNormal,
    VarianceScaling,
    GlorotUniform,
    GlorotNormal,
    HeUniform,
    HeNormal,
    LecunUniform,
    LecunNormal,
    Orthogonal,
    Identity,
)
for _cls in _CLASSES:
    serialization.register_serializable()(_cls)

# By name, case and "_" insensitive: "glorot_uniform", "GlorotUniform", "he_normal", ...
_BY_NAME: dict[str, type] = {cls.__name__: cls for cls in _CLASSES}
_BY_NAME.update(zero=Zeros, one=Ones, uniform=RandomUniform, normal=RandomNormal)


def get(identifier: Any) -> Any:
    """An initializer from a name, a serialized config, a class or an initializer (or any
    callable taking (shape, dtype)); None stays None."""
    if identifier is None:
        return None
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    found = serialization.resolve(identifier, _BY_NAME, "initializer")
    if not callable(found):
        raise EmberliteError(f"could not interpret initializer {identifier!r}")
    return found


def serialize(initializer: Any) -> Any:
    return serialization.serialize(initializer)


def deserialize(config: Any, custom_objects: dict[str, Any] | None = None) -> Any:
    return serialization.deserialize(config, custom_objects, "initializer")

"""Activation functions by name, as keras.activations: `get("relu")` is a function of a
tensor, `serialize(fn)` its name.

    >>> import numpy as np
    >>> from emberlite.trainer import activations
    >>> activations.get("relu6")(np.array([-1.0, 3.0, 9.0], np.float32)).numpy()
    array([0., 3., 6.], dtype=float32)
    >>> activations.serialize(activations.get("swish"))
    'silu'

Where Keras 2 and 3 differ, these follow tf.keras / TensorFlow: `gelu` is exact by default
(approximate=False); `hard_sigmoid` is relu6(x + 3) / 6, as tf.nn and Keras 3 (Keras 2's was
clip(0.2 x + 0.5, 0, 1)).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emberlite.trainer import nn, serialization
from emberlite.trainer.ops.array_ops import identity
from emberlite.trainer.ops.math_ops import exp, greater, minimum, where
from emberlite.trainer.serialization import SerializationError
from emberlite.trainer.tensor import Tensor, convert_to_tensor


def relu(
    x: Any, negative_slope: float = 0.0, max_value: float | None = None, threshold: float = 0.0
) -> Tensor:
    """x above `threshold` (capped at `max_value`), else negative_slope * (x - threshold)."""
    x = convert_to_tensor(x)
    if negative_slope == 0 and threshold == 0 and max_value in (None, 6):
        return nn.relu(x) if max_value is None else nn.relu6(x)  # the primitives
    above = x if max_value is None else minimum(x, max_value)
    below = (x - threshold) * negative_slope if negative_slope else 0
    return where(greater(x, threshold), above, below)


def relu6(x: Any) -> Tensor:
    return nn.relu6(x)


def sigmoid(x: Any) -> Tensor:
    return nn.sigmoid(x)


def tanh(x: Any) -> Tensor:
    return nn.tanh(x)


def softmax(x: Any, axis: int = -1) -> Tensor:
    return nn.softmax(x, axis)


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    return nn.log_softmax(x, axis)


def elu(x: Any, alpha: float = 1.0) -> Tensor:
    """x where positive, else alpha * (exp(x) - 1)."""
    y = nn.elu(x)
    return y if alpha == 1 else where(greater(y, 0), y, y * alpha)


def selu(x: Any) -> Tensor:
    return nn.selu(x)


def gelu(x: Any, approximate: bool = False) -> Tensor:
    return nn.gelu(x, approximate=approximate)


def silu(x: Any) -> Tensor:
    """x * sigmoid(x) (swish)."""
    return nn.silu(x)


def softplus(x: Any) -> Tensor:
    return nn.softplus(x)


def softsign(x: Any) -> Tensor:
    """x / (|x| + 1)."""
    x = convert_to_tensor(x)
    return x / (abs(x) + 1)


def hard_sigmoid(x: Any) -> Tensor:
    """relu6(x + 3) / 6."""
    return nn.hard_sigmoid(x)


def hard_silu(x: Any) -> Tensor:
    """x * relu6(x + 3) / 6 (hard_swish)."""
    return nn.hard_swish(x)


def leaky_relu(x: Any, negative_slope: float = 0.2) -> Tensor:
    return nn.leaky_relu(x, alpha=negative_slope)


def exponential(x: Any) -> Tensor:
    return exp(x)


def linear(x: Any) -> Tensor:
    """x unchanged (the activation of None)."""
    return identity(x)


_FUNCTIONS: tuple[Callable[..., Tensor], ...] = (
    relu,
    relu6,
    sigmoid,
    tanh,
    softmax,
    log_softmax,
    elu,
    selu,
    gelu,
    silu,
    softplus,
    softsign,
    hard_sigmoid,
    hard_silu,
    leaky_relu,
    exponential,
    linear,
)
swish = silu
hard_swish = hard_silu
_BY_NAME: dict[str, Callable[..., Tensor]] = {fn.__name__: fn for fn in _FUNCTIONS}
_BY_NAME.update(swish=swish, hard_swish=hard_swish)


def get(identifier: Any) -> Callable[..., Any]:
    """The activation of a name ("relu", ...), a serialized layer, or a callable (as it is);
    None is `linear`."""
    if identifier is None:
        return linear
    found = serialization.resolve(identifier, _BY_NAME, "activation")
    if not callable(found):
        raise SerializationError(f"could not interpret activation {identifier!r}")
    return found


def serialize(activation: Callable[..., Any]) -> Any:
    """The name of a built-in activation; a layer used as one serializes as a layer."""
    if any(activation is fn for fn in _FUNCTIONS):
        return activation.__name__
    if hasattr(activation, "get_config"):
        return serialization.serialize(activation)
    raise SerializationError(
        f"cannot serialize activation {getattr(activation, '__name__', activation)!r}: only "
        f"the built-in ones ({', '.join(sorted(_BY_NAME))}) and layers can be; use a Layer "
        "subclass for a custom one"
    )


def deserialize(config: Any, custom_objects: dict[str, Any] | None = None) -> Any:
    if isinstance(config, str):
        return get(config)
    return serialization.deserialize(config, custom_objects, "activation")

"""Optimizers, as `keras.optimizers` (with TF2's `minimize` for custom loops).

>>> import emberlite.trainer as et
>>> from emberlite.trainer import optimizers
>>> w = et.Variable([1.0, -2.0], name="w")
>>> opt = optimizers.get("sgd")              # a name, a config dict, or an Optimizer
>>> opt.learning_rate = 0.5
>>> opt.minimize(lambda: et.reduce_sum(w * w), [w])
>>> w.numpy()
array([0., 0.], dtype=float32)
>>> [v.name for v in opt.variables]
['SGD/iterations', 'SGD/learning_rate']
"""

from __future__ import annotations

from typing import Any

from emberlite.trainer import serialization
from emberlite.trainer.optimizers import schedules
from emberlite.trainer.optimizers.adagrad import Adagrad
from emberlite.trainer.optimizers.adam import Adam, AdamW
from emberlite.trainer.optimizers.base import Optimizer, OptimizerError
from emberlite.trainer.optimizers.loss_scale import LossScaleOptimizer
from emberlite.trainer.optimizers.rmsprop import RMSprop
from emberlite.trainer.optimizers.sgd import SGD

__all__ = [
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "LossScaleOptimizer",
    "Optimizer",
    "OptimizerError",
    "RMSprop",
    "deserialize",
    "get",
    "schedules",
    "serialize",
]

_BY_NAME = {cls.__name__: cls for cls in (SGD, Adam, AdamW, RMSprop, Adagrad)}


def get(identifier: Any) -> Optimizer | None:
    """An optimizer from a name ("adam", "SGD": with Keras's defaults), a serialized config,
    or an Optimizer itself (returned as it is)."""
    if identifier is None:
        return None
    return _checked(serialization.resolve(identifier, _BY_NAME, "optimizer"), identifier)


def serialize(optimizer: Optimizer) -> dict[str, Any]:
    """`{"class_name": ..., "config": ...}` of an optimizer."""
    return serialization.serialize(optimizer)


def deserialize(config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> Optimizer:
    """The optimizer `serialize` described (a new one: no state)."""
    return _checked(serialization.deserialize(config, custom_objects, what="optimizer"), config)


def _checked(optimizer: Any, identifier: Any) -> Optimizer:
    if not isinstance(optimizer, Optimizer):
        raise OptimizerError(f"cannot interpret {identifier!r} as an optimizer")
    return optimizer

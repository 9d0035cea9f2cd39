"""emberlite's trainer: eager tensors, GradientTape autodiff, and (next) Keras-style models.

The names follow TensorFlow 2, so TF2 code reads the same:

    >>> import emberlite.trainer as et
    >>> x = et.Variable(3.0)
    >>> with et.GradientTape() as outer:
    ...     with et.GradientTape() as inner:
    ...         y = x * x
    ...     dy = inner.gradient(y, x)
    >>> float(dy), float(outer.gradient(dy, x))
    (6.0, 2.0)
"""

from emberlite.trainer.autodiff import GradientTape, UnconnectedGradients
from emberlite.trainer.device import device
from emberlite.trainer.graph import TensorSpec, TracingError
from emberlite.trainer.layers.base import clear_session
from emberlite.trainer.layers.input_layer import Input
from emberlite.trainer.models import Model, Sequential
from emberlite.trainer.ops.array_ops import (
    broadcast_to,
    concat,
    expand_dims,
    gather,
    ones,
    pad,
    reshape,
    split,
    squeeze,
    stack,
    tile,
    transpose,
    unstack,
    zeros,
)
from emberlite.trainer.ops.math_ops import (
    abs,
    add,
    argmax,
    cast,
    cos,
    divide,
    equal,
    exp,
    greater,
    greater_equal,
    less,
    less_equal,
    log,
    logical_and,
    logical_or,
    matmul,
    maximum,
    minimum,
    multiply,
    negative,
    not_equal,
    ones_like,
    pow,
    reduce_logsumexp,
    reduce_max,
    reduce_mean,
    reduce_min,
    reduce_sum,
    reduce_variance,
    rsqrt,
    sign,
    sin,
    sqrt,
    square,
    squared_difference,
    stop_gradient,
    subtract,
    tanh,
    where,
    zeros_like,
)
from emberlite.trainer.random import set_random_seed
from emberlite.trainer.saving.model_io import load_model as load
from emberlite.trainer.tensor import Tensor, Variable, constant, convert_to_tensor

# isort: off
# Keras's submodules (et.layers.Dense, et.optimizers.Adam, ...) and tf.nn's names
from emberlite.trainer import (
    callbacks,
    initializers,
    layers,
    losses,
    metrics,
    mixed_precision,
    nn,
    optimizers,
    regularizers,
)

# last: the decorator takes the name of its module
from emberlite.trainer.function import function

# isort: on

__all__ = [name for name in dir() if not name.startswith("_")]

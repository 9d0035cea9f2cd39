"""`Layer`: the unit models are made of, with Keras's contract.

A layer creates its weights in `build(input_shape)` (called once, on the first call, with
the shape of the first input), computes in `call(inputs, ...)`, and describes itself with
`get_config()` so `from_config` can rebuild it.  `__call__` does the bookkeeping around
`call`, in this order:

1. KerasTensor inputs (from `Input`) make a node of a functional graph instead of computing
   (`emberlite.trainer.models.functional`);
2. NumPy inputs become tensors; floating inputs are cast to the policy's compute dtype;
3. the input is checked against `input_spec` (the error names the layer and both shapes);
4. `build` runs once;
5. `call` runs with `training` resolved (the argument, else the enclosing layer's, else
   False), inside the autocast scope of the layer's dtype policy.

Sub-layers and variables assigned as attributes are tracked, so `weights`,
`trainable_variables` and `get_weights` of the outer layer include theirs.
"""

from __future__ import annotations

import contextlib
import inspect
import re
import threading
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from emberlite.errors import EmberliteError
from emberlite.trainer import mixed_precision
from emberlite.trainer.autodiff import _flatten, _restructure
from emberlite.trainer.ops.math_ops import cast
from emberlite.trainer.serialization import _REGISTRY, registered_name
from emberlite.trainer.tensor import Tensor, Variable, convert_to_tensor


class LayerError(EmberliteError, ValueError):
    """A layer got an input it cannot take, or was set up wrongly; names the layer."""


# -- names ----------------------------------------------------------------------------------

_name_counts: defaultdict[str, int] = defaultdict(int)


def unique_name(prefix: str) -> str:
    """ "dense", then "dense_1", "dense_2", ... per process (as Keras names layers)."""
    count = _name_counts[prefix]
    _name_counts[prefix] += 1
    return prefix if count == 0 else f"{prefix}_{count}"


def clear_session() -> None:
    """Restart automatic layer names from "dense", "conv2d", ... (keras.backend's name)."""
    _name_counts.clear()


def snake_case(name: str) -> str:
    """Keras's default layer names: Conv2D -> conv2d, MaxPooling2D -> max_pooling2d."""
    name = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


# -- the training flag of the enclosing call ----------------------------------------------------

_context = threading.local()


def current_training() -> bool | None:
    return getattr(_context, "training", None)


@contextlib.contextmanager
def training_scope(training: bool | None) -> Iterator[None]:
    previous = current_training()
    _context.training = training
    try:
        yield
    finally:
        _context.training = previous


# -- input specs ------------------------------------------------------------------------------


@dataclass
class InputSpec:
    """What a layer accepts: rank bounds and fixed sizes of some axes (Keras's InputSpec)."""

    ndim: int | None = None
    min_ndim: int | None = None
    max_ndim: int | None = None
    axes: dict[int, int] = field(default_factory=dict)

    def check(self, layer: str, index: int, shape: tuple) -> None:
        def fail(expected: str) -> None:
            raise LayerError(
                f"Input {index} of layer {layer!r} is incompatible with the layer: expected "
                f"{expected}, but received input with shape {_shape_str(shape)}"
            )

        rank = len(shape)
        if self.ndim is not None and rank != self.ndim:
            fail(f"ndim={self.ndim}, found ndim={rank}")
        if self.min_ndim is not None and rank < self.min_ndim:
            fail(f"min_ndim={self.min_ndim}, found ndim={rank}")
        if self.max_ndim is not None and rank > self.max_ndim:
            fail(f"max_ndim={self.max_ndim}, found ndim={rank}")
        for axis, size in self.axes.items():
            if -rank <= axis < rank and shape[axis] not in (None, size):
                fail(f"axis {axis} of input shape to have value {size}")


def _shape_str(shape: Sequence[int | None]) -> str:
    return (
        "("
        + ", ".join("None" if d is None else str(d) for d in shape)
        + ("," if len(shape) == 1 else "")
        + ")"
    )


# -- the layer --------------------------------------------------------------------------------


class Layer:
    """Base class of all layers (and of `Model`).

    Args:
        trainable: whether its weights are trained (False also runs BatchNormalization in
            inference mode, as Keras does).
        name: unique within a model; default: the class name in snake case, numbered.
        dtype: a dtype policy ("float32", "mixed_float16", a `Policy`); default: the global
            policy.
        input_shape / batch_input_shape / batch_size / input_dim: on the first layer of a
            `Sequential`, the shape of its input (without / with the batch dimension).
    """

    _call_accepts_training: bool = False
    # Keras's autocast: floating inputs are cast to the compute dtype (Embedding opts out:
    # float ids above 2048 would round in float16)
    autocast_inputs: bool = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _REGISTRY.setdefault(registered_name(cls), cls)
        parameters = inspect.signature(cls.call).parameters
        cls._call_accepts_training = "training" in parameters

    def __init__(
        self,
        trainable: bool = True,
        name: str | None = None,
        dtype: Any = None,
        **kwargs: Any,
    ):
        self._trainable = trainable
        self.name = name or unique_name(snake_case(type(self).__name__))
        self._dtype_policy = mixed_precision.Policy(
            dtype if dtype is not None else mixed_precision.global_policy()
        )
        self.built = False
        self.input_spec: InputSpec | list[InputSpec] | None = None
        self._activity_losses: list[Tensor] = []
        self._loss_fns: list[Any] = []  # (variable, regularizer): recomputed on access
        self._inbound_nodes: list[Any] = []
        self._build_input_shape: Any = None
        self._batch_input_shape = _batch_input_shape(self.name, kwargs)
        if kwargs:
            raise LayerError(
                f"layer {self.name!r} ({type(self).__name__}): keyword argument(s) not "
                f"understood: {', '.join(sorted(kwargs))}"
            )

    # -- dtypes ----------------------------------------------------------------------------------

    @property
    def dtype_policy(self) -> mixed_precision.Policy:
        return self._dtype_policy

    @property
    def dtype(self) -> str:
        """The dtype of the layer's variables (Keras's meaning)."""
        return self._dtype_policy.variable_dtype

    @property
    def compute_dtype(self) -> str:
        return self._dtype_policy.compute_dtype

    @property
    def variable_dtype(self) -> str:
        return self._dtype_policy.variable_dtype

    # -- tracking --------------------------------------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        if "_tracked_layers" not in self.__dict__:  # set before Layer.__init__ ran
            object.__setattr__(self, "_tracked_layers", [])
            object.__setattr__(self, "_tracked_variables", [])
        if not name.startswith("_"):
            for item in value if isinstance(value, list | tuple) else (value,):
                if isinstance(item, Layer) and item is not self:
                    if not any(item is known for known in self._tracked_layers):
                        self._tracked_layers.append(item)
                elif isinstance(item, Variable):
                    if not any(item is known for known in self._tracked_variables):
                        self._tracked_variables.append(item)
        object.__setattr__(self, name, value)

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for layer in self._tracked_layers:
            layer.trainable = value

    def _flatten_layers(self) -> Iterator[Layer]:
        """This layer and every nested layer once, depth first."""
        seen: set[int] = set()
        stack = [self]
        while stack:
            layer = stack.pop(0)
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            yield layer
            stack[:0] = layer._tracked_layers

    def _own_variables(self) -> list[Variable]:
        return list(self._tracked_variables)

    @property
    def trainable_weights(self) -> list[Variable]:
        if not self.trainable:
            return []
        return _unique(
            v
            for layer in self._flatten_layers()
            if layer.trainable
            for v in layer._own_variables()
            if v.trainable
        )

    @property
    def non_trainable_weights(self) -> list[Variable]:
        trainable = {id(v) for v in self.trainable_weights}
        everything = (v for layer in self._flatten_layers() for v in layer._own_variables())
        return _unique(v for v in everything if id(v) not in trainable)

    @property
    def weights(self) -> list[Variable]:
        return self.trainable_weights + self.non_trainable_weights

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights
    variables = weights

    def get_weights(self) -> list[np.ndarray]:
        return [np.array(v.numpy()) for v in self.weights]

    def set_weights(self, weights: Sequence[Any]) -> None:
        mine = self.weights
        if len(weights) != len(mine):
            raise LayerError(
                f"layer {self.name!r} has {len(mine)} weights, but set_weights got "
                f"{len(weights)} arrays"
            )
        for variable, value in zip(mine, weights, strict=True):
            value = np.asarray(value)
            if value.shape != variable.shape:
                raise LayerError(
                    f"layer {self.name!r}: weight {variable.name!r} has shape "
                    f"{_shape_str(variable.shape)}, the array given has {_shape_str(value.shape)}"
                )
            variable.assign(value.astype(variable.dtype))

    @property
    def layers(self) -> list[Layer]:
        return list(self._tracked_layers)

    def count_params(self) -> int:
        return int(sum(v.size for v in self.weights))

    # -- weights and losses ----------------------------------------------------------------------

    def add_weight(
        self,
        name: str = "weight",
        shape: Sequence[int] = (),
        dtype: Any = None,
        initializer: Any = "glorot_uniform",
        regularizer: Any = None,
        trainable: bool = True,
    ) -> Variable:
        """A new variable of this layer, named "<layer>/<name>", created by `initializer`."""
        from emberlite.trainer import initializers, regularizers

        dtype = np.dtype(dtype or self.variable_dtype)
        shape = tuple(int(d) for d in shape)
        value = initializers.get(initializer)(shape, dtype=dtype)
        variable = Variable(
            np.asarray(value, dtype), trainable=trainable, name=f"{self.name}/{name}"
        )
        self._tracked_variables.append(variable)
        if regularizer is not None:
            self._loss_fns.append((variable, regularizers.get(regularizer)))
        return variable

    def add_loss(self, loss: Any) -> None:
        """A loss to minimize besides the model's (activity regularization, ...)."""
        self._activity_losses.append(convert_to_tensor(loss))

    @property
    def losses(self) -> list[Tensor]:
        """Losses of this layer and its sublayers: those added in the last call and the
        weight regularization (computed now, so it differentiates within a tape)."""
        out: list[Tensor] = []
        for layer in self._flatten_layers():
            out.extend(layer._activity_losses)
            out.extend(reg(v) for v, reg in layer._loss_fns if layer.trainable)
        return out

    # -- calling ---------------------------------------------------------------------------------

    def build(self, input_shape: Any) -> None:
        """Create the weights for inputs of this shape (override; the default has none)."""
        self.built = True

    def call(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"layer {type(self).__name__} must define call()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not args:
            if "inputs" not in kwargs:
                raise LayerError(f"layer {self.name!r} was called without inputs")
            args = (kwargs.pop("inputs"),)
        inputs, rest = args[0], args[1:]
        from emberlite.trainer.layers.input_layer import KerasTensor, symbolic_call

        if any(isinstance(x, KerasTensor) for x in _flatten(inputs)):
            return symbolic_call(self, inputs, rest, kwargs)
        return self._eager_call(inputs, rest, kwargs)

    def _eager_call(self, inputs: Any, rest: tuple, kwargs: dict) -> Any:
        inputs = self._convert_inputs(inputs)
        self._check_inputs(inputs)
        if not self.built:
            self._build_for(inputs)
        training = kwargs.pop("training", None)
        if training is None:
            training = current_training()
        if self._call_accepts_training:
            kwargs["training"] = bool(training)
        self._activity_losses = []
        with training_scope(training), mixed_precision.autocast(self._dtype_policy):
            return self.call(inputs, *rest, **kwargs)

    def _convert_inputs(self, inputs: Any) -> Any:
        compute = np.dtype(self.compute_dtype if self.autocast_inputs else np.float32)

        def convert(x: Any) -> Any:
            if x is None:
                return None
            if not isinstance(x, Tensor):
                array = np.asarray(x)
                return convert_to_tensor(
                    array.astype(compute) if array.dtype.kind == "f" else array
                )
            if x.dtype.kind == "f" and x.dtype != compute:
                return cast(x, compute)
            return x

        return _restructure(inputs, [convert(x) for x in _flatten(inputs)])

    def _check_inputs(self, inputs: Any) -> None:
        if self.input_spec is None:
            return
        flat = _flatten(inputs)
        specs = self.input_spec if isinstance(self.input_spec, list) else [self.input_spec]
        for index, (spec, x) in enumerate(zip(specs, flat, strict=False)):
            if spec is not None:
                spec.check(self.name, index, tuple(x.shape))

    def _build_for(self, inputs: Any) -> None:
        shapes = _restructure(inputs, [tuple(x.shape) for x in _flatten(inputs)])
        self._build_input_shape = shapes
        with mixed_precision.autocast(mixed_precision.Policy("float32")):
            self.build(shapes)
        self.built = True
        self._check_inputs(inputs)

    # -- configs ---------------------------------------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this layer (subclasses add theirs)."""
        config: dict[str, Any] = {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": self._dtype_policy.name,
        }
        if self._batch_input_shape is not None:
            config["batch_input_shape"] = list(self._batch_input_shape)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} built={self.built}>"


def _unique(variables: Iterator[Variable]) -> list[Variable]:
    seen: set[int] = set()
    out = []
    for v in variables:
        if id(v) not in seen:
            seen.add(id(v))
            out.append(v)
    return out


def _batch_input_shape(layer: str, kwargs: dict[str, Any]) -> tuple | None:
    """Keras's ways of giving the first layer its input shape, as one batch shape."""
    batch_shape = kwargs.pop("batch_input_shape", None) or kwargs.pop("batch_shape", None)
    input_shape = kwargs.pop("input_shape", None)
    batch_size = kwargs.pop("batch_size", None)
    input_dim = kwargs.pop("input_dim", None)
    if input_dim is not None and input_shape is None:
        input_shape = (input_dim,)
    if batch_shape is not None:
        return tuple(None if d is None else int(d) for d in batch_shape)
    if input_shape is not None:
        if isinstance(input_shape, int):
            input_shape = (input_shape,)
        return (batch_size,) + tuple(None if d is None else int(d) for d in input_shape)
    return None

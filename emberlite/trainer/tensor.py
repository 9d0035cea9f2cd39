"""Eager tensors and variables.

A `Tensor` is an immutable array value on a device (NumPy on the CPU, a numba device array on
a GPU) with a dtype and a shape.  Operators and NumPy ufuncs on tensors run emberlite's ops,
so they are recorded by an active GradientTape and can be differentiated.  A `Variable` is
the mutable kind: `assign` gives it a new value (earlier reads keep theirs).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from emberlite.errors import EmberliteError
from emberlite.trainer.device import CPU, Device, current_device, parse_device

DEFAULT_FLOAT = np.dtype(np.float32)
DEFAULT_INT = np.dtype(np.int32)


class Tensor:
    """An immutable value on a device.  Create one with `constant` or an op."""

    __slots__ = ("_data", "_device", "__weakref__")
    # NumPy defers binary operators to us (ndarray + Tensor -> Tensor.__radd__) and sends
    # its ufuncs through __array_ufunc__, so NumPy code on tensors stays differentiable.
    __array_priority__ = 100

    def __init__(self, data: Any, device: Device = CPU):
        self._data = data
        self._device = device

    # -- what it is ---------------------------------------------------------------------------

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self._data.dtype)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self._data.shape)

    @property
    def ndim(self) -> int:
        return len(self._data.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def device(self) -> str:
        return str(self._device)

    def numpy(self) -> np.ndarray:
        """The value as a NumPy array (a copy from the GPU; a read-only view on the CPU)."""
        return self._value(".numpy()")

    def _value(self, how: str) -> np.ndarray:
        """The value for Python code; refused while a trace would bake it into a graph."""
        from emberlite.trainer import graph

        graph.check_readable(self, how)
        return self._host()

    def _host(self) -> np.ndarray:
        """The value, unguarded: for emberlite's own code that does not read it in Python
        (kernels run on the host, captured constants, repr)."""
        array = self._device.backend.to_host(self._data)
        if array is self._data:
            array = array.view()
            array.flags.writeable = False
        return array

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        # NOTE: the read-only view of numpy(), so np.asarray(t)[...] = v cannot change the
        # tensor; np.array(t) asks for a copy (copy=True) and gets a writable one.
        array = self._value("np.asarray()")
        if dtype is not None and np.dtype(dtype) != array.dtype:
            if copy is False:
                raise ValueError(f"converting a {array.dtype} tensor to {dtype} needs a copy")
            return array.astype(dtype)
        return array.copy() if copy else array

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a scalar tensor")
        return self.shape[0]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __bool__(self) -> bool:
        return bool(self._value("bool()"))

    def __float__(self) -> float:
        return float(self._value("float()"))

    def __int__(self) -> int:
        return int(self._value("int()"))

    def __index__(self) -> int:
        if self.dtype.kind not in "iu":
            raise TypeError(f"only integer tensors can be indices, not {self.dtype}")
        return int(self._value("using it as an index"))

    def __repr__(self) -> str:
        head = f"<Tensor shape={self.shape} dtype={self.dtype.name} device={self.device}"
        return f"{head}\n{self._host()}>"

    __hash__ = object.__hash__  # identity, as in TF: == is element-wise

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        from emberlite.trainer.ops.math_ops import UFUNC_REDUCTIONS, UFUNCS

        if method == "reduce" and ufunc.__name__ in UFUNC_REDUCTIONS and kwargs.get("out") is None:
            reduce = UFUNC_REDUCTIONS[ufunc.__name__]
            return reduce(
                inputs[0], axis=kwargs.get("axis", 0), keepdims=kwargs.get("keepdims", False)
            )
        op = UFUNCS.get(ufunc.__name__)
        if method != "__call__" or op is None or kwargs:
            return NotImplemented
        return op(*inputs)

    # -- operators (each is an op, so tapes see them) ------------------------------------------

    def __add__(self, other):
        return _ops().add(self, other)  # noqa: E704

    def __radd__(self, other):
        return _ops().add(other, self)  # noqa: E704

    def __sub__(self, other):
        return _ops().subtract(self, other)  # noqa: E704

    def __rsub__(self, other):
        return _ops().subtract(other, self)  # noqa: E704

    def __mul__(self, other):
        return _ops().multiply(self, other)  # noqa: E704

    def __rmul__(self, other):
        return _ops().multiply(other, self)  # noqa: E704

    def __truediv__(self, other):
        return _ops().divide(self, other)  # noqa: E704

    def __rtruediv__(self, other):
        return _ops().divide(other, self)  # noqa: E704

    def __pow__(self, other):
        return _ops().pow(self, other)  # noqa: E704

    def __rpow__(self, other):
        return _ops().pow(other, self)  # noqa: E704

    def __matmul__(self, other):
        return _ops().matmul(self, other)  # noqa: E704

    def __rmatmul__(self, other):
        return _ops().matmul(other, self)  # noqa: E704

    def __neg__(self):
        return _ops().negative(self)  # noqa: E704

    def __abs__(self):
        return _ops().abs(self)  # noqa: E704

    def __lt__(self, other):
        return _ops().less(self, other)  # noqa: E704

    def __le__(self, other):
        return _ops().less_equal(self, other)  # noqa: E704

    def __gt__(self, other):
        return _ops().greater(self, other)  # noqa: E704

    def __ge__(self, other):
        return _ops().greater_equal(self, other)  # noqa: E704

    def __eq__(self, other):
        return _ops().equal(self, other)  # noqa: E704

    def __ne__(self, other):
        return _ops().not_equal(self, other)  # noqa: E704

    def __getitem__(self, index: Any) -> Tensor:
        from emberlite.trainer.ops.array_ops import getitem

        return getitem(self, index)

    @property
    def T(self) -> Tensor:  # noqa: N802 (NumPy's name)
        from emberlite.trainer.ops.array_ops import transpose

        return transpose(self)


class Variable(Tensor):
    """A named, mutable tensor; trainable variables are watched by tapes automatically."""

    __slots__ = ("name", "trainable", "_id")
    _ids = itertools.count()

    def __init__(
        self, initial_value: Any, trainable: bool = True, name: str | None = None, dtype: Any = None
    ):
        value = convert_to_tensor(initial_value, dtype)
        super().__init__(value._data, value._device)
        self.trainable = trainable
        self._id = next(Variable._ids)
        self.name = name or f"Variable:{self._id}"

    def assign(self, value: Any) -> Variable:
        from emberlite.trainer import graph

        new = self._coerce(value)
        graph.record_assign(self, new)  # NOTE: a traced function repeats it on every call
        self._data = to_device(new, self._device)._data
        return self

    def assign_add(self, delta: Any) -> Variable:
        return self.assign(_ops().add(self.read_value(), self._coerce(delta)))

    def assign_sub(self, delta: Any) -> Variable:
        return self.assign(_ops().subtract(self.read_value(), self._coerce(delta)))

    def read_value(self) -> Tensor:
        """The current value as a plain tensor (later assigns do not change it)."""
        from emberlite.trainer import graph

        value = Tensor(self._data, self._device)
        graph.record_op("read_variable", (self,), {}, (value,))  # a trace reads it when replayed
        return value

    def _coerce(self, value: Any) -> Tensor:
        new = convert_to_tensor(value, self.dtype)
        if new.shape != self.shape:
            raise EmberliteError(
                f"cannot assign a value of shape {list(new.shape)} to variable {self.name!r} "
                f"of shape {list(self.shape)}"
            )
        return new

    def __repr__(self) -> str:
        return (
            f"<Variable {self.name!r} shape={self.shape} dtype={self.dtype.name}\n{self._host()}>"
        )


def _ops() -> Any:
    from emberlite.trainer.ops import math_ops

    return math_ops


def _host_array(value: Any, dtype: Any) -> np.ndarray:
    if dtype is None:
        array = np.asarray(value)
        if array.dtype == np.float64 and not isinstance(value, np.ndarray | np.generic):
            array = array.astype(DEFAULT_FLOAT)  # Python floats become float32, as in TF
        elif array.dtype == np.int64 and not isinstance(value, np.ndarray | np.generic):
            array = array.astype(DEFAULT_INT)
        elif array.dtype.kind not in "biufc":
            raise EmberliteError(f"cannot make a tensor of {type(value).__name__} ({array.dtype})")
        return array
    return np.asarray(value, dtype=np.dtype(dtype))


def constant(value: Any, dtype: Any = None, shape: Any = None) -> Tensor:
    """A tensor of `value` (Python numbers, nested lists, NumPy arrays, tensors).

    Python floats become float32 and Python ints int32, as in TensorFlow; NumPy arrays and
    scalars keep their dtype (arrays are copied: changing one later leaves the tensor).
    Placed on the device of the enclosing `device(...)` block, else the CPU.
    """
    immutable = isinstance(value, Tensor)
    if immutable:
        value = value.numpy()
    array = _host_array(value, dtype)
    if shape is not None:
        array = np.broadcast_to(array, tuple(shape)).copy()
    elif not immutable and isinstance(value, np.ndarray) and np.may_share_memory(array, value):
        array = array.copy()  # NOTE: the caller may change its array later; we must not
    placed = current_device() or CPU
    return Tensor(placed.backend.to_device(array), placed)


def convert_to_tensor(value: Any, dtype: Any = None) -> Tensor:
    """`value` itself if it is already a tensor (of `dtype`), else `constant(value, dtype)`."""
    if isinstance(value, Tensor):
        if dtype is None and isinstance(value, Variable):
            # NOTE: inside a mixed-precision layer's call, composite ops see the variable in
            # the compute dtype from the start (their dtype checks included)
            from emberlite.trainer.ops.registry import autocast

            value = autocast(value)
        if dtype is not None and value.dtype != np.dtype(dtype):
            raise EmberliteError(
                f"expected a tensor of {np.dtype(dtype).name}, got {value.dtype.name}"
            )
        return value
    return constant(value, dtype)


def to_device(tensor: Tensor, device: Device | str) -> Tensor:
    """The same value on `device` (no copy when it is already there)."""
    target = parse_device(device)
    if tensor._device == target:
        return tensor
    host = tensor._device.backend.to_host(tensor._data)
    return Tensor(target.backend.to_device(host), target)

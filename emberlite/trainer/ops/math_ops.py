"""Elementwise math, comparisons, reductions and matmul.

Primitives carry a NumPy kernel and a gradient rule; the rest (reduce_mean, reduce_min,
reduce_logsumexp, square, rsqrt, ...) are plain Python on primitives and need no rule.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from emberlite.trainer.ops.registry import primitive
from emberlite.trainer.tensor import Tensor, convert_to_tensor

# -- helpers ----------------------------------------------------------------------------------


def constant_like(value: Any, like: Tensor) -> Tensor:
    """`value` as a tensor of `like`'s dtype on `like`'s device."""
    from emberlite.trainer.tensor import to_device

    return to_device(Tensor(np.asarray(value, like.dtype)), like._device)


def zeros_like(x: Any) -> Tensor:
    x = convert_to_tensor(x)
    return constant_like(np.zeros(x.shape, x.dtype), x)


def ones_like(x: Any) -> Tensor:
    x = convert_to_tensor(x)
    return constant_like(np.ones(x.shape, x.dtype), x)


def _binary_operands(a: Any, b: Any) -> tuple[Tensor, Tensor]:
    """Tensors for a binary op: a Python number takes the dtype of the tensor beside it."""
    if isinstance(a, Tensor) and not isinstance(b, Tensor) and np.ndim(b) == 0:
        return a, _scalar_like(b, a)
    if isinstance(b, Tensor) and not isinstance(a, Tensor) and np.ndim(a) == 0:
        return _scalar_like(a, b), b
    return convert_to_tensor(a), convert_to_tensor(b)


def _scalar_like(value: Any, like: Tensor) -> Tensor:
    # NOTE: as TensorFlow does, refuse what the dtype cannot hold instead of truncating
    # (int32 tensor * 2.5 would silently become * 2).
    kind = np.asarray(value).dtype.kind
    if (kind == "f" and like.dtype.kind not in "fc") or (kind == "c" and like.dtype.kind != "c"):
        raise TypeError(f"cannot convert {value!r} to a tensor of {like.dtype.name}")
    return constant_like(value, like)


def unbroadcast(g: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Sum `g` over the axes broadcasting added to reach g.shape from `shape`."""
    if g.shape == tuple(shape):
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, d in enumerate(shape) if d == 1 and g.shape[lead + i] != 1
    )
    return reshape_to(reduce_sum(g, axis=axes), shape)


def reshape_to(x: Tensor, shape: tuple[int, ...]) -> Tensor:
    from emberlite.trainer.ops.array_ops import reshape

    return x if x.shape == tuple(shape) else reshape(x, shape)


# -- binary arithmetic ------------------------------------------------------------------------


@primitive("add")
def _add(a, b):
    return np.add(a, b)


@_add.grad
def _(op, g):
    a, b = op.inputs
    return unbroadcast(g, a.shape), unbroadcast(g, b.shape)


@primitive("subtract")
def _subtract(a, b):
    return np.subtract(a, b)


@_subtract.grad
def _(op, g):
    a, b = op.inputs
    return unbroadcast(g, a.shape), unbroadcast(negative(g), b.shape)


@primitive("multiply")
def _multiply(a, b):
    return np.multiply(a, b)


@_multiply.grad
def _(op, g):
    a, b = op.inputs
    return unbroadcast(g * b, a.shape), unbroadcast(g * a, b.shape)


@primitive("divide")
def _divide(a, b):
    return np.true_divide(a, b)


@_divide.grad
def _(op, g):
    a, b = op.inputs
    return unbroadcast(g / b, a.shape), unbroadcast(negative(g) * a / (b * b), b.shape)


@primitive("pow")
def _pow(a, b):
    return np.power(a, b)


@_pow.grad
def _(op, g):
    a, b = op.inputs
    da = g * b * pow(a, b - 1)
    # d/db a^b = a^b ln a; where a <= 0 the log is undefined and TF's gradient is 0.
    safe = where(greater(a, 0), a, ones_like(a))
    db = where(greater(a, 0), g * op.outputs[0] * log(safe), zeros_like(g))
    return unbroadcast(da, a.shape), unbroadcast(db, b.shape)


@primitive("maximum")
def _maximum(a, b):
    return np.maximum(a, b)


@_maximum.grad
def _(op, g):
    a, b = op.inputs
    pick_a = greater_equal(a, b)
    return unbroadcast(where(pick_a, g, zeros_like(g)), a.shape), unbroadcast(
        where(pick_a, zeros_like(g), g), b.shape
    )


@primitive("minimum")
def _minimum(a, b):
    return np.minimum(a, b)


@_minimum.grad
def _(op, g):
    a, b = op.inputs
    pick_a = less_equal(a, b)
    return unbroadcast(where(pick_a, g, zeros_like(g)), a.shape), unbroadcast(
        where(pick_a, zeros_like(g), g), b.shape
    )


def add(a: Any, b: Any) -> Tensor:
    return _add(*_binary_operands(a, b))


def subtract(a: Any, b: Any) -> Tensor:
    return _subtract(*_binary_operands(a, b))


def multiply(a: Any, b: Any) -> Tensor:
    return _multiply(*_binary_operands(a, b))


def divide(a: Any, b: Any) -> Tensor:
    return _divide(*_binary_operands(a, b))


def pow(a: Any, b: Any) -> Tensor:  # noqa: A001 (TF's name)
    return _pow(*_binary_operands(a, b))


def maximum(a: Any, b: Any) -> Tensor:
    return _maximum(*_binary_operands(a, b))


def minimum(a: Any, b: Any) -> Tensor:
    return _minimum(*_binary_operands(a, b))


def square(x: Any) -> Tensor:
    x = convert_to_tensor(x)
    return x * x


def squared_difference(a: Any, b: Any) -> Tensor:
    return square(subtract(a, b))


# -- comparisons and selection (no gradient flows through the condition) -------------------------


def _comparison(name: str, ufunc: np.ufunc):
    prim = primitive(name, differentiable=False)(lambda a, b: ufunc(a, b))

    def compare(a: Any, b: Any) -> Tensor:
        return prim(*_binary_operands(a, b))

    compare.__name__ = name
    return compare


equal = _comparison("equal", np.equal)
not_equal = _comparison("not_equal", np.not_equal)
less = _comparison("less", np.less)
less_equal = _comparison("less_equal", np.less_equal)
greater = _comparison("greater", np.greater)
greater_equal = _comparison("greater_equal", np.greater_equal)
logical_and = _comparison("logical_and", np.logical_and)
logical_or = _comparison("logical_or", np.logical_or)


@primitive("where")
def _where(condition, x, y):
    return np.where(condition, x, y)


@_where.grad
def _(op, g):
    condition, x, y = op.inputs
    zeros = zeros_like(g)
    return (
        None,
        unbroadcast(where(condition, g, zeros), x.shape),
        unbroadcast(where(condition, zeros, g), y.shape),
    )


def where(condition: Any, x: Any, y: Any) -> Tensor:
    """Elements of x where condition holds, else of y (broadcasting)."""
    x, y = _binary_operands(x, y)
    return _where(convert_to_tensor(condition), x, y)


# -- unary math -------------------------------------------------------------------------------


def _unary(name: str, kernel, rule):
    prim = primitive(name)(kernel)
    prim.grad(rule)
    return prim


negative = _unary("negative", np.negative, lambda op, g: (negative(g),))
exp = _unary("exp", np.exp, lambda op, g: (g * op.outputs[0],))
log = _unary("log", np.log, lambda op, g: (g / op.inputs[0],))
sqrt = _unary("sqrt", np.sqrt, lambda op, g: (g / (op.outputs[0] * 2),))
tanh = _unary("tanh", np.tanh, lambda op, g: (g * (1 - square(op.outputs[0])),))
abs = _unary("abs", np.abs, lambda op, g: (g * sign(op.inputs[0]),))  # noqa: A001 (TF's name)
sin = _unary("sin", np.sin, lambda op, g: (g * cos(op.inputs[0]),))
cos = _unary("cos", np.cos, lambda op, g: (negative(g) * sin(op.inputs[0]),))
sign = primitive("sign", differentiable=False)(np.sign)
floor = primitive("floor", differentiable=False)(np.floor)
round = primitive("round", differentiable=False)(np.round)  # noqa: A001 (TF's name), half to even


def rsqrt(x: Any) -> Tensor:
    return 1 / sqrt(x)


def reciprocal(x: Any) -> Tensor:
    return 1 / convert_to_tensor(x)


def log1p(x: Any) -> Tensor:
    return log(1 + convert_to_tensor(x))


# -- reductions -------------------------------------------------------------------------------


def _axes(axis: Any, ndim: int, op: str = "reduce") -> tuple[int, ...]:
    from emberlite.trainer.ops.array_ops import normalize_axis

    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    return tuple(sorted({normalize_axis(a, ndim, op) for a in axes}))


@primitive("reduce_sum")
def _reduce_sum(x, axis, keepdims):
    return np.sum(x, axis=axis, keepdims=keepdims)


@_reduce_sum.grad
def _(op, g):
    x = op.inputs[0]
    if not op.attrs["keepdims"]:
        g = reshape_to(g, tuple(1 if i in op.attrs["axis"] else d for i, d in enumerate(x.shape)))
    from emberlite.trainer.ops.array_ops import broadcast_to

    return (broadcast_to(g, x.shape),)


@primitive("reduce_max")
def _reduce_max(x, axis, keepdims):
    return np.max(x, axis=axis, keepdims=keepdims)


@_reduce_max.grad
def _(op, g):
    # Ties share the gradient equally, as TensorFlow does.
    x, y = op.inputs[0], op.outputs[0]
    kept = tuple(1 if i in op.attrs["axis"] else d for i, d in enumerate(x.shape))
    y, g = reshape_to(y, kept), reshape_to(g, kept)
    mask = cast(equal(x, y), x.dtype)
    return (mask * g / reduce_sum(mask, axis=op.attrs["axis"], keepdims=True),)


def reduce_sum(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    x = convert_to_tensor(x)
    return _reduce_sum(x, axis=_axes(axis, x.ndim, "reduce_sum"), keepdims=keepdims)


def reduce_max(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    x = convert_to_tensor(x)
    return _reduce_max(x, axis=_axes(axis, x.ndim, "reduce_max"), keepdims=keepdims)


def reduce_min(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    x = convert_to_tensor(x)
    if x.dtype.kind == "b":
        return cast(reduce_min(cast(x, np.uint8), axis, keepdims), x.dtype)
    # NOTE: the max of the mirror image.  -x mirrors floats, but not integers: -INT_MIN
    # overflows and -x of unsigned wraps, so for them it is ~x (-1 - x, or MAX - x unsigned).
    flip = negative if x.dtype.kind in "fc" else (lambda v: subtract(~np.zeros((), x.dtype), v))
    return flip(reduce_max(flip(x), axis, keepdims))


def reduce_mean(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    x = convert_to_tensor(x)
    axes = _axes(axis, x.ndim)
    count = int(np.prod([x.shape[a] for a in axes]))
    return reduce_sum(x, axes, keepdims) / constant_like(count, x)


def reduce_logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """log(sum(exp(x))) computed without overflow (the max is taken out first)."""
    x = convert_to_tensor(x)
    peak = stop_gradient(reduce_max(x, axis, keepdims=True))
    out = log(reduce_sum(exp(x - peak), axis, keepdims=True)) + peak
    return (
        out
        if keepdims
        else reshape_to(
            out, tuple(d for i, d in enumerate(x.shape) if i not in _axes(axis, x.ndim))
        )
    )


def reduce_variance(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    mean = reduce_mean(x, axis, keepdims=True)
    return reduce_mean(square(convert_to_tensor(x) - mean), axis, keepdims)


@primitive("argmax", differentiable=False)
def _argmax(x, axis):
    return np.argmax(x, axis=axis)


def argmax(x: Any, axis: int = 0) -> Tensor:
    return cast(_argmax(convert_to_tensor(x), axis=axis), np.int64)


# -- matmul, cast, identity ---------------------------------------------------------------------


@primitive("matmul")
def _matmul(a, b):
    from emberlite.trainer.kernels import cpu

    # NOTE: on the CPU kernels' own threads with single-threaded BLAS: OpenBLAS's idle
    # threads would otherwise spin beside the numba kernels (cpu.matmul says why).
    return cpu.matmul(a, b)


@_matmul.grad
def _(op, g):
    from emberlite.trainer.ops.array_ops import swap_last

    a, b = op.inputs
    return unbroadcast(matmul(g, swap_last(b)), a.shape), unbroadcast(
        matmul(swap_last(a), g), b.shape
    )


def matmul(a: Any, b: Any, transpose_a: bool = False, transpose_b: bool = False) -> Tensor:
    """Matrix product of the last two axes, batch axes broadcast (tf.linalg.matmul)."""
    from emberlite.trainer.ops.array_ops import swap_last

    a, b = convert_to_tensor(a), convert_to_tensor(b)
    if a.ndim < 2 or b.ndim < 2:
        raise ValueError(
            f"matmul needs inputs of rank >= 2, got shapes {list(a.shape)} and {list(b.shape)}"
        )
    return _matmul(swap_last(a) if transpose_a else a, swap_last(b) if transpose_b else b)


@primitive("cast")
def _cast(x, dtype):
    return x.astype(dtype)


@_cast.grad
def _(op, g):
    x = op.inputs[0]
    return (cast(g, x.dtype) if x.dtype.kind == "f" else None,)


def cast(x: Any, dtype: Any) -> Tensor:
    x = convert_to_tensor(x)
    dtype = np.dtype(dtype)
    if x.dtype == dtype:
        from emberlite.trainer.ops.array_ops import identity

        return identity(x)
    return _cast(x, dtype=dtype)


@primitive("stop_gradient", differentiable=False)
def _stop_gradient(x):
    return x


def stop_gradient(x: Any) -> Tensor:
    """The same value, through which no gradient flows."""
    return _stop_gradient(convert_to_tensor(x))


# NumPy ufuncs that run as emberlite ops when given tensors (Tensor.__array_ufunc__).
UFUNCS = {
    "add": add,
    "subtract": subtract,
    "multiply": multiply,
    "true_divide": divide,
    "divide": divide,
    "power": pow,
    "negative": negative,
    "exp": exp,
    "log": log,
    "sqrt": sqrt,
    "tanh": tanh,
    "absolute": abs,
    "sin": sin,
    "cos": cos,
    "maximum": maximum,
    "minimum": minimum,
    "square": square,
    "matmul": matmul,
    "equal": equal,
    "not_equal": not_equal,
    "less": less,
    "less_equal": less_equal,
    "greater": greater,
    "greater_equal": greater_equal,
    "sign": sign,
}
# ufunc.reduce (np.sum, np.max, np.min on tensors).
UFUNC_REDUCTIONS = {"add": reduce_sum, "maximum": reduce_max, "minimum": reduce_min}

"""NumPy's API over emberlite tensors, as tf.experimental.numpy is over TensorFlow's.

    >>> import emberlite.trainer as et
    >>> import emberlite.trainer.numpy as tnp
    >>> x = et.Variable([1.0, 2.0, 3.0])
    >>> with et.GradientTape() as tape:
    ...     y = tnp.sum(tnp.square(x - tnp.mean(x)))
    >>> tape.gradient(y, x).numpy()
    array([-2.,  0.,  2.], dtype=float32)

Every function takes tensors, NumPy arrays, Python numbers and (nested) lists of them, returns
tensors, and runs emberlite ops, so a GradientTape differentiates through it.  Dtypes follow
NumPy (arrays keep theirs; a Python number beside a tensor takes the tensor's dtype, NEP 50),
except that new float values default to float32 and new ints to int32, as in TensorFlow:
`array(1.0)`, `zeros(3)`, `linspace(0, 1)`, and the float results of integer inputs
(`sqrt(2)`, `mean` of ints, int / int, int * 0.5) are float32.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from typing import Any

import numpy as _np

from emberlite.trainer.ops import array_ops, extra_ops, math_ops
from emberlite.trainer.ops.array_ops import identity as _same
from emberlite.trainer.ops.array_ops import normalize_axis
from emberlite.trainer.ops.registry import OpError
from emberlite.trainer.tensor import DEFAULT_FLOAT, DEFAULT_INT, Tensor, constant

# -- names ------------------------------------------------------------------------------------

bool_ = _np.bool_
int8, int16, int32, int64 = _np.int8, _np.int16, _np.int32, _np.int64
uint8, uint16, uint32, uint64 = _np.uint8, _np.uint16, _np.uint32, _np.uint64
float16, float32, float64 = _np.float16, _np.float32, _np.float64
complex64, complex128 = _np.complex64, _np.complex128
dtype = _np.dtype
finfo, iinfo = _np.finfo, _np.iinfo
ndarray = Tensor
newaxis = None
pi, e, inf, nan = math.pi, math.e, math.inf, math.nan


# -- conversion -------------------------------------------------------------------------------


def _has_tensor(x: Any) -> bool:
    if isinstance(x, Tensor):
        return True
    return isinstance(x, list | tuple) and builtins.any(_has_tensor(v) for v in x)


def asarray(a: Any, dtype: Any = None) -> Tensor:
    """`a` as a tensor (lists of tensors are stacked, so gradients reach each element)."""
    if isinstance(a, list | tuple) and a and _has_tensor(a):
        t = array_ops.stack([asarray(v) for v in a])
    elif isinstance(a, Tensor):
        t = _same(a)
    else:
        return constant(a, dtype)
    return t if dtype is None else math_ops.cast(t, dtype)


def array(object: Any, dtype: Any = None, copy: bool = True, ndmin: int = 0) -> Tensor:  # noqa: A002
    """`object` as a tensor of at least `ndmin` axes (tensors are immutable: no copy needed)."""
    t = asarray(object, dtype)
    return t if t.ndim >= ndmin else array_ops.reshape(t, (1,) * (ndmin - t.ndim) + t.shape)


def copy(a: Any) -> Tensor:
    """The same value (tensors are immutable)."""
    return asarray(a)


def _is_number(x: Any) -> bool:
    """A Python number (NumPy scalars are arrays: they keep their dtype)."""
    return isinstance(x, bool | int | float | complex) and not isinstance(x, _np.generic)


def _float(x: Any) -> Tensor:
    """`x` as a tensor of a floating (or complex) dtype: integers and bools become float32."""
    x = asarray(x)
    return x if x.dtype.kind in "fc" else math_ops.cast(x, DEFAULT_FLOAT)


def _beside(t: Tensor, scalar: Any) -> Tensor:
    """`t`, promoted so that it can hold the Python number `scalar` (NumPy's weak scalars)."""
    kind = t.dtype.kind
    if isinstance(scalar, complex) and kind != "c":
        return math_ops.cast(t, _np.complex128 if t.dtype == _np.float64 else _np.complex64)
    if isinstance(scalar, float) and kind in "biu":
        return math_ops.cast(t, DEFAULT_FLOAT)
    if not isinstance(scalar, bool) and isinstance(scalar, int) and kind == "b":
        return math_ops.cast(t, DEFAULT_INT)
    return t


def _operands(a: Any, b: Any) -> tuple[Any, Any]:
    """A binary op's operands: tensors, or a tensor and a Python number it can hold."""
    if _is_number(b):
        a = asarray(a)
        return _beside(a, b), b
    if _is_number(a):
        b = asarray(b)
        return a, _beside(b, a)
    return asarray(a), asarray(b)


def _axes(axis: Any, ndim: int, op: str) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if _np.ndim(axis) == 0 else tuple(axis)
    normalized = tuple(normalize_axis(a, ndim, op) for a in axes)
    if len(set(normalized)) != len(normalized):
        raise OpError(f"{op}: repeated axis in {list(axes)}")
    return normalized


def _wide(x: Tensor) -> Tensor:
    """NumPy's accumulator dtype for sum/prod/cumsum: small ints and bools widen to 64 bits."""
    if x.dtype.kind in "bi" and x.dtype != _np.int64:
        return math_ops.cast(x, _np.int64)
    if x.dtype.kind == "u" and x.dtype != _np.uint64:
        return math_ops.cast(x, _np.uint64)
    return x


def _shape(shape: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in _np.reshape(shape, -1))


# -- creation ---------------------------------------------------------------------------------


def zeros(shape: Any, dtype: Any = float32) -> Tensor:
    """A tensor of zeros (float32 unless `dtype` says otherwise)."""
    return constant(_np.zeros(_shape(shape), dtype))


def ones(shape: Any, dtype: Any = float32) -> Tensor:
    """A tensor of ones (float32 unless `dtype` says otherwise)."""
    return constant(_np.ones(_shape(shape), dtype))


empty = zeros  # NOTE: no uninitialised memory: tensors are values


def zeros_like(a: Any, dtype: Any = None) -> Tensor:
    """Zeros of `a`'s shape and dtype."""
    a = asarray(a)
    return zeros(a.shape, a.dtype if dtype is None else dtype)


def ones_like(a: Any, dtype: Any = None) -> Tensor:
    """Ones of `a`'s shape and dtype."""
    a = asarray(a)
    return ones(a.shape, a.dtype if dtype is None else dtype)


def full(shape: Any, fill_value: Any, dtype: Any = None) -> Tensor:
    """`fill_value` broadcast to `shape` (differentiable in a tensor `fill_value`)."""
    value = asarray(fill_value, dtype)
    if isinstance(fill_value, Tensor):
        return array_ops.broadcast_to(value, _shape(shape))
    return constant(_np.full(_shape(shape), value.numpy(), value.dtype))


def full_like(a: Any, fill_value: Any, dtype: Any = None) -> Tensor:
    """`fill_value` in `a`'s shape and (unless given) dtype."""
    a = asarray(a)
    return full(a.shape, asarray(fill_value, a.dtype if dtype is None else dtype))


def arange(start: Any, stop: Any = None, step: Any = 1, dtype: Any = None) -> Tensor:
    """Evenly spaced values in [start, stop): int32 for integer arguments, else float32."""
    bounds = [v.numpy().item() if isinstance(v, Tensor) else v for v in (start, stop, step)]
    if bounds[1] is None:
        bounds[:2] = 0, bounds[0]
    values = _np.arange(*bounds, dtype=dtype)
    if dtype is None:
        values = values.astype(DEFAULT_FLOAT if values.dtype.kind == "f" else DEFAULT_INT)
    return constant(values)


def linspace(
    start: Any,
    stop: Any,
    num: int = 50,
    endpoint: bool = True,
    retstep: bool = False,
    dtype: Any = None,
    axis: int = 0,
) -> Any:
    """`num` evenly spaced values from start to stop; differentiable in tensor endpoints."""
    lo, hi = _float(start), _float(stop)
    out_dtype = _np.result_type(lo.dtype, hi.dtype) if dtype is None else _np.dtype(dtype)
    div = num - 1 if endpoint else num
    if not (isinstance(start, Tensor) or isinstance(stop, Tensor)):
        values, step = _np.linspace(
            lo.numpy(), hi.numpy(), num, endpoint, retstep=True, dtype=out_dtype, axis=axis
        )
        values = constant(values)
        return (values, asarray(step, _np.result_type(out_dtype, float32))) if retstep else values
    if lo.dtype != hi.dtype:
        common = _np.result_type(lo.dtype, hi.dtype)
        lo, hi = math_ops.cast(lo, common), math_ops.cast(hi, common)
    shape = _np.broadcast_shapes(lo.shape, hi.shape)
    frac = _np.arange(num, dtype=_np.float64) / div if div > 0 else _np.zeros(num)
    frac = constant(frac.reshape((num,) + (1,) * len(shape)), lo.dtype)
    delta = hi - lo
    values = lo + frac * delta
    if endpoint and num > 1:  # NOTE: exactly `stop` at the end, as NumPy gives
        last = array_ops.expand_dims(array_ops.broadcast_to(hi, shape), 0)
        values = array_ops.concat([values[: num - 1], last], axis=0)
    values = moveaxis(values, 0, axis)
    values = math_ops.cast(values, out_dtype)
    if not retstep:
        return values
    return values, (delta / div if div > 0 else full_like(delta, nan))


def eye(N: int, M: int | None = None, k: int = 0, dtype: Any = float32) -> Tensor:  # noqa: N803
    """An N x M matrix with ones on diagonal k."""
    return constant(_np.eye(N, M, k, dtype))


def identity(n: int, dtype: Any = float32) -> Tensor:
    """The n x n identity matrix."""
    return eye(n, dtype=dtype)


# -- elementwise ------------------------------------------------------------------------------


def add(x1: Any, x2: Any) -> Tensor:
    """x1 + x2, broadcasting."""
    return math_ops.add(*_operands(x1, x2))


def subtract(x1: Any, x2: Any) -> Tensor:
    """x1 - x2, broadcasting."""
    return math_ops.subtract(*_operands(x1, x2))


def multiply(x1: Any, x2: Any) -> Tensor:
    """x1 * x2, broadcasting."""
    return math_ops.multiply(*_operands(x1, x2))


def _to_float(v: Any) -> Any:
    if isinstance(v, Tensor):
        return v if v.dtype.kind in "fc" else math_ops.cast(v, DEFAULT_FLOAT)
    return v if isinstance(v, float | complex) else float(v)


def divide(x1: Any, x2: Any) -> Tensor:
    """x1 / x2 (true division; integers give float32)."""
    a, b = _operands(x1, x2)
    return math_ops.divide(_to_float(a), _to_float(b))


true_divide = divide


def power(x1: Any, x2: Any) -> Tensor:
    """x1 ** x2, broadcasting."""
    return math_ops.pow(*_operands(x1, x2))


def maximum(x1: Any, x2: Any) -> Tensor:
    """Element-wise maximum (NaN propagates; ties send the gradient to x1)."""
    return math_ops.maximum(*_operands(x1, x2))


def minimum(x1: Any, x2: Any) -> Tensor:
    """Element-wise minimum (NaN propagates; ties send the gradient to x1)."""
    return math_ops.minimum(*_operands(x1, x2))


def clip(a: Any, a_min: Any = None, a_max: Any = None) -> Tensor:
    """`a` limited to [a_min, a_max] (either may be None); gradient 1 inside, ends included."""
    x = asarray(a)
    if a_min is not None:
        x = maximum(x, a_min)
    if a_max is not None:
        x = minimum(x, a_max)
    return x


def negative(x: Any) -> Tensor:
    """-x."""
    return math_ops.negative(asarray(x))


def positive(x: Any) -> Tensor:
    """+x (the same value)."""
    return asarray(x)


def absolute(x: Any) -> Tensor:
    """|x| (gradient sign(x): 0 at 0)."""
    return math_ops.abs(asarray(x))


abs = absolute  # noqa: A001 (NumPy's name)


def sign(x: Any) -> Tensor:
    """-1, 0 or 1 (no gradient flows)."""
    return math_ops.sign(asarray(x))


def square(x: Any) -> Tensor:
    """x * x."""
    return math_ops.square(asarray(x))


def reciprocal(x: Any) -> Tensor:
    """1 / x."""
    return divide(1.0, x)


def _float_unary(name: str, fn: Any) -> Any:
    def f(x: Any) -> Tensor:
        return fn(_float(x))

    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"NumPy's {name}, element-wise (integer inputs give float32)."
    return f


exp = _float_unary("exp", math_ops.exp)
expm1 = _float_unary("expm1", extra_ops.expm1)
exp2 = _float_unary("exp2", lambda x: math_ops.exp(x * math.log(2)))
log = _float_unary("log", math_ops.log)
log1p = _float_unary("log1p", extra_ops.log1p)
log2 = _float_unary("log2", lambda x: math_ops.log(x) / math.log(2))
log10 = _float_unary("log10", lambda x: math_ops.log(x) / math.log(10))
sqrt = _float_unary("sqrt", math_ops.sqrt)
sin = _float_unary("sin", math_ops.sin)
cos = _float_unary("cos", math_ops.cos)
tan = _float_unary("tan", lambda x: math_ops.sin(x) / math_ops.cos(x))
tanh = _float_unary("tanh", math_ops.tanh)
# NOTE: with expm1, sinh keeps its digits near 0 where (exp(x) - exp(-x)) / 2 cancels.
sinh = _float_unary("sinh", lambda x: (extra_ops.expm1(x) - extra_ops.expm1(-x)) / 2)
cosh = _float_unary("cosh", lambda x: (math_ops.exp(x) + math_ops.exp(-x)) / 2)
floor = _float_unary("floor", math_ops.floor)
ceil = _float_unary("ceil", lambda x: -math_ops.floor(-x))


def round(a: Any, decimals: int = 0) -> Tensor:  # noqa: A001 (NumPy's name)
    """Round to `decimals` digits, halves to even (no gradient flows)."""
    x = asarray(a)
    if x.dtype.kind in "biu":
        if decimals >= 0:
            return x
        return math_ops.cast(round(math_ops.cast(x, _np.float64), decimals), x.dtype)
    if decimals == 0:
        return math_ops.round(x)
    scale = 10.0**decimals
    return math_ops.round(x * scale) / scale


around = round


def where(condition: Any, x: Any = None, y: Any = None) -> Any:
    """x where condition holds, else y (broadcasting); `where(c)` is `nonzero(c)`."""
    if x is None and y is None:
        return nonzero(condition)
    if x is None or y is None:
        raise ValueError("where: give both x and y, or neither")
    return math_ops.where(_bool(condition), *_operands(x, y))


def nonzero(a: Any) -> tuple[Tensor, ...]:
    """The indices of the nonzero elements, one int64 tensor per axis."""
    return tuple(constant(i.astype(_np.int64)) for i in _np.nonzero(asarray(a).numpy()))


# -- comparisons and logic (no gradient flows) ------------------------------------------------


def _compare(name: str) -> Any:
    op = getattr(math_ops, name)

    def f(x1: Any, x2: Any) -> Tensor:
        return op(*_operands(x1, x2))

    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"NumPy's {name}, element-wise (a bool tensor)."
    return f


equal = _compare("equal")
not_equal = _compare("not_equal")
less = _compare("less")
less_equal = _compare("less_equal")
greater = _compare("greater")
greater_equal = _compare("greater_equal")


def _bool(x: Any) -> Tensor:
    x = asarray(x)
    return x if x.dtype.kind == "b" else math_ops.not_equal(x, 0)


def logical_and(x1: Any, x2: Any) -> Tensor:
    """x1 and x2, element-wise."""
    return math_ops.logical_and(_bool(x1), _bool(x2))


def logical_or(x1: Any, x2: Any) -> Tensor:
    """x1 or x2, element-wise."""
    return math_ops.logical_or(_bool(x1), _bool(x2))


def logical_xor(x1: Any, x2: Any) -> Tensor:
    """x1 xor x2, element-wise."""
    return math_ops.not_equal(_bool(x1), _bool(x2))


def logical_not(x: Any) -> Tensor:
    """not x, element-wise."""
    return math_ops.equal(_bool(x), False)


def isnan(x: Any) -> Tensor:
    """Where x is NaN."""
    x = asarray(x)
    return math_ops.not_equal(x, x) if x.dtype.kind in "fc" else full(x.shape, False)


def isinf(x: Any) -> Tensor:
    """Where x is +inf or -inf."""
    x = asarray(x)
    return math_ops.equal(math_ops.abs(x), inf) if x.dtype.kind == "f" else full(x.shape, False)


def isfinite(x: Any) -> Tensor:
    """Where x is neither infinite nor NaN."""
    x = asarray(x)
    return math_ops.less(math_ops.abs(x), inf) if x.dtype.kind == "f" else full(x.shape, True)


# -- reductions -------------------------------------------------------------------------------


def sum(a: Any, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Sum over `axis` (all axes by default); small ints and bools sum as int64, as NumPy."""
    x = asarray(a, dtype)
    return math_ops.reduce_sum(_wide(x), _axes(axis, x.ndim, "sum"), keepdims)


def mean(a: Any, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Tensor:
    """Mean over `axis` (integers average as float32)."""
    x = _float(asarray(a, dtype))
    return math_ops.reduce_mean(x, _axes(axis, x.ndim, "mean"), keepdims)


def amax(a: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Maximum over `axis` (ties share the gradient equally)."""
    x = asarray(a)
    return math_ops.reduce_max(x, _axes(axis, x.ndim, "max"), keepdims)


def amin(a: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Minimum over `axis` (ties share the gradient equally)."""
    x = asarray(a)
    return math_ops.reduce_min(x, _axes(axis, x.ndim, "min"), keepdims)


max, min = amax, amin  # noqa: A001 (NumPy's names)


def prod(a: Any, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Tensor:
    """Product over `axis`: a tree of multiplies, so gradients are exact at 0 and negatives."""
    x = _wide(asarray(a, dtype))
    axes = _axes(axis, x.ndim, "prod")
    kept = [i for i in range(x.ndim) if i not in axes]
    n = int(_np.prod([x.shape[i] for i in axes]))
    rows = int(_np.prod([x.shape[i] for i in kept]))
    y = array_ops.reshape(array_ops.transpose(x, kept + list(axes)), (rows, n))
    if n == 0:
        y = ones((rows, 1), x.dtype)
    while y.shape[1] > 1:
        half, odd = divmod(y.shape[1], 2)
        parts = array_ops.split(y, [half, half, odd] if odd else [half, half], axis=1)
        y = parts[0] * parts[1]
        if odd:
            y = array_ops.concat([y, parts[2]], axis=1)
    if keepdims:
        return array_ops.reshape(y, [1 if i in axes else d for i, d in enumerate(x.shape)])
    return array_ops.reshape(y, [x.shape[i] for i in kept])


def var(
    a: Any, axis: Any = None, dtype: Any = None, ddof: int = 0, keepdims: bool = False
) -> Tensor:
    """Variance over `axis`: sum((x - mean)^2) / (n - ddof)."""
    x = _float(asarray(a, dtype))
    axes = _axes(axis, x.ndim, "var")
    n = int(_np.prod([x.shape[i] for i in axes]))
    centered = x - math_ops.reduce_mean(x, axes, keepdims=True)
    squares = math_ops.reduce_sum(math_ops.square(centered), axes, keepdims)
    return squares / float(builtins.max(n - ddof, 0))


def std(
    a: Any, axis: Any = None, dtype: Any = None, ddof: int = 0, keepdims: bool = False
) -> Tensor:
    """Standard deviation over `axis` (no finite gradient where it is 0)."""
    return math_ops.sqrt(var(a, axis, dtype, ddof, keepdims))


def _keep_axis(index: Tensor, x: Tensor, axis: Any, keepdims: bool) -> Tensor:
    if not keepdims:
        return index
    if axis is None:
        return array_ops.reshape(index, (1,) * x.ndim)
    return array_ops.expand_dims(index, normalize_axis(axis, x.ndim, "argmax"))


def argmax(a: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index of the (first) maximum along `axis`, of the flattened array by default (int64)."""
    x = asarray(a)
    flat = array_ops.reshape(x, (-1,)) if axis is None else x
    index = math_ops.argmax(flat, 0 if axis is None else normalize_axis(axis, x.ndim, "argmax"))
    return _keep_axis(index, x, axis, keepdims)


def argmin(a: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index of the (first) minimum along `axis`, of the flattened array by default (int64)."""
    x = asarray(a)
    if x.dtype.kind == "b":
        x = math_ops.cast(x, _np.uint8)
    # NOTE: argmax of the order reversed: -x for floats, ~x for integers (-x overflows at
    # INT_MIN and wraps for unsigned; ~x = -1 - x, or MAX - x unsigned, never does).
    if x.dtype.kind in "fc":
        mirrored = math_ops.negative(x)
    else:
        mirrored = math_ops.subtract(~_np.zeros((), x.dtype), x)
    return argmax(mirrored, axis, keepdims)


def all(a: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Whether every element along `axis` is nonzero."""
    x = asarray(a)
    misses = math_ops.cast(logical_not(x), _np.int64)
    return math_ops.equal(math_ops.reduce_sum(misses, _axes(axis, x.ndim, "all"), keepdims), 0)


def any(a: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Whether some element along `axis` is nonzero."""
    x = asarray(a)
    hits = math_ops.cast(_bool(x), _np.int64)
    return math_ops.greater(math_ops.reduce_sum(hits, _axes(axis, x.ndim, "any"), keepdims), 0)


def cumsum(a: Any, axis: int | None = None, dtype: Any = None) -> Tensor:
    """Running sum along `axis` (of the flattened array by default).

    A log-depth scan (Hillis-Steele) of adds, so it is differentiable to any order.
    """
    x = _wide(asarray(a, dtype))
    if axis is None:
        x, axis = array_ops.reshape(x, (-1,)), 0
    axis = normalize_axis(axis, x.ndim, "cumsum")
    moved = moveaxis(x, axis, -1)
    n = moved.shape[-1]
    if x.size == 0:
        return x
    y = array_ops.reshape(moved, (-1, n))
    shift = 1
    while shift < n:
        y = y + array_ops.pad(y[:, : n - shift], [[0, 0], [shift, 0]])
        shift *= 2
    return moveaxis(array_ops.reshape(y, moved.shape), -1, axis)


# -- products ---------------------------------------------------------------------------------


def tensordot(a: Any, b: Any, axes: Any = 2) -> Tensor:
    """Sum of products over `axes` (an int N: a's last N with b's first N, or two lists)."""
    a, b = asarray(a), asarray(b)
    if _np.ndim(axes) == 0:
        n = int(axes)
        a_axes, b_axes = list(range(a.ndim - n, a.ndim)), list(range(n))
    else:
        a_axes, b_axes = ([x] if _np.ndim(x) == 0 else list(x) for x in axes)
    a_axes = [normalize_axis(i, a.ndim, "tensordot") for i in a_axes]
    b_axes = [normalize_axis(i, b.ndim, "tensordot") for i in b_axes]
    if [a.shape[i] for i in a_axes] != [b.shape[i] for i in b_axes]:
        raise OpError(
            f"tensordot: axes {a_axes} of shape {list(a.shape)} and {b_axes} of shape "
            f"{list(b.shape)} differ"
        )
    free_a = [i for i in range(a.ndim) if i not in a_axes]
    free_b = [i for i in range(b.ndim) if i not in b_axes]
    k = int(_np.prod([a.shape[i] for i in a_axes]))
    m = int(_np.prod([a.shape[i] for i in free_a]))
    n = int(_np.prod([b.shape[i] for i in free_b]))
    left = array_ops.reshape(array_ops.transpose(a, free_a + a_axes), (m, k))
    right = array_ops.reshape(array_ops.transpose(b, b_axes + free_b), (k, n))
    out = math_ops.matmul(left, right)
    return array_ops.reshape(out, [a.shape[i] for i in free_a] + [b.shape[i] for i in free_b])


def dot(a: Any, b: Any) -> Tensor:
    """NumPy's dot: a's last axis with b's only (1-D) or second-to-last axis."""
    a, b = asarray(a), asarray(b)
    if a.ndim == 0 or b.ndim == 0:
        return multiply(a, b)
    return tensordot(a, b, ([-1], [0 if b.ndim == 1 else -2]))


def inner(a: Any, b: Any) -> Tensor:
    """Sum of products over the last axes of a and b."""
    a, b = asarray(a), asarray(b)
    if a.ndim == 0 or b.ndim == 0:
        return multiply(a, b)
    return tensordot(a, b, ([-1], [-1]))


def outer(a: Any, b: Any) -> Tensor:
    """a[i] * b[j] over the flattened inputs."""
    return multiply(array_ops.reshape(asarray(a), (-1, 1)), array_ops.reshape(asarray(b), (1, -1)))


def matmul(x1: Any, x2: Any) -> Tensor:
    """Matrix product with NumPy's rules: batch axes broadcast, 1-D operands are vectors."""
    a, b = asarray(x1), asarray(x2)
    if a.ndim == 0 or b.ndim == 0:
        raise OpError(f"matmul: scalar operand (shapes {list(a.shape)} and {list(b.shape)})")
    out = math_ops.matmul(
        array_ops.expand_dims(a, 0) if a.ndim == 1 else a,
        array_ops.expand_dims(b, 1) if b.ndim == 1 else b,
    )
    drop = ([-2] if a.ndim == 1 else []) + ([-1] if b.ndim == 1 else [])
    return array_ops.squeeze(out, drop) if drop else out


# -- shapes -----------------------------------------------------------------------------------


def shape(a: Any) -> tuple[int, ...]:
    """The shape, as a tuple of ints."""
    return asarray(a).shape


def ndim(a: Any) -> int:
    """The number of axes."""
    return asarray(a).ndim


def size(a: Any) -> int:
    """The number of elements."""
    return asarray(a).size


def reshape(a: Any, newshape: Any, order: str = "C") -> Tensor:
    """The same elements in `newshape` (one entry may be -1); C order only."""
    if order != "C":
        raise NotImplementedError("reshape: only order='C' is supported")
    return array_ops.reshape(asarray(a), _shape(newshape))


def ravel(a: Any) -> Tensor:
    """The elements as a 1-D tensor."""
    return reshape(a, -1)


def transpose(a: Any, axes: Sequence[int] | None = None) -> Tensor:
    """Axes permuted (reversed by default)."""
    return array_ops.transpose(asarray(a), axes)


def swapaxes(a: Any, axis1: int, axis2: int) -> Tensor:
    """Axes axis1 and axis2 exchanged."""
    x = asarray(a)
    perm = list(range(x.ndim))
    i, j = normalize_axis(axis1, x.ndim, "swapaxes"), normalize_axis(axis2, x.ndim, "swapaxes")
    perm[i], perm[j] = perm[j], perm[i]
    return array_ops.transpose(x, perm)


def moveaxis(a: Any, source: Any, destination: Any) -> Tensor:
    """Axes `source` moved to positions `destination`, the others kept in order."""
    x = asarray(a)
    src = _axes(source, x.ndim, "moveaxis")
    dst = _axes(destination, x.ndim, "moveaxis")
    if len(src) != len(dst):
        raise OpError(f"moveaxis: {len(src)} sources but {len(dst)} destinations")
    order = [i for i in range(x.ndim) if i not in src]
    for d, s in sorted(zip(dst, src, strict=True)):
        order.insert(d, s)
    return array_ops.transpose(x, order)


def expand_dims(a: Any, axis: Any) -> Tensor:
    """New axes of length 1 at `axis` (an int or a tuple: positions in the result)."""
    x = asarray(a)
    axes = _axes(axis, x.ndim + (1 if _np.ndim(axis) == 0 else len(axis)), "expand_dims")
    dims = iter(x.shape)
    return array_ops.reshape(x, [1 if i in axes else next(dims) for i in range(x.ndim + len(axes))])


def squeeze(a: Any, axis: Any = None) -> Tensor:
    """Axes of length 1 removed (all of them, or those in `axis`)."""
    return array_ops.squeeze(asarray(a), axis)


def concatenate(arrays: Sequence[Any], axis: int | None = 0) -> Tensor:
    """The arrays joined along an existing axis (flattened first when axis is None)."""
    tensors = [asarray(x) for x in arrays]
    if axis is None:
        tensors, axis = [ravel(t) for t in tensors], 0
    return array_ops.concat(tensors, axis)


def stack(arrays: Sequence[Any], axis: int = 0) -> Tensor:
    """Arrays of one shape joined along a new axis."""
    return array_ops.stack([asarray(x) for x in arrays], axis)


def vstack(tup: Sequence[Any]) -> Tensor:
    """Rows stacked: 1-D arrays become rows, then joined along axis 0."""
    tensors = [asarray(x) for x in tup]
    return concatenate([t if t.ndim >= 2 else reshape(t, (1, -1)) for t in tensors], 0)


def hstack(tup: Sequence[Any]) -> Tensor:
    """Columns stacked: joined along axis 1 (axis 0 for 1-D arrays)."""
    tensors = [asarray(x) for x in tup]
    return concatenate(tensors, 0 if builtins.all(t.ndim == 1 for t in tensors) else 1)


def split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list[Tensor]:
    """Equal sections (an int), or the pieces between the given indices, along `axis`."""
    x = asarray(ary)
    axis = normalize_axis(axis, x.ndim, "split")
    if _np.ndim(indices_or_sections) == 0:
        return array_ops.split(x, int(indices_or_sections), axis)
    n = x.shape[axis]
    points = [0] + [int(i) for i in indices_or_sections] + [n]
    if builtins.all(0 <= p <= q <= n for p, q in zip(points, points[1:], strict=False)):
        sizes = [q - p for p, q in zip(points, points[1:], strict=False)]
        return array_ops.split(x, sizes, axis)
    # NOTE: indices out of order or negative: each piece is a slice, as NumPy cuts them.
    lead = (slice(None),) * axis
    return [x[lead + (slice(p, q),)] for p, q in zip(points, points[1:], strict=False)]


def take(a: Any, indices: Any, axis: int | None = None) -> Tensor:
    """Elements at `indices` along `axis` (of the flattened array by default)."""
    x = asarray(a)
    if axis is None:
        x, axis = ravel(x), 0
    return array_ops.gather(x, asarray(indices).numpy(), axis)


def pad(array: Any, pad_width: Any, mode: str = "constant", constant_values: Any = 0) -> Tensor:
    """`array` padded with `constant_values` (mode 'constant' only)."""
    if mode != "constant":
        raise NotImplementedError(f"pad: mode {mode!r} (only 'constant' is supported)")
    if _np.ndim(constant_values) != 0:
        raise NotImplementedError("pad: constant_values must be one number")
    x = asarray(array)
    widths = _np.broadcast_to(_np.asarray(pad_width, _np.int64), (x.ndim, 2))
    return array_ops.pad(x, widths, constant_values)


def tile(A: Any, reps: Any) -> Tensor:  # noqa: N803 (NumPy's name)
    """`A` repeated `reps` times along each axis (NumPy's rules for unequal lengths)."""
    x = asarray(A)
    reps = _shape(reps)
    if len(reps) < x.ndim:
        reps = (1,) * (x.ndim - len(reps)) + reps
    if x.ndim < len(reps):
        x = array_ops.reshape(x, (1,) * (len(reps) - x.ndim) + x.shape)
    return array_ops.tile(x, reps)


def repeat(a: Any, repeats: Any, axis: int | None = None) -> Tensor:
    """Each element repeated `repeats` times along `axis` (of the flattened array by default)."""
    x = asarray(a)
    if axis is None:
        x, axis = ravel(x), 0
    axis = normalize_axis(axis, x.ndim, "repeat")
    index = _np.repeat(_np.arange(x.shape[axis]), repeats)
    return array_ops.gather(x, index, axis)


def broadcast_to(array: Any, shape: Any) -> Tensor:
    """`array` broadcast to `shape`."""
    return array_ops.broadcast_to(asarray(array), _shape(shape))


def broadcast_arrays(*args: Any) -> list[Tensor]:
    """The arrays broadcast to their common shape."""
    tensors = [asarray(a) for a in args]
    common = _np.broadcast_shapes(*(t.shape for t in tensors))
    return [array_ops.broadcast_to(t, common) for t in tensors]


def flip(m: Any, axis: Any = None) -> Tensor:
    """The elements in reverse order along `axis` (all axes by default)."""
    x = asarray(m)
    axes = _axes(axis, x.ndim, "flip")
    return x[tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(x.ndim))]


def roll(a: Any, shift: Any, axis: Any = None) -> Tensor:
    """Elements shifted along `axis`, wrapping around (the flattened array by default)."""
    x = asarray(a)
    if axis is None:
        return reshape(roll(ravel(x), shift, 0), x.shape)
    axes = (axis,) if _np.ndim(axis) == 0 else tuple(axis)
    shifts = _np.broadcast_to(_np.asarray(shift), (len(axes),))
    for ax, s in zip(axes, shifts, strict=True):
        ax = normalize_axis(ax, x.ndim, "roll")
        n = x.shape[ax]
        s = int(s) % n if n else 0
        if s:
            lead = (slice(None),) * ax
            x = array_ops.concat(
                [x[lead + (slice(n - s, None),)], x[lead + (slice(0, n - s),)]], ax
            )
    return x


def _triangle(m: Any, k: int, lower: bool) -> Tensor:
    x = asarray(m)
    if x.ndim < 2:
        raise OpError(f"{'tril' if lower else 'triu'}: needs 2 or more axes, got {list(x.shape)}")
    rows, cols = x.shape[-2:]
    keep = _np.tri(rows, cols, k, bool) if lower else ~_np.tri(rows, cols, k - 1, bool)
    return math_ops.where(constant(keep), x, zeros((), x.dtype))


def tril(m: Any, k: int = 0) -> Tensor:
    """Lower triangle of the last two axes (below and on diagonal k); the rest zero."""
    return _triangle(m, k, lower=True)


def triu(m: Any, k: int = 0) -> Tensor:
    """Upper triangle of the last two axes (above and on diagonal k); the rest zero."""
    return _triangle(m, k, lower=False)

"""numba CUDA kernels for the trainer's primitives, registered as each primitive's `.gpu`.

Each kernel takes the primitive's inputs as numba device arrays (C-contiguous) plus the same
keyword attrs as its NumPy kernel, and returns device arrays of the shape and dtype the NumPy
kernel gives.  Launches use grid-stride loops, so any size runs on any grid; shapes and
strides travel to the GPU as small cached int64 arrays, collapsed to as few axes as possible
first.  Under numba's CUDA simulator the same code runs in Python threads, with small blocks
and tiles so that tests stay quick.

Running the tests on a real GPU, with a CUDA driver and a toolkit numba finds (its NVVM and
libdevice, e.g. through CUDA_HOME):

    EMBERLITE_CUDA_TESTS=device python -m pytest tests/trainer/test_cuda.py

Without that variable the same tests run under the simulator, in a subprocess started with
NUMBA_ENABLE_CUDASIM=1 (no GPU needed).  `-m slow` adds a check that every kernel launched
by the tests compiles to PTX for a real GPU (that needs NVVM, not a GPU; it is skipped where
NVVM is not found).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache
from typing import Any

import numba
import numpy as np
from numba import cuda

from emberlite.trainer.ops import array_ops, math_ops, nn_ops  # noqa: F401 - the primitives
from emberlite.trainer.ops.registry import PRIMITIVES

SIMULATOR = cuda.device_array.__module__.startswith("numba.cuda.simulator")
# NOTE: the simulator runs each GPU thread as a Python thread, so it gets few of them (each
# loops over many elements); the code paths are the same.  THREADS must be a power of two:
# the block reductions halve it.
THREADS = 4 if SIMULATOR else 256
MAX_BLOCKS = 2 if SIMULATOR else 8192
TILE = 4 if SIMULATOR else 16  # matmul tile edge: TILE x TILE threads per block

GPU_KERNELS: dict[str, Callable[..., Any]] = {}  # primitive name -> its GPU kernel (wrapper)


def gpu_kernel(name: str) -> Callable[[Callable], Callable]:
    """Decorator: the GPU kernel of primitive `name` (set on the primitive by `register`)."""

    def decorate(fn: Callable) -> Callable:
        GPU_KERNELS[name] = fn
        return fn

    return decorate


def register() -> list[str]:
    """Set `.gpu` of every registered primitive that has a kernel here; returns their names."""
    done = []
    for name, fn in GPU_KERNELS.items():
        prim = PRIMITIVES.get(name)
        if prim is not None:
            prim.gpu = fn
            done.append(name)
    return done


# -- kernels by key, launches -------------------------------------------------------------------

_BUILDERS: dict[str, Callable[..., Any]] = {}
# When a set, every launch adds (key, argument types) to it: the PTX check compiles those.
RECORDED: set | None = None


def _builder(kind: str) -> Callable[[Callable], Callable]:
    def decorate(build: Callable) -> Callable:
        _BUILDERS[kind] = build
        return build

    return decorate


@cache
def get_kernel(kind: str, *params: Any) -> Any:
    """The numba CUDA kernel `kind` specialised by `params` (built once, compiled lazily)."""
    return _BUILDERS[kind](*params)


def _arg_type(arg: Any) -> tuple:
    if hasattr(arg, "ndim") and not isinstance(arg, np.generic):
        return ("array", np.dtype(arg.dtype).str, arg.ndim)
    return ("scalar", np.asarray(arg).dtype.str)


def _run(key: tuple, blocks: Any, threads: Any, *args: Any) -> None:
    if RECORDED is not None:
        RECORDED.add((key, tuple(_arg_type(a) for a in args)))
    get_kernel(*key)[blocks, threads](*args)


def _launch(n: int) -> tuple[int, int]:
    """(blocks, threads) for a grid-stride loop over n items."""
    return max(1, min((n + THREADS - 1) // THREADS, MAX_BLOCKS)), THREADS


# -- host-side helpers --------------------------------------------------------------------------


def _flat(x: Any) -> Any:
    """A 1-D view of a contiguous device array."""
    return x if x.ndim == 1 else x.reshape(x.size)


def _contiguous_strides(shape: Any) -> list[int]:
    strides, step = [], 1
    for d in reversed(tuple(shape)):
        strides.append(step)
        step *= int(d)
    return strides[::-1]


def _broadcast_strides(shape: Any, out_shape: tuple[int, ...]) -> list[int]:
    """Element strides of a contiguous `shape` read as `out_shape` (0 on broadcast axes)."""
    shape = tuple(shape)
    own = _contiguous_strides(shape)
    lead = len(out_shape) - len(shape)
    return [0] * lead + [0 if d == 1 else s for d, s in zip(shape, own, strict=True)]


def _collapse(shape: Any, *strides: Any) -> tuple[list[int], list[list[int]]]:
    """Merge neighbouring axes that every stride vector walks as one (size-1 axes dropped)."""
    dims: list[int] = []
    merged: list[list[int]] = [[] for _ in strides]
    for i, d in enumerate(shape):
        if d == 1:
            continue
        if dims and all(m[-1] == s[i] * d for m, s in zip(merged, strides, strict=True)):
            dims[-1] *= int(d)
            for m, s in zip(merged, strides, strict=True):
                m[-1] = int(s[i])
        else:
            dims.append(int(d))
            for m, s in zip(merged, strides, strict=True):
                m.append(int(s[i]))
    if not dims:
        return [1], [[0] for _ in strides]
    return dims, merged


_META: dict[tuple[int, ...], Any] = {}


def _meta(values: Any) -> Any:
    """A cached int64 device array of `values` (shapes, strides, offsets)."""
    key = tuple(int(v) for v in values)
    array = _META.get(key)
    if array is None:
        if len(_META) > 4096:
            _META.clear()
        array = _META[key] = cuda.to_device(np.asarray(key, np.int64))
    return array


def _empty(shape: Any, dtype: Any) -> Any:
    return cuda.device_array(tuple(int(d) for d in shape), np.dtype(dtype))


def _probe(fn: Callable, *dtypes: Any) -> np.dtype:
    """The dtype NumPy's `fn` gives for inputs of `dtypes` (run on empty arrays)."""
    return np.asarray(fn(*[np.empty(0, d) for d in dtypes])).dtype


def _scalar(value: Any, dtype: Any) -> Any:
    return np.asarray(value, dtype)[()]


def _lowest(dtype: np.dtype) -> Any:
    if dtype.kind == "f":
        return -np.inf
    if dtype.kind == "b":
        return False
    return np.iinfo(dtype).min


# -- device helpers -----------------------------------------------------------------------------


@cuda.jit(device=True)
def _offset(i, shape, strides):
    """Element offset of flat (C-order) index i of `shape` in an array of `strides`."""
    off = 0
    for k in range(shape.size - 1, -1, -1):
        d = shape[k]
        q = i // d
        off += (i - q * d) * strides[k]
        i = q
    return off


@cuda.jit(device=True)
def _offset2(i, shape, s1, s2):
    o1 = 0
    o2 = 0
    for k in range(shape.size - 1, -1, -1):
        d = shape[k]
        q = i // d
        r = i - q * d
        o1 += r * s1[k]
        o2 += r * s2[k]
        i = q
    return o1, o2


@cuda.jit(device=True)
def _offset3(i, shape, s1, s2, s3):
    o1 = 0
    o2 = 0
    o3 = 0
    for k in range(shape.size - 1, -1, -1):
        d = shape[k]
        q = i // d
        r = i - q * d
        o1 += r * s1[k]
        o2 += r * s2[k]
        o3 += r * s3[k]
        i = q
    return o1, o2, o3


@cuda.jit(device=True)
def _max(a, b):
    """max with NumPy's NaN propagation."""
    return a if a != a or a >= b else b


@cuda.jit(device=True)
def _min(a, b):
    return a if a != a or a <= b else b


# NOTE: not the builtins: numba 0.68's CUDA target fails to compile max(a, b) and min(a, b).
@cuda.jit(device=True)
def _unravel_nhwc(i, h, w, c):
    """(n, y, x, channel) of flat index i into a contiguous [N, h, w, c] array."""
    rest = i // c
    return rest // (w * h), (rest // w) % h, rest % w, i % c


@cuda.jit(device=True)
def _imax(a, b):
    return a if a > b else b


@cuda.jit(device=True)
def _imin(a, b):
    return a if a < b else b


@cuda.jit(device=True)
def _block_sum(partial, t, value):
    """Sum of `value` over the block's THREADS threads (all of them get it)."""
    partial[t] = value
    cuda.syncthreads()
    step = THREADS // 2
    while step > 0:
        if t < step:
            partial[t] += partial[t + step]
        cuda.syncthreads()
        step //= 2
    total = partial[0]
    cuda.syncthreads()
    return total


@cuda.jit(device=True)
def _block_max(partial, t, value):
    partial[t] = value
    cuda.syncthreads()
    step = THREADS // 2
    while step > 0:
        if t < step:
            partial[t] = _max(partial[t], partial[t + step])
        cuda.syncthreads()
        step //= 2
    total = partial[0]
    cuda.syncthreads()
    return total


# -- elementwise --------------------------------------------------------------------------------
# NOTE: the guards in exp/log/sqrt/sin/cos give the IEEE results (inf, nan) where Python's
# math raises, so the simulator computes what the GPU does; on the GPU they cost a compare.


def _add(a, b):
    return a + b


def _subtract(a, b):
    return a - b


def _multiply(a, b):
    return a * b


def _divide(a, b):
    return a / b


def _pow(a, b):
    return a**b


def _equal(a, b):
    return a == b


def _not_equal(a, b):
    return a != b


def _less(a, b):
    return a < b


def _less_equal(a, b):
    return a <= b


def _greater(a, b):
    return a > b


def _greater_equal(a, b):
    return a >= b


def _logical_and(a, b):
    return a != 0 and b != 0


def _logical_or(a, b):
    return a != 0 or b != 0


def _negative(x):
    return -x


def _exp(x):
    if x > 709.782712893384:  # log of the largest float64
        return math.inf
    return math.exp(x)


def _log(x):
    if x > 0:
        return math.log(x)
    if x == 0:
        return -math.inf
    return math.nan


def _sqrt(x):
    if x >= 0:
        return math.sqrt(x)
    return math.nan


def _tanh(x):
    return math.tanh(x)


def _abs(x):
    return abs(x)


def _sin(x):
    if x - x != 0:  # inf or nan
        return math.nan
    return math.sin(x)


def _cos(x):
    if x - x != 0:
        return math.nan
    return math.cos(x)


def _sign(x):
    if x > 0:
        return 1
    if x < 0:
        return -1
    return x  # 0 or nan


def _relu(x):
    if x > 0 or x != x:
        return x
    return 0


def _relu6(x):
    if x != x:
        return x
    if x < 0:
        return 0
    if x > 6:
        return 6
    return x


def _elu(x):
    if x > 0:
        return x
    return math.expm1(x)


def _sigmoid(x):
    e = math.exp(-abs(x))  # never overflows
    out = 1 / (1 + e)
    return out if x >= 0 else e * out


def _softplus(x):
    return (x if x > 0 else 0) + math.log1p(math.exp(-abs(x)))


def _erf(x):
    return math.erf(x)


def _same(x):
    """The dtype probe of the activations: NumPy's kernels keep the input dtype."""
    return x


BINARY = {
    "add": (_add, np.add),
    "subtract": (_subtract, np.subtract),
    "multiply": (_multiply, np.multiply),
    "divide": (_divide, np.true_divide),
    "pow": (_pow, np.power),
    "maximum": (_max, np.maximum),
    "minimum": (_min, np.minimum),
    "equal": (_equal, np.equal),
    "not_equal": (_not_equal, np.not_equal),
    "less": (_less, np.less),
    "less_equal": (_less_equal, np.less_equal),
    "greater": (_greater, np.greater),
    "greater_equal": (_greater_equal, np.greater_equal),
    "logical_and": (_logical_and, np.logical_and),
    "logical_or": (_logical_or, np.logical_or),
}
UNARY = {
    "negative": (_negative, np.negative),
    "exp": (_exp, np.exp),
    "log": (_log, np.log),
    "sqrt": (_sqrt, np.sqrt),
    "tanh": (_tanh, np.tanh),
    "abs": (_abs, np.abs),
    "sin": (_sin, np.sin),
    "cos": (_cos, np.cos),
    "sign": (_sign, np.sign),
    "relu": (_relu, _same),
    "relu6": (_relu6, _same),
    "elu": (_elu, _same),
    "sigmoid": (_sigmoid, _same),
    "softplus": (_softplus, _same),
    "erf": (_erf, _same),
}


@cache
def _device_fn(table: str, name: str) -> Any:
    fn = (BINARY if table == "binary" else UNARY)[name][0]
    return fn if hasattr(fn, "py_func") or hasattr(fn, "fn") else cuda.jit(device=True)(fn)


@_builder("binary_flat")
def _(name):
    fn = _device_fn("binary", name)

    @cuda.jit
    def binary_flat(a, b, out):
        for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
            out[i] = fn(a[i], b[i])

    return binary_flat


@_builder("binary")
def _(name):
    fn = _device_fn("binary", name)

    @cuda.jit
    def binary(a, b, out, shape, sa, sb):
        for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
            ia, ib = _offset2(i, shape, sa, sb)
            out[i] = fn(a[ia], b[ib])

    return binary


@_builder("unary")
def _(name):
    fn = _device_fn("unary", name)

    @cuda.jit
    def unary(x, out):
        for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
            out[i] = fn(x[i])

    return unary


def _make_binary(name: str, ufunc: Callable) -> Callable:
    def kernel(a, b):
        shape = np.broadcast_shapes(tuple(a.shape), tuple(b.shape))
        out = _empty(shape, _probe(ufunc, a.dtype, b.dtype))
        if out.size == 0:
            return out
        dims, (sa, sb) = _collapse(
            shape, _broadcast_strides(a.shape, shape), _broadcast_strides(b.shape, shape)
        )
        if len(dims) == 1 and sa == [1] and sb == [1]:
            _run(("binary_flat", name), *_launch(out.size), _flat(a), _flat(b), _flat(out))
        else:
            args = _flat(a), _flat(b), _flat(out), _meta(dims), _meta(sa), _meta(sb)
            _run(("binary", name), *_launch(out.size), *args)
        return out

    kernel.__name__ = f"{name}_gpu"
    return gpu_kernel(name)(kernel)


def _make_unary(name: str, ufunc: Callable) -> Callable:
    def kernel(x):
        out = _empty(x.shape, _probe(ufunc, x.dtype))
        if out.size:
            _run(("unary", name), *_launch(out.size), _flat(x), _flat(out))
        return out

    kernel.__name__ = f"{name}_gpu"
    return gpu_kernel(name)(kernel)


for _name, (_, _ufunc) in BINARY.items():
    _make_binary(_name, _ufunc)
for _name, (_, _ufunc) in UNARY.items():
    _make_unary(_name, _ufunc)


@_builder("where")
def _():
    @cuda.jit
    def where(c, x, y, out, shape, sc, sx, sy):
        for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
            ic, ix, iy = _offset3(i, shape, sc, sx, sy)
            out[i] = x[ix] if c[ic] else y[iy]

    return where


@gpu_kernel("where")
def where_gpu(condition, x, y):
    shape = np.broadcast_shapes(tuple(condition.shape), tuple(x.shape), tuple(y.shape))
    out = _empty(shape, _probe(np.where, np.bool_, x.dtype, y.dtype))
    if out.size == 0:
        return out
    dims, strides = _collapse(
        shape, *(_broadcast_strides(t.shape, shape) for t in (condition, x, y))
    )
    args = _flat(condition), _flat(x), _flat(y), _flat(out), _meta(dims), *map(_meta, strides)
    _run(("where",), *_launch(out.size), *args)
    return out


@_builder("relu_grad")
def _():
    @cuda.jit
    def relu_grad(g, x, out, shape, sg, sx, cap):
        for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
            ig, ix = _offset2(i, shape, sg, sx)
            v = x[ix]
            out[i] = g[ig] if v > 0 and v < cap else 0

    return relu_grad


@gpu_kernel("relu_grad")
def relu_grad_gpu(g, x, cap):
    shape = np.broadcast_shapes(tuple(g.shape), tuple(x.shape))
    out = _empty(shape, g.dtype)
    if out.size == 0:
        return out
    dims, (sg, sx) = _collapse(
        shape, _broadcast_strides(g.shape, shape), _broadcast_strides(x.shape, shape)
    )
    limit = _scalar(np.inf if cap is None else cap, np.result_type(x.dtype, np.float32))
    args = _flat(g), _flat(x), _flat(out), _meta(dims), _meta(sg), _meta(sx), limit
    _run(("relu_grad",), *_launch(out.size), *args)
    return out


# -- data movement: one strided copy serves cast, transpose, broadcast, concat, split, pad ------


@_builder("copy")
def _():
    @cuda.jit
    def copy(src, dst, n, shape, ss, ds, sbase, dbase):
        for i in range(cuda.grid(1), n, cuda.gridsize(1)):
            si, di = _offset2(i, shape, ss, ds)
            dst[dbase + di] = src[sbase + si]

    return copy


@_builder("fill")
def _():
    @cuda.jit
    def fill(dst, value):
        for i in range(cuda.grid(1), dst.size, cuda.gridsize(1)):
            dst[i] = value

    return fill


def _copy(src, dst, shape, src_strides, dst_strides, src_base=0, dst_base=0) -> None:
    """dst[dst_base + index . dst_strides] = src[src_base + index . src_strides] over shape."""
    n = int(np.prod(shape, dtype=np.int64))
    if n == 0:
        return
    dims, (ss, ds) = _collapse(shape, src_strides, dst_strides)
    args = _flat(src), _flat(dst), n, _meta(dims), _meta(ss), _meta(ds), src_base, dst_base
    _run(("copy",), *_launch(n), *args)


def _fill(dst, value) -> None:
    if dst.size:
        _run(("fill",), *_launch(dst.size), _flat(dst), _scalar(value, dst.dtype))


@gpu_kernel("cast")
def cast_gpu(x, dtype):
    out = _empty(x.shape, dtype)
    strides = _contiguous_strides(x.shape)
    _copy(x, out, tuple(x.shape), strides, strides)
    return out


@gpu_kernel("reshape")
def reshape_gpu(x, shape):
    # NOTE: a view, no copy: device arrays here are contiguous and tensors immutable.
    return x.reshape(tuple(int(d) for d in shape))


@gpu_kernel("stop_gradient")
def stop_gradient_gpu(x):
    return x


@gpu_kernel("transpose")
def transpose_gpu(x, perm):
    perm = [int(p) for p in perm]
    if sorted(perm) != list(range(x.ndim)):
        raise ValueError(f"axes {perm} don't match array of {x.ndim} dimensions")
    shape = tuple(x.shape[p] for p in perm)
    own = _contiguous_strides(x.shape)
    out = _empty(shape, x.dtype)
    _copy(x, out, shape, [own[p] for p in perm], _contiguous_strides(shape))
    return out


@gpu_kernel("broadcast_to")
def broadcast_to_gpu(x, shape):
    shape = tuple(int(d) for d in shape)
    if len(shape) < x.ndim or np.broadcast_shapes(tuple(x.shape), shape) != shape:
        raise ValueError(f"cannot broadcast shape {tuple(x.shape)} to {shape}")
    out = _empty(shape, x.dtype)
    _copy(x, out, shape, _broadcast_strides(x.shape, shape), _contiguous_strides(shape))
    return out


@gpu_kernel("concat")
def concat_gpu(*xs, axis):
    first = tuple(xs[0].shape)
    for x in xs:
        if x.ndim != len(first) or any(
            a != b for i, (a, b) in enumerate(zip(x.shape, first, strict=True)) if i != axis
        ):
            raise ValueError(f"all the input array dimensions except axis {axis} must match")
    shape = tuple(sum(x.shape[axis] for x in xs) if i == axis else d for i, d in enumerate(first))
    out = _empty(shape, _probe(lambda *a: np.concatenate(a), *(x.dtype for x in xs)))
    strides = _contiguous_strides(shape)
    start = 0
    for x in xs:
        _copy(
            x, out, tuple(x.shape), _contiguous_strides(x.shape), strides, 0, start * strides[axis]
        )
        start += x.shape[axis]
    return out


@gpu_kernel("split")
def split_gpu(x, sizes, axis):
    if sum(sizes) != x.shape[axis] or min(sizes) < 0:
        raise ValueError(f"sizes {list(sizes)} do not split axis {axis} of {tuple(x.shape)}")
    own = _contiguous_strides(x.shape)
    outs, start = [], 0
    for size in sizes:
        shape = tuple(int(size) if i == axis else d for i, d in enumerate(x.shape))
        out = _empty(shape, x.dtype)
        _copy(x, out, shape, own, _contiguous_strides(shape), start * own[axis], 0)
        outs.append(out)
        start += int(size)
    return tuple(outs)


@gpu_kernel("pad")
def pad_gpu(x, paddings, constant_values):
    if len(paddings) != x.ndim or any(a < 0 or b < 0 for a, b in paddings):
        raise ValueError(f"paddings {paddings} do not fit shape {tuple(x.shape)}")
    shape = tuple(d + a + b for d, (a, b) in zip(x.shape, paddings, strict=True))
    out = _empty(shape, x.dtype)
    _fill(out, constant_values)
    strides = _contiguous_strides(shape)
    base = sum(a * s for (a, _), s in zip(paddings, strides, strict=True))
    _copy(x, out, tuple(x.shape), _contiguous_strides(x.shape), strides, 0, base)
    return out


# -- reductions ---------------------------------------------------------------------------------
# Two layouts, for this and the other reducing kernels (filter gradient, softmax): one thread
# per output where the reductions are short (or outputs many and their reads coalesce), else
# one block per output whose threads stride over the reduced elements and then combine
# through shared memory.
SHORT = 32  # reductions up to this long take a thread each


@cuda.jit(device=True)
def _reduce_part(x, base, rshape, rstrides, rsize, start, step, acc, is_sum):
    """acc combined with the reduced elements start, start + step, ... of one output."""
    for r in range(start, rsize, step):
        v = x[base + _offset(r, rshape, rstrides)]
        if is_sum:
            acc += v
        else:
            acc = _max(acc, v)
    return acc


@_builder("reduce_each")
def _(kind):
    is_sum = kind == "sum"

    @cuda.jit
    def reduce_each(x, out, kshape, kstrides, rshape, rstrides, rsize, init):
        for o in range(cuda.grid(1), out.size, cuda.gridsize(1)):
            base = _offset(o, kshape, kstrides)
            out[o] = _reduce_part(x, base, rshape, rstrides, rsize, 0, 1, init, is_sum)

    return reduce_each


@_builder("reduce_blocks")
def _(kind, dtype):
    nbtype = numba.from_dtype(np.dtype(dtype))
    is_sum = kind == "sum"

    @cuda.jit
    def reduce_blocks(x, out, kshape, kstrides, rshape, rstrides, rsize, init):
        partial = cuda.shared.array(THREADS, nbtype)
        t = cuda.threadIdx.x
        for o in range(cuda.blockIdx.x, out.size, cuda.gridDim.x):
            base = _offset(o, kshape, kstrides)
            acc = _reduce_part(x, base, rshape, rstrides, rsize, t, THREADS, init, is_sum)
            total = _block_sum(partial, t, acc) if is_sum else _block_max(partial, t, acc)
            if t == 0:
                out[o] = total

    return reduce_blocks


def _reduce(kind: str, x, axis, keepdims):
    shape, ndim = tuple(x.shape), x.ndim
    axes = sorted({int(a) % ndim if ndim else 0 for a in axis} if axis is not None else range(ndim))
    numpy_fn = np.sum if kind == "sum" else np.max
    probe = numpy_fn(np.zeros((1,) * ndim, x.dtype), axis=tuple(axes), keepdims=keepdims)
    dtype = np.asarray(probe).dtype
    kept = [i for i in range(ndim) if i not in axes]
    out_shape = (
        tuple(1 if i in axes else d for i, d in enumerate(shape))
        if keepdims
        else tuple(shape[i] for i in kept)
    )
    out = _empty(out_shape, dtype)
    rsize = int(np.prod([shape[i] for i in axes], dtype=np.int64))
    if out.size == 0:
        return out
    if rsize == 0 and kind == "max":
        raise ValueError("zero-size array to reduction operation maximum which has no identity")
    own = _contiguous_strides(shape)
    kdims, (kstrides,) = _collapse([shape[i] for i in kept], [own[i] for i in kept])
    rdims, (rstrides,) = _collapse([shape[i] for i in axes], [own[i] for i in axes])
    init = _scalar(0 if kind == "sum" else _lowest(dtype), dtype)
    args = _flat(x), _flat(out), _meta(kdims), _meta(kstrides), _meta(rdims), _meta(rstrides)
    # NOTE: with the last axis kept, neighbouring threads of reduce_each read neighbouring
    # elements; with it reduced, a block's threads do.
    if rsize <= SHORT or (out.size >= 64 * THREADS and kstrides[-1] == 1):
        _run(("reduce_each", kind), *_launch(out.size), *args, rsize, init)
    else:
        blocks = min(out.size, 8 * MAX_BLOCKS)
        _run(("reduce_blocks", kind, dtype.str), blocks, THREADS, *args, rsize, init)
    return out


@gpu_kernel("reduce_sum")
def reduce_sum_gpu(x, axis, keepdims):
    return _reduce("sum", x, axis, keepdims)


@gpu_kernel("reduce_max")
def reduce_max_gpu(x, axis, keepdims):
    return _reduce("max", x, axis, keepdims)


# -- matmul -------------------------------------------------------------------------------------


@_builder("matmul")
def _(dtype):
    nbtype = numba.from_dtype(np.dtype(dtype))

    @cuda.jit
    def matmul(a, b, out, aoff, boff, m, k, n, zero):
        # Tiled GEMM: a block computes a TILE x TILE tile of one output matrix, staging
        # TILE-wide slabs of a and b through shared memory.
        sa = cuda.shared.array((TILE, TILE), nbtype)
        sb = cuda.shared.array((TILE, TILE), nbtype)
        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        col = cuda.blockIdx.x * TILE + tx
        for batch in range(cuda.blockIdx.z, aoff.size, cuda.gridDim.z):
            abase = aoff[batch]
            bbase = boff[batch]
            obase = batch * m * n
            for tile_row in range(cuda.blockIdx.y, (m + TILE - 1) // TILE, cuda.gridDim.y):
                row = tile_row * TILE + ty
                acc = zero
                for t0 in range(0, k, TILE):
                    if row < m and t0 + tx < k:
                        sa[ty, tx] = a[abase + row * k + t0 + tx]
                    else:
                        sa[ty, tx] = zero
                    if col < n and t0 + ty < k:
                        sb[ty, tx] = b[bbase + (t0 + ty) * n + col]
                    else:
                        sb[ty, tx] = zero
                    cuda.syncthreads()
                    for q in range(TILE):
                        acc += sa[ty, q] * sb[q, tx]
                    cuda.syncthreads()
                if row < m and col < n:
                    out[obase + row * n + col] = acc

    return matmul


def _batch_offsets(batch: tuple[int, ...], out_batch: tuple[int, ...], matrix: int) -> Any:
    index = np.arange(int(np.prod(batch, dtype=np.int64)), dtype=np.int64).reshape(batch)
    return _meta(np.broadcast_to(index, out_batch).ravel() * matrix)


@gpu_kernel("matmul")
def matmul_gpu(a, b):
    ashape, bshape = tuple(a.shape), tuple(b.shape)  # NOTE: the simulator's shapes lack [-1]
    if len(ashape) < 2 or len(bshape) < 2 or ashape[-1] != bshape[-2]:
        raise ValueError(f"matmul: shapes {ashape} and {bshape} do not multiply")
    m, k, n = ashape[-2], ashape[-1], bshape[-1]
    batch = np.broadcast_shapes(ashape[:-2], bshape[:-2])
    dtype = _probe(np.matmul, a.dtype, b.dtype)
    out = _empty(batch + (m, n), dtype)
    if out.size == 0:
        return out
    if k == 0:
        _fill(out, 0)
        return out
    aoff = _batch_offsets(ashape[:-2], batch, m * k)
    boff = _batch_offsets(bshape[:-2], batch, k * n)
    grid = ((n + TILE - 1) // TILE, min((m + TILE - 1) // TILE, 65535), min(aoff.size, 65535))
    args = _flat(a), _flat(b), _flat(out), aoff, boff, m, k, n, _scalar(0, dtype)
    _run(("matmul", dtype.str), grid, (TILE, TILE), *args)
    return out


# -- convolution (NHWC input, HWIO filter; depthwise is the grouped case) ------------------------
# Geometry, shared by the kernels: input [N, H, W, C], filter [KH, KW, C / groups, O], output
# [N, OH, OW, O]; output (oh, ow) reads input (oh * sh - pt + kh * dh, ow * sw - pl + kw * dw),
# zero outside.  Output channel o belongs to group o // (O / groups), which reads input
# channels [g * Cg, (g + 1) * Cg).  nn_ops.depthwise_conv2d is such a conv2d: its filter
# [KH, KW, C, M] read as [KH, KW, 1, C * M], with C groups.


@_builder("conv2d")
def _():
    @cuda.jit
    def conv2d(x, w, out, H, W, C, KH, KW, CO, OH, OW, sh, sw, dh, dw, pt, pl, cg, og, zero):
        # One thread per output element (channel fastest: coalesced filter reads and writes).
        for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
            n, oh, ow, o = _unravel_nhwc(i, OH, OW, CO)
            c0 = (o // og) * cg
            acc = zero
            for kh in range(KH):
                ih = oh * sh - pt + kh * dh
                if ih < 0 or ih >= H:
                    continue
                for kw in range(KW):
                    iw = ow * sw - pl + kw * dw
                    if iw < 0 or iw >= W:
                        continue
                    xbase = ((n * H + ih) * W + iw) * C + c0
                    wbase = (kh * KW + kw) * cg * CO + o
                    for ci in range(cg):
                        acc += x[xbase + ci] * w[wbase + ci * CO]
            out[i] = acc

    return conv2d


@_builder("conv2d_backprop_input")
def _():
    @cuda.jit
    def conv2d_backprop_input(
        dy, w, dx, H, W, C, KH, KW, CO, OH, OW, sh, sw, dh, dw, pt, pl, cg, og, zero
    ):
        # One thread per input element: the sum over the outputs that read it.
        for i in range(cuda.grid(1), dx.size, cuda.gridsize(1)):
            n, ih, iw, c = _unravel_nhwc(i, H, W, C)
            g = c // cg
            ci = c - g * cg
            acc = zero
            for kh in range(KH):
                t = ih + pt - kh * dh
                if t < 0 or t % sh != 0 or t // sh >= OH:
                    continue
                oh = t // sh
                for kw in range(KW):
                    u = iw + pl - kw * dw
                    if u < 0 or u % sw != 0 or u // sw >= OW:
                        continue
                    ow = u // sw
                    dybase = ((n * OH + oh) * OW + ow) * CO + g * og
                    wbase = ((kh * KW + kw) * cg + ci) * CO + g * og
                    for j in range(og):
                        acc += dy[dybase + j] * w[wbase + j]
            dx[i] = acc

    return conv2d_backprop_input


@cuda.jit(device=True)
def _filter_grad_part(
    x, dy, f, N, H, W, C, KH, KW, CO, OH, OW, sh, sw, dh, dw, pt, pl, cg, og, start, step, acc
):
    """acc plus the (image, oh, ow) positions start, start + step, ... of filter element f."""
    o = f % CO
    rest = f // CO
    ci = rest % cg
    rest //= cg
    kw = rest % KW
    kh = rest // KW
    c = (o // og) * cg + ci
    for p in range(start, N * OH * OW, step):
        ow = p % OW
        oh = (p // OW) % OH
        n = p // (OW * OH)
        ih = oh * sh - pt + kh * dh
        iw = ow * sw - pl + kw * dw
        if 0 <= ih < H and 0 <= iw < W:
            acc += x[((n * H + ih) * W + iw) * C + c] * dy[p * CO + o]
    return acc


@_builder("conv2d_backprop_filter_each")
def _():
    @cuda.jit
    def conv2d_backprop_filter_each(
        x, dy, dwt, N, H, W, C, KH, KW, CO, OH, OW, sh, sw, dh, dw, pt, pl, cg, og, zero
    ):
        for f in range(cuda.grid(1), dwt.size, cuda.gridsize(1)):
            geometry = (N, H, W, C, KH, KW, CO, OH, OW, sh, sw, dh, dw, pt, pl, cg, og)
            dwt[f] = _filter_grad_part(x, dy, f, *geometry, 0, 1, zero)

    return conv2d_backprop_filter_each


@_builder("conv2d_backprop_filter_blocks")
def _(dtype):
    nbtype = numba.from_dtype(np.dtype(dtype))

    @cuda.jit
    def conv2d_backprop_filter_blocks(
        x, dy, dwt, N, H, W, C, KH, KW, CO, OH, OW, sh, sw, dh, dw, pt, pl, cg, og, zero
    ):
        partial = cuda.shared.array(THREADS, nbtype)
        t = cuda.threadIdx.x
        for f in range(cuda.blockIdx.x, dwt.size, cuda.gridDim.x):
            geometry = (N, H, W, C, KH, KW, CO, OH, OW, sh, sw, dh, dw, pt, pl, cg, og)
            total = _block_sum(partial, t, _filter_grad_part(x, dy, f, *geometry, t, THREADS, zero))
            if t == 0:
                dwt[f] = total

    return conv2d_backprop_filter_blocks


def _out_size(size: int, k: int, s: int, d: int, before: int, after: int) -> int:
    return (size + before + after - (k - 1) * d - 1) // s + 1


def _conv_args(xshape, wshape, dyshape, strides, dilations, pads, groups) -> tuple:
    _, h, w, c = xshape
    kh, kw, cg, co = wshape
    if c != cg * groups or co % groups:
        raise ValueError(f"filters of shape {list(wshape)} for {groups} groups of {c} channels")
    return (h, w, c, kh, kw, co, dyshape[1], dyshape[2], *strides, *dilations, pads[0], pads[2])


def _conv_out_shape(xshape, wshape, strides, dilations, pads) -> tuple[int, ...]:
    return (
        xshape[0],
        _out_size(xshape[1], wshape[0], strides[0], dilations[0], pads[0], pads[1]),
        _out_size(xshape[2], wshape[1], strides[1], dilations[1], pads[2], pads[3]),
        wshape[3],
    )


@gpu_kernel("conv2d")
def conv2d_gpu(x, w, strides, dilations, pads, groups):
    xs, ws = tuple(x.shape), tuple(w.shape)
    dtype = np.result_type(x.dtype, w.dtype)
    out = _empty(_conv_out_shape(xs, ws, strides, dilations, pads), dtype)
    args = _conv_args(xs, ws, out.shape, strides, dilations, pads, groups)
    if out.size:
        flat = _flat(x), _flat(w), _flat(out)
        _run(
            ("conv2d",), *_launch(out.size), *flat, *args, ws[2], ws[3] // groups, _scalar(0, dtype)
        )
    return out


@gpu_kernel("conv2d_backprop_input")
def conv2d_backprop_input_gpu(dy, w, input_shape, strides, dilations, pads, groups):
    from emberlite.trainer.ops.nn_ops import batch_from

    xs, ws = tuple(int(d) for d in batch_from(input_shape, dy)), tuple(w.shape)
    if _conv_out_shape(xs, ws, strides, dilations, pads) != tuple(dy.shape):
        raise ValueError(f"gradient of shape {list(dy.shape)} for an input of shape {list(xs)}")
    dtype = np.result_type(dy.dtype, w.dtype)
    dx = _empty(xs, dtype)
    args = _conv_args(xs, ws, dy.shape, strides, dilations, pads, groups)
    if dx.size:
        flat = _flat(dy), _flat(w), _flat(dx)
        key = ("conv2d_backprop_input",)
        _run(key, *_launch(dx.size), *flat, *args, ws[2], ws[3] // groups, _scalar(0, dtype))
    return dx


@gpu_kernel("conv2d_backprop_filter")
def conv2d_backprop_filter_gpu(x, dy, filter_shape, strides, dilations, pads, groups):
    xs, ws = tuple(x.shape), tuple(int(d) for d in filter_shape)
    if _conv_out_shape(xs, ws, strides, dilations, pads) != tuple(dy.shape):
        raise ValueError(f"gradient of shape {list(dy.shape)} for an input of shape {list(xs)}")
    dtype = np.result_type(x.dtype, dy.dtype)
    dw = _empty(ws, dtype)
    args = _conv_args(xs, ws, dy.shape, strides, dilations, pads, groups)
    if dw.size:
        flat = _flat(x), _flat(dy), _flat(dw)
        extra = ws[2], ws[3] // groups, _scalar(0, dtype)
        if xs[0] * dy.shape[1] * dy.shape[2] <= SHORT:
            _run(("conv2d_backprop_filter_each",), *_launch(dw.size), *flat, xs[0], *args, *extra)
        else:
            key = ("conv2d_backprop_filter_blocks", dtype.str)
            _run(key, min(dw.size, 8 * MAX_BLOCKS), THREADS, *flat, xs[0], *args, *extra)
    return dw


# -- pooling (NHWC; padding never takes part) -----------------------------------------------------


@cuda.jit(device=True)
def _window_first_max(x, n, y0, u0, c, H, W, C, KH, KW):
    """Flat index in x of the window's first maximum (row-major; the first NaN if any)."""
    where = -1
    best = x[0]
    for y in range(_imax(y0, 0), _imin(y0 + KH, H)):
        for u in range(_imax(u0, 0), _imin(u0 + KW, W)):
            k = ((n * H + y) * W + u) * C + c
            v = x[k]
            if where < 0 or (best == best and (v > best or v != v)):
                best = v
                where = k
    return where


@_builder("max_pool2d")
def _():
    @cuda.jit
    def max_pool2d(x, out, H, W, C, KH, KW, OH, OW, sh, sw, pt, pl):
        for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
            n, p, q, c = _unravel_nhwc(i, OH, OW, C)
            out[i] = x[_window_first_max(x, n, p * sh - pt, q * sw - pl, c, H, W, C, KH, KW)]

    return max_pool2d


@_builder("max_pool2d_grad")
def _():
    @cuda.jit
    def max_pool2d_grad(x, dy, dx, H, W, C, KH, KW, OH, OW, sh, sw, pt, pl, zero):
        # One thread per input element: it collects dy of every window whose first maximum
        # (row-major, first NaN if any) it is.
        for i in range(cuda.grid(1), dx.size, cuda.gridsize(1)):
            n, y, u, c = _unravel_nhwc(i, H, W, C)
            acc = zero
            lo = y + pt - KH + 1
            p_lo = 0 if lo <= 0 else (lo + sh - 1) // sh
            lo = u + pl - KW + 1
            q_lo = 0 if lo <= 0 else (lo + sw - 1) // sw
            for p in range(p_lo, _imin((y + pt) // sh + 1, OH)):
                y0 = p * sh - pt
                for q in range(q_lo, _imin((u + pl) // sw + 1, OW)):
                    where = _window_first_max(x, n, y0, q * sw - pl, c, H, W, C, KH, KW)
                    if where == i:
                        acc += dy[((n * OH + p) * OW + q) * C + c]
            dx[i] = acc

    return max_pool2d_grad


@_builder("max_pool2d_grad_grad")
def _():
    @cuda.jit
    def max_pool2d_grad_grad(x, g, out, H, W, C, KH, KW, OH, OW, sh, sw, pt, pl):
        # One thread per output element: g at its window's first maximum of x.
        for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
            n, p, q, c = _unravel_nhwc(i, OH, OW, C)
            out[i] = g[_window_first_max(x, n, p * sh - pt, q * sw - pl, c, H, W, C, KH, KW)]

    return max_pool2d_grad_grad


@_builder("avg_pool2d")
def _():
    @cuda.jit
    def avg_pool2d(x, out, H, W, C, KH, KW, OH, OW, sh, sw, pt, pl, zero):
        for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
            n, p, q, c = _unravel_nhwc(i, OH, OW, C)
            y0 = p * sh - pt
            u0 = q * sw - pl
            ylo, yhi = _imax(y0, 0), _imin(y0 + KH, H)
            ulo, uhi = _imax(u0, 0), _imin(u0 + KW, W)
            acc = zero
            for y in range(ylo, yhi):
                for u in range(ulo, uhi):
                    acc += x[((n * H + y) * W + u) * C + c]
            out[i] = acc / ((yhi - ylo) * (uhi - ulo))

    return avg_pool2d


@_builder("avg_pool2d_grad")
def _():
    @cuda.jit
    def avg_pool2d_grad(dy, dx, H, W, C, KH, KW, OH, OW, sh, sw, pt, pl, zero):
        # One thread per input element: dy of each window it is in, over the window's count.
        for i in range(cuda.grid(1), dx.size, cuda.gridsize(1)):
            n, y, u, c = _unravel_nhwc(i, H, W, C)
            acc = zero
            lo = y + pt - KH + 1
            p_lo = 0 if lo <= 0 else (lo + sh - 1) // sh
            lo = u + pl - KW + 1
            q_lo = 0 if lo <= 0 else (lo + sw - 1) // sw
            for p in range(p_lo, _imin((y + pt) // sh + 1, OH)):
                y0 = p * sh - pt
                rows = _imin(y0 + KH, H) - _imax(y0, 0)
                for q in range(q_lo, _imin((u + pl) // sw + 1, OW)):
                    u0 = q * sw - pl
                    cols = _imin(u0 + KW, W) - _imax(u0, 0)
                    acc += dy[((n * OH + p) * OW + q) * C + c] / (rows * cols)
            dx[i] = acc

    return avg_pool2d_grad


def _pool_args(xshape, ksize, strides, pads) -> tuple[tuple[int, ...], tuple]:
    n, h, w, c = xshape
    oh = _out_size(h, ksize[0], strides[0], 1, pads[0], pads[1])
    ow = _out_size(w, ksize[1], strides[1], 1, pads[2], pads[3])
    return (n, oh, ow, c), (h, w, c, *ksize, oh, ow, *strides, pads[0], pads[2])


@gpu_kernel("max_pool2d")
def max_pool2d_gpu(x, ksize, strides, pads):
    out_shape, args = _pool_args(tuple(x.shape), ksize, strides, pads)
    out = _empty(out_shape, x.dtype)
    if out.size:
        _run(("max_pool2d",), *_launch(out.size), _flat(x), _flat(out), *args)
    return out


@gpu_kernel("max_pool2d_grad")
def max_pool2d_grad_gpu(x, dy, ksize, strides, pads):
    out_shape, args = _pool_args(tuple(x.shape), ksize, strides, pads)
    if tuple(dy.shape) != out_shape:
        raise ValueError(f"gradient of shape {list(dy.shape)} for an output of {list(out_shape)}")
    dtype = np.result_type(x.dtype, dy.dtype)
    dx = _empty(x.shape, dtype)
    if dx.size:
        flat = _flat(x), _flat(dy), _flat(dx)
        _run(("max_pool2d_grad",), *_launch(dx.size), *flat, *args, _scalar(0, dtype))
    return dx


@gpu_kernel("max_pool2d_grad_grad")
def max_pool2d_grad_grad_gpu(x, g, ksize, strides, pads):
    out_shape, args = _pool_args(tuple(x.shape), ksize, strides, pads)
    if tuple(g.shape) != tuple(x.shape):
        raise ValueError(f"gradient of shape {list(g.shape)} for an input of {list(x.shape)}")
    out = _empty(out_shape, g.dtype)
    if out.size:
        _run(("max_pool2d_grad_grad",), *_launch(out.size), _flat(x), _flat(g), _flat(out), *args)
    return out


@gpu_kernel("avg_pool2d")
def avg_pool2d_gpu(x, ksize, strides, pads):
    out_shape, args = _pool_args(tuple(x.shape), ksize, strides, pads)
    out = _empty(out_shape, x.dtype)
    if out.size:
        _run(("avg_pool2d",), *_launch(out.size), _flat(x), _flat(out), *args, _scalar(0, x.dtype))
    return out


@gpu_kernel("avg_pool2d_grad")
def avg_pool2d_grad_gpu(dy, input_shape, ksize, strides, pads):
    out_shape, args = _pool_args(tuple(int(d) for d in input_shape), ksize, strides, pads)
    if tuple(dy.shape) != out_shape:
        raise ValueError(f"gradient of shape {list(dy.shape)} for an output of {list(out_shape)}")
    dx = _empty(input_shape, dy.dtype)
    if dx.size:
        zero = _scalar(0, dy.dtype)
        _run(("avg_pool2d_grad",), *_launch(dx.size), _flat(dy), _flat(dx), *args, zero)
    return dx


# -- softmax and cross-entropy (a thread or a block per row) --------------------------------------
# Row r of a softmax axis of `length` starts at (r // inner) * length * inner + r % inner and
# steps by inner, where inner is the size of the axes after it.


@cuda.jit(device=True)
def _row_max(x, base, inner, length, start, step, acc):
    for j in range(start, length, step):
        acc = _max(acc, x[base + j * inner])
    return acc


@cuda.jit(device=True)
def _row_exp_sum(x, base, inner, length, start, step, peak, acc):
    for j in range(start, length, step):
        acc += math.exp(x[base + j * inner] - peak)
    return acc


@cuda.jit(device=True)
def _row_softmax(x, out, base, inner, length, start, step, peak, total, log):
    if log:
        shift = peak + math.log(total)
        for j in range(start, length, step):
            out[base + j * inner] = x[base + j * inner] - shift
    else:
        for j in range(start, length, step):
            out[base + j * inner] = math.exp(x[base + j * inner] - peak) / total


@cuda.jit(device=True)
def _row_xent(labels, logits, base, inner, length, start, step, lse, acc):
    for j in range(start, length, step):
        acc += labels[base + j * inner] * (lse - logits[base + j * inner])
    return acc


@_builder("softmax_each")
def _(log):
    @cuda.jit
    def softmax_each(x, out, rows, length, inner, lowest, zero):
        for r in range(cuda.grid(1), rows, cuda.gridsize(1)):
            base = (r // inner) * length * inner + r % inner
            peak = _row_max(x, base, inner, length, 0, 1, lowest)
            total = _row_exp_sum(x, base, inner, length, 0, 1, peak, zero)
            _row_softmax(x, out, base, inner, length, 0, 1, peak, total, log)

    return softmax_each


@_builder("softmax_blocks")
def _(dtype, log):
    nbtype = numba.from_dtype(np.dtype(dtype))

    @cuda.jit
    def softmax_blocks(x, out, rows, length, inner, lowest, zero):
        partial = cuda.shared.array(THREADS, nbtype)
        t = cuda.threadIdx.x
        for r in range(cuda.blockIdx.x, rows, cuda.gridDim.x):
            base = (r // inner) * length * inner + r % inner
            peak = _block_max(partial, t, _row_max(x, base, inner, length, t, THREADS, lowest))
            part = _row_exp_sum(x, base, inner, length, t, THREADS, peak, zero)
            total = _block_sum(partial, t, part)
            _row_softmax(x, out, base, inner, length, t, THREADS, peak, total, log)

    return softmax_blocks


@_builder("softmax_xent_each")
def _():
    @cuda.jit
    def softmax_xent_each(labels, logits, loss, length, inner, lowest, zero):
        # loss[r] = sum(labels * (logsumexp(logits) - logits)) over row r.
        for r in range(cuda.grid(1), loss.size, cuda.gridsize(1)):
            base = (r // inner) * length * inner + r % inner
            peak = _row_max(logits, base, inner, length, 0, 1, lowest)
            lse = peak + math.log(_row_exp_sum(logits, base, inner, length, 0, 1, peak, zero))
            loss[r] = _row_xent(labels, logits, base, inner, length, 0, 1, lse, zero)

    return softmax_xent_each


@_builder("softmax_xent_blocks")
def _(dtype):
    nbtype = numba.from_dtype(np.dtype(dtype))

    @cuda.jit
    def softmax_xent_blocks(labels, logits, loss, length, inner, lowest, zero):
        partial = cuda.shared.array(THREADS, nbtype)
        t = cuda.threadIdx.x
        for r in range(cuda.blockIdx.x, loss.size, cuda.gridDim.x):
            base = (r // inner) * length * inner + r % inner
            part = _row_max(logits, base, inner, length, t, THREADS, lowest)
            peak = _block_max(partial, t, part)
            part = _row_exp_sum(logits, base, inner, length, t, THREADS, peak, zero)
            lse = peak + math.log(_block_sum(partial, t, part))
            part = _row_xent(labels, logits, base, inner, length, t, THREADS, lse, zero)
            total = _block_sum(partial, t, part)
            if t == 0:
                loss[r] = total

    return softmax_xent_blocks


def _rows(shape: tuple[int, ...], axis: int) -> tuple[int, int, int]:
    """(rows, length, inner) of `axis` of a contiguous `shape`."""
    if not -len(shape) <= axis < len(shape):
        raise ValueError(f"axis {axis} is out of range for shape {list(shape)}")
    axis %= len(shape)
    inner = int(np.prod(shape[axis + 1 :], dtype=np.int64))
    return int(np.prod(shape, dtype=np.int64)) // max(shape[axis], 1), shape[axis], inner


def _softmax(x, axis: int, log: bool):
    shape, dtype = tuple(x.shape), np.dtype(x.dtype)
    if dtype.kind != "f":
        raise TypeError(f"softmax of {dtype.name}: floats only")
    rows, length, inner = _rows(shape, axis)
    out = _empty(shape, dtype)
    if out.size:
        limits = _scalar(_lowest(dtype), dtype), _scalar(0, dtype)
        args = _flat(x), _flat(out), rows, length, inner, *limits
        if length <= SHORT:
            _run(("softmax_each", log), *_launch(rows), *args)
        else:
            _run(("softmax_blocks", dtype.str, log), min(rows, 8 * MAX_BLOCKS), THREADS, *args)
    return out


@gpu_kernel("softmax")
def softmax_gpu(x, axis):
    return _softmax(x, axis, False)


@gpu_kernel("log_softmax")
def log_softmax_gpu(x, axis):
    return _softmax(x, axis, True)


@gpu_kernel("softmax_cross_entropy_with_logits")
def softmax_cross_entropy_gpu(labels, logits, axis):
    shape, dtype = tuple(logits.shape), np.result_type(labels.dtype, logits.dtype)
    if tuple(labels.shape) != shape or dtype.kind != "f":
        raise ValueError(f"labels {list(labels.shape)} and logits {list(shape)} must match")
    rows, length, inner = _rows(shape, axis)
    loss = _empty(shape[: axis % len(shape)] + shape[axis % len(shape) + 1 :], dtype)
    if loss.size and length == 0:
        _fill(loss, 0)
    elif loss.size:
        limits = _scalar(_lowest(dtype), dtype), _scalar(0, dtype)
        args = _flat(labels), _flat(logits), _flat(loss), length, inner, *limits
        if length <= SHORT:
            _run(("softmax_xent_each",), *_launch(rows), *args)
        else:
            key = ("softmax_xent_blocks", dtype.str)
            _run(key, min(rows, 8 * MAX_BLOCKS), THREADS, *args)
    return loss


register()

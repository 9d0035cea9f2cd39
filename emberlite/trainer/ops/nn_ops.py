"""Neural-network ops, NHWC as in TensorFlow: convolutions, pooling, activations, softmax and
the cross entropies, normalization, dropout, embeddings.

Primitives carry a kernel and a gradient rule written with ops, so second derivatives work:
conv2d's input and filter gradients are the primitives conv2d_backprop_input (a transposed
convolution) and conv2d_backprop_filter, and each of the three differentiates into the
others.  Pooling has its gradient primitives the same way.  The convolutions are im2col +
a BLAS matmul per chunk of images, each thread taking a range of images; im2col, col2im and
pooling run in the numba kernels of emberlite/trainer/kernels/cpu.py, and the NumPy
`*_reference` functions here are what those kernels are tested against (and what runs for
dtypes numba does not take).
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from emberlite.trainer.kernels import cpu
from emberlite.trainer.ops.array_ops import gather, reshape, transpose
from emberlite.trainer.ops.math_ops import (
    _axes,
    constant_like,
    exp,
    greater,
    maximum,
    reduce_mean,
    reduce_sum,
    rsqrt,
    sqrt,
    square,
    squared_difference,
    stop_gradient,
    tanh,
    where,
)
from emberlite.trainer.ops.registry import OpError, primitive
from emberlite.trainer.tensor import Tensor, convert_to_tensor

# Bytes of im2col columns a thread builds at a time: bounds the scratch memory of big
# convolutions and keeps the columns in cache for the matmul that reads them.
COLS_BUDGET = 1 << 22
_scratch_buffers = threading.local()

# -- geometry ---------------------------------------------------------------------------------


def _shape(t: Tensor | np.ndarray | tuple) -> list[int]:
    return [int(d) for d in (t if isinstance(t, tuple | list) else t.shape)]


def _pair(value: Any, what: str, op: str, nchw: bool) -> tuple[int, int]:
    """TF's strides / ksize / dilations: an int, or 1, 2 or 4 ints (4: in data_format order)."""
    values = [int(v) for v in np.asarray(value).reshape(-1)]
    if len(values) == 1:
        return values[0], values[0]
    if len(values) == 2:
        return values[0], values[1]
    if len(values) == 4:
        outer = (values[0], values[1]) if nchw else (values[0], values[3])
        if outer != (1, 1):
            raise OpError(f"{op}: {what} {values} must be 1 in the batch and channel dimensions")
        return (values[2], values[3]) if nchw else (values[1], values[2])
    raise OpError(f"{op}: {what} must be an int or a list of 1, 2 or 4 ints, got {values}")


def _positive(values: tuple[int, ...], what: str, op: str) -> None:
    if min(values) < 1:
        raise OpError(f"{op}: {what} must be positive, got {list(values)}")


def _padding(
    padding: Any,
    size: tuple[int, int],
    window: tuple[int, int],
    strides: tuple[int, int],
    dilations: tuple[int, int],
    op: str,
    nchw: bool,
    shapes: str,
) -> tuple[tuple[int, int, int, int], tuple[int, int]]:
    """(pads (top, bottom, left, right), output (h, w)) of TF's SAME, VALID or explicit
    padding ([[0, 0], [top, bottom], [left, right], [0, 0]] in data_format order)."""
    spans = [(k - 1) * d + 1 for k, d in zip(window, dilations, strict=True)]
    if isinstance(padding, str):
        mode = padding.upper()
        if mode == "VALID":
            pads = (0, 0, 0, 0)
        elif mode == "SAME":
            pads = ()
            for n, span, s in zip(size, spans, strides, strict=True):
                total = max((-(-n // s) - 1) * s + span - n, 0)
                pads += (total // 2, total - total // 2)
        else:
            raise OpError(f"{op}: padding must be 'SAME', 'VALID' or explicit, got {padding!r}")
    else:
        pairs = np.asarray(padding, dtype=np.int64).reshape(-1, 2)
        if len(pairs) == 4:
            outer = pairs[[0, 1]] if nchw else pairs[[0, 3]]
            if outer.any():
                raise OpError(f"{op}: explicit padding {pairs.tolist()} pads batch or channels")
            pairs = pairs[2:] if nchw else pairs[1:3]
        if len(pairs) != 2 or (pairs < 0).any():
            raise OpError(f"{op}: explicit padding must be 4 non-negative [before, after] pairs")
        pads = tuple(int(p) for p in pairs.reshape(-1))
    out = tuple(
        (n + pads[2 * i] + pads[2 * i + 1] - span) // s + 1
        for i, (n, span, s) in enumerate(zip(size, spans, strides, strict=True))
    )
    if min(out) < 1:
        raise OpError(
            f"{op}: a {window[0]}x{window[1]} window (dilations {list(dilations)}) with "
            f"padding {padding!r} does not fit {shapes}"
        )
    return pads, out


def _out_size(size: int, k: int, s: int, d: int, before: int, after: int) -> int:
    return (size + before + after - (k - 1) * d - 1) // s + 1


def _out_hw(shape, kernel, strides, dilations, pads) -> tuple[int, int]:
    return (
        _out_size(shape[1], kernel[0], strides[0], dilations[0], pads[0], pads[1]),
        _out_size(shape[2], kernel[1], strides[1], dilations[1], pads[2], pads[3]),
    )


def _data_format(data_format: str | None, op: str) -> bool:
    """True for NCHW (handled by transposing to NHWC and back)."""
    fmt = (data_format or "NHWC").upper()
    if fmt not in ("NHWC", "NCHW"):
        raise OpError(f"{op}: data_format must be 'NHWC' or 'NCHW', got {data_format!r}")
    return fmt == "NCHW"


def _to_nhwc(x: Tensor, nchw: bool) -> Tensor:
    return transpose(x, (0, 2, 3, 1)) if nchw else x


def _from_nhwc(x: Tensor, nchw: bool) -> Tensor:
    return transpose(x, (0, 3, 1, 2)) if nchw else x


def _rank4(x: Tensor, what: str, op: str) -> None:
    if x.ndim != 4:
        raise OpError(f"{op}: {what} must have rank 4, got shape {_shape(x)}")


# -- NumPy references of the fast kernels ------------------------------------------------------


def _padded(x: np.ndarray, pads, fill: float) -> np.ndarray:
    pt, pb, pl, pr = pads
    return np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=fill)


def _windows(xp: np.ndarray, kernel, strides, dilations, out_hw) -> np.ndarray:
    """Read-only view [n, oh, ow, kh, kw, c] of the windows of an already padded input."""
    n, _, _, c = xp.shape
    s = xp.strides
    return as_strided(
        xp,
        (n, *out_hw, *kernel, c),
        (s[0], s[1] * strides[0], s[2] * strides[1])
        + (s[1] * dilations[0], s[2] * dilations[1], s[3]),
        writeable=False,
    )


def im2col_reference(x, kernel, strides, dilations, pads) -> np.ndarray:
    """Columns [n, oh, ow, kh, kw, c] of the zero-padded input."""
    out_hw = _out_hw(x.shape, kernel, strides, dilations, pads)
    return np.ascontiguousarray(_windows(_padded(x, pads, 0), kernel, strides, dilations, out_hw))


def col2im_reference(dcols, input_shape, kernel, strides, dilations, pads) -> np.ndarray:
    """The adjoint of im2col: each column element added back where it was read from."""
    n, h, w, c = input_shape
    pt, pb, pl, pr = pads
    oh, ow = dcols.shape[1:3]
    padded = np.zeros((n, h + pt + pb, w + pl + pr, c), dcols.dtype)
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            y, u = i * dilations[0], j * dilations[1]
            rows = slice(y, y + strides[0] * (oh - 1) + 1, strides[0])
            columns = slice(u, u + strides[1] * (ow - 1) + 1, strides[1])
            padded[:, rows, columns] += dcols[:, :, :, i, j]
    return padded[:, pt : pt + h, pl : pl + w].copy()


def max_pool2d_reference(x, ksize, strides, pads) -> np.ndarray:
    out_hw = _out_hw(x.shape, ksize, strides, (1, 1), pads)
    return _windows(_padded(x, pads, -np.inf), ksize, strides, (1, 1), out_hw).max(axis=(3, 4))


def _first_max(x, ksize, strides, pads) -> np.ndarray:
    """Index (in row-major window order) of each window's first maximum (a NaN if any)."""
    out_hw = _out_hw(x.shape, ksize, strides, (1, 1), pads)
    windows = _windows(_padded(x, pads, -np.inf), ksize, strides, (1, 1), out_hw)
    n, oh, ow, kh, kw, c = windows.shape
    return np.argmax(windows.reshape(n, oh, ow, kh * kw, c), axis=3)


def _window_positions(index, ksize, strides):
    """Padded (batch, row, column, channel) index arrays of the chosen window elements."""
    n, oh, ow, c = index.shape
    b, p, q, ch = np.indices((n, oh, ow, c), sparse=True)
    return b, p * strides[0] + index // ksize[1], q * strides[1] + index % ksize[1], ch


def max_pool2d_grad_reference(x, dy, ksize, strides, pads) -> np.ndarray:
    index = _first_max(x, ksize, strides, pads)
    pt, pb, pl, pr = pads
    n, h, w, c = x.shape
    padded = np.zeros((n, h + pt + pb, w + pl + pr, c), dy.dtype)
    np.add.at(padded, _window_positions(index, ksize, strides), dy)
    return padded[:, pt : pt + h, pl : pl + w].copy()


def _avg_pool_counts(shape, ksize, strides, pads) -> np.ndarray:
    """How many unpadded elements each window holds, [1, oh, ow, 1]."""
    ones = np.ones((1, shape[1], shape[2], 1))
    out_hw = _out_hw(shape, ksize, strides, (1, 1), pads)
    return _windows(_padded(ones, pads, 0), ksize, strides, (1, 1), out_hw).sum(axis=(3, 4))


def avg_pool2d_reference(x, ksize, strides, pads) -> np.ndarray:
    out_hw = _out_hw(x.shape, ksize, strides, (1, 1), pads)
    sums = _windows(_padded(x, pads, 0), ksize, strides, (1, 1), out_hw).sum(axis=(3, 4))
    return (sums / _avg_pool_counts(x.shape, ksize, strides, pads)).astype(x.dtype)


def avg_pool2d_grad_reference(dy, input_shape, ksize, strides, pads) -> np.ndarray:
    scaled = (dy / _avg_pool_counts(input_shape, ksize, strides, pads)).astype(dy.dtype)
    dcols = np.broadcast_to(scaled[:, :, :, None, None, :], (*dy.shape[:3], *ksize, dy.shape[3]))
    return col2im_reference(dcols, input_shape, ksize, strides, (1, 1), pads)


def erf_reference(x: np.ndarray) -> np.ndarray:
    """erf in float64 NumPy: the Maclaurin series below |x| = 1/2, else 1 - erfc(|x|) with the
    Chebyshev erfc of the interpreter's GELU (6e-9 relative, below float32's rounding)."""
    from emberlite.interpreter.kernels.activations import _ERFC_POWERS

    z = np.asarray(x, np.float64)
    a = np.abs(z)
    # erfc(a) = t exp(-a^2 + P(2t - 1)), t = 2 / (2 + a)
    t = 2.0 / (2.0 + a)
    y = 2.0 * t - 1.0
    poly = np.full_like(y, _ERFC_POWERS[-1])
    for c in _ERFC_POWERS[-2::-1]:
        poly = poly * y + c
    far = np.copysign(1.0 - t * np.exp(poly - a * a), z)
    # erf(z) = 2/sqrt(pi) sum (-1)^k z^(2k+1) / (k! (2k+1)); 14 terms are exact to 1e-17 here.
    z2 = z * z
    term, near = z.copy(), z.copy()
    for k in range(1, 14):
        term = term * -z2 / k
        near = near + term / (2 * k + 1)
    near *= 2.0 / math.sqrt(math.pi)
    return np.where(a < 0.5, near, far).astype(np.asarray(x).dtype)


# -- conv2d and its two gradients ----------------------------------------------------------------


def _contiguous(*arrays: np.ndarray) -> list[np.ndarray]:
    dtype = np.result_type(*arrays)
    return [np.ascontiguousarray(a, dtype=dtype) for a in arrays]


def _chunk(n: int, per_image_bytes: int) -> int:
    """Images per im2col chunk."""
    return max(1, min(n, COLS_BUDGET // max(per_image_bytes, 1)))


def _scratch(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An uninitialized array for a kernel's temporaries (never one it returns), reused.

    NOTE: a fresh array of megabytes costs more to fault in than im2col costs to fill it, so
    each thread keeps one buffer per dtype (up to twice COLS_BUDGET) for the columns.
    """
    size, dtype = math.prod(shape), np.dtype(dtype)
    if size * dtype.itemsize > 2 * COLS_BUDGET:
        return np.empty(shape, dtype)
    buffers = _scratch_buffers.__dict__.setdefault("by_dtype", {})
    buffer = buffers.get(dtype)
    if buffer is None or buffer.size < size:
        buffer = buffers[dtype] = np.empty(size, dtype)
    return buffer[:size].reshape(shape)


def _im2col(x, first, count, kernel, strides, dilations, pads, out_hw) -> np.ndarray:
    """Columns of images [first, first + count) (on this thread), in its scratch."""
    if kernel == (1, 1) and strides == (1, 1) and not any(pads):
        return x[first : first + count]  # a pointwise convolution: the input is its columns
    if cpu.supports(x):
        cols = _scratch((count, *out_hw, *kernel, x.shape[3]), x.dtype)
        cpu.im2col(x, cols, first, kernel, strides, dilations, pads, parallel=False)
        return cols
    return im2col_reference(x[first : first + count], kernel, strides, dilations, pads)


def _col2im(dcols, dx, first, kernel, strides, dilations, pads) -> None:
    """dx[first : first + len(dcols)] from columns (on this thread)."""
    count = dcols.shape[0]
    if kernel == (1, 1) and strides == (1, 1) and not any(pads):
        dx[first : first + count] = dcols.reshape(count, *dx.shape[1:])
    elif cpu.supports(dcols, dx):
        cpu.col2im(dcols, dx, first, kernel, strides, dilations, pads, parallel=False)
    else:
        shape = (count, *dx.shape[1:])
        dx[first : first + count] = col2im_reference(dcols, shape, kernel, strides, dilations, pads)


def _group_filter(w: np.ndarray, groups: int) -> np.ndarray:
    """[kh, kw, cg, cout] -> [kh * kw, cg, groups, cout / groups]."""
    kh, kw, cg, cout = w.shape
    return w.reshape(kh * kw, cg, groups, cout // groups)


def _over_images(worker, ranges: list[tuple[int, int]]) -> None:
    """Run worker(k, start, stop) over the k-th range of images, one range per thread.

    NOTE: each thread builds its own columns and runs its own matmul with BLAS held to one
    thread: the columns stay in that core's cache, and no BLAS thread spins for work while
    the numba loops run (on few cores that spinning halves their speed).
    """
    with cpu.single_threaded_blas():
        cpu.run_parallel([lambda k=k, s=s, e=e: worker(k, s, e) for k, (s, e) in enumerate(ranges)])


def _conv2d_kernel(x, w, strides, dilations, pads, groups):
    x, w = _contiguous(x, w)
    n, _, _, c = x.shape
    kh, kw, cg, cout = w.shape
    if cg * groups != c or cout % groups:
        raise ValueError(f"filters of shape {list(w.shape)} for {groups} groups of {c} channels")
    out_hw = _out_hw(x.shape, (kh, kw), strides, dilations, pads)
    y = np.empty((n, *out_hw, cout), x.dtype)
    rows = out_hw[0] * out_hw[1]
    step = _chunk(n, rows * kh * kw * c * x.itemsize)

    def images(_, start, stop):
        for first in range(start, stop, step):
            count = min(step, stop - first)
            cols = _im2col(x, first, count, (kh, kw), strides, dilations, pads, out_hw)
            out = y[first : first + count].reshape(count * rows, cout)
            if groups == 1:
                np.matmul(cols.reshape(count * rows, -1), w.reshape(-1, cout), out=out)
            else:
                cols = cols.reshape(count * rows, kh * kw, groups, cg)
                out = out.reshape(count * rows, groups, cout // groups)
                np.einsum("mkgc,kcgo->mgo", cols, _group_filter(w, groups), out=out)

    _over_images(images, cpu.split_rows(n, y.size * kh * kw * cg))
    return y


def _conv2d_backprop_input_kernel(dy, w, input_shape, strides, dilations, pads, groups):
    dy, w = _contiguous(dy, w)
    n, _, _, c = input_shape
    kh, kw, cg, cout = w.shape
    _, oh, ow, _ = dy.shape
    dx = np.empty(input_shape, dy.dtype)
    rows = oh * ow
    step = _chunk(n, rows * kh * kw * c * dy.itemsize)

    def images(_, start, stop):
        for first in range(start, stop, step):
            count = min(step, stop - first)
            grads = dy[first : first + count].reshape(count * rows, cout)
            if groups == 1:
                dcols = _scratch((count * rows, kh * kw * c), dy.dtype)
                np.matmul(grads, w.reshape(-1, cout).T, out=dcols)
            else:
                grads = grads.reshape(count * rows, groups, cout // groups)
                dcols = np.einsum("mgo,kcgo->mkgc", grads, _group_filter(w, groups))
            dcols = dcols.reshape(count, oh, ow, kh, kw, c)
            _col2im(dcols, dx, first, (kh, kw), strides, dilations, pads)

    _over_images(images, cpu.split_rows(n, dy.size * kh * kw * cg))
    return dx


def _conv2d_backprop_filter_kernel(x, dy, filter_shape, strides, dilations, pads, groups):
    x, dy = _contiguous(x, dy)
    n, _, _, c = x.shape
    kh, kw, cg, cout = filter_shape
    _, oh, ow, _ = dy.shape
    rows = oh * ow
    step = _chunk(n, rows * kh * kw * c * x.itemsize)
    ranges = cpu.split_rows(n, dy.size * kh * kw * cg)
    parts = np.zeros((len(ranges), kh * kw * cg, cout), x.dtype)  # a partial sum per thread

    def images(k, start, stop):
        for first in range(start, stop, step):
            count = min(step, stop - first)
            cols = _im2col(x, first, count, (kh, kw), strides, dilations, pads, (oh, ow))
            grads = dy[first : first + count].reshape(count * rows, cout)
            if groups == 1:
                parts[k] += cols.reshape(count * rows, -1).T @ grads
            else:
                cols = cols.reshape(count * rows, kh * kw, groups, cg)
                grads = grads.reshape(count * rows, groups, cout // groups)
                partial = np.einsum("mkgc,mgo->kcgo", cols, grads)
                parts[k] += partial.reshape(kh * kw * cg, cout)

    _over_images(images, ranges)
    return (parts.sum(axis=0) if len(parts) > 1 else parts[0]).reshape(filter_shape)


@primitive("conv2d")
def _conv2d(x, w, strides, dilations, pads, groups):
    return _conv2d_kernel(x, w, strides, dilations, pads, groups)


@primitive("conv2d_backprop_input")
def _conv2d_backprop_input(dy, w, input_shape, strides, dilations, pads, groups):
    input_shape = batch_from(input_shape, dy)
    return _conv2d_backprop_input_kernel(dy, w, input_shape, strides, dilations, pads, groups)


def batch_from(input_shape: tuple, dy: Any) -> tuple[int, ...]:
    """`input_shape` with a batch of -1 taken from the gradient's batch: conv2d_transpose
    leaves the batch out of its attrs, so a traced graph serves any batch size."""
    return (dy.shape[0], *input_shape[1:]) if input_shape[0] == -1 else tuple(input_shape)


@primitive("conv2d_backprop_filter")
def _conv2d_backprop_filter(x, dy, filter_shape, strides, dilations, pads, groups):
    return _conv2d_backprop_filter_kernel(x, dy, filter_shape, strides, dilations, pads, groups)


def _conv_attrs(op) -> dict:
    return {k: op.attrs[k] for k in ("strides", "dilations", "pads", "groups")}


@_conv2d.grad
def _(op, g):
    x, w = op.inputs
    attrs = _conv_attrs(op)
    return (
        _conv2d_backprop_input(g, w, input_shape=x.shape, **attrs),
        _conv2d_backprop_filter(x, g, filter_shape=w.shape, **attrs),
    )


@_conv2d_backprop_input.grad
def _(op, g):
    # dx = A(w)^T dy, so <g, dx> = <conv2d(g, w), dy>: linear in dy, and in w the filter
    # gradient of a convolution of g.
    dy, w = op.inputs
    attrs = _conv_attrs(op)
    return (
        _conv2d(g, w, **attrs),
        _conv2d_backprop_filter(g, dy, filter_shape=w.shape, **attrs),
    )


@_conv2d_backprop_filter.grad
def _(op, g):
    # <g, dw> = <conv2d(x, g), dy>.
    x, dy = op.inputs
    attrs = _conv_attrs(op)
    return (
        _conv2d_backprop_input(dy, g, input_shape=x.shape, **attrs),
        _conv2d(x, g, **attrs),
    )


def _conv_operands(input: Any, filters: Any, op: str, nchw: bool) -> tuple[Tensor, Tensor]:
    x, w = _to_nhwc(convert_to_tensor(input), nchw), convert_to_tensor(filters)
    if x.ndim != 4 or w.ndim != 4:
        raise OpError(
            f"{op}: input and filters must have rank 4, got shapes {_shape(x)} and {_shape(w)}"
        )
    if x.dtype != w.dtype:
        raise OpError(
            f"{op}: input ({x.dtype.name}, shape {_shape(x)}) and filters "
            f"({w.dtype.name}, shape {_shape(w)}) must have the same dtype"
        )
    return x, w


def conv2d(
    input: Any,  # noqa: A002 (TF's name)
    filters: Any,
    strides: Any,
    padding: Any,
    data_format: str = "NHWC",
    dilations: Any = None,
    name: str | None = None,
) -> Tensor:
    """2-D convolution (cross-correlation), tf.nn.conv2d: filters [kh, kw, in, out].

    Input channels that are a multiple of the filters' `in` make a grouped convolution.
    """
    op = "conv2d"
    nchw = _data_format(data_format, op)
    x, w = _conv_operands(input, filters, op, nchw)
    strides = _pair(strides, "strides", op, nchw)
    dilations = _pair(1 if dilations is None else dilations, "dilations", op, nchw)
    _positive(strides + dilations, "strides and dilations", op)
    kh, kw, cg, cout = w.shape
    c = x.shape[3]
    if cg < 1 or c % cg or cout % (c // cg):
        raise OpError(
            f"{op}: input of shape {_shape(x)} has {c} channels, which filters of shape "
            f"{_shape(w)} do not take (needs {cg} or a multiple, dividing {cout} outputs)"
        )
    shapes = f"input of shape {_shape(x)} with filters of shape {_shape(w)}"
    pads, _ = _padding(padding, x.shape[1:3], (kh, kw), strides, dilations, op, nchw, shapes)
    y = _conv2d(x, w, strides=strides, dilations=dilations, pads=pads, groups=c // cg)
    return _from_nhwc(y, nchw)


def depthwise_conv2d(
    input: Any,  # noqa: A002 (TF's name)
    filter: Any,  # noqa: A002 (TF's name)
    strides: Any,
    padding: Any,
    data_format: str | None = None,
    dilations: Any = None,
    name: str | None = None,
) -> Tensor:
    """Depthwise 2-D convolution, tf.nn.depthwise_conv2d: filter [kh, kw, in, multiplier];
    output channel c * multiplier + m is input channel c convolved with filter[..., c, m]."""
    op = "depthwise_conv2d"
    nchw = _data_format(data_format, op)
    x, w = _conv_operands(input, filter, op, nchw)
    kh, kw, c, multiplier = w.shape
    if x.shape[3] != c:
        raise OpError(
            f"{op}: input of shape {_shape(x)} has {x.shape[3]} channels but filter of shape "
            f"{_shape(w)} expects {c}"
        )
    strides = _pair(strides, "strides", op, nchw)
    dilations = _pair(1 if dilations is None else dilations, "dilations", op, nchw)
    _positive(strides + dilations, "strides and dilations", op)
    shapes = f"input of shape {_shape(x)} with filter of shape {_shape(w)}"
    pads, _ = _padding(padding, x.shape[1:3], (kh, kw), strides, dilations, op, nchw, shapes)
    # NOTE: a grouped convolution with one group per channel: filters [kh, kw, 1, c * m]
    # order their outputs channel-major, as TF's depthwise output is.
    grouped = reshape(w, (kh, kw, 1, c * multiplier))
    y = _conv2d(x, grouped, strides=strides, dilations=dilations, pads=pads, groups=c)
    return _from_nhwc(y, nchw)


def conv2d_transpose(
    input: Any,  # noqa: A002 (TF's name)
    filters: Any,
    output_shape: Any,
    strides: Any,
    padding: Any = "SAME",
    data_format: str = "NHWC",
    dilations: Any = None,
    name: str | None = None,
) -> Tensor:
    """The transpose (gradient) of conv2d, tf.nn.conv2d_transpose: filters [kh, kw, out, in];
    `output_shape` is the full output shape, in data_format order."""
    op = "conv2d_transpose"
    nchw = _data_format(data_format, op)
    x, w = _conv_operands(input, filters, op, nchw)
    out_shape = tuple(int(d) for d in np.asarray(output_shape).reshape(-1))
    if len(out_shape) != 4:
        raise OpError(f"{op}: output_shape must have 4 entries, got {list(out_shape)}")
    if nchw:
        out_shape = (out_shape[0], out_shape[2], out_shape[3], out_shape[1])
    strides = _pair(strides, "strides", op, nchw)
    dilations = _pair(1 if dilations is None else dilations, "dilations", op, nchw)
    _positive(strides + dilations, "strides and dilations", op)
    kh, kw, cout, cin = w.shape
    shapes = f"output_shape {list(out_shape)} with filters of shape {_shape(w)}"
    pads, in_hw = _padding(padding, out_shape[1:3], (kh, kw), strides, dilations, op, False, shapes)
    expected = (out_shape[0], *in_hw, cin)
    if x.shape != expected or out_shape[3] != cout:
        raise OpError(
            f"{op}: input of shape {_shape(x)} does not match filters of shape {_shape(w)} and "
            f"output_shape {list(out_shape)} (a convolution of that output gives {list(expected)})"
        )
    y = _conv2d_backprop_input(
        x,
        w,
        input_shape=(-1, *out_shape[1:]),
        strides=strides,
        dilations=dilations,
        pads=pads,
        groups=1,
    )
    return _from_nhwc(y, nchw)


# -- pooling ----------------------------------------------------------------------------------


def _pool_forward(fast, reference, x, ksize, strides, pads):
    """The numba kernel where it supports x, else the NumPy reference."""
    x = np.ascontiguousarray(x)
    if cpu.supports(x):
        return fast(x, ksize, strides, pads, _out_hw(x.shape, ksize, strides, (1, 1), pads))
    return reference(x, ksize, strides, pads)


@primitive("max_pool2d")
def _max_pool2d(x, ksize, strides, pads):
    return _pool_forward(cpu.max_pool2d, max_pool2d_reference, x, ksize, strides, pads)


@primitive("max_pool2d_grad")
def _max_pool2d_grad(x, dy, ksize, strides, pads):
    x, dy = _contiguous(x, dy)
    if cpu.supports(x, dy):
        return cpu.max_pool2d_grad(x, dy, ksize, strides, pads)
    return max_pool2d_grad_reference(x, dy, ksize, strides, pads)


@primitive("max_pool2d_grad_grad")
def _max_pool2d_grad_grad(x, g, ksize, strides, pads):
    """Each window's element of g at the window's first maximum of x."""
    index = _first_max(x, ksize, strides, pads)
    positions = _window_positions(index, ksize, strides)
    return _padded(np.asarray(g), pads, 0)[positions]


def _pool_attrs(op) -> dict:
    return {k: op.attrs[k] for k in ("ksize", "strides", "pads")}


@_max_pool2d.grad
def _(op, g):
    return (_max_pool2d_grad(op.inputs[0], g, **_pool_attrs(op)),)


@_max_pool2d_grad.grad
def _(op, g):
    # Piecewise linear in dy with a routing that x fixes: no gradient flows into x.
    return None, _max_pool2d_grad_grad(op.inputs[0], g, **_pool_attrs(op))


@_max_pool2d_grad_grad.grad
def _(op, g):
    return None, _max_pool2d_grad(op.inputs[0], g, **_pool_attrs(op))


@primitive("avg_pool2d")
def _avg_pool2d(x, ksize, strides, pads):
    return _pool_forward(cpu.avg_pool2d, avg_pool2d_reference, x, ksize, strides, pads)


@primitive("avg_pool2d_grad")
def _avg_pool2d_grad(dy, input_shape, ksize, strides, pads):
    dy = np.ascontiguousarray(dy)
    if cpu.supports(dy):
        return cpu.avg_pool2d_grad(dy, input_shape, ksize, strides, pads)
    return avg_pool2d_grad_reference(dy, input_shape, ksize, strides, pads)


@_avg_pool2d.grad
def _(op, g):
    return (_avg_pool2d_grad(g, input_shape=op.inputs[0].shape, **_pool_attrs(op)),)


@_avg_pool2d_grad.grad
def _(op, g):
    return (_avg_pool2d(g, **_pool_attrs(op)),)


def _pool(prim, op, input, ksize, strides, padding, data_format) -> Tensor:
    nchw = _data_format(data_format, op)
    x = _to_nhwc(convert_to_tensor(input), nchw)
    _rank4(x, "input", op)
    ksize = _pair(ksize, "ksize", op, nchw)
    strides = _pair(strides, "strides", op, nchw)
    _positive(ksize + strides, "ksize and strides", op)
    shape = f"input of shape {_shape(x)}"
    pads, _ = _padding(padding, x.shape[1:3], ksize, strides, (1, 1), op, nchw, shape)
    if max(pads[:2]) >= ksize[0] or max(pads[2:]) >= ksize[1]:
        raise OpError(f"{op}: padding {list(pads)} leaves windows of {list(ksize)} empty")
    return _from_nhwc(prim(x, ksize=ksize, strides=strides, pads=pads), nchw)


def max_pool2d(
    input: Any,  # noqa: A002 (TF's name)
    ksize: Any,
    strides: Any,
    padding: Any,
    data_format: str = "NHWC",
    name: str | None = None,
) -> Tensor:
    """Max pooling, tf.nn.max_pool2d (padding never wins a window)."""
    return _pool(_max_pool2d, "max_pool2d", input, ksize, strides, padding, data_format)


def avg_pool2d(
    input: Any,  # noqa: A002 (TF's name)
    ksize: Any,
    strides: Any,
    padding: Any,
    data_format: str = "NHWC",
    name: str | None = None,
) -> Tensor:
    """Average pooling, tf.nn.avg_pool2d: each window's mean over its unpadded elements."""
    return _pool(_avg_pool2d, "avg_pool2d", input, ksize, strides, padding, data_format)


# -- activations ------------------------------------------------------------------------------


@primitive("relu")
def _relu(x):
    return np.maximum(x, 0).astype(x.dtype, copy=False)


@primitive("relu6")
def _relu6(x):
    return np.clip(x, 0, 6).astype(x.dtype, copy=False)


@primitive("relu_grad")
def _relu_grad(g, x, cap):
    """g where 0 < x (< cap), else 0: the gradient of relu and relu6."""
    limit = np.inf if cap is None else cap
    if g.shape == x.shape and cpu.supports(g, x):
        return cpu.relu_grad(g, x, limit)
    return np.where((x > 0) & (x < limit), g, np.zeros((), g.dtype))


@_relu.grad
def _(op, g):
    return (_relu_grad(g, op.outputs[0], cap=None),)


@_relu6.grad
def _(op, g):
    return (_relu_grad(g, op.inputs[0], cap=6),)


@_relu_grad.grad
def _(op, g):
    return _relu_grad(g, op.inputs[1], cap=op.attrs["cap"]), None


def relu(features: Any, name: str | None = None) -> Tensor:
    """max(features, 0)."""
    return _relu(convert_to_tensor(features))


def relu6(features: Any, name: str | None = None) -> Tensor:
    """min(max(features, 0), 6)."""
    return _relu6(convert_to_tensor(features))


def leaky_relu(features: Any, alpha: float = 0.2, name: str | None = None) -> Tensor:
    """features where positive, else alpha * features."""
    x = convert_to_tensor(features)
    return where(greater(x, 0), x, x * alpha)


@primitive("elu")
def _elu(x):
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0))).astype(x.dtype, copy=False)


@_elu.grad
def _(op, g):
    x, y = op.inputs[0], op.outputs[0]
    return (where(greater(x, 0), g, g * (y + 1)),)


def elu(features: Any, name: str | None = None) -> Tensor:
    """features where positive, else exp(features) - 1."""
    return _elu(convert_to_tensor(features))


def selu(features: Any, name: str | None = None) -> Tensor:
    """scale * elu with alpha, the self-normalizing constants of tf.nn.selu."""
    alpha, scale = 1.6732632423543772, 1.0507009873554805
    x = convert_to_tensor(features)
    return where(greater(x, 0), x * scale, elu(x) * (alpha * scale))


@primitive("sigmoid")
def _sigmoid(x):
    e = np.exp(-np.abs(x))  # never overflows
    out = 1 / (1 + e)
    return np.where(x >= 0, out, e * out).astype(x.dtype, copy=False)


@_sigmoid.grad
def _(op, g):
    y = op.outputs[0]
    return (g * y * (1 - y),)


def sigmoid(x: Any, name: str | None = None) -> Tensor:
    """1 / (1 + exp(-x)), without overflow."""
    return _sigmoid(convert_to_tensor(x))


def silu(features: Any, beta: float = 1.0) -> Tensor:
    """features * sigmoid(beta * features) (swish)."""
    x = convert_to_tensor(features)
    return x * sigmoid(x * beta if beta != 1.0 else x)


swish = silu


@primitive("softplus")
def _softplus(x):
    return np.logaddexp(x, 0).astype(x.dtype, copy=False)


@_softplus.grad
def _(op, g):
    return (g * sigmoid(op.inputs[0]),)


def softplus(features: Any, name: str | None = None) -> Tensor:
    """log(1 + exp(features)), without overflow."""
    return _softplus(convert_to_tensor(features))


@primitive("erf")
def _erf(x):
    if cpu.supports(x):
        return cpu.erf(np.ascontiguousarray(x))
    return erf_reference(x)


@_erf.grad
def _(op, g):
    x = op.inputs[0]
    return (g * exp(-square(x)) * (2 / math.sqrt(math.pi)),)


def erf(x: Any, name: str | None = None) -> Tensor:
    """The Gauss error function (tf.math.erf)."""
    return _erf(convert_to_tensor(x))


def gelu(features: Any, approximate: bool = False, name: str | None = None) -> Tensor:
    """x P(X <= x) for a standard normal X: 0.5 x (1 + erf(x / sqrt 2)); `approximate` uses
    0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))."""
    x = convert_to_tensor(features)
    if approximate:
        inner = (x + x * x * x * 0.044715) * math.sqrt(2 / math.pi)
        return x * 0.5 * (tanh(inner) + 1)
    return x * 0.5 * (erf(x * math.sqrt(0.5)) + 1)


def hard_swish(features: Any) -> Tensor:
    """x * relu6(x + 3) / 6."""
    x = convert_to_tensor(features)
    return x * relu6(x + 3) * (1 / 6)


def hard_sigmoid(features: Any) -> Tensor:
    """relu6(x + 3) / 6."""
    return relu6(convert_to_tensor(features) + 3) * (1 / 6)


# -- softmax ----------------------------------------------------------------------------------


@primitive("softmax")
def _softmax(x, axis):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


@_softmax.grad
def _(op, g):
    y = op.outputs[0]
    return (y * (g - reduce_sum(g * y, op.attrs["axis"], keepdims=True)),)


@primitive("log_softmax")
def _log_softmax(x, axis):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


@_log_softmax.grad
def _(op, g):
    y = op.outputs[0]
    return (g - exp(y) * reduce_sum(g, op.attrs["axis"], keepdims=True),)


def _axis(x: Tensor, axis: Any, op: str) -> int:
    axis = -1 if axis is None else int(axis)
    if not -x.ndim <= axis < x.ndim:
        raise OpError(f"{op}: axis {axis} is out of range for shape {_shape(x)}")
    return axis % x.ndim


def softmax(logits: Any, axis: int | None = None, name: str | None = None) -> Tensor:
    """exp(logits) / sum(exp(logits), axis) (default: the last axis), stably."""
    x = convert_to_tensor(logits)
    return _softmax(x, axis=_axis(x, axis, "softmax"))


def log_softmax(logits: Any, axis: int | None = None, name: str | None = None) -> Tensor:
    """logits - logsumexp(logits, axis) (default: the last axis)."""
    x = convert_to_tensor(logits)
    return _log_softmax(x, axis=_axis(x, axis, "log_softmax"))


# -- losses -----------------------------------------------------------------------------------


@primitive("softmax_cross_entropy_with_logits")
def _softmax_xent(labels, logits, axis):
    shifted = logits - np.max(logits, axis=axis, keepdims=True)
    lse = np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
    return np.sum(labels * (lse - shifted), axis=axis)


def _keep_axis(g: Tensor, like: Tensor, axis: int) -> Tensor:
    return reshape(g, tuple(1 if i == axis else d for i, d in enumerate(like.shape)))


@_softmax_xent.grad
def _(op, g):
    labels, logits = op.inputs
    axis = op.attrs["axis"]
    g = _keep_axis(g, logits, axis)
    # softmax - labels, for labels that sum to 1 (the exact gradient for any labels)
    total = reduce_sum(labels, axis, keepdims=True)
    return (
        g * -_log_softmax(logits, axis=axis),
        g * (softmax(logits, axis) * total - labels),
    )


def softmax_cross_entropy_with_logits(
    labels: Any, logits: Any, axis: int = -1, name: str | None = None
) -> Tensor:
    """-sum(labels * log_softmax(logits), axis), fused and stable (logsumexp)."""
    op = "softmax_cross_entropy_with_logits"
    logits = convert_to_tensor(logits)
    labels = convert_to_tensor(labels, logits.dtype if isinstance(labels, list) else None)
    if labels.shape != logits.shape:
        raise OpError(
            f"{op}: labels of shape {_shape(labels)} and logits of shape {_shape(logits)} differ"
        )
    if labels.dtype != logits.dtype:
        labels = _cast(labels, logits.dtype)
    return _softmax_xent(labels, logits, axis=_axis(logits, axis, op))


@primitive("sparse_softmax_cross_entropy_with_logits")
def _sparse_xent(labels, logits):
    classes = logits.shape[-1]
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        bad = labels[(labels < 0) | (labels >= classes)].reshape(-1)[0]
        raise ValueError(f"label {bad} is outside [0, {classes})")
    shifted = logits - np.max(logits, axis=-1, keepdims=True)
    lse = np.log(np.sum(np.exp(shifted), axis=-1))
    return lse - np.take_along_axis(shifted, labels[..., None].astype(np.intp), axis=-1)[..., 0]


@_sparse_xent.grad
def _(op, g):
    labels, logits = op.inputs
    targets = one_hot(labels, logits.shape[-1], dtype=logits.dtype)
    return None, _keep_axis(g, logits, logits.ndim - 1) * (softmax(logits) - targets)


@primitive("one_hot", differentiable=False)
def _one_hot(indices, depth, dtype):
    return (indices[..., None] == np.arange(depth)).astype(dtype)


def one_hot(indices: Any, depth: int, *, dtype: Any = np.float32) -> Tensor:
    """1 at each index along a new last axis of size `depth`, else 0 (a row of zeros for an
    index outside [0, depth), as tf.one_hot)."""
    return _one_hot(convert_to_tensor(indices), depth=int(depth), dtype=np.dtype(dtype))


def sparse_softmax_cross_entropy_with_logits(
    labels: Any, logits: Any, name: str | None = None
) -> Tensor:
    """-log_softmax(logits)[label] for integer class labels (logits: labels.shape + [classes])."""
    op = "sparse_softmax_cross_entropy_with_logits"
    logits = convert_to_tensor(logits)
    labels = convert_to_tensor(labels)
    if labels.dtype.kind not in "iu":
        raise OpError(f"{op}: labels must be integers, got {labels.dtype.name}")
    if logits.ndim < 1 or labels.shape != logits.shape[:-1]:
        raise OpError(
            f"{op}: labels of shape {_shape(labels)} do not match logits of shape "
            f"{_shape(logits)} (expected labels of shape {_shape(logits)[:-1]})"
        )
    return _sparse_xent(labels, logits)


def sigmoid_cross_entropy_with_logits(
    labels: Any = None, logits: Any = None, name: str | None = None
) -> Tensor:
    """-labels log sigmoid(logits) - (1 - labels) log(1 - sigmoid(logits)), stably:
    softplus(logits) - logits * labels."""
    logits = convert_to_tensor(logits)
    labels = convert_to_tensor(labels, logits.dtype if isinstance(labels, list) else None)
    if labels.shape != logits.shape:
        raise OpError(
            f"sigmoid_cross_entropy_with_logits: labels of shape {_shape(labels)} and logits "
            f"of shape {_shape(logits)} differ"
        )
    if labels.dtype != logits.dtype:
        labels = _cast(labels, logits.dtype)
    return softplus(logits) - logits * labels


def l2_loss(t: Any, name: str | None = None) -> Tensor:
    """sum(t ** 2) / 2."""
    return reduce_sum(square(t)) * 0.5


def _cast(x: Tensor, dtype: np.dtype) -> Tensor:
    from emberlite.trainer.ops.math_ops import cast

    return cast(x, dtype)


# -- normalization, bias, dropout, embeddings ---------------------------------------------------


def moments(
    x: Any, axes: Any, shift: Any = None, keepdims: bool = False, name: str | None = None
) -> tuple[Tensor, Tensor]:
    """(mean, variance) of x over `axes` (batch normalization's statistics)."""
    x = convert_to_tensor(x)
    axes = _axes(axes, x.ndim)
    mean = reduce_mean(x, axes, keepdims=True)
    # NOTE: as in TF, the variance sees the mean as a constant: its gradient through the mean
    # is zero anyway (sum(x - mean) = 0), so this only skips work.
    variance = reduce_mean(squared_difference(x, stop_gradient(mean)), axes, keepdims=True)
    if not keepdims:
        kept = tuple(d for i, d in enumerate(x.shape) if i not in axes)
        mean, variance = reshape(mean, kept), reshape(variance, kept)
    return mean, variance


def batch_normalization(
    x: Any,
    mean: Any,
    variance: Any,
    offset: Any,
    scale: Any,
    variance_epsilon: float,
    name: str | None = None,
) -> Tensor:
    """scale * (x - mean) / sqrt(variance + epsilon) + offset (offset, scale may be None)."""
    x = convert_to_tensor(x)
    inv = rsqrt(convert_to_tensor(variance) + variance_epsilon)
    if scale is not None:
        inv = inv * scale
    shift = -(convert_to_tensor(mean) * inv)
    if offset is not None:
        shift = shift + offset
    return x * inv + shift


def bias_add(value: Any, bias: Any, data_format: str | None = None, name: str | None = None):
    """value + bias along the channel axis (the last; the second for NC...)."""
    value, bias = convert_to_tensor(value), convert_to_tensor(bias)
    channels_first = (data_format or "NHWC").upper().startswith("NC")
    axis = 1 if channels_first else -1
    if value.ndim < 2 or bias.ndim != 1 or value.shape[axis] != bias.shape[0]:
        raise OpError(
            f"bias_add: bias of shape {_shape(bias)} does not match the channels of value of "
            f"shape {_shape(value)}"
        )
    if channels_first:
        bias = reshape(bias, (bias.shape[0],) + (1,) * (value.ndim - 2))
    return value + bias


_default_rng = np.random.default_rng()


@primitive("random_uniform", differentiable=False)
def _random_uniform(shape, dtype, seed):
    """Uniform in [0, 1): fresh numbers on each run from the process generator, or the same
    numbers on each run for a seed."""
    rng = _default_rng if seed is None else np.random.default_rng(seed)
    return rng.random(shape, dtype=dtype)


def random_uniform(shape: Any, *, dtype: Any = np.float32, seed: int | None = None) -> Tensor:
    """An op drawing uniform numbers in [0, 1) of `shape` (float32 or float64) when it runs."""
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise OpError(f"random_uniform: dtype must be float32 or float64, got {dtype.name}")
    return _random_uniform(shape=tuple(int(d) for d in shape), dtype=dtype, seed=seed)


def dropout(
    x: Any,
    rate: float,
    noise_shape: Any = None,
    seed: int | None = None,
    name: str | None = None,
    *,
    rng: np.random.Generator | None = None,
    training: bool = True,
) -> Tensor:
    """Zero each element with probability `rate` and scale the rest by 1 / (1 - rate).

    The mask comes from a random_uniform op: fresh on every call (and every replay of a traced
    function), or the same mask on every call for a `seed`.  `rng` draws the mask in Python
    instead (eagerly only: a trace would keep that one mask).  `training=False` returns x
    unchanged; `noise_shape` broadcasts one mask over dimensions of size 1, as in TF.
    """
    from emberlite.trainer import graph
    from emberlite.trainer.ops.math_ops import cast, greater_equal

    x = convert_to_tensor(x)
    rate = float(rate)
    if not 0 <= rate < 1:
        raise OpError(f"dropout: rate must be in [0, 1), got {rate}")
    if not training or rate == 0:
        return x
    shape = x.shape if noise_shape is None else tuple(int(d) for d in noise_shape)
    try:
        np.broadcast_shapes(shape, x.shape)
    except ValueError:
        raise OpError(
            f"dropout: noise_shape {list(shape)} does not broadcast to x of shape {_shape(x)}"
        ) from None
    if rng is not None:
        if graph.is_tracing():
            raise graph.TracingError(
                "dropout(rng=...) draws its mask in Python, so a traced function would keep "
                "one mask for every call: pass seed= (or nothing) instead"
            )
        keep = rng.random(shape) >= rate
        return x * constant_like(keep / (1 - rate), x)
    draw = np.float64 if x.dtype == np.float64 else np.float32
    keep = cast(greater_equal(random_uniform(shape, dtype=draw, seed=seed), rate), x.dtype)
    return x * (keep * (1 / (1 - rate)))


def embedding_lookup(params: Any, ids: Any, max_norm: float | None = None, name=None) -> Tensor:
    """Rows of `params` at `ids` (tf.nn.embedding_lookup); a list of tables is one table
    sharded by id modulo its length ("mod" partitioning, as TF2).  Tensor ids are an input of
    the gather (checked to be in range unless traced), so traced functions look up each call's
    ids."""
    from emberlite.trainer import graph
    from emberlite.trainer.ops.array_ops import concat

    if not isinstance(ids, Tensor):
        ids = np.asarray(ids)
    if ids.dtype.kind not in "iu":
        raise OpError(f"embedding_lookup: ids must be integers, got {ids.dtype}")
    if isinstance(params, list | tuple):
        shards = [convert_to_tensor(p) for p in params]
        n, sizes = len(shards), [s.shape[0] for s in shards]
        if not graph.is_traced(ids):
            values = ids._host() if isinstance(ids, Tensor) else ids
            if values.size and (values.min() < 0 or values.max() >= sum(sizes)):
                raise OpError(f"embedding_lookup: ids out of range [0, {sum(sizes)})")
        # id -> its row in the shards joined: the shard's start + id // n
        rows = np.arange(sum(sizes))
        table_rows = np.cumsum([0] + sizes)[:-1][rows % n] + rows // n
        table, ids = concat(shards, 0), gather(table_rows, ids)
    else:
        table = convert_to_tensor(params)
    rows = gather(table, ids, axis=0)
    if max_norm is not None:
        # tf.clip_by_norm of each row
        norms = sqrt(reduce_sum(square(rows), axis=-1, keepdims=True))
        rows = rows * max_norm / maximum(norms, max_norm)
    return rows

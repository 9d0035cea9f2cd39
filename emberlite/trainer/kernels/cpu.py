"""numba CPU fast paths of the NN ops (NHWC): im2col / col2im for the convolutions, max and
average pooling forward and backward, the relu gradient, erf, and a threaded matmul.  The
NumPy references they must match live beside the primitives in emberlite/trainer/ops/nn_ops.py
(tests/trainer/test_cpu_kernels.py).

Threads: each kernel works on a range of rows (an image, or an image's output row), and
`parallel_rows` splits the rows over a small pool of Python threads (the kernels are `nogil`).
NOTE: not numba's `parallel=True`, and not BLAS's own threads beside ours: idle threads of
numba's OpenMP layer and of OpenBLAS spin for work (OpenBLAS for ~0.1 s after each threaded
call), and on a machine with few cores they starve whatever runs next.  So one pool does all
the parallel work: the convolutions run one matmul per thread with BLAS held to a single
thread (`single_threaded_blas`), and `matmul` does the same for math_ops.  Measured on 2
cores, a conv-net training step took 40 ms this way and 80 ms with BLAS threads spinning.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
# Below this many elements of work per thread, one thread does it all (a hand-off costs ~20 us).
MIN_WORK_PER_THREAD = 1 << 15

_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_POOL_NAME = "emberlite-cpu"


def supports(*arrays: np.ndarray) -> bool:
    """Whether the fast kernels take these arrays (one float dtype, C-contiguous)."""
    dtype = arrays[0].dtype
    return dtype in FLOATS and all(a.dtype == dtype and a.flags.c_contiguous for a in arrays)


def threads() -> int:
    """How many threads the kernels use: numba's setting (NUMBA_NUM_THREADS, set_num_threads)."""
    return max(1, numba.get_num_threads())


def split_rows(rows: int, work: int) -> list[tuple[int, int]]:
    """[start, stop) ranges covering [0, rows), one per thread that `work` elements merit."""
    parts = max(1, min(threads(), rows, work // MIN_WORK_PER_THREAD))
    return [(rows * k // parts, rows * (k + 1) // parts) for k in range(parts)]


def run_parallel(calls: list[Callable[[], None]]) -> None:
    """Run the calls at once: the first on this thread, the rest on the pool; waits for all
    of them (and then raises the first error, if any)."""
    global _pool, _pool_size
    if len(calls) == 1 or threading.current_thread().name.startswith(_POOL_NAME):
        for call in calls:  # a pool thread does nested work itself (no deadlock)
            call()
        return
    if _pool is None or _pool_size < len(calls) - 1:
        _pool_size = max(len(calls) - 1, threads() - 1)
        _pool = ThreadPoolExecutor(_pool_size, _POOL_NAME)
    futures = [_pool.submit(call) for call in calls[1:]]
    try:
        calls[0]()
    finally:
        errors = [f.exception() for f in futures]  # waits for each
    for error in errors:
        if error is not None:
            raise error


def parallel_rows(kernel: Callable, rows: int, work: int, *args) -> None:
    """Run kernel(*args, start, stop) over [0, rows), split across threads.

    `work` is the total amount of work (elements touched), to keep small calls on one thread.
    """
    ranges = split_rows(rows, work)
    run_parallel([lambda s=s, e=e: kernel(*args, s, e) for s, e in ranges])


_blas_lock = threading.Lock()
_blas_state: dict = {"depth": 0, "saved": [], "controllers": None}


def _blas_controllers() -> list:
    if _blas_state["controllers"] is None:
        try:
            from threadpoolctl import ThreadpoolController

            found = ThreadpoolController().select(user_api="blas").lib_controllers
        except Exception:  # noqa: BLE001 - no threadpoolctl, or a BLAS it cannot drive
            found = []
        _blas_state["controllers"] = found
    return _blas_state["controllers"]


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """BLAS runs on the calling thread only inside the block (for several threads that each
    run their own matmuls); the previous thread counts come back after it."""
    with _blas_lock:
        if _blas_state["depth"] == 0:
            controllers = _blas_controllers()
            _blas_state["saved"] = [c.num_threads for c in controllers]
            for c in controllers:
                c.set_num_threads(1)
        _blas_state["depth"] += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_state["depth"] -= 1
            if _blas_state["depth"] == 0:
                for c, n in zip(_blas_controllers(), _blas_state["saved"], strict=True):
                    c.set_num_threads(n)


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """np.matmul on the kernels' threads, BLAS held to one thread in each.

    The rows of `a` (all its leading axes, when `b` is a matrix) or the batch of matrices
    are split over the threads.
    NOTE: for a math_ops kernel: then no BLAS thread is ever left spinning for work beside
    the numba kernels (OpenBLAS's idle threads spin for ~0.1 s; on 2 cores that took a CNN
    training step from 40 ms to 80 ms).
    """
    if a.size == 0 or b.size == 0:
        return np.matmul(a, b)  # nothing to split (and reshape(-1, 0) is ambiguous)
    with single_threaded_blas():
        if b.ndim == 2 and a.ndim >= 2:
            rows = a.reshape(-1, a.shape[-1])
            out = np.empty((rows.shape[0], b.shape[1]), np.result_type(a, b))
            work = rows.shape[0] * rows.shape[1] * b.shape[1] // 16
            _split_matmul(rows, b, out, split_rows(rows.shape[0], work), batched=False)
            return out.reshape(*a.shape[:-1], b.shape[1])
        if a.ndim == b.ndim >= 3 and a.shape[:-2] == b.shape[:-2]:
            a3, b3 = a.reshape(-1, *a.shape[-2:]), b.reshape(-1, *b.shape[-2:])
            out = np.empty((a3.shape[0], a.shape[-2], b.shape[-1]), np.result_type(a, b))
            work = a.size * b.shape[-1] // 16
            _split_matmul(a3, b3, out, split_rows(a3.shape[0], work), batched=True)
            return out.reshape(*a.shape[:-1], b.shape[-1])
        return np.matmul(a, b)


def _split_matmul(a, b, out, ranges, batched: bool) -> None:
    if len(ranges) == 1:
        np.matmul(a, b, out=out)
        return
    run_parallel(
        [
            lambda s=s, e=e: np.matmul(a[s:e], b[s:e] if batched else b, out=out[s:e])
            for s, e in ranges
        ]
    )


def _fork_safe_pool() -> None:
    global _pool
    _pool = None  # a forked child has no pool threads


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_fork_safe_pool)

_jit = numba.njit(cache=True, nogil=True)


# -- im2col / col2im --------------------------------------------------------------------------


@_jit
def _im2col_rows(x, cols, first, kh, kw, sh, sw, dh, dw, pt, pl, start, stop):
    # NOTE: plain indexing throughout: numba vectorizes the channel loops of this version
    # better than any with slices or flat offsets (up to 3x, measured).
    _, h, w, c = x.shape
    oh, ow = cols.shape[1], cols.shape[2]
    for r in range(start, stop):
        b, p = r // oh, r % oh
        for q in range(ow):
            for i in range(kh):
                y = p * sh - pt + i * dh
                for j in range(kw):
                    u = q * sw - pl + j * dw
                    if 0 <= y < h and 0 <= u < w:
                        for ch in range(c):
                            cols[b, p, q, i, j, ch] = x[first + b, y, u, ch]
                    else:
                        for ch in range(c):
                            cols[b, p, q, i, j, ch] = 0


@_jit
def _im2col_rows_1(x, cols, first, kh, kw, sh, sw, dh, dw, pt, pl, start, stop):
    # one channel: no channel loop, and the bounds tested per window row (3x faster)
    _, h, w, _ = x.shape
    oh, ow = cols.shape[1], cols.shape[2]
    for r in range(start, stop):
        b, p = r // oh, r % oh
        for q in range(ow):
            u0 = q * sw - pl
            inside = u0 >= 0 and u0 + (kw - 1) * dw < w
            for i in range(kh):
                y = p * sh - pt + i * dh
                if y < 0 or y >= h:
                    for j in range(kw):
                        cols[b, p, q, i, j, 0] = 0
                elif inside:
                    for j in range(kw):
                        cols[b, p, q, i, j, 0] = x[first + b, y, u0 + j * dw, 0]
                else:
                    for j in range(kw):
                        u = u0 + j * dw
                        if 0 <= u < w:
                            cols[b, p, q, i, j, 0] = x[first + b, y, u, 0]
                        else:
                            cols[b, p, q, i, j, 0] = 0


def im2col(x, cols, first, kernel, strides, dilations, pads, parallel: bool = True) -> None:
    """cols[b, p, q, i, j, :] = padded x[first + b, p*sh + i*dh, q*sw + j*dw, :] (0 outside).

    `parallel=False`: on this thread only.
    """
    n, oh = cols.shape[:2]
    kernel_rows = _im2col_rows_1 if x.shape[3] == 1 else _im2col_rows
    args = (x, cols, first, *kernel, *strides, *dilations, pads[0], pads[2])
    parallel_rows(kernel_rows, n * oh, cols.size if parallel else 0, *args)


@_jit
def _col2im_images(dcols, dx, first, kh, kw, sh, sw, dh, dw, pt, pl, start, stop):
    _, h, w, c = dx.shape
    oh, ow = dcols.shape[1], dcols.shape[2]
    for b in range(start, stop):
        dx[first + b] = 0
        for p in range(oh):
            for q in range(ow):
                for i in range(kh):
                    y = p * sh - pt + i * dh
                    if y < 0 or y >= h:
                        continue
                    for j in range(kw):
                        u = q * sw - pl + j * dw
                        if u < 0 or u >= w:
                            continue
                        for ch in range(c):
                            dx[first + b, y, u, ch] += dcols[b, p, q, i, j, ch]


@_jit
def _col2im_images_1(dcols, dx, first, kh, kw, sh, sw, dh, dw, pt, pl, start, stop):
    _, h, w, _ = dx.shape
    oh, ow = dcols.shape[1], dcols.shape[2]
    for b in range(start, stop):
        dx[first + b] = 0
        for p in range(oh):
            for q in range(ow):
                for i in range(kh):
                    y = p * sh - pt + i * dh
                    if y < 0 or y >= h:
                        continue
                    for j in range(kw):
                        u = q * sw - pl + j * dw
                        if 0 <= u < w:
                            dx[first + b, y, u, 0] += dcols[b, p, q, i, j, 0]


def col2im(dcols, dx, first, kernel, strides, dilations, pads, parallel: bool = True) -> None:
    """dx[first + b] = the sum of the columns dcols[b] over the input positions they read.

    `parallel=False`: on this thread only.
    """
    kernel_images = _col2im_images_1 if dx.shape[3] == 1 else _col2im_images
    args = (dcols, dx, first, *kernel, *strides, *dilations, pads[0], pads[2])
    # NOTE: split by image: the windows of one image overlap, so its rows are not independent
    parallel_rows(kernel_images, dcols.shape[0], dcols.size if parallel else 0, *args)


# -- relu gradient ----------------------------------------------------------------------------


@_jit
def _relu_grad_range(g, x, cap, out, start, stop):
    # NOTE: slices, so that the loop index is known to be non-negative: numba then drops its
    # negative-index handling and vectorizes (13x faster).
    g, x, out = g[start:stop], x[start:stop], out[start:stop]
    zero = g.dtype.type(0)
    for k in range(g.size):
        v = x[k]
        out[k] = g[k] if (v > 0) & (v < cap) else zero


def relu_grad(g: np.ndarray, x: np.ndarray, cap: float) -> np.ndarray:
    """g where 0 < x < cap, else 0."""
    out = np.empty_like(g)
    flat = (g.reshape(-1), x.reshape(-1), cap, out.reshape(-1))
    parallel_rows(_relu_grad_range, g.size, g.size, *flat)
    return out


# -- pooling ----------------------------------------------------------------------------------


@_jit
def _max_pool_rows(x, out, kh, kw, sh, sw, pt, pl, start, stop):
    _, h, w, c = x.shape
    oh, ow = out.shape[1], out.shape[2]
    for r in range(start, stop):
        b, p = r // oh, r % oh
        y0 = p * sh - pt
        for q in range(ow):
            u0 = q * sw - pl
            best = out[b, p, q]
            best[:] = -np.inf
            for y in range(max(y0, 0), min(y0 + kh, h)):
                for u in range(max(u0, 0), min(u0 + kw, w)):
                    for ch in range(c):
                        v = x[b, y, u, ch]
                        if v > best[ch] or v != v:  # NaN wins, as in np.max
                            if best[ch] == best[ch]:
                                best[ch] = v


def max_pool2d(x, ksize, strides, pads, out_hw) -> np.ndarray:
    """Max over each window; padding never wins."""
    n, _, _, c = x.shape
    out = np.empty((n, *out_hw, c), x.dtype)
    args = (x, out, *ksize, *strides, pads[0], pads[2])
    parallel_rows(_max_pool_rows, n * out_hw[0], out.size * ksize[0] * ksize[1], *args)
    return out


@_jit
def _max_pool_grad_images(x, dy, dx, kh, kw, sh, sw, pt, pl, start, stop):
    _, h, w, c = x.shape
    oh, ow = dy.shape[1], dy.shape[2]
    best = np.empty(c, x.dtype)
    where = np.empty(c, np.int64)
    for b in range(start, stop):
        dx[b] = 0
        for p in range(oh):
            y0 = p * sh - pt
            for q in range(ow):
                u0 = q * sw - pl
                best[:] = -np.inf
                where[:] = -1
                for y in range(max(y0, 0), min(y0 + kh, h)):
                    for u in range(max(u0, 0), min(u0 + kw, w)):
                        for ch in range(c):
                            v = x[b, y, u, ch]
                            # the first maximum in row-major window order (first NaN if any)
                            if where[ch] < 0 or (best[ch] == best[ch] and (v > best[ch] or v != v)):
                                best[ch] = v
                                where[ch] = y * w + u
                for ch in range(c):
                    k = where[ch]
                    dx[b, k // w, k % w, ch] += dy[b, p, q, ch]


def max_pool2d_grad(x, dy, ksize, strides, pads) -> np.ndarray:
    """Each window's gradient goes to its first maximum (row-major), as TensorFlow's does."""
    dx = np.empty_like(x)
    args = (x, dy, dx, *ksize, *strides, pads[0], pads[2])
    parallel_rows(_max_pool_grad_images, x.shape[0], dy.size * ksize[0] * ksize[1], *args)
    return dx


@_jit
def _avg_pool_rows(x, out, kh, kw, sh, sw, pt, pl, start, stop):
    _, h, w, c = x.shape
    oh, ow = out.shape[1], out.shape[2]
    for r in range(start, stop):
        b, p = r // oh, r % oh
        y0 = p * sh - pt
        ylo, yhi = max(y0, 0), min(y0 + kh, h)
        for q in range(ow):
            u0 = q * sw - pl
            ulo, uhi = max(u0, 0), min(u0 + kw, w)
            acc = out[b, p, q]
            acc[:] = 0
            for y in range(ylo, yhi):
                for u in range(ulo, uhi):
                    for ch in range(c):
                        acc[ch] += x[b, y, u, ch]
            scale = 1.0 / ((yhi - ylo) * (uhi - ulo))
            for ch in range(c):
                acc[ch] *= scale


def avg_pool2d(x, ksize, strides, pads, out_hw) -> np.ndarray:
    """Mean over the valid (unpadded) elements of each window."""
    n, _, _, c = x.shape
    out = np.empty((n, *out_hw, c), x.dtype)
    args = (x, out, *ksize, *strides, pads[0], pads[2])
    parallel_rows(_avg_pool_rows, n * out_hw[0], out.size * ksize[0] * ksize[1], *args)
    return out


@_jit
def _avg_pool_grad_images(dy, dx, kh, kw, sh, sw, pt, pl, start, stop):
    _, h, w, c = dx.shape
    oh, ow = dy.shape[1], dy.shape[2]
    for b in range(start, stop):
        dx[b] = 0
        for p in range(oh):
            y0 = p * sh - pt
            ylo, yhi = max(y0, 0), min(y0 + kh, h)
            for q in range(ow):
                u0 = q * sw - pl
                ulo, uhi = max(u0, 0), min(u0 + kw, w)
                scale = 1.0 / ((yhi - ylo) * (uhi - ulo))
                for y in range(ylo, yhi):
                    for u in range(ulo, uhi):
                        for ch in range(c):
                            dx[b, y, u, ch] += dy[b, p, q, ch] * scale


def avg_pool2d_grad(dy, input_shape, ksize, strides, pads) -> np.ndarray:
    """Each window's gradient shared equally by its valid elements."""
    dx = np.empty(input_shape, dy.dtype)
    args = (dy, dx, *ksize, *strides, pads[0], pads[2])
    parallel_rows(_avg_pool_grad_images, dx.shape[0], dy.size * ksize[0] * ksize[1], *args)
    return dx


# -- erf --------------------------------------------------------------------------------------


@_jit
def _erf_range(x, out, start, stop):
    x, out = x[start:stop], out[start:stop]
    for k in range(x.size):
        out[k] = math.erf(x[k])


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, elementwise (libm accuracy, via numba's math.erf)."""
    flat = x.reshape(-1)
    out = np.empty_like(flat)
    parallel_rows(_erf_range, flat.size, flat.size * 16, flat, out)
    return out.reshape(x.shape)

"""MAX_POOL_2D and AVERAGE_POOL_2D (NHWC, float32).

Padding never takes part: the max ignores it (the border holds -inf) and the average divides
each window's sum by the number of input pixels in it, as TFLite does.  Windows are
rectangles, so the reduction is separable: first over the window's rows (whole image rows at
a time), then over its columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emberlite.interpreter.kernels.common import Activation
from emberlite.interpreter.kernels.conv import (
    Window,
    clamp_activation,
    padded_buffer,
    require_float,
    require_rank,
    sliding_window,
    strided,
)
from emberlite.interpreter.registry import NodeContext, NodePlan, register

# Strided column windows at most this wide are reduced tap by tap (one whole-array op per
# tap); wider ones in one reduction, whose cost grows with the number of output pixels.
MAX_TAPS = 8


@dataclass(frozen=True, slots=True)
class Pool:
    padded: np.ndarray | None  # bordered copy of the input (border: -inf or 0), when padded
    interior: tuple[slice, ...]
    rows: np.ndarray | None  # [N, OH, fh, Wp * C] windows over `padded`
    rows_spec: tuple  # (shape, strides) of the same windows over an unpadded input
    reduced: np.ndarray  # [N, OH, Wp * C]: the rows stage's result
    cols: np.ndarray | None  # windows of `reduced`, reduced over `axis` into `out_shape`
    axis: int
    out_shape: tuple[int, ...]
    taps: tuple[np.ndarray, ...]  # or: per column tap, a [N, OH, OW, C] view of `reduced`
    count: np.ndarray | float  # average: input pixels per window ([OH, OW, C] or scalar)
    activation: Activation


def _window_counts(win: Window, size: tuple[int, int], fh: int, fw: int, steps) -> np.ndarray:
    """[1, OH, OW, 1]: how many input pixels (not padding) each window covers."""

    def along(out: int, pad: int, n: int, k: int, stride: int) -> np.ndarray:
        start = np.arange(out) * stride - pad
        return np.minimum(start + k, n) - np.maximum(start, 0)

    rows = along(win.out_h, win.top, size[0], fh, steps[0])
    cols = along(win.out_w, win.left, size[1], fw, steps[1])
    return np.multiply.outer(rows, cols).astype(np.float32)[None, :, :, None]


def make_prepare(is_max: bool):
    def prepare_pool(ctx: NodeContext) -> NodePlan:
        ctx.expect_inputs(1)
        x = ctx.input(0)
        require_float(ctx, x)
        require_rank(ctx, x, 4, "input")
        fh, fw = ctx.option("filter_height", 1), ctx.option("filter_width", 1)
        if fh < 1 or fw < 1:
            raise ctx.fail(f"filter {fh}x{fw} must be at least 1x1")
        sh, sw = ctx.option("stride_h", 1), ctx.option("stride_w", 1)
        win = sliding_window(ctx, x.shape, fh, fw, sh, sw)
        n, h, w, c = x.shape
        oh, ow = win.out_h, win.out_w
        padded, interior = (None, ())
        if win.padded:
            padded, interior = padded_buffer(x.shape, win, -np.inf if is_max else 0.0)
        hp, wp = h + win.top + win.bottom, w + win.left + win.right
        row = wp * c
        rows_spec = ((n, oh, fh, row), (hp * row, row * sh, row, 1))
        reduced = np.empty((n, oh, row), np.float32)
        cols, axis, out_shape, taps = None, 0, (), ()
        if sw == 1:  # flat: the reduction's inner loop runs along whole output rows
            cols = strided(reduced, (n, oh, fw, ow * c), (oh * row, row, c, 1))
            axis, out_shape = 2, (n, oh, ow * c)
        elif fw > MAX_TAPS:
            cols = strided(reduced, (n, oh, ow, fw, c), (oh * row, row, sw * c, c, 1))
            axis, out_shape = 3, (n, oh, ow, c)
        else:
            shape, strides = (n, oh, ow, c), (oh * row, row, sw * c, 1)
            taps = tuple(strided(reduced, shape, strides, b * c) for b in range(fw))
        count: np.ndarray | float = float(fh * fw)
        if not is_max and win.padded:
            count = _window_counts(win, (h, w), fh, fw, (sh, sw))
            count = np.ascontiguousarray(np.broadcast_to(count[0], (oh, ow, c)))
        data = Pool(
            padded,
            interior,
            None if padded is None else strided(padded, *rows_spec),
            rows_spec,
            reduced,
            cols,
            axis,
            out_shape,
            taps,
            count,
            clamp_activation(ctx),
        )
        return NodePlan(((n, oh, ow, c),), data=data)

    return prepare_pool


def _pool(reduce: np.ufunc, is_max: bool):
    def run(p: Pool, ins, outs):
        out = outs[0]
        if p.padded is not None:
            p.padded[p.interior] = ins[0]
            rows = p.rows
        else:
            rows = strided(ins[0], *p.rows_spec)
        reduce.reduce(rows, axis=2, out=p.reduced)
        if p.cols is not None:
            reduce.reduce(p.cols, axis=p.axis, out=out.reshape(p.out_shape))
        else:
            taps = p.taps
            np.copyto(out, taps[0])
            for k in range(1, len(taps)):
                reduce(out, taps[k], out=out)
        if not is_max:
            np.divide(out, p.count, out=out)
        if p.activation is not None:
            p.activation(out)

    return run


register("MAX_POOL_2D", prepare=make_prepare(True))(_pool(np.maximum, True))
register("AVERAGE_POOL_2D", prepare=make_prepare(False))(_pool(np.add, False))

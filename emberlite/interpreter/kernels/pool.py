"""MAX_POOL_2D and AVERAGE_POOL_2D (NHWC, float32).

Padding never takes part: the max ignores it (the border holds -inf) and the average divides
each window's sum by the number of input pixels in it, as TFLite does.  Windows are
rectangles, so the reduction is separable: first over the window's rows (whole image rows at
a time), then over its columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emberlite.interpreter.kernels.common import (
    FLOAT,
    Activation,
    Bordered,
    Views,
    Window,
    bordered,
    fused_activation,
    input_dtype,
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
    """Scratch: outs[1], `reduced` [N, OH, Wp * C], the rows stage's result; outs[2], the
    input inside its border (-inf or 0), when the node pads."""

    padded: Bordered | None
    rows: Views  # of the (padded) input: [N, OH, fh, Wp * C] windows
    cols: Views  # of `reduced`: windows reduced over `axis` into `out_shape`, or `taps`
    axis: int
    out_shape: tuple[int, ...]
    taps: bool  # cols are [fw, N, OH, OW, C] column taps, reduced one by one
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
        input_dtype(ctx, FLOAT)
        require_rank(ctx, x, 4, "input")
        fh, fw = ctx.option("filter_height", 1), ctx.option("filter_width", 1)
        if fh < 1 or fw < 1:
            raise ctx.fail(f"filter {fh}x{fw} must be at least 1x1")
        sh, sw = ctx.option("stride_h", 1), ctx.option("stride_w", 1)
        win = sliding_window(ctx, x.shape, fh, fw, sh, sw)
        n, h, w, c = x.shape
        oh, ow = win.out_h, win.out_w
        hp, wp = h + win.top + win.bottom, w + win.left + win.right
        row = wp * c
        scratch = [((n, oh, row), np.dtype(np.float32))]
        padded = None
        if win.padded:
            padded = bordered(x.shape, win.pads, -np.inf if is_max else 0.0)
            scratch.append((padded.shape, np.dtype(np.float32)))
        axis, out_shape, taps = 0, (), False
        if sw == 1:  # flat: the reduction's inner loop runs along whole output rows
            cols = ((n, oh, fw, ow * c), (oh * row, row, c, 1))
            axis, out_shape = 2, (n, oh, ow * c)
        elif fw > MAX_TAPS:
            cols = ((n, oh, ow, fw, c), (oh * row, row, sw * c, c, 1))
            axis, out_shape = 3, (n, oh, ow, c)
        else:
            cols, taps = ((fw, n, oh, ow, c), (c, oh * row, row, sw * c, 1)), True
        count: np.ndarray | float = float(fh * fw)
        if not is_max and win.padded:
            count = _window_counts(win, (h, w), fh, fw, (sh, sw))
            count = np.ascontiguousarray(np.broadcast_to(count[0], (oh, ow, c)))
        rows = ((n, oh, fh, row), (hp * row, row * sh, row, 1))
        data = Pool(
            padded,
            Views(lambda x: strided(x, *rows)),
            Views(
                lambda reduced: tuple(strided(reduced, *cols)) if taps else strided(reduced, *cols)
            ),
            axis,
            out_shape,
            taps,
            count,
            fused_activation(ctx, (n, oh, ow, c), clamp_only=True),
        )
        return NodePlan(((n, oh, ow, c),), data=data, scratch=tuple(scratch))

    return prepare_pool


def _pool(reduce: np.ufunc, is_max: bool):
    def run(p: Pool, ins, outs):
        out, reduced = outs[0], outs[1]
        x = ins[0] if p.padded is None else p.padded.load(outs[2], ins[0])
        reduce.reduce(p.rows.of(x), axis=2, out=reduced)
        if not p.taps:
            reduce.reduce(p.cols.of(reduced), axis=p.axis, out=out.reshape(p.out_shape))
        else:
            taps = p.cols.of(reduced)
            np.copyto(out, taps[0])
            for k in range(1, len(taps)):
                reduce(out, taps[k], out=out)
        if not is_max:
            np.divide(out, p.count, out=out)
        if p.activation is not None:
            p.activation(out, out)

    return run


register("MAX_POOL_2D", prepare=make_prepare(True))(_pool(np.maximum, True))
register("AVERAGE_POOL_2D", prepare=make_prepare(False))(_pool(np.add, False))

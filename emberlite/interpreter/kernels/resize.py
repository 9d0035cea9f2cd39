"""RESIZE_BILINEAR, RESIZE_NEAREST_NEIGHBOR, DEPTH_TO_SPACE and SPACE_TO_DEPTH (NHWC).

The resizes precompute, per output row and column, the source indices and weights exactly as
TFLite computes them (float32 arithmetic, its clamping and rounding); invoke is then a few
gathers and whole-array multiply-adds, one axis at a time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from emberlite.interpreter.kernels.common import FLOAT, input_dtype, require_rank
from emberlite.interpreter.registry import NodeContext, NodePlan, register


def _resize_shape(ctx: NodeContext) -> tuple[int, int, int, int]:
    ctx.expect_inputs(2)
    x, size = ctx.input(0), ctx.input(1)
    require_rank(ctx, x, 4, "input")
    if size.dtype != np.int32 or size.shape != (2,):
        raise ctx.fail(f"size must be int32 [2], got {size.dtype} {list(size.shape)}")
    height, width = (int(d) for d in ctx.constant(1))
    if height < 1 or width < 1:
        raise ctx.fail(f"size {[height, width]} must be positive")
    if ctx.option("align_corners", False) and ctx.option("half_pixel_centers", False):
        # NOTE: TFLite rejects this for bilinear; for nearest neighbor it is allowed.
        if ctx.op_name == "RESIZE_BILINEAR":
            raise ctx.fail("align_corners and half_pixel_centers cannot both be set")
    return x.shape[0], height, width, x.shape[3]


def _scale(in_size: int, out_size: int, align_corners: bool) -> np.float32:
    if align_corners and out_size > 1:
        return np.float32(in_size - 1) / np.float32(out_size - 1)
    return np.float32(in_size) / np.float32(out_size)


# -- RESIZE_BILINEAR ----------------------------------------------------------------------------


def _bilinear_axis(in_size: int, out_size: int, align_corners: bool, half_pixel: bool):
    """(lower index, upper index, lower weight, upper weight) per output position, as
    TFLite's ComputeInterpolationValues gives them."""
    scale = _scale(in_size, out_size, align_corners)
    at = np.arange(out_size, dtype=np.float32)
    if half_pixel:
        at = (at + np.float32(0.5)) * scale - np.float32(0.5)
    else:
        at = at * scale
    low = np.maximum(np.floor(at).astype(np.int64), 0)
    high = np.minimum(np.ceil(at).astype(np.int64), in_size - 1)
    frac = at - low.astype(np.float32)
    return low, high, np.float32(1) - frac, frac


@dataclass(frozen=True, slots=True)
class Bilinear:
    """Scratch: outs[1], `above` [N, OH, W, C], the source rows above each output row; outs[2],
    flat, first holds `below` (the rows below, shaped as `above`), then `right` [N, OH, OW, C]
    (the source columns right of each output pixel)."""

    rows: tuple[np.ndarray, np.ndarray]  # source rows above and below each output row
    row_weights: tuple[np.ndarray, np.ndarray]  # [1, OH, 1, 1] each
    cols: tuple[np.ndarray, np.ndarray]
    col_weights: tuple[np.ndarray, np.ndarray]  # [OW * C] each: per column, tiled by channel
    flat: tuple[int, int, int]  # the output as [N, OH, OW * C]


def prepare_bilinear(ctx: NodeContext) -> NodePlan:
    n, oh, ow, c = _resize_shape(ctx)
    x = ctx.input(0)
    input_dtype(ctx, FLOAT)
    align, half = ctx.option("align_corners", False), ctx.option("half_pixel_centers", False)
    y0, y1, wy0, wy1 = _bilinear_axis(x.shape[1], oh, align, half)
    x0, x1, wx0, wx1 = _bilinear_axis(x.shape[2], ow, align, half)
    rows = (n, oh, x.shape[2], c)
    data = Bilinear(
        (y0, y1),
        (wy0.reshape(1, -1, 1, 1), wy1.reshape(1, -1, 1, 1)),
        (x0, x1),
        (np.repeat(wx0, c), np.repeat(wx1, c)),
        (n, oh, ow * c),
    )
    f32 = np.dtype(np.float32)
    scratch = ((rows, f32), ((max(math.prod(rows), n * oh * ow * c),), f32))
    return NodePlan(((n, oh, ow, c),), data=data, scratch=scratch)


@register("RESIZE_BILINEAR", prepare=prepare_bilinear)
def resize_bilinear(b: Bilinear, ins, outs):
    above, spare = outs[1], outs[2]
    below = spare[: above.size].reshape(above.shape)
    # Along the height: above * w0 + below * w1, into `above`.
    np.take(ins[0], b.rows[0], axis=1, out=above, mode="clip")
    np.take(ins[0], b.rows[1], axis=1, out=below, mode="clip")
    above *= b.row_weights[0]
    below *= b.row_weights[1]
    above += below
    # Along the width, into the output; the weights vary per column, so work on the rows
    # flattened to [OW * C] for long contiguous loops.
    right = spare[: outs[0].size].reshape(outs[0].shape)
    np.take(above, b.cols[0], axis=2, out=outs[0], mode="clip")
    np.take(above, b.cols[1], axis=2, out=right, mode="clip")
    out, right = outs[0].reshape(b.flat), right.reshape(b.flat)
    out *= b.col_weights[0]
    right *= b.col_weights[1]
    out += right


# -- RESIZE_NEAREST_NEIGHBOR --------------------------------------------------------------------


def _nearest_axis(in_size: int, out_size: int, align_corners: bool, half_pixel: bool):
    """Source index per output position, as TFLite's GetNearestNeighbor gives it."""
    scale = _scale(in_size, out_size, align_corners)
    offset = np.float32(0.5 if half_pixel else 0.0)
    at = (np.arange(out_size, dtype=np.float32) + offset) * scale
    # NOTE: align_corners rounds half away from zero (std::round); at is never negative.
    index = np.floor(at.astype(np.float64) + 0.5) if align_corners else np.floor(at)
    index = np.minimum(index.astype(np.int64), in_size - 1)
    return np.maximum(index, 0) if half_pixel else index


def prepare_nearest(ctx: NodeContext) -> NodePlan:
    """`data`: the source row and column of each output pixel.  Scratch: outs[1], the rows
    taken, [N, OH, W, C]."""
    n, oh, ow, c = _resize_shape(ctx)
    x = ctx.input(0)
    input_dtype(ctx, None)
    align, half = ctx.option("align_corners", False), ctx.option("half_pixel_centers", False)
    data = (_nearest_axis(x.shape[1], oh, align, half), _nearest_axis(x.shape[2], ow, align, half))
    scratch = (((n, oh, x.shape[2], c), x.dtype),)
    return NodePlan(((n, oh, ow, c),), data=data, scratch=scratch)


@register("RESIZE_NEAREST_NEIGHBOR", prepare=prepare_nearest)
def resize_nearest_neighbor(data, ins, outs):
    rows, cols = data
    np.take(ins[0], rows, axis=1, out=outs[1], mode="clip")
    np.take(outs[1], cols, axis=2, out=outs[0], mode="clip")


# -- DEPTH_TO_SPACE, SPACE_TO_DEPTH -------------------------------------------------------------


def _block(ctx: NodeContext) -> tuple[tuple[int, ...], int]:
    ctx.expect_inputs(1)
    x = ctx.input(0)
    input_dtype(ctx, None)
    require_rank(ctx, x, 4, "input")
    block = ctx.option("block_size", 0)
    if block < 1:
        raise ctx.fail(f"block_size {block} must be >= 1")
    return x.shape, block


def prepare_depth_to_space(ctx: NodeContext) -> NodePlan:
    (n, h, w, c), b = _block(ctx)
    if c % (b * b):
        raise ctx.fail(f"channels {c} are not a multiple of block_size^2 = {b * b}")
    return NodePlan(((n, h * b, w * b, c // (b * b)),), data=(n, h, w, b, c // (b * b)))


@register("DEPTH_TO_SPACE", prepare=prepare_depth_to_space)
def depth_to_space(data, ins, outs):
    n, h, w, b, c = data
    # out[n, h*b + i, w*b + j, c] = in[n, h, w, (i*b + j)*C + c]
    outs[0].reshape(n, h, b, w, b, c)[...] = (
        ins[0].reshape(n, h, w, b, b, c).transpose(0, 1, 3, 2, 4, 5)
    )


def prepare_space_to_depth(ctx: NodeContext) -> NodePlan:
    (n, h, w, c), b = _block(ctx)
    if h % b or w % b:
        raise ctx.fail(f"height {h} and width {w} are not multiples of block_size {b}")
    return NodePlan(((n, h // b, w // b, c * b * b),), data=(n, h // b, w // b, b, c))


@register("SPACE_TO_DEPTH", prepare=prepare_space_to_depth)
def space_to_depth(data, ins, outs):
    n, h, w, b, c = data
    outs[0].reshape(n, h, w, b, b, c)[...] = (
        ins[0].reshape(n, h, b, w, b, c).transpose(0, 1, 3, 2, 4, 5)
    )

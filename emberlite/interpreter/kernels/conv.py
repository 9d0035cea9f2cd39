"""Convolutions (NHWC, float32): CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV and mediapipe's
Convolution2DTransposeBias.

CONV_2D is im2col + one BLAS matmul (1x1 stride-1 convolutions are the matmul alone);
DEPTHWISE_CONV_2D is an einsum over strided windows of the (padded) input; the transposed
convolutions are one matmul into per-tap columns, then a scatter-add of the taps.  Padded
inputs, im2col columns and the like are scratch: the executor places them in the arena, shared
with other nodes, and they hold nothing from one invoke to the next.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from functools import partial

import numpy as np

from emberlite.interpreter.kernels.common import (
    FLOAT,
    Activation,
    Bordered,
    Views,
    add_scratch,
    bordered,
    borders,
    fused_activation,
    input_dtype,
    require_rank,
    sliding_window,
    strided,
)
from emberlite.interpreter.registry import NodeContext, NodePlan, TensorInfo, register
from emberlite.schema.types import Padding


def bias_input(ctx: NodeContext, i: int, channels: int) -> TensorInfo | None:
    """Optional bias input `i`, checked to be float32 [channels]."""
    bias = ctx.inputs[i] if len(ctx.inputs) > i else None
    if bias is not None:
        input_dtype(ctx, FLOAT, i)
        if bias.shape != (channels,):
            raise ctx.fail(f"bias shape {list(bias.shape)} is not [{channels}]")
    return bias


def window_view(x: np.ndarray, shape: tuple[int, ...], steps: tuple[int, ...]) -> np.ndarray:
    """[N, OH, OW, kh, kw, C] windows of a C-contiguous NHWC `x`; `steps` in elements
    along (H, W) for the output and the taps: (sh, sw, dh, dw)."""
    _, h, w, c = x.shape
    sh, sw, dh, dw = steps
    return strided(x, shape, (h * w * c, w * c * sh, c * sw, w * c * dh, c * dw, 1))


def tiled(vector: np.ndarray | None, times: int) -> np.ndarray | None:
    """A per-channel vector repeated for `times` pixels: added to [..., pixels * C] views,
    it runs NumPy's long contiguous loops rather than one short loop per pixel."""
    return None if vector is None else np.tile(vector.astype(np.float32), times)


@dataclass(frozen=True, slots=True)
class Epilogue:
    """What ends every convolution: the bias, then the fused activation."""

    flat: tuple[int, int]  # the output as [N * OH, OW * Cout]
    bias: np.ndarray | None  # tiled [OW * Cout], when constant
    bias_index: int  # otherwise input `bias_index`, when the node has it
    activation: Activation

    def apply(self, ins, out: np.ndarray) -> None:
        flat = out.reshape(self.flat)
        if self.bias is not None:
            flat += self.bias
        elif len(ins) > self.bias_index and ins[self.bias_index] is not None:
            np.add(out, ins[self.bias_index], out=out)
        if self.activation is not None:
            self.activation(flat, flat)


def epilogue(
    ctx: NodeContext, bias_index: int, out_shape: tuple[int, ...], fused: bool = True
) -> Epilogue:
    """The optional bias input `bias_index` (checked) and, when the op has the option
    (`fused`), the node's fused activation as TFLite's convolution kernels apply it."""
    n, oh, ow, cout = out_shape
    bias = bias_input(ctx, bias_index, cout)
    activation = fused_activation(ctx, out_shape, clamp_only=True) if fused else None
    return Epilogue(
        (n * oh, ow * cout),
        None if bias is None else tiled(bias.value, ow),
        bias_index,
        activation,
    )


# -- CONV_2D ------------------------------------------------------------------------------------

# The im2col columns of one node take at most this, or its input and output's bytes if more:
# past that, the arena would grow for a single node (9 times a 3x3 convolution's input).
COLS_BYTES = 1 << 20
# Constant filters are views (not copies) in products of at least this many rows: see
# _conv_weights.
VIEW_ROWS = 1024


@dataclass(frozen=True, slots=True)
class Conv:
    """`padded` and the im2col `cols` are scratch, at outs[pad_at] and outs[cols_at]; grouped
    convolutions also have [groups, rows, Cout / groups] products at outs[cols_at + 1].

    `blocks`: columns larger than COLS_BYTES (and than the node's input and output together)
    are filled and multiplied a block of output rows at a time: (image, first row, end row,
    rows * OW) each."""

    rows: int  # N * OH * OW
    groups: int
    weights: np.ndarray | None  # [K, Cout] ([groups, K, Cout/groups]); None: per call
    padded: Bordered | None  # the input inside a zero border, when the node pads
    pad_at: int
    windows: tuple[int, ...] | None  # im2col window shape; None for 1x1 stride-1 (pure matmul)
    view: Views | None  # of the (padded) input: the windows
    cols_at: int  # cols: [rows, K]; grouped [groups, N, OH, OW, kh, kw, Cf]
    blocks: tuple[tuple[int, int, int, int], ...]
    end: Epilogue


def _conv_weights(w: np.ndarray, groups: int, rows: int = VIEW_ROWS) -> np.ndarray:
    """[Cout, kh, kw, Cf] -> [K, Cout], or [groups, K, Cout/groups], for products of `rows`.

    NOTE: im2col's columns run (kh, kw, Cf), the filter's own order, so the transposed filter
    is a free view, which np.matmul hands to BLAS as a transposed operand.  That costs nothing
    in products of VIEW_ROWS rows or more; in shorter ones (deep layers, where the large
    filters are) OpenBLAS's transposed path measured 12 to 35% slower, so those filters get a
    contiguous copy."""
    cout = w.shape[0]
    if groups == 1:
        view = w.reshape(cout, -1).T
    else:
        view = w.reshape(groups, cout // groups, -1).transpose(0, 2, 1)
    return view if rows >= VIEW_ROWS else np.ascontiguousarray(view)


def _image_and_filter(ctx: NodeContext) -> tuple[TensorInfo, TensorInfo, tuple[int, ...]]:
    """CONV_2D's and DEPTHWISE_CONV_2D's float32 NHWC input and 4-D filter, and the
    (stride_h, stride_w, dilation_h, dilation_w) options."""
    ctx.expect_inputs(2, 3)
    x, f = ctx.input(0), ctx.input(1)
    input_dtype(ctx, FLOAT, 0, 1)
    require_rank(ctx, x, 4, "input")
    require_rank(ctx, f, 4, "filter")
    steps = (ctx.option("stride_h", 1), ctx.option("stride_w", 1))
    steps += (ctx.option("dilation_h_factor", 1), ctx.option("dilation_w_factor", 1))
    return x, f, steps


def prepare_conv(ctx: NodeContext) -> NodePlan:
    x, f, (sh, sw, dh, dw) = _image_and_filter(ctx)
    n, h, w, cin = x.shape
    cout, kh, kw, cf = f.shape
    if cf < 1 or cin % cf:
        raise ctx.fail(f"input channels {cin} are not a multiple of the filter's {cf}")
    groups = cin // cf
    if cout % groups:
        raise ctx.fail(f"output channels {cout} do not split into {groups} groups")
    win = sliding_window(ctx, x.shape, kh, kw, sh, sw, dh, dw)
    out_shape = (n, win.out_h, win.out_w, cout)
    end = epilogue(ctx, 2, out_shape)
    rows = n * win.out_h * win.out_w
    scratch: list = []
    padded, pad_at = None, 0
    if win.padded:
        padded = bordered(x.shape, win.pads, 0.0)
        pad_at = add_scratch(scratch, padded.shape)
    pointwise = kh == kw == sh == sw == 1 and groups == 1
    windows = None if pointwise else (n, win.out_h, win.out_w, kh, kw, cin)
    cols_at, blocks = 0, ()
    if groups > 1:
        cols_at = add_scratch(scratch, (groups, n, win.out_h, win.out_w, kh, kw, cf))
        add_scratch(scratch, (groups, rows, cout // groups))
    elif not pointwise:
        row_bytes = win.out_w * kh * kw * cin * 4
        budget = max(COLS_BYTES, 4 * (math.prod(x.shape) + math.prod(out_shape)))
        block = max(1, budget // row_bytes)
        if n * win.out_h > block:
            blocks = tuple(
                (i, r, min(r + block, win.out_h), (min(r + block, win.out_h) - r) * win.out_w)
                for i in range(n)
                for r in range(0, win.out_h, block)
            )
        cols_at = add_scratch(scratch, (min(rows, block * win.out_w), kh * kw * cin))
    weights = None if f.value is None else _conv_weights(f.value, groups, rows)
    view = None if pointwise else Views(partial(window_view, shape=windows, steps=(sh, sw, dh, dw)))
    data = Conv(rows, groups, weights, padded, pad_at, windows, view, cols_at, blocks, end)
    return NodePlan((out_shape,), data=data, scratch=tuple(scratch))


@register("CONV_2D", prepare=prepare_conv)
def conv_2d(c: Conv, ins, outs):
    x = ins[0] if c.padded is None else c.padded.load(outs[c.pad_at], ins[0])
    weights = c.weights if c.weights is not None else _conv_weights(ins[1], c.groups)
    out = outs[0].reshape(c.rows, -1)
    if c.windows is None:
        np.matmul(x.reshape(c.rows, -1), weights, out=out)
    elif c.groups == 1:
        cols, windows = outs[c.cols_at], c.view.of(x)
        if not c.blocks:
            np.copyto(cols.reshape(c.windows), windows)
            np.matmul(cols, weights, out=out)
        for i, start, end, count in c.blocks:
            part, block = cols[:count], windows[i, start:end]
            np.copyto(part.reshape(block.shape), block)
            np.matmul(part, weights, out=outs[0][i, start:end].reshape(count, -1))
    else:
        g, cols, products = c.groups, outs[c.cols_at], outs[c.cols_at + 1]
        split = c.view.of(x).reshape(*c.windows[:-1], g, -1)
        np.copyto(cols, split.transpose(5, 0, 1, 2, 3, 4, 6))
        np.matmul(cols.reshape(g, c.rows, -1), weights, out=products)
        out.reshape(c.rows, g, -1)[...] = products.transpose(1, 0, 2)
    c.end.apply(ins, outs[0])


# -- DEPTHWISE_CONV_2D --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Depthwise:
    """Taps grouped by the column phase they read (ow * stride_w + b * dilation_w mod
    stride_w): each group is one einsum over [N, OH, kh, taps, OW * C] windows of its phase
    plane, so NumPy's inner loop runs along whole output rows.

    When the node pads, strides its columns or multiplies channels, the input is first copied
    into phase planes, scratch at outs[1]: [stride_w, N, Hp, ceil(Wp / stride_w), C], each
    plane holding the padded input's columns of one phase, zero outside them."""

    shape: tuple[int, int, int]  # output as [N, OH, OW * C]
    planes: Views | None  # of the planes: (per phase, its interior; the rest, to be zeros)
    sources: tuple[tuple, ...]  # per phase, the input slices its interior receives
    windows: Views  # of the planes, or of the input without them: per group, its windows
    weights: tuple[np.ndarray, ...] | None  # per group [kh, taps, OW * C]; None: per call
    groups: tuple[tuple[int, ...], ...]  # the filter columns of each group
    sum_at: int  # outs index of [N, OH, OW * C] scratch, for groups after the first
    end: Epilogue


def _depthwise_weights(w: np.ndarray, groups, out_w: int) -> tuple[np.ndarray, ...]:
    """[1, kh, kw, C] -> per group of filter columns, [kh, taps, OW * C]."""
    return tuple(np.tile(w[0][:, list(cols)], (1, 1, out_w)) for cols in groups)


def prepare_depthwise(ctx: NodeContext) -> NodePlan:
    x, f, (sh, sw, dh, dw) = _image_and_filter(ctx)
    n, h, w, cin = x.shape
    one, kh, kw, cout = f.shape
    if one != 1:
        raise ctx.fail(f"filter must be [1, kh, kw, channels], got {list(f.shape)}")
    if cin < 1 or cout % cin:
        raise ctx.fail(f"filter channels {cout} are not a multiple of the input's {cin}")
    multiplier = cout // cin
    # NOTE: like TFLite, the multiplier comes from the shapes; the option is only checked.
    option = ctx.option("depth_multiplier", 0)
    if option not in (0, multiplier):
        raise ctx.fail(f"depth_multiplier {option} does not match channels {cin} -> {cout}")
    win = sliding_window(ctx, x.shape, kh, kw, sh, sw, dh, dw)
    oh, ow = win.out_h, win.out_w
    end = epilogue(ctx, 2, (n, oh, ow, cout))

    phase_of = [(b * dw) % sw for b in range(kw)]
    phases = sorted(set(phase_of))
    groups = tuple(tuple(b for b in range(kw) if phase_of[b] == q) for q in phases)
    scratch: list = []
    fills, sources, zeros = [], [], []
    planes = bool(win.padded or multiplier > 1 or sw > 1)
    if planes:
        hp, wp = h + win.top + win.bottom, w + win.left + win.right
        wq = -(-wp // sw)
        add_scratch(scratch, (sw, n, hp, wq, cout))
        row, image = wq * cout, hp * wq * cout
        for q in phases:
            first = (q - win.left) % sw  # first input column landing in phase q
            count = len(range(first, w, sw))
            if not count:
                zeros.append((q,))
                continue
            at = (win.left + first) // sw
            fills.append(
                (
                    (n, h, count, cin, multiplier),
                    (image, row, cout, multiplier, 1),
                    q * n * image + win.top * row + at * cout,
                )
            )
            sources.append((slice(None), slice(None), slice(first, None, sw), slice(None), None))
            pads = ((0, 0), (win.top, hp - win.top - h), (at, wq - at - count), (0, 0))
            zeros.extend((q, *side) for side in borders((n, h, count, cout), pads)[2])
    else:
        row, image = w * cout, h * w * cout
    views = []
    for cols in groups:
        step = (cols[1] - cols[0]) * dw // sw if len(cols) > 1 else 1
        shape = (n, oh, kh, len(cols), ow * cout)
        strides = (image, row * sh, row * dh, step * cout, 1)
        offset = phase_of[cols[0]] * n * image + (cols[0] * dw // sw) * cout
        views.append((shape, strides, offset))
    sum_at = add_scratch(scratch, (n, oh, ow * cout)) if len(groups) > 1 else 0
    data = Depthwise(
        (n, oh, ow * cout),
        Views(partial(_plane_views, fills, zeros)) if planes else None,
        tuple(sources),
        Views(partial(_windows, views)),
        None if f.value is None else _depthwise_weights(f.value, groups, ow),
        groups,
        sum_at,
        end,
    )
    return NodePlan(((n, oh, ow, cout),), data=data, scratch=tuple(scratch))


def _plane_views(fills, zeros, planes: np.ndarray):
    return tuple(strided(planes, *spec) for spec in fills), tuple(planes[z] for z in zeros)


def _windows(specs, x: np.ndarray) -> tuple[np.ndarray, ...]:
    return tuple(strided(x, *spec) for spec in specs)


@register("DEPTHWISE_CONV_2D", prepare=prepare_depthwise)
def depthwise_conv_2d(d: Depthwise, ins, outs):
    x = ins[0]
    if d.planes is not None:
        interiors, zeros = d.planes.of(outs[1])
        for interior, source in zip(interiors, d.sources, strict=True):
            interior[...] = x[source]
        for zero in zeros:
            zero.fill(0.0)
        x = outs[1]
    windows = d.windows.of(x)
    weights = d.weights
    if weights is None:
        weights = _depthwise_weights(ins[1], d.groups, d.shape[2] // ins[1].shape[3])
    out = outs[0].reshape(d.shape)
    np.einsum("nhabx,abx->nhx", windows[0], weights[0], out=out)
    for k in range(1, len(weights)):
        total = outs[d.sum_at]
        np.einsum("nhabx,abx->nhx", windows[k], weights[k], out=total)
        out += total
    d.end.apply(ins, outs[0])


# -- TRANSPOSE_CONV and Convolution2DTransposeBias ------------------------------------------------


@dataclass(frozen=True, slots=True)
class TransposeConv:
    """Scratch: outs[1], [N, H, W, kh, kw, Cout], every input pixel's contribution per tap;
    outs[2], the uncropped output, unless the taps tile the output exactly (`canvas` False)."""

    x_index: int
    rows: int  # N * H * W
    weights: np.ndarray | None  # [Cin, kh * kw * Cout]; None: arranged per call
    canvas: bool
    taps: tuple[tuple[int, int, tuple[slice, slice, slice]], ...]
    crop: tuple[slice, slice, slice]
    end: Epilogue


def _transpose_weights(w: np.ndarray) -> np.ndarray:
    """[Cout, kh, kw, Cin] -> contiguous [Cin, kh * kw * Cout]."""
    return np.ascontiguousarray(w.transpose(3, 1, 2, 0).reshape(w.shape[3], -1))


def _transpose_pad(same: bool, out: int, kernel: int, stride: int) -> int:
    """Padding before, as TFLite derives it: from a forward conv of the output's size."""
    size = (out + stride - 1) // stride if same else (out - kernel + stride) // stride
    return max((size - 1) * stride + kernel - out, 0) // 2


def _prepare_transpose(
    ctx: NodeContext,
    x_index: int,
    out_shape: tuple[int, ...],
    same: bool,
    sh: int,
    sw: int,
    bias_index: int,
    fused: bool,
) -> NodePlan:
    x, f = ctx.input(x_index), ctx.input(1)
    input_dtype(ctx, FLOAT, x_index, 1)
    require_rank(ctx, x, 4, "input")
    require_rank(ctx, f, 4, "weights")
    n, h, w, cin = x.shape
    cout, kh, kw, fin = f.shape
    if fin != cin:
        raise ctx.fail(f"weights take {fin} input channels; the input has {cin}")
    if sh < 1 or sw < 1:
        raise ctx.fail(f"strides {sh}x{sw} must be >= 1")
    if out_shape[0] != n or out_shape[3] != cout or min(out_shape) < 1:
        raise ctx.fail(f"output shape {list(out_shape)} does not fit batch {n}, {cout} channels")
    end = epilogue(ctx, bias_index, out_shape, fused)
    oh, ow = out_shape[1], out_shape[2]
    top, left = _transpose_pad(same, oh, kh, sh), _transpose_pad(same, ow, kw, sw)
    full_h, full_w = (h - 1) * sh + kh, (w - 1) * sw + kw
    crop = (slice(None), slice(top, top + oh), slice(left, left + ow))
    scratch = [((n, h, w, kh, kw, cout), np.dtype(np.float32))]
    canvas = not (sh == kh and sw == kw and top == left == 0 and oh == full_h and ow == full_w)
    if canvas:
        add_scratch(scratch, (n, max(full_h, top + oh), max(full_w, left + ow), cout))
    taps = tuple(
        (
            a,
            b,
            (slice(None), slice(a, a + (h - 1) * sh + 1, sh), slice(b, b + (w - 1) * sw + 1, sw)),
        )
        for a in range(kh)
        for b in range(kw)
    )
    data = TransposeConv(
        x_index,
        n * h * w,
        None if f.value is None else _transpose_weights(f.value),
        canvas,
        taps,
        crop,
        end,
    )
    return NodePlan((tuple(out_shape),), data=data, scratch=tuple(scratch))


def prepare_transpose_conv(ctx: NodeContext) -> NodePlan:
    ctx.expect_inputs(3, 4)
    spec = ctx.input(0)
    if spec.dtype not in (np.int32, np.int64) or spec.shape != (4,):
        raise ctx.fail(f"output_shape must be int32 [4], got {spec.dtype} {list(spec.shape)}")
    out_shape = tuple(int(d) for d in ctx.constant(0))
    padding = ctx.option("padding", Padding.SAME)
    if padding not in (Padding.SAME, Padding.VALID):
        raise ctx.fail(f"padding {padding} is not supported")
    sh, sw = ctx.option("stride_h", 1), ctx.option("stride_w", 1)
    return _prepare_transpose(ctx, 2, out_shape, padding == Padding.SAME, sh, sw, 3, True)


# TfLitePadding, the C enum the custom op's options struct holds.
_TFLITE_SAME, _TFLITE_VALID = 1, 2


def prepare_transpose_bias(ctx: NodeContext) -> NodePlan:
    """mediapipe's op: custom_options is a TfLiteTransposeConvParams struct (int32 padding,
    stride_width, stride_height); the output is in*stride (SAME) or (in-1)*stride+k (VALID)."""
    ctx.expect_inputs(3)
    options = ctx.custom_options or b""
    if len(options) < 12:
        raise ctx.fail(f"custom options hold {len(options)} bytes; expected 12")
    padding, sw, sh = struct.unpack_from("<3i", options)
    if padding not in (_TFLITE_SAME, _TFLITE_VALID):
        raise ctx.fail(f"padding {padding} is not supported")
    x, f = ctx.input(0), ctx.input(1)
    require_rank(ctx, x, 4, "input")
    require_rank(ctx, f, 4, "weights")
    same = padding == _TFLITE_SAME
    n, h, w, _ = x.shape
    oh = h * sh if same else (h - 1) * sh + f.shape[1]
    ow = w * sw if same else (w - 1) * sw + f.shape[2]
    ctx.input(2)  # the bias is required here
    return _prepare_transpose(ctx, 0, (n, oh, ow, f.shape[0]), same, sh, sw, 2, False)


def transpose_conv(t: TransposeConv, ins, outs):
    x = ins[t.x_index]
    weights = t.weights if t.weights is not None else _transpose_weights(ins[1])
    cols = outs[1]
    np.matmul(x.reshape(t.rows, -1), weights, out=cols.reshape(t.rows, -1))
    out = outs[0]
    if not t.canvas:
        n, h, w, kh, kw, cout = cols.shape
        out.reshape(n, h, kh, w, kw, cout)[...] = cols.transpose(0, 1, 3, 2, 4, 5)
    else:
        canvas = outs[2]
        canvas.fill(0.0)
        for a, b, where in t.taps:
            canvas[where] += cols[:, :, :, a, b, :]
        out[...] = canvas[t.crop]
    t.end.apply(ins, out)


register("TRANSPOSE_CONV", prepare=prepare_transpose_conv)(transpose_conv)
register("Convolution2DTransposeBias", prepare=prepare_transpose_bias)(transpose_conv)

"""Convolutions (NHWC, float32): CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV and mediapipe's
Convolution2DTransposeBias.

CONV_2D is im2col + one BLAS matmul (1x1 stride-1 convolutions are the matmul alone);
DEPTHWISE_CONV_2D is an einsum over strided windows of the (padded) input; the transposed
convolutions are one matmul into per-tap columns, then a scatter-add of the taps.  Scratch
buffers (padded inputs, im2col columns) are allocated once, at prepare, in the node's record.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from emberlite.interpreter.kernels.common import Activation, fused_activation, window_padding
from emberlite.interpreter.registry import NodeContext, NodePlan, TensorInfo, register
from emberlite.schema.types import ActivationFunctionType, Padding


def require_float(ctx: NodeContext, *infos: TensorInfo | None) -> None:
    """Fail unless every given tensor is float32 (quantized kernels are not implemented)."""
    for info in infos:
        if info is not None and info.dtype != np.float32:
            quantized = info.tensor.quantization is not None and info.tensor.quantization.scale
            kind = "quantized " if quantized else ""
            raise ctx.fail(f"tensor {info.name!r} is {kind}{info.dtype}; only float32 is supported")


def require_rank(ctx: NodeContext, info: TensorInfo, rank: int, what: str) -> None:
    if len(info.shape) != rank:
        raise ctx.fail(f"{what} must have rank {rank}, got shape {list(info.shape)}")


def bias_input(ctx: NodeContext, i: int, channels: int) -> TensorInfo | None:
    """Optional bias input `i`, checked to be [channels]."""
    bias = ctx.inputs[i] if len(ctx.inputs) > i else None
    if bias is not None:
        require_float(ctx, bias)
        if bias.shape != (channels,):
            raise ctx.fail(f"bias shape {list(bias.shape)} is not [{channels}]")
    return bias


@dataclass(frozen=True, slots=True)
class Window:
    """Where a sliding window goes over one NHWC input: output size and padding."""

    out_h: int
    out_w: int
    top: int
    bottom: int
    left: int
    right: int

    @property
    def padded(self) -> bool:
        return bool(self.top or self.bottom or self.left or self.right)


def sliding_window(
    ctx: NodeContext, shape: tuple[int, ...], kh: int, kw: int, sh: int, sw: int, dh=1, dw=1
) -> Window:
    """The window geometry of the node's padding option over an NHWC `shape`."""
    out_h, top, bottom = window_padding(ctx, shape[1], kh, sh, dh)
    out_w, left, right = window_padding(ctx, shape[2], kw, sw, dw)
    if out_h < 1 or out_w < 1:
        raise ctx.fail(f"a {kh}x{kw} window does not fit in the input {list(shape)}")
    return Window(out_h, out_w, top, bottom, left, right)


def padded_buffer(shape: tuple[int, ...], win: Window, fill: float, channels: int | None = None):
    """(buffer, interior slices): a buffer whose border holds `fill` for good."""
    n, h, w, c = shape
    c = c if channels is None else channels
    buffer = np.full((n, h + win.top + win.bottom, w + win.left + win.right, c), fill, np.float32)
    interior = (slice(None), slice(win.top, win.top + h), slice(win.left, win.left + w))
    return buffer, interior


def strided(x: np.ndarray, shape, strides, offset: int = 0) -> np.ndarray:
    """A view of C-contiguous `x` with `strides` and `offset` counted in elements.

    np.ndarray over x's buffer: a tenth of as_strided's cost, which matters per invoke."""
    size = x.itemsize
    return np.ndarray(shape, x.dtype, x, offset * size, tuple(d * size for d in strides))


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


def clamp_activation(ctx: NodeContext) -> Activation:
    """The node's fused activation as TFLite's conv and pool kernels apply it."""
    # NOTE: those kernels only clamp to CalculateActivationRange's bounds, which are
    # unbounded for TANH and SIGN_BIT: LiteRT leaves the values alone for both.
    code = ctx.option("fused_activation_function", ActivationFunctionType.NONE)
    if code in (ActivationFunctionType.TANH, ActivationFunctionType.SIGN_BIT):
        return None
    return fused_activation(ctx)


# -- CONV_2D ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Conv:
    rows: int  # N * OH * OW
    groups: int
    weights: np.ndarray | None  # [K, Cout] ([groups, K, Cout/groups]); None: arranged per call
    padded: np.ndarray | None  # zero-bordered copy of the input, when the node pads
    interior: tuple[slice, ...]
    windows: tuple[int, ...] | None  # im2col window shape; None for 1x1 stride-1 (pure matmul)
    steps: tuple[int, int, int, int]
    cols: np.ndarray | None  # im2col buffer: [rows, K], grouped [groups, N, OH, OW, kh, kw, Cf]
    grouped_out: np.ndarray | None  # [groups, rows, Cout/groups]
    bias: np.ndarray | None  # tiled [OW * Cout], when constant
    flat: tuple[int, int]  # the output as [N * OH, OW * Cout]
    activation: Activation


def _conv_weights(w: np.ndarray, groups: int) -> np.ndarray:
    """[Cout, kh, kw, Cf] -> contiguous [K, Cout], or [groups, K, Cout/groups]."""
    cout = w.shape[0]
    if groups == 1:
        return np.ascontiguousarray(w.reshape(cout, -1).T)
    return np.ascontiguousarray(w.reshape(groups, cout // groups, -1).transpose(0, 2, 1))


def prepare_conv(ctx: NodeContext) -> NodePlan:
    ctx.expect_inputs(2, 3)
    x, f = ctx.input(0), ctx.input(1)
    require_float(ctx, x, f)
    require_rank(ctx, x, 4, "input")
    require_rank(ctx, f, 4, "filter")
    n, h, w, cin = x.shape
    cout, kh, kw, cf = f.shape
    if cf < 1 or cin % cf:
        raise ctx.fail(f"input channels {cin} are not a multiple of the filter's {cf}")
    groups = cin // cf
    if cout % groups:
        raise ctx.fail(f"output channels {cout} do not split into {groups} groups")
    bias = bias_input(ctx, 2, cout)
    sh, sw = ctx.option("stride_h", 1), ctx.option("stride_w", 1)
    dh, dw = ctx.option("dilation_h_factor", 1), ctx.option("dilation_w_factor", 1)
    win = sliding_window(ctx, x.shape, kh, kw, sh, sw, dh, dw)
    rows = n * win.out_h * win.out_w
    padded, interior = padded_buffer(x.shape, win, 0.0) if win.padded else (None, ())
    pointwise = kh == kw == sh == sw == 1 and groups == 1
    windows = None if pointwise else (n, win.out_h, win.out_w, kh, kw, cin)
    cols = grouped_out = None
    if groups > 1:
        cols = np.empty((groups, n, win.out_h, win.out_w, kh, kw, cf), np.float32)
        grouped_out = np.empty((groups, rows, cout // groups), np.float32)
    elif not pointwise:
        cols = np.empty((rows, kh * kw * cin), np.float32)
    weights = None if f.value is None else _conv_weights(f.value, groups)
    data = Conv(
        rows,
        groups,
        weights,
        padded,
        interior,
        windows,
        (sh, sw, dh, dw),
        cols,
        grouped_out,
        None if bias is None else tiled(bias.value, win.out_w),
        (n * win.out_h, win.out_w * cout),
        clamp_activation(ctx),
    )
    return NodePlan(((n, win.out_h, win.out_w, cout),), data=data)


@register("CONV_2D", prepare=prepare_conv)
def conv_2d(c: Conv, ins, outs):
    x = ins[0]
    if c.padded is not None:
        c.padded[c.interior] = x
        x = c.padded
    weights = c.weights if c.weights is not None else _conv_weights(ins[1], c.groups)
    out = outs[0].reshape(c.rows, -1)
    if c.windows is None:
        np.matmul(x.reshape(c.rows, -1), weights, out=out)
    elif c.groups == 1:
        windows = window_view(x, c.windows, c.steps)
        np.copyto(c.cols.reshape(c.windows), windows)
        np.matmul(c.cols, weights, out=out)
    else:
        windows = window_view(x, c.windows, c.steps)
        g = c.groups
        split = windows.reshape(*c.windows[:-1], g, -1)
        np.copyto(c.cols, split.transpose(5, 0, 1, 2, 3, 4, 6))
        np.matmul(c.cols.reshape(g, c.rows, -1), weights, out=c.grouped_out)
        out.reshape(c.rows, g, -1)[...] = c.grouped_out.transpose(1, 0, 2)
    out = out.reshape(c.flat)
    if c.bias is not None:
        out += c.bias
    elif len(ins) > 2 and ins[2] is not None:
        np.add(outs[0], ins[2], out=outs[0])
    if c.activation is not None:
        c.activation(out)


# -- DEPTHWISE_CONV_2D --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Depthwise:
    """Taps grouped by the column phase they read (ow * stride_w + b * dilation_w mod
    stride_w): each group is one einsum over [N, OH, kh, taps, OW * C] windows of its phase
    plane, so NumPy's inner loop runs along whole output rows."""

    shape: tuple[int, int, int]  # output as [N, OH, OW * C]
    fills: tuple[tuple[np.ndarray, tuple], ...]  # (phase-plane interior view, input slices)
    views: tuple[np.ndarray, ...]  # per group, windows of the phase planes
    direct: tuple[tuple[tuple[int, ...], tuple[int, ...], int], ...]  # or: of the input
    weights: tuple[np.ndarray, ...] | None  # per group [kh, taps, OW * C]; None: per call
    groups: tuple[tuple[int, ...], ...]  # the filter columns of each group
    scratch: np.ndarray | None  # [N, OH, OW * C], for groups after the first
    bias: np.ndarray | None  # tiled [OW * C], when constant
    activation: Activation


def _depthwise_weights(w: np.ndarray, groups, out_w: int) -> tuple[np.ndarray, ...]:
    """[1, kh, kw, C] -> per group of filter columns, [kh, taps, OW * C]."""
    return tuple(np.tile(w[0][:, list(cols)], (1, 1, out_w)) for cols in groups)


def prepare_depthwise(ctx: NodeContext) -> NodePlan:
    ctx.expect_inputs(2, 3)
    x, f = ctx.input(0), ctx.input(1)
    require_float(ctx, x, f)
    require_rank(ctx, x, 4, "input")
    require_rank(ctx, f, 4, "filter")
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
    bias = bias_input(ctx, 2, cout)
    sh, sw = ctx.option("stride_h", 1), ctx.option("stride_w", 1)
    dh, dw = ctx.option("dilation_h_factor", 1), ctx.option("dilation_w_factor", 1)
    win = sliding_window(ctx, x.shape, kh, kw, sh, sw, dh, dw)
    oh, ow = win.out_h, win.out_w

    phase_of = [(b * dw) % sw for b in range(kw)]
    groups = tuple(tuple(b for b in range(kw) if phase_of[b] == q) for q in sorted(set(phase_of)))
    fills, views, direct = [], [], []
    if win.padded or multiplier > 1 or sw > 1:
        # The padded input, split by column phase: [sw, N, Hp, ceil(Wp / sw), C].
        hp, wp = h + win.top + win.bottom, w + win.left + win.right
        wq = -(-wp // sw)
        planes = np.zeros((sw, n, hp, wq, cout), np.float32)
        for q in sorted(set(phase_of)):
            first = (q - win.left) % sw  # first input column landing in phase q
            count = len(range(first, w, sw))
            if count:
                at = (win.left + first) // sw
                dest = planes[q, :, win.top : win.top + h, at : at + count]
                src = (slice(None), slice(None), slice(first, None, sw), slice(None), None)
                fills.append((dest.reshape(n, h, count, cin, multiplier), src))
        row, image = wq * cout, hp * wq * cout
        base = planes
    else:
        row, image = w * cout, h * w * cout
        base = None
    for cols in groups:
        step = (cols[1] - cols[0]) * dw // sw if len(cols) > 1 else 1
        shape = (n, oh, kh, len(cols), ow * cout)
        strides = (image, row * sh, row * dh, step * cout, 1)
        offset = phase_of[cols[0]] * n * image + (cols[0] * dw // sw) * cout
        if base is None:
            direct.append((shape, strides, offset))
        else:
            views.append(strided(base, shape, strides, offset))
    data = Depthwise(
        (n, oh, ow * cout),
        tuple(fills),
        tuple(views),
        tuple(direct),
        None if f.value is None else _depthwise_weights(f.value, groups, ow),
        groups,
        np.empty((n, oh, ow * cout), np.float32) if len(groups) > 1 else None,
        None if bias is None else tiled(bias.value, ow),
        clamp_activation(ctx),
    )
    return NodePlan(((n, oh, ow, cout),), data=data)


@register("DEPTHWISE_CONV_2D", prepare=prepare_depthwise)
def depthwise_conv_2d(d: Depthwise, ins, outs):
    x = ins[0]
    for dest, src in d.fills:
        dest[...] = x[src]
    views = d.views or [strided(x, *spec) for spec in d.direct]
    weights = d.weights
    if weights is None:
        weights = _depthwise_weights(ins[1], d.groups, d.shape[2] // ins[1].shape[3])
    out = outs[0].reshape(d.shape)
    np.einsum("nhabx,abx->nhx", views[0], weights[0], out=out)
    for k in range(1, len(views)):
        np.einsum("nhabx,abx->nhx", views[k], weights[k], out=d.scratch)
        out += d.scratch
    if d.bias is not None:
        out += d.bias
    elif len(ins) > 2 and ins[2] is not None:
        np.add(outs[0], ins[2], out=outs[0])
    if d.activation is not None:
        d.activation(out)


# -- TRANSPOSE_CONV and Convolution2DTransposeBias ------------------------------------------------


@dataclass(frozen=True, slots=True)
class TransposeConv:
    x_index: int
    bias_index: int
    rows: int  # N * H * W
    weights: np.ndarray | None  # [Cin, kh * kw * Cout]; None: arranged per call
    cols: np.ndarray  # [N, H, W, kh, kw, Cout]: every input pixel's contribution per tap
    canvas: np.ndarray | None  # uncropped output; None when the taps tile the output exactly
    taps: tuple[tuple[int, int, tuple[slice, slice, slice]], ...]
    crop: tuple[slice, slice, slice]
    bias: np.ndarray | None  # tiled [OW * Cout], when constant
    flat: tuple[int, int]  # the output as [N * OH, OW * Cout]
    activation: Activation


def _transpose_weights(w: np.ndarray) -> np.ndarray:
    """[Cout, kh, kw, Cin] -> contiguous [Cin, kh * kw * Cout]."""
    return np.ascontiguousarray(w.transpose(3, 1, 2, 0).reshape(w.shape[3], -1))


def _transpose_pad(same: bool, out: int, kernel: int, stride: int) -> int:
    """Padding before, as TFLite derives it: from a forward conv of the output's size."""
    size = (out + stride - 1) // stride if same else (out - kernel + stride) // stride
    return max((size - 1) * stride + kernel - out, 0) // 2


def _prepare_transpose(
    ctx: NodeContext,
    x: TensorInfo,
    f: TensorInfo,
    out_shape: tuple[int, ...],
    same: bool,
    sh: int,
    sw: int,
    x_index: int,
    bias_index: int,
    activation: Activation,
) -> NodePlan:
    require_float(ctx, x, f)
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
    bias = bias_input(ctx, bias_index, cout)
    oh, ow = out_shape[1], out_shape[2]
    top, left = _transpose_pad(same, oh, kh, sh), _transpose_pad(same, ow, kw, sw)
    full_h, full_w = (h - 1) * sh + kh, (w - 1) * sw + kw
    crop = (slice(None), slice(top, top + oh), slice(left, left + ow))
    canvas = None
    if not (sh == kh and sw == kw and top == left == 0 and oh == full_h and ow == full_w):
        canvas = np.empty((n, max(full_h, top + oh), max(full_w, left + ow), cout), np.float32)
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
        bias_index,
        n * h * w,
        None if f.value is None else _transpose_weights(f.value),
        np.empty((n, h, w, kh, kw, cout), np.float32),
        canvas,
        taps,
        crop,
        None if bias is None else tiled(bias.value, ow),
        (n * oh, ow * cout),
        activation,
    )
    return NodePlan((tuple(out_shape),), data=data)


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
    return _prepare_transpose(
        ctx,
        ctx.input(2),
        ctx.input(1),
        out_shape,
        padding == Padding.SAME,
        sh,
        sw,
        2,
        3,
        clamp_activation(ctx),
    )


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
    return _prepare_transpose(ctx, x, f, (n, oh, ow, f.shape[0]), same, sh, sw, 0, 2, None)


def transpose_conv(t: TransposeConv, ins, outs):
    x = ins[t.x_index]
    weights = t.weights if t.weights is not None else _transpose_weights(ins[1])
    cols = t.cols
    np.matmul(x.reshape(t.rows, -1), weights, out=cols.reshape(t.rows, -1))
    out = outs[0]
    if t.canvas is None:
        n, h, w, kh, kw, cout = cols.shape
        out.reshape(n, h, kh, w, kw, cout)[...] = cols.transpose(0, 1, 3, 2, 4, 5)
    else:
        canvas = t.canvas
        canvas.fill(0.0)
        for a, b, where in t.taps:
            canvas[where] += cols[:, :, :, a, b, :]
        out[...] = canvas[t.crop]
    out = out.reshape(t.flat)
    if t.bias is not None:
        out += t.bias
    elif len(ins) > t.bias_index and ins[t.bias_index] is not None:
        np.add(outs[0], ins[t.bias_index], out=outs[0])
    if t.activation is not None:
        t.activation(out)


register("TRANSPOSE_CONV", prepare=prepare_transpose_conv)(transpose_conv)
register("Convolution2DTransposeBias", prepare=prepare_transpose_bias)(transpose_conv)

"""Window ops: convolutions, transposed convolutions and pooling, all run NHWC.

Their input is brought to NHWC (a TRANSPOSE only where it arrives in ONNX's NCHW, i.e. at the
graph input) and their output stays NHWC.  Filters are laid out for TFLite at convert time:
Conv OIHW -> OHWI (depthwise: [1, kh, kw, Cout]), ConvTranspose [Cin, Cout, kh, kw] -> OHWI.
ONNX's explicit pads become TFLite's SAME where they are exactly SAME's, else a PAD before a
VALID op.  Global pools are reductions, in whatever order their input has.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from emberlite.converter.frontends.onnx import layout
from emberlite.converter.frontends.onnx.context import OnnxNode, Unsupported, Value
from emberlite.converter.frontends.onnx.layout import Dim
from emberlite.converter.frontends.onnx.ops.registry import lowers
from emberlite.converter.frontends.onnx.ops.tensor import reduce

NHWC = layout.channels_last(4)
SAME, VALID = 0, 1  # TFLite Padding
LOWEST = float(np.finfo(np.float32).min)  # what a max pool's padding holds


# -- windows and padding ------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """A 2-D sliding window: kernel, strides and dilations along H and W."""

    kernel: tuple[int, int]
    strides: tuple[int, int]
    dilations: tuple[int, int]

    @classmethod
    def of(cls, n: OnnxNode, kernel: Any) -> Window:
        return cls(
            tuple(kernel), tuple(n.attr("strides", (1, 1))), tuple(n.attr("dilations", (1, 1)))
        )

    def same_pads(self, sizes: tuple) -> list[tuple[int, int]] | None:
        """SAME_UPPER's (TFLite SAME's) (before, after) pads; None for run-time sizes."""
        if not all(isinstance(s, int) for s in sizes):
            return None
        pads = []
        for size, k, s, d in zip(sizes, self.kernel, self.strides, self.dilations, strict=True):
            total = max((-(-size // s) - 1) * s + (k - 1) * d + 1 - size, 0)
            pads.append((total // 2, total - total // 2))
        return pads

    def pads(self, n: OnnxNode, sizes: tuple) -> list[tuple[int, int]]:
        """(before, after) per spatial axis, from the node's `auto_pad` or `pads`."""
        auto = n.attr("auto_pad", "NOTSET")
        if auto == "VALID":
            return [(0, 0), (0, 0)]
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            same = self.same_pads(sizes)
            if same is None:
                raise Unsupported(f"auto_pad={auto} over run-time spatial sizes")
            return same if auto == "SAME_UPPER" else [(after, before) for before, after in same]
        flat = n.attr("pads", (0, 0, 0, 0))
        return [(flat[0], flat[2]), (flat[1], flat[3])]

    def with_ceil(
        self, sizes: tuple, out_sizes: tuple, pads: list[tuple[int, int]]
    ) -> list[tuple[int, int]]:
        """`pads` grown at the end where the output has more windows than they make room
        for (ceil_mode), read off the inferred output size."""
        grown = []
        for size, out, (before, after), k, s, d in zip(
            sizes, out_sizes, pads, self.kernel, self.strides, self.dilations, strict=True
        ):
            extra = 0
            if isinstance(size, int) and isinstance(out, int):
                extra = max((out - 1) * s + (k - 1) * d + 1 - (size + before + after), 0)
            grown.append((before, after + extra))
        return grown

    def conv_options(self) -> dict[str, int]:
        return {
            "stride_h": self.strides[0],
            "stride_w": self.strides[1],
            "dilation_h_factor": self.dilations[0],
            "dilation_w_factor": self.dilations[1],
        }

    def pool_options(self) -> dict[str, int]:
        if self.dilations != (1, 1):
            raise Unsupported("dilated pooling")
        return {
            "filter_height": self.kernel[0],
            "filter_width": self.kernel[1],
            "stride_h": self.strides[0],
            "stride_w": self.strides[1],
        }


def spatial_dims(x: Value) -> tuple[int | Dim, int | Dim]:
    if x.rank != 4:
        raise Unsupported(f"input {x.name!r} has rank {x.rank}; only 2-D windows (rank 4) are")
    return x.dims[2], x.dims[3]


def _windowed_input(
    n: OnnxNode,
    x: Value,
    pads: list[tuple[int, int]],
    window: Window,
    fill: float = 0.0,
    allow_same: bool = True,
) -> tuple[str, int]:
    """`x` as NHWC input of a window op with `pads`, and the op's padding: VALID without pads,
    SAME when the pads are exactly SAME's (and `allow_same`), else VALID after a PAD."""
    source = n.lowering.ir(x, NHWC)
    if not any(before or after for before, after in pads):
        return source, VALID
    sizes = x.dims[2:]
    if allow_same and pads == window.same_pads(sizes):
        return source, SAME
    padded = [s + b + a if isinstance(s, int) else s for s, (b, a) in zip(sizes, pads, strict=True)]
    out = n.temp("padded", layout.ir_shape((*x.dims[:2], *padded), NHWC), x.dtype)
    paddings = n.lowering.int32(f"{out}_paddings", [[0, 0], *pads, [0, 0]])
    if fill == 0.0:
        n.lowering.emit("PAD", [source, paddings], [out])
    else:
        value = n.lowering.add_constant(f"{out}_value", fill, x.dtype)
        n.lowering.emit("PADV2", [source, paddings, value], [out])
    return out, VALID


# -- convolutions -----------------------------------------------------------------------------


@lowers("Conv")
def conv(n: OnnxNode) -> None:
    x, w = n.input(0), n.input(1)
    window = Window.of(n, w.dims[2:])
    group, cout = int(n.attr("group", 1)), w.dims[0]
    depthwise = group > 1 and group == x.dims[1] and w.dims[1] == 1
    source, padding = _windowed_input(n, x, window.pads(n, spatial_dims(x)), window)
    weights = n.lowering.ir(w, (1, 2, 3, 0) if depthwise else NHWC)
    bias = n.optional(2)
    bias_name = (
        n.lowering.ir(bias)
        if bias is not None
        else n.lowering.add_constant(f"{n.proto.output[0]}_bias", np.zeros(cout, x.dtype))
    )
    op, options = "CONV_2D", window.conv_options()
    if depthwise:
        op, options["depth_multiplier"] = "DEPTHWISE_CONV_2D", cout // group
    n.produce(op, [source, weights, bias_name], NHWC, padding=padding, **options)


@lowers("ConvTranspose")
def conv_transpose(n: OnnxNode) -> None:
    """A VALID TRANSPOSE_CONV makes the full result, stride * (size - 1) + kernel per axis;
    ONNX's pads crop it (a SLICE) and an output_padding past its end adds zeros (a PAD), the
    bias then added over all."""
    x, w = n.input(0), n.input(1)
    sizes = spatial_dims(x)
    window = Window.of(n, w.dims[2:])
    kernel, strides = window.kernel, window.strides
    if int(n.attr("group", 1)) != 1 or window.dilations != (1, 1):
        raise Unsupported("only ungrouped, undilated transposed convolutions map onto TFLite")
    out_dims = n.out_dims()
    out_sizes, cout = out_dims[2:], w.dims[1]
    if not all(isinstance(s, int) for s in (*sizes, *out_sizes)):
        raise Unsupported("transposed convolutions need known spatial sizes")
    full = [s * (size - 1) + k for size, k, s in zip(sizes, kernel, strides, strict=True)]
    starts = _transpose_starts(n, full, out_sizes)
    if any(start < 0 for start in starts):
        raise Unsupported(f"output_shape {list(out_sizes)} is larger than the padding allows")
    short = [max(start + out - f, 0) for start, out, f in zip(starts, out_sizes, full, strict=True)]
    kept = [out - extra for out, extra in zip(out_sizes, short, strict=True)]
    crop, grow = any(starts) or kept != full, any(short)
    lowering, bias = n.lowering, n.optional(2)
    late_bias = grow and bias is not None  # the grown border holds the bias too

    def stage(purpose: str, dims: tuple, last: bool) -> str:
        return n.output(0, NHWC) if last else n.temp(purpose, layout.ir_shape(dims, NHWC), x.dtype)

    result = stage("full", (x.dims[0], cout, *full), not (crop or grow))
    lowering.emit(
        "TRANSPOSE_CONV",
        [
            _output_shape(n, x, [*full, cout]),
            lowering.ir(w, (1, 2, 3, 0)),
            lowering.ir(x, NHWC),
            None if bias is None or late_bias else lowering.ir(bias),
        ],
        [result],
        padding=VALID,
        stride_h=strides[0],
        stride_w=strides[1],
    )
    if crop:
        cropped = stage("cropped", (x.dims[0], cout, *kept), not grow)
        begin = lowering.int32(f"{cropped}_begin", [0, *starts, 0])
        size = lowering.int32(f"{cropped}_size", [-1, *kept, -1])
        lowering.emit("SLICE", [result, begin, size], [cropped])
        result = cropped
    if grow:  # output_padding past the full result: zeros (then the bias)
        grown = stage("grown", out_dims, not late_bias)
        paddings = lowering.int32(f"{grown}_paddings", [[0, 0], *[[0, e] for e in short], [0, 0]])
        lowering.emit("PAD", [result, paddings], [grown])
        result = grown
    if late_bias:
        lowering.emit("ADD", [result, lowering.ir(bias)], [n.output(0, NHWC)])


def _transpose_starts(n: OnnxNode, full: list[int], out_sizes: tuple) -> list[int]:
    """Where ONNX's output starts within the full (VALID) transposed convolution."""
    auto = n.attr("auto_pad", "NOTSET")
    padding = n.attr("output_padding", [0, 0])
    if n.attr("output_shape") is None and auto not in ("SAME_UPPER", "SAME_LOWER"):
        return list(n.attr("pads", [0, 0, 0, 0])[:2])
    starts = []
    for f, extra, out in zip(full, padding, out_sizes, strict=True):
        total = f + extra - out
        starts.append(total // 2 if auto == "SAME_UPPER" else total - total // 2)
    return starts


def _output_shape(n: OnnxNode, x: Value, rest: list[int]) -> str:
    """TRANSPOSE_CONV's int32 output_shape: constant, or with the run-time batch."""
    lowering = n.lowering
    batch = x.dims[0]
    if isinstance(batch, int):
        return lowering.int32(f"{n.proto.output[0]}_output_shape", [batch, *rest])
    shape = n.temp("input_shape", (4,), np.int32)
    lowering.emit("SHAPE", [lowering.ir(x, NHWC)], [shape])
    first = n.temp("batch", (1,), np.int32)
    lowering.emit(
        "STRIDED_SLICE",
        [
            shape,
            lowering.int32(f"{first}_begin", [0]),
            lowering.int32(f"{first}_end", [1]),
            lowering.int32(f"{first}_strides", [1]),
        ],
        [first],
    )
    out = n.temp("output_shape", (4,), np.int32)
    lowering.emit("CONCATENATION", [first, lowering.int32(f"{out}_rest", rest)], [out], axis=0)
    return out


# -- pooling ------------------------------------------------------------------------------------


@lowers("MaxPool")
def max_pool(n: OnnxNode) -> None:
    x = n.input(0)
    if len(n.proto.output) > 1 and n.proto.output[1]:
        raise Unsupported("MaxPool's Indices output")
    sizes = spatial_dims(x)
    window = Window.of(n, n.attr("kernel_shape"))
    options = window.pool_options()
    pads = window.with_ceil(sizes, n.out_dims()[2:], window.pads(n, sizes))
    source, padding = _windowed_input(n, x, pads, window, fill=LOWEST)
    n.produce("MAX_POOL_2D", [source], NHWC, padding=padding, **options)


@lowers("AveragePool")
def average_pool(n: OnnxNode) -> None:
    """SAME pooling leaves the padding out of the mean, VALID over an explicit PAD counts it
    in; other divisors (count_include_pad=0 with pads that are not SAME's, ceil_mode's
    partial windows) come from a constant correction map."""
    x = n.input(0)
    sizes = spatial_dims(x)
    window = Window.of(n, n.attr("kernel_shape"))
    options = window.pool_options()
    pads = window.pads(n, sizes)
    out_dims = n.out_dims()
    grown = window.with_ceil(sizes, out_dims[2:], pads)
    include = bool(n.attr("count_include_pad", 0))
    if not any(map(any, grown)):
        n.produce("AVERAGE_POOL_2D", [n.lowering.ir(x, NHWC)], NHWC, padding=VALID, **options)
        return
    if not include and pads == grown == window.same_pads(sizes):
        n.produce("AVERAGE_POOL_2D", [n.lowering.ir(x, NHWC)], NHWC, padding=SAME, **options)
        return
    source, _ = _windowed_input(n, x, grown, window, allow_same=False)
    if include and pads == grown:  # the zeros PAD adds are what the mean should count
        n.produce("AVERAGE_POOL_2D", [source], NHWC, padding=VALID, **options)
        return
    if not all(isinstance(s, int) for s in sizes):
        raise Unsupported("average pooling that leaves out padding over run-time spatial sizes")
    pooled = n.temp("pooled", layout.ir_shape(out_dims, NHWC), x.dtype)
    n.lowering.emit("AVERAGE_POOL_2D", [source], [pooled], padding=VALID, **options)
    counts = [
        _window_counts(size, out, before, after, k, s, include)
        for size, out, (before, after), k, s in zip(
            sizes, out_dims[2:], pads, window.kernel, window.strides, strict=True
        )
    ]
    correction = math.prod(window.kernel) / np.outer(*counts)
    factor = n.lowering.add_constant(f"{pooled}_divisor", correction[None, :, :, None], x.dtype)
    n.produce("MUL", [pooled, factor], NHWC)


def _window_counts(
    size: int, out: int, before: int, after: int, kernel: int, stride: int, include_pad: bool
) -> np.ndarray:
    """How many elements each output's window averages over along one axis."""
    starts = np.arange(out) * stride - before
    low, high = (-before, size + after) if include_pad else (0, size)
    return np.minimum(starts + kernel, high) - np.maximum(starts, low)


@lowers("GlobalAveragePool", "GlobalMaxPool")
def global_pool(n: OnnxNode) -> None:
    x = n.input(0)
    op = "MEAN" if n.op == "GlobalAveragePool" else "REDUCE_MAX"
    reduce(n, x, op, list(range(2, x.rank)), keepdims=True)

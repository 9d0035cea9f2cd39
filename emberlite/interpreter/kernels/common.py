"""Helpers the kernels share.

- dtypes: `input_dtype` (the one dtype check), `check_output`, `require_rank`;
- standard prepares (`same_shape`, `prepare_unary`, `prepare_float`, `prepare_binary`, ...) and
  `ufunc_eval`;
- clamps and fused activations: `clamp`, `fused_activation`;
- sliding windows: `window_padding`, `sliding_window`, `strided`;
- scratch: `add_scratch`, `Views` (views of scratch, made once), `borders` and `Bordered` (an
  input copied inside a border of one value).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from emberlite.interpreter.registry import Eval, NodeContext, NodePlan, TensorInfo
from emberlite.schema.types import ActivationFunctionType, Padding

F32 = np.dtype(np.float32)
I32 = np.dtype(np.int32)
I64 = np.dtype(np.int64)
BOOL = np.dtype(np.bool_)
FLOAT = (F32,)
NUMERIC = (F32, I32, I64)


# -- dtypes, ranks, standard prepares -------------------------------------------------------------


def input_dtype(ctx: NodeContext, allowed: Collection[np.dtype] | None, *indices: int) -> np.dtype:
    """The dtype the inputs `indices` (default: 0) share, checked against `allowed` (None: any).

    Quantized integer tensors fail: their kernels are not written yet.
    """
    infos = [(i, ctx.input(i)) for i in indices or (0,)]
    for i, info in infos:
        q = info.tensor.quantization
        if info.dtype.kind in "iu" and q is not None and q.scale:
            raise ctx.fail(f"input {i} is quantized {info.dtype.name}, which is not supported yet")
        if allowed is not None and info.dtype not in allowed:
            names = ", ".join(np.dtype(d).name for d in allowed)
            if tuple(allowed) == FLOAT:
                names += " (only float32 is implemented)"
            raise ctx.fail(f"input {i} has type {info.dtype.name}; supported: {names}")
    dtype = infos[0][1].dtype
    if any(info.dtype != dtype for _, info in infos):
        types = ", ".join(info.dtype.name for _, info in infos)
        raise ctx.fail(f"inputs must share one type, got {types}")
    return dtype


def check_output(ctx: NodeContext, dtype: np.dtype, k: int = 0) -> None:
    if ctx.outputs[k].dtype != dtype:
        raise ctx.fail(f"output {k} has type {ctx.outputs[k].dtype.name}; expected {dtype.name}")


def require_rank(ctx: NodeContext, info: TensorInfo, rank: int, what: str) -> None:
    if len(info.shape) != rank:
        raise ctx.fail(f"{what} must have rank {rank}, got shape {list(info.shape)}")


def same_shape(ctx: NodeContext) -> NodePlan:
    """Prepare for ops whose one output has the shape of input 0."""
    return NodePlan((ctx.input(0).shape,))


def prepare_unary(allowed: Collection[np.dtype]) -> Callable[[NodeContext], NodePlan]:
    """Prepare for ops of one input of an allowed type: the output has its type and shape."""

    def prepare(ctx: NodeContext) -> NodePlan:
        ctx.expect_inputs(1)
        check_output(ctx, input_dtype(ctx, allowed))
        return NodePlan((ctx.input(0).shape,))

    return prepare


prepare_float = prepare_unary(FLOAT)  # one float32 input; the output has its shape


def broadcast_shape(ctx: NodeContext) -> tuple[int, ...]:
    """NumPy broadcasting of inputs 0 and 1, as TFLite's binary ops do it."""
    a, b = ctx.input(0).shape, ctx.input(1).shape
    try:
        return tuple(np.broadcast_shapes(a, b))
    except ValueError:
        raise ctx.fail(f"shapes {list(a)} and {list(b)} do not broadcast") from None


def prepare_elementwise(
    ctx: NodeContext, allowed: Collection[np.dtype], out: np.dtype | None = None
) -> tuple[tuple[int, ...], np.dtype]:
    """Two inputs of one allowed type, broadcast: (output shape, input dtype)."""
    ctx.expect_inputs(2)
    dtype = input_dtype(ctx, allowed, 0, 1)
    check_output(ctx, dtype if out is None else out)
    return broadcast_shape(ctx), dtype


def prepare_binary(
    allowed: Collection[np.dtype], out: np.dtype | None = None
) -> Callable[[NodeContext], NodePlan]:
    """Prepare for ops of two broadcast inputs of one allowed type; the output has that type
    (or `out`)."""

    def prepare(ctx: NodeContext) -> NodePlan:
        return NodePlan((prepare_elementwise(ctx, allowed, out)[0],))

    return prepare


def ufunc_eval(ufunc: np.ufunc) -> Eval:
    """The eval of an op that is one NumPy ufunc of its inputs."""
    if ufunc.nin == 1:
        return lambda data, ins, outs: ufunc(ins[0], out=outs[0])
    return lambda data, ins, outs: ufunc(ins[0], ins[1], out=outs[0])


# -- clamps, fused activations --------------------------------------------------------------------

Clamp = Callable[[np.ndarray, np.ndarray], None]  # (x, out); in place: (out, out)
Activation = Clamp | None


def clamp(low: float, high: float, size: int) -> Clamp:
    """(x, out) -> out = min(max(x, low), high) (infinite bounds: one-sided), fastest for `size`.

    NOTE: np.clip is one SIMD pass but costs 2 us of Python; NumPy's maximum / minimum
    against a scalar are cheap to call but have no SIMD loop (3 to 4 times slower per element
    on large arrays), and np.clip with a None bound falls back to them: large arrays are
    clipped with infinite bounds instead.
    """
    if high == np.inf and size < 4096:
        return lambda x, out: np.maximum(x, low, out=out)
    if low == -np.inf and size < 4096:
        return lambda x, out: np.minimum(x, high, out=out)
    if size < 1024:

        def small(x: np.ndarray, out: np.ndarray) -> None:
            np.maximum(x, low, out=out)
            np.minimum(out, high, out=out)

        return small
    return lambda x, out: np.clip(x, low, high, out=out)


def _tanh(x: np.ndarray, out: np.ndarray) -> None:
    np.tanh(x, out=out)


_BOUNDS = {
    ActivationFunctionType.RELU: (0.0, np.inf),
    ActivationFunctionType.RELU6: (0.0, 6.0),
    ActivationFunctionType.RELU_N1_TO_1: (-1.0, 1.0),
}


def fused_activation(
    ctx: NodeContext, shape: Sequence[int], dtype: np.dtype = F32, *, clamp_only: bool = False
) -> Activation:
    """The node's fused_activation_function, as a Clamp applied in place to outputs of `shape`
    (`activation(out, out)`); None for NONE.

    Float32 outputs take the clamps and TANH; integer outputs only the clamps (to the type's
    range).  `clamp_only`: as TFLite's conv, depthwise, transpose-conv and pool kernels apply
    it: they only clamp to CalculateActivationRange's bounds, which are unbounded for TANH and
    SIGN_BIT, so LiteRT leaves the values alone for both; elsewhere TANH is applied.
    """
    code = ctx.option("fused_activation_function", ActivationFunctionType.NONE)
    if code == ActivationFunctionType.NONE:
        return None
    integer = np.dtype(dtype).kind in "iu"
    if code in _BOUNDS:
        low, high = _BOUNDS[code]
        if integer:
            low, high = int(low), np.iinfo(dtype).max if high == np.inf else int(high)
        return clamp(low, high, math.prod(shape))
    if clamp_only and code in (ActivationFunctionType.TANH, ActivationFunctionType.SIGN_BIT):
        return None
    if code == ActivationFunctionType.TANH and not integer:
        return _tanh
    for_integers = " for integers" if integer else ""
    raise ctx.fail(f"fused activation {code} is not supported{for_integers}")


# -- sliding windows ------------------------------------------------------------------------------


def window_padding(
    ctx: NodeContext, size: int, kernel: int, stride: int, dilation: int = 1
) -> tuple[int, int, int]:
    """(output size, padding before, padding after) along one spatial axis, as TFLite pads.

    SAME keeps ceil(size / stride) outputs and puts the odd pixel of padding after; VALID
    keeps only windows that fit.
    """
    if stride < 1 or dilation < 1:
        raise ctx.fail(f"stride {stride} and dilation {dilation} must be >= 1")
    effective = (kernel - 1) * dilation + 1
    padding = ctx.option("padding", Padding.SAME)
    if padding == Padding.SAME:
        out = (size + stride - 1) // stride
    elif padding == Padding.VALID:
        out = (size - effective + stride) // stride
    else:
        raise ctx.fail(f"padding {padding} is not supported")
    total = max((out - 1) * stride + effective - size, 0)
    return max(out, 0), total // 2, total - total // 2


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

    @property
    def pads(self) -> tuple[tuple[int, int], ...]:
        """(before, after) per NHWC axis."""
        return (0, 0), (self.top, self.bottom), (self.left, self.right), (0, 0)


def sliding_window(
    ctx: NodeContext, shape: tuple[int, ...], kh: int, kw: int, sh: int, sw: int, dh=1, dw=1
) -> Window:
    """The window geometry of the node's padding option over an NHWC `shape`."""
    out_h, top, bottom = window_padding(ctx, shape[1], kh, sh, dh)
    out_w, left, right = window_padding(ctx, shape[2], kw, sw, dw)
    if out_h < 1 or out_w < 1:
        raise ctx.fail(f"a {kh}x{kw} window does not fit in the input {list(shape)}")
    return Window(out_h, out_w, top, bottom, left, right)


def strided(x: np.ndarray, shape, strides, offset: int = 0) -> np.ndarray:
    """A view of C-contiguous `x` with `strides` and `offset` counted in elements.

    np.ndarray over x's buffer: a tenth of as_strided's cost, which matters per invoke."""
    size = x.itemsize
    return np.ndarray(shape, x.dtype, x, offset * size, tuple(d * size for d in strides))


# -- scratch --------------------------------------------------------------------------------------


def borders(shape: Sequence[int], pads: Sequence[tuple[int, int]]):
    """(padded shape, interior slices, border slabs) of `shape` padded by (before, after) per
    axis.  The slabs are disjoint and cover the border: axes before d inside only, axes after
    d whole."""
    out = tuple(n + a + b for n, (a, b) in zip(shape, pads, strict=True))
    interior = tuple(slice(a, a + n) for n, (a, _) in zip(shape, pads, strict=True))
    sides = []
    for d, (a, b) in enumerate(pads):
        head, tail = interior[:d], (slice(None),) * (len(shape) - d - 1)
        if a:
            sides.append((*head, slice(0, a), *tail))
        if b:
            sides.append((*head, slice(out[d] - b, out[d]), *tail))
    return out, interior, tuple(sides)


@dataclass(eq=False, slots=True)
class Views:
    """Views of an array that eval gets at every invoke (a scratch buffer, an input): made by
    `make` at the first eval that sees the array, then kept while eval gets the same one.

    NOTE: the executor places scratch after prepare, so views of it cannot be made there, and
    making them at every invoke costs 0.3 to 1 us each, which adds up over a model's nodes.
    The executor hands a step the same arrays at every invoke; a fold gets its own, once."""

    make: Callable[[np.ndarray], Any]
    array: np.ndarray | None = None
    views: Any = None

    def of(self, array: np.ndarray) -> Any:
        if array is not self.array:
            self.array, self.views = array, self.make(array)
        return self.views


@dataclass(frozen=True, slots=True)
class Bordered:
    """An input copied inside a border of `fill`, in a scratch buffer of `shape`.

    Scratch does not keep its contents between invokes (other nodes reuse the bytes), so
    `load` writes the border again each time: a few thin slabs next to the copy.
    """

    shape: tuple[int, ...]
    interior: tuple[slice, ...]
    sides: tuple[tuple[slice, ...], ...]
    fill: float
    views: Views  # of the buffer: (interior, border slabs)

    def load(self, buffer: np.ndarray, x: np.ndarray) -> np.ndarray:
        interior, sides = self.views.of(buffer)
        np.copyto(interior, x)
        for side in sides:
            side.fill(self.fill)
        return buffer


def bordered(shape: Sequence[int], pads: Sequence[tuple[int, int]], fill: float) -> Bordered:
    out, interior, sides = borders(shape, pads)
    views = Views(lambda buffer: (buffer[interior], tuple(buffer[side] for side in sides)))
    return Bordered(out, interior, sides, fill, views)


def add_scratch(scratch: list, shape: Sequence[int], dtype=F32) -> int:
    """Append a scratch buffer to a one-output node's list; its index in eval's `outs`."""
    scratch.append((tuple(int(d) for d in shape), np.dtype(dtype)))
    return len(scratch)

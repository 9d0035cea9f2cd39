"""Trainer primitives -> TFLite builtin ops: one lowering per primitive, by name.

A lowering takes the Builder (its `call` is the trainer node, inputs as IR names) and
returns the IR names of the call's outputs: new nodes' outputs, or an input unchanged (an
alias).  Attrs mean what the primitive's kernel in emberlite/trainer/ops/*.py makes of
them: conv filters HWIO, pads (top, bottom, left, right), NHWC.  Lowerings are the plainest
correct ones (a bias is its own ADD, an activation its own node); the passes fuse them.

The composites of bundle_fusions.py ("reduce_mean", "leaky_relu", "gelu", "hard_swish") are
lowered here too.  Adding a primitive is adding its lowering to this table.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from emberlite.converter.frontends.bundle_builder import Builder, Unsupported

Lowering = Callable[[Builder], list[str]]
LOWERINGS: dict[str, Lowering] = {}
SAME, VALID = 0, 1  # the schema's Padding
LOWEST = float(np.finfo(np.float32).min)  # max pooling's padding: never a window's max


def lowers(*names: str) -> Callable[[Lowering], Lowering]:
    def register(lowering: Lowering) -> Lowering:
        for name in names:
            LOWERINGS[name] = lowering
        return lowering

    return register


def _same_op(op: str) -> Lowering:
    """A primitive that is TFLite op `op` on the same inputs, with no options."""
    return lambda b: [b.emit(op, b.call.inputs)]


ONE_TO_ONE = {
    "add": "ADD",
    "subtract": "SUB",
    "multiply": "MUL",
    "divide": "DIV",
    "pow": "POW",
    "maximum": "MAXIMUM",
    "minimum": "MINIMUM",
    "equal": "EQUAL",
    "not_equal": "NOT_EQUAL",
    "less": "LESS",
    "less_equal": "LESS_EQUAL",
    "greater": "GREATER",
    "greater_equal": "GREATER_EQUAL",
    "logical_and": "LOGICAL_AND",
    "logical_or": "LOGICAL_OR",
    "negative": "NEG",
    "exp": "EXP",
    "log": "LOG",
    "sqrt": "SQRT",
    "tanh": "TANH",
    "abs": "ABS",
    "sin": "SIN",
    "cos": "COS",
    "sign": "SIGN",
    "floor": "FLOOR",
    "round": "ROUND",  # both round half to even
    "relu": "RELU",
    "relu6": "RELU6",
    "sigmoid": "LOGISTIC",
    "elu": "ELU",
    "hard_swish": "HARD_SWISH",
}
for _name, _op in ONE_TO_ONE.items():
    LOWERINGS[_name] = _same_op(_op)


@lowers("read_variable", "stop_gradient")
def _alias(b: Builder) -> list[str]:
    return [b.call.inputs[0]]


@lowers("cast")
def _cast(b: Builder) -> list[str]:
    return [b.cast(b.call.inputs[0], b.out().dtype, suffix=None)]


@lowers("where")
def _where(b: Builder) -> list[str]:
    condition, x, y = b.call.inputs
    return [b.emit("SELECT_V2", [b.cast(condition, np.bool_), x, y])]


# -- activations and math TFLite has no op for ----------------------------------------------


@lowers("leaky_relu")
def _leaky_relu(b: Builder) -> list[str]:
    return [b.emit("LEAKY_RELU", b.call.inputs, {"alpha": b.call.attrs["alpha"]})]


@lowers("gelu")
def _gelu(b: Builder) -> list[str]:
    approximate = bool(b.call.attrs.get("approximate", False))
    return [b.emit("GELU", b.call.inputs, {"approximate": approximate})]


class _Math:
    """Elementwise ops on tensors of `like`'s shape and dtype (numbers become scalar
    constants), for decompositions: m("ADD", m("EXP", x), 1.0)."""

    def __init__(self, b: Builder, like: str):
        self.b, self.shape, self.dtype = b, b.shape(like), b.dtype(like)

    def __call__(self, op: str, *inputs: str | float) -> str:
        names = [x if isinstance(x, str) else self.scalar(x) for x in inputs]
        return self.b.emit(op, names, shape=self.shape, dtype=self.dtype, suffix=op.lower())

    def scalar(self, value: float) -> str:
        return self.b.const(value, self.dtype, "c")


@lowers("softplus")
def _softplus(b: Builder) -> list[str]:
    """relu(x) + log(1 + exp(-|x|)): log(1 + exp(x)) without overflow."""
    (x,) = b.call.inputs
    m = _Math(b, x)
    tail = m("LOG", m("ADD", m("EXP", m("NEG", m("ABS", x))), 1.0))
    return [b.emit("ADD", [m("RELU", x), tail])]


# Abramowitz & Stegun 7.1.26: |erf(x) - this| < 1.5e-7 everywhere.
_ERF_P = 0.3275911
_ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


@lowers("erf")
def _erf(b: Builder) -> list[str]:
    """sign(x) (1 - t (a1 + t (a2 + ...)) exp(-x^2)) with t = 1 / (1 + p |x|)."""
    (x,) = b.call.inputs
    m = _Math(b, x)
    t = m("DIV", 1.0, m("ADD", m("MUL", m("ABS", x), _ERF_P), 1.0))
    poly = m("MUL", t, _ERF_A[-1])
    for a in reversed(_ERF_A[:-1]):
        poly = m("MUL", m("ADD", poly, a), t)
    tail = m("MUL", poly, m("EXP", m("NEG", m("MUL", x, x))))
    return [b.emit("MUL", [m("SIGN", x), m("SUB", 1.0, tail)])]


@lowers("expm1")
def _expm1(b: Builder) -> list[str]:
    (x,) = b.call.inputs
    m = _Math(b, x)
    return [b.emit("SUB", [m("EXP", x), m.scalar(1.0)])]


@lowers("log1p")
def _log1p(b: Builder) -> list[str]:
    (x,) = b.call.inputs
    m = _Math(b, x)
    return [b.emit("LOG", [m("ADD", x, 1.0)])]


# -- softmax and reductions --------------------------------------------------------------------


def _last_axis(op: str) -> Lowering:
    """An op of the last axis (SOFTMAX, LOG_SOFTMAX); another axis is moved there and back."""

    def lower(b: Builder) -> list[str]:
        (x,) = b.call.inputs
        options = {"beta": 1.0} if op == "SOFTMAX" else None
        rank, axis = len(b.shape(x)), b.call.attrs["axis"] % len(b.shape(x))
        if axis == rank - 1:
            return [b.emit(op, [x], options)]
        perm = list(range(rank))
        perm[axis], perm[-1] = perm[-1], perm[axis]  # a swap: its own inverse
        moved = b.transpose(x, perm, "to_last")
        y = b.emit(op, [moved], options, shape=b.shape(moved), suffix="last_axis")
        return [b.emit("TRANSPOSE", [y, b.ints(perm, "perm")])]

    return lower


LOWERINGS["softmax"] = _last_axis("SOFTMAX")
LOWERINGS["log_softmax"] = _last_axis("LOG_SOFTMAX")


def _reducer(op: str) -> Lowering:
    def lower(b: Builder) -> list[str]:
        (x,) = b.call.inputs
        axes = list(b.call.attrs["axis"])
        keep = bool(b.call.attrs["keepdims"])
        return [b.emit(op, [x, b.ints(axes, "axes")], {"keep_dims": keep})]

    return lower


LOWERINGS["reduce_sum"] = _reducer("SUM")
LOWERINGS["reduce_max"] = _reducer("REDUCE_MAX")
LOWERINGS["reduce_mean"] = _reducer("MEAN")


@lowers("argmax")
def _argmax(b: Builder) -> list[str]:
    (x,) = b.call.inputs
    return [b.emit("ARG_MAX", [x, b.ints([b.call.attrs["axis"]], "axis")])]


@lowers("one_hot")
def _one_hot(b: Builder) -> list[str]:
    """indices[..., None] == range(depth), cast: TFLite's ONE_HOT has no kernel of ours."""
    (indices,) = b.call.inputs
    depth, spec = b.call.attrs["depth"], b.out()
    column = b.reshape(indices, (*b.shape(indices), 1), "column")
    positions = b.const(np.arange(depth), b.dtype(indices), "positions")
    hits = b.emit("EQUAL", [column, positions], dtype=np.bool_, suffix="hits")
    return [b.cast(hits, spec.dtype, suffix=None)]


# -- dense and convolutions --------------------------------------------------------------------


@lowers("matmul")
def _matmul(b: Builder) -> list[str]:
    """x @ constant [in, out] is FULLY_CONNECTED (weights [out, in]); the rest BATCH_MATMUL."""
    x, w = b.call.inputs
    weights = b.data(w)
    if weights is not None and weights.ndim == 2 and b.data(x) is None:
        keep = len(b.shape(x)) > 2
        dense_weights = b.transpose(w, (1, 0), "out_in")
        return [b.emit("FULLY_CONNECTED", [x, dense_weights, None], {"keep_num_dims": keep})]
    return [b.emit("BATCH_MATMUL", [x, w], {"adj_x": False, "adj_y": False})]


def _same_pads(size, window, strides, dilations) -> tuple[int, ...] | None:
    """TF's SAME pads (top, bottom, left, right) for spatial `size` (None: any size, known
    only for stride 1), or None when they depend on an unknown size."""
    pads: tuple[int, ...] = ()
    for n, k, s, d in zip(size, window, strides, dilations, strict=True):
        span = (k - 1) * d + 1
        if n is None:
            if s != 1:
                return None
            total = span - 1
        else:
            total = max((-(-n // s) - 1) * s + span - n, 0)
        pads += (total // 2, total - total // 2)
    return pads


def _padded_window(
    b: Builder, x: str, window, strides, dilations, pads, fill: float
) -> tuple[str, int]:
    """(input, padding code) for a window op: VALID, SAME where the pads are TF's SAME,
    else an explicit PAD (PADV2 with `fill` when it is not 0) and VALID."""
    pads = tuple(pads)
    if not any(pads):
        return x, VALID
    if pads == _same_pads(b.shape(x)[1:3], window, strides, dilations):
        return x, SAME
    n, h, w, c = b.shape(x)
    top, bottom, left, right = pads
    paddings = b.ints([[0, 0], [top, bottom], [left, right], [0, 0]], "pads")
    shape = (n, _plus(h, top + bottom), _plus(w, left + right), c)
    if fill == 0:
        return b.emit("PAD", [x, paddings], shape=shape, dtype=b.dtype(x), suffix="pad"), VALID
    value = b.const(fill, b.dtype(x), "pad_value")
    padded = b.emit("PADV2", [x, paddings, value], shape=shape, dtype=b.dtype(x), suffix="pad")
    return padded, VALID


def _plus(size: int | None, extra: int) -> int | None:
    return None if size is None else size + extra


def _window_options(attrs: dict, padding: int) -> dict:
    (sh, sw), (dh, dw) = attrs["strides"], attrs.get("dilations", (1, 1))
    return {
        "padding": padding,
        "stride_h": sh,
        "stride_w": sw,
        "dilation_h_factor": dh,
        "dilation_w_factor": dw,
    }


@lowers("conv2d")
def _conv2d(b: Builder) -> list[str]:
    """groups 1 (or grouped: LiteRT's CONV_2D takes filters of fewer input channels):
    CONV_2D, filter OHWI; one input channel per group: DEPTHWISE_CONV_2D [1, kh, kw, cout]."""
    x, w = b.call.inputs
    attrs = b.call.attrs
    kh, kw, per_group, cout = b.shape(w)
    channels = b.shape(x)[3]
    x, padding = _padded_window(
        b, x, (kh, kw), attrs["strides"], attrs["dilations"], attrs["pads"], 0.0
    )
    options = _window_options(attrs, padding)
    bias = b.const(np.zeros(cout), b.dtype(w), "bias")  # TFLite convs read a bias
    if attrs["groups"] > 1 and per_group == 1:
        filters = b.transpose(w, (2, 0, 1, 3), "depthwise")
        options["depth_multiplier"] = cout // channels
        return [b.emit("DEPTHWISE_CONV_2D", [x, filters, bias], options)]
    return [b.emit("CONV_2D", [x, b.transpose(w, (3, 0, 1, 2), "ohwi"), bias], options)]


@lowers("conv2d_backprop_input")
def _conv2d_transpose(b: Builder) -> list[str]:
    """TRANSPOSE_CONV (filter OHWI, output_shape first).  Pads other than SAME's or none:
    a VALID transpose convolution onto the padded size, then the pads cropped off."""
    dy, w = b.call.inputs
    attrs = b.call.attrs
    if tuple(attrs["dilations"]) != (1, 1) or attrs["groups"] != 1:
        raise Unsupported(
            f"TFLite's TRANSPOSE_CONV has no dilations or groups (got dilations "
            f"{list(attrs['dilations'])}, groups {attrs['groups']})"
        )
    kh, kw, cout, _ = b.shape(w)
    _, height, width, _ = attrs["input_shape"]
    top, bottom, left, right = pads = tuple(attrs["pads"])
    filters = b.transpose(w, (2, 0, 1, 3), "ohwi")
    strides = attrs["strides"]
    options = {"stride_h": strides[0], "stride_w": strides[1]}
    if pads == _same_pads((height, width), (kh, kw), strides, (1, 1)):
        size, options["padding"] = (height, width), SAME
    else:
        size, options["padding"] = (height + top + bottom, width + left + right), VALID
    spec = b.out()
    full = (spec.shape[0], *size, cout)
    output_shape = _output_shape(b, dy, full)
    if size == (height, width):
        return [b.emit("TRANSPOSE_CONV", [output_shape, filters, dy], options)]
    y = b.emit("TRANSPOSE_CONV", [output_shape, filters, dy], options, shape=full, suffix="full")
    return [_crop(b, y, (top, left), (height, width))]


def _output_shape(b: Builder, x: str, shape: tuple[int | None, ...]) -> str:
    """An int32 tensor of `shape`: a constant, or with an unknown batch, x's batch read when
    the model runs (a constant would fix the batch size)."""
    if shape[0] is not None:
        return b.ints(shape, "output_shape")
    batch = b.emit(
        "STRIDED_SLICE",
        [
            b.emit("SHAPE", [x], shape=(4,), dtype=np.int32, suffix="input_shape"),
            b.ints([0], "batch_begin"),
            b.ints([1], "batch_end"),
            b.ints([1], "batch_step"),
        ],
        shape=(1,),
        dtype=np.int32,
        suffix="batch",
    )
    rest = b.ints(shape[1:], "output_shape_rest")
    return b.emit(
        "CONCATENATION",
        [batch, rest],
        {"axis": 0},
        shape=(4,),
        dtype=np.int32,
        suffix="output_shape",
    )


def _crop(b: Builder, x: str, start: tuple[int, int], size: tuple[int, int]) -> str:
    """x[:, top : top + h, left : left + w, :] as the call's output."""
    (top, left), (h, w) = start, size
    begin = b.ints([0, top, left, 0], "crop_begin")
    end = b.ints([0, top + h, left + w, 0], "crop_end")
    mask = 0b1001  # batch and channels: whole
    return b.emit(
        "STRIDED_SLICE",
        [x, begin, end, b.ints([1, 1, 1, 1], "crop_step")],
        {"begin_mask": mask, "end_mask": mask},
    )


# -- pooling and resizing ----------------------------------------------------------------------


def _pool_options(attrs: dict, padding: int) -> dict:
    (kh, kw), (sh, sw) = attrs["ksize"], attrs["strides"]
    return {
        "padding": padding,
        "stride_h": sh,
        "stride_w": sw,
        "filter_height": kh,
        "filter_width": kw,
    }


@lowers("max_pool2d")
def _max_pool(b: Builder) -> list[str]:
    (x,) = b.call.inputs
    attrs = b.call.attrs
    x, padding = _padded_window(
        b, x, attrs["ksize"], attrs["strides"], (1, 1), attrs["pads"], LOWEST
    )
    return [b.emit("MAX_POOL_2D", [x], _pool_options(attrs, padding))]


@lowers("avg_pool2d")
def _avg_pool(b: Builder) -> list[str]:
    """The trainer's mean leaves the padding out.  SAME does too; other pads are padded with
    zeros and each window's mean scaled by window size / unpadded count."""
    (x,) = b.call.inputs
    attrs = b.call.attrs
    ksize, strides, pads = attrs["ksize"], attrs["strides"], tuple(attrs["pads"])
    size = b.shape(x)[1:3]
    padded, padding = _padded_window(b, x, ksize, strides, (1, 1), pads, 0.0)
    options = _pool_options(attrs, padding)
    if padded == x:
        return [b.emit("AVERAGE_POOL_2D", [x], options)]
    if None in size:
        raise Unsupported(f"average pooling with pads {list(pads)} needs the image size")
    mean = b.emit("AVERAGE_POOL_2D", [padded], options, suffix="with_zeros")
    scale = _window_size_over_count(size, ksize, strides, pads)
    return [b.emit("MUL", [mean, b.const(scale, b.dtype(x), "unpadded")])]


def _window_size_over_count(size, ksize, strides, pads) -> np.ndarray:
    """[1, oh, ow, 1]: each window's size over how many of its elements are not padding."""
    counts = []
    for n, k, s, before, after in zip(size, ksize, strides, pads[::2], pads[1::2], strict=True):
        starts = np.arange((n + before + after - k) // s + 1) * s - before
        counts.append(np.minimum(starts + k, n) - np.maximum(starts, 0))
    count = np.outer(counts[0], counts[1])
    return (math.prod(ksize) / count)[None, :, :, None]


def _resize(op: str) -> Lowering:
    def lower(b: Builder) -> list[str]:
        (x,) = b.call.inputs
        attrs = b.call.attrs
        options = {k: bool(attrs[k]) for k in ("align_corners", "half_pixel_centers")}
        return [b.emit(op, [x, b.ints(list(attrs["size"]), "size")], options)]

    return lower


LOWERINGS["resize_bilinear"] = _resize("RESIZE_BILINEAR")
LOWERINGS["resize_nearest_neighbor"] = _resize("RESIZE_NEAREST_NEIGHBOR")


# -- shapes and data movement ------------------------------------------------------------------


@lowers("reshape")
def _reshape(b: Builder) -> list[str]:
    return [b.reshape(b.call.inputs[0], b.call.attrs["shape"], suffix=None)]


@lowers("transpose")
def _transpose(b: Builder) -> list[str]:
    return [b.emit("TRANSPOSE", [b.call.inputs[0], b.ints(list(b.call.attrs["perm"]), "perm")])]


@lowers("broadcast_to")
def _broadcast_to(b: Builder) -> list[str]:
    shape = b.ints(list(b.call.attrs["shape"]), "shape")
    return [b.emit("BROADCAST_TO", [b.call.inputs[0], shape])]


@lowers("concat")
def _concat(b: Builder) -> list[str]:
    return [b.emit("CONCATENATION", b.call.inputs, {"axis": b.call.attrs["axis"]})]


@lowers("split")
def _split(b: Builder) -> list[str]:
    (x,) = b.call.inputs
    sizes = b.ints(list(b.call.attrs["sizes"]), "sizes")
    return b.emit_many("SPLIT_V", [x, sizes, b.ints(b.call.attrs["axis"], "axis")])


@lowers("pad")
def _pad(b: Builder) -> list[str]:
    (x,) = b.call.inputs
    paddings = b.ints([list(p) for p in b.call.attrs["paddings"]], "paddings")
    fill = b.call.attrs["constant_values"]
    if fill == 0:
        return [b.emit("PAD", [x, paddings])]
    return [b.emit("PADV2", [x, paddings, b.const(fill, b.dtype(x), "value")])]


@lowers("getitem")
def _getitem(b: Builder) -> list[str]:
    """NumPy indexing: basic indexing is STRIDED_SLICE (+ RESHAPE for new axes); one integer
    array (a constant or a runtime tensor) after whole slices is GATHER."""
    x, *arrays = b.call.inputs
    index = b.call.attrs["index"]
    parts = list(index) if isinstance(index, tuple) else [index]
    for position, name in zip(b.call.attrs.get("at", ()), arrays, strict=True):
        parts[position] = _Runtime(name)
    parts = _without_ellipsis(parts, len(b.shape(x)))
    advanced = [i for i, p in enumerate(parts) if isinstance(p, _Runtime | np.ndarray | list)]
    if advanced:
        return [_gather(b, x, parts, advanced)]
    return [_strided_slice(b, x, parts)]


class _Runtime(str):
    """An index given as a runtime tensor (its IR name)."""


def _without_ellipsis(parts: list, rank: int) -> list:
    """`parts` with the ellipsis (or the end) filled with whole slices."""
    used = sum(p is not None and p is not Ellipsis for p in parts)
    fill = [slice(None)] * (rank - used)
    at = next((i for i, p in enumerate(parts) if p is Ellipsis), len(parts))
    return parts[:at] + fill + parts[at + 1 :]


def _gather(b: Builder, x: str, parts: list, advanced: list[int]) -> str:
    whole = [p == slice(None) for i, p in enumerate(parts) if i not in advanced]
    if len(advanced) != 1 or not all(whole):
        raise Unsupported(
            f"index {parts}: only one integer array among whole slices maps to GATHER"
        )
    axis = advanced[0]
    indices = parts[axis]
    if not isinstance(indices, _Runtime):
        values = np.asarray(indices)
        if values.dtype.kind not in "iu":
            raise Unsupported(f"index arrays of dtype {values.dtype} (only integers gather)")
        size = b.shape(x)[axis]
        if size is not None:
            values = np.where(values < 0, values + size, values)  # GATHER takes no negatives
        indices = b.ints(values, "indices")
    return b.emit("GATHER", [x, indices], {"axis": axis, "batch_dims": 0})


def _strided_slice(b: Builder, x: str, parts: list) -> str:
    shape = b.shape(x)
    begin, end, step = [], [], []
    masks = {"begin_mask": 0, "end_mask": 0, "shrink_axis_mask": 0}
    dims = [p for p in parts if p is not None]
    for axis, (part, size) in enumerate(zip(dims, shape, strict=True)):
        bit = 1 << axis
        if isinstance(part, slice):
            start, stop, stride = _slice_bounds(part, size)
            masks["begin_mask"] |= bit if start is None else 0
            masks["end_mask"] |= bit if stop is None else 0
        elif _is_int(part):
            start = int(part) if size is None else _in_range(int(part), size)
            stop, stride = start + 1, 1  # LiteRT reads only the start of a shrunk axis
            masks["shrink_axis_mask"] |= bit
        else:
            raise Unsupported(f"index part {part!r} is not a slice, an int or None")
        begin.append(start or 0)
        end.append(stop or 0)
        step.append(stride)
    new_axes = [p is None for p in parts if not _is_int(p)]  # per output dim
    if (
        not any(new_axes)
        and not masks["shrink_axis_mask"]
        and _whole(begin, end, step, masks, shape)
    ):
        return x
    inputs = [x, b.ints(begin, "begin"), b.ints(end, "end"), b.ints(step, "strides")]
    if not any(new_axes):
        return b.emit("STRIDED_SLICE", inputs, masks)
    spec = b.out()
    sliced = tuple(d for d, new in zip(spec.shape, new_axes, strict=True) if not new)
    y = b.emit("STRIDED_SLICE", inputs, masks, shape=sliced, suffix="slice")
    return b.reshape(y, spec.shape, suffix=None)


def _is_int(part) -> bool:
    return isinstance(part, int | np.integer) and not isinstance(part, bool)


def _slice_bounds(part: slice, size: int | None) -> tuple[int | None, int | None, int]:
    """(start, stop, step) of a slice: concrete for a known size, None for "to the end"."""
    if size is None:
        return part.start, part.stop, part.step or 1
    start, stop, step = part.indices(size)
    if step < 0 and stop < 0:  # runs past index 0, which no stop value says
        stop = None
    return start, stop, step


def _in_range(i: int, size: int) -> int:
    if not -size <= i < size:
        raise Unsupported(f"index {i} is out of range for a dimension of size {size}")
    return i % size


def _whole(begin, end, step, masks, shape) -> bool:
    """Whether the slice takes every element in order."""
    return all(
        stride == 1
        and (masks["begin_mask"] >> i & 1 or first == 0)
        and (masks["end_mask"] >> i & 1 or (size is not None and last == size))
        for i, (first, last, stride, size) in enumerate(zip(begin, end, step, shape, strict=True))
    )

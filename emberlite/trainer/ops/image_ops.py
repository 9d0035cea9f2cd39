"""Image resizing (NHWC): the primitives resize_bilinear and resize_nearest_neighbor, with
TFLite's RESIZE_BILINEAR / RESIZE_NEAREST_NEIGHBOR options as attrs (size, align_corners,
half_pixel_centers), and `resize`, tf.image.resize (TF2: half-pixel centers).

The source pixels and weights of each output row and column are TFLite's own (float32 index
math, its clamping and rounding: the interpreter's resize kernels compute them), so a
trained model and its converted form resize alike.  A resize is linear in the image: each
output pixel is a weighted sum of at most two source rows times two source columns.  Its
gradient is the transposed sum (the primitives resize_*_grad), whose gradient is the resize
again, so derivatives of any order exist.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from emberlite.trainer.ops.array_ops import expand_dims, squeeze
from emberlite.trainer.ops.math_ops import cast
from emberlite.trainer.ops.registry import OpError, primitive
from emberlite.trainer.tensor import Tensor, convert_to_tensor

# Per axis, the taps of each output position: (source index, weight or None for 1), one
# pair per source it reads.
Taps = list[tuple[np.ndarray, np.ndarray | None]]


def _taps(method: str, in_size: int, out_size: int, align_corners: bool, half_pixel: bool) -> Taps:
    from emberlite.interpreter.kernels import resize as tflite

    if method == "bilinear":
        low, high, low_weight, high_weight = tflite._bilinear_axis(
            in_size, out_size, align_corners, half_pixel
        )
        return [(low, low_weight), (high, high_weight)]
    return [(tflite._nearest_axis(in_size, out_size, align_corners, half_pixel), None)]


def _resample(x: np.ndarray, taps: Taps, axis: int) -> np.ndarray:
    """sum over taps of x[index] * weight, along `axis` (float16 works in float32)."""
    out = None
    for index, weight in taps:
        part = np.take(x, index, axis=axis)
        if weight is not None:
            shape = [1] * x.ndim
            shape[axis] = -1
            part = part * weight.astype(np.result_type(x.dtype, np.float32)).reshape(shape)
        out = part if out is None else out + part
    return out


def _matrix(taps: Taps, in_size: int) -> np.ndarray:
    """The taps as an [out, in] matrix (a source read twice gets both weights)."""
    out_size = len(taps[0][0])
    m = np.zeros((out_size, in_size))
    rows = np.arange(out_size)
    for index, weight in taps:
        np.add.at(m, (rows, index), 1.0 if weight is None else weight)
    return m


def _resize(method: str, x, size, align_corners, half_pixel_centers) -> np.ndarray:
    options = (align_corners, half_pixel_centers)
    rows = _taps(method, x.shape[1], size[0], *options)
    columns = _taps(method, x.shape[2], size[1], *options)
    return _resample(_resample(x, rows, 1), columns, 2).astype(x.dtype, copy=False)


def _resize_grad(method: str, dy, input_size, align_corners, half_pixel_centers) -> np.ndarray:
    """The transpose of the resize: each output's gradient added to the sources it read."""
    options = (align_corners, half_pixel_centers)
    _, height, width, _ = dy.shape
    rows = _matrix(_taps(method, input_size[0], height, *options), input_size[0])
    columns = _matrix(_taps(method, input_size[1], width, *options), input_size[1])
    compute = np.result_type(dy.dtype, np.float32)
    dx = np.einsum(
        "nopc,oh,pw->nhwc",
        dy.astype(compute, copy=False),
        rows.astype(compute),
        columns.astype(compute),
        optimize=True,
    )
    return dx.astype(dy.dtype, copy=False)


def _resize_primitives(method: str):
    """The primitive resize_<method> and its gradient primitive, each the other's gradient."""
    name = f"resize_{method}"

    @primitive(name)
    def forward(x, size, align_corners, half_pixel_centers):
        return _resize(method, x, size, align_corners, half_pixel_centers)

    @primitive(f"{name}_grad")
    def backward(dy, input_size, align_corners, half_pixel_centers):
        return _resize_grad(method, dy, input_size, align_corners, half_pixel_centers)

    def options(op) -> dict[str, bool]:
        return {k: op.attrs[k] for k in ("align_corners", "half_pixel_centers")}

    @forward.grad
    def _(op, g):
        return (backward(g, input_size=op.inputs[0].shape[1:3], **options(op)),)

    @backward.grad
    def _(op, g):
        return (forward(g, size=op.inputs[0].shape[1:3], **options(op)),)

    return forward


_resize_bilinear = _resize_primitives("bilinear")
_resize_nearest_neighbor = _resize_primitives("nearest_neighbor")


def _resize_op(
    prim, op: str, images: Any, size: Any, align_corners: bool, half_pixel_centers: bool | None
) -> Tensor:
    x = convert_to_tensor(images)
    if x.ndim != 4:
        raise OpError(f"{op}: images must have rank 4 (NHWC), got shape {list(x.shape)}")
    size = tuple(int(d) for d in np.asarray(size).reshape(-1))
    if len(size) != 2 or min(size) < 1:
        raise OpError(f"{op}: size must be 2 positive ints (height, width), got {list(size)}")
    half_pixel = not align_corners if half_pixel_centers is None else bool(half_pixel_centers)
    if align_corners and half_pixel:
        raise OpError(f"{op}: align_corners and half_pixel_centers cannot both be set")
    if size == x.shape[1:3]:
        return x
    return prim(x, size=size, align_corners=bool(align_corners), half_pixel_centers=half_pixel)


def resize_bilinear(
    images: Any, size: Any, align_corners: bool = False, half_pixel_centers: bool | None = None
) -> Tensor:
    """Bilinear resize of NHWC images to `size` (height, width).  Pixel centers are at
    half-integer positions unless `align_corners` (corner pixels aligned; the default of
    `half_pixel_centers` is `not align_corners`).  Float images keep their dtype."""
    op = "resize_bilinear"
    return _resize_op(_resize_bilinear, op, images, size, align_corners, half_pixel_centers)


def resize_nearest_neighbor(
    images: Any, size: Any, align_corners: bool = False, half_pixel_centers: bool | None = None
) -> Tensor:
    """Nearest-neighbor resize of NHWC images to `size` (height, width); any dtype.  The
    options are resize_bilinear's."""
    op = "resize_nearest_neighbor"
    return _resize_op(_resize_nearest_neighbor, op, images, size, align_corners, half_pixel_centers)


def resize(images: Any, size: Any, method: str = "bilinear") -> Tensor:
    """tf.image.resize: NHWC images (or one HWC image) to `size`, "bilinear" (integer images
    become float32) or "nearest" (dtype kept), with half-pixel centers as TF2."""
    x = convert_to_tensor(images)
    if x.ndim == 3:
        return squeeze(resize(expand_dims(x, 0), size, method), 0)
    if method == "nearest":
        return resize_nearest_neighbor(x, size)
    if method == "bilinear":
        return resize_bilinear(x if x.dtype.kind == "f" else cast(x, np.float32), size)
    raise OpError(f"resize: method must be 'bilinear' or 'nearest', got {method!r}")

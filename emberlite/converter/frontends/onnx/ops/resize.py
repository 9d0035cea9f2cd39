"""Resize: TFLite's bilinear and nearest-neighbour resizes, where they pick what ONNX picks.

Nearest-neighbour variants are matched by the pixels they read: the index each output reads
is computed by ONNX's spec and by each of TFLite's three variants, and the one that agrees is
used (so rounding modes and coordinate transforms that happen to coincide all convert).
"""

from __future__ import annotations

import numpy as np

from emberlite.converter.frontends.onnx.context import OnnxNode, Unsupported, axis_of
from emberlite.converter.frontends.onnx.ops.registry import lowers
from emberlite.converter.frontends.onnx.ops.windows import NHWC, spatial_dims

# TFLite's nearest-neighbour variants, (align_corners, half_pixel_centers), in preference order.
NEAREST_VARIANTS = [(False, False), (False, True), (True, False)]
BILINEAR_MODES = {
    "half_pixel": (False, True),
    "pytorch_half_pixel": (False, True),
    "align_corners": (True, False),
    "asymmetric": (False, False),
}


@lowers("Resize")
def resize(n: OnnxNode) -> None:
    x = n.input(0)
    sizes = spatial_dims(x)
    out_dims = n.out_dims()
    out_sizes = out_dims[2:]
    scales = _full_scales(n, n.constant(2, "scales"), x.rank)
    fixed = [(a, b) for a, b in zip(x.dims[:2], out_dims[:2], strict=True) if a != b]
    if any(isinstance(a, int) and isinstance(b, int) for a, b in fixed) or (
        scales is not None and scales[:2] != [1.0, 1.0]
    ):
        raise Unsupported("resizing the batch or channel axes")
    if not all(isinstance(s, int) for s in (*sizes, *out_sizes)):
        raise Unsupported("resizing over run-time spatial sizes")
    if n.attr("keep_aspect_ratio_policy", "stretch") != "stretch":
        raise Unsupported("keep_aspect_ratio_policy other than stretch")
    scales = (
        scales[2:]
        if scales is not None
        else [out / size for out, size in zip(out_sizes, sizes, strict=True)]
    )
    mode = n.attr("mode", "nearest")
    transform = n.attr("coordinate_transformation_mode", "half_pixel")
    if n.attr("antialias", 0) and any(
        out < size for out, size in zip(out_sizes, sizes, strict=True)
    ):
        raise Unsupported("antialiased downsampling")
    size_name = n.lowering.int32(f"{n.proto.output[0]}_size", list(out_sizes))
    source = n.lowering.ir(x, NHWC)
    axes = list(zip(sizes, out_sizes, scales, strict=True))
    if mode == "nearest":
        nearest = n.attr("nearest_mode", "round_prefer_floor")
        wanted = [_onnx_nearest(size, out, scale, transform, nearest) for size, out, scale in axes]
        for align, half in NEAREST_VARIANTS:
            if all(
                np.array_equal(_tflite_nearest(size, out, align, half), want)
                for (size, out, _), want in zip(axes, wanted, strict=True)
            ):
                n.produce(
                    "RESIZE_NEAREST_NEIGHBOR",
                    [source, size_name],
                    NHWC,
                    align_corners=align,
                    half_pixel_centers=half,
                )
                return
        raise Unsupported(
            f"nearest resize with coordinate_transformation_mode={transform}, "
            f"nearest_mode={nearest} picks pixels no TFLite variant picks"
        )
    if mode != "linear" or transform not in BILINEAR_MODES:
        raise Unsupported(f"Resize mode={mode}, coordinate_transformation_mode={transform}")
    if any(abs(scale * size - out) > 1e-6 * out for size, out, scale in axes):
        raise Unsupported(f"scales {scales} that do not give whole output sizes")
    if transform == "pytorch_half_pixel" and 1 in out_sizes and sizes != out_sizes:
        raise Unsupported("pytorch_half_pixel resize to size 1")
    align, half = BILINEAR_MODES[transform]
    n.produce(
        "RESIZE_BILINEAR", [source, size_name], NHWC, align_corners=align, half_pixel_centers=half
    )


def _full_scales(n: OnnxNode, data: np.ndarray | None, rank: int) -> list[float] | None:
    """Resize's scales for every axis (opset 18's `axes` names the ones given)."""
    if data is None or not data.size:
        return None
    axes = [axis_of(a, rank) for a in n.attr("axes", range(rank))]
    full = [1.0] * rank
    for axis, scale in zip(axes, data.reshape(-1), strict=True):
        full[axis] = float(scale)
    return full


def _onnx_nearest(size: int, out: int, scale: float, transform: str, mode: str) -> np.ndarray:
    """The input index each output index reads, by ONNX's Resize spec."""
    x = np.arange(out, dtype=np.float64)
    if transform == "align_corners":
        original = x * (size - 1) / (out - 1) if out > 1 else np.zeros(out)
    elif transform == "asymmetric":
        original = x / scale
    elif transform == "tf_half_pixel_for_nn":
        original = (x + 0.5) / scale
    elif transform in ("half_pixel", "pytorch_half_pixel"):
        original = (x + 0.5) / scale - 0.5
        if transform == "pytorch_half_pixel" and out == 1:
            original = np.zeros(out)
    else:
        raise Unsupported(f"coordinate_transformation_mode={transform}")
    rounded = {
        "round_prefer_floor": np.ceil(original - 0.5),
        "round_prefer_ceil": np.floor(original + 0.5),
        "floor": np.floor(original),
        "ceil": np.ceil(original),
    }[mode]
    return np.clip(rounded, 0, size - 1).astype(np.int64)


def _tflite_nearest(size: int, out: int, align: bool, half: bool) -> np.ndarray:
    """The input index each output index reads in TFLite's RESIZE_NEAREST_NEIGHBOR (float32,
    as its kernel computes)."""
    f32 = np.float32
    scale = f32(size - 1) / f32(out - 1) if align and out > 1 else f32(size) / f32(out)
    position = (np.arange(out, dtype=f32) + f32(0.5 if half else 0.0)) * scale
    index = np.trunc(position + np.sign(position) * f32(0.5)) if align else np.floor(position)
    return np.clip(index, 0, size - 1).astype(np.int64)

"""Resizes and depth/space rearrangements against LiteRT."""

import numpy as np
import pytest

from tests.interpreter.oneop import Const, assert_fails, compare_with_litert, options

RNG = np.random.default_rng(0)
OPTIONS = {
    "RESIZE_BILINEAR": "ResizeBilinearOptions",
    "RESIZE_NEAREST_NEIGHBOR": "ResizeNearestNeighborOptions",
}
# (input H, W) -> (output H, W): up, down, non-integer ratios, to and from one pixel.
SIZES = [
    ((4, 4), (8, 8)),
    ((3, 5), (9, 10)),
    ((5, 7), (7, 5)),
    ((8, 6), (3, 4)),
    ((7, 9), (13, 11)),
    ((6, 6), (6, 6)),
    ((1, 4), (4, 1)),
    ((16, 16), (32, 32)),
    ((10, 12), (4, 5)),
]


def resize(op, size_in, size_out, align, half, channels=3, batch=2, dtype=np.float32):
    x = RNG.standard_normal((batch, *size_in, channels)).astype(dtype)
    if dtype != np.float32:
        x = RNG.integers(-100, 100, (batch, *size_in, channels)).astype(dtype)
    opts = options(OPTIONS[op], align_corners=align, half_pixel_centers=half)
    return compare_with_litert(
        op,
        [x, Const(np.array(size_out, np.int32))],
        [(batch, *size_out, channels)],
        opts,
        output_dtypes=[dtype],
    )


@pytest.mark.parametrize("align, half", [(False, False), (True, False), (False, True)])
@pytest.mark.parametrize("size_in, size_out", SIZES)
def test_resize_bilinear(size_in, size_out, align, half):
    resize("RESIZE_BILINEAR", size_in, size_out, align, half)


@pytest.mark.parametrize(
    "align, half", [(False, False), (True, False), (False, True), (True, True)]
)
@pytest.mark.parametrize("size_in, size_out", SIZES)
def test_resize_nearest_neighbor(size_in, size_out, align, half):
    resize("RESIZE_NEAREST_NEIGHBOR", size_in, size_out, align, half)


def test_resize_nearest_neighbor_integers():
    resize("RESIZE_NEAREST_NEIGHBOR", (3, 5), (7, 4), False, True, dtype=np.int32)


def test_resize_bilinear_mediapipe_shape():
    """Selfie segmentation's upsampling: 16x16x128 -> 32x32, half-pixel centers."""
    resize("RESIZE_BILINEAR", (16, 16), (32, 32), False, True, channels=128, batch=1)


def test_resize_bilinear_is_exact_on_ramps():
    """align_corners maps corners to corners: a linear ramp resizes to a linear ramp."""
    ramp = np.linspace(0, 1, 5, dtype=np.float32)
    x = np.broadcast_to(ramp[None, :, None, None] + ramp[None, None, :, None], (1, 5, 5, 1))
    opts = options("ResizeBilinearOptions", align_corners=True, half_pixel_centers=False)
    [out] = compare_with_litert(
        "RESIZE_BILINEAR",
        [np.ascontiguousarray(x), Const(np.array([9, 9], np.int32))],
        [(1, 9, 9, 1)],
        opts,
    )
    fine = np.linspace(0, 1, 9)
    np.testing.assert_allclose(out[0, :, :, 0], fine[:, None] + fine[None, :], atol=1e-6)


@pytest.mark.parametrize("block", [1, 2, 3])
@pytest.mark.parametrize("channels", [1, 2])
def test_depth_to_space(block, channels):
    x = RNG.standard_normal((2, 3, 4, channels * block * block)).astype(np.float32)
    out = (2, 3 * block, 4 * block, channels)
    opts = options("DepthToSpaceOptions", block_size=block)
    compare_with_litert("DEPTH_TO_SPACE", [x], [out], opts)


@pytest.mark.parametrize("block", [1, 2, 3])
@pytest.mark.parametrize("channels", [1, 3])
def test_space_to_depth(block, channels):
    x = RNG.standard_normal((2, 2 * block, 3 * block, channels)).astype(np.float32)
    out = (2, 2, 3, channels * block * block)
    opts = options("SpaceToDepthOptions", block_size=block)
    compare_with_litert("SPACE_TO_DEPTH", [x], [out], opts)


def test_depth_to_space_integers():
    x = np.arange(2 * 2 * 3 * 8, dtype=np.int32).reshape(2, 2, 3, 8)
    opts = options("DepthToSpaceOptions", block_size=2)
    compare_with_litert("DEPTH_TO_SPACE", [x], [(2, 4, 6, 2)], opts, output_dtypes=[np.int32])


@pytest.mark.parametrize("op", ["RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"])
def test_resize_bad_nodes(op):
    opts = options(OPTIONS[op], align_corners=False, half_pixel_centers=False)
    x, size = np.zeros((1, 2, 2, 3), np.float32), Const(np.array([4, 4], np.int32))
    assert_fails(op, [x[0], size], [(4, 4, 3)], opts, match="input must have rank 4")
    runtime_size = np.array([4, 4], np.int32)
    assert_fails(op, [x, runtime_size], [(1, 4, 4, 3)], opts, match="must be constant")
    three = Const(np.array([4, 4, 1], np.int32))
    assert_fails(op, [x, three], [(1, 4, 4, 3)], opts, match="size must be int32")
    zero = Const(np.array([0, 4], np.int32))
    assert_fails(op, [x, zero], [(1, 0, 4, 3)], opts, match="must be positive")


def test_resize_bilinear_rejects_align_with_half_pixel():
    opts = options("ResizeBilinearOptions", align_corners=True, half_pixel_centers=True)
    x, size = np.zeros((1, 2, 2, 3), np.float32), Const(np.array([4, 4], np.int32))
    assert_fails("RESIZE_BILINEAR", [x, size], [(1, 4, 4, 3)], opts, match="cannot both be set")


def test_depth_space_bad_nodes():
    d2s = options("DepthToSpaceOptions", block_size=2)
    x = np.zeros((1, 2, 2, 6), np.float32)
    assert_fails("DEPTH_TO_SPACE", [x], [(1, 4, 4, 1)], d2s, match="channels 6 are not a multiple")
    s2d = options("SpaceToDepthOptions", block_size=2)
    x = np.zeros((1, 3, 4, 1), np.float32)
    assert_fails("SPACE_TO_DEPTH", [x], [(1, 1, 2, 4)], s2d, match="height 3")
    zero = options("SpaceToDepthOptions", block_size=0)
    x = np.zeros((1, 4, 4, 1), np.float32)
    assert_fails("SPACE_TO_DEPTH", [x], [(1, 4, 4, 1)], zero, match="block_size 0")

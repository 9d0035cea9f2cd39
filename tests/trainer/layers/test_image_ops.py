"""resize_bilinear / resize_nearest_neighbor: TF's formulas, LiteRT's RESIZE_* ops, PyTorch,
gradients of first and second order."""

import math

import numpy as np
import pytest

import emberlite.trainer as et
from emberlite.trainer.ops import image_ops
from emberlite.trainer.ops.registry import OpError
from tests.trainer.gradcheck import check_gradients
from tests.trainer.layers.helpers import data, torch

OPTIONS = [(False, True), (True, False), (False, False)]  # (align_corners, half_pixel)
SIZES = [((3, 4), (7, 9)), ((8, 6), (3, 4)), ((5, 5), (5, 8)), ((1, 3), (4, 1))]


def tf_axis(in_size, out_size, align, half):
    """TF's source positions in float64: (lower, upper, lerp) per output position."""
    scale = (in_size - 1) / (out_size - 1) if align and out_size > 1 else in_size / out_size
    at = (np.arange(out_size) + 0.5) * scale - 0.5 if half else np.arange(out_size) * scale
    lower = np.maximum(np.floor(at), 0).astype(int)
    upper = np.minimum(np.ceil(at), in_size - 1).astype(int)
    return lower, upper, at - np.floor(at)


def tf_bilinear(x, size, align, half):
    (y0, y1, fy), (x0, x1, fx) = (
        tf_axis(n, m, align, half) for n, m in zip(x.shape[1:3], size, strict=True)
    )
    rows = x[:, y0] * (1 - fy)[:, None, None] + x[:, y1] * fy[:, None, None]
    return rows[:, :, x0] * (1 - fx)[:, None] + rows[:, :, x1] * fx[:, None]


def tf_nearest(x, size, align, half):
    def axis(n, m):
        scale = (n - 1) / (m - 1) if align and m > 1 else n / m
        at = (np.arange(m) + (0.5 if half else 0)) * scale
        index = np.floor(at + 0.5) if align else np.floor(at)  # roundf: half away from zero
        return np.clip(index.astype(int), 0, n - 1)

    return x[:, axis(x.shape[1], size[0])][:, :, axis(x.shape[2], size[1])]


@pytest.mark.parametrize("align, half", OPTIONS)
@pytest.mark.parametrize("size_in, size_out", SIZES)
def test_resize_matches_tf_formulas(size_in, size_out, align, half):
    x = data(2, *size_in, 3, dtype=np.float64)
    kwargs = {"align_corners": align, "half_pixel_centers": half}
    ours = image_ops.resize_bilinear(x, size_out, **kwargs).numpy()
    np.testing.assert_allclose(ours, tf_bilinear(x, size_out, align, half), rtol=1e-6, atol=1e-6)
    nearest = image_ops.resize_nearest_neighbor(x, size_out, **kwargs).numpy()
    np.testing.assert_array_equal(nearest, tf_nearest(x, size_out, align, half))


def test_known_values_of_a_2x2_upsampled_to_4x4():
    x = np.array([[0.0, 4.0], [8.0, 12.0]], np.float32).reshape(1, 2, 2, 1)
    half_pixel = image_ops.resize(x, (4, 4))[0, :, :, 0].numpy()
    np.testing.assert_allclose(half_pixel[0], [0, 1, 3, 4])
    np.testing.assert_allclose(half_pixel[:, 0], [0, 2, 6, 8])
    aligned = image_ops.resize_bilinear(x, (3, 3), align_corners=True)[0, :, :, 0].numpy()
    np.testing.assert_allclose(aligned, [[0, 2, 4], [4, 6, 8], [8, 10, 12]])
    nearest = image_ops.resize(x, (4, 4), method="nearest")[0, :, :, 0].numpy()
    np.testing.assert_array_equal(nearest, np.repeat(np.repeat(x[0, :, :, 0], 2, 0), 2, 1))


@pytest.mark.parametrize("align, half", OPTIONS)
@pytest.mark.parametrize("op", ["RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"])
def test_resize_matches_litert(op, align, half):
    """The converter maps the primitives to these ops with the same options."""
    litert = pytest.importorskip("tests.litert")
    from tests.interpreter.oneop import Const, one_op_model, options, run

    resize, kind = {
        "RESIZE_BILINEAR": (image_ops.resize_bilinear, "ResizeBilinearOptions"),
        "RESIZE_NEAREST_NEIGHBOR": (
            image_ops.resize_nearest_neighbor,
            "ResizeNearestNeighborOptions",
        ),
    }[op]
    for size_in, size_out in SIZES:
        x = data(2, *size_in, 3)
        model = one_op_model(
            op,
            [x, Const(np.array(size_out, np.int32))],
            [(2, *size_out, 3)],
            options(kind, align_corners=align, half_pixel_centers=half),
        )
        (theirs,) = run(litert.litert_interpreter(model), [x, Const(np.array(size_out))])
        ours = resize(x, size_out, align_corners=align, half_pixel_centers=half).numpy()
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6, err_msg=f"{size_in}")


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
@pytest.mark.parametrize("size_in, size_out", SIZES)
def test_resize_matches_torch(size_in, size_out):
    import torch.nn.functional as F  # noqa: N812

    x = data(2, *size_in, 3, dtype=np.float64)
    nchw = torch.tensor(x.transpose(0, 3, 1, 2))

    def theirs(**kwargs):
        return F.interpolate(nchw, size_out, **kwargs).numpy().transpose(0, 2, 3, 1)

    bilinear = image_ops.resize_bilinear
    np.testing.assert_allclose(
        bilinear(x, size_out).numpy(), theirs(mode="bilinear", align_corners=False), atol=1e-6
    )
    np.testing.assert_allclose(
        bilinear(x, size_out, align_corners=True).numpy(),
        theirs(mode="bilinear", align_corners=True),
        atol=1e-6,
    )
    nearest = image_ops.resize_nearest_neighbor
    np.testing.assert_array_equal(nearest(x, size_out).numpy(), theirs(mode="nearest-exact"))
    legacy = nearest(x, size_out, half_pixel_centers=False).numpy()
    np.testing.assert_array_equal(legacy, theirs(mode="nearest"))


@pytest.mark.parametrize("align, half", OPTIONS)
@pytest.mark.parametrize("method", ["bilinear", "nearest_neighbor"])
def test_gradients_first_and_second_order(method, align, half):
    resize = getattr(image_ops, f"resize_{method}")
    x = data(1, 3, 4, 2, seed=1)

    def fn(images):
        return resize(images, (5, 3), align_corners=align, half_pixel_centers=half)

    check_gradients(fn, x)

    def gradient_of_fn(images):  # resize_*_grad(2 resize(images) w): its gradient is resize
        with et.GradientTape() as tape:
            tape.watch(images)
            loss = et.reduce_sum(et.square(fn(images)) * data(1, 5, 3, 2, seed=2, dtype=float))
        return tape.gradient(loss, images)

    check_gradients(gradient_of_fn, x)


def test_dtypes_and_image_forms():
    x16 = data(2, 3, 3, 4, dtype=np.float16)
    assert image_ops.resize(x16, (6, 6)).dtype == np.float16
    ints = np.arange(2 * 3 * 3 * 1, dtype=np.int32).reshape(2, 3, 3, 1)
    assert image_ops.resize(ints, (6, 6), method="nearest").dtype == np.int32
    assert image_ops.resize(ints, (6, 6)).dtype == np.float32  # as tf.image.resize
    single = data(3, 3, 2)
    np.testing.assert_allclose(
        image_ops.resize(single, (5, 4)).numpy(), image_ops.resize(single[None], (5, 4))[0].numpy()
    )
    same = et.constant(data(1, 3, 3, 1))
    assert image_ops.resize(same, (3, 3)) is same


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: image_ops.resize(data(2, 3), (4, 4)), "images must have rank 4"),
        (lambda: image_ops.resize(data(1, 2, 2, 1), (0, 4)), "size must be 2 positive ints"),
        (lambda: image_ops.resize(data(1, 2, 2, 1), (4, 4), method="area"), "method must be"),
        (
            lambda: image_ops.resize_bilinear(
                data(1, 2, 2, 1), (4, 4), align_corners=True, half_pixel_centers=True
            ),
            "cannot both be set",
        ),
    ],
)
def test_errors(call, match):
    with pytest.raises(OpError, match=match):
        call()


def test_gradient_primitive_has_no_batch_in_its_attrs():
    """Traces with an unknown batch keep working: attrs hold only image sizes."""
    x = data(2, 3, 3, 1)
    f = et.function(
        lambda t: image_ops.resize(t, (6, 6)), input_signature=[et.TensorSpec((None, 3, 3, 1))]
    )
    np.testing.assert_allclose(f(x).numpy(), image_ops.resize(x, (6, 6)).numpy())
    assert f(np.concatenate([x, x])).shape == (4, 6, 6, 1)
    assert math.isfinite(float(et.reduce_sum(f(x))))

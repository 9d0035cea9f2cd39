"""Pooling layers against a NumPy loop over windows (TF's SAME padding: padded elements never
take part), and PyTorch for valid pools."""

import numpy as np
import pytest

import emberlite.trainer as et
from emberlite.trainer import layers
from emberlite.trainer.layers.base import LayerError
from tests.trainer.layers.helpers import data, same_pads, torch


def pool_reference(x, size, strides, padding, reduce):
    """Each window's reduce over the input elements it covers."""
    n, h, w, c = x.shape
    axes = zip((h, w), size, strides, (1, 1), strict=True)
    pads = [same_pads(*axis) if padding == "same" else (0, 0) for axis in axes]
    out_h = (h + sum(pads[0]) - size[0]) // strides[0] + 1
    out_w = (w + sum(pads[1]) - size[1]) // strides[1] + 1
    y = np.empty((n, out_h, out_w, c), x.dtype)
    for i in range(out_h):
        for j in range(out_w):
            top, left = i * strides[0] - pads[0][0], j * strides[1] - pads[1][0]
            rows = slice(max(top, 0), min(top + size[0], h))
            cols = slice(max(left, 0), min(left + size[1], w))
            y[:, i, j] = reduce(x[:, rows, cols], axis=(1, 2))
    return y


@pytest.mark.parametrize(
    "cls, reduce", [(layers.MaxPooling2D, np.max), (layers.AveragePooling2D, np.mean)]
)
@pytest.mark.parametrize(
    "pool_size, strides, padding",
    [(2, None, "valid"), (3, 2, "same"), ((2, 3), (1, 2), "same"), ((3, 2), 1, "valid")],
)
def test_pooling_matches_numpy(cls, reduce, pool_size, strides, padding):
    layer = cls(pool_size, strides, padding)
    x = data(2, 7, 6, 3)
    expected = pool_reference(x, layer.pool_size, layer.strides, padding, reduce)
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-6)


def test_default_strides_are_the_pool_size_and_aliases():
    assert layers.MaxPooling2D((2, 3)).strides == (2, 3)
    assert layers.MaxPool2D is layers.MaxPooling2D and layers.AvgPool2D is layers.AveragePooling2D
    assert layers.MaxPooling2D()(et.Input(shape=(9, 8, 4))).shape == (None, 4, 4, 4)


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
def test_pooling_and_its_gradient_match_torch():
    import torch.nn.functional as F  # noqa: N812

    x = data(2, 6, 6, 3, dtype=np.float64)
    r = data(2, 3, 3, 3, seed=1, dtype=np.float64)
    for layer, pool in [
        (layers.MaxPooling2D(2, dtype="float64"), F.max_pool2d),
        (layers.AveragePooling2D(2, dtype="float64"), F.avg_pool2d),
    ]:
        xt = et.constant(x)
        with et.GradientTape() as tape:
            tape.watch(xt)
            loss = et.reduce_sum(layer(xt) * r)
        ours = tape.gradient(loss, xt).numpy()
        t = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
        (pool(t, 2) * torch.tensor(r.transpose(0, 3, 1, 2))).sum().backward()
        np.testing.assert_allclose(ours, t.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-12)


@pytest.mark.parametrize(
    "cls, reduce",
    [(layers.GlobalAveragePooling2D, np.mean), (layers.GlobalMaxPooling2D, np.max)],
)
def test_global_pooling(cls, reduce):
    x = data(2, 5, 4, 3)
    np.testing.assert_allclose(cls()(x).numpy(), reduce(x, axis=(1, 2)), rtol=1e-6)
    kept = cls(keepdims=True)(x)
    np.testing.assert_allclose(kept.numpy(), reduce(x, axis=(1, 2), keepdims=True), rtol=1e-6)
    assert cls()(et.Input(shape=(None, None, 8))).shape == (None, 8)


def test_pooling_errors_name_the_layer():
    with pytest.raises(LayerError, match=r"'p'.*expected ndim=4, found ndim=2.*\(3, 4\)"):
        layers.MaxPooling2D(name="p")(data(3, 4))
    with pytest.raises(LayerError, match="'g'.*data_format='channels_first'"):
        layers.GlobalAveragePooling2D(data_format="channels_first", name="g")
    with pytest.raises(LayerError, match="pool_size must be an int or 2 ints, each >= 1"):
        layers.AveragePooling2D(0)

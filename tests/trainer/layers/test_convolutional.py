"""Convolution layers against PyTorch (outputs and weight gradients) and finite differences."""

import numpy as np
import pytest

import emberlite.trainer as et
from emberlite.trainer import layers
from emberlite.trainer.layers.base import LayerError
from tests.trainer.layers.helpers import check_weight_gradients, data, same_pads, torch

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


def torch_conv(x, weight, strides, padding, dilation, groups):
    """conv2d of NHWC NumPy x by a torch OIHW weight, with TF's padding: NCHW torch."""
    import torch.nn.functional as F  # noqa: N812

    t = torch.tensor(x.transpose(0, 3, 1, 2))
    if padding == "same":
        axes = zip(x.shape[1:3], weight.shape[2:], strides, dilation, strict=True)
        (top, bottom), (left, right) = (same_pads(*axis) for axis in axes)
        t = F.pad(t, (left, right, top, bottom))
    return F.conv2d(t, weight, None, strides, 0, dilation, groups)


def oihw(w):
    """An HWIO kernel as a torch weight."""
    return torch.tensor(np.ascontiguousarray(w.transpose(3, 2, 0, 1)))


def nhwc(t):
    return t.detach().numpy().transpose(0, 2, 3, 1)


def outputs_and_kernel_gradient(layer, x, kernel):
    """layer(x) and d sum(layer(x) * r) / d kernel, with r from seed 1."""
    y = layer(x)
    r = data(*y.shape, seed=1, dtype=np.float64)
    with et.GradientTape() as tape:
        loss = et.reduce_sum(layer(x) * r)
    return y.numpy(), tape.gradient(loss, kernel).numpy(), r


def torch_kernel_gradient(forward, w, r):
    """d sum(forward(weight) * r) / d w by PyTorch's autograd.  Our kernels, HWIO (HWOI for
    transposed convolutions), become torch's OIHW (IOHW) by the same transpose."""
    weight = oihw(w).requires_grad_()
    (forward(weight) * torch.tensor(r.transpose(0, 3, 1, 2))).sum().backward()
    return weight.grad.numpy().transpose(2, 3, 1, 0)


CONV_CASES = [
    # filters, kernel, strides, padding, dilation, groups, input shape
    (4, 3, 1, "valid", 1, 1, (2, 7, 6, 3)),
    (6, (3, 2), (2, 1), "same", 1, 1, (2, 7, 8, 3)),
    (4, 3, 1, "same", 2, 1, (1, 9, 9, 2)),
    (6, 3, 2, "same", 1, 3, (2, 8, 7, 6)),
    (2, 1, 1, "valid", 1, 1, (2, 4, 4, 5)),
]


@needs_torch
@pytest.mark.parametrize("filters, kernel, strides, padding, dilation, groups, shape", CONV_CASES)
def test_conv2d_matches_torch(filters, kernel, strides, padding, dilation, groups, shape):
    layer = layers.Conv2D(
        filters, kernel, strides, padding, dilation_rate=dilation, groups=groups, dtype="float64"
    )
    x = data(*shape, dtype=np.float64)
    layer(x)
    y, grad, r = outputs_and_kernel_gradient(layer, x, layer.kernel)
    w, b = layer.get_weights()

    def forward(weight):
        return torch_conv(x, weight, layer.strides, padding, layer.dilation_rate, groups)

    np.testing.assert_allclose(y, nhwc(forward(oihw(w))) + b, atol=1e-10)

    np.testing.assert_allclose(grad, torch_kernel_gradient(forward, w, r), atol=1e-10)


@needs_torch
@pytest.mark.parametrize("strides, padding, multiplier", [(1, "same", 2), (2, "valid", 1)])
def test_depthwise_and_separable_conv2d_match_torch(strides, padding, multiplier):
    x = data(2, 7, 7, 3, dtype=np.float64)
    depthwise = layers.DepthwiseConv2D(3, strides, padding, multiplier, dtype="float64")
    y = depthwise(x).numpy()
    dk, bias = depthwise.get_weights()
    assert dk.shape == (3, 3, 3, multiplier) and bias.shape == (3 * multiplier,)
    # torch's grouped form: output channel c * multiplier + m is input channel c's m-th filter
    grouped = oihw(dk.reshape(3, 3, 1, 3 * multiplier))
    s = depthwise.strides
    np.testing.assert_allclose(y, nhwc(torch_conv(x, grouped, s, padding, (1, 1), 3)) + bias)

    separable = layers.SeparableConv2D(5, 3, strides, padding, depth_multiplier=multiplier)
    x32 = x.astype(np.float32)
    y = separable(x32).numpy()
    dk, pk, bias = separable.get_weights()
    assert pk.shape == (1, 1, 3 * multiplier, 5)
    inner = nhwc(torch_conv(x32, oihw(dk.reshape(3, 3, 1, -1)), s, padding, (1, 1), 3))
    expected = nhwc(torch_conv(inner, oihw(pk), (1, 1), "valid", (1, 1), 1)) + bias
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


TRANSPOSE_CASES = [
    # filters, kernel, strides, padding, output_padding, input shape, output (h, w)
    (3, 3, 2, "same", None, (2, 4, 5, 2), (8, 10)),
    (3, 3, 2, "valid", None, (2, 4, 5, 2), (9, 11)),
    (2, (3, 2), (2, 3), "valid", (1, 2), (1, 3, 3, 4), (8, 10)),
    (2, 3, 2, "same", 1, (1, 3, 4, 2), (6, 8)),
    (4, 2, 1, "valid", None, (2, 3, 3, 1), (4, 4)),
]


@needs_torch
@pytest.mark.parametrize("filters, kernel, strides, padding, extra, shape, out", TRANSPOSE_CASES)
def test_conv2d_transpose_matches_torch(filters, kernel, strides, padding, extra, shape, out):
    import torch.nn.functional as F  # noqa: N812

    layer = layers.Conv2DTranspose(
        filters, kernel, strides, padding, output_padding=extra, dtype="float64"
    )
    x = data(*shape, dtype=np.float64)
    layer(x)
    y, grad, r = outputs_and_kernel_gradient(layer, x, layer.kernel)
    w, b = layer.get_weights()
    assert w.shape == (*layer.kernel_size, filters, shape[-1]) and y.shape[1:3] == out

    def forward(tw):  # torch's full transposed convolution, cropped as TF pads the forward one
        full = F.conv_transpose2d(torch.tensor(x.transpose(0, 3, 1, 2)), tw, None, layer.strides)
        rows, cols = full.shape[2:]
        full = F.pad(full, (0, max(out[1] - cols, 0), 0, max(out[0] - rows, 0)))
        top, left = (
            same_pads(o, k, s, 1)[0] if padding == "same" else 0
            for o, k, s in zip(out, layer.kernel_size, layer.strides, strict=True)
        )
        return full[:, :, top : top + out[0], left : left + out[1]]

    np.testing.assert_allclose(y, nhwc(forward(oihw(w))) + b, atol=1e-10)
    np.testing.assert_allclose(grad, torch_kernel_gradient(forward, w, r), atol=1e-10)


@pytest.mark.parametrize(
    "layer",
    [
        lambda: layers.Conv2D(2, 2, activation="relu", dtype="float64"),
        lambda: layers.DepthwiseConv2D(2, depth_multiplier=2, dtype="float64"),
        lambda: layers.SeparableConv2D(2, 2, dtype="float64"),
        lambda: layers.Conv2DTranspose(2, 2, strides=2, dtype="float64"),
    ],
)
def test_weight_gradients_by_finite_differences(layer):
    check_weight_gradients(layer(), data(1, 3, 3, 2, dtype=np.float64))


def test_convolution_errors_name_the_layer():
    conv = layers.Conv2D(4, 3, name="c1")
    with pytest.raises(LayerError, match=r"'c1'.*expected ndim=4, found ndim=3.*\(2, 5, 5\)"):
        conv(data(2, 5, 5))
    conv(data(1, 5, 5, 2))
    with pytest.raises(LayerError, match=r"'c1'.*axis -1 .* value 2.*\(1, 5, 5, 3\)"):
        conv(data(1, 5, 5, 3))
    with pytest.raises(LayerError, match="'c2'.*data_format='channels_first' is not supported"):
        layers.Conv2D(4, 3, data_format="channels_first", name="c2")
    with pytest.raises(LayerError, match="'c3'.*input channels \\(5\\).*groups \\(2\\)"):
        layers.Conv2D(4, 3, groups=2, name="c3")(data(1, 5, 5, 5))
    with pytest.raises(LayerError, match="strides .* cannot be combined with dilation_rate"):
        layers.Conv2D(4, 3, strides=2, dilation_rate=2)
    with pytest.raises(LayerError, match="kernel_size must be an int or 2 ints"):
        layers.Conv2D(4, (3, 3, 3))
    with pytest.raises(LayerError, match="padding must be 'valid' or 'same'"):
        layers.DepthwiseConv2D(3, padding="causal")
    with pytest.raises(LayerError, match="output_padding \\(2, 2\\) must be smaller"):
        layers.Conv2DTranspose(2, 3, strides=2, output_padding=2)

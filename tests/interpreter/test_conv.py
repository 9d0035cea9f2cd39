"""Convolutions against LiteRT: strides, dilations, paddings, groups, activations."""

import struct

import numpy as np
import pytest

from emberlite.interpreter import Interpreter
from emberlite.schema import read_model
from tests.interpreter.oneop import (
    SAME,
    VALID,
    Const,
    assert_fails,
    compare_with_litert,
    one_op_model,
    options,
    out_size,
    rand,
    run,
)

RNG = np.random.default_rng(0)


def conv_case(shape, cout, k, stride, dilation, padding, activation, cf=None, bias=True):
    n, h, w, cin = shape
    kh, kw = k
    x = rand(*shape)
    f = Const(rand(cout, kh, kw, cf or cin, scale=0.5))
    b = Const(rand(cout)) if bias else None
    oh = out_size(h, kh, stride[0], padding, dilation[0])
    ow = out_size(w, kw, stride[1], padding, dilation[1])
    opts = options(
        "Conv2DOptions",
        padding=padding,
        stride_h=stride[0],
        stride_w=stride[1],
        fused_activation_function=activation,
        dilation_h_factor=dilation[0],
        dilation_w_factor=dilation[1],
    )
    return x, f, b, (n, oh, ow, cout), opts


@pytest.mark.parametrize("padding", [SAME, VALID])
@pytest.mark.parametrize(
    "k, stride, dilation",
    [
        ((1, 1), (1, 1), (1, 1)),
        ((1, 1), (2, 2), (1, 1)),
        ((3, 3), (1, 1), (1, 1)),
        ((3, 3), (2, 2), (1, 1)),
        ((3, 2), (2, 1), (1, 1)),
        ((3, 3), (1, 1), (2, 2)),
        ((2, 3), (1, 2), (3, 1)),
        ((5, 5), (3, 2), (1, 1)),
    ],
)
@pytest.mark.parametrize("shape", [(1, 7, 9, 3), (2, 8, 6, 5)])
def test_conv_2d(shape, k, stride, dilation, padding):
    x, f, b, out, opts = conv_case(shape, 4, k, stride, dilation, padding, 0)
    compare_with_litert("CONV_2D", [x, f, b], [out], opts)


def without_bias(op, inputs, out, opts, bias_index=2):
    """Ours with the optional bias omitted equals LiteRT with a zero bias: LiteRT's float
    kernels insist on a bias tensor, older TFLite (and emberlite) do not."""
    channels = out[-1]
    zero = [*inputs[:bias_index], Const(np.zeros(channels, np.float32)), *inputs[bias_index + 1 :]]
    expected = compare_with_litert(op, zero, [out], opts)[0]
    omitted = [*inputs[:bias_index], None, *inputs[bias_index + 1 :]]
    [ours] = run(Interpreter(model_content=one_op_model(op, omitted, [out], opts)), omitted)
    np.testing.assert_array_equal(ours, expected)


# NOTE: 4 (TANH) and 5 (SIGN_BIT) are no-ops in TFLite's conv and pool kernels.
ACTIVATIONS = [0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_conv_2d_activation(activation):
    args = conv_case((1, 6, 6, 4), 5, (3, 3), (1, 1), (1, 1), SAME, activation)
    x, f, b, out, opts = args
    compare_with_litert("CONV_2D", [x, f, b], [out], opts)


@pytest.mark.parametrize("k", [(1, 1), (3, 3)])
def test_conv_2d_without_bias(k):
    x, f, _, out, opts = conv_case((1, 6, 6, 4), 5, k, (1, 1), (1, 1), SAME, 1)
    without_bias("CONV_2D", [x, f, None], out, opts)


@pytest.mark.parametrize(
    "cin, cf, cout, k, stride, padding",
    [
        (6, 3, 4, (3, 3), (1, 1), SAME),
        (8, 2, 8, (1, 1), (1, 1), VALID),
        (6, 2, 6, (3, 3), (2, 2), VALID),
    ],
)
def test_conv_2d_grouped(cin, cf, cout, k, stride, padding):
    x, f, b, out, opts = conv_case((1, 7, 7, cin), cout, k, stride, (1, 1), padding, 1, cf=cf)
    compare_with_litert("CONV_2D", [x, f, b], [out], opts)


@pytest.mark.parametrize("k, cf", [((3, 3), 3), ((1, 1), 3), ((3, 3), 1)])
def test_conv_2d_runtime_filter_and_bias(k, cf):
    x, f, b, out, opts = conv_case((1, 6, 5, 3), 3, k, (2, 1), (1, 1), SAME, 0, cf=cf)
    compare_with_litert("CONV_2D", [x, f.value, b.value], [out], opts)


def test_conv_2d_repeated_invoke():
    """Scratch buffers are reused across invokes: a second input gives its own answer."""
    x, f, b, out, opts = conv_case((1, 6, 6, 3), 4, (3, 3), (1, 1), (1, 1), SAME, 0)
    interpreter = Interpreter(model_content=one_op_model("CONV_2D", [x, f, b], [out], opts))
    interpreter.allocate_tensors()
    index = interpreter.get_input_details()[0]["index"]
    results = []
    for value in (x, x * 2):
        interpreter.set_tensor(index, value)
        interpreter.invoke()
        results.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))
    bias = b.value
    np.testing.assert_allclose(results[1] - bias, 2 * (results[0] - bias), rtol=1e-5, atol=1e-5)


def _depthwise_case(shape, multiplier, k, stride, dilation, padding, activation, bias=True):
    n, h, w, cin = shape
    x = rand(*shape)
    f = Const(rand(1, *k, cin * multiplier))
    b = Const(rand(cin * multiplier)) if bias else None
    oh = out_size(h, k[0], stride[0], padding, dilation[0])
    ow = out_size(w, k[1], stride[1], padding, dilation[1])
    opts = options(
        "DepthwiseConv2DOptions",
        padding=padding,
        stride_h=stride[0],
        stride_w=stride[1],
        depth_multiplier=multiplier,
        fused_activation_function=activation,
        dilation_h_factor=dilation[0],
        dilation_w_factor=dilation[1],
    )
    return x, f, b, (n, oh, ow, cin * multiplier), opts


@pytest.mark.parametrize("padding", [SAME, VALID])
@pytest.mark.parametrize(
    "k, stride, dilation",
    [
        ((3, 3), (1, 1), (1, 1)),
        ((3, 3), (2, 2), (1, 1)),
        ((5, 5), (1, 1), (1, 1)),
        ((5, 3), (2, 1), (1, 1)),
        ((3, 3), (1, 1), (2, 3)),
        ((1, 1), (1, 1), (1, 1)),
        ((3, 3), (2, 3), (1, 2)),  # taps read three column phases
        ((3, 4), (1, 2), (1, 2)),
        ((2, 5), (1, 2), (1, 1)),
    ],
)
@pytest.mark.parametrize("multiplier", [1, 3])
@pytest.mark.parametrize("shape", [(1, 9, 8, 4), (2, 7, 7, 2)])
def test_depthwise_conv_2d(shape, multiplier, k, stride, dilation, padding):
    args = _depthwise_case(shape, multiplier, k, stride, dilation, padding, 0)
    x, f, b, out, opts = args
    compare_with_litert("DEPTHWISE_CONV_2D", [x, f, b], [out], opts)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_depthwise_activation(activation):
    args = _depthwise_case((1, 6, 6, 3), 2, (3, 3), (1, 1), (1, 1), SAME, activation)
    x, f, b, out, opts = args
    compare_with_litert("DEPTHWISE_CONV_2D", [x, f, b], [out], opts)


def test_depthwise_without_bias():
    x, f, _, out, opts = _depthwise_case((1, 6, 6, 3), 2, (3, 3), (2, 2), (1, 1), SAME, 0)
    without_bias("DEPTHWISE_CONV_2D", [x, f, None], out, opts)


@pytest.mark.parametrize("stride, padding", [((2, 2), SAME), ((1, 1), VALID)])
def test_depthwise_runtime_filter_and_bias(stride, padding):
    x, f, b, out, opts = _depthwise_case((1, 6, 7, 3), 1, (3, 3), stride, (1, 1), padding, 0)
    compare_with_litert("DEPTHWISE_CONV_2D", [x, f.value, b.value], [out], opts)


def _transpose_case(shape, cout, k, stride, padding, out_hw, activation=0, bias=True):
    n, h, w, cin = shape
    x = rand(*shape)
    weights = Const(rand(cout, *k, cin, scale=0.5))
    b = Const(rand(cout)) if bias else None
    out = (n, *out_hw, cout)
    opts = options(
        "TransposeConvOptions",
        padding=padding,
        stride_h=stride[0],
        stride_w=stride[1],
        fused_activation_function=activation,
    )
    return [Const(np.array(out, np.int32)), weights, x, b], out, opts


@pytest.mark.parametrize(
    "shape, k, stride, padding, out_hw",
    [
        ((1, 4, 4, 3), (2, 2), (2, 2), SAME, (8, 8)),
        ((1, 4, 4, 3), (2, 2), (2, 2), VALID, (8, 8)),
        ((1, 4, 5, 3), (3, 3), (2, 2), SAME, (8, 10)),
        ((1, 4, 5, 3), (3, 3), (2, 2), SAME, (7, 9)),
        ((1, 4, 5, 3), (3, 3), (2, 2), VALID, (9, 11)),
        ((2, 3, 3, 2), (3, 2), (1, 2), VALID, (5, 6)),
        ((2, 3, 3, 2), (3, 3), (1, 1), SAME, (3, 3)),
        ((1, 3, 4, 2), (4, 4), (2, 3), SAME, (6, 12)),
        ((1, 3, 4, 2), (5, 3), (3, 2), VALID, (11, 9)),
    ],
)
def test_transpose_conv(shape, k, stride, padding, out_hw):
    inputs, out, opts = _transpose_case(shape, 4, k, stride, padding, out_hw)
    compare_with_litert("TRANSPOSE_CONV", inputs, [out], opts)


def test_transpose_conv_runtime_weights_and_bias():
    inputs, out, opts = _transpose_case((1, 3, 4, 2), 3, (3, 3), (2, 2), SAME, (6, 8))
    inputs = [inputs[0], inputs[1].value, inputs[2], inputs[3].value]
    compare_with_litert("TRANSPOSE_CONV", inputs, [out], opts)


def test_transpose_conv_without_bias():
    inputs, out, opts = _transpose_case((1, 4, 5, 3), 4, (3, 3), (2, 2), SAME, (7, 9))
    without_bias("TRANSPOSE_CONV", inputs, out, opts, bias_index=3)


def test_transpose_conv_three_inputs():
    """The bias input may be left out of the list altogether."""
    inputs, out, opts = _transpose_case((1, 4, 5, 3), 4, (3, 3), (2, 2), VALID, (9, 11))
    compare_with_litert("TRANSPOSE_CONV", inputs[:3], [out], opts)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_transpose_conv_activation(activation):
    inputs, out, opts = _transpose_case((1, 4, 4, 3), 2, (3, 3), (2, 2), SAME, (8, 8), activation)
    compare_with_litert("TRANSPOSE_CONV", inputs, [out], opts)


def _bias_options(padding, stride_w, stride_h):
    return struct.pack("<3i", padding, stride_w, stride_h)


@pytest.mark.parametrize(
    "shape, k, padding, strides",
    [
        ((1, 4, 4, 3), (2, 2), 1, (2, 2)),
        ((1, 4, 5, 3), (3, 3), 1, (2, 2)),
        ((1, 4, 5, 3), (3, 3), 2, (2, 2)),
        ((1, 3, 4, 2), (4, 3), 1, (3, 2)),
        ((2, 3, 4, 2), (3, 2), 2, (1, 2)),
    ],
)
def test_convolution_2d_transpose_bias(shape, k, padding, strides):
    n, h, w, cin = shape
    sw, sh = strides[1], strides[0]
    oh = h * sh if padding == 1 else (h - 1) * sh + k[0]
    ow = w * sw if padding == 1 else (w - 1) * sw + k[1]
    inputs = [rand(*shape), Const(rand(3, *k, cin, scale=0.5)), Const(rand(3))]
    compare_with_litert(
        "Convolution2DTransposeBias",
        inputs,
        [(n, oh, ow, 3)],
        custom_options=_bias_options(padding, sw, sh),
        xnnpack=True,
    )


def test_convolution_2d_transpose_bias_selfie_node(model_files):
    """Node 244 of mediapipe's selfie segmentation model, with its weights and options."""
    model = read_model(model_files["selfie_segmentation.tflite"])
    graph = model.subgraphs[0]
    node = graph.operators[244]
    assert model.op_name(node) == "Convolution2DTransposeBias"
    x_info = graph.tensors[node.inputs[0]]
    consts = []
    for i in node.inputs[1:]:
        value = model.constant(graph.tensors[i])
        if value is None:  # float16 weights behind a DEQUANTIZE node
            producer = next(op for op in graph.operators if i in op.outputs)
            value = model.constant(graph.tensors[producer.inputs[0]])
        consts.append(Const(np.asarray(value, np.float32)))
    x = rand(*x_info.shape)
    [out] = compare_with_litert(
        "Convolution2DTransposeBias",
        [x, *consts],
        [graph.tensors[node.outputs[0]].shape],
        custom_options=bytes(node.custom_options),
        xnnpack=True,
    )
    assert out.shape == (1, 256, 256, 1)


def test_conv_2d_bad_nodes():
    opts = options("Conv2DOptions", padding=SAME, stride_h=1, stride_w=1)
    x, f = rand(1, 6, 6, 3), Const(rand(2, 3, 3, 3))
    assert_fails("CONV_2D", [rand(6, 6, 3), f], [(6, 6, 2)], opts, match="input must have rank 4")
    two = Const(rand(2, 3, 3, 2))
    assert_fails(
        "CONV_2D", [x, two], [(1, 6, 6, 2)], opts, match="not a multiple of the filter's 2"
    )
    assert_fails("CONV_2D", [x, f, Const(rand(3))], [(1, 6, 6, 2)], opts, match="bias shape")
    zero_stride = options("Conv2DOptions", padding=SAME, stride_h=0, stride_w=1)
    assert_fails("CONV_2D", [x, f], [(1, 6, 6, 2)], zero_stride, match="stride 0")
    int8 = Const(RNG.integers(-5, 5, (2, 3, 3, 3)).astype(np.int8))
    assert_fails("CONV_2D", [x, int8], [(1, 6, 6, 2)], opts, match="only float32")


def test_depthwise_bad_nodes():
    opts = options(
        "DepthwiseConv2DOptions", padding=SAME, stride_h=1, stride_w=1, depth_multiplier=1
    )
    x = rand(1, 6, 6, 3)
    op = "DEPTHWISE_CONV_2D"
    assert_fails(op, [x, Const(rand(2, 3, 3, 3))], [(1, 6, 6, 3)], opts, match="filter must be")
    assert_fails(op, [x, Const(rand(1, 3, 3, 4))], [(1, 6, 6, 4)], opts, match="not a multiple")
    assert_fails(
        op,
        [x, Const(rand(1, 3, 3, 6))],
        [(1, 6, 6, 6)],
        opts,
        match="depth_multiplier 1 does not match",
    )


def test_transpose_conv_bad_nodes():
    opts = options("TransposeConvOptions", padding=SAME, stride_h=2, stride_w=2)
    shape = Const(np.array([1, 8, 8, 2], np.int32))
    x, f = rand(1, 4, 4, 3), Const(rand(2, 3, 3, 3))
    op = "TRANSPOSE_CONV"
    assert_fails(
        op, [shape, Const(rand(2, 3, 3, 4)), x], [(1, 8, 8, 2)], opts, match="weights take 4"
    )
    runtime_shape = np.array([1, 8, 8, 2], np.int32)
    assert_fails(op, [runtime_shape, f, x], [(1, 8, 8, 2)], opts, match="must be constant")
    bad = Const(np.array([1, 8, 8, 5], np.int32))
    assert_fails(op, [bad, f, x], [(1, 8, 8, 5)], opts, match="does not fit batch")


def test_convolution_2d_transpose_bias_bad_nodes():
    op = "Convolution2DTransposeBias"
    inputs = [rand(1, 4, 4, 3), Const(rand(2, 2, 2, 3)), Const(rand(2))]
    out = [(1, 8, 8, 2)]
    assert_fails(op, inputs, out, custom_options=b"\1\0\0\0", match="custom options hold 4")
    bad = _bias_options(0, 2, 2)
    assert_fails(op, inputs, out, custom_options=bad, match="padding 0 is not supported")

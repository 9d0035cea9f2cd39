"""Scratch holds nothing from one invoke to the next: other nodes reuse its arena bytes.

Each kernel here gets garbage in its scratch buffers (and outputs) before every eval and must
still give LiteRT's answer, at the first invoke and at the next (padded borders, zeroed sums
and the like are written again each time).
"""

import dataclasses

import numpy as np
import pytest

from emberlite.interpreter import Interpreter, registry
from tests.interpreter.oneop import (
    SAME,
    VALID,
    Const,
    one_op_model,
    options,
    out_size,
    rand,
)
from tests.litert import litert_interpreter


def garble(array: np.ndarray) -> None:
    if array.dtype.kind == "f":
        array.fill(np.nan)
    else:
        array.view(np.uint8).fill(0xA5)


@pytest.fixture(autouse=True)
def garbled_scratch(monkeypatch):
    """Every kernel's eval sees garbage in all of `outs` (outputs, then scratch)."""
    for name, kernel in list(registry.KERNELS.items()):

        def run(data, ins, outs, _eval=kernel.eval):
            for array in outs:
                garble(array)
            _eval(data, ins, outs)

        monkeypatch.setitem(registry.KERNELS, name, dataclasses.replace(kernel, eval=run))


def invoke(interpreter, feeds):
    for d, x in zip(interpreter.get_input_details(), feeds, strict=True):
        interpreter.set_tensor(d["index"], x)
    interpreter.invoke()
    return [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]


def check(op, inputs, shapes, opts=None, *, dtypes=None, custom_options=None, xnnpack=False):
    """Two invokes of one interpreter, on different runtime inputs, both against LiteRT."""
    content = one_op_model(op, inputs, shapes, opts, dtypes, custom_options)
    ours, theirs = Interpreter(model_content=content), litert_interpreter(content, xnnpack)
    ours.allocate_tensors()
    theirs.allocate_tensors()
    feeds = [x for x in inputs if x is not None and not isinstance(x, Const)]
    for scale in (1, -2):
        values = [np.array(x * scale, x.dtype) if x.dtype.kind == "f" else x for x in feeds]
        for a, b in zip(invoke(ours, values), invoke(theirs, values), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=op)


def conv_options(kind, padding, stride, **more):
    return options(kind, padding=padding, stride_h=stride, stride_w=stride, **more)


@pytest.mark.parametrize("padding", [SAME, VALID])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize(
    "shape, cout, cf, k",
    [
        ((1, 9, 8, 3), 4, 3, 3),  # padded im2col
        ((2, 7, 7, 4), 4, 2, 3),  # grouped
        ((2, 66, 64, 8), 2, 8, 3),  # im2col in blocks of output rows
        ((1, 6, 6, 5), 3, 5, 1),  # 1x1: a matmul (strided: im2col)
    ],
)
def test_conv_2d(shape, cout, cf, k, stride, padding):
    n, h, w, _ = shape
    oh, ow = out_size(h, k, stride, padding), out_size(w, k, stride, padding)
    inputs = [rand(*shape), Const(rand(cout, k, k, cf)), Const(rand(cout))]
    opts = conv_options("Conv2DOptions", padding, stride, fused_activation_function=1)
    check("CONV_2D", inputs, [(n, oh, ow, cout)], opts)


@pytest.mark.parametrize("padding", [SAME, VALID])
@pytest.mark.parametrize("stride, multiplier", [(1, 1), (2, 1), (1, 2), (3, 2)])
def test_depthwise_conv_2d(stride, multiplier, padding):
    # Phase planes with zero borders and, for stride 2 and 3, taps summed through scratch.
    x = rand(2, 9, 10, 3)
    oh, ow = out_size(9, 3, stride, padding), out_size(10, 3, stride, padding)
    f, b = Const(rand(1, 3, 3, 3 * multiplier)), Const(rand(3 * multiplier))
    opts = conv_options("DepthwiseConv2DOptions", padding, stride, depth_multiplier=multiplier)
    check("DEPTHWISE_CONV_2D", [x, f, b], [(2, oh, ow, 3 * multiplier)], opts)


@pytest.mark.parametrize("stride, k, out", [(2, 3, (9, 11)), (2, 2, (8, 10))])
def test_transpose_conv(stride, k, out):
    x = rand(1, 4, 5, 3)
    inputs = [Const(np.array([1, *out, 2], np.int32)), Const(rand(2, k, k, 3)), x, Const(rand(2))]
    check("TRANSPOSE_CONV", inputs, [(1, *out, 2)], conv_options("TransposeConvOptions", 1, stride))


@pytest.mark.parametrize("op", ["MAX_POOL_2D", "AVERAGE_POOL_2D"])
@pytest.mark.parametrize("k, stride", [(3, 1), (3, 2), (10, 2)])
def test_pool(op, k, stride):
    # All-negative inputs: a max that let the border's garbage in would show it.
    x = -np.abs(rand(1, 11, 12, 3)) - 1
    out = (1, out_size(11, k, stride, SAME), out_size(12, k, stride, SAME), 3)
    opts = conv_options("Pool2DOptions", SAME, stride, filter_height=k, filter_width=k)
    check(op, [x], [out], opts)


@pytest.mark.parametrize("op", ["RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"])
@pytest.mark.parametrize("size", [(9, 14), (3, 2)])
def test_resize(op, size):
    table = "ResizeBilinearOptions" if op == "RESIZE_BILINEAR" else "ResizeNearestNeighborOptions"
    opts = options(table, half_pixel_centers=True)
    check(op, [rand(2, 5, 6, 3), Const(np.array(size, np.int32))], [(2, *size, 3)], opts)


def test_space_to_batch_and_back():
    pads = Const(np.array([[1, 2], [2, 1]], np.int32))
    block = Const(np.array([2, 3], np.int32))
    check("SPACE_TO_BATCH_ND", [rand(1, 5, 6, 2), block, pads], [(6, 4, 3, 2)])
    check("BATCH_TO_SPACE_ND", [rand(6, 4, 3, 2), block, pads], [(1, 5, 6, 2)])


def test_normalization_and_softmax():
    x = rand(2, 3, 4, 9)
    lrn = options("LocalResponseNormalizationOptions", radius=2, bias=1.0, alpha=0.5, beta=0.75)
    check("LOCAL_RESPONSE_NORMALIZATION", [x], [x.shape], lrn)
    check("L2_NORMALIZATION", [x], [x.shape])
    check("SOFTMAX", [x], [x.shape], options("SoftmaxOptions", beta=1.0))
    check("LOG_SOFTMAX", [x], [x.shape])


def test_activations():
    x = rand(3, 40, 50, scale=3)
    check("PRELU", [x, np.array(rand(50), np.float32)], [x.shape])
    check("GELU", [x], [x.shape], options("GeluOptions", approximate=False))


def test_integer_scratch():
    a = np.array([[7, -7, 9], [-9, 5, 1]], np.int32)
    check("DIV", [a, np.array([2, -2, 4], np.int32)], [a.shape], dtypes=[np.int32])
    axis = Const(np.array([1], np.int32))
    check("MEAN", [a, axis], [(2,)], options("ReducerOptions"), dtypes=[np.int32])
    check(
        "ARG_MAX",
        [rand(4, 5), axis],
        [(4,)],
        options("ArgMaxOptions", output_type=2),
        dtypes=[np.int32],
    )
    check("REDUCE_MAX", [rand(30, 3), axis], [(30,)], options("ReducerOptions"))
    check("CAST", [rand(3, 4, scale=1e10)], [(3, 4)], dtypes=[np.int32])


def test_gathers():
    params = rand(2, 5, 3)
    indices = np.array([[4, 0], [1, 1]], np.int32)
    opts = options("GatherOptions", axis=1, batch_dims=1)
    check("GATHER", [params, indices], [(2, 2, 3)], opts)
    nd = np.array([[1, 4], [0, 2], [1, 0]], np.int32)
    check("GATHER_ND", [params, nd], [(3, 3)])

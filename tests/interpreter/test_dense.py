"""FULLY_CONNECTED and BATCH_MATMUL against LiteRT."""

import numpy as np
import pytest

from tests.interpreter.oneop import Const, assert_fails, compare_with_litert, options, rand


def fc_options(activation=0, keep_num_dims=False):
    return options(
        "FullyConnectedOptions", fused_activation_function=activation, keep_num_dims=keep_num_dims
    )


@pytest.mark.parametrize(
    "x_shape, units, keep",
    [
        ((1, 8), 4, False),
        ((5, 8), 3, False),
        ((8,), 4, False),
        ((2, 3, 8), 5, False),  # flattened to 6 rows
        ((2, 3, 8), 5, True),
        ((1, 4, 4, 6), 2, True),
        ((4, 6), 7, True),
        ((2, 12), 3, False),
        ((3, 2, 4), 1, False),  # 6 rows of 4 from [3, 2, 4] with depth 4
    ],
)
@pytest.mark.parametrize("bias", ["none", "omitted", "const", "runtime"])
@pytest.mark.parametrize("activation", [0, 1, 2, 3])
def test_fully_connected(x_shape, units, keep, bias, activation):
    depth = x_shape[-1]
    x, w = rand(*x_shape) * 2, Const(rand(units, depth))
    inputs = [x, w]
    if bias == "omitted":
        inputs.append(None)
    elif bias == "const":
        inputs.append(Const(rand(units)))
    elif bias == "runtime":
        inputs.append(rand(units))
    rows = int(np.prod(x_shape)) // depth
    out = (*x_shape[:-1], units) if keep else (rows, units)
    compare_with_litert("FULLY_CONNECTED", inputs, [out], fc_options(activation, keep))


@pytest.mark.parametrize("batch", [1, 3])
def test_fully_connected_runtime_weights(batch):
    x, w, b = rand(batch, 6), rand(4, 6), Const(rand(4))
    compare_with_litert("FULLY_CONNECTED", [x, w, b], [(batch, 4)], fc_options(1))


def test_fully_connected_matches_numpy():
    x, w, b = rand(3, 5), rand(2, 5), rand(2)
    (out,) = compare_with_litert("FULLY_CONNECTED", [x, Const(w), Const(b)], [(3, 2)], fc_options())
    np.testing.assert_allclose(out, x @ w.T + b, rtol=1e-5, atol=1e-6)


def test_fully_connected_rejects():
    opts = fc_options()
    assert_fails(
        "FULLY_CONNECTED", [rand(2, 5), Const(rand(3, 4))], [(2, 3)], opts, match="rows of 4"
    )
    assert_fails("FULLY_CONNECTED", [rand(2, 4), Const(rand(3, 4, 1))], [(2, 3)], opts, match="2-D")
    assert_fails(
        "FULLY_CONNECTED",
        [rand(2, 4), Const(rand(3, 4)), Const(rand(2))],
        [(2, 3)],
        opts,
        match="bias",
    )
    assert_fails(
        "FULLY_CONNECTED",
        [rand(2, 6), Const(rand(3, 4))],
        [(3, 3)],
        fc_options(0, True),
        match="keep",
    )
    int8 = Const(np.ones((3, 4), np.int8))
    assert_fails("FULLY_CONNECTED", [rand(2, 4), int8], [(2, 3)], opts, match="int8")
    assert_fails(
        "FULLY_CONNECTED", [rand(2, 4), Const(rand(3, 4))], [(2, 3)], fc_options(4), match="TANH"
    )
    shuffled = options("FullyConnectedOptions", weights_format=1)
    assert_fails(
        "FULLY_CONNECTED", [rand(2, 4), Const(rand(3, 4))], [(2, 3)], shuffled, match="shuffled"
    )


@pytest.mark.parametrize(
    "x_shape, y_shape",
    [
        ((3, 4), (4, 5)),
        ((2, 3, 4), (2, 4, 5)),
        ((2, 3, 4), (4, 5)),  # rhs broadcast over the batch
        ((3, 4), (2, 4, 5)),  # lhs broadcast
        ((2, 1, 3, 4), (1, 3, 4, 5)),  # both broadcast
        ((1, 2, 2, 3, 4), (2, 1, 4, 2)),
        ((1, 1, 4), (1, 4, 1)),
    ],
)
@pytest.mark.parametrize("adj_x", [False, True])
@pytest.mark.parametrize("adj_y", [False, True])
@pytest.mark.parametrize("const_y", [False, True])
def test_batch_matmul(x_shape, y_shape, adj_x, adj_y, const_y):
    x, y = rand(*x_shape), rand(*y_shape)
    if adj_x:
        x = np.ascontiguousarray(x.swapaxes(-1, -2))
    if adj_y:
        y = np.ascontiguousarray(y.swapaxes(-1, -2))
    a = x.swapaxes(-1, -2) if adj_x else x
    b = y.swapaxes(-1, -2) if adj_y else y
    want = np.matmul(a, b)
    opts = options("BatchMatMulOptions", adj_x=adj_x, adj_y=adj_y)
    (out,) = compare_with_litert(
        "BATCH_MATMUL", [x, Const(y) if const_y else y], [want.shape], opts
    )
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)


def test_batch_matmul_rejects():
    assert_fails("BATCH_MATMUL", [rand(3, 4), rand(5, 2)], [(3, 2)], match="cannot multiply")
    assert_fails(
        "BATCH_MATMUL", [rand(2, 3, 4), rand(3, 4, 2)], [(2, 3, 2)], match="do not broadcast"
    )
    assert_fails("BATCH_MATMUL", [rand(4), rand(4, 2)], [(2,)], match="rank >= 2")
    opts = options("BatchMatMulOptions", adj_x=True)
    assert_fails("BATCH_MATMUL", [rand(3, 4), rand(4, 2)], [(4, 2)], opts, match="adj_x=True")

"""Data movement and shape ops against LiteRT: every option, negative axes, all slice masks."""

import numpy as np
import pytest

from emberlite.interpreter import Interpreter
from emberlite.interpreter.registry import KernelError
from emberlite.schema import (
    Buffer,
    BuiltinOperator,
    Model,
    Operator,
    OperatorCode,
    SubGraph,
    Tensor,
    TensorType,
    write_model,
)
from tests.interpreter.oneop import (
    Const,
    assert_fails,
    compare_with_litert,
    one_op_model,
    options,
    rand,
    run,
)
from tests.litert import litert_interpreter

RNG = np.random.default_rng(0)


def i32(*values):
    return Const(np.array(values, np.int32))


# -- RESHAPE, SQUEEZE, EXPAND_DIMS ----------------------------------------------------------------


@pytest.mark.parametrize(
    "shape_input, new_shape, out",
    [
        (i32(3, 8), None, (3, 8)),
        (i32(-1, 4), None, (6, 4)),
        (i32(2, -1, 3), (24,), (2, 4, 3)),  # the shape input wins over the options
        (None, (4, -1), (4, 6)),
        (None, (24,), (24,)),
        (Const(np.array([3, 8], np.int64)), (2, 12), (2, 12)),  # int64 input: options win
        (Const(np.array([[3, 8]], np.int32)), (8, 3), (8, 3)),  # 2-D input: options win
        (Const(np.array(8, np.int32)), (3, 8), (3, 8)),  # 0-D input: options win
    ],
)
def test_reshape(shape_input, new_shape, out):
    opts = None if new_shape is None else options("ReshapeOptions", new_shape=new_shape)
    x = rand(2, 3, 4)
    compare_with_litert("RESHAPE", [x] if shape_input is None else [x, shape_input], [out], opts)


@pytest.mark.parametrize(
    "shape_input, opts",
    [
        (Const(np.zeros(0, np.int32)), None),  # an empty shape vector: a scalar
        (None, options("ReshapeOptions", new_shape=(0,))),  # the legacy [0]: a scalar
        (None, None),  # nothing at all: a scalar
    ],
)
def test_reshape_to_scalar(shape_input, opts):
    x = rand(1, 1)
    (out,) = compare_with_litert(
        "RESHAPE", [x] if shape_input is None else [x, shape_input], [()], opts
    )
    assert out.shape == ()


def test_reshape_rejects():
    assert_fails("RESHAPE", [rand(2, 3), i32(4, 2)], [(4, 2)], match="cannot reshape 6 elements")
    assert_fails("RESHAPE", [rand(2, 3), i32(-1, -1)], [(3, 2)], match="invalid")
    assert_fails(
        "RESHAPE", [rand(2, 3)], [()], options("ReshapeOptions", new_shape=(0,)), match="cannot"
    )
    assert_fails("RESHAPE", [rand(2, 3), np.array([3, 2], np.int32)], [(3, 2)], match="constant")


@pytest.mark.parametrize(
    "shape, dims",
    [
        ((1, 3, 1, 2), ()),
        ((1, 3, 1, 2), (0,)),
        ((1, 3, 1, 2), (-2,)),
        ((1, 3, 1, 2), (0, 2)),
        ((1, 1), ()),
        ((5,), ()),
        ((2, 1, 1), (-1, 1)),
    ],
)
def test_squeeze(shape, dims):
    x = rand(*shape)
    out = np.squeeze(x, axis=dims or None).shape
    compare_with_litert("SQUEEZE", [x], [out], options("SqueezeOptions", squeeze_dims=dims))


def test_squeeze_rejects():
    assert_fails(
        "SQUEEZE",
        [rand(1, 3)],
        [(1,)],
        options("SqueezeOptions", squeeze_dims=(1,)),
        match="size 3",
    )
    assert_fails(
        "SQUEEZE", [rand(1, 3)], [(3,)], options("SqueezeOptions", squeeze_dims=(2,)), match="range"
    )


@pytest.mark.parametrize("axis", [0, 1, 2, 3, -1, -2, -4])
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_expand_dims(axis, dtype):
    x = rand(2, 3, 4)
    out = np.expand_dims(x, axis).shape
    compare_with_litert("EXPAND_DIMS", [x, Const(np.array([axis], dtype))], [out])
    compare_with_litert("EXPAND_DIMS", [x, Const(np.array(axis, dtype))], [out])


def test_expand_dims_rejects():
    assert_fails("EXPAND_DIMS", [rand(2, 3), i32(3)], [(2, 3, 1)], match="out of range")
    assert_fails("EXPAND_DIMS", [rand(2, 3), i32(0, 1)], [(1, 2, 3)], match="one value")


# -- TRANSPOSE, REVERSE_V2 ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape, perm",
    [
        ((2, 3), (1, 0)),
        ((2, 3, 4), (2, 0, 1)),
        ((2, 3, 4), (-1, 0, 1)),
        ((1, 4, 5, 3), (0, 3, 1, 2)),
        ((2, 3, 4, 5, 2), (4, 2, 0, 3, 1)),
        ((3,), (0,)),
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_transpose(shape, perm, dtype):
    x = (rand(*shape) * 10).astype(dtype)
    compare_with_litert(
        "TRANSPOSE", [x, i32(*perm)], [np.transpose(x, perm).shape], output_dtypes=[dtype]
    )


def test_transpose_rejects():
    assert_fails("TRANSPOSE", [rand(2, 3), i32(0, 0)], [(2, 3)], match="not a permutation")
    assert_fails("TRANSPOSE", [rand(2, 3), i32(0, 1, 2)], [(2, 3)], match="out of range")


@pytest.mark.parametrize(
    "shape, axes",
    [
        ((5,), (0,)),
        ((2, 3, 4), (1,)),
        ((2, 3, 4), (-1,)),
        ((2, 3, 4), (1, 2)),
        ((2, 3, 4), (0, 1)),
        ((1, 4, 4, 3), (2,)),
    ],
)
def test_reverse_v2(shape, axes):
    compare_with_litert("REVERSE_V2", [rand(*shape), i32(*axes)], [shape])


def test_reverse_v2_rejects():
    assert_fails("REVERSE_V2", [rand(2, 3), i32(2)], [(2, 3)], match="out of range")


# -- CONCATENATION, PACK, UNPACK, SPLIT, SPLIT_V --------------------------------------------------


@pytest.mark.parametrize(
    "shapes, axis",
    [
        ([(2, 3), (2, 5)], 1),
        ([(2, 3), (4, 3), (1, 3)], 0),
        ([(1, 4, 4, 3), (1, 4, 4, 5)], -1),
        ([(1, 4, 4, 3), (1, 4, 2, 3)], -2),
        ([(3,)], 0),
        ([(2, 2, 2)] * 4, 1),
    ],
)
@pytest.mark.parametrize("activation", [0, 1, 2, 3])
@pytest.mark.parametrize("const", [False, True])
def test_concatenation(shapes, axis, activation, const):
    xs = [rand(*s) * 4 for s in shapes]
    if const:
        xs[0] = Const(xs[0])
    values = [x.value if isinstance(x, Const) else x for x in xs]
    want = np.concatenate(values, axis=axis)
    opts = options("ConcatenationOptions", axis=axis, fused_activation_function=activation)
    if activation == 0:
        compare_with_litert("CONCATENATION", xs, [want.shape], opts)
        return
    # LiteRT refuses fused activations on CONCATENATION: NumPy is the reference.
    low, high = {1: (0, np.inf), 2: (-1, 1), 3: (0, 6)}[activation]
    content = one_op_model("CONCATENATION", xs, [want.shape], opts)
    (out,) = run(Interpreter(model_content=content), xs)
    np.testing.assert_array_equal(out, np.clip(want, low, high))


def test_concatenation_int():
    a, b = np.arange(6, dtype=np.int32).reshape(2, 3), -np.ones((2, 1), np.int32)
    opts = options("ConcatenationOptions", axis=-1)
    compare_with_litert("CONCATENATION", [a, b], [(2, 4)], opts, output_dtypes=[np.int32])


def test_concatenation_rejects():
    opts = options("ConcatenationOptions", axis=1)
    assert_fails(
        "CONCATENATION", [rand(2, 3), rand(3, 3)], [(2, 6)], opts, match="do not concatenate"
    )
    assert_fails(
        "CONCATENATION", [rand(2, 3), rand(2, 3, 1)], [(2, 6)], opts, match="do not concatenate"
    )
    opts = options("ConcatenationOptions", axis=2)
    assert_fails("CONCATENATION", [rand(2, 3), rand(2, 3)], [(2, 6)], opts, match="out of range")
    relu = options("ConcatenationOptions", axis=0, fused_activation_function=1)
    ints = [np.ones(2, np.int32)] * 2
    assert_fails("CONCATENATION", ints, [(4,)], relu, [np.int32], match="activation")


@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (2, 3, 4)])
@pytest.mark.parametrize("axis", [0, 1, -1, 2, -2])
@pytest.mark.parametrize("n", [1, 3])
def test_pack_unpack(shape, axis, n):
    if not -(len(shape) + 1) <= axis <= len(shape):
        return
    xs = [rand(*shape) for _ in range(n)]
    stacked = np.stack(xs, axis=axis)
    opts = options("PackOptions", values_count=n, axis=axis)
    compare_with_litert("PACK", xs, [stacked.shape], opts)
    if len(shape) > 0 and -len(shape) - 1 < axis <= len(shape):
        opts = options("UnpackOptions", num=n, axis=axis)
        parts = compare_with_litert("UNPACK", [stacked], [shape] * n, opts)
        for got, want in zip(parts, xs, strict=True):
            np.testing.assert_array_equal(got, want)


def test_pack_unpack_rejects():
    opts = options("PackOptions", values_count=2, axis=0)
    assert_fails("PACK", [rand(2), rand(3)], [(2, 2)], opts, match="share one shape")
    assert_fails("PACK", [rand(2)], [(1, 2)], opts, match="values_count")
    assert_fails(
        "PACK",
        [rand(2), rand(2)],
        [(2, 2)],
        options("PackOptions", values_count=2, axis=2),
        match="out of range",
    )
    opts = options("UnpackOptions", num=3, axis=1)
    assert_fails("UNPACK", [rand(3, 2)], [(3,)] * 3, opts, match="must agree")


@pytest.mark.parametrize(
    "shape, axis, n",
    [((6, 4), 0, 3), ((6, 4), 1, 2), ((2, 4, 6), -1, 3), ((1, 8, 8, 4), 3, 4), ((5,), 0, 1)],
)
@pytest.mark.parametrize("axis_dtype", [np.int32, np.int64])
def test_split(shape, axis, n, axis_dtype):
    x = rand(*shape)
    outs = [p.shape for p in np.split(x, n, axis)]
    opts = options("SplitOptions", num_splits=n)
    compare_with_litert("SPLIT", [Const(np.array(axis, axis_dtype)), x], outs, opts)


@pytest.mark.parametrize(
    "shape, sizes, axis",
    [((6, 4), (1, 2, 3), 0), ((6, 4), (3, -1), 1), ((2, 7, 3), (-1, 2, 0, 4), -2), ((5,), (5,), 0)],
)
def test_split_v(shape, sizes, axis):
    x = rand(*shape)
    real = [s if s != -1 else shape[axis] - sum(v for v in sizes if v != -1) for s in sizes]
    outs = [p.shape for p in np.split(x, np.cumsum(real)[:-1], axis)]
    opts = options("SplitVOptions", num_splits=len(sizes))
    compare_with_litert("SPLIT_V", [x, i32(*sizes), Const(np.array(axis, np.int32))], outs, opts)


def test_split_rejects():
    opts = options("SplitOptions", num_splits=4)
    assert_fails("SPLIT", [i32(0), rand(6, 2)], [(1, 2)] * 4, opts, match="does not split")
    assert_fails("SPLIT", [i32(2), rand(6, 2)], [(6, 1)] * 4, opts, match="out of range")
    opts = options("SplitVOptions", num_splits=2)
    assert_fails("SPLIT_V", [rand(6), i32(2, 3), i32(0)], [(2,), (3,)], opts, match="add up")
    assert_fails(
        "SPLIT_V", [rand(6), i32(-1, -1), i32(0)], [(2,), (3,)], opts, match="do not split"
    )


# -- SLICE, STRIDED_SLICE -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape, begin, size",
    [
        ((4, 5), (1, 2), (2, 3)),
        ((4, 5), (0, 0), (-1, -1)),
        ((4, 5), (3, 1), (1, -1)),
        ((2, 3, 4, 5), (1, 0, 2, 1), (1, 3, -1, 2)),
        ((6,), (6,), (0,)),
        ((6,), (2,), (4,)),
    ],
)
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_slice(shape, begin, size, dtype):
    out = tuple(n if n != -1 else d - b for d, b, n in zip(shape, begin, size, strict=True))
    b, s = Const(np.array(begin, dtype)), Const(np.array(size, dtype))
    compare_with_litert("SLICE", [rand(*shape), b, s], [out])


def test_slice_rejects():
    assert_fails("SLICE", [rand(4, 5), i32(-1, 0), i32(1, 1)], [(1, 1)], match="out of range")
    assert_fails("SLICE", [rand(4, 5), i32(2, 0), i32(3, 1)], [(3, 1)], match="out of range")
    assert_fails("SLICE", [rand(4, 5), i32(2), i32(1)], [(1, 1)], match="one entry per dimension")


def strided_slice(x, begin, end, strides, **masks):
    inputs = [x, i32(*begin), i32(*end), i32(*strides)]
    return compare_with_litert(
        "STRIDED_SLICE", inputs, [(1,)], options("StridedSliceOptions", **masks)
    )


X4 = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)


@pytest.mark.parametrize(
    "begin, end, strides, masks, expect",
    [
        ((0, 1, 1, 0), (2, 3, 3, 5), (1, 1, 1, 1), {}, X4[0:2, 1:3, 1:3, 0:5]),
        ((0, 0, 0, 0), (-1, -1, -1, -1), (1, 1, 1, 1), {}, X4[:-1, :-1, :-1, :-1]),
        ((-1, -1, -1, -1), (0, 0, 0, 0), (-1, -1, -1, -1), {}, X4[:0:-1, :0:-1, :0:-1, :0:-1]),
        ((1, 2, 3, 4), (0, 0, 0, 0), (1, 1, 1, 1), {"begin_mask": 15, "end_mask": 15}, X4),
        (
            (0, 0, 0, 0),
            (0, 0, 0, 0),
            (-1, -2, -3, -1),
            {"begin_mask": 15, "end_mask": 15},
            X4[::-1, ::-2, ::-3, ::-1],
        ),
        ((-9, -9, -9, -9), (9, 9, 9, 9), (1, 2, 3, 4), {}, X4[::1, ::2, ::3, ::4]),  # clamped
        ((9, 9, 9, 9), (-9, -9, -9, -9), (-1, -2, -1, -3), {}, X4[::-1, ::-2, ::-1, ::-3]),
        (
            (1, 0, 2, 0),
            (0, 0, 0, 0),
            (1, 1, 1, 1),
            {"shrink_axis_mask": 5, "end_mask": 10},
            X4[1, :, 2, :],
        ),
        ((-1, -1), (0, 0), (1, 1), {"shrink_axis_mask": 3}, X4[-1, -1]),
        ((-7,), (0,), (1,), {"shrink_axis_mask": 1}, X4[0]),  # a begin below -size clamps
        ((1,), (2,), (1,), {"shrink_axis_mask": 1, "begin_mask": 1}, X4[0]),
        ((0, 1), (0, 3), (1, 1), {"ellipsis_mask": 1}, X4[..., 1:3]),
        ((1, 0, 2), (2, 0, 5), (1, 1, 1), {"ellipsis_mask": 2}, X4[1:2, ..., 2:5]),
        (
            (1, 0, 2),
            (2, 0, 5),
            (1, 1, 2),
            {"ellipsis_mask": 2, "shrink_axis_mask": 1},
            X4[1, ..., 2:5:2],
        ),
        ((0, 1), (0, 2), (1, 1), {"new_axis_mask": 1}, X4[np.newaxis, 1:2]),
        ((0, 1, 0), (0, 2, 0), (1, 1, 1), {"new_axis_mask": 5}, X4[None, 1:2, None]),
        (
            (0, 0, 3),
            (0, 0, 4),
            (1, 1, 1),
            {"new_axis_mask": 1, "ellipsis_mask": 2},
            X4[None, ..., 3:4],
        ),
        (
            (0, 0, 2),
            (0, 0, 3),
            (1, 1, 1),
            {"new_axis_mask": 4, "ellipsis_mask": 1, "shrink_axis_mask": 2},
            X4[..., 0, None],
        ),
        ((0, 0), (0, 0), (1, 1), {"ellipsis_mask": 1, "new_axis_mask": 1}, X4[..., 0:0]),
        ((1,), (1,), (1,), {}, X4[1:1]),  # empty
        ((0, 0, 0, 0), (1, 2, 3, 4), (1, 1, 1, 1), {"offset": True}, X4[0:1, 0:2, 0:3, 0:4]),
        (
            (1, 2, -1, 4),
            (1, -2, -3, 1),
            (1, -1, -1, 1),
            {"offset": True},
            X4[1:2, 2:0:-1, 3:0:-1, 4:5],
        ),
        (
            (1, -2, 0, 1),
            (0, 2, 2, 4),
            (1, 1, 2, 1),
            {"offset": True, "shrink_axis_mask": 1, "begin_mask": 4},
            X4[1, 1:3, 0:2:2, 1:5],
        ),
    ],
)
def test_strided_slice_cases(begin, end, strides, masks, expect):
    (out,) = strided_slice(X4, begin, end, strides, **masks)
    np.testing.assert_array_equal(out, expect)


def random_slices(count, seed):
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(count):
        rank = int(rng.integers(1, 5))
        shape = tuple(int(v) for v in rng.integers(1, 6, rank))
        if rng.random() < 0.05:
            shape = (*shape[:-1], 0)
        n = int(rng.integers(1, rank + 2))
        begin, end = rng.integers(-7, 8, n).tolist(), rng.integers(-7, 8, n).tolist()
        strides = rng.choice([-3, -2, -1, 1, 1, 2, 3], n).tolist()

        def mask(p, n=n):
            return int(sum(1 << i for i in range(n) if rng.random() < p))

        masks = {
            "begin_mask": mask(0.2),
            "end_mask": mask(0.2),
            "shrink_axis_mask": mask(0.2),
            "new_axis_mask": mask(0.1),
        }
        if rng.random() < 0.3:
            masks["ellipsis_mask"] = 1 << int(rng.integers(0, n))
        cases.append((shape, begin, end, strides, masks))
    return cases


@pytest.mark.parametrize("shape, begin, end, strides, masks", random_slices(150, 7))
def test_strided_slice_random(shape, begin, end, strides, masks):
    x = rand(*shape)
    inputs = [x, i32(*begin), i32(*end), i32(*strides)]
    opts = options("StridedSliceOptions", **masks)
    content = one_op_model("STRIDED_SLICE", inputs, [(1,)], opts)
    try:
        Interpreter(model_content=content).allocate_tensors()
    except KernelError as e:
        # The one refusal: a shrunk axis LiteRT reads out of bounds (or never writes).
        assert "cannot shrink" in str(e)
        return
    strided_slice(x, begin, end, strides, **masks)


def test_strided_slice_rejects():
    x = rand(3, 4)
    opts = options("StridedSliceOptions", shrink_axis_mask=1)
    assert_fails("STRIDED_SLICE", [x, i32(3), i32(4), i32(1)], [()], opts, match="cannot shrink")
    assert_fails("STRIDED_SLICE", [x, i32(1), i32(0), i32(-1)], [()], opts, match="cannot shrink")
    assert_fails("STRIDED_SLICE", [x, i32(1), i32(2), i32(0)], [()], match="non-zero")
    assert_fails("STRIDED_SLICE", [x, i32(1, 1), i32(2), i32(1)], [()], match="differ in length")
    opts = options("StridedSliceOptions", offset=True)
    assert_fails(
        "STRIDED_SLICE", [x, i32(1), i32(2), i32(1)], [()], opts, match="one begin/end per"
    )
    assert_fails(
        "STRIDED_SLICE", [x, i32(2, 0), i32(2, 1), i32(1, 1)], [()], opts, match="reaches outside"
    )
    end = np.array([2], np.int32)
    assert_fails("STRIDED_SLICE", [x, i32(0), end, i32(1)], [()], match="constant")


# -- GATHER, GATHER_ND ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params, indices, axis, batch_dims",
    [
        ((5,), (3,), 0, 0),
        ((5, 3), (2, 4), 0, 0),
        ((5, 3), (4,), 1, 0),
        ((5, 3), (), 1, 0),
        ((2, 4, 3), (2, 2), -2, 0),
        ((2, 4, 3), (2, 5), 1, 1),
        ((2, 3, 4, 2), (2, 3, 2), 2, 2),
        ((2, 3, 4, 2), (2, 5), 2, 1),
        ((2, 3, 4, 2), (2, 5), -1, -1),
    ],
)
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@pytest.mark.parametrize("const", [False, True])
def test_gather(params, indices, axis, batch_dims, dtype, const):
    p = rand(*params)
    limit = params[axis]
    idx = RNG.integers(0, limit, indices).astype(dtype)
    bd = batch_dims + len(indices) if batch_dims < 0 else batch_dims
    a = axis % len(params)
    out = params[:a] + indices[bd:] + params[a + 1 :]
    opts = options("GatherOptions", axis=axis, batch_dims=batch_dims)
    compare_with_litert("GATHER", [p, Const(idx) if const else idx], [out], opts)


def test_gather_no_indices():
    p = rand(3, 4)
    compare_with_litert(
        "GATHER",
        [p, np.zeros((3, 0), np.int32)],
        [(3, 0)],
        options("GatherOptions", axis=1, batch_dims=1),
    )


def test_gather_int_params():
    p = np.arange(12, dtype=np.int32).reshape(4, 3)
    compare_with_litert(
        "GATHER", [p, np.array([3, 0, 3], np.int32)], [(3, 3)], None, output_dtypes=[np.int32]
    )


def test_gather_rejects():
    opts = options("GatherOptions", axis=2)
    assert_fails("GATHER", [rand(2, 3), i32(0)], [(2,)], opts, match="out of range")
    opts = options("GatherOptions", axis=0, batch_dims=1)
    assert_fails(
        "GATHER", [rand(2, 3), np.zeros((2, 1), np.int32)], [(2,)], opts, match="batch_dims"
    )
    assert_fails("GATHER", [rand(3), i32(0, 3)], [(2,)], match="out of range")
    assert_fails("GATHER", [rand(3), i32(-1)], [(1,)], match="out of range")
    assert_fails(
        "GATHER", [rand(3), Const(np.zeros(1, np.float32))], [(1,)], match="int32 or int64"
    )


def test_gather_bad_runtime_index():
    content = one_op_model("GATHER", [rand(3), np.zeros(2, np.int32)], [(2,)])
    interpreter = Interpreter(model_content=content)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[1]["index"], np.array([0, 3], np.int32))
    with pytest.raises(KernelError, match="out of range"):
        interpreter.invoke()


@pytest.mark.parametrize(
    "params, indices",
    [
        ((5,), (3, 1)),
        ((4, 3), (2, 2)),
        ((4, 3), (2, 1)),
        ((2, 3, 4), (5, 3)),
        ((2, 3, 4), (2, 2, 2)),
        ((2, 3, 4), (1,)),
        ((2, 3, 4), (0, 2)),
    ],
)
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_gather_nd(params, indices, dtype):
    p = rand(*params)
    depth = indices[-1]
    idx = np.stack([RNG.integers(0, params[d], indices[:-1]) for d in range(depth)], axis=-1)
    idx = idx.astype(dtype).reshape(indices)
    compare_with_litert("GATHER_ND", [p, idx], [indices[:-1] + params[depth:]])


def test_gather_nd_rejects():
    assert_fails("GATHER_ND", [rand(2, 3), i32(0, 0, 0)], [()], match="cannot index")
    assert_fails("GATHER_ND", [rand(2, 3), i32(1, 3)], [()], match="out of range")
    content = one_op_model("GATHER_ND", [rand(2, 3), np.zeros((1, 2), np.int32)], [(1,)])
    interpreter = Interpreter(model_content=content)
    interpreter.allocate_tensors()
    idx = interpreter.get_input_details()[1]["index"]
    interpreter.set_tensor(idx, np.array([[-1, 0]], np.int32))
    with pytest.raises(KernelError, match="out of range"):
        interpreter.invoke()


# -- SHAPE, FILL, ZEROS_LIKE, ONES_LIKE, RANGE ----------------------------------------------------


@pytest.mark.parametrize("shape", [(), (3,), (2, 3, 4), (1, 0, 2)])
@pytest.mark.parametrize(
    "dtype, code", [(np.int32, TensorType.INT32), (np.int64, TensorType.INT64)]
)
def test_shape(shape, dtype, code):
    opts = options("ShapeOptions", out_type=code)
    x = rand(*shape)
    if shape == ():  # LiteRT cannot hand out its empty output: checked against NumPy
        content = one_op_model("SHAPE", [x], [(0,)], opts, [dtype])
        (out,) = run(Interpreter(model_content=content), [x])
    else:
        (out,) = compare_with_litert("SHAPE", [x], [(len(shape),)], opts, output_dtypes=[dtype])
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, shape)


def test_shape_rejects():
    opts = options("ShapeOptions", out_type=TensorType.FLOAT32)
    assert_fails("SHAPE", [rand(2)], [(1,)], opts, match="int32 or int64")


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64])
def test_zeros_like(dtype):
    x = (rand(2, 3) * 5 + 1).astype(dtype)
    (out,) = compare_with_litert("ZEROS_LIKE", [x], [(2, 3)], output_dtypes=[dtype])
    assert not out.any()
    content = one_op_model("ZEROS_LIKE", [x], [(2, 3)], output_dtypes=[dtype])
    interpreter = Interpreter(model_content=content)
    interpreter.allocate_tensors()
    assert interpreter._main.steps == ()  # the output depends only on the shape: folded


@pytest.mark.parametrize("dims", [(2, 3), (4,), (1, 2, 3, 1), (0, 2)])
@pytest.mark.parametrize("value", [np.float32(2.5), np.int32(-3), np.int64(7), np.bool_(True)])
@pytest.mark.parametrize("const", [False, True])
def test_fill(dims, value, const):
    v = np.array(value)
    for dims_dtype in (np.int32, np.int64):
        inputs = [Const(np.array(dims, dims_dtype)), Const(v) if const else v]
        compare_with_litert("FILL", inputs, [dims], output_dtypes=[v.dtype])


def test_fill_rejects():
    value = np.array([1.0], np.float32)
    assert_fails("FILL", [i32(2), value], [(2,)], match="scalar")
    assert_fails("FILL", [i32(2, -1), np.array(1.0, np.float32)], [(2,)], match="sizes >= 0")
    assert_fails("FILL", [i32(2), np.array(1, np.int32)], [(2,)], match="output is float32")


@pytest.mark.parametrize(
    "start, limit, delta",
    [
        (0, 10, 1),
        (3, 18, 4),
        (10, -3, -3),
        (5, 5, 1),
        (0.1, 100.3, 0.7),
        (2.0, -1.5, -0.25),
        (-1.5, 7.0, 0.33333334),
        (7, 8, 5),
    ],
)
@pytest.mark.parametrize("int64", [False, True])
def test_range(start, limit, delta, int64):
    floats = any(isinstance(v, float) for v in (start, limit, delta))
    if floats and int64:
        return
    dtype = np.float32 if floats else (np.int64 if int64 else np.int32)
    inputs = [Const(np.array(v, dtype)) for v in (start, limit, delta)]
    n = len(np.arange(start, limit, delta, dtype=np.float64))
    if n == 0:  # LiteRT cannot hand out its empty output
        content = one_op_model("RANGE", inputs, [(0,)], output_dtypes=[dtype])
        (out,) = run(Interpreter(model_content=content), inputs)
        assert out.shape == (0,) and out.dtype == dtype
        return
    compare_with_litert("RANGE", inputs, [(n,)], output_dtypes=[dtype])


def test_range_rejects():
    three = [Const(np.array(v, np.int32)) for v in (0, 10, -1)]
    assert_fails("RANGE", three, [(1,)], None, [np.int32], match="wrong way")
    three = [Const(np.array(v, np.int32)) for v in (0, 10, 0)]
    assert_fails("RANGE", three, [(1,)], None, [np.int32], match="wrong way")
    three = [np.array(0, np.int32), Const(np.array(3, np.int32)), Const(np.array(1, np.int32))]
    assert_fails("RANGE", three, [(1,)], None, [np.int32], match="constant")


# -- TILE, BROADCAST_TO, SELECT, SELECT_V2 --------------------------------------------------------


@pytest.mark.parametrize(
    "shape, multiples",
    [
        ((2, 3), (1, 1)),
        ((2, 3), (2, 3)),
        ((3,), (4,)),
        ((1, 2, 3), (3, 1, 2)),
        ((2, 1, 2, 3), (1, 4, 1, 2)),
        ((2, 3), (0, 2)),
    ],
)
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_tile(shape, multiples, dtype):
    x = rand(*shape)
    compare_with_litert(
        "TILE", [x, Const(np.array(multiples, dtype))], [np.tile(x, multiples).shape]
    )


def test_tile_rejects():
    assert_fails("TILE", [rand(2, 3), i32(2)], [(4, 3)], match="do not fit")


@pytest.mark.parametrize(
    "shape, target",
    [
        ((3,), (2, 3)),
        ((3, 1), (3, 4)),
        ((1,), (2, 2, 2)),
        ((2, 1, 3), (4, 2, 5, 3)),
        ((2, 3), (2, 3)),
    ],
)
def test_broadcast_to(shape, target):
    # NOTE: this LiteRT build has no BROADCAST_TO kernel: NumPy is the reference.
    x = rand(*shape)
    content = one_op_model("BROADCAST_TO", [x, i32(*target)], [target])
    (out,) = run(Interpreter(model_content=content), [x, i32(*target)])
    np.testing.assert_array_equal(out, np.broadcast_to(x, target))


def test_broadcast_to_rejects():
    assert_fails("BROADCAST_TO", [rand(3), i32(2, 4)], [(2, 4)], match="does not broadcast")
    assert_fails("BROADCAST_TO", [rand(2, 3), i32(3)], [(3,)], match="does not broadcast")


@pytest.mark.parametrize("cond_shape", [(2, 3, 4), (2,)])
@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_select(cond_shape, dtype):
    cond = RNG.random(cond_shape) < 0.5
    x, y = (rand(2, 3, 4) * 10).astype(dtype), (rand(2, 3, 4) * 10).astype(dtype)
    compare_with_litert("SELECT", [cond, x, y], [(2, 3, 4)], output_dtypes=[dtype])


@pytest.mark.parametrize(
    "shapes",
    [
        ((2, 3), (2, 3), (2, 3)),
        ((), (2, 3), (2, 3)),
        ((2, 1), (1, 3), (2, 3)),
        ((3,), (2, 1), ()),
        ((1, 4, 1), (2, 1, 5), (5,)),
    ],
)
def test_select_v2(shapes):
    cond = RNG.random(shapes[0]) < 0.5
    x, y = rand(*shapes[1]), rand(*shapes[2])
    compare_with_litert("SELECT_V2", [cond, x, y], [np.broadcast_shapes(*shapes)])


def test_select_rejects():
    x = rand(2, 3)
    assert_fails("SELECT", [np.array(True), x, x], [(2, 3)], match="does not fit")
    assert_fails("SELECT", [np.ones(3, bool), x, x], [(2, 3)], match="does not fit")
    assert_fails("SELECT", [np.ones((2, 3), bool), x, rand(2, 1)], [(2, 3)], match="one shape")
    assert_fails("SELECT_V2", [np.ones(2, bool), x, x], [(2, 3)], match="do not broadcast")
    assert_fails("SELECT_V2", [np.ones(3), x, x], [(2, 3)], match="bool")


# -- SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND ---------------------------------------------------------


@pytest.mark.parametrize(
    "shape, block, pads",
    [
        ((1, 4, 4, 3), (2, 2), ((0, 0), (0, 0))),
        ((2, 5, 6, 2), (2, 3), ((1, 0), (2, 1))),
        ((1, 3, 3, 1), (2, 2), ((1, 0), (0, 1))),
        ((3, 6, 2), (3,), ((1, 2),)),
        ((2, 4, 4, 1), (1, 2), ((0, 0), (1, 1))),
    ],
)
def test_space_to_batch_and_back(shape, block, pads):
    x = rand(*shape)
    padded = [s + lo + hi for s, (lo, hi) in zip(shape[1:], pads, strict=False)]
    m = len(block)
    out = (shape[0] * int(np.prod(block)), *(p // b for p, b in zip(padded, block, strict=False)))
    out += shape[m + 1 :]
    paddings = Const(np.array(pads, np.int32))
    (batched,) = compare_with_litert("SPACE_TO_BATCH_ND", [x, i32(*block), paddings], [out])
    (back,) = compare_with_litert("BATCH_TO_SPACE_ND", [batched, i32(*block), paddings], [shape])
    np.testing.assert_array_equal(back, x)


@pytest.mark.parametrize(
    "shape, block, crops",
    [
        ((4, 2, 2, 1), (2, 2), ((0, 0), (0, 0))),
        ((8, 1, 3, 2), (2, 4), ((1, 0), (2, 3))),
        ((6, 3, 2), (3,), ((2, 1),)),
    ],
)
def test_batch_to_space(shape, block, crops):
    m = len(block)
    out = (shape[0] // int(np.prod(block)),)
    out += tuple(s * b - lo - hi for s, b, (lo, hi) in zip(shape[1:], block, crops, strict=False))
    out += shape[m + 1 :]
    compare_with_litert(
        "BATCH_TO_SPACE_ND", [rand(*shape), i32(*block), Const(np.array(crops, np.int32))], [out]
    )


def test_space_batch_rejects():
    pads = Const(np.zeros((2, 2), np.int32))
    assert_fails(
        "SPACE_TO_BATCH_ND",
        [rand(1, 3, 4, 1), i32(2, 2), pads],
        [(4, 1, 2, 1)],
        match="not a multiple",
    )
    assert_fails(
        "BATCH_TO_SPACE_ND",
        [rand(3, 2, 2, 1), i32(2, 2), pads],
        [(1, 4, 4, 1)],
        match="not a multiple",
    )
    assert_fails(
        "BATCH_TO_SPACE_ND",
        [rand(4, 2, 2, 1), i32(2, 2), Const(np.full((2, 2), 3, np.int32))],
        [(1, 1, 1, 1)],
        match="larger",
    )


# -- folding: a Keras-style dynamic-batch Flatten -------------------------------------------------


def flatten_model() -> bytes:
    """SHAPE -> STRIDED_SLICE(shrink) -> PACK(batch, -1) -> RESHAPE, as Keras' Flatten emits."""
    i32t, f32 = TensorType.INT32, TensorType.FLOAT32
    consts = [np.array(v, np.int32) for v in ([0], [1], [1], -1)]
    buffers = (Buffer(), *(Buffer(memoryview(c.tobytes())) for c in consts))
    tensors = (
        Tensor("x", (2, 3, 4, 5), f32, shape_signature=(-1, 3, 4, 5)),
        Tensor("shape", (4,), i32t),
        Tensor("begin", (1,), i32t, buffer=1),
        Tensor("end", (1,), i32t, buffer=2),
        Tensor("strides", (1,), i32t, buffer=3),
        Tensor("batch", (), i32t),
        Tensor("minus_one", (), i32t, buffer=4),
        Tensor("new_shape", (2,), i32t),
        Tensor("flat", (2, 60), f32, shape_signature=(-1, 60)),
    )
    ops = ("SHAPE", "STRIDED_SLICE", "PACK", "RESHAPE")
    codes = tuple(OperatorCode.for_builtin(BuiltinOperator[op]) for op in ops)
    nodes = (
        Operator(0, (0,), (1,), options("ShapeOptions", out_type=TensorType.INT32)),
        Operator(1, (1, 2, 3, 4), (5,), options("StridedSliceOptions", shrink_axis_mask=1)),
        Operator(2, (5, 6), (7,), options("PackOptions", values_count=2, axis=0)),
        Operator(3, (0, 7), (8,), options("ReshapeOptions", new_shape=(-1, 60))),
    )
    graph = SubGraph(tensors, (0,), (8,), nodes)
    return write_model(Model(operator_codes=codes, subgraphs=(graph,), buffers=buffers))


@pytest.mark.parametrize("batch", [2, 5])
def test_dynamic_flatten_folds(batch):
    content = flatten_model()
    x = rand(batch, 3, 4, 5)
    outs = []
    for interpreter in (Interpreter(model_content=content), litert_interpreter(content)):
        interpreter.resize_tensor_input(0, x.shape)
        interpreter.allocate_tensors()
        interpreter.set_tensor(0, x)
        interpreter.invoke()
        outs.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))
        if isinstance(interpreter, Interpreter):
            # SHAPE, STRIDED_SLICE and PACK fold at allocate: only the RESHAPE is left to run.
            assert [s.op_name for s in interpreter._main.steps] == ["RESHAPE"]
    assert outs[0].shape == outs[1].shape == (batch, 60)
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(outs[0], x.reshape(batch, 60))

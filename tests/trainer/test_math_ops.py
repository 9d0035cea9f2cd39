"""Every primitive and composite of math_ops.py and array_ops.py: tape gradients against
central differences in float64 on random shapes (hypothesis), second derivatives through
nested tapes, tensor basics, and the same gradients against torch.autograd where PyTorch
is importable."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import emberlite.trainer as et
from emberlite.errors import EmberliteError
from emberlite.trainer.ops import math_ops
from emberlite.trainer.ops.registry import OpError
from tests.trainer.gradcheck import check_gradients, tape_gradients

# Each example runs every function twice per input element (central differences): small
# shapes and few examples keep the file at a few seconds.
FEW = settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

seeds = st.integers(0, 2**32 - 1)
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3)
nonscalar_shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3)
pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3)


def uniform(seed: int, *shapes_: tuple[int, ...], low: float = -2.0, high: float = 2.0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(low, high, s) for s in shapes_]


def away_from_zero(seed: int, *shapes_: tuple[int, ...]):
    """Values in +-[0.5, 2]: safe to divide by, and |x| is smooth there."""
    rng = np.random.default_rng(seed)
    return [rng.uniform(0.5, 2.0, s) * rng.choice([-1.0, 1.0], s) for s in shapes_]


def assert_gradients(fn, *arrays, rtol: float = 1e-5, atol: float = 1e-7) -> None:
    """check_gradients, plus: each gradient has exactly its input's shape and dtype."""
    arrays = [np.asarray(a, np.float64) for a in arrays]
    _, grads = tape_gradients(fn, arrays)
    for k, (g, a) in enumerate(zip(grads, arrays, strict=True)):
        assert g is not None, f"input {k}: no gradient"
        assert (g.shape, g.dtype) == (a.shape, a.dtype), f"input {k}"
    check_gradients(fn, *arrays, rtol=rtol, atol=atol)


# -- binary arithmetic, broadcasting --------------------------------------------------------


@FEW
@given(pairs, seeds)
def test_add_subtract_multiply_broadcast(shapes_, seed):
    a, b = uniform(seed, *shapes_.input_shapes)
    assert_gradients(lambda x, y: et.add(x, y) * et.subtract(x, y) + et.multiply(x, y), a, b)


@FEW
@given(pairs, seeds)
def test_divide_broadcast(shapes_, seed):
    (a,) = uniform(seed, shapes_.input_shapes[0])
    (b,) = away_from_zero(seed + 1, shapes_.input_shapes[1])
    assert_gradients(et.divide, a, b)


@FEW
@given(pairs, seeds)
def test_pow_broadcast_in_base_and_exponent(shapes_, seed):
    (a,) = uniform(seed, shapes_.input_shapes[0], low=0.5, high=2.0)
    (b,) = uniform(seed + 1, shapes_.input_shapes[1])
    assert_gradients(et.pow, a, b)


def test_pow_gradients_at_nonpositive_bases():
    # d/da a^b is b a^(b-1) for any a; d/db is taken as 0 where a <= 0, as TF does.
    a, b = et.constant([-2.0, 0.0, 3.0]), et.constant([2.0, 2.0, 2.0])
    with et.GradientTape() as tape:
        tape.watch([a, b])
        y = a**b
    ga, gb = tape.gradient(y, [a, b])
    np.testing.assert_allclose(ga.numpy(), [-4.0, 0.0, 6.0])
    np.testing.assert_allclose(gb.numpy(), [0.0, 0.0, 9.0 * np.log(3.0)], rtol=1e-6)


@FEW
@given(pairs, seeds)
def test_maximum_minimum_broadcast(shapes_, seed):
    a, b = uniform(seed, *shapes_.input_shapes)
    assume(np.min(np.abs(np.subtract(a, b)), initial=1.0) > 1e-3)  # no ties: not smooth there
    assert_gradients(lambda x, y: et.maximum(x, y) * 2.0 + et.minimum(x, y), a, b)


def test_maximum_minimum_ties_send_the_gradient_to_the_first_input():
    a, b = et.constant([1.0, 2.0]), et.constant([1.0, 2.0])
    for op in (et.maximum, et.minimum):
        with et.GradientTape() as tape:
            tape.watch([a, b])
            y = op(a, b)
        ga, gb = tape.gradient(y, [a, b])
        np.testing.assert_array_equal(ga.numpy(), [1.0, 1.0])
        np.testing.assert_array_equal(gb.numpy(), [0.0, 0.0])


@FEW
@given(pairs, seeds)
def test_squared_difference_broadcast(shapes_, seed):
    a, b = uniform(seed, *shapes_.input_shapes)
    assert_gradients(et.squared_difference, a, b)


@FEW
@given(hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=3), seeds)
def test_where_broadcast(shapes_, seed):
    cond_shape, x_shape, y_shape = shapes_.input_shapes
    cond = np.random.default_rng(seed).random(cond_shape) > 0.5
    x, y = uniform(seed, x_shape, y_shape)
    assert_gradients(lambda a, b: et.where(cond, a * a, b), x, y)


def test_where_condition_gets_no_gradient_and_python_numbers_are_branches():
    x = et.constant([1.0, -2.0, 3.0])
    with et.GradientTape() as tape:
        tape.watch(x)
        y = et.where(x > 0, x * 3.0, 0.0)
    np.testing.assert_array_equal(y.numpy(), [3.0, 0.0, 9.0])
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [3.0, 0.0, 3.0])


# -- unary math -------------------------------------------------------------------------------

UNARY = {
    "negative": (et.negative, uniform),
    "exp": (et.exp, uniform),
    "log": (et.log, lambda seed, s: uniform(seed, s, low=0.2, high=3.0)),
    "sqrt": (et.sqrt, lambda seed, s: uniform(seed, s, low=0.2, high=3.0)),
    "tanh": (et.tanh, uniform),
    "abs": (et.abs, away_from_zero),
    "sin": (et.sin, uniform),
    "cos": (et.cos, uniform),
    "square": (et.square, uniform),
    "rsqrt": (et.rsqrt, lambda seed, s: uniform(seed, s, low=0.2, high=3.0)),
    "reciprocal": (math_ops.reciprocal, away_from_zero),
    "log1p": (math_ops.log1p, lambda seed, s: uniform(seed, s, low=-0.5, high=3.0)),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@settings(FEW, max_examples=5)
@given(shapes, seeds)
def test_unary_gradients(name, shape, seed):
    fn, values = UNARY[name]
    (x,) = values(seed, shape)
    assert_gradients(fn, x)


@pytest.mark.parametrize("name", sorted(math_ops.UFUNCS))
def test_numpy_ufuncs_on_tensors_run_our_ops(name):
    ufunc = getattr(np, name)
    a, b = np.array([[0.5, 2.0], [3.0, 2.0]]), np.array([[1.5, 2.5], [0.25, 4.0]])
    args = (a, b)[: ufunc.nin]
    got = ufunc(*[et.constant(x) for x in args])
    assert isinstance(got, et.Tensor)
    expected = ufunc(*args)
    assert got.dtype == expected.dtype
    np.testing.assert_allclose(got.numpy().astype(float), expected.astype(float), rtol=1e-15)
    if got.dtype.kind == "f" and name != "sign":
        assert_gradients(lambda *xs: ufunc(*xs), *args)


def test_ufunc_reductions_and_logical_ops():
    x = np.array([[1.0, -2.0, 3.0], [0.5, 4.0, -1.0]])
    t = et.constant(x)
    for fn in (np.sum, np.max, np.min):
        got = fn(t, axis=1)
        assert isinstance(got, et.Tensor)
        np.testing.assert_array_equal(got.numpy(), fn(x, axis=1))
    np.testing.assert_array_equal(np.add.reduce(t).numpy(), x.sum(0))
    p, q = x > 0, x < 2
    np.testing.assert_array_equal(et.logical_and(p, q).numpy(), p & q)
    np.testing.assert_array_equal(et.logical_or(p, q).numpy(), p | q)
    np.testing.assert_array_equal(et.less_equal(x, 1.0).numpy(), x <= 1.0)
    np.testing.assert_array_equal(et.greater(x, 1.0).numpy(), x > 1.0)


def test_zeros_ones_and_likes():
    assert (et.zeros((2, 3)).dtype, et.ones([4]).shape) == (np.float32, (4,))
    assert et.zeros((1,), np.int8).dtype == np.int8
    t = et.constant(np.arange(6, dtype=np.int16).reshape(2, 3))
    for fn, value in ((et.zeros_like, 0), (et.ones_like, 1)):
        like = fn(t)
        assert (like.shape, like.dtype) == (t.shape, t.dtype)
        np.testing.assert_array_equal(like.numpy(), np.full((2, 3), value))


def test_non_differentiable_ops_pass_no_gradient():
    x = et.constant([1.5, -0.5])
    with et.GradientTape(persistent=True) as tape:
        tape.watch(x)
        outs = [
            math_ops.sign(x) * 1.0,
            math_ops.floor(x) * 1.0,
            math_ops.round(x) * 1.0,
            et.stop_gradient(x) * 2.0,
            et.cast(et.argmax(x), np.float32) * 1.0,
        ]
    for y in outs:
        assert tape.gradient(y, x) is None
    np.testing.assert_array_equal(math_ops.round(et.constant([0.5, 1.5, 2.5])).numpy(), [0, 2, 2])


# -- reductions -------------------------------------------------------------------------------


@st.composite
def shape_and_axis(draw, min_dims: int = 1):
    shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=3, min_side=1, max_side=3))
    ndim = len(shape)
    axis = draw(
        st.none()
        | st.integers(-ndim, ndim - 1)
        | st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim).map(
            lambda axes: [a - ndim if a % 2 else a for a in axes]  # some counted from the end
        )
    )
    return shape, axis, draw(st.booleans())


REDUCTIONS = {
    "reduce_sum": (et.reduce_sum, np.sum),
    "reduce_mean": (et.reduce_mean, np.mean),
    "reduce_max": (et.reduce_max, np.max),
    "reduce_min": (et.reduce_min, np.min),
    "reduce_variance": (et.reduce_variance, np.var),
    "reduce_logsumexp": (
        et.reduce_logsumexp,
        lambda x, axis, keepdims: np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims)),
    ),
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@settings(FEW, max_examples=8)
@given(shape_and_axis(), seeds)
def test_reductions(name, case, seed):
    shape, axis, keepdims = case
    ours, reference = REDUCTIONS[name]
    (x,) = uniform(seed, shape)
    np_axis = None if axis is None else tuple(np.atleast_1d(axis))
    np.testing.assert_allclose(
        ours(x, axis, keepdims).numpy(), reference(x, axis=np_axis, keepdims=keepdims), rtol=1e-12
    )
    assert_gradients(lambda t: ours(t, axis, keepdims), x)


def test_reduce_max_and_min_ties_share_the_gradient():
    x = et.constant([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    with et.GradientTape(persistent=True) as tape:
        tape.watch(x)
        hi, lo = et.reduce_max(x, axis=1), et.reduce_min(x, axis=1)
    expected_hi = [[0.0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]]
    np.testing.assert_allclose(tape.gradient(hi, x).numpy(), expected_hi, rtol=1e-6)
    expected_lo = [[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]]
    np.testing.assert_allclose(tape.gradient(lo, x).numpy(), expected_lo, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint32, np.int8, np.int32, np.int64, np.bool_])
def test_reduce_min_of_integers_is_exact_at_the_extremes(dtype):
    # Regression: reduce_min was -max(-x), which wraps for unsigned ints and INT_MIN.
    values = (
        np.array([[True, False], [True, True]])
        if dtype is np.bool_
        else np.array([[np.iinfo(dtype).min, 5], [np.iinfo(dtype).max, 7]], dtype)
    )
    x = np.asarray(values, dtype)
    for axis in (None, 0, 1):
        got = et.reduce_min(x, axis=axis)
        assert got.dtype == x.dtype
        np.testing.assert_array_equal(got.numpy(), np.min(x, axis=axis))
    np.testing.assert_array_equal(np.min(et.constant(x), axis=1).numpy(), np.min(x, axis=1))


def test_reduction_axis_out_of_range_is_an_error():
    # Regression: axis 2 of a rank-2 tensor silently meant axis 0.
    x = et.constant(np.ones((2, 3)))
    for fn in (et.reduce_sum, et.reduce_max, et.reduce_min, et.reduce_mean):
        with pytest.raises(OpError, match="axis 2 is out of range for a tensor of rank 2"):
            fn(x, axis=2)
        with pytest.raises(OpError, match="axis -3"):
            fn(x, axis=[0, -3])


def test_argmax():
    x = np.array([[1.0, 5.0, 5.0], [7.0, 0.0, 7.0]])
    for axis in (0, 1, -1):
        got = et.argmax(x, axis=axis)
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got.numpy(), np.argmax(x, axis=axis))


# -- matmul -----------------------------------------------------------------------------------


@FEW
@given(
    hnp.mutually_broadcastable_shapes(signature="(m,n),(n,p)->(m,p)", max_dims=4, max_side=3),
    st.booleans(),
    st.booleans(),
    seeds,
)
def test_matmul_with_broadcast_batches(shapes_, transpose_a, transpose_b, seed):
    a_shape, b_shape = (list(s) for s in shapes_.input_shapes)
    if transpose_a:
        a_shape[-2:] = a_shape[-1], a_shape[-2]
    if transpose_b:
        b_shape[-2:] = b_shape[-1], b_shape[-2]
    a, b = uniform(seed, tuple(a_shape), tuple(b_shape))
    expected = np.matmul(
        np.swapaxes(a, -1, -2) if transpose_a else a, np.swapaxes(b, -1, -2) if transpose_b else b
    )
    mm = lambda x, y: et.matmul(x, y, transpose_a=transpose_a, transpose_b=transpose_b)  # noqa: E731
    np.testing.assert_allclose(mm(a, b).numpy(), expected, rtol=1e-12)
    assert_gradients(mm, a, b)


def test_matmul_rank_error_names_the_shapes():
    with pytest.raises(ValueError, match=r"rank >= 2, got shapes \[3\] and \[3, 2\]"):
        et.matmul(np.ones(3), np.ones((3, 2)))


# -- cast ---------------------------------------------------------------------------------------


def test_cast_gradient_comes_back_in_the_source_dtype():
    x = et.constant(np.array([1.5, -2.0]))  # float64
    with et.GradientTape() as tape:
        tape.watch(x)
        y = et.cast(x, np.float32) * et.constant([2.0, 3.0])
    g = tape.gradient(y, x)
    assert g.dtype == np.float64
    np.testing.assert_array_equal(g.numpy(), [2.0, 3.0])


def test_cast_through_an_integer_stops_the_gradient():
    x = et.constant([1.5, 2.5])
    with et.GradientTape() as tape:
        tape.watch(x)
        y = et.cast(et.cast(x, np.int32), np.float32) * x
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [1.0, 2.0])


def test_cast_values():
    x = np.array([-1.7, 0.0, 2.5, 300.0])
    for dtype in (np.int32, np.uint8, np.float16, np.bool_):
        got = et.cast(x, dtype)
        assert got.dtype == dtype
        np.testing.assert_array_equal(got.numpy(), x.astype(dtype))


def test_mixed_dtype_op_gives_each_input_a_gradient_of_its_own_dtype():
    # Regression: float32 * float64 sent a float64 gradient to the float32 input.
    a, b = et.constant([1.0, 2.0]), et.constant(np.array([3.0, 4.0]))
    with et.GradientTape() as tape:
        tape.watch([a, b])
        y = a * b
    ga, gb = tape.gradient(y, [a, b])
    assert (y.dtype, ga.dtype, gb.dtype) == (np.float64, np.float32, np.float64)
    np.testing.assert_array_equal(ga.numpy(), [3.0, 4.0])


# -- movement ---------------------------------------------------------------------------------


@FEW
@given(nonscalar_shapes, st.data(), seeds)
def test_reshape(shape, data, seed):
    size = int(np.prod(shape))
    target = data.draw(st.sampled_from([(size,), shape[::-1], (1, *shape), (-1,), (size, 1)]))
    (x,) = uniform(seed, shape)
    np.testing.assert_array_equal(et.reshape(x, target).numpy(), np.reshape(x, target))
    assert_gradients(lambda t: et.reshape(t, target) * et.reshape(t, target), x)


@FEW
@given(nonscalar_shapes, st.data(), seeds)
def test_transpose(shape, data, seed):
    perm = data.draw(st.permutations(range(len(shape))))
    (x,) = uniform(seed, shape)
    np.testing.assert_array_equal(et.transpose(x, perm).numpy(), np.transpose(x, perm))
    np.testing.assert_array_equal(et.transpose(x).numpy(), np.transpose(x))
    assert_gradients(lambda t: et.transpose(t, perm) ** 2, x)


@st.composite
def broadcast_source(draw):
    target = draw(nonscalar_shapes)
    drop = draw(st.integers(0, len(target)))
    kept = target[drop:]
    source = tuple(d if draw(st.booleans()) else 1 for d in kept)
    return source, target


@FEW
@given(broadcast_source(), seeds)
def test_broadcast_to(shapes_, seed):
    source, target = shapes_
    (x,) = uniform(seed, source)
    np.testing.assert_array_equal(et.broadcast_to(x, target).numpy(), np.broadcast_to(x, target))
    assert_gradients(lambda t: et.broadcast_to(t, target) ** 2, x)


@FEW
@given(nonscalar_shapes, st.data(), seeds)
def test_expand_dims_and_squeeze(shape, data, seed):
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    (x,) = uniform(seed, shape)
    expanded = et.expand_dims(x, axis)
    assert expanded.shape == np.expand_dims(x, axis).shape
    assert et.squeeze(expanded, axis).shape == shape
    assert et.squeeze(x).shape == np.squeeze(x).shape
    assert_gradients(lambda t: et.squeeze(et.expand_dims(t, axis) ** 2), x)


def test_squeeze_of_a_long_axis_is_an_error():
    with pytest.raises(OpError, match=r"squeeze: axis 1 of shape \[1, 2\] is not 1"):
        et.squeeze(np.ones((1, 2)), 1)


@st.composite
def split_case(draw):
    shape = draw(nonscalar_shapes)
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    n = shape[axis]
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=3)))
    sizes = [b - a for a, b in zip([0, *cuts], [*cuts, n], strict=True)]
    return shape, axis, sizes


@FEW
@given(split_case(), seeds)
def test_split_and_concat(case, seed):
    shape, axis, sizes = case
    (x,) = uniform(seed, shape)
    parts = et.split(x, sizes, axis)
    expected = np.split(x, np.cumsum(sizes)[:-1], axis=axis)
    assert [p.shape for p in parts] == [e.shape for e in expected]
    # Some parts unused, some used twice: the unused get zero gradient, the others add up.
    assert_gradients(lambda t: et.concat(et.split(t, sizes, axis)[::-2] * 2, axis) ** 2, x)


def test_split_into_equal_parts_and_its_errors():
    x = np.arange(12.0).reshape(3, 4)
    assert [p.shape for p in et.split(x, 2, axis=1)] == [(3, 2), (3, 2)]
    with pytest.raises(OpError, match=r"split: axis 1 of shape \[3, 4\] does not split into 3"):
        et.split(x, 3, axis=1)
    with pytest.raises(OpError, match=r"sizes \[1, 1\] do not add up to 4"):
        et.split(x, [1, 1], axis=1)
    with pytest.raises(OpError, match="concat: ranks differ"):
        et.concat([x, np.ones(3)], 0)


@FEW
@given(nonscalar_shapes, st.data(), st.integers(1, 3), seeds)
def test_stack_and_unstack(shape, data, n, seed):
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    xs = uniform(seed, *[shape] * n)
    np.testing.assert_array_equal(et.stack(xs, axis).numpy(), np.stack(xs, axis))
    assert_gradients(lambda *ts: et.stack(ts, axis) ** 2, *xs)
    parts = et.unstack(xs[0], axis=axis % len(shape))
    assert len(parts) == shape[axis % len(shape)]
    assert_gradients(lambda t: et.stack(et.unstack(t, -1)[::-1], 0) ** 2, xs[0])


@FEW
@given(nonscalar_shapes, st.data(), seeds)
def test_tile(shape, data, seed):
    multiples = data.draw(st.lists(st.integers(1, 3), min_size=len(shape), max_size=len(shape)))
    (x,) = uniform(seed, shape)
    np.testing.assert_array_equal(et.tile(x, multiples).numpy(), np.tile(x, multiples))
    assert_gradients(lambda t: et.tile(t, multiples) ** 2, x)


@FEW
@given(nonscalar_shapes, st.data(), st.floats(-2, 2), seeds)
def test_pad(shape, data, fill, seed):
    pads = data.draw(
        st.lists(
            st.tuples(st.integers(0, 2), st.integers(0, 2)),
            min_size=len(shape),
            max_size=len(shape),
        )
    )
    (x,) = uniform(seed, shape)
    np.testing.assert_array_equal(
        et.pad(x, pads, constant_values=fill).numpy(), np.pad(x, pads, constant_values=fill)
    )
    assert_gradients(lambda t: et.pad(t, pads, constant_values=fill) ** 2, x)


def test_pad_needs_one_pair_per_axis():
    with pytest.raises(OpError, match=r"pad: 1 paddings for a tensor of shape \[2, 2\]"):
        et.pad(np.ones((2, 2)), [[1, 1]])


# -- indexing ---------------------------------------------------------------------------------


@FEW
@given(
    nonscalar_shapes.flatmap(
        lambda s: st.tuples(st.just(s), hnp.basic_indices(s, allow_newaxis=True))
    ),
    seeds,
)
def test_getitem_basic_slices(case, seed):
    shape, index = case
    (x,) = uniform(seed, shape)
    np.testing.assert_array_equal(et.constant(x)[index].numpy(), x[index])
    assert_gradients(lambda t: t[index] * t[index], x)


@pytest.mark.parametrize(
    "index",
    [
        (slice(None, None, -1),),
        (slice(None, None, -2), slice(3, 0, -1)),
        (Ellipsis, slice(-1, -4, -2)),
        (1, slice(None, None, -1)),
        (slice(-2, None), None, slice(None, 2)),
    ],
)
def test_getitem_negative_steps(index):
    x = np.random.default_rng(0).standard_normal((3, 4))
    np.testing.assert_array_equal(et.constant(x)[index].numpy(), x[index])
    assert_gradients(lambda t: t[index] ** 2, x)


@FEW
@given(nonscalar_shapes, st.data(), seeds)
def test_getitem_advanced_indices_repeat_and_accumulate(shape, data, seed):
    n = shape[0]
    rows = data.draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=5))
    (x,) = uniform(seed, shape)
    index = (np.array(rows),) + (slice(None, None, -1),) * (len(shape) > 1)
    np.testing.assert_array_equal(et.constant(x)[index].numpy(), x[index])
    assert_gradients(lambda t: t[index] ** 2, x)


def test_getitem_repeated_indices_accumulate_exactly():
    x = et.constant([1.0, 2.0, 3.0])
    with et.GradientTape() as tape:
        tape.watch(x)
        y = x[[0, 0, 2, -1]]
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [2.0, 0.0, 2.0])


def test_getitem_with_two_index_arrays_a_boolean_mask_and_tensor_indices():
    x = np.random.default_rng(2).standard_normal((3, 4))
    cases = [
        (np.array([0, 2, 2]), np.array([1, 1, -1])),
        x > 0,
        (et.constant([2, 0]),),
        (slice(None), et.constant(np.array([3, 3, 0]))),
    ]
    for index in cases:
        plain = index
        if isinstance(index, tuple):
            plain = tuple(i.numpy() if isinstance(i, et.Tensor) else i for i in index)
        np.testing.assert_array_equal(et.constant(x)[index].numpy(), x[plain])
        assert_gradients(lambda t, index=index: t[index] ** 2, x)


@FEW
@given(nonscalar_shapes, st.data(), seeds)
def test_gather(shape, data, seed):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    n = shape[axis]
    indices = data.draw(
        hnp.arrays(
            np.int64,
            hnp.array_shapes(min_dims=0, max_dims=2, max_side=3),
            elements=st.integers(0, n - 1),
        )
    )
    (x,) = uniform(seed, shape)
    np.testing.assert_array_equal(
        et.gather(x, indices, axis).numpy(), np.take(x, indices, axis=axis)
    )
    assert_gradients(lambda t: et.gather(t, indices, axis) ** 2, x)


def test_gather_out_of_range_is_an_error():
    with pytest.raises(OpError, match=r"gather: indices out of range \[0, 3\)"):
        et.gather(np.ones((3, 2)), [0, 3])
    with pytest.raises(OpError, match="gather: axis 2 is out of range"):
        et.gather(np.ones((3, 2)), [0], axis=2)


# -- second derivatives (nested tapes vs finite differences of the first gradient) ------------


def gradient_of(fn):
    """x -> the tape's d(sum fn(x))/dx, computed under any outer tape (so it can be
    differentiated again)."""

    def grad(*xs):
        with et.GradientTape() as tape:
            tape.watch(list(xs))
            y = fn(*xs)
        grads = tape.gradient(y, list(xs))
        return grads[0] if len(xs) == 1 else et.concat([et.reshape(g, [-1]) for g in grads], 0)

    return grad


_x = np.random.default_rng(3).uniform(-1.5, 1.5, (3, 4))
SECOND_ORDER = {
    "logsumexp": (lambda x: et.reduce_logsumexp(x * x, axis=1), _x),
    "tanh_matmul": (lambda x: et.tanh(et.matmul(x, et.transpose(x))), _x[:, :2]),
    "variance": (lambda x: et.reduce_variance(x, axis=0) * et.reduce_mean(x), _x[:, :2]),
    "softplus": (lambda x: et.log(1.0 + et.exp(x)) * et.sin(x), _x[:2, :3]),
    "pow_rsqrt": (lambda x: et.pow(x * x + 1.0, 1.5) + et.rsqrt(x * x + 1.0), _x[0]),
    "slices_pad_gather": (
        lambda x: et.pad(x[::-1] * et.gather(x, [2, 0, 0]), [[1, 2]]) ** 2,
        _x[1, :3],
    ),
    "where_maximum_divide": (  # away from the kinks at 0 and -0.5
        lambda x: et.where(x > 0, x * x * x, et.maximum(x, -0.5) * x) / (x * x + 1.0),
        np.array([-1.2, -0.3, 0.4, 1.1, -0.8]),
    ),
    "concat_split_broadcast": (
        lambda x: et.reduce_sum(
            et.broadcast_to(et.concat(et.split(x, 2, axis=0)[::-1], 0), (2, 4)) ** 3, axis=0
        ),
        _x[2],
    ),
}


@pytest.mark.parametrize("name", sorted(SECOND_ORDER))
def test_second_derivatives(name):
    fn, x = SECOND_ORDER[name]
    check_gradients(gradient_of(fn), x, rtol=1e-5, atol=1e-6)


def test_second_derivative_of_a_two_input_function():
    check_gradients(
        gradient_of(lambda a, b: et.pow(a, b) * et.exp(a * b)),
        np.array([0.6, 1.3, 0.9]),
        np.array([1.2, -0.4, 0.5]),
        rtol=1e-5,
        atol=1e-6,
    )


# -- tensor basics ------------------------------------------------------------------------------


def test_dtype_defaults():
    assert et.constant(1.0).dtype == np.float32
    assert et.constant([1.0, 2]).dtype == np.float32
    assert et.constant(1).dtype == np.int32
    assert et.constant(True).dtype == np.bool_
    assert et.Variable(0.5).dtype == np.float32
    for dtype in (np.float16, np.float64, np.int8, np.int64, np.uint16, np.bool_):
        assert et.constant(np.zeros(2, dtype)).dtype == dtype
        assert et.constant(np.zeros((), dtype)[()]).dtype == dtype  # NumPy scalars too
    assert et.constant(1.0, dtype=np.float64).dtype == np.float64
    assert et.constant([[1, 2]], shape=(3, 2)).shape == (3, 2)


def test_shape_ndim_size_len_and_iteration():
    t = et.constant(np.arange(6.0).reshape(2, 3))
    assert (t.shape, t.ndim, t.size, len(t)) == ((2, 3), 2, 6, 2)
    assert [row.shape for row in t] == [(3,), (3,)]
    np.testing.assert_array_equal(t.T.numpy(), np.arange(6.0).reshape(2, 3).T)  # regression
    assert et.constant(2.0).shape == ()
    with pytest.raises(TypeError, match="len"):
        len(et.constant(2.0))


def test_numpy_is_read_only_and_asarray_cannot_change_the_tensor():
    t = et.constant([1.0, 2.0])
    with pytest.raises(ValueError, match="read-only"):
        t.numpy()[0] = 5.0
    with pytest.raises(ValueError, match="read-only"):
        np.asarray(t)[0] = 5.0
    copy = np.array(t)  # a writable copy
    copy[0] = 5.0
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0])
    assert np.asarray(t, np.float64).dtype == np.float64


def test_a_tensor_does_not_follow_later_changes_to_its_numpy_source():
    # Regression: constant() kept the caller's array, so changing it changed the tensor.
    source = np.array([1.0, 2.0])
    t, v = et.constant(source), et.Variable(source)
    source[0] = 9.0
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(v.numpy(), [1.0, 2.0])


def test_numpy_arrays_are_accepted_wherever_tensors_are():
    a, b = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[0.5], [2.0]])
    results = {
        "add": (et.add(a, b), a + b),
        "matmul": (et.matmul(a, b), a @ b),
        "reduce_sum": (et.reduce_sum(a, axis=0), a.sum(0)),
        "concat": (et.concat([a, et.constant(b * 0 + 1)], 1), np.concatenate([a, b * 0 + 1], 1)),
        "where": (et.where(a > 2, a, b), np.where(a > 2, a, b)),
        "gather": (et.gather(a, np.array([1, 1])), a[[1, 1]]),
        "reshape": (et.reshape(a, np.array([4])), a.reshape(4)),
        "maximum": (et.maximum(a, b), np.maximum(a, b)),
    }
    for name, (ours, expected) in results.items():
        assert isinstance(ours, et.Tensor), name
        np.testing.assert_array_equal(ours.numpy(), expected, err_msg=name)


@pytest.mark.parametrize(
    "op",
    [
        lambda x, y: x + y,
        lambda x, y: x - y,
        lambda x, y: x * y,
        lambda x, y: x / y,
        lambda x, y: x**y,
        lambda x, y: x @ y,
        lambda x, y: x < y,
        lambda x, y: x >= y,
        lambda x, y: x == y,
        lambda x, y: x != y,
    ],
)
def test_operators_with_numpy_arrays_on_either_side_give_tensors(op):
    a = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    b = np.array([[2.0, 0.5], [1.0, 4.0]], np.float32)
    for left, right in ((et.constant(a), b), (a, et.constant(b)), (et.constant(a), et.constant(b))):
        got = op(left, right)
        assert isinstance(got, et.Tensor)
        expected = op(a, b)
        assert got.dtype == expected.dtype
        np.testing.assert_allclose(got.numpy().astype(float), expected.astype(float), rtol=1e-6)


def test_operators_with_numpy_arrays_are_differentiable():
    x = et.Variable([1.0, 2.0])
    w = np.array([3.0, 4.0], np.float32)
    with et.GradientTape() as tape:
        y = (
            w * x
            + x / w
            - (w - x) ** 2
            + et.reshape(np.reshape(w, (1, 2)) @ et.reshape(x, (2, 1)), ())
        )
    expected = w + 1 / w + 2 * (w - x.numpy()) + 2 * w  # the scalar w.x is in both elements
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), expected, rtol=1e-6)


def test_python_numbers_take_the_tensor_dtype_and_floats_do_not_truncate_into_ints():
    assert (et.constant(np.ones(2, np.float16)) * 2.5).dtype == np.float16
    assert (3 - et.constant(np.ones(2, np.int8))).dtype == np.int8
    # Regression: int32 tensor * 2.5 silently multiplied by 2.
    with pytest.raises(TypeError, match="cannot convert 2.5 to a tensor of int32"):
        et.constant([1, 2]) * 2.5
    with pytest.raises(TypeError, match="int32"):
        0.5 + et.constant([1, 2])


def test_variable_assign_semantics():
    v = et.Variable([1.0, 2.0], name="v")
    read = v.read_value()
    snapshots = [
        v * 1.0,
        et.reshape(v, (2,)),
        et.cast(v, np.float32),
        et.transpose(v),
        et.broadcast_to(v, (2,)),
        et.split(v, 1)[0],
    ]
    assert v.assign([3.0, 4.0]) is v
    np.testing.assert_array_equal(v.numpy(), [3.0, 4.0])
    # Regression: the identity-shaped ops returned the Variable itself, so they followed it.
    for s in [read, *snapshots]:
        assert not isinstance(s, et.Variable)
        np.testing.assert_array_equal(s.numpy(), [1.0, 2.0])
    v.assign_add(np.array([1.0, 1.0]))
    v.assign_sub(et.constant([0.5, 0.5]))
    np.testing.assert_array_equal(v.numpy(), [3.5, 4.5])
    assert v.dtype == np.float32
    with pytest.raises(EmberliteError, match=r"shape \[1\] to variable 'v' of shape \[2\]"):
        v.assign([1.0])
    with pytest.raises(EmberliteError, match="expected a tensor of float32, got float64"):
        v.assign(et.constant(np.zeros(2)))


def test_identity_shaped_ops_on_a_variable_are_still_differentiated():
    v = et.Variable([1.0, 2.0])
    with et.GradientTape() as tape:
        y = et.reshape(v, (2,)) * et.cast(v, np.float32)
    np.testing.assert_array_equal(tape.gradient(y, v).numpy(), [2.0, 4.0])


# -- against torch.autograd ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip(
        "torch", reason="PyTorch is not installed (pip install torch==2.13.0) for the comparison"
    )


def _torch_cases(torch):
    F = torch.nn.functional  # noqa: N806
    return {
        "exp_tanh_abs": (
            lambda x, y: et.exp(x) * et.tanh(y) + et.abs(x - y),
            lambda x, y: torch.exp(x) * torch.tanh(y) + torch.abs(x - y),
            [(3, 1), (1, 4)],
        ),
        "log_sqrt_divide_pow": (
            lambda x, y: et.log(x * x + 1) / et.sqrt(y * y + 1) + (x * x + 0.5) ** y,
            lambda x, y: torch.log(x * x + 1) / torch.sqrt(y * y + 1) + (x * x + 0.5) ** y,
            [(2, 3), (3,)],
        ),
        "logsumexp_variance": (
            lambda x: et.reduce_logsumexp(x, axis=1) + et.reduce_variance(x, axis=1),
            lambda x: torch.logsumexp(x, 1) + torch.var(x, 1, unbiased=False),
            [(3, 4)],
        ),
        "max_min_mean_with_ties": (
            lambda x: (
                et.reduce_max(math_ops.round(x), axis=0) * et.reduce_min(x, 1, True)
                + et.reduce_mean(x)
            ),
            lambda x: torch.amax(torch.round(x), 0) * torch.amin(x, 1, True) + torch.mean(x),
            [(4, 3)],
        ),
        "batched_matmul": (
            lambda a, b: et.matmul(a, b, transpose_b=True),
            lambda a, b: torch.matmul(a, b.transpose(-1, -2)),
            [(2, 3, 4), (5, 4)],
        ),
        "where_maximum_minimum": (
            lambda x, y: et.where(x > 0, et.maximum(x, y), et.minimum(x, y) * y),
            lambda x, y: torch.where(x > 0, torch.maximum(x, y), torch.minimum(x, y) * y),
            [(3, 3), (3, 3)],
        ),
        "getitem_gather_repeats": (
            lambda x: x[[0, 0, 2], ::-1] * et.gather(x, [1, 1, 0], axis=1)[:, 0:1],
            lambda x: (
                x[[0, 0, 2]].flip(1) * torch.index_select(x, 1, torch.tensor([1, 1, 0]))[:3, 0:1]
            ),
            [(3, 4)],
        ),
        "pad_concat_split_transpose": (
            lambda x: (
                et.transpose(
                    et.concat(
                        et.split(et.pad(x, [[1, 0], [0, 2]], constant_values=0.5), [1, 3], 1)[::-1],
                        1,
                    )
                )
                ** 2
            ),
            lambda x: (
                torch.cat(torch.split(F.pad(x, (0, 2, 1, 0), value=0.5), [1, 3], 1)[::-1], 1).T ** 2
            ),
            [(2, 2)],
        ),
        "stack_tile_broadcast": (
            lambda x: et.stack([x, et.tile(x[:1], [2, 1])], 1) * et.broadcast_to(x[:, :1], (2, 3)),
            lambda x: (
                torch.stack([x, x[:1].repeat(2, 1)], 1) * torch.broadcast_to(x[:, :1], (2, 3))
            ),
            [(2, 3)],
        ),
    }


def test_gradients_match_torch_autograd(torch):
    rng = np.random.default_rng(5)
    for name, (ours, theirs, input_shapes) in _torch_cases(torch).items():
        arrays = [rng.uniform(-1.5, 1.5, s) for s in input_shapes]
        if name == "max_min_mean_with_ties":
            arrays = [np.round(arrays[0] * 2) / 2]  # exact ties
        y_ours = ours(*[et.constant(a) for a in arrays]).numpy()
        weights = rng.standard_normal(y_ours.shape)
        y_ours, grads = tape_gradients(ours, arrays, weights)
        xs = [torch.tensor(a, requires_grad=True) for a in arrays]
        y_theirs = theirs(*xs)
        expected = torch.autograd.grad((y_theirs * torch.tensor(weights)).sum(), xs)
        np.testing.assert_allclose(y_ours, y_theirs.detach().numpy(), rtol=1e-12, err_msg=name)
        for k, (g, e) in enumerate(zip(grads, expected, strict=True)):
            np.testing.assert_allclose(g, e.numpy(), rtol=1e-10, atol=1e-12, err_msg=f"{name} {k}")


def test_second_derivatives_match_torch(torch):
    x = np.random.default_rng(6).uniform(-1.0, 1.0, (3, 4))
    v = np.random.default_rng(7).standard_normal((3, 4))
    ours = gradient_of(lambda t: et.reduce_logsumexp(et.tanh(t) * t, axis=1))
    _, (hvp,) = tape_gradients(ours, [x], v)
    xt = torch.tensor(x, requires_grad=True)
    (g,) = torch.autograd.grad(torch.logsumexp(torch.tanh(xt) * xt, 1).sum(), xt, create_graph=True)
    (expected,) = torch.autograd.grad((g * torch.tensor(v)).sum(), xt)
    np.testing.assert_allclose(hvp, expected.numpy(), rtol=1e-10, atol=1e-12)

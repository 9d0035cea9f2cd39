"""emberlite.trainer.numpy against NumPy: the same code run by both modules gives the same
values (and dtypes), and ours is differentiable (tape vs central differences)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import emberlite.trainer as et
import emberlite.trainer.numpy as tnp
from emberlite.trainer.ops.registry import OpError
from tests.trainer.gradcheck import check_gradients, tape_gradients

A, B, C = (3, 4), (4,), (2, 3, 4)


def values(shape, domain: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if domain == "positive":
        return rng.uniform(0.3, 2.0, shape)
    if domain == "nonzero":
        return rng.uniform(0.3, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    if domain == "small":
        return rng.uniform(-1.2, 1.2, shape)
    return rng.uniform(-2.0, 2.0, shape)


# name: (code run with m = numpy and m = emberlite.trainer.numpy, input shapes, domain)
CASES = {
    "add": (lambda m, x, y: m.add(x, y), [A, B], "any"),
    "subtract": (lambda m, x, y: m.subtract(y, x), [A, B], "any"),
    "multiply": (lambda m, x, y: m.multiply(x, y), [A, B], "any"),
    "divide": (lambda m, x, y: m.divide(x, y), [A, B], "nonzero"),
    "true_divide": (lambda m, x: m.true_divide(1.0, x), [A], "nonzero"),
    "power": (lambda m, x, y: m.power(x, y), [A, B], "positive"),
    "power_scalar": (lambda m, x: m.power(x, 3) + m.power(2.0, x), [A], "any"),
    "maximum": (lambda m, x, y: m.maximum(x, y), [A, B], "any"),
    "minimum": (lambda m, x, y: m.minimum(x, y), [A, B], "any"),
    "clip": (lambda m, x: m.clip(x, -0.5, 0.7) + m.clip(x, None, 0.2), [A], "any"),
    "where": (lambda m, x, y: m.where(x > 0, x * y, -y), [A, B], "any"),
    "negative_positive": (lambda m, x: m.negative(x) * m.positive(x), [A], "any"),
    "absolute": (lambda m, x: m.abs(x) + m.absolute(x), [A], "nonzero"),
    "square": (lambda m, x: m.square(x), [A], "any"),
    "reciprocal": (lambda m, x: m.reciprocal(x), [A], "nonzero"),
    "exp": (lambda m, x: m.exp(x), [A], "any"),
    "expm1": (lambda m, x: m.expm1(x), [A], "any"),
    "exp2": (lambda m, x: m.exp2(x), [A], "any"),
    "log": (lambda m, x: m.log(x), [A], "positive"),
    "log1p": (lambda m, x: m.log1p(x), [A], "positive"),
    "log2": (lambda m, x: m.log2(x), [A], "positive"),
    "log10": (lambda m, x: m.log10(x), [A], "positive"),
    "sqrt": (lambda m, x: m.sqrt(x), [A], "positive"),
    "sin_cos_tan": (lambda m, x: m.sin(x) * m.cos(x) + m.tan(x), [A], "small"),
    "tanh_sinh_cosh": (lambda m, x: m.tanh(x) + m.sinh(x) * m.cosh(x), [A], "any"),
    "sum": (lambda m, x: m.sum(x), [C], "any"),
    "sum_axis": (lambda m, x: m.sum(x, axis=(0, -1), keepdims=True), [C], "any"),
    "mean": (lambda m, x: m.mean(x, axis=1), [C], "any"),
    "max": (lambda m, x: m.max(x, axis=-1) + m.amax(x), [C], "any"),
    "min": (lambda m, x: m.min(x, axis=0, keepdims=True) + m.amin(x), [C], "any"),
    "prod": (lambda m, x: m.prod(x, axis=1), [C], "any"),
    "prod_all_keepdims": (lambda m, x: m.prod(x, keepdims=True), [A], "any"),
    "var": (lambda m, x: m.var(x, axis=(0, 2)), [C], "any"),
    "std_ddof": (lambda m, x: m.std(x, axis=1, ddof=1, keepdims=True), [C], "any"),
    "cumsum": (lambda m, x: m.cumsum(x, axis=-1) + m.cumsum(x, axis=0), [C], "any"),
    "cumsum_flat": (lambda m, x: m.cumsum(x), [A], "any"),
    "dot_vector": (lambda m, x, y: m.dot(x, y), [A, B], "any"),
    "dot_nd": (lambda m, x, y: m.dot(y, m.transpose(x, (1, 2, 0))), [C, B], "any"),
    "dot_matrix_scalar": (lambda m, x: m.dot(m.dot(x, x.T), 0.5), [A], "any"),
    "matmul": (lambda m, x, y: m.matmul(x, m.swapaxes(x, -1, -2)) + m.matmul(y, y), [C, B], "any"),
    "matmul_vectors": (
        lambda m, x, y: m.matmul(x, y)[..., None] * m.matmul(y[:3], x)[:, None],
        [C, B],
        "any",
    ),
    "inner_outer": (lambda m, x, y: m.inner(x, y)[:, None] * m.outer(y[:3], y), [A, B], "any"),
    "tensordot": (lambda m, x, y: m.tensordot(x, y, axes=([0, 2], [1, 0])), [C, (4, 2, 5)], "any"),
    "tensordot_int": (lambda m, x, y: m.tensordot(x, y, 1), [C, (4, 2)], "any"),
    "reshape_ravel": (lambda m, x: m.reshape(x, (4, -1)) * m.ravel(x)[:6], [C], "any"),
    "transpose": (lambda m, x: m.transpose(x) + m.transpose(x, (2, 1, 0)), [C], "any"),
    "moveaxis": (lambda m, x: m.moveaxis(x, [0, -1], [-1, 1]), [C], "any"),
    "expand_squeeze": (lambda m, x: m.squeeze(m.expand_dims(x, (0, 2)), 2), [A], "any"),
    "concatenate": (lambda m, x, y: m.concatenate([x, y[None, :], x[:1]], axis=0), [A, B], "any"),
    "concatenate_flat": (lambda m, x, y: m.concatenate([x, y], axis=None), [A, B], "any"),
    "stack": (lambda m, x, y: m.stack([x[0], y, x[2]], axis=-1), [A, B], "any"),
    "vstack_hstack": (lambda m, x, y: m.vstack([x, y]) * m.hstack([y, y])[:4], [A, B], "any"),
    "split_sections": (lambda m, x: m.concatenate(m.split(x, 2, axis=1)[::-1], 1), [A], "any"),
    "split_indices": (lambda m, x: m.concatenate(m.split(x, [1, 3], -1)[::-1], -1), [A], "any"),
    "split_unsorted": (lambda m, x: m.concatenate(m.split(x, [3, 1, 9], -1), -1), [A], "any"),
    "take": (lambda m, x: m.take(x, [2, 0, 2], axis=1) + m.take(x, [[1], [-1], [5]]), [A], "any"),
    "pad": (lambda m, x: m.pad(x, ((1, 0), (2, 1)), constant_values=0.5), [A], "any"),
    "pad_int": (lambda m, x: m.pad(x, 1), [C], "any"),
    "tile": (lambda m, x, y: m.tile(x, (2, 1, 2)) * m.tile(y, 2), [A, B], "any"),
    "repeat": (lambda m, x: m.repeat(x, [1, 0, 3], axis=0) + m.repeat(x, 2)[:4], [A], "any"),
    "broadcast": (
        lambda m, x, y: m.broadcast_to(y, (2, 3, 4)) * m.broadcast_arrays(x, y)[0],
        [A, B],
        "any",
    ),
    "flip": (lambda m, x: m.flip(x) + m.flip(x, 1), [A], "any"),
    "roll": (lambda m, x: m.roll(x, 2) * m.roll(x, (1, -5), axis=(0, 1)), [A], "any"),
    "tril_triu": (lambda m, x: m.tril(x, -1) + m.triu(x, 1) * 2.0, [C], "any"),
}

NOT_DIFFERENTIABLE = {
    "sign_floor_ceil_round": (
        lambda m, x: m.sign(x) + m.floor(x) + m.ceil(x) + m.round(x, 1) + m.around(x),
        [A],
        "any",
    ),
    "argmax_argmin": (
        lambda m, x: m.argmax(x) + m.argmax(x, axis=1) + m.argmin(x, axis=1, keepdims=True),
        [A],
        "any",
    ),
    "comparisons": (
        lambda m, x, y: m.stack(
            [
                m.equal(x, x[0]),
                m.not_equal(x, y),
                m.less(x, y),
                m.less_equal(x, 0.5),
                m.greater(x, y),
                m.greater_equal(x, y),
                m.logical_and(x > 0, y),
                m.logical_or(x > 1, x < -1),
                m.logical_xor(x > 0, y > 0),
                m.logical_not(x > 0),
            ]
        ),
        [A, B],
        "any",
    ),
    "isnan_isinf_isfinite": (
        lambda m, x: m.stack(
            [m.isnan(x / x), m.isinf(m.divide(1.0, m.where(x > 0, x, 0.0))), m.isfinite(x)]
        ),
        [A],
        "any",
    ),
    "all_any": (lambda m, x: m.stack([m.all(x > -1.5, axis=0), m.any(x > 1.5, 0)]), [A], "any"),
    "nonzero": (lambda m, x: m.stack(m.nonzero(x > 0)), [A], "any"),
    "where_one_argument": (lambda m, x: m.where(x > 0)[1], [A], "any"),
}


def _run(module, case, arrays):
    fn, _, _ = case
    inputs = [np.asarray(a) for a in arrays]
    if module is tnp:
        inputs = [et.constant(a) for a in inputs]
    with np.errstate(divide="ignore", invalid="ignore"):
        return fn(module, *inputs)


@pytest.mark.parametrize("name", sorted(CASES) + sorted(NOT_DIFFERENTIABLE))
def test_values_and_dtypes_match_numpy(name):
    case = CASES.get(name) or NOT_DIFFERENTIABLE[name]
    arrays = [values(s, case[2], seed) for seed, s in enumerate(case[1])]
    ours, expected = _run(tnp, case, arrays), np.asarray(_run(np, case, arrays))
    assert isinstance(ours, et.Tensor)
    assert (ours.shape, ours.dtype) == (expected.shape, expected.dtype)
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients_match_finite_differences(name):
    fn, shapes, domain = CASES[name]
    arrays = [values(s, domain, seed) for seed, s in enumerate(shapes)]
    check_gradients(lambda *xs: fn(tnp, *xs), *arrays, rtol=1e-5, atol=1e-7)


def test_gradient_of_the_docstring_example():
    x = et.Variable([1.0, 2.0, 3.0])
    with et.GradientTape() as tape:
        y = tnp.sum(tnp.square(x - tnp.mean(x)))
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [-2.0, 0.0, 2.0], rtol=1e-6)


# -- inputs and dtypes --------------------------------------------------------------------------


def test_numpy_arrays_python_numbers_and_lists_are_accepted_and_give_tensors():
    a = np.array([[1.0, -2.0], [3.0, 4.0]])
    results = [
        tnp.add(a, 1),
        tnp.add(1, 2.5),
        tnp.exp([0.0, 1.0]),
        tnp.sum(a),
        tnp.max(3.0),
        tnp.matmul(a, [[1.0], [2.0]]),
        tnp.concatenate([a, [[5.0, 6.0]]]),
        tnp.where([True, False], 1.0, a),
        tnp.clip(a, 0, 2),
        tnp.asarray(a),
        tnp.reshape(a, 4),
    ]
    for r in results:
        assert isinstance(r, et.Tensor)
    np.testing.assert_array_equal(results[1].numpy(), 3.5)
    np.testing.assert_array_equal(results[-2].numpy(), a)


def test_lists_of_tensors_are_stacked_differentiably():
    x, y = et.Variable(2.0), et.Variable(3.0)
    with et.GradientTape() as tape:
        v = tnp.array([[x, 1.0], [y, x * y]])
        z = tnp.sum(v * v)
    assert v.shape == (2, 2)
    gx, gy = tape.gradient(z, [x, y])
    assert (float(gx), float(gy)) == (2 * 2.0 + 2 * 2.0 * 9.0, 2 * 3.0 + 2 * 3.0 * 4.0)


def test_dtype_rules():
    f32, f64, i32 = np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int32)
    ints = np.arange(4, dtype=np.int32)
    assert tnp.array(1.0).dtype == f32 and tnp.array(1).dtype == i32
    assert tnp.array(np.float64(1.0)).dtype == f64  # NumPy scalars keep their dtype
    assert tnp.asarray(ints, np.float64).dtype == f64
    assert tnp.array([1, 2], ndmin=3).shape == (1, 1, 2)
    assert tnp.zeros(3).dtype == f32 and tnp.ones((2, 2), np.int8).dtype == np.int8
    assert tnp.zeros_like(ints).dtype == i32 and tnp.ones_like(ints, np.float64).dtype == f64
    assert tnp.full((2,), 7).dtype == i32 and tnp.full_like(ints, 2.7).dtype == i32
    assert tnp.arange(5).dtype == i32 and tnp.arange(0.0, 1.0, 0.5).dtype == f32
    assert tnp.linspace(0, 1, 3).dtype == f32 and tnp.eye(2).dtype == f32
    # Python numbers beside tensors are weak (NEP 50); integer math promotes to float32.
    assert tnp.multiply(np.ones(2, np.float16), 2.5).dtype == np.float16
    assert tnp.add(ints, 2).dtype == i32
    assert tnp.multiply(ints, 0.5).dtype == f32
    assert tnp.divide(ints, 2).dtype == f32
    assert tnp.sqrt(ints).dtype == f32 and tnp.mean(ints).dtype == f32
    assert tnp.add(np.array([True]), 1).dtype == i32
    # NumPy arrays and scalars are strong, as in NumPy.
    assert tnp.add(np.ones(2, np.float32), np.float64(1.0)).dtype == f64
    # sum, prod and cumsum of small ints accumulate in int64, as NumPy does.
    assert tnp.sum(ints).dtype == np.int64 and tnp.prod(ints).dtype == np.int64
    assert tnp.cumsum(np.array([True, True])).dtype == np.int64
    np.testing.assert_array_equal(tnp.multiply(ints, 0.5).numpy(), ints * 0.5)


def test_creation_values():
    np.testing.assert_array_equal(tnp.arange(2, 11, 3).numpy(), np.arange(2, 11, 3))
    np.testing.assert_array_equal(tnp.arange(et.constant(4)).numpy(), np.arange(4))
    np.testing.assert_allclose(tnp.arange(1.0, 2.0, 0.25).numpy(), np.arange(1.0, 2.0, 0.25))
    np.testing.assert_array_equal(tnp.eye(3, 4, k=1).numpy(), np.eye(3, 4, k=1))
    np.testing.assert_array_equal(tnp.identity(2).numpy(), np.identity(2))
    np.testing.assert_array_equal(tnp.full((2, 3), 1.5).numpy(), np.full((2, 3), 1.5))
    np.testing.assert_array_equal(tnp.zeros((2, 0)).numpy(), np.zeros((2, 0)))
    got, step = tnp.linspace(-1.0, 2.0, 7, retstep=True)
    expected, expected_step = np.linspace(-1.0, 2.0, 7, retstep=True)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(float(step), expected_step, rtol=1e-6)
    np.testing.assert_allclose(
        tnp.linspace([0, 1], 4, 4, endpoint=False, axis=1).numpy(),
        np.linspace([0, 1], 4, 4, endpoint=False, axis=1),
        rtol=1e-6,
    )


def test_linspace_is_differentiable_in_tensor_endpoints():
    lo, hi = np.array([0.0, 1.0]), np.array(3.0)
    fn = lambda a, b: tnp.linspace(a, b, 5, axis=-1)  # noqa: E731
    np.testing.assert_allclose(
        fn(et.constant(lo), et.constant(hi)).numpy(), np.linspace(lo, hi, 5, axis=-1), rtol=1e-12
    )
    assert fn(et.constant(lo), et.constant(hi)).numpy()[1, -1] == 3.0  # exactly the end
    check_gradients(fn, lo, hi)
    check_gradients(lambda a, b: tnp.linspace(a, b, 4, endpoint=False), lo, hi)


def test_full_is_differentiable_in_a_tensor_fill_value():
    check_gradients(lambda v: tnp.full((2, 3), v) * tnp.full_like(np.ones(3), v), np.array(1.5))


# -- special cases ------------------------------------------------------------------------------


def test_prod_gradients_are_exact_at_zeros_and_negatives():
    x = np.array([[2.0, 0.0, -3.0, 0.5, -1.0], [0.0, 0.0, 4.0, 1.0, 2.0]])
    _, (g,) = tape_gradients(lambda t: tnp.prod(t, axis=1), [x])
    products_of_others = np.array(
        [[np.prod(np.delete(row, j)) for j in range(5)] for row in x]
    )  # d prod / d x_j
    np.testing.assert_array_equal(g, products_of_others)
    check_gradients(lambda t: tnp.prod(t, axis=0) * tnp.prod(t), x)
    assert tnp.prod(np.ones((2, 0))).numpy() == 1.0
    np.testing.assert_array_equal(tnp.prod(np.ones((0, 3)), axis=0).numpy(), [1.0, 1.0, 1.0])


def test_expm1_log1p_and_sinh_keep_their_digits_near_zero():
    tiny = np.array([1e-12, -3e-9, 2e-5])
    np.testing.assert_allclose(tnp.expm1(tiny).numpy(), np.expm1(tiny), rtol=1e-15)
    np.testing.assert_allclose(tnp.log1p(tiny).numpy(), np.log1p(tiny), rtol=1e-15)
    np.testing.assert_allclose(tnp.sinh(tiny).numpy(), np.sinh(tiny), rtol=1e-14)
    check_gradients(lambda t: tnp.expm1(t) * tnp.log1p(t), tiny)


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.uint8, np.uint64, np.bool_, np.float32])
def test_argmin_and_min_at_the_extremes_of_integer_dtypes(dtype):
    if dtype is np.bool_:
        x = np.array([True, False, True, False])
    elif np.dtype(dtype).kind == "f":
        x = np.array([1.0, np.nan, -np.inf, np.nan], dtype)
    else:
        info = np.iinfo(dtype)
        x = np.array([info.max, 0, info.min, info.min], dtype)
    assert int(tnp.argmin(x)) == int(np.argmin(x))
    assert int(tnp.argmax(x)) == int(np.argmax(x))
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(tnp.min(x).numpy(), np.min(x))


def test_maximum_and_min_propagate_nan():
    x = np.array([1.0, np.nan, 3.0])
    assert np.isnan(tnp.maximum(x, 2.0).numpy()[1])
    assert np.isnan(tnp.max(x).numpy()) and np.isnan(tnp.min(x).numpy())


def test_split_returns_the_pieces_numpy_does():
    x = np.arange(12.0).reshape(3, 4)
    for sections in (2, [1, 3], [3, 1], [-1], [0, 0, 9]):
        ours, expected = tnp.split(x, sections, axis=1), np.split(x, sections, axis=1)
        assert len(ours) == len(expected)
        for o, e in zip(ours, expected, strict=True):
            np.testing.assert_array_equal(o.numpy(), e)


def test_errors_name_the_function_and_the_shapes():
    with pytest.raises(OpError, match="sum: axis 3 is out of range for a tensor of rank 2"):
        tnp.sum(np.ones((2, 2)), axis=3)
    with pytest.raises(OpError, match=r"tensordot: axes \[1\] of shape \[2, 3\] and \[0\]"):
        tnp.tensordot(np.ones((2, 3)), np.ones((4, 2)), 1)
    with pytest.raises(OpError, match="matmul: scalar operand"):
        tnp.matmul(2.0, np.ones((2, 2)))
    with pytest.raises(OpError, match="repeated axis"):
        tnp.sum(np.ones((2, 2)), axis=(0, -2))
    with pytest.raises(OpError, match="split"):
        tnp.split(np.ones((3,)), 2)
    with pytest.raises(NotImplementedError, match="reflect"):
        tnp.pad(np.ones(3), 1, mode="reflect")
    with pytest.raises(ValueError, match="both x and y"):
        tnp.where([True], 1.0)


# -- random shapes --------------------------------------------------------------------------------


@st.composite
def array_and_axis(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3))
    axis = draw(
        st.none()
        | st.integers(-len(shape), len(shape) - 1)
        | st.lists(st.integers(0, len(shape) - 1), unique=True, min_size=1).map(tuple)
    )
    return shape, axis, draw(st.booleans()), draw(st.integers(0, 2**32 - 1))


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "prod", "var", "std", "all", "any"])
@settings(
    max_examples=8, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(array_and_axis())
def test_reductions_on_random_shapes(name, case):
    shape, axis, keepdims, seed = case
    x = values(shape, "nonzero", seed)
    ours = getattr(tnp, name)(x, axis=axis, keepdims=keepdims)
    expected = np.asarray(getattr(np, name)(x, axis=axis, keepdims=keepdims))
    assert (ours.shape, ours.dtype) == (expected.shape, expected.dtype)
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-12)
    reduced = np.prod([shape[a] for a in np.atleast_1d(axis)]) if axis is not None else x.size
    if name not in ("all", "any") and not (name == "std" and reduced == 1):  # sqrt'(0): nan
        check_gradients(lambda t: getattr(tnp, name)(t, axis=axis, keepdims=keepdims), x)

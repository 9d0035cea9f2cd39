"""The numba CPU kernels of the NN ops against their NumPy references (nn_ops.*_reference)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emberlite.trainer.kernels import cpu
from emberlite.trainer.ops import nn_ops

DTYPES = [np.float32, np.float64]
# the fixture below only sets module attributes: sharing it across examples is fine
FIXTURE_OK = HealthCheck.function_scoped_fixture


@st.composite
def windows(draw, dilate: bool = True, max_size: int = 7):
    """A sliding-window geometry over a small NHWC input: (shape, kernel, strides, dilations,
    pads), pads as nn_ops computes them for SAME, VALID or explicit padding."""
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    strides = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilations = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilate else (1, 1)
    spans = [(k - 1) * d + 1 for k, d in zip(kernel, dilations, strict=True)]
    size = tuple(draw(st.integers(s, max(s, max_size))) for s in spans)
    shape = (draw(st.integers(1, 2)), *size, draw(st.integers(1, 3)))
    mode = draw(st.sampled_from(["SAME", "VALID", "EXPLICIT"]))
    if mode == "EXPLICIT":
        # explicit pads smaller than the window, so that no window is all padding
        padding = (
            [[0, 0]] + [[draw(st.integers(0, k - 1)) for _ in "ab"] for k in kernel] + [[0, 0]]
        )
    else:
        padding = mode
    pads, _ = nn_ops._padding(padding, size, kernel, strides, dilations, "test", False, "")
    return shape, kernel, strides, dilations, pads


@pytest.fixture
def split_small_work(monkeypatch):
    """Make the kernels split even tiny inputs over threads (and run more threads than rows)."""
    monkeypatch.setattr(cpu, "MIN_WORK_PER_THREAD", 1)
    monkeypatch.setattr(cpu, "threads", lambda: 3)


def _random(shape, dtype, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=25, deadline=None, suppress_health_check=[FIXTURE_OK])
@given(case=windows(), seed=st.integers(0, 2**16))
def test_im2col_and_col2im_match_the_reference(split_small_work, dtype, case, seed):
    shape, kernel, strides, dilations, pads = case
    x = _random(shape, dtype, seed)
    expected = nn_ops.im2col_reference(x, kernel, strides, dilations, pads)
    cols = np.full(expected.shape, np.nan, dtype)
    cpu.im2col(x, cols, 0, kernel, strides, dilations, pads)
    np.testing.assert_array_equal(cols, expected)

    dcols = _random(expected.shape, dtype, seed + 1)
    expected_dx = nn_ops.col2im_reference(dcols, shape, kernel, strides, dilations, pads)
    dx = np.full(shape, np.nan, dtype)
    cpu.col2im(dcols, dx, 0, kernel, strides, dilations, pads)
    rtol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(dx, expected_dx, rtol=rtol, atol=rtol)


def test_im2col_and_col2im_work_on_a_chunk_of_the_batch():
    x = _random((5, 6, 6, 2), np.float32)
    geometry = ((3, 3), (2, 1), (1, 2), (1, 1, 2, 2))
    full = nn_ops.im2col_reference(x, *geometry)
    cols = np.empty((2, *full.shape[1:]), np.float32)
    cpu.im2col(x, cols, 3, *geometry)
    np.testing.assert_array_equal(cols, full[3:5])
    dx = np.full(x.shape, 7.0, np.float32)
    cpu.col2im(full[1:3], dx, 1, *geometry)
    expected = nn_ops.col2im_reference(full[1:3], (2, 6, 6, 2), *geometry)
    np.testing.assert_allclose(dx[1:3], expected, rtol=1e-6)
    assert (dx[[0, 3, 4]] == 7.0).all()  # the other images are left alone


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=25, deadline=None, suppress_health_check=[FIXTURE_OK])
@given(case=windows(dilate=False), seed=st.integers(0, 2**16))
def test_pooling_matches_the_reference(split_small_work, dtype, case, seed):
    shape, ksize, strides, _, pads = case
    x = _random(shape, dtype, seed)
    out_hw = nn_ops._out_hw(shape, ksize, strides, (1, 1), pads)
    dy = _random((shape[0], *out_hw, shape[3]), dtype, seed + 1)
    rtol = 1e-6 if dtype == np.float32 else 1e-13

    y = cpu.max_pool2d(x, ksize, strides, pads, out_hw)
    np.testing.assert_array_equal(y, nn_ops.max_pool2d_reference(x, ksize, strides, pads))
    np.testing.assert_allclose(
        cpu.max_pool2d_grad(x, dy, ksize, strides, pads),
        nn_ops.max_pool2d_grad_reference(x, dy, ksize, strides, pads),
        rtol=rtol,
        atol=rtol,
    )
    np.testing.assert_allclose(
        cpu.avg_pool2d(x, ksize, strides, pads, out_hw),
        nn_ops.avg_pool2d_reference(x, ksize, strides, pads),
        rtol=rtol,
        atol=rtol,
    )
    np.testing.assert_allclose(
        cpu.avg_pool2d_grad(dy, shape, ksize, strides, pads),
        nn_ops.avg_pool2d_grad_reference(dy, shape, ksize, strides, pads),
        rtol=rtol,
        atol=rtol,
    )


def test_max_pool_ties_and_nans_go_to_the_first_element():
    x = np.zeros((1, 2, 4, 2))
    x[0, 1, 3, 0] = np.nan  # channel 0, second window: NaN wins (np.max's choice)
    dy = np.arange(1.0, 5.0).reshape(1, 1, 2, 2)
    args = ((2, 2), (2, 2), (0, 0, 0, 0))
    y = cpu.max_pool2d(x, *args, (1, 2))
    np.testing.assert_array_equal(y, nn_ops.max_pool2d_reference(x, *args))
    assert np.isnan(y[0, 0, 1, 0]) and y[0, 0, 0, 0] == 0
    dx = cpu.max_pool2d_grad(x, dy, *args)
    np.testing.assert_array_equal(dx, nn_ops.max_pool2d_grad_reference(x, dy, *args))
    # all-zero windows: the gradient goes to the first (top-left) element
    assert dx[0, 0, 0, 0] == 1 and dx[0, 0, 0, 1] == 2 and dx[0, 0, 2, 1] == 4
    assert dx[0, 1, 3, 0] == 3  # the NaN's window
    assert np.count_nonzero(dx) == 4


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_grad_matches_numpy(split_small_work, dtype):
    x = _random((3, 5, 7), dtype)
    x[0, 0, :3] = [0.0, 6.0, -0.0]
    g = _random(x.shape, dtype, 1)
    for cap in (np.inf, 6.0):
        np.testing.assert_array_equal(cpu.relu_grad(g, x, cap), np.where((x > 0) & (x < cap), g, 0))


def test_erf_is_accurate_and_matches_the_reference(split_small_work):
    z = np.concatenate([np.linspace(-7, 7, 2001), [0.0, -0.0, 1e-300, 1e-9, 0.49999, 0.5]])
    exact = np.array([math.erf(v) for v in z])
    np.testing.assert_array_equal(cpu.erf(z), exact)  # numba's math.erf is libm's
    np.testing.assert_allclose(nn_ops.erf_reference(z), exact, rtol=1e-8, atol=1e-300)
    z32 = z.astype(np.float32)
    # float32 results may differ in the last bit (1 ulp is up to 1.2e-7 relative)
    np.testing.assert_allclose(cpu.erf(z32), nn_ops.erf_reference(z32), rtol=1.2e-7, atol=0)
    assert cpu.erf(z32).dtype == np.float32


def test_parallel_rows_covers_each_row_once(monkeypatch):
    monkeypatch.setattr(cpu, "threads", lambda: 4)
    for rows, work in [(1, 10**9), (3, 10**9), (10, 10**9), (10, 1), (1000, 10**9)]:
        seen: list[int] = []
        cpu.parallel_rows(
            lambda start, stop, seen=seen: seen.extend(range(start, stop)), rows, work
        )
        assert sorted(seen) == list(range(rows))


def test_supports_only_contiguous_arrays_of_one_float_dtype():
    a = np.zeros((2, 3), np.float32)
    assert cpu.supports(a, a)
    assert not cpu.supports(a.T)
    assert not cpu.supports(a, a.astype(np.float64))
    assert not cpu.supports(a.astype(np.float16))


@pytest.mark.parametrize(
    "shape, filters, groups",
    [
        ((5, 7, 6, 1), (3, 3, 1, 4), 1),
        ((4, 6, 6, 3), (3, 2, 3, 2), 1),
        ((3, 5, 5, 4), (2, 2, 2, 6), 2),
    ],
)
def test_convolutions_split_over_threads_match_one_thread(monkeypatch, shape, filters, groups):
    x, w = _random(shape, np.float64), _random(filters, np.float64, 1)
    geometry = dict(strides=(2, 1), dilations=(1, 2), pads=(1, 2, 0, 1), groups=groups)
    y = nn_ops._conv2d_kernel(x, w, **geometry)
    dy = _random(y.shape, np.float64, 2)
    expected = (
        y,
        nn_ops._conv2d_backprop_input_kernel(dy, w, shape, **geometry),
        nn_ops._conv2d_backprop_filter_kernel(x, dy, filters, **geometry),
    )
    monkeypatch.setattr(cpu, "MIN_WORK_PER_THREAD", 1)
    monkeypatch.setattr(cpu, "threads", lambda: 3)
    monkeypatch.setattr(nn_ops, "COLS_BUDGET", 1)  # one image per chunk
    assert len(cpu.split_rows(shape[0], x.size)) == 3
    got = (
        nn_ops._conv2d_kernel(x, w, **geometry),
        nn_ops._conv2d_backprop_input_kernel(dy, w, shape, **geometry),
        nn_ops._conv2d_backprop_filter_kernel(x, dy, filters, **geometry),
    )
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def _blas_threads() -> list[int]:
    return [c.num_threads for c in cpu._blas_controllers()]


def test_matmul_matches_numpy_and_leaves_blas_threads_alone(split_small_work):
    before = _blas_threads()
    rng = np.random.default_rng(0)
    cases = [
        ((7, 5), (5, 3)),  # rows split over threads
        ((2, 4, 5), (5, 3)),  # leading axes as rows
        ((3, 4, 5), (3, 5, 2)),  # a batch of matrices
        ((3, 4, 5), (1, 5, 2)),  # broadcast batch: plain np.matmul
    ]
    for a_shape, b_shape in cases:
        for dtype in (np.float32, np.float64):
            a, b = rng.standard_normal(a_shape, dtype), rng.standard_normal(b_shape, dtype)
            out = cpu.matmul(a, b)
            assert out.dtype == dtype
            np.testing.assert_allclose(out, a @ b, rtol=1e-5 if dtype == np.float32 else 1e-12)
    assert _blas_threads() == before
    with cpu.single_threaded_blas():
        with cpu.single_threaded_blas():
            assert all(n == 1 for n in _blas_threads())
        assert all(n == 1 for n in _blas_threads())
    assert _blas_threads() == before


def test_run_parallel_waits_for_all_and_raises(split_small_work):
    done = []

    def fail():
        raise ValueError("boom")

    def slow():
        import time

        time.sleep(0.05)
        done.append(1)

    with pytest.raises(ValueError, match="boom"):
        cpu.run_parallel([fail, slow, slow])
    assert done == [1, 1]  # the others finished before the error came up
    # nested parallel work from a pool thread runs there (no deadlock on a busy pool)
    seen = []
    cpu.run_parallel([lambda: None] + [lambda: cpu.run_parallel([lambda: seen.append(1)] * 3)] * 2)
    assert seen == [1] * 6

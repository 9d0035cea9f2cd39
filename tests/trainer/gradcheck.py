"""Gradient checks: the tape against central finite differences in float64, and against
PyTorch's autograd where PyTorch is importable."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import emberlite.trainer as et


def tape_gradients(
    fn: Callable[..., Any], arrays: list[np.ndarray], weights: np.ndarray | None = None
):
    """Value of fn and d(sum(fn * weights))/d(each array), by the tape."""
    xs = [et.constant(a) for a in arrays]
    with et.GradientTape() as tape:
        for x in xs:
            tape.watch(x)
        y = fn(*xs)
        target = y if weights is None else et.reduce_sum(y * weights)
    grads = tape.gradient(target, xs)
    return y.numpy(), [None if g is None else g.numpy() for g in grads]


def numeric_gradients(
    fn: Callable[..., Any], arrays: list[np.ndarray], weights: np.ndarray, eps: float = 1e-6
):
    """Central differences of sum(fn * weights), element by element, in float64."""
    grads = []
    for k, a in enumerate(arrays):
        g = np.zeros_like(a)
        for i in np.ndindex(a.shape):
            plus, minus = [x.copy() for x in arrays], [x.copy() for x in arrays]
            plus[k][i] += eps
            minus[k][i] -= eps
            f_plus = float(np.sum(fn(*[et.constant(x) for x in plus]).numpy() * weights))
            f_minus = float(np.sum(fn(*[et.constant(x) for x in minus]).numpy() * weights))
            g[i] = (f_plus - f_minus) / (2 * eps)
        grads.append(g)
    return grads


def check_gradients(
    fn: Callable[..., Any],
    *arrays: np.ndarray,
    seed: int = 0,
    rtol: float = 1e-5,
    atol: float = 1e-7,
) -> None:
    """Assert the tape's gradients of fn match central differences (inputs in float64)."""
    arrays = [np.asarray(a, np.float64) for a in arrays]
    y = fn(*[et.constant(a) for a in arrays]).numpy()
    weights = np.random.default_rng(seed).standard_normal(y.shape)
    _, ours = tape_gradients(fn, arrays, weights)
    expected = numeric_gradients(fn, arrays, weights)
    for k, (g, e) in enumerate(zip(ours, expected, strict=True)):
        assert g is not None, f"input {k}: no gradient"
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol, err_msg=f"gradient of input {k}")

"""What the layer tests share: data, weight gradients by finite differences, torch."""

from __future__ import annotations

from typing import Any

import numpy as np

import emberlite.trainer as et

try:
    import torch
except ImportError:  # the torch comparisons skip
    torch = None


def data(*shape: int, seed: int = 0, dtype: Any = np.float32) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def same_pads(size, kernel, stride, dilation):
    """TF's SAME padding (before, after) along one axis."""
    span = (kernel - 1) * dilation + 1
    total = max((-(-size // stride) - 1) * stride + span - size, 0)
    return total // 2, total - total // 2


def check_weight_gradients(layer, x, eps=1e-6, rtol=1e-6, atol=1e-8, **call_kwargs) -> None:
    """The tape's gradients of sum(layer(x) * r) for each trainable weight against central
    differences (the layer should compute in float64: dtype="float64")."""
    y = layer(x, **call_kwargs)
    r = np.random.default_rng(1).standard_normal(y.shape)
    with et.GradientTape() as tape:
        loss = et.reduce_sum(layer(x, **call_kwargs) * r)
    grads = tape.gradient(loss, layer.trainable_weights)
    assert grads and all(g is not None for g in grads)
    for variable, grad in zip(layer.trainable_weights, grads, strict=True):
        base = np.array(variable.numpy())
        numeric = np.zeros_like(base)
        for i in np.ndindex(base.shape):
            sums = []
            for step in (eps, -eps):
                moved = base.copy()
                moved[i] += step
                variable.assign(moved)
                sums.append(float(np.sum(layer(x, **call_kwargs).numpy() * r)))
            numeric[i] = (sums[0] - sums[1]) / (2 * eps)
        variable.assign(base)
        np.testing.assert_allclose(
            grad.numpy(), numeric, rtol=rtol, atol=atol, err_msg=variable.name
        )


def round_trip(layer, *inputs) -> Any:
    """A layer rebuilt from its serialized config, given the same weights."""
    from emberlite.trainer.layers import deserialize, serialize

    clone = deserialize(serialize(layer))
    assert type(clone) is type(layer)
    if layer.weights:
        clone(*inputs)
        clone.set_weights(layer.get_weights())
    return clone

"""GradientTape semantics, as TensorFlow 2 defines them."""

from __future__ import annotations

import numpy as np
import pytest

import emberlite.trainer as et
from emberlite.trainer.autodiff import GradientError
from tests.trainer.gradcheck import check_gradients


def test_second_derivative_of_x_squared():
    x = et.constant(3.0)
    with et.GradientTape() as outer:
        outer.watch(x)
        with et.GradientTape() as inner:
            inner.watch(x)
            y = x * x
        dy = inner.gradient(y, x)
    assert float(dy) == 6.0
    assert float(outer.gradient(dy, x)) == 2.0


def test_third_derivative():
    x = et.Variable(2.0)
    with et.GradientTape() as t3, et.GradientTape() as t2, et.GradientTape() as t1:
        y = x * x * x
        d1 = t1.gradient(y, x)
        d2 = t2.gradient(d1, x)
    assert (float(d1), float(d2), float(t3.gradient(d2, x))) == (12.0, 12.0, 6.0)


def test_trainable_variables_are_watched_automatically():
    w, frozen = et.Variable([1.0, 2.0]), et.Variable([3.0, 4.0], trainable=False)
    with et.GradientTape() as tape:
        y = et.reduce_sum(w * frozen)
    gw, gf = tape.gradient(y, [w, frozen])
    np.testing.assert_array_equal(gw.numpy(), [3.0, 4.0])
    assert gf is None
    assert tape.watched_variables() == [w]


def test_watch_accessed_variables_false():
    w = et.Variable(1.0)
    with et.GradientTape(watch_accessed_variables=False) as tape:
        y = w * 2.0
    assert tape.gradient(y, w) is None


def test_non_persistent_tape_is_single_use():
    x = et.constant(2.0)
    with et.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    tape.gradient(y, x)
    with pytest.raises(
        GradientError, match="non-persistent GradientTape can only be used to compute one set"
    ):
        tape.gradient(y, x)


def test_persistent_tape():
    x = et.constant(3.0)
    with et.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        z = y * y
    assert float(tape.gradient(z, x)) == 108.0
    assert float(tape.gradient(y, x)) == 6.0


def test_stop_recording():
    x = et.constant(3.0)
    with et.GradientTape() as tape:
        tape.watch(x)
        with tape.stop_recording():
            y = x * x
        z = x * 2.0 + y
    assert float(tape.gradient(z, x)) == 2.0


def test_unconnected_gradients():
    x, unused = et.constant(1.0), et.constant(2.0)
    with et.GradientTape(persistent=True) as tape:
        tape.watch([x, unused])
        y = x * 3.0
    assert tape.gradient(y, unused) is None
    assert float(tape.gradient(y, unused, unconnected_gradients="zero")) == 0.0


def test_non_scalar_targets_are_summed():
    x = et.constant([1.0, 2.0, 3.0])
    with et.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [2.0, 4.0, 6.0])


def test_python_control_flow():
    def f(x):
        out = x
        for _ in range(3):
            out = out * x if float(out) < 100 else out
        return out

    x = et.Variable(2.0)
    with et.GradientTape() as tape:
        y = f(x)
    assert float(tape.gradient(y, x)) == 4 * 2.0**3


def test_jacobian():
    x = et.constant([1.0, 2.0])
    with et.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
    np.testing.assert_array_equal(tape.jacobian(y, x).numpy(), np.diag([2.0, 4.0]))


def test_assign_after_read_keeps_the_gradient_of_the_read_value():
    w = et.Variable(2.0)
    with et.GradientTape() as tape:
        y = w * w
        w.assign(10.0)
    assert float(tape.gradient(y, w)) == 4.0


def test_variable_assign_ops():
    w = et.Variable([1.0, 2.0], name="w")
    w.assign_add([1.0, 1.0])
    w.assign_sub([0.5, 0.5])
    np.testing.assert_array_equal(w.numpy(), [1.5, 2.5])
    with pytest.raises(Exception, match=r"shape \[3\] to variable 'w' of shape \[2\]"):
        w.assign([1.0, 2.0, 3.0])


def test_integer_target_is_refused():
    x = et.constant(2.0)
    with et.GradientTape() as tape:
        tape.watch(x)
        y = et.cast(x, np.int32)
    with pytest.raises(GradientError, match="must be floating"):
        tape.gradient(y, x)


def test_broadcast_gradients_reduce_to_the_input_shape():
    check_gradients(
        lambda a, b: a * b + a / (b * b + 1), np.random.rand(3, 1, 4), np.random.rand(2, 1)
    )


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: et.exp(x) * et.tanh(x),
        lambda x: et.log(x * x + 1) - et.sqrt(x * x + 2),
        lambda x: et.reduce_logsumexp(x, axis=1),
        lambda x: et.reduce_max(x, axis=0) + et.reduce_mean(x),
        lambda x: et.matmul(x, et.transpose(x)),
        lambda x: et.concat(et.split(x, 2, axis=1)[::-1], axis=0),
        lambda x: x[1:, ::2] * et.gather(x, [0, 0, 2], axis=1)[1:, :2],
        lambda x: et.pad(x, [[1, 0], [0, 2]]) ** 2,
        lambda x: et.where(x > 0.5, x * x, -x),
        lambda x: et.maximum(x, 0.4) + et.minimum(x, 0.6),
    ],
)
def test_op_gradients_match_finite_differences(fn):
    check_gradients(fn, np.random.default_rng(1).uniform(0.1, 1.0, (3, 4)))


def test_numpy_interop():
    x = et.Variable([1.0, 2.0])
    with et.GradientTape() as tape:
        y = np.sum(np.exp(x) * np.array([1.0, 2.0], np.float32))  # NumPy functions run our ops
    assert isinstance(y, et.Tensor)
    np.testing.assert_allclose(
        tape.gradient(y, x).numpy(), np.exp([1.0, 2.0]) * [1.0, 2.0], rtol=1e-6
    )
    np.testing.assert_array_equal(np.asarray(x), [1.0, 2.0])

"""Activation functions against NumPy, names, serialization; Activation and Lambda layers."""

import math

import numpy as np
import pytest

from emberlite.trainer import activations, layers
from emberlite.trainer.serialization import SerializationError
from tests.trainer.gradcheck import check_gradients
from tests.trainer.layers.helpers import data, round_trip

X = np.linspace(-7, 7, 57).reshape(3, 19)
ERF = np.vectorize(math.erf)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


EXPECTED = {
    "relu": lambda x: np.maximum(x, 0),
    "relu6": lambda x: np.clip(x, 0, 6),
    "sigmoid": sigmoid,
    "tanh": np.tanh,
    "softmax": softmax,
    "log_softmax": lambda x: np.log(softmax(x)),
    "elu": lambda x: np.where(x > 0, x, np.expm1(x)),
    "selu": lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(x)),
    "gelu": lambda x: 0.5 * x * (1 + ERF(x / math.sqrt(2))),
    "silu": lambda x: x * sigmoid(x),
    "swish": lambda x: x * sigmoid(x),
    "softplus": lambda x: np.log1p(np.exp(x)),
    "softsign": lambda x: x / (np.abs(x) + 1),
    "hard_sigmoid": lambda x: np.clip(x + 3, 0, 6) / 6,
    "hard_silu": lambda x: x * np.clip(x + 3, 0, 6) / 6,
    "hard_swish": lambda x: x * np.clip(x + 3, 0, 6) / 6,
    "leaky_relu": lambda x: np.where(x > 0, x, 0.2 * x),
    "exponential": np.exp,
    "linear": lambda x: x,
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_activation_matches_numpy(name):
    fn = activations.get(name)
    np.testing.assert_allclose(fn(X).numpy(), EXPECTED[name](X), rtol=1e-12, atol=1e-12)
    y32 = fn(X.astype(np.float32))
    assert y32.dtype == np.float32


@pytest.mark.parametrize("name", ["elu", "selu", "gelu", "silu", "softsign", "softmax"])
def test_activation_gradients(name):
    check_gradients(activations.get(name), data(2, 5, seed=3))


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"negative_slope": 0.1}, lambda x: np.where(x > 0, x, 0.1 * x)),
        ({"max_value": 2.5}, lambda x: np.clip(x, 0, 2.5)),
        ({"threshold": 1.0}, lambda x: np.where(x > 1, x, 0)),
        (
            {"negative_slope": 0.5, "max_value": 4.0, "threshold": -1.0},
            lambda x: np.where(x > -1, np.minimum(x, 4.0), 0.5 * (x + 1)),
        ),
    ],
)
def test_relu_options_as_keras(kwargs, expected):
    np.testing.assert_allclose(activations.relu(X, **kwargs).numpy(), expected(X), rtol=1e-12)
    layer = layers.ReLU(**kwargs)
    np.testing.assert_allclose(layer(X.astype(np.float32)).numpy(), expected(X), rtol=1e-6)


def test_elu_alpha_softmax_axis_and_gelu_approximate():
    np.testing.assert_allclose(
        activations.elu(X, alpha=0.5).numpy(), np.where(X > 0, X, 0.5 * np.expm1(X)), rtol=1e-12
    )
    np.testing.assert_allclose(activations.softmax(X, axis=0).numpy(), softmax(X, 0), rtol=1e-12)
    tanh_form = 0.5 * X * (1 + np.tanh(math.sqrt(2 / math.pi) * (X + 0.044715 * X**3)))
    np.testing.assert_allclose(activations.gelu(X, approximate=True).numpy(), tanh_form, rtol=1e-12)


def test_get_and_serialize():
    assert activations.get(None) is activations.linear
    assert activations.get("Relu") is activations.relu
    assert activations.get(np.tanh) is np.tanh  # callables pass
    for name in EXPECTED:
        fn = activations.get(name)
        assert activations.get(activations.serialize(fn)) is fn
    assert activations.serialize(activations.swish) == "silu"
    layer = layers.LeakyReLU(0.1)
    assert activations.serialize(layer)["class_name"] == "LeakyReLU"
    with pytest.raises(SerializationError, match="unknown activation 'rectify'"):
        activations.get("rectify")
    with pytest.raises(SerializationError, match="cannot serialize activation 'sin'"):
        activations.serialize(np.sin)


def test_activation_layer_and_layers_as_activations():
    x = data(2, 3)
    layer = layers.Activation("hard_sigmoid")
    np.testing.assert_allclose(layer(x).numpy(), np.clip(x + 3, 0, 6) / 6, rtol=1e-6)
    assert round_trip(layer).get_config()["activation"] == "hard_sigmoid"
    dense = layers.Dense(3, activation=layers.LeakyReLU(0.5))
    y = dense(x).numpy()
    linear = x @ dense.kernel.numpy()
    np.testing.assert_allclose(y, np.where(linear > 0, linear, 0.5 * linear), rtol=1e-5)
    np.testing.assert_allclose(round_trip(dense, x)(x).numpy(), y, rtol=1e-6)


def test_lambda_runs_functions_and_serializes_only_named_activations():
    x = data(2, 3)
    square = layers.Lambda(lambda t, power: t**power, arguments={"power": 2})
    np.testing.assert_allclose(square(x).numpy(), x**2, rtol=1e-6)
    with pytest.raises(SerializationError, match="Lambda layer 'lambda.*' cannot be serialized"):
        square.get_config()
    named = layers.Lambda("softmax", arguments={"axis": 0})
    np.testing.assert_allclose(round_trip(named)(x).numpy(), softmax(x, 0), rtol=1e-6)
    wrapped = round_trip(layers.Lambda(layers.ReLU(max_value=0.5)))
    np.testing.assert_allclose(wrapped(x).numpy(), np.clip(x, 0, 0.5), rtol=1e-6)

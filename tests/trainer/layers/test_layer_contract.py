"""What every layer owes: a config that rebuilds it (same outputs once given the same weights),
functional use (Input -> layer -> shape), data_format refusal, and float16 compute under the
mixed_float16 policy."""

import numpy as np
import pytest

import emberlite.trainer as et
from emberlite.trainer import layers, mixed_precision, regularizers
from emberlite.trainer.layers.base import LayerError
from tests.trainer.layers.helpers import data, round_trip

IMAGE, VECTOR, SEQUENCE = (6, 5, 4), (7,), (3, 7)
# (make the layer, input shape without the batch dimension)
LAYERS = [
    (lambda: layers.Dense(3, "relu", kernel_regularizer="l2", activity_regularizer="l1"), VECTOR),
    (lambda: layers.Dense(2, use_bias=False), SEQUENCE),
    (lambda: layers.Embedding(10, 3, embeddings_regularizer=regularizers.L2(0.5)), "ids"),
    (lambda: layers.Conv2D(3, (3, 2), 2, "same", groups=1, activation="elu"), IMAGE),
    (lambda: layers.Conv2D(4, 2, dilation_rate=2, groups=2), IMAGE),
    (lambda: layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same"), IMAGE),
    (lambda: layers.SeparableConv2D(3, 2, depth_multiplier=2, activation="relu6"), IMAGE),
    (lambda: layers.Conv2DTranspose(3, 3, 2, "same", output_padding=1), IMAGE),
    (lambda: layers.MaxPooling2D(3, 2, "same"), IMAGE),
    (lambda: layers.AveragePooling2D((2, 1)), IMAGE),
    (lambda: layers.GlobalAveragePooling2D(keepdims=True), IMAGE),
    (lambda: layers.GlobalMaxPooling2D(), IMAGE),
    (lambda: layers.BatchNormalization(axis=[1, 3], momentum=0.5, center=False), IMAGE),
    (lambda: layers.Dropout(0.3, noise_shape=(None, 1)), VECTOR),
    (lambda: layers.SpatialDropout2D(0.3), IMAGE),
    (lambda: layers.Flatten(), IMAGE),
    (lambda: layers.Reshape((-1, 2)), IMAGE),
    (lambda: layers.Permute((2, 1)), SEQUENCE),
    (lambda: layers.RepeatVector(2), VECTOR),
    (lambda: layers.UpSampling2D((1, 2), interpolation="bilinear"), IMAGE),
    (lambda: layers.ZeroPadding2D(((1, 0), (0, 2))), IMAGE),
    (lambda: layers.Cropping2D((1, 2)), IMAGE),
    (lambda: layers.Activation("softplus"), VECTOR),
    (lambda: layers.ReLU(4.0, 0.1, 0.5), VECTOR),
    (lambda: layers.LeakyReLU(0.2), VECTOR),
    (lambda: layers.PReLU(shared_axes=[1]), SEQUENCE),
    (lambda: layers.ELU(0.5), VECTOR),
    (lambda: layers.Softmax(axis=1), SEQUENCE),
    (lambda: layers.Lambda("tanh"), VECTOR),
]
MERGES = [
    layers.Add,
    layers.Subtract,
    layers.Multiply,
    layers.Average,
    layers.Maximum,
    layers.Minimum,
    layers.Concatenate,
]


def inputs_for(shape, batch=2, seed=0):
    if shape == "ids":
        return np.random.default_rng(seed).integers(0, 10, (batch, 4))
    return data(batch, *shape, seed=seed)


@pytest.mark.parametrize("make, shape", LAYERS)
def test_config_round_trip_gives_the_same_outputs(make, shape):
    layer = make()
    x = inputs_for(shape)
    y = layer(x, training=False).numpy()
    clone = round_trip(layer, x)
    assert clone.get_config() == layer.get_config()
    np.testing.assert_allclose(clone(x, training=False).numpy(), y, rtol=1e-6)
    assert len(clone.losses) == len(layer.losses)


@pytest.mark.parametrize("make, shape", LAYERS)
def test_functional_use_gives_the_eager_shape(make, shape):
    layer = make()
    symbolic = et.Input(shape=(4,), dtype="int32") if shape == "ids" else et.Input(shape=shape)
    out = layer(symbolic)
    assert out.shape == (None, *layer(inputs_for(shape, batch=3)).shape[1:])
    model = et.Model(symbolic, out)
    np.testing.assert_allclose(
        model(inputs_for(shape)).numpy(), layer(inputs_for(shape)).numpy(), rtol=1e-6
    )


@pytest.mark.parametrize("cls", MERGES)
def test_merges_round_trip_and_build_functional_graphs(cls):
    a, b = et.Input(shape=(3,)), et.Input(shape=(3,))
    layer = cls()
    model = et.Model([a, b], layer([a, b]))
    x = [data(2, 3), data(2, 3, seed=1)]
    np.testing.assert_array_equal(round_trip(layer)(x).numpy(), model(x).numpy())
    assert model.output_shape == (None, 6 if cls is layers.Concatenate else 3)


@pytest.mark.parametrize(
    "make",
    [
        lambda **k: layers.Conv2D(2, 3, **k),
        lambda **k: layers.DepthwiseConv2D(3, **k),
        lambda **k: layers.SeparableConv2D(2, 3, **k),
        lambda **k: layers.Conv2DTranspose(2, 3, **k),
        lambda **k: layers.MaxPooling2D(**k),
        lambda **k: layers.AveragePooling2D(**k),
        lambda **k: layers.GlobalMaxPooling2D(**k),
        lambda **k: layers.GlobalAveragePooling2D(**k),
        lambda **k: layers.SpatialDropout2D(0.5, **k),
        lambda **k: layers.Flatten(**k),
        lambda **k: layers.UpSampling2D(**k),
        lambda **k: layers.ZeroPadding2D(**k),
        lambda **k: layers.Cropping2D(**k),
    ],
)
def test_channels_first_is_refused_by_name(make):
    with pytest.raises(LayerError, match="'nchw': data_format='channels_first' is not supported"):
        make(data_format="channels_first", name="nchw")
    assert make(data_format="channels_last").get_config()["data_format"] == "channels_last"


@pytest.mark.parametrize("make, shape", LAYERS)
def test_mixed_float16_computes_in_float16_with_float32_weights(make, shape):
    mixed_precision.set_global_policy("mixed_float16")
    try:
        layer = make()
    finally:
        mixed_precision.set_global_policy("float32")
    x = inputs_for(shape)
    with et.GradientTape() as tape:
        y = layer(x, training=True)
        loss = et.reduce_sum(et.cast(y, np.float32))
    assert y.dtype == np.float16
    assert all(w.dtype == np.float32 for w in layer.weights)
    for g in tape.gradient(loss, layer.trainable_weights):
        assert g.dtype == np.float32
    reference = make()
    reference(x)
    reference.set_weights(layer.get_weights())
    expected = reference(x, training=True).numpy()
    if not isinstance(layer, layers.Dropout):
        np.testing.assert_allclose(y.numpy(), expected, rtol=2e-2, atol=2e-2)

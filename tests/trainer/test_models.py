"""The Keras core: Layer bookkeeping, the functional API, Sequential, subclassed models."""

import numpy as np
import pytest

import emberlite.trainer as et
from emberlite.trainer.layers import Input, InputSpec, Layer
from emberlite.trainer.layers.base import LayerError, current_training
from emberlite.trainer.models import Functional, Model, Sequential
from emberlite.trainer.serialization import SerializationError, deserialize, serialize


class Affine(Layer):
    """A test layer: x @ kernel + bias, with a deterministic kernel."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.input_spec = InputSpec(min_ndim=2, axes={-1: input_shape[-1]})
        n = input_shape[-1]
        kernel = np.arange(n * self.units, dtype=np.float32).reshape(n, self.units) / 10
        self.kernel = et.Variable(kernel, name=f"{self.name}/kernel")
        self.bias = et.Variable(np.zeros(self.units, np.float32), name=f"{self.name}/bias")

    def call(self, x):
        return et.matmul(x, self.kernel) + self.bias

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class Sum(Layer):
    def call(self, xs):
        return xs[0] + xs[1]


class SeesTraining(Layer):
    def call(self, x, training=False):
        self.seen = training
        return x


def x_of(shape):
    return np.random.default_rng(0).normal(size=shape).astype(np.float32)


def test_layer_builds_once_on_first_call_and_checks_its_input():
    layer = Affine(3)
    assert not layer.built
    y = layer(x_of((2, 4)))
    assert layer.built and y.shape == (2, 3)
    np.testing.assert_allclose(y.numpy(), x_of((2, 4)) @ layer.kernel.numpy(), rtol=1e-6)
    with pytest.raises(LayerError) as e:
        layer(x_of((2, 5)))
    message = str(e.value)
    assert "'affine" in message and "axis -1" in message and "(2, 5)" in message


def test_unknown_keyword_is_named():
    with pytest.raises(LayerError, match="not understood: colour"):
        Affine(3, colour="red")


def test_names_are_unique_and_clear_session_restarts_them():
    et.clear_session()
    assert [Affine(1).name for _ in range(3)] == ["affine", "affine_1", "affine_2"]
    et.clear_session()
    assert Affine(1).name == "affine"


def test_weights_are_tracked_through_nested_layers_and_trainable_flag():
    class Block(Layer):
        def __init__(self):
            super().__init__()
            self.inner = [Affine(2), Affine(2)]
            self.scale = et.Variable(np.float32(2.0), trainable=False, name="scale")

        def call(self, x):
            return self.inner[1](self.inner[0](x)) * self.scale

    block = Block()
    block(x_of((1, 3)))
    assert len(block.trainable_weights) == 4 and len(block.non_trainable_weights) == 1
    block.inner[0].trainable = False
    assert len(block.trainable_weights) == 2 and len(block.non_trainable_weights) == 3
    block.trainable = False
    assert block.trainable_weights == [] and len(block.weights) == 5


def test_get_and_set_weights_round_trip_and_mismatch_is_named():
    a, b = Affine(3), Affine(3)
    a(x_of((1, 4)))
    b(x_of((1, 4)))
    b.set_weights([w + 1 for w in a.get_weights()])
    np.testing.assert_array_equal(b.get_weights()[0], a.get_weights()[0] + 1)
    with pytest.raises(LayerError, match="has 2 weights"):
        b.set_weights([np.zeros((4, 3))])
    with pytest.raises(LayerError, match=r"\(4, 3\).*\(3, 3\)"):
        b.set_weights([np.zeros((3, 3)), np.zeros(3)])


def test_training_flag_reaches_inner_layers():
    class Outer(Layer):
        def __init__(self):
            super().__init__()
            self.inner = SeesTraining()

        def call(self, x):
            return self.inner(x)

    outer = Outer()
    outer(x_of((1, 2)), training=True)
    assert outer.inner.seen is True
    outer(x_of((1, 2)))
    assert outer.inner.seen is False
    assert current_training() is None


def test_functional_model_with_branches_and_merge():
    x = Input(shape=(4,))
    a, b = Affine(3)(x), Affine(3)(x)
    y = Sum()([a, b])
    model = Model(x, y)
    assert isinstance(model, Functional)
    assert y.shape == (None, 3) and model.output_shape == (None, 3)
    data = x_of((5, 4))
    expected = data @ model.layers[1].kernel.numpy() * 2
    np.testing.assert_allclose(model(data).numpy(), expected, rtol=1e-6)
    assert model.count_params() == 2 * (4 * 3 + 3)
    with pytest.raises(LayerError, match=r"expected shape \(None, 4\).*\(5, 2\)"):
        model(x_of((5, 2)))


def test_functional_unknown_dimensions_stay_unknown():
    class Mean1(Layer):
        def call(self, x):
            return et.reduce_mean(x, axis=1)

    x = Input(shape=(None, 6))
    assert Mean1()(x).shape == (None, 6)
    assert Affine(2)(x).shape == (None, None, 2)


def test_functional_config_rebuilds_the_same_graph():
    x = Input(shape=(4,), name="features")
    y = Sum()([Affine(3)(x), Affine(3)(x)])
    model = Model(x, y, name="twin")
    clone = deserialize(serialize(model), custom_objects={"Affine": Affine})
    assert [layer.name for layer in clone.layers] == [layer.name for layer in model.layers]
    clone.set_weights([w * 2 for w in model.get_weights()])
    data = x_of((2, 4))
    np.testing.assert_allclose(clone(data).numpy(), model(data).numpy() * 2, rtol=1e-6)


def test_shared_layer_is_one_layer_with_two_nodes():
    shared = Affine(4)
    x1, x2 = Input(shape=(4,)), Input(shape=(4,))
    model = Model([x1, x2], Sum()([shared(x1), shared(shared(x2))]))
    assert sum(layer is shared for layer in model.layers) == 1
    a, b = x_of((2, 4)), x_of((2, 4)) + 1
    k = shared.kernel.numpy()
    np.testing.assert_allclose(model([a, b]).numpy(), a @ k + b @ k @ k, rtol=1e-5)
    clone = Functional.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone([a, b]).numpy(), model([a, b]).numpy(), rtol=1e-6)


def test_functional_refuses_disconnected_inputs_and_duplicate_names():
    x, other = Input(shape=(2,)), Input(shape=(2,))
    with pytest.raises(LayerError, match="not among the model's inputs"):
        Model(x, Sum()([x, other]))
    y = Affine(2, name="same")(x)
    with pytest.raises(LayerError, match="unique"):
        Model(x, Affine(2, name="same")(y))


def test_sequential_builds_from_input_shape_or_first_call():
    model = Sequential([Affine(5, input_shape=(4,)), Affine(2)])
    assert model.built and model.output_shape == (None, 2)
    lazy = Sequential()
    lazy.add(Affine(5))
    lazy.add(Affine(2))
    assert not lazy.built
    assert lazy(x_of((3, 4))).shape == (3, 2) and lazy.built
    with pytest.raises(LayerError, match=r"\(None, 4\).*\(3, 7\)"):
        lazy(x_of((3, 7)))
    via_input = Sequential([Input(shape=(4,)), Affine(1)])
    assert [type(layer).__name__ for layer in via_input.layers] == ["Affine"]
    clone = Sequential.from_config(model.get_config())
    assert clone.built and clone.output_shape == (None, 2)


def test_summary_lists_layers_shapes_and_params():
    lines = []
    Sequential([Affine(5, input_shape=(4,), name="hidden"), Affine(2, name="out")]).summary(
        print_fn=lines.append
    )
    text = "\n".join(lines)
    assert "hidden (Affine)" in text and "(None, 5)" in text and "25" in text
    assert "Total params: 37" in text and "Trainable params: 37" in text
    with pytest.raises(LayerError, match="not been built"):
        Sequential([Affine(1)]).summary()


def test_subclassed_model_tracks_layers_and_builds_from_a_shape():
    class Net(Model):
        def __init__(self):
            super().__init__()
            self.hidden = Affine(3)
            self.out = Affine(1)

        def call(self, x, training=False):
            return self.out(self.hidden(x))

    net = Net()
    net.build((None, 4))
    assert net.built and len(net.weights) == 4
    assert net(x_of((2, 4))).shape == (2, 1)
    assert [layer.name for layer in net.layers] == [net.hidden.name, net.out.name]


def test_unknown_class_in_a_config_names_the_fix():
    with pytest.raises(SerializationError, match="custom_objects"):
        deserialize({"class_name": "NoSuchLayer", "config": {}}, what="layer")


def test_symbolic_tensor_has_no_value():
    with pytest.raises(LayerError, match="symbolic"):
        np.asarray(Input(shape=(2,)))


def test_mixed_precision_policy_names():
    from emberlite.errors import EmberliteError
    from emberlite.trainer import mixed_precision

    layer = Affine(2, dtype="mixed_float16")
    assert (layer.compute_dtype, layer.variable_dtype) == ("float16", "float32")
    with pytest.raises(EmberliteError, match="bfloat16"):
        mixed_precision.Policy("mixed_bfloat16")

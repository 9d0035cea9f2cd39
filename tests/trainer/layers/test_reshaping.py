"""Flatten, Reshape, Permute, RepeatVector, UpSampling2D, ZeroPadding2D, Cropping2D against
NumPy; none of them bakes the batch size into a traced graph."""

import numpy as np
import pytest

import emberlite.trainer as et
from emberlite.trainer import layers
from emberlite.trainer.layers.base import LayerError
from emberlite.trainer.ops import image_ops
from tests.trainer.gradcheck import check_gradients
from tests.trainer.layers.helpers import data

X = data(2, 4, 6, 3)


F64 = {"dtype": "float64"}  # so finite differences are exact enough


@pytest.mark.parametrize(
    "layer, expected",
    [
        (layers.Flatten(**F64), X.reshape(2, -1)),
        (layers.Reshape((8, -1), **F64), X.reshape(2, 8, 9)),
        (layers.Reshape((3, 24), **F64), X.reshape(2, 3, 24)),
        (layers.Permute((3, 1, 2), **F64), X.transpose(0, 3, 1, 2)),
        (layers.UpSampling2D((2, 3), **F64), X.repeat(2, axis=1).repeat(3, axis=2)),
        (layers.ZeroPadding2D(1, **F64), np.pad(X, ((0, 0), (1, 1), (1, 1), (0, 0)))),
        (layers.ZeroPadding2D((2, 0), **F64), np.pad(X, ((0, 0), (2, 2), (0, 0), (0, 0)))),
        (
            layers.ZeroPadding2D(((0, 1), (2, 3)), **F64),
            np.pad(X, ((0, 0), (0, 1), (2, 3), (0, 0))),
        ),
        (layers.Cropping2D(1, **F64), X[:, 1:-1, 1:-1]),
        (layers.Cropping2D(((0, 1), (2, 0)), **F64), X[:, :-1, 2:]),
    ],
)
def test_matches_numpy_and_differentiates(layer, expected):
    np.testing.assert_array_equal(layer(X).numpy(), expected)
    check_gradients(layer, X[:1])


def test_flatten_of_vectors_and_repeat_vector():
    np.testing.assert_array_equal(layers.Flatten()(np.arange(3.0)).numpy(), [[0], [1], [2]])
    v = data(2, 5)
    np.testing.assert_array_equal(layers.RepeatVector(3)(v).numpy(), np.stack([v] * 3, axis=1))


def test_bilinear_upsampling_is_tf_image_resize():
    layer = layers.UpSampling2D(2, interpolation="bilinear")
    np.testing.assert_array_equal(layer(X).numpy(), image_ops.resize(X, (8, 12)).numpy())


def test_traced_with_unknown_batch():
    model = et.Sequential(
        [
            layers.Reshape((24, 3), input_shape=(4, 6, 3)),
            layers.Permute((2, 1)),
            layers.Reshape((3, 4, 6)),
            layers.Permute((2, 3, 1)),
            layers.UpSampling2D(interpolation="bilinear"),
            layers.ZeroPadding2D(1),
            layers.Cropping2D(((1, 2), (0, 1))),
            layers.Flatten(),
            layers.RepeatVector(2),
        ]
    )
    f = et.function(lambda x: model(x), input_signature=[et.TensorSpec((None, 4, 6, 3))])
    for batch in (X, np.concatenate([X, X, X])):
        np.testing.assert_array_equal(f(batch).numpy(), model(batch).numpy())
    assert model.output_shape == (None, 2, 7 * 13 * 3)


def test_errors_name_the_layer_and_shapes():
    with pytest.raises(LayerError, match=r"'r'.*cannot reshape inputs of shape \(2, 4, 6, 3\)"):
        layers.Reshape((5, -1), name="r")(X)
    with pytest.raises(LayerError, match=r"'r2'.*target_shape \(7,\)"):
        layers.Reshape((7,), name="r2")(X)
    with pytest.raises(LayerError, match="at most one -1"):
        layers.Reshape((-1, -1))
    with pytest.raises(LayerError, match=r"dims \(1, 3\) must be a permutation"):
        layers.Permute((1, 3))
    with pytest.raises(LayerError, match=r"'p'.*expected ndim=3, found ndim=4"):
        layers.Permute((2, 1), name="p")(X)
    with pytest.raises(LayerError, match="'c'.*leaves nothing of inputs of shape"):
        layers.Cropping2D((2, 0), name="c")(X)
    with pytest.raises(LayerError, match="interpolation must be 'nearest' or 'bilinear'"):
        layers.UpSampling2D(interpolation="bicubic")
    with pytest.raises(LayerError, match="padding must be an int, a pair, or a pair of pairs"):
        layers.ZeroPadding2D(((1, 1), (1, 1), (1, 1)))
    with pytest.raises(LayerError, match="'z'.*data_format='channels_first'"):
        layers.ZeroPadding2D(data_format="channels_first", name="z")

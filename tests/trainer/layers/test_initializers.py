"""Initializers: distributions and their statistics, fans, seeds, names and configs."""

import math

import numpy as np
import pytest

from emberlite.errors import EmberliteError
from emberlite.trainer import initializers, random
from emberlite.trainer.serialization import SerializationError

DENSE, CONV = (300, 200), (3, 3, 40, 60)  # conv fans: in 360, out 540


@pytest.mark.parametrize(
    "shape, fans",
    [((), (1, 1)), ((7,), (7, 7)), ((3, 5), (3, 5)), (CONV, (360, 540)), ((2, 3, 4), (6, 8))],
)
def test_fans_are_keras(shape, fans):
    assert initializers.compute_fans(shape) == fans


@pytest.mark.parametrize(
    "name, fan, scale, uniform",
    [
        ("glorot_uniform", "avg", 1, True),
        ("glorot_normal", "avg", 1, False),
        ("he_uniform", "in", 2, True),
        ("he_normal", "in", 2, False),
        ("lecun_uniform", "in", 1, True),
        ("lecun_normal", "in", 1, False),
    ],
)
@pytest.mark.parametrize("shape", [DENSE, CONV])
def test_variance_scaling_presets_have_the_fan_based_variance(name, fan, scale, uniform, shape):
    fan_in, fan_out = initializers.compute_fans(shape)
    n = {"in": fan_in, "avg": (fan_in + fan_out) / 2}[fan]
    values = initializers.get(name)(shape)
    assert values.shape == shape and values.dtype == np.float32
    assert values.var() == pytest.approx(scale / n, rel=0.04)
    assert abs(values.mean()) < 0.05 * math.sqrt(scale / n)
    if uniform:
        limit = math.sqrt(3 * scale / n)
        assert np.abs(values).max() <= limit and np.abs(values).max() > 0.99 * limit
    else:  # truncated at two standard deviations of the untruncated normal
        assert np.abs(values).max() <= 2 * math.sqrt(scale / n) / 0.87962566103423978


def test_variance_scaling_modes_and_untruncated_normal():
    fan_out = initializers.VarianceScaling(3.0, "fan_out", "untruncated_normal", seed=1)(DENSE)
    assert fan_out.var() == pytest.approx(3.0 / 200, rel=0.04)
    assert np.abs(fan_out).max() > 2.5 * math.sqrt(3.0 / 200)  # not truncated
    assert initializers.VarianceScaling(distribution="normal").distribution == "truncated_normal"


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"scale": 0}, "scale must be positive"),
        ({"mode": "fan_middle"}, "mode must be one of"),
        ({"distribution": "cauchy"}, "distribution must be one of"),
    ],
)
def test_variance_scaling_refuses_bad_settings(bad, match):
    with pytest.raises(EmberliteError, match=match):
        initializers.VarianceScaling(**bad)


def test_random_normal_uniform_and_truncated_normal():
    normal = initializers.RandomNormal(mean=1.0, stddev=2.0, seed=0)((400, 400))
    assert normal.mean() == pytest.approx(1.0, abs=0.02)
    assert normal.std() == pytest.approx(2.0, rel=0.02)
    uniform = initializers.RandomUniform(-1.0, 3.0, seed=0)((400, 400))
    assert uniform.min() >= -1 and uniform.max() < 3
    assert uniform.mean() == pytest.approx(1.0, abs=0.02)
    truncated = initializers.TruncatedNormal(mean=5.0, stddev=0.5, seed=0)((400, 400))
    assert np.abs(truncated - 5.0).max() <= 1.0
    # a normal cut at 2 sigma has 0.88^2 of the variance
    assert truncated.std() == pytest.approx(0.5 * 0.87962566103423978, rel=0.02)


def test_keras_defaults():
    uniform, normal = initializers.get("uniform"), initializers.get("random_normal")
    assert uniform.get_config() == {"minval": -0.05, "maxval": 0.05, "seed": None}
    assert normal.get_config() == {"mean": 0.0, "stddev": 0.05, "seed": None}
    assert initializers.VarianceScaling().get_config() == {
        "scale": 1.0,
        "mode": "fan_in",
        "distribution": "truncated_normal",
        "seed": None,
    }


def test_seeded_initializers_repeat_and_unseeded_follow_set_random_seed():
    seeded = initializers.GlorotUniform(seed=3)
    np.testing.assert_array_equal(seeded((4, 5)), seeded((4, 5)))
    unseeded = initializers.HeNormal()
    assert not np.array_equal(unseeded((4, 5)), unseeded((4, 5)))
    random.set_random_seed(11)
    first = [unseeded((4, 5)), initializers.Orthogonal()((3, 3))]
    random.set_random_seed(11)
    again = [unseeded((4, 5)), initializers.Orthogonal()((3, 3))]
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    random.set_random_seed(12)
    assert not np.array_equal(unseeded((4, 5)), first[0])


def test_set_random_seed_seeds_python_numpy_and_refuses_bad_seeds():
    import random as python_random

    random.set_random_seed(5)
    a = (python_random.random(), np.random.random())
    random.set_random_seed(5)
    assert (python_random.random(), np.random.random()) == a
    with pytest.raises(EmberliteError, match="non-negative int"):
        random.set_random_seed(-1)


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (3, 3, 2, 5)])
def test_orthogonal_is_orthogonal_times_gain(shape):
    w = initializers.Orthogonal(gain=2.0, seed=0)(shape, dtype="float64")
    flat = w.reshape(-1, shape[-1])
    small = flat.T @ flat if flat.shape[0] >= flat.shape[1] else flat @ flat.T
    np.testing.assert_allclose(small, 4.0 * np.eye(len(small)), atol=1e-12)


def test_constant_zeros_ones_identity_and_dtypes():
    np.testing.assert_array_equal(initializers.get("zeros")((2,), "int32"), np.zeros(2, np.int32))
    np.testing.assert_array_equal(initializers.Ones()((2, 2)), np.ones((2, 2), np.float32))
    assert initializers.Constant(2.5)((3,), "float64").tolist() == [2.5, 2.5, 2.5]
    np.testing.assert_array_equal(initializers.Identity(3.0)((2, 3)), 3 * np.eye(2, 3))
    with pytest.raises(EmberliteError, match="2-D shape"):
        initializers.Identity()((2, 2, 2))
    with pytest.raises(EmberliteError, match="floating-point values, not int32"):
        initializers.GlorotUniform()((2, 2), "int32")
    assert initializers.HeNormal()((2, 2), "float16").dtype == np.float16


@pytest.mark.parametrize(
    "name, cls",
    [
        ("glorot_uniform", initializers.GlorotUniform),
        ("GlorotUniform", initializers.GlorotUniform),
        ("he_normal", initializers.HeNormal),
        ("lecun_uniform", initializers.LecunUniform),
        ("zeros", initializers.Zeros),
        ("ones", initializers.Ones),
        ("truncated_normal", initializers.TruncatedNormal),
        ("orthogonal", initializers.Orthogonal),
        ("identity", initializers.Identity),
        ("normal", initializers.RandomNormal),
        ("uniform", initializers.RandomUniform),
    ],
)
def test_get_by_keras_name(name, cls):
    assert type(initializers.get(name)) is cls


def test_get_passes_objects_and_classes_and_refuses_unknown_names():
    init = initializers.Constant(1.0)
    assert initializers.get(init) is init and initializers.get(None) is None
    assert type(initializers.get(initializers.Zeros)) is initializers.Zeros
    with pytest.raises(SerializationError, match="unknown initializer 'glorious'"):
        initializers.get("glorious")


@pytest.mark.parametrize(
    "init",
    [
        initializers.GlorotNormal(seed=4),
        initializers.VarianceScaling(0.5, "fan_avg", "uniform", seed=4),
        initializers.RandomUniform(-2.0, 1.0, seed=4),
        initializers.Orthogonal(1.5, seed=4),
        initializers.Constant(0.25),
    ],
)
def test_serialize_deserialize_round_trip(init):
    config = initializers.serialize(init)
    assert config["class_name"] == type(init).__name__
    clone = initializers.deserialize(config)
    assert type(clone) is type(init) and clone.get_config() == init.get_config()
    np.testing.assert_array_equal(clone((5, 4)), init((5, 4)))
    assert type(initializers.get(config)) is type(init)

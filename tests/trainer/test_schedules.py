"""Learning-rate schedules against their closed forms, traced, serialized."""

import json
import math

import numpy as np
import pytest

import emberlite.trainer as et
from emberlite.trainer import optimizers
from emberlite.trainer.optimizers import schedules
from emberlite.trainer.optimizers.schedules import ScheduleError

STEPS = [0, 1, 5, 9, 10, 11, 15, 20, 21, 37, 100, 150, 310]


def restarts_reference(step, first, t_mul, m_mul, alpha):
    """SGDR by walking the periods: first, first * t_mul, first * t_mul**2, ..."""
    start, length, restart = 0.0, float(first), 0
    while step >= start + length:
        start, length, restart = start + length, length * t_mul, restart + 1
    cosine = 0.5 * (1 + math.cos(math.pi * (step - start) / length))
    return (1 - alpha) * m_mul**restart * cosine + alpha


def cosine(fraction, alpha):
    return (1 - alpha) * 0.5 * (1 + math.cos(math.pi * fraction)) + alpha


CASES = [
    (schedules.ExponentialDecay(0.1, 10, 0.5), lambda s: 0.1 * 0.5 ** (s / 10)),
    (
        schedules.ExponentialDecay(0.1, 10, 0.5, staircase=True),
        lambda s: 0.1 * 0.5 ** (s // 10),
    ),
    (
        schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1]),
        lambda s: 1.0 if s <= 10 else 0.5 if s <= 20 else 0.1,
    ),
    (
        schedules.PolynomialDecay(0.1, 10, end_learning_rate=0.01, power=2.0),
        lambda s: 0.09 * (1 - min(s, 10) / 10) ** 2 + 0.01,
    ),
    (
        schedules.PolynomialDecay(0.1, 10, end_learning_rate=0.01, cycle=True),
        lambda s: 0.09 * (1 - s / (10 * max(1, math.ceil(s / 10)))) + 0.01,
    ),
    (schedules.InverseTimeDecay(0.1, 10, 0.5), lambda s: 0.1 / (1 + 0.5 * s / 10)),
    (
        schedules.InverseTimeDecay(0.1, 10, 0.5, staircase=True),
        lambda s: 0.1 / (1 + 0.5 * (s // 10)),
    ),
    (schedules.CosineDecay(0.1, 100, alpha=0.1), lambda s: 0.1 * cosine(min(s, 100) / 100, 0.1)),
    (
        schedules.CosineDecay(0.0, 100, warmup_target=0.2, warmup_steps=10),
        lambda s: 0.2 * s / 10 if s < 10 else 0.2 * cosine(min(s - 10, 100) / 100, 0.0),
    ),
    (
        schedules.CosineDecayRestarts(1.0, 10, t_mul=2.0, m_mul=0.5, alpha=0.1),
        lambda s: restarts_reference(s, 10, 2.0, 0.5, 0.1),
    ),
    (
        schedules.CosineDecayRestarts(1.0, 10, t_mul=1.0),
        lambda s: restarts_reference(s, 10, 1.0, 1.0, 0.0),
    ),
]


@pytest.mark.parametrize(("schedule", "closed_form"), CASES, ids=lambda c: getattr(c, "name", ""))
def test_values_match_the_closed_form(schedule, closed_form):
    got = [float(schedule(step)) for step in STEPS]
    np.testing.assert_allclose(got, [closed_form(s) for s in STEPS], rtol=2e-6, atol=1e-7)


def test_known_values():
    cosine_decay = schedules.CosineDecay(0.1, 100, alpha=0.1)
    assert float(cosine_decay(50)) == pytest.approx(0.055)
    assert float(cosine_decay(500)) == pytest.approx(0.01)
    warm = schedules.CosineDecay(0.0, 100, warmup_target=0.2, warmup_steps=10)
    assert [float(warm(s)) for s in (5, 10, 60)] == pytest.approx([0.1, 0.2, 0.1])
    assert float(schedules.PolynomialDecay(1.0, 4, end_learning_rate=0.0)(1)) == 0.75


def test_steps_may_be_ints_tensors_or_the_iterations_variable():
    schedule = schedules.ExponentialDecay(0.1, 10, 0.5)
    step = et.Variable(np.int64(20), trainable=False, name="iterations")
    for value in (20, np.int64(20), et.constant(20), et.constant(20.0), step):
        result = schedule(value)
        assert result.dtype == np.float32 and result.shape == ()
        assert float(result) == pytest.approx(0.025)


def test_a_traced_schedule_reads_the_step_on_every_call():
    step = et.Variable(np.int64(0), trainable=False, name="iterations")
    schedule = schedules.PiecewiseConstantDecay([1, 3], [0.3, 0.2, 0.1])

    @et.function
    def rate():
        value = schedule(step)
        step.assign_add(1)
        return value

    assert [float(rate()) for _ in range(5)] == pytest.approx([0.3, 0.3, 0.2, 0.2, 0.1])
    assert rate.experimental_get_tracing_count() == 1


@pytest.mark.parametrize("schedule", [case[0] for case in CASES], ids=lambda s: s.name)
def test_config_round_trip(schedule):
    data = json.loads(json.dumps(schedules.serialize(schedule)))
    assert data["class_name"] == type(schedule).__name__
    clone = schedules.deserialize(data)
    assert type(clone) is type(schedule)
    assert clone.get_config() == schedule.get_config()
    assert float(clone(13)) == float(schedule(13))


def test_keras_names_and_defaults():
    config = schedules.CosineDecay(0.1, 10).get_config()
    assert config == {
        "initial_learning_rate": 0.1,
        "decay_steps": 10,
        "alpha": 0.0,
        "name": "CosineDecay",
        "warmup_target": None,
        "warmup_steps": 0,
    }
    assert schedules.CosineDecayRestarts(0.1, 10).get_config()["name"] == "SGDRDecay"
    assert schedules.PiecewiseConstantDecay([1], [1.0, 0.5]).name == "PiecewiseConstant"
    assert schedules.PolynomialDecay(0.1, 10).get_config()["end_learning_rate"] == 0.0001
    assert schedules.ExponentialDecay(0.1, 10, 0.5).get_config()["name"] == "ExponentialDecay"
    assert schedules.InverseTimeDecay(0.1, 10, 0.5).name == "InverseTimeDecay"


def test_bad_arguments_name_the_schedule():
    with pytest.raises(ScheduleError, match="ExponentialDecay: decay_steps must be > 0, got 0"):
        schedules.ExponentialDecay(0.1, 0, 0.5)
    with pytest.raises(ScheduleError, match="one more element than boundaries, got 2 values"):
        schedules.PiecewiseConstantDecay([1, 2], [0.1, 0.2])
    with pytest.raises(ScheduleError, match="boundaries must increase"):
        schedules.PiecewiseConstantDecay([5, 2], [0.1, 0.2, 0.3])
    with pytest.raises(ScheduleError, match="CosineDecay: warmup_steps must be >= 0"):
        schedules.CosineDecay(0.1, 10, warmup_steps=-1)
    with pytest.raises(ScheduleError, match="SGDRDecay: t_mul must be > 0"):
        schedules.CosineDecayRestarts(0.1, 10, t_mul=0.0)
    with pytest.raises(ScheduleError, match="'SGD' is not a LearningRateSchedule"):
        schedules.deserialize(optimizers.serialize(optimizers.SGD()))

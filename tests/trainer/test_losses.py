"""Losses against NumPy formulas (and torch where installed): every reduction, sample
weights, logits and probabilities, label smoothing, finite gradients, configs, errors."""

import numpy as np
import pytest

import emberlite.trainer as et
from emberlite.errors import EmberliteError
from emberlite.trainer import losses
from emberlite.trainer.graph import TensorSpec
from emberlite.trainer.serialization import SerializationError, register_serializable

EPS = 1e-7
rng = np.random.default_rng(7)
N, C = 6, 4


# -- NumPy references (float64) ---------------------------------------------------------------


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _log_softmax(x):
    shifted = x - x.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def _bce(t, p):
    p = np.clip(p, EPS, 1 - EPS)
    return -(t * np.log(p) + (1 - t) * np.log(1 - p))


def _normalize(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _smooth(t, ls, classes):
    return t * (1 - ls) + ls / classes


def _focal(t, p, gamma=2.0, alpha=0.25, balance=False):
    p_t = t * p + (1 - t) * (1 - p)
    out = (1 - p_t) ** gamma * _bce(t, p)
    return out * (t * alpha + (1 - t) * (1 - alpha)) if balance else out


def _huber(t, p, d):
    e = np.abs(p - t)
    return np.where(e <= d, 0.5 * e**2, d * e - 0.5 * d**2).mean(-1)


def _hinge(t, p):
    return np.maximum(1 - (2 * t - 1) * p, 0).mean(-1)


def _kld(t, p):
    t, p = np.clip(t, EPS, 1), np.clip(p, EPS, 1)
    return (t * np.log(t / p)).sum(-1)


probs = rng.dirichlet(np.ones(C), N)
labels = rng.integers(0, C, N)
one_hot = np.eye(C)[labels]
logits = rng.normal(size=(N, C)) * 3
binary = rng.integers(0, 2, (N, C)).astype(np.float64)
reals, reals2 = rng.normal(size=(N, C)), rng.normal(size=(N, C))
positive, positive2 = rng.random((N, C)) + 0.1, rng.random((N, C)) + 0.1

# (loss object, y_true, y_pred, NumPy per-sample values)
CASES = {
    "mse": (losses.MeanSquaredError(), reals, reals2, ((reals - reals2) ** 2).mean(-1)),
    "mae": (losses.MeanAbsoluteError(), reals, reals2, np.abs(reals - reals2).mean(-1)),
    "mape": (
        losses.MeanAbsolutePercentageError(),
        reals,
        reals2,
        100 * (np.abs(reals - reals2) / np.maximum(np.abs(reals), EPS)).mean(-1),
    ),
    "msle": (
        losses.MeanSquaredLogarithmicError(),
        positive,
        reals2,
        ((np.log(np.maximum(reals2, EPS) + 1) - np.log(positive + 1)) ** 2).mean(-1),
    ),
    "huber": (losses.Huber(delta=0.7), reals, reals2, _huber(reals, reals2, 0.7)),
    "log_cosh": (losses.LogCosh(), reals, reals2, np.log(np.cosh(reals2 - reals)).mean(-1)),
    "hinge": (losses.Hinge(), binary, reals2, _hinge(binary, reals2)),
    "kld": (losses.KLDivergence(), probs, rng.dirichlet(np.ones(C), N), None),
    "poisson": (
        losses.Poisson(),
        positive,
        positive2,
        (positive2 - positive * np.log(positive2 + EPS)).mean(-1),
    ),
    "cosine": (
        losses.CosineSimilarity(),
        reals,
        reals2,
        -(_normalize(reals) * _normalize(reals2)).sum(-1),
    ),
    "bce": (
        losses.BinaryCrossentropy(),
        binary,
        _sigmoid(logits),
        _bce(binary, _sigmoid(logits)).mean(-1),
    ),
    "bce_logits_smoothed": (
        losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.2),
        binary,
        logits,
        _bce(_smooth(binary, 0.2, 2), _sigmoid(logits)).mean(-1),
    ),
    "focal": (
        losses.BinaryFocalCrossentropy(gamma=1.5),
        binary,
        _sigmoid(logits),
        _focal(binary, _sigmoid(logits), 1.5).mean(-1),
    ),
    "focal_logits_balanced": (
        losses.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=0.3, from_logits=True),
        binary,
        logits,
        _focal(binary, _sigmoid(logits), 2.0, 0.3, balance=True).mean(-1),
    ),
    "cce": (losses.CategoricalCrossentropy(), one_hot, probs, -(one_hot * np.log(probs)).sum(-1)),
    "cce_unnormalized": (
        losses.CategoricalCrossentropy(),
        one_hot,
        probs * 3,  # rows are scaled back to sum to 1, as Keras does
        -(one_hot * np.log(probs)).sum(-1),
    ),
    "cce_logits_smoothed": (
        losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
        one_hot,
        logits,
        -(_smooth(one_hot, 0.1, C) * _log_softmax(logits)).sum(-1),
    ),
    "cce_smoothed": (
        losses.CategoricalCrossentropy(label_smoothing=0.1),
        one_hot,
        probs,
        -(_smooth(one_hot, 0.1, C) * np.log(probs)).sum(-1),
    ),
    "scce": (
        losses.SparseCategoricalCrossentropy(),
        labels,
        probs,
        -np.log(probs[np.arange(N), labels]),
    ),
    "scce_logits": (
        losses.SparseCategoricalCrossentropy(from_logits=True),
        labels,
        logits,
        -_log_softmax(logits)[np.arange(N), labels],
    ),
}
kld_case = CASES["kld"]
CASES["kld"] = (*kld_case[:3], _kld(kld_case[1], kld_case[2]))


@pytest.mark.parametrize("case", sorted(CASES))
def test_function_form_matches_numpy(case):
    loss, y_true, y_pred, expected = CASES[case]
    values = loss.fn(y_true, y_pred, **loss.fn_kwargs)
    assert values.dtype == np.float64
    np.testing.assert_allclose(values.numpy(), expected, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_reduction_with_sample_weights(case):
    loss, y_true, y_pred, expected = CASES[case]
    weights = rng.random(N)
    config = loss.get_config()
    for reduction, reduce in {
        "none": lambda v: v,
        "sum": np.sum,
        "sum_over_batch_size": lambda v: v.sum() / N,
        "auto": lambda v: v.sum() / N,
        "mean_with_sample_weight": lambda v: v.sum() / weights.sum(),
    }.items():
        reduced = type(loss)(**{**config, "reduction": reduction})
        got = reduced(y_true, y_pred, sample_weight=weights)
        np.testing.assert_allclose(got.numpy(), reduce(expected * weights), rtol=1e-6, atol=1e-9)
    unweighted = type(loss)(**config)(y_true, y_pred)
    np.testing.assert_allclose(float(unweighted), expected.mean(), rtol=1e-6)


def test_reduction_none_is_also_None_and_unknown_ones_are_refused():
    assert losses.MeanSquaredError(reduction=None).reduction == "none"
    with pytest.raises(EmberliteError, match="unknown reduction 'average'"):
        losses.MeanSquaredError(reduction="average")


def test_weights_align_from_the_batch_axis():
    # per-timestep values (N, T) with per-sample weights (N,) and (N, 1)
    y_true, y_pred = rng.normal(size=(3, 5, 2)), rng.normal(size=(3, 5, 2))
    per_step = ((y_true - y_pred) ** 2).mean(-1)
    weights = np.array([1.0, 0.0, 2.0])
    expected = (per_step * weights[:, None]).sum() / per_step.size
    for w in (weights, weights[:, None]):
        got = losses.MeanSquaredError()(y_true, y_pred, sample_weight=w)
        np.testing.assert_allclose(float(got), expected, rtol=1e-6)
    with pytest.raises(EmberliteError, match=r"sample_weight of shape \[5\] does not broadcast"):
        losses.MeanSquaredError()(y_true, y_pred, sample_weight=np.ones(5))


def test_from_logits_matches_probabilities():
    t_bin = rng.integers(0, 2, (N, 1)).astype(np.float32)
    x = rng.normal(size=(N, 1)).astype(np.float32)
    with_logits = losses.BinaryCrossentropy(from_logits=True)(t_bin, x)
    with_probs = losses.BinaryCrossentropy()(t_bin, _sigmoid(x))
    np.testing.assert_allclose(float(with_logits), float(with_probs), rtol=1e-5)
    soft = np.exp(_log_softmax(logits))
    for loss, y_true in (
        (losses.CategoricalCrossentropy, one_hot),
        (losses.SparseCategoricalCrossentropy, labels),
    ):
        np.testing.assert_allclose(
            float(loss(from_logits=True)(y_true, logits)), float(loss()(y_true, soft)), rtol=1e-6
        )


def test_probabilities_are_clipped_as_keras():
    # a confident wrong answer costs -log(1e-7), not infinity
    got = losses.binary_crossentropy([[1.0]], [[0.0]])
    np.testing.assert_allclose(got.numpy(), [-np.log(EPS)], rtol=1e-4)
    got = losses.sparse_categorical_crossentropy([0], [[0.0, 1.0]])
    np.testing.assert_allclose(got.numpy(), [-np.log(EPS / (1 + EPS))], rtol=1e-4)


@pytest.mark.parametrize(
    ("loss", "y_true", "y_pred"),
    [
        (losses.BinaryCrossentropy(), [[1.0, 0.0, 1.0, 0.0]], [[0.0, 1.0, 1.0, 1e-12]]),
        (losses.BinaryFocalCrossentropy(), [[1.0, 0.0, 1.0, 0.0]], [[0.0, 1.0, 1.0, 1e-12]]),
        (losses.CategoricalCrossentropy(), [[0.0, 1.0, 0.0]], [[1.0, 0.0, 0.0]]),
        (losses.SparseCategoricalCrossentropy(), [1, 2], [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]),
        (losses.KLDivergence(), [[0.0, 1.0]], [[1.0, 0.0]]),
        (losses.BinaryCrossentropy(from_logits=True), [[1.0, 0.0]], [[-200.0, -200.0]]),
        (losses.CategoricalCrossentropy(from_logits=True), [[0.0, 1.0]], [[300.0, -300.0]]),
        (losses.SparseCategoricalCrossentropy(from_logits=True), [1], [[300.0, -300.0]]),
        (losses.Poisson(), [[1.0, 2.0]], [[0.0, 1.0]]),
        (losses.CosineSimilarity(), [[1.0, 2.0]], [[0.0, 0.0]]),
    ],
)
def test_gradients_are_finite_at_saturated_predictions(loss, y_true, y_pred):
    y_pred = et.Variable(np.asarray(y_pred, np.float32))
    with et.GradientTape() as tape:
        value = loss(y_true, y_pred)
    grad = tape.gradient(value, y_pred)
    assert np.isfinite(float(value))
    assert np.all(np.isfinite(grad.numpy()))


def test_logit_gradients_are_those_of_the_formula():
    x = et.Variable(logits)
    with et.GradientTape() as tape:
        value = losses.CategoricalCrossentropy(from_logits=True)(one_hot, x)
    expected = (np.exp(_log_softmax(logits)) - one_hot) / N
    np.testing.assert_allclose(tape.gradient(value, x).numpy(), expected, rtol=1e-6, atol=1e-12)


def test_sparse_labels_of_shape_n_1_and_float_labels():
    loss = losses.SparseCategoricalCrossentropy()
    expected = float(loss(labels, probs))
    assert float(loss(labels[:, None], probs)) == pytest.approx(expected)
    assert float(loss(labels.astype(np.float32), probs)) == pytest.approx(expected)


def test_function_forms_take_their_options_positionally_too():
    np.testing.assert_allclose(
        losses.binary_crossentropy(binary, logits, True, 0.2).numpy(),
        CASES["bce_logits_smoothed"][3],
        rtol=1e-6,
    )


def test_binary_labels_of_shape_n_meet_predictions_of_shape_n_1():
    t, p = binary[:, 0], _sigmoid(logits[:, :1])
    values = losses.binary_crossentropy(t, p)
    assert values.shape == (N,)
    np.testing.assert_allclose(values.numpy(), _bce(t, p[:, 0]), rtol=1e-6)


def test_ignore_class_leaves_labels_out_of_the_loss_and_of_the_mean():
    y_true = labels.copy()
    y_true[[0, 3]] = -1
    keep = y_true != -1
    per_sample = -_log_softmax(logits)[np.arange(N), np.where(keep, y_true, 0)] * keep
    loss = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)
    np.testing.assert_allclose(
        losses.sparse_categorical_crossentropy(y_true, logits, True, ignore_class=-1).numpy(),
        per_sample,
        rtol=1e-6,
    )
    np.testing.assert_allclose(float(loss(y_true, logits)), per_sample.sum() / keep.sum())
    sum_loss = losses.SparseCategoricalCrossentropy(True, -1, reduction="sum")
    np.testing.assert_allclose(float(sum_loss(y_true[:, None], logits)), per_sample.sum())


def test_hinge_keeps_labels_of_minus_one_and_one():
    signs = 2 * binary - 1
    np.testing.assert_allclose(
        losses.hinge(signs, reals2).numpy(), _hinge(binary, reals2), rtol=1e-6
    )


def test_categorical_crossentropy_warns_of_a_single_class():
    with pytest.warns(UserWarning, match="use binary_crossentropy"):
        losses.categorical_crossentropy([[1.0]], [[0.3]])


def test_float16_predictions_give_float32_losses():
    y_pred = probs.astype(np.float16)
    for loss, y_true in (
        (losses.CategoricalCrossentropy(), one_hot),
        (losses.SparseCategoricalCrossentropy(), labels),
        (losses.MeanSquaredError(), one_hot),
    ):
        value = loss(y_true, y_pred)
        assert value.dtype == np.float32
        reference = loss(y_true, y_pred.astype(np.float32))
        assert float(value) == pytest.approx(float(reference), rel=1e-6)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: losses.MeanSquaredError()(np.ones((4, 3)), np.ones((4, 2))),
            r"mean_squared_error: y_true of shape \[4, 3\] does not match y_pred of shape \[4, 2\]",
        ),
        (
            lambda: losses.categorical_crossentropy(np.ones((4, 3)), np.ones((5, 3))),
            r"y_true of shape \[4, 3\] does not match y_pred of shape \[5, 3\]",
        ),
        (
            lambda: losses.SparseCategoricalCrossentropy()(np.ones((4, 2), int), np.ones((4, 3))),
            r"labels of shape \[4, 2\] do not match y_pred of shape \[4, 3\]",
        ),
        (
            lambda: losses.sparse_categorical_crossentropy([0], [[1.0, 0.0]], axis=0),
            "only axis=-1",
        ),
        (
            lambda: losses.sparse_categorical_crossentropy([5], [[1.0, 0.0]], True),
            "label 5 is outside",
        ),
    ],
)
def test_bad_inputs_name_the_shapes(call, message):
    with pytest.raises(EmberliteError, match=message):
        call()


def test_traced_with_unknown_batch_size():
    specs = [TensorSpec((None, C)), TensorSpec((None,), np.int64), TensorSpec((None,))]
    loss = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)
    mse = losses.MeanSquaredError(reduction="sum_over_batch_size")

    @et.function(input_signature=specs)
    def step(x, y, w):
        return loss(y, x, sample_weight=w) + mse(x, x * 2.0, sample_weight=w)

    for n in (5, 3, 8):
        x = rng.normal(size=(n, C)).astype(np.float32)
        y = rng.integers(0, C, n)
        w = rng.random(n).astype(np.float32)
        expected = float(loss(y, x, sample_weight=w)) + float(mse(x, x * 2.0, sample_weight=w))
        assert float(step(x, y, w)) == pytest.approx(expected, rel=1e-5)


# -- torch ------------------------------------------------------------------------------------


def test_matches_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    t_bin, p = torch.tensor(binary), torch.tensor(_sigmoid(logits))
    weights = rng.random(N)
    np.testing.assert_allclose(
        float(losses.BinaryCrossentropy()(binary, _sigmoid(logits))),
        F.binary_cross_entropy(p, t_bin).item(),
        rtol=1e-6,
    )
    # Keras sums per-sample means (over the last axis), torch sums the elements
    np.testing.assert_allclose(
        float(losses.BinaryCrossentropy(from_logits=True, reduction="sum")(binary, logits)),
        F.binary_cross_entropy_with_logits(torch.tensor(logits), t_bin, reduction="sum").item() / C,
        rtol=1e-6,
    )
    # torch's label_smoothing and per-sample weights (reduction sum / N)
    per_sample = F.cross_entropy(
        torch.tensor(logits), torch.tensor(labels), reduction="none", label_smoothing=0.1
    )
    loss = losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)
    np.testing.assert_allclose(
        float(loss(one_hot, logits, sample_weight=weights)),
        (per_sample.numpy() * weights).sum() / N,
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        float(losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits)),
        F.cross_entropy(torch.tensor(logits), torch.tensor(labels)).item(),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        float(losses.Huber(delta=0.7)(reals, reals2)),
        F.huber_loss(torch.tensor(reals2), torch.tensor(reals), delta=0.7).item(),
        rtol=1e-6,
    )


def test_gradients_match_torch():
    torch = pytest.importorskip("torch")
    x = et.Variable(logits)
    with et.GradientTape() as tape:
        value = losses.BinaryCrossentropy(from_logits=True)(binary, x)
    tx = torch.tensor(logits, requires_grad=True)
    torch.nn.functional.binary_cross_entropy_with_logits(tx, torch.tensor(binary)).backward()
    np.testing.assert_allclose(tape.gradient(value, x).numpy(), tx.grad.numpy(), rtol=1e-6)
    x = et.Variable(reals2)
    with et.GradientTape() as tape:
        value = losses.Huber(delta=0.7)(reals, x)
    tx = torch.tensor(reals2, requires_grad=True)
    torch.nn.functional.huber_loss(tx, torch.tensor(reals), delta=0.7).backward()
    np.testing.assert_allclose(tape.gradient(value, x).numpy(), tx.grad.numpy(), rtol=1e-6)


# -- get / serialize / deserialize --------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("mse", losses.MeanSquaredError),
        ("MSE", losses.MeanSquaredError),
        ("mean_squared_error", losses.MeanSquaredError),
        ("MeanSquaredError", losses.MeanSquaredError),
        ("mae", losses.MeanAbsoluteError),
        ("huber", losses.Huber),
        ("kld", losses.KLDivergence),
        ("logcosh", losses.LogCosh),
        ("bce", losses.BinaryCrossentropy),
        ("binary_crossentropy", losses.BinaryCrossentropy),
        ("categorical_crossentropy", losses.CategoricalCrossentropy),
        ("sparse_categorical_crossentropy", losses.SparseCategoricalCrossentropy),
        ("binary_focal_crossentropy", losses.BinaryFocalCrossentropy),
    ],
)
def test_get_by_name(name, cls):
    assert type(losses.get(name)) is cls


def test_get_other_identifiers():
    assert losses.get(None) is None
    assert type(losses.get(losses.Hinge)) is losses.Hinge
    huber = losses.Huber(delta=2.0)
    assert losses.get(huber) is huber
    assert losses.get(losses.mse) is losses.mean_squared_error
    assert losses.get(losses.serialize(huber)).get_config() == huber.get_config()
    with pytest.raises(EmberliteError, match="unknown loss 'msq'"):
        losses.get("msq")
    with pytest.raises(EmberliteError, match="could not interpret loss identifier 3"):
        losses.get(3)


@pytest.mark.parametrize("case", sorted(CASES))
def test_config_round_trip(case):
    loss, y_true, y_pred, _ = CASES[case]
    loss = type(loss)(**{**loss.get_config(), "reduction": "sum", "name": "mine"})
    again = losses.deserialize(losses.serialize(loss))
    assert type(again) is type(loss) and again.get_config() == loss.get_config()
    assert again.name == "mine" and again.reduction == "sum"
    np.testing.assert_allclose(float(again(y_true, y_pred)), float(loss(y_true, y_pred)))


def test_function_wrappers_serialize_their_function_by_name():
    wrapper = losses.LossFunctionWrapper(losses.huber, reduction="sum", delta=0.5)
    config = losses.serialize(wrapper)
    assert config["config"]["fn"] == "huber" and config["config"]["delta"] == 0.5
    again = losses.deserialize(config)
    assert again.fn is losses.huber and again.name == "huber"
    assert float(again(reals, reals2)) == pytest.approx(
        float(losses.Huber(0.5, "sum")(reals, reals2))
    )
    assert losses.serialize(losses.mse) == "mean_squared_error"
    assert losses.deserialize("mean_squared_error") is losses.mean_squared_error


def test_user_functions_and_classes_round_trip_when_registered():
    def scaled_error(y_true, y_pred, scale=1.0):
        return losses.mean_absolute_error(y_true, y_pred) * scale

    config = losses.serialize(losses.LossFunctionWrapper(scaled_error, scale=3.0))
    with pytest.raises(SerializationError, match="unknown loss function"):
        losses.deserialize(config)
    again = losses.deserialize(config, custom_objects={config["config"]["fn"]: scaled_error})
    assert float(again(reals, reals2)) == pytest.approx(3 * np.abs(reals - reals2).mean())

    @register_serializable()
    class Doubled(losses.Loss):
        def call(self, y_true, y_pred):
            return losses.mean_squared_error(y_true, y_pred) * 2.0

    again = losses.deserialize(losses.serialize(Doubled(reduction="sum")))
    assert type(again) is Doubled and again.name == "doubled" and again.reduction == "sum"

"""Metrics accumulated over several weighted batches against NumPy (and sklearn's AUC),
Keras's AUC summations on a case worked by hand, resets, configs, compile's choices, errors."""

import numpy as np
import pytest

import emberlite.trainer as et
from emberlite.errors import EmberliteError
from emberlite.trainer import losses, metrics
from emberlite.trainer.graph import TensorSpec

rng = np.random.default_rng(3)
C = 5


def _batches(make, sizes=(4, 7, 1)):
    """Batches of (y_true, y_pred, sample_weight) from make(n)."""
    return [(*make(n), rng.random(n)) for n in sizes]


def _accumulate(metric, batches, weighted=True):
    for y_true, y_pred, w in batches:
        metric.update_state(y_true, y_pred, sample_weight=w if weighted else None)
    return metric.result().numpy()


def _stack(batches):
    return [np.concatenate(parts) for parts in zip(*batches, strict=True)]


def _weighted_mean(values, w):
    return (values * w).sum() / w.sum()


def _probs(n):
    return rng.dirichlet(np.ones(C), n)


# -- Mean, Sum ----------------------------------------------------------------------------------


def test_mean_and_sum_over_weighted_batches():
    batches = [(rng.normal(size=n), rng.random(n)) for n in (3, 5, 2)]
    mean, total = metrics.Mean(), metrics.Sum()
    for values, w in batches:
        mean.update_state(values, sample_weight=w)
        total.update_state(values, sample_weight=w)
    values, w = (np.concatenate(p) for p in zip(*batches, strict=True))
    assert float(mean.result()) == pytest.approx(_weighted_mean(values, w), rel=1e-6)
    assert float(total.result()) == pytest.approx((values * w).sum(), rel=1e-6)
    assert mean.result().dtype == np.float32


def test_mean_averages_each_sample_first_and_weights_align_from_the_batch_axis():
    values, w = rng.normal(size=(4, 3)), rng.random(4)
    mean = metrics.Mean()
    mean.update_state(values, sample_weight=w)
    assert float(mean.result()) == pytest.approx(_weighted_mean(values.mean(1), w), rel=1e-6)
    # per-element weights: the weighted mean of all elements
    mean.reset_state()
    w2 = rng.random((4, 3))
    mean.update_state(values, sample_weight=w2)
    assert float(mean.result()) == pytest.approx(_weighted_mean(values, w2), rel=1e-6)
    # a scalar weight weighs each sample
    mean.reset_state()
    mean.update_state([1.0, 2.0, 3.0], sample_weight=2.0)
    mean.update_state([7.0])
    assert float(mean.result()) == pytest.approx((2 * 6 + 7) / 7)
    with pytest.raises(EmberliteError, match=r"mean: sample_weight of shape \[2\] does not"):
        mean.update_state(values, sample_weight=[1.0, 2.0])


# -- accuracies -----------------------------------------------------------------------------------

ACCURACIES = {
    "binary": (
        metrics.BinaryAccuracy(threshold=0.3),
        lambda n: (rng.integers(0, 2, (n, 2)), rng.random((n, 2))),
        lambda t, p: ((p > 0.3) == t).mean(1),
    ),
    "categorical": (
        metrics.CategoricalAccuracy(),
        lambda n: (np.eye(C)[rng.integers(0, C, n)], _probs(n)),
        lambda t, p: (t.argmax(1) == p.argmax(1)).astype(float),
    ),
    "sparse": (
        metrics.SparseCategoricalAccuracy(),
        lambda n: (rng.integers(0, C, (n, 1)), _probs(n)),
        lambda t, p: (t[:, 0] == p.argmax(1)).astype(float),
    ),
    "top_k": (
        metrics.TopKCategoricalAccuracy(k=2),
        lambda n: (np.eye(C)[rng.integers(0, C, n)], _probs(n)),
        lambda t, p: (np.argsort(-p, 1)[:, :2] == t.argmax(1)[:, None]).any(1).astype(float),
    ),
    "sparse_top_k": (
        metrics.SparseTopKCategoricalAccuracy(k=3),
        lambda n: (rng.integers(0, C, n), _probs(n)),
        lambda t, p: (np.argsort(-p, 1)[:, :3] == t[:, None]).any(1).astype(float),
    ),
    "exact": (
        metrics.Accuracy(),
        lambda n: (rng.integers(0, 3, (n, 2)), rng.integers(0, 3, (n, 2))),
        lambda t, p: (t == p).mean(1),
    ),
}


@pytest.mark.parametrize("case", sorted(ACCURACIES))
def test_accuracies_over_weighted_batches(case):
    metric, make, reference = ACCURACIES[case]
    metric.reset_state()
    batches = _batches(make)
    y_true, y_pred, w = _stack(batches)
    expected = _weighted_mean(reference(y_true, y_pred), w)
    assert _accumulate(metric, batches) == pytest.approx(expected, rel=1e-6)
    metric.reset_state()
    unweighted = reference(y_true, y_pred).mean()
    assert _accumulate(metric, batches, weighted=False) == pytest.approx(unweighted, rel=1e-6)


def test_top_k_counts_ties_at_the_boundary_as_in():
    # tf.math.in_top_k: class 1 ties with class 0 for the top place
    scores = [[0.4, 0.4, 0.2], [0.4, 0.4, 0.2], [0.1, 0.2, 0.7]]
    hits = metrics.sparse_top_k_categorical_accuracy([1, 2, 5], scores, k=1)
    np.testing.assert_array_equal(hits.numpy(), [1.0, 0.0, 0.0])  # label 5: no such class


def test_binary_accuracy_of_labels_shaped_n_against_predictions_n_1():
    hits = metrics.binary_accuracy([1, 0, 1], [[0.9], [0.6], [0.2]])
    np.testing.assert_array_equal(hits.numpy(), [[1.0], [0.0], [0.0]])


# -- metrics named after losses ------------------------------------------------------------------

LOSS_METRICS = [
    (metrics.MeanSquaredError(), losses.mean_squared_error),
    (metrics.MeanAbsoluteError(), losses.mean_absolute_error),
    (metrics.MeanAbsolutePercentageError(), losses.mean_absolute_percentage_error),
    (metrics.MeanSquaredLogarithmicError(), losses.mean_squared_logarithmic_error),
    (metrics.LogCoshError(), losses.log_cosh),
    (metrics.Hinge(), losses.hinge),
    (metrics.KLDivergence(), losses.kl_divergence),
    (metrics.Poisson(), losses.poisson),
    (metrics.BinaryCrossentropy(label_smoothing=0.1), None),
    (metrics.CategoricalCrossentropy(), losses.categorical_crossentropy),
]


@pytest.mark.parametrize("index", range(len(LOSS_METRICS)))
def test_loss_named_metrics_are_the_weighted_mean_of_the_loss(index):
    metric, fn = LOSS_METRICS[index]
    fn = fn or (lambda t, p: losses.binary_crossentropy(t, p, label_smoothing=0.1))
    metric.reset_state()
    batches = _batches(lambda n: (rng.random((n, C)), rng.random((n, C)) + 0.05))
    y_true, y_pred, w = _stack(batches)
    expected = _weighted_mean(fn(y_true, y_pred).numpy(), w)
    assert _accumulate(metric, batches) == pytest.approx(expected, rel=1e-5)


def test_sparse_crossentropy_metric_and_cosine_similarity():
    batches = _batches(lambda n: (rng.integers(0, C, n), rng.normal(size=(n, C))))
    y_true, y_pred, w = _stack(batches)
    metric = metrics.SparseCategoricalCrossentropy(from_logits=True)
    expected = _weighted_mean(
        losses.sparse_categorical_crossentropy(y_true, y_pred, True).numpy(), w
    )
    assert _accumulate(metric, batches) == pytest.approx(float(expected), rel=1e-5)
    a, b = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert float(metrics.CosineSimilarity()(a, b)) == pytest.approx(cosine.mean(), rel=1e-6)


def test_root_mean_squared_error():
    batches = _batches(lambda n: (rng.normal(size=(n, 2)), rng.normal(size=(n, 2))))
    y_true, y_pred, w = _stack(batches)
    expected = np.sqrt(_weighted_mean(((y_true - y_pred) ** 2).mean(1), w))
    assert _accumulate(metrics.RootMeanSquaredError(), batches) == pytest.approx(expected, rel=1e-6)


# -- confusion counts, precision, recall ----------------------------------------------------------


def _counts(t, p, w, threshold):
    pos, pred = t != 0, p > threshold
    return {
        "tp": (w * (pos & pred)).sum(),
        "fp": (w * (~pos & pred)).sum(),
        "tn": (w * (~pos & ~pred)).sum(),
        "fn": (w * (pos & ~pred)).sum(),
    }


def _binary_batches():
    return _batches(lambda n: (rng.integers(0, 2, (n, 3)), rng.random((n, 3))))


def test_confusion_counts_precision_recall_at_several_thresholds():
    batches = _binary_batches()
    t, p, w = _stack(batches)
    w3 = np.broadcast_to(w[:, None], t.shape)
    thresholds = [0.2, 0.5, 0.9]
    expected = [_counts(t, p, w3, th) for th in thresholds]
    for cls, key in (
        (metrics.TruePositives, "tp"),
        (metrics.FalsePositives, "fp"),
        (metrics.TrueNegatives, "tn"),
        (metrics.FalseNegatives, "fn"),
    ):
        got = _accumulate(cls(thresholds=thresholds), batches)
        np.testing.assert_allclose(got, [e[key] for e in expected], rtol=1e-6)
        assert _accumulate(cls(), batches) == pytest.approx(_counts(t, p, w3, 0.5)[key])
    precision = _accumulate(metrics.Precision(thresholds=thresholds), batches)
    recall = _accumulate(metrics.Recall(thresholds=thresholds), batches)
    np.testing.assert_allclose(precision, [e["tp"] / (e["tp"] + e["fp"]) for e in expected], 1e-6)
    np.testing.assert_allclose(recall, [e["tp"] / (e["tp"] + e["fn"]) for e in expected], 1e-6)


def test_precision_and_recall_of_one_class_and_of_the_top_k():
    batches = _binary_batches()
    t, p, w = _stack(batches)
    c = _counts(t[:, 1], p[:, 1], w, 0.5)
    assert _accumulate(metrics.Precision(class_id=1), batches) == pytest.approx(
        c["tp"] / (c["tp"] + c["fp"]), rel=1e-6
    )
    # top_k=1: only each row's largest score is a positive prediction
    top = np.zeros_like(p, bool)
    top[np.arange(len(p)), p.argmax(1)] = True
    tp = (w[:, None] * (top & (t != 0))).sum()
    assert _accumulate(metrics.Recall(top_k=1), batches) == pytest.approx(
        tp / (w[:, None] * (t != 0)).sum(), rel=1e-6
    )
    assert _accumulate(metrics.Precision(top_k=1), batches) == pytest.approx(tp / w.sum(), rel=1e-6)


def test_top_k_breaks_ties_toward_the_lower_index():
    recall = metrics.Recall(top_k=2)
    recall.update_state([[0, 0, 1, 0]], [[0.5, 0.5, 0.5, 0.1]])  # classes 0 and 1 win the tie
    assert float(recall.result()) == 0.0
    recall.update_state([[0, 1, 0, 0]], [[0.5, 0.5, 0.5, 0.1]])
    assert float(recall.result()) == 0.5


# -- AUC ------------------------------------------------------------------------------------------

# A case worked by hand, with num_thresholds=3: thresholds -1e-7, 0.5, 1 + 1e-7.
#   tp = [2, 1, 0], fp = [2, 0, 0], tn = [0, 2, 2], fn = [0, 1, 2]
#   ROC: fpr = [1, 0, 0], recall = [1, 0.5, 0]; PR: precision = [0.5, 1, 0 (0/0)]
HAND_TRUE, HAND_PRED = [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]
# Keras's PR interpolation: p = tp + fp = [4, 1, 0]; per interval: slope = dtp / dp,
# intercept = tp[1:] - slope * p[1:],
# area = slope * (dtp + intercept * log(p0 / p1)) / (tp1 + fn1)
# interval 1: slope 1/3, intercept 2/3, ratio 4: (1 + 2/3 ln 4) / 6
# interval 2: p1 = 0, so the ratio is taken as 1: 1 * (1 + 0) / 2
PR_INTERPOLATED = (1 + 2 / 3 * np.log(4)) / 6 + 1 / 2
HAND = {
    ("ROC", "interpolation"): 1 * (1 + 0.5) / 2,
    ("ROC", "minoring"): 0.5,
    ("ROC", "majoring"): 1.0,
    ("PR", "interpolation"): PR_INTERPOLATED,
    ("PR", "minoring"): 0.5 * 0.5 + 0.5 * 0.0,
    ("PR", "majoring"): 0.5 * 1.0 + 0.5 * 1.0,
}


@pytest.mark.parametrize(("curve", "summation"), sorted(HAND))
def test_auc_summations_on_a_case_worked_by_hand(curve, summation):
    auc = metrics.AUC(num_thresholds=3, curve=curve, summation_method=summation)
    auc.update_state(HAND_TRUE, HAND_PRED)
    assert float(auc.result()) == pytest.approx(HAND[curve, summation], rel=1e-6)
    np.testing.assert_array_equal(auc.counts["tp"].numpy(), [2, 1, 0])
    np.testing.assert_array_equal(auc.counts["tn"].numpy(), [0, 2, 2])


def test_auc_matches_sklearn():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    batches = _batches(
        lambda n: ((y := rng.integers(0, 2, n)), np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0, 1)),
        sizes=(300, 500, 200),
    )
    t, p, w = _stack(batches)
    for weighted in (False, True):
        weights = w if weighted else None
        auc = _accumulate(metrics.AUC(num_thresholds=1000), batches, weighted)
        expected = sklearn_metrics.roc_auc_score(t, p, sample_weight=weights)
        assert abs(auc - expected) < 1e-3
    # scores halfway between the thresholds: the trapezoids are exact
    grid = (rng.integers(0, 199, 400) + 0.5) / 199
    labels = rng.random(400) < grid
    auc = metrics.AUC()(labels, grid)
    assert float(auc) == pytest.approx(sklearn_metrics.roc_auc_score(labels, grid), abs=1e-6)
    logits = np.log(grid / (1 - grid))
    assert float(metrics.AUC(from_logits=True)(labels, logits)) == pytest.approx(float(auc))
    pr = metrics.AUC(curve="PR", num_thresholds=1000)(t, p)
    assert abs(float(pr) - sklearn_metrics.average_precision_score(t, p)) < 0.02


def test_auc_multi_label_is_the_mean_of_each_labels_auc():
    t = rng.integers(0, 2, (60, 3))
    p = np.clip(rng.normal(0.3 + 0.4 * t, 0.25), 0, 1)
    multi = metrics.AUC(multi_label=True)
    assert multi.variables == []  # made at the first batch
    multi.update_state(t[:30], p[:30])
    multi.update_state(t[30:], p[30:])
    singles = [float(metrics.AUC()(t[:, k], p[:, k])) for k in range(3)]
    assert float(multi.result()) == pytest.approx(np.mean(singles), rel=1e-6)
    assert multi.counts["tp"].shape == (200, 3)
    with pytest.raises(EmberliteError, match=r"expected 3 labels, got y_pred of shape \[2, 4\]"):
        multi.update_state(np.zeros((2, 4)), np.zeros((2, 4)))


def test_auc_given_thresholds():
    auc = metrics.AUC(thresholds=[0.5])
    assert auc.thresholds == [-1e-7, 0.5, 1 + 1e-7] and auc.num_thresholds == 3
    auc.update_state(HAND_TRUE, HAND_PRED)
    assert float(auc.result()) == pytest.approx(0.75)


# -- state, tracing, configs -----------------------------------------------------------------------


def test_state_is_non_trainable_variables_and_resets():
    precision = metrics.Precision(thresholds=[0.3, 0.6], name="prec")
    assert [v.name for v in precision.variables] == ["prec/true_positives", "prec/false_positives"]
    assert not any(v.trainable for v in precision.variables)
    precision.update_state([1, 0, 1], [0.9, 0.8, 0.1])
    assert precision.result().numpy().tolist() == [0.5, 0.5]
    precision.reset_state()
    assert precision.result().numpy().tolist() == [0.0, 0.0]
    assert all(not v.numpy().any() for v in precision.variables)
    accuracy = metrics.SparseCategoricalAccuracy()
    assert float(accuracy([1], [[0.2, 0.8]])) == 1.0  # __call__: update, then the result
    assert float(accuracy([0], [[0.2, 0.8]])) == 0.5


def test_a_user_metric_written_as_in_keras():
    class Largest(metrics.Metric):
        def __init__(self, name="largest", dtype=None):
            super().__init__(name=name, dtype=dtype)
            self.peak = self.add_weight(shape=(), initializer=-1e9, name="peak")

        def update_state(self, values, sample_weight=None):
            self.peak.assign(et.maximum(self.peak, et.reduce_max(et.cast(values, self.dtype))))

        def result(self):
            return et.reduce_max(self.peak)

    largest = Largest()
    assert [v.name for v in largest.variables] == ["largest/peak"]
    largest.update_state([1.0, 4.0])
    assert float(largest([2, 3])) == 4.0
    largest.reset_state()  # zeros, as Keras resets
    assert float(largest.result()) == 0.0
    assert largest.get_config() == {"name": "largest", "dtype": "float32"}


def test_update_state_traces_with_unknown_batch_size():
    tracked = [
        metrics.Mean(),
        metrics.SparseCategoricalAccuracy(),
        metrics.AUC(num_thresholds=50),
        metrics.Recall(top_k=2),
        metrics.RootMeanSquaredError(),
    ]
    eager = [type(m)(**m.get_config()) for m in tracked]

    def update(group, y, p, w):
        group[0].update_state(p, sample_weight=w)
        group[1].update_state(y, p, sample_weight=w)
        onehot = et.cast(et.equal(y[:, None], np.arange(C)), np.float32)
        group[2].update_state(onehot, p, sample_weight=w)
        group[3].update_state(onehot, p, sample_weight=w)
        group[4].update_state(onehot, p)

    specs = [TensorSpec((None,), np.int64), TensorSpec((None, C)), TensorSpec((None,))]
    step = et.function(lambda y, p, w: update(tracked, y, p, w), input_signature=specs)
    for n in (6, 3, 9):
        y, p, w = rng.integers(0, C, n), _probs(n).astype(np.float32), rng.random(n)
        step(y, p, w.astype(np.float32))
        update(eager, et.constant(y), p, w.astype(np.float32))
    for traced, reference in zip(tracked, eager, strict=True):
        np.testing.assert_allclose(traced.result().numpy(), reference.result().numpy(), 1e-6)


ALL_METRICS = [
    metrics.Mean(name="m"),
    metrics.Sum(),
    metrics.Accuracy(),
    metrics.BinaryAccuracy(threshold=0.7),
    metrics.CategoricalAccuracy(),
    metrics.SparseCategoricalAccuracy(),
    metrics.TopKCategoricalAccuracy(k=2),
    metrics.SparseTopKCategoricalAccuracy(k=3),
    metrics.AUC(num_thresholds=20, curve="pr", summation_method="Majoring", from_logits=True),
    metrics.AUC(thresholds=[0.25, 0.5], multi_label=True, num_labels=2),
    metrics.Precision(thresholds=[0.1, 0.4], class_id=1),
    metrics.Recall(top_k=2),
    metrics.TruePositives(thresholds=0.3),
    metrics.FalsePositives(),
    metrics.TrueNegatives(),
    metrics.FalseNegatives(),
    metrics.MeanSquaredError(),
    metrics.MeanAbsoluteError(),
    metrics.MeanAbsolutePercentageError(),
    metrics.MeanSquaredLogarithmicError(),
    metrics.RootMeanSquaredError(),
    metrics.LogCoshError(),
    metrics.CosineSimilarity(axis=-1),
    metrics.Hinge(),
    metrics.KLDivergence(),
    metrics.Poisson(),
    metrics.BinaryCrossentropy(from_logits=True, label_smoothing=0.2),
    metrics.CategoricalCrossentropy(label_smoothing=0.1),
    metrics.SparseCategoricalCrossentropy(from_logits=True),
    metrics.MeanMetricWrapper(metrics.top_k_categorical_accuracy, name="top2", k=2),
]


@pytest.mark.parametrize("metric", ALL_METRICS, ids=lambda m: type(m).__name__)
def test_config_round_trip(metric):
    config = metrics.serialize(metric)
    again = metrics.deserialize(config)
    assert type(again) is type(metric)
    assert again.get_config() == metric.get_config()
    assert [v.shape for v in again.variables] == [v.shape for v in metric.variables]


def test_wrapped_functions_round_trip_by_name():
    wrapper = metrics.MeanMetricWrapper(metrics.top_k_categorical_accuracy, name="top2", k=2)
    config = metrics.serialize(wrapper)["config"]
    assert config["fn"] == "top_k_categorical_accuracy" and config["k"] == 2
    again = metrics.deserialize(metrics.serialize(wrapper))
    y, p = np.eye(3)[[0, 1]], np.array([[0.1, 0.5, 0.4], [0.3, 0.6, 0.1]])
    assert float(again(y, p)) == float(wrapper(y, p)) == 0.5
    assert metrics.serialize(metrics.binary_accuracy) == "binary_accuracy"
    assert metrics.deserialize("binary_accuracy") is metrics.binary_accuracy


# -- get and compile's choices --------------------------------------------------------------


def test_get():
    assert metrics.get(None) is None
    for name in ("accuracy", "acc", "Accuracy", "crossentropy", "ce"):
        deferred = metrics.get(name)
        assert isinstance(deferred, metrics.DeferredMetric) and deferred.name == name
    mse = metrics.get("mse")
    assert type(mse) is metrics.MeanSquaredError and mse.name == "mse"
    assert type(metrics.get("AUC")) is metrics.AUC
    assert type(metrics.get("binary_accuracy")) is metrics.BinaryAccuracy
    assert type(metrics.get("kld")) is metrics.KLDivergence
    assert type(metrics.get(metrics.Recall)) is metrics.Recall
    auc = metrics.AUC()
    assert metrics.get(auc) is auc
    assert metrics.get(metrics.binary_accuracy) is metrics.binary_accuracy
    assert type(metrics.get(metrics.serialize(metrics.Precision()))) is metrics.Precision
    with pytest.raises(EmberliteError, match="unknown metric 'accuracy2'"):
        metrics.get("accuracy2")
    with pytest.raises(EmberliteError, match="could not interpret metric identifier 5"):
        metrics.get(5)


@pytest.mark.parametrize(
    ("loss", "y_true_shape", "y_pred_shape", "accuracy", "crossentropy"),
    [
        ("mse", (None, 1), (None, 1), metrics.BinaryAccuracy, metrics.BinaryCrossentropy),
        (None, (None,), (None,), metrics.BinaryAccuracy, metrics.BinaryCrossentropy),
        (
            None,
            (None,),
            (None, 10),
            metrics.SparseCategoricalAccuracy,
            metrics.SparseCategoricalCrossentropy,
        ),
        (
            "mse",
            (32, 1),
            (32, 10),
            metrics.SparseCategoricalAccuracy,
            metrics.SparseCategoricalCrossentropy,
        ),
        (None, (8, 10), (8, 10), metrics.CategoricalAccuracy, metrics.CategoricalCrossentropy),
        # the loss decides: multi-label binary cross-entropy of 10 outputs
        (
            "binary_crossentropy",
            (8, 10),
            (8, 10),
            metrics.BinaryAccuracy,
            metrics.BinaryCrossentropy,
        ),
        (
            losses.SparseCategoricalCrossentropy(),
            (8, 10),
            (8, 10, 4),
            metrics.SparseCategoricalAccuracy,
            metrics.SparseCategoricalCrossentropy,
        ),
        (
            losses.LossFunctionWrapper(losses.categorical_crossentropy),
            (8, 1),
            (8, 1),
            metrics.CategoricalAccuracy,
            metrics.CategoricalCrossentropy,
        ),
    ],
)
def test_compile_choices(loss, y_true_shape, y_pred_shape, accuracy, crossentropy):
    chosen = metrics.get("acc").resolve(loss, y_true_shape, y_pred_shape)
    assert type(chosen) is accuracy and chosen.name == "acc"
    chosen = metrics.crossentropy_for(loss, y_true_shape, y_pred_shape)
    assert type(chosen) is crossentropy and chosen.name == "crossentropy"


def test_compile_choices_follow_a_loss_of_logits():
    loss = losses.BinaryCrossentropy(from_logits=True)
    accuracy = metrics.accuracy_for(loss, (4, 1), (4, 1))
    assert accuracy.get_config()["threshold"] == 0.0
    assert float(accuracy([[1], [0]], [[2.0], [0.3]])) == 0.5
    ce = metrics.crossentropy_for(losses.CategoricalCrossentropy(from_logits=True), (4, 3), (4, 3))
    assert ce.get_config()["from_logits"] is True


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: metrics.Precision(thresholds=[0.5, 1.5]),
            r"precision: thresholds must be in \[0, 1\], got 1.5",
        ),
        (lambda: metrics.AUC(curve="DET"), "auc: curve must be one of ROC, PR, got 'DET'"),
        (lambda: metrics.AUC(summation_method="sum"), "summation_method must be one of"),
        (lambda: metrics.AUC(num_thresholds=1), "num_thresholds must be > 1, got 1"),
        (
            lambda: metrics.Recall(class_id=3).update_state(np.ones((2, 3)), np.ones((2, 3))),
            r"recall: class_id=3 needs y_pred of shape \(samples, classes\) with more than 3",
        ),
        (
            lambda: metrics.Precision().update_state(np.ones((2, 3)), np.ones((2, 4))),
            r"precision: y_true of shape \[2, 3\] does not match y_pred of shape \[2, 4\]",
        ),
        (
            lambda: metrics.CategoricalAccuracy().update_state(np.ones((2, 3)), np.ones((2, 4))),
            r"y_true of shape \[2, 3\] does not match y_pred of shape \[2, 4\]",
        ),
        (
            lambda: metrics.SparseCategoricalAccuracy().update_state([[1, 2]], np.ones((2, 4))),
            r"labels of shape \[1, 2\] do not match y_pred of shape \[2, 4\]",
        ),
        (
            lambda: metrics.AUC(multi_label=True).update_state([1, 0], [0.2, 0.1]),
            r"multi_label needs y_pred of shape \(samples, labels\), got shape \[2\]",
        ),
        (
            lambda: metrics.Mean(name="m").add_variable((), "glorot", name="x"),
            "metric 'm': unknown initializer 'glorot' for variable 'x'",
        ),
    ],
)
def test_errors_name_the_metric_and_shapes(make, message):
    with pytest.raises(EmberliteError, match=message):
        make()

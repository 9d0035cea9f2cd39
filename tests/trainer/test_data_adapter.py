"""Data for fit / evaluate / predict: batching, shuffling, splits, class weights, sources."""

import numpy as np
import pytest

import emberlite.trainer as et
from emberlite.trainer import random
from emberlite.trainer.data_adapter import (
    DataError,
    EpochIterator,
    class_weight_to_sample_weights,
    make_batch,
    pack_x_y_sample_weight,
    train_validation_split,
    unpack_x_y_sample_weight,
)


def epoch(iterator):
    return [batch for _, batch in iterator.enumerate_epoch()]


def test_arrays_batch_in_order_with_a_smaller_last_batch():
    x = np.arange(10, dtype=np.float32).reshape(10, 1)
    y = np.arange(10, dtype=np.int32)
    it = EpochIterator(x, y, batch_size=4)
    assert it.num_batches == 3
    batches = epoch(it)
    assert [len(b) for b in batches] == [2, 2, 2]  # (x, y) tuples
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), y)
    assert [b[0].shape for b in batches] == [(4, 1), (4, 1), (2, 1)]
    assert epoch(EpochIterator(np.zeros((40, 1))))[0][0].shape == (32, 1)  # default batch 32


def test_float64_becomes_float32_and_other_dtypes_stay():
    (x, y) = make_batch(np.zeros((2, 3)), np.zeros(2, np.int64))
    assert x.dtype == np.float32 and y.dtype == np.int64
    (t,) = make_batch(et.constant(np.ones((2, 2), np.float16)))
    assert isinstance(t, np.ndarray) and t.dtype == np.float16


def test_shuffle_is_a_new_permutation_per_epoch_and_repeats_under_a_seed():
    x = np.arange(50, dtype=np.float32)
    random.set_random_seed(3)
    it = EpochIterator(x, x * 2, batch_size=8, shuffle=True)
    first = np.concatenate([b[0] for b in epoch(it)])
    second = np.concatenate([b[0] for b in epoch(it)])
    assert sorted(first) == list(x) and not np.array_equal(first, x)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in epoch(it)]) % 2, 0)  # pairs kept
    random.set_random_seed(3)
    again = EpochIterator(x, x * 2, batch_size=8, shuffle=True)
    np.testing.assert_array_equal(np.concatenate([b[0] for b in epoch(again)]), first)


def test_nested_inputs_and_outputs_slice_together():
    x = {"a": np.arange(6.0).reshape(6, 1), "b": [np.arange(6), np.arange(6) * 10]}
    y = [np.arange(6) * 2, np.arange(6) * 3]
    (bx, by) = epoch(EpochIterator(x, y, batch_size=4, shuffle=True))[0]
    index = bx["b"][0]
    np.testing.assert_array_equal(bx["a"][:, 0], index)
    np.testing.assert_array_equal(bx["b"][1], index * 10)
    np.testing.assert_array_equal(by[0], index * 2)
    np.testing.assert_array_equal(by[1], index * 3)


def test_mismatched_lengths_name_the_parts():
    with pytest.raises(DataError, match=r"'x' sizes: 10; 'y' sizes: 9"):
        EpochIterator(np.zeros((10, 2)), np.zeros(9))
    with pytest.raises(DataError, match=r"'x' sizes: 4, 5"):
        EpochIterator([np.zeros((4, 2)), np.zeros((5, 2))])
    with pytest.raises(DataError, match="x is None"):
        EpochIterator(None)
    with pytest.raises(DataError, match="batch_size"):
        EpochIterator(np.zeros(3), batch_size=0)


def test_validation_split_takes_the_last_fraction():
    x, y = np.arange(10.0), np.arange(10)
    (tx, ty, tw), (vx, vy, vw) = train_validation_split((x, y, None), 0.3)
    np.testing.assert_array_equal(tx, np.arange(7.0))
    np.testing.assert_array_equal(vy, [7, 8, 9])
    assert tw is None and vw is None
    with pytest.raises(DataError, match="holds 1 samples, too few"):
        train_validation_split((np.zeros(1), None, None), 0.5)
    with pytest.raises(DataError, match="only supported for arrays.*generator"):
        train_validation_split(((i for i in range(3)), None, None), 0.5)
    with pytest.raises(DataError, match="between 0 and 1"):
        train_validation_split((x, y, None), 1.5)


def test_class_weight_becomes_sample_weights():
    weights = {0: 0.5, 2: 3.0}
    expected = [0.5, 1.0, 3.0, 0.5]  # class 1 not listed: 1, as Keras
    for y in ([0, 1, 2, 0], [[0], [1], [2], [0]], np.eye(3)[[0, 1, 2, 0]]):
        np.testing.assert_array_equal(
            class_weight_to_sample_weights(np.asarray(y), weights), expected
        )
    x = np.zeros((4, 1))
    (_, _, w) = epoch(EpochIterator(x, np.array([0, 1, 2, 0]), class_weight=weights))[0]
    np.testing.assert_array_equal(w, expected)


def test_bad_class_weights_are_refused():
    x, y = np.zeros((2, 1)), np.array([0, 1])
    with pytest.raises(DataError, match=r"class indices .* got \['a'\]"):
        EpochIterator(x, y, class_weight={"a": 1.0, 1: 2.0})
    with pytest.raises(DataError, match=r"got \[-1\]"):
        EpochIterator(x, y, class_weight={-1: 1.0})
    with pytest.raises(DataError, match="non-empty dict"):
        EpochIterator(x, y, class_weight=[1.0, 2.0])
    with pytest.raises(DataError, match="cannot be given together"):
        make_batch(x, y, np.ones(2), class_weight={0: 1.0})
    with pytest.raises(DataError, match="single output"):
        make_batch(x, [y, y], class_weight={0: 1.0})


def test_generator_goes_on_across_epochs_and_runs_out():
    batches = ((np.full((2, 1), i, np.float32), np.zeros(2)) for i in range(5))
    it = EpochIterator(batches, steps_per_epoch=2)
    assert it.num_batches == 2
    assert [b[0][0, 0] for b in epoch(it)] == [0, 1]
    assert [b[0][0, 0] for b in epoch(it)] == [2, 3]
    assert not it.ran_out
    assert [b[0][0, 0] for b in epoch(it)] == [4]
    assert it.ran_out


def test_generator_without_steps_is_one_epoch():
    it = EpochIterator(iter([np.zeros((2, 1))] * 3))
    assert it.num_batches is None
    assert len(epoch(it)) == 3 and not it.ran_out
    assert epoch(it) == [] and it.ran_out


def test_iterables_and_sequences_restart_every_epoch():
    class Batches:  # keras.utils.Sequence's protocol
        def __init__(self):
            self.epochs_ended = 0

        def __len__(self):
            return 3

        def __getitem__(self, i):
            return np.full((2, 1), i, np.float32), np.zeros(2)

        def on_epoch_end(self):
            self.epochs_ended += 1

    sequence = Batches()
    it = EpochIterator(sequence)
    assert it.num_batches == 3
    for _ in range(2):
        assert [b[0][0, 0] for b in epoch(it)] == [0, 1, 2]
    assert sequence.epochs_ended == 2 and not it.ran_out

    class Stream:  # iterable without a length
        def __iter__(self):
            return iter([(np.ones((1, 1)),), (np.ones((1, 1)),)])

    it = EpochIterator(Stream())
    assert it.num_batches is None
    assert len(epoch(it)) == 2 and len(epoch(it)) == 2 and not it.ran_out


def test_steps_per_epoch_over_arrays_goes_on_and_starts_new_passes():
    x = np.arange(5.0)
    it = EpochIterator(x, batch_size=2, steps_per_epoch=2)
    seen = [b[0].tolist() for b in epoch(it) + epoch(it)]
    assert seen == [[0.0, 1.0], [2.0, 3.0], [4.0], [0.0, 1.0]]


def test_generator_data_excludes_separate_targets():
    with pytest.raises(DataError, match="do not pass y"):
        EpochIterator(iter([]), np.zeros(3))
    with pytest.raises(DataError, match="cannot use a int"):
        EpochIterator(3)
    with pytest.raises(DataError, match="steps must be a positive integer"):
        EpochIterator(np.zeros(3), steps_per_epoch=0)


def test_pack_and_unpack():
    assert pack_x_y_sample_weight(1) == (1,)
    assert pack_x_y_sample_weight(1, 2) == (1, 2)
    assert pack_x_y_sample_weight(1, 2, 3) == (1, 2, 3)
    assert unpack_x_y_sample_weight((1,)) == (1, None, None)
    assert unpack_x_y_sample_weight([1, 2]) == (1, 2, None)
    assert unpack_x_y_sample_weight("x") == ("x", None, None)
    with pytest.raises(DataError, match="tuple of 4"):
        unpack_x_y_sample_weight((1, 2, 3, 4))

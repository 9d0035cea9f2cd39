"""What `fit`, `evaluate` and `predict` take as data, made into batches (Keras's adapters).

    epochs = EpochIterator(x, y, sample_weight, batch_size=32, shuffle=True)
    for step, batch in epochs.enumerate_epoch():   # batch: (x,), (x, y) or (x, y, weights)
        ...

Sources, as Keras accepts them:
- arrays: NumPy arrays or emberlite tensors, alone or in (nested) lists, tuples and dicts
  (multi-input / multi-output models), sliced into batches of `batch_size`; each pass is
  shuffled anew when `shuffle` (with the process generator of `emberlite.trainer.random`,
  so `set_random_seed` makes it repeatable);
- a Sequence-like object (`__len__`, and `__getitem__` giving batch i; its `on_epoch_end`
  is called after each epoch, as `keras.utils.Sequence`'s);
- an iterable (a list of batches is not one: lists are arrays), iterated afresh each pass;
- an iterator or generator: one pass for the whole fit.
Batches from the last three are `x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)`.

`steps_per_epoch` ends an epoch after that many batches; the next epoch goes on from there,
starting a new pass where one ends (as a repeated dataset); an iterator that ends early has
"run out of data" (`ran_out`), which ends training.  Float64 arrays become float32 (Keras
casts inputs to floatx); `class_weight` becomes per-sample weights of each batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from emberlite.errors import EmberliteError
from emberlite.trainer import random
from emberlite.trainer.autodiff import _flatten, _restructure
from emberlite.trainer.tensor import Tensor


class DataError(EmberliteError, ValueError):
    """Training or prediction data that cannot be used; the message says which and why."""


# -- batches as tuples --------------------------------------------------------------------------


def pack_x_y_sample_weight(x: Any, y: Any = None, sample_weight: Any = None) -> tuple:
    """`(x,)`, `(x, y)` or `(x, y, sample_weight)`: the batch a train_step receives."""
    if y is None:
        return (x,)
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)


def unpack_x_y_sample_weight(data: Any) -> tuple[Any, Any, Any]:
    """`(x, y, sample_weight)` of a batch (missing parts None), as Keras's utility."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return (data, None, None)
    if 1 <= len(data) <= 3:
        return (*data, *(None,) * (3 - len(data)))
    raise DataError(
        "data is expected to be `x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)`, got a "
        f"tuple of {len(data)}"
    )


# -- arrays -------------------------------------------------------------------------------------


def is_array_structure(data: Any) -> bool:
    """Whether every leaf of `data` (lists, tuples, dicts) is an array, a tensor or None."""
    return all(
        leaf is None or isinstance(leaf, np.ndarray | Tensor | np.generic)
        for leaf in _flatten(data)
    )


def _as_array(x: Any) -> np.ndarray:
    array = x.numpy() if isinstance(x, Tensor) else np.asarray(x)
    return array.astype(np.float32) if array.dtype == np.float64 else array


def _standardize(data: Any) -> Any:
    """`data` with NumPy leaves (float64 made float32), structure kept."""
    return _restructure(data, [None if x is None else _as_array(x) for x in _flatten(data)])


def _num_samples(data: tuple) -> int:
    """The common first dimension of the arrays of (x, y, sample_weight)."""
    sizes: dict[str, set[int]] = {}
    for name, part in zip(("x", "y", "sample_weight"), data, strict=False):
        for array in _flatten(part):
            if array is None:
                continue
            if array.ndim == 0:
                raise DataError(f"'{name}' holds a scalar, not an array of samples")
            sizes.setdefault(name, set()).add(array.shape[0])
    if not sizes:
        raise DataError("no data given: x is None")
    if len(set().union(*sizes.values())) > 1:
        listed = "; ".join(
            f"'{name}' sizes: {', '.join(map(str, sorted(s)))}" for name, s in sizes.items()
        )
        raise DataError(
            "data cardinality is ambiguous: make sure all arrays contain the same number of "
            f"samples. {listed}"
        )
    return next(iter(next(iter(sizes.values()))))


def _take(data: Any, index: slice | np.ndarray) -> Any:
    return _restructure(data, [None if a is None else a[index] for a in _flatten(data)])


def train_validation_split(data: tuple, validation_split: float) -> tuple[tuple, tuple]:
    """(train, validation) parts of the arrays of `(x, y, sample_weight)`: the validation
    part is the last `validation_split` of the samples, taken before any shuffling (Keras)."""
    if not 0.0 < validation_split < 1.0:
        raise DataError(f"validation_split must be between 0 and 1, got {validation_split!r}")
    if not is_array_structure(data):
        kinds = sorted({type(leaf).__name__ for leaf in _flatten(data)})
        raise DataError(
            "validation_split is only supported for arrays and tensors; the data given holds "
            f"{', '.join(kinds)} (pass validation_data instead)"
        )
    data = _standardize(data)
    n = _num_samples(data)
    split_at = int(math.floor(n * (1.0 - validation_split)))
    if split_at in (0, n):
        raise DataError(
            f"the training data holds {n} samples, too few to split into training and "
            f"validation sets with validation_split={validation_split}"
        )
    return _take(data, slice(0, split_at)), _take(data, slice(split_at, n))


# -- class weights --------------------------------------------------------------------------------


def class_weight_to_sample_weights(y: Any, class_weight: dict[int, float]) -> np.ndarray:
    """Per-sample weights from `class_weight` {class index: weight} (classes not listed
    weigh 1, as in Keras); `y` holds class indices, shape (n,) or (n, 1), or one-hot rows."""
    y = _as_array(y)
    if y.ndim > 1 and y.shape[-1] > 1:
        y = np.argmax(y, axis=-1)
    elif y.ndim > 1:
        y = np.squeeze(y, axis=-1)
    classes = np.round(y).astype(np.int64)
    lookup = np.ones(max(int(classes.max(initial=0)), max(class_weight)) + 1, np.float32)
    for index, weight in class_weight.items():
        lookup[index] = weight
    return lookup[classes]


def _checked_class_weight(class_weight: Any) -> dict[int, float]:
    if not isinstance(class_weight, dict) or not class_weight:
        raise DataError(
            f"class_weight must be a non-empty dict {{class index: weight}}, got {class_weight!r}"
        )
    bad = [k for k in class_weight if not isinstance(k, int | np.integer) or k < 0]
    if bad:
        raise DataError(
            f"class_weight keys must be class indices (integers >= 0), got {bad!r} among "
            f"{sorted(class_weight, key=repr)!r}"
        )
    return {int(k): float(v) for k, v in class_weight.items()}


# -- sources ------------------------------------------------------------------------------------


@dataclass
class _Source:
    """Where batches come from: `new_pass()` starts a pass over the data (the same iterator
    again for a one-shot source); `num_batches` per pass, None when unknown."""

    new_pass: Callable[[], Iterator[Any]]
    num_batches: int | None
    one_shot: bool = False
    on_epoch_end: Callable[[], Any] | None = None


def _array_source(data: tuple, batch_size: int, shuffle: bool) -> _Source:
    data = _standardize(data)
    n = _num_samples(data)

    def new_pass() -> Iterator[tuple]:
        order = random.generator().permutation(n) if shuffle else None
        for start in range(0, n, batch_size):
            index = slice(start, start + batch_size)
            yield _take(data, index if order is None else order[index])

    return _Source(new_pass, math.ceil(n / batch_size))


def _source(x: Any, batch_size: int, shuffle: bool, y: Any, sample_weight: Any) -> _Source:
    data = (x, y, sample_weight)
    if isinstance(x, list | tuple | dict) or is_array_structure(data):
        if not is_array_structure(data):
            kinds = sorted({type(leaf).__name__ for leaf in _flatten(data)})
            raise DataError(f"cannot make batches of data holding {', '.join(kinds)}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise DataError(f"batch_size must be a positive integer, got {batch_size!r}")
        return _array_source(data, batch_size, shuffle)
    for name, given in (("y", y), ("sample_weight", sample_weight)):
        if given is not None:
            raise DataError(
                f"when x is a {type(x).__name__}, its batches hold the targets and weights: "
                f"do not pass {name}"
            )
    if hasattr(x, "__getitem__") and hasattr(x, "__len__"):  # keras.utils.Sequence
        return _Source(
            lambda: (x[i] for i in range(len(x))), len(x), on_epoch_end=_hook(x, "on_epoch_end")
        )
    if isinstance(x, Iterator):
        return _Source(lambda: x, None, one_shot=True)
    if hasattr(x, "__iter__"):
        return _Source(lambda: iter(x), len(x) if hasattr(x, "__len__") else None)
    raise DataError(
        f"cannot use a {type(x).__name__} as data: pass arrays, tensors, a generator, an "
        "iterable or a Sequence"
    )


def _hook(obj: Any, name: str) -> Callable[[], Any] | None:
    method = getattr(obj, name, None)
    return method if callable(method) else None


# -- epochs -------------------------------------------------------------------------------------


class EpochIterator:
    """The batches of each epoch (see the module docstring).

    Args:
        x, y, sample_weight: the data (y and sample_weight only with arrays).
        batch_size: samples per batch of arrays (default 32).
        steps_per_epoch: batches per epoch (default: one pass over the data).
        shuffle: shuffle arrays on every pass.
        class_weight: {class index: weight}, turned into per-sample weights.
    """

    def __init__(
        self,
        x: Any,
        y: Any = None,
        sample_weight: Any = None,
        batch_size: int | None = None,
        steps_per_epoch: int | None = None,
        shuffle: bool = False,
        class_weight: dict[int, float] | None = None,
    ):
        if steps_per_epoch is not None and (
            not isinstance(steps_per_epoch, int) or steps_per_epoch < 1
        ):
            raise DataError(f"steps must be a positive integer, got {steps_per_epoch!r}")
        self._class_weight = None if class_weight is None else _checked_class_weight(class_weight)
        self._source = _source(
            x, 32 if batch_size is None else batch_size, shuffle, y, sample_weight
        )
        self.steps_per_epoch = steps_per_epoch
        self._current: Iterator[Any] | None = None
        self.ran_out = False

    @property
    def num_batches(self) -> int | None:
        """Batches per epoch, None when not known in advance."""
        return self.steps_per_epoch or self._source.num_batches

    def enumerate_epoch(self) -> Iterator[tuple[int, tuple]]:
        """(step, batch) of the next epoch; sets `ran_out` when an iterator ends before
        `steps_per_epoch` batches, or gives none at all."""
        steps = self.steps_per_epoch
        if steps is None or self._current is None:
            self._current = self._source.new_pass()
        step = 0
        while steps is None or step < steps:
            batch = next(self._current, None)
            if batch is None and steps is not None and not self._source.one_shot:
                self._current = self._source.new_pass()  # repeat: a new pass goes on
                batch = next(self._current, None)
            if batch is None:  # an iterator ended: early, or before the epoch began
                self.ran_out = steps is not None or step == 0
                break
            yield step, self._batch(batch)
            step += 1
        if self._source.on_epoch_end is not None:
            self._source.on_epoch_end()

    def _batch(self, data: Any) -> tuple:
        return make_batch(*unpack_x_y_sample_weight(data), class_weight=self._class_weight)


def make_batch(
    x: Any, y: Any = None, sample_weight: Any = None, class_weight: dict | None = None
) -> tuple:
    """One batch as a step takes it: NumPy leaves (float64 made float32), `class_weight`
    made sample weights, packed as `(x,)`, `(x, y)` or `(x, y, sample_weight)`."""
    x, y, sample_weight = _standardize((x, y, sample_weight))
    if class_weight is not None:
        if sample_weight is not None:
            raise DataError("class_weight and sample_weight cannot be given together")
        if y is None or len(_flatten(y)) != 1:
            raise DataError("class_weight needs targets y of a single output to weigh")
        weights = _checked_class_weight(class_weight)
        sample_weight = class_weight_to_sample_weights(_flatten(y)[0], weights)
    return pack_x_y_sample_weight(x, y, sample_weight)

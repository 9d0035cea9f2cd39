"""Keras's layer arguments, checked and normalized: sizes given as an int or a tuple,
paddings, data formats.  Errors name the layer and the argument."""

from __future__ import annotations

from typing import Any

import numpy as np

from emberlite.trainer.layers.base import LayerError


def channels_last(layer: str, data_format: str | None) -> str:
    """'channels_last' (the default of None); any other format is refused."""
    if data_format not in (None, "channels_last"):
        raise LayerError(
            f"layer {layer!r}: data_format={data_format!r} is not supported; emberlite layers "
            "take 'channels_last' (NHWC) inputs only"
        )
    return "channels_last"


def int_tuple(layer: str, what: str, value: Any, n: int, minimum: int = 1) -> tuple[int, ...]:
    """An int (repeated n times) or n ints, each at least `minimum`."""
    values = (value,) * n if _is_int(value) else tuple(value) if _is_sequence(value) else ()
    if len(values) != n or not all(_is_int(v) and v >= minimum for v in values):
        raise LayerError(
            f"layer {layer!r}: {what} must be an int or {n} ints, each >= {minimum}; got {value!r}"
        )
    return tuple(int(v) for v in values)


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _is_sequence(value: Any) -> bool:
    return isinstance(value, list | tuple)


def padding_mode(layer: str, padding: str) -> str:
    """'valid' or 'same' (any case)."""
    mode = str(padding).lower()
    if mode not in ("valid", "same"):
        raise LayerError(f"layer {layer!r}: padding must be 'valid' or 'same', got {padding!r}")
    return mode


def pairs_2d(layer: str, what: str, value: Any) -> tuple[tuple[int, int], tuple[int, int]]:
    """((top, bottom), (left, right)) from an int, a (height, width) pair, or itself."""
    if _is_int(value) or (_is_sequence(value) and all(_is_int(v) for v in value)):
        height, width = int_tuple(layer, what, value, 2, minimum=0)
        return (height, height), (width, width)
    if not _is_sequence(value) or len(value) != 2:
        raise LayerError(
            f"layer {layer!r}: {what} must be an int, a pair, or a pair of pairs; got {value!r}"
        )
    rows, columns = (int_tuple(layer, what, pair, 2, minimum=0) for pair in value)
    return rows, columns

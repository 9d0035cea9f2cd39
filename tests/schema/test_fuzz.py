"""Mutated real models never crash the reader: they read, or fail with a ModelFormatError.

Mutations aim at the FlatBuffer's structure (tables, vtables, offsets, vectors) rather than at
weight bytes, where a flip changes numbers but not the shape of the file.  The default suite
runs a bounded number of examples; `make test-slow` runs many more.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emberlite.errors import EmberliteError, ModelFormatError
from emberlite.schema import read_model, write_model

FUZZ_MODELS = [
    "sine_float.tflite",
    "face_detection_short_range.tflite",
    "face_detection_full_range_sparse.tflite",
]
# Values that break offsets and lengths in interesting ways.
NASTY_WORDS = [0, 1, 3, 4, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFFC]


def structure_positions(data: bytes) -> np.ndarray:
    """Byte positions of the file outside constant buffers: where the FlatBuffer's tables live."""
    model = read_model(data)
    base = np.frombuffer(data, np.uint8).ctypes.data
    inside = np.zeros(len(data), bool)
    for b in model.buffers:
        if len(b.data):
            start = np.frombuffer(b.data, np.uint8).ctypes.data - base
            inside[start : start + len(b.data)] = True
    return np.flatnonzero(~inside)


@pytest.fixture(scope="module", params=FUZZ_MODELS)
def seed_model(request, model_files):
    data = model_files[request.param].read_bytes()
    return data, structure_positions(data)


@st.composite
def mutations(draw, data: bytes, positions: np.ndarray) -> bytes:
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        at = int(positions[draw(st.integers(0, len(positions) - 1))])
        kind = draw(st.sampled_from(["byte", "word", "truncate"]))
        if kind == "byte":
            out[at] = draw(st.integers(0, 255))
        elif kind == "word":
            at -= at % 4
            word = draw(st.sampled_from(NASTY_WORDS) | st.integers(0, len(data) + 64))
            out[at : at + 4] = word.to_bytes(4, "little")
        else:
            del out[at:]
            break
    return bytes(out)


def check_no_crash(data: bytes) -> None:
    try:
        model = read_model(data, name="fuzzed.tflite")
    except ModelFormatError as e:
        assert str(e).startswith("fuzzed.tflite: ")
        return
    # Whatever reads must also write, or be refused by name.
    try:
        write_model(model)
    except EmberliteError:
        pass


FUZZ_SETTINGS = dict(
    deadline=timedelta(seconds=5),  # a hang would blow this
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


@settings(max_examples=150, **FUZZ_SETTINGS)
@given(data=st.data())
def test_mutated_models_never_crash(seed_model, data):
    original, positions = seed_model
    check_no_crash(data.draw(mutations(original, positions)))


@pytest.mark.slow
@settings(max_examples=5000, **FUZZ_SETTINGS)
@given(data=st.data())
def test_mutated_models_never_crash_long(seed_model, data):
    original, positions = seed_model
    check_no_crash(data.draw(mutations(original, positions)))


@settings(max_examples=100, **FUZZ_SETTINGS)
@given(blob=st.binary(min_size=0, max_size=256))
def test_random_bytes_never_crash(blob):
    check_no_crash(blob)
    check_no_crash(blob[:4] + b"TFL3" + blob[8:])

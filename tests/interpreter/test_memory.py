"""Memory: the arena shares space between tensors, and a steady-state invoke allocates
nothing that grows with the model (TFLite's promise, checked with tracemalloc)."""

from __future__ import annotations

import tracemalloc

import pytest

from emberlite.interpreter import Interpreter
from emberlite.reference import random_inputs

# What one invoke may allocate, whatever the model: Python's own bookkeeping, a few views.
INVOKE_ALLOWANCE = 256 * 1024


@pytest.fixture(scope="module")
def pose(model_files):
    interpreter = Interpreter(model_path=str(model_files["pose_landmark_full.tflite"]))
    interpreter.allocate_tensors()
    for d, x in zip(
        interpreter.get_input_details(), random_inputs(interpreter.get_input_details()), strict=True
    ):
        interpreter.set_tensor(d["index"], x)
    interpreter.invoke()
    return interpreter


def test_steady_state_invoke_allocates_almost_nothing(pose):
    tracemalloc.start()
    try:
        pose.invoke()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert pose.arena_size > 20 * INVOKE_ALLOWANCE  # the bound is small next to the model
    assert peak < INVOKE_ALLOWANCE, f"one invoke allocated {peak} bytes"


def test_arena_reuses_memory(pose):
    executor = pose._main
    produced = {
        o for step in executor.steps for o in executor.subgraph.operators[step.node].outputs
    }
    total = sum(executor.arrays[i].nbytes for i in produced)
    assert pose.arena_size < total / 3, (pose.arena_size, total)


def test_preserve_all_tensors_shares_nothing(model_files):
    interpreter = Interpreter(
        model_path=str(model_files["hand_recrop.tflite"]), experimental_preserve_all_tensors=True
    )
    interpreter.allocate_tensors()
    views = [
        a for a in interpreter._main.arrays if a is not None and a.flags.writeable and a.nbytes
    ]
    spans = sorted((a.ctypes.data, a.ctypes.data + a.nbytes) for a in views)
    assert all(end <= start for (_, end), (start, _) in zip(spans, spans[1:], strict=False))

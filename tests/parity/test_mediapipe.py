"""Parity on real models: every mediapipe model LiteRT can run, output by output.

The rule (DESIGN): float outputs within 1e-4 relative, 1e-5 absolute floor, of LiteRT's
builtin kernels.  Deep models (300+ ops) drift further than that even between LiteRT's own
CPU paths; for them the bar is measured, not a constant: emberlite must be no further from
the builtin kernels than twice LiteRT's XNNPACK path is, on the same inputs.  Models whose
custom ops only XNNPACK provides are compared with LiteRT's default path.
"""

from __future__ import annotations

import numpy as np
import pytest

from emberlite.interpreter import Interpreter
from emberlite.parity import difference, needs_xnnpack
from emberlite.reference import random_inputs
from emberlite.schema import read_model
from tests.litert import litert_interpreter

DEEP_MODEL_OPS = 300
# Models LiteRT itself cannot run (mediapipe custom ops with no LiteRT kernel).
LITERT_CANNOT_RUN = {"face_landmark_with_attention.tflite"}


def outputs(interpreter, feeds):
    interpreter.allocate_tensors()
    for d, x in zip(interpreter.get_input_details(), feeds, strict=True):
        interpreter.set_tensor(d["index"], x)
    interpreter.invoke()
    return [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]


@pytest.mark.parametrize("seed", [0, 1])
def test_outputs_match_litert(real_model, seed):
    if real_model.name in LITERT_CANNOT_RUN:
        pytest.skip(f"{real_model.name}: LiteRT has no kernels for its custom ops, so there is no reference")
    content = real_model.read_bytes()
    model = read_model(content)
    xnnpack_only = needs_xnnpack(model)
    reference = litert_interpreter(content, xnnpack=xnnpack_only)
    feeds = random_inputs(reference.get_input_details(), seed)
    expected = outputs(reference, feeds)
    ours = outputs(Interpreter(model_content=content), feeds)
    n_ops = len(model.subgraphs[0].operators)
    xnnpack = None
    for k, (a, b) in enumerate(zip(ours, expected, strict=True)):
        assert a.shape == b.shape and a.dtype == b.dtype
        diff = difference(a, b)
        if diff.ok:
            continue
        assert n_ops >= DEEP_MODEL_OPS and not xnnpack_only, f"output {k}: {diff}"
        if xnnpack is None:
            xnnpack = outputs(litert_interpreter(content, xnnpack=True), feeds)
        bar = 2 * difference(xnnpack[k], b).max_rel
        assert diff.max_rel <= bar, f"output {k}: {diff}, but LiteRT's XNNPACK path is {bar / 2:.3g} away"

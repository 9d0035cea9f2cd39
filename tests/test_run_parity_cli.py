"""`emberlite run` and `emberlite parity` from the command line."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner

from emberlite.cli import main
from tests.interpreter.oneop import one_op_model, options
from tests.litert import run_litert  # noqa: F401  (skips this module without LiteRT)


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_run_with_npy_inputs_saves_outputs(model_files, tmp_path):
    x = np.array([[1.0]], np.float32)
    np.save(tmp_path / "x.npy", x)
    result = invoke(
        "run", model_files["sine_float.tflite"], "-i", tmp_path / "x.npy", "-o", tmp_path / "out"
    )
    assert result.exit_code == 0, result.output
    (saved,) = list((tmp_path / "out").glob("*.npy"))
    assert saved.name == "StatefulPartitionedCall_0.npy"
    assert np.load(saved).shape == (1, 1) and abs(float(np.load(saved)[0, 0]) - np.sin(1.0)) < 0.1


def test_run_resizes_to_the_given_input(model_files, tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((5, 1), np.float32))
    result = invoke(
        "run",
        model_files["sine_float.tflite"],
        "-i",
        f"serving_default_dense_input:0={tmp_path / 'x.npy'}",
    )
    assert result.exit_code == 0, result.output
    assert "[5, 1]" in result.output


def test_run_errors_are_one_line(model_files, tmp_path):
    result = invoke("run", model_files["sine_float.tflite"], "-i", f"nope={tmp_path / 'x.npy'}")
    assert result.exit_code == 1 and result.stderr.startswith("emberlite: error: --input nope=")


def test_parity_json_reports_every_tensor(model_files):
    result = invoke("parity", model_files["sine_float.tflite"], "--intermediates", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] and report["first_divergent"] is None
    assert [t["producer"] for t in report["intermediates"]] == [
        f"FULLY_CONNECTED (node {n})" for n in range(3)
    ]


def test_parity_names_the_first_divergent_op(tmp_path, monkeypatch):
    # Sabotage our ADD kernel: parity must point at it.
    from emberlite.interpreter.registry import KERNELS

    add = KERNELS["ADD"]
    monkeypatch.setitem(
        KERNELS, "ADD", add.__class__(add.name, add.prepare, lambda d, i, o: o[0].fill(7.0))
    )
    path = tmp_path / "add.tflite"
    path.write_bytes(
        one_op_model(
            "ADD", [np.ones(3, np.float32), np.ones(3, np.float32)], [(3,)], options("AddOptions")
        )
    )
    result = invoke("parity", path, "--intermediates")
    assert result.exit_code == 1
    assert "first tensor beyond 1e-4" in result.output and "ADD (node 0)" in result.output

"""`emberlite check`: the report's steps, and its exit status."""

from __future__ import annotations

from click.testing import CliRunner

from emberlite.check import check_model
from emberlite.cli import main
from tests.litert import run_litert  # noqa: F401  (skips this module without LiteRT)


def test_check_passes_on_a_real_model(model_files):
    steps = check_model(model_files["sine_float.tflite"])
    assert [s.name for s in steps] == ["read", "round trip", "LiteRT run", "LiteRT ops"]
    assert all(s.ok for s in steps)
    assert "bit-identical" in steps[2].detail


def test_check_reports_models_litert_cannot_run(model_files):
    steps = check_model(model_files["face_landmark_with_attention.tflite"])
    assert steps[2].ok and "Landmarks2TransformMatrix" in steps[2].detail


def test_check_cli(model_files, tmp_path):
    result = CliRunner().invoke(main, ["check", str(model_files["sine_float.tflite"])])
    assert result.exit_code == 0, result.output
    assert result.stdout.count("ok") == 4
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(model_files["sine_float.tflite"].read_bytes()[:100])
    result = CliRunner().invoke(main, ["check", str(bad)])
    assert result.exit_code == 1
    assert result.stderr.startswith("emberlite: error: ") and result.stderr.count("\n") == 1

"""The example people run first trains to the accuracy it promises and saves a bundle that loads."""

import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

import emberlite.trainer as et

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_train_digits_reaches_97_percent_and_saves_a_loadable_bundle(tmp_path, monkeypatch, capsys):
    pytest.importorskip("sklearn")
    out = tmp_path / "digits"
    monkeypatch.setattr(sys, "argv", ["train_digits.py", "--out", str(out)])
    with pytest.raises(SystemExit) as done:
        runpy.run_path(str(EXAMPLES / "train_digits.py"), run_name="__main__")
    printed = capsys.readouterr().out
    assert done.value.code == 0, printed[-2000:]
    accuracy = float(printed.split("test accuracy ")[1].split()[0])
    assert accuracy >= 0.97
    assert "Epoch 1/" in printed and "━" in printed  # the progress bar

    model = et.load(out)
    assert model.bundle_labels == [str(d) for d in range(10)]
    images = np.random.default_rng(0).random((4, 8, 8, 1), dtype=np.float32)
    assert model.predict(images, verbose=0).shape == (4, 10)

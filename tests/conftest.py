"""Shared fixtures: the real models from pinned PyPI wheels (see tools/fetch_models.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import fetch_models  # noqa: E402

REAL_MODELS = sorted(n for w in fetch_models.WHEELS for n in w.files if n.endswith(".tflite"))
FETCH_HINT = "run `python tools/fetch_models.py` (needs access to PyPI)"


@pytest.fixture(scope="session")
def model_files() -> dict[str, Path]:
    """{name: path} of every pinned file; skips (or fails, under EMBERLITE_REQUIRE_MODELS=1)."""
    try:
        return fetch_models.fetch()
    except (fetch_models.FetchError, OSError) as e:
        message = f"real test models unavailable: {e}; {FETCH_HINT}"
        if os.environ.get("EMBERLITE_REQUIRE_MODELS"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(params=REAL_MODELS)
def real_model(request, model_files) -> Path:
    """Each real .tflite model in turn."""
    return model_files[request.param]

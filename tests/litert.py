"""Tests that need LiteRT import it from here: they skip, with the fix, where it is missing."""

import pytest

pytest.importorskip(
    "ai_edge_litert.interpreter", reason="LiteRT missing: install the test extra (make test)"
)

from emberlite.reference import litert_op_histogram, run_litert  # noqa: E402

__all__ = ["litert_op_histogram", "run_litert"]

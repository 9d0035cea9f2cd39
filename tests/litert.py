"""Tests that need LiteRT import it from here: they skip, with the fix, where it is missing."""

from typing import Any

import pytest

pytest.importorskip(
    "ai_edge_litert.interpreter", reason="LiteRT missing: install the test extra (make test)"
)

from emberlite.reference import litert, litert_op_histogram, run_litert  # noqa: E402


def litert_interpreter(content: bytes, xnnpack: bool = False, **kwargs: Any) -> Any:
    """LiteRT's builtin kernels (the parity reference), or its default XNNPACK path."""
    lite = litert()
    if not xnnpack:
        kwargs["experimental_op_resolver_type"] = (
            lite.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        )
    return lite.Interpreter(model_content=content, num_threads=1, **kwargs)


__all__ = ["litert_interpreter", "litert_op_histogram", "run_litert"]

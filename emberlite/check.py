"""`emberlite check`: does emberlite read this model faithfully?

Three steps, each a line of the report: the file verifies and reads; writing it back and
reading that gives the same object model; and LiteRT, when installed, runs the rewritten file
with bit-identical outputs and lists the same ops.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emberlite.errors import EmberliteError
from emberlite.reference import litert_op_histogram, run_litert
from emberlite.schema import read_model, write_model


@dataclass(frozen=True)
class Step:
    name: str
    ok: bool | None  # None: skipped
    detail: str


def check_model(path: Path) -> list[Step]:
    """Run the checks on the model at `path`; raises ModelFormatError if it does not read."""
    original = path.read_bytes()
    model = read_model(original, name=str(path))
    n_ops = sum(len(sg.operators) for sg in model.subgraphs)
    n_tensors = sum(len(sg.tensors) for sg in model.subgraphs)
    steps = [
        Step("read", True, f"{len(model.subgraphs)} subgraph(s), {n_ops} ops, {n_tensors} tensors")
    ]

    rewritten = write_model(model)
    same = read_model(rewritten, name=f"{path} (rewritten)") == model
    steps.append(
        Step(
            "round trip",
            same,
            f"{len(rewritten)} bytes written, object model " + ("identical" if same else "DIFFERS"),
        )
    )
    try:
        steps.append(_compare_outputs(original, rewritten))
        steps.append(_compare_ops(model, rewritten))
    except EmberliteError as e:  # LiteRT not installed
        steps.append(Step("LiteRT", None, f"skipped: {e}"))
    return steps


def _compare_outputs(original: bytes, rewritten: bytes) -> Step:
    expected, got = run_litert(original), run_litert(rewritten)
    if isinstance(expected, str):
        return Step(
            "LiteRT run",
            got == expected,
            f"LiteRT refuses the original and the rewrite alike: {expected}",
        )
    identical = len(expected) == len(got) and all(
        np.array_equal(a, b, equal_nan=True) for a, b in zip(expected, got, strict=False)
    )
    shapes = ", ".join(str(list(a.shape)) for a in expected)
    return Step(
        "LiteRT run", identical, f"outputs {shapes} " + ("bit-identical" if identical else "DIFFER")
    )


def _compare_ops(model, rewritten: bytes) -> Step:
    ours = Counter(model.op_name(op) for op in model.subgraphs[0].operators)
    theirs = litert_op_histogram(rewritten)
    agree = ours == theirs
    return Step(
        "LiteRT ops",
        agree,
        f"{len(ours)} op types, {sum(ours.values())} nodes "
        + ("as LiteRT lists them" if agree else f"but LiteRT lists {dict(theirs)}"),
    )

"""The converter: a trainer bundle or an ONNX file in, a .tflite model out.

    front end (frontends/) -> ir.Graph -> passes.optimize -> [float16] -> writer -> .tflite

    result = convert("digits_bundle", "digits.tflite")
    result.ops_after    # {'CONV_2D': 3, 'MAX_POOL_2D': 1, 'RESHAPE': 1, ...}
    result.size         # bytes written
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from emberlite.converter.ir import ConversionError, Graph
from emberlite.schema import Model, save_model, write_model

QUANTIZE_MODES = ("none", "float16")  # the integer modes come with the next issue
BUNDLE_MANIFEST = "bundle.json"

__all__ = ["QUANTIZE_MODES", "ConversionError", "ConversionResult", "convert"]


@dataclass(frozen=True)
class ConversionResult:
    """What `convert` made: the file's bytes, op counts by type before and after
    optimization (after: as written, DEQUANTIZE included), and how long it took."""

    content: bytes
    ops_before: dict[str, int]
    ops_after: dict[str, int]
    seconds: float
    source: Path
    output: Path | None = None

    @property
    def size(self) -> int:
        return len(self.content)


def convert(
    source: str | os.PathLike,
    output: str | os.PathLike | None = None,
    *,
    quantize: str = "none",
    signature: str | None = None,
    optimize: bool = True,
    disable: Iterable[str] = (),
) -> ConversionResult:
    """Convert a bundle directory or an .onnx file to a .tflite model.

    `quantize`: "none" (float32 weights) or "float16" (weights stored as float16, half the
    size).  `signature`: the bundle signature to convert (default: its serving signature).
    `optimize=False` writes the graph as the front end lowered it; `disable` names passes to
    skip.  With `output`, the file is written atomically: a failed conversion leaves whatever
    was there before.  Raises ConversionError (an EmberliteError) listing every problem.
    """
    start = time.perf_counter()
    source = Path(source)
    if quantize not in QUANTIZE_MODES:
        raise ConversionError(
            f"quantize={quantize!r} is not a mode; choose one of {', '.join(QUANTIZE_MODES)}"
        )
    enabled = _enabled_passes(disable)
    graph = _front_end(source)(source, signature=signature)
    graph.validate(f"{source}: the front end made an inconsistent graph")
    ops_before = graph.op_counts()
    if optimize:
        from emberlite.converter import passes

        passes.optimize(graph, enabled)
        graph.validate(f"{source}: optimization left an inconsistent graph")
    if quantize == "float16":
        from emberlite.converter.float16 import to_float16

        to_float16(graph)
    from emberlite.converter.writer import to_model

    model = to_model(graph)
    if output is None:
        content = write_model(model)
    else:
        output = Path(output)
        content = _save(model, output)
    return ConversionResult(
        content, ops_before, graph.op_counts(), time.perf_counter() - start, source, output
    )


def _front_end(source: Path) -> Callable[..., Graph]:
    """The loader for `source`: a bundle directory or an .onnx file."""
    if source.is_dir() and (source / BUNDLE_MANIFEST).is_file():
        from emberlite.converter.frontends.bundle import load

        return load
    if source.is_file() and source.suffix.lower() == ".onnx":
        from emberlite.converter.frontends.onnx import load

        return load
    if not source.exists():
        raise ConversionError(f"{source}: no such file or directory")
    if source.is_dir():
        raise ConversionError(f"{source}: a directory without {BUNDLE_MANIFEST} is not a bundle")
    raise ConversionError(
        f"{source}: unknown model format; expected a bundle directory (with {BUNDLE_MANIFEST}) "
        "or an .onnx file"
    )


def _enabled_passes(disable: Iterable[str]) -> set[str]:
    """Every pass but those in `disable`, which must all be pass names."""
    from emberlite.converter.passes import PASSES

    names = list(PASSES)
    skipped = set(disable)
    unknown = sorted(skipped - set(names))
    if unknown:
        raise ConversionError(
            f"no optimization pass named {', '.join(map(repr, unknown))}; "
            f"the passes are {', '.join(names)}"
        )
    return set(names) - skipped


def _save(model: Model, output: Path) -> bytes:
    """Write `model` to `output` atomically; returns the bytes written."""
    try:
        save_model(model, output)
        return output.read_bytes()
    except OSError as e:
        raise ConversionError(f"{output}: cannot write: {e.strerror or e}") from e

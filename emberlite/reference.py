"""LiteRT, the reference runtime emberlite is measured against.

Install it with `pip install 'emberlite[reference]'`.

LiteRT (`ai-edge-litert`) is tflite-runtime's successor.  This module runs a model in it the
way our checks need: seeded random inputs, one invoke, outputs copied out.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from emberlite.errors import EmberliteError

INSTALL_HINT = "install LiteRT: pip install 'emberlite[reference]'"


def litert() -> Any:
    """The `ai_edge_litert.interpreter` module, or an EmberliteError saying how to get it."""
    try:
        from ai_edge_litert import interpreter
    except ImportError as e:
        raise EmberliteError(f"LiteRT is not installed ({e}); {INSTALL_HINT}") from None
    return interpreter


def random_inputs(details: list[dict], seed: int = 0) -> list[np.ndarray]:
    """Seeded inputs in their natural range, shaped like each input.

    Floats are uniform in [-1, 1), which covers images normalized to [0, 1] or [-1, 1];
    integers span the int8/uint8 range (pixels, quantized values) clipped to the dtype.
    """
    rng = np.random.default_rng(seed)
    arrays = []
    for d in details:
        if np.issubdtype(d["dtype"], np.floating):
            arrays.append(rng.uniform(-1, 1, d["shape"]).astype(d["dtype"]))
        else:
            info = np.iinfo(d["dtype"])
            low, high = max(int(info.min), -128), min(int(info.max), 255)
            arrays.append(rng.integers(low, high, d["shape"], endpoint=True).astype(d["dtype"]))
    return arrays


def invoke_once(interpreter: Any, feeds: list[np.ndarray]) -> list[np.ndarray]:
    """allocate_tensors, set the inputs in order, invoke; returns the outputs (copies).

    Works with any interpreter of TFLite's API: emberlite's, LiteRT's, tflite_runtime's.
    """
    interpreter.allocate_tensors()
    for d, x in zip(interpreter.get_input_details(), feeds, strict=True):
        interpreter.set_tensor(d["index"], x)
    interpreter.invoke()
    return [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]


def run_litert(content: bytes, seed: int = 0, **interpreter_args: Any) -> list[np.ndarray] | str:
    """Outputs of one invoke on seeded random inputs, or LiteRT's error if it refuses the model."""
    lite = litert()
    try:
        interp = lite.Interpreter(model_content=content, num_threads=1, **interpreter_args)
        return invoke_once(interp, random_inputs(interp.get_input_details(), seed))
    except (RuntimeError, ValueError) as e:
        return " ".join(str(e).split())


def litert_op_histogram(content: bytes) -> Counter[str]:
    """Op name -> count of subgraph 0, as LiteRT lists them (custom ops by their custom code).

    Only constructs the interpreter (no allocate_tensors), which parses the graph: models with
    custom ops LiteRT has no kernel for still list.
    """
    lite = litert()
    interp = lite.Interpreter(
        model_content=content,
        experimental_op_resolver_type=lite.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    return Counter(op["op_name"] for op in interp._get_ops_details())

"""The ONNX front end: an .onnx file -> IR graph of TFLite builtin ops, NHWC inside.

    model = loader.read(path)     # parsed, checked, upgraded to opset 13+, shapes inferred
    graph = lower.lower(model)    # each node through its lowering in ops/, or folded now

Layouts (layout.py): activations stay NHWC between ops, graph inputs and outputs keep ONNX's
names and NCHW order (TRANSPOSEs at the edges), weights are laid out for TFLite at convert
time.  Every problem (unsupported ops with node name and opset, invalid graphs, shapes that
disagree) comes back in one ConversionError.
"""

from __future__ import annotations

from pathlib import Path

from emberlite.converter.frontends.onnx import loader
from emberlite.converter.frontends.onnx.lower import lower
from emberlite.converter.ir import Graph

__all__ = ["load"]


def load(path: Path, *, signature: str | None = None, channels_last_inputs: bool = False) -> Graph:
    """The IR graph of the .onnx file at `path`.

    `signature`: the SignatureDef key to write (default "serving_default"; ONNX models have
    one graph).  `channels_last_inputs`: take 4-D graph inputs NHWC instead of ONNX's NCHW,
    which saves the TRANSPOSE after the input.
    """
    graph = lower(loader.read(Path(path)), channels_last_inputs=channels_last_inputs)
    if signature is not None:
        graph.signature_key = signature
    return graph

"""emberlite: train on the desktop, convert to TFLite FlatBuffers, run on the edge."""

from contextlib import AbstractContextManager
from typing import Any

from emberlite.errors import EmberliteError

__version__ = "0.1.0"
__all__ = ["EmberliteError", "__version__", "convert", "device", "function"]


def convert(source: Any, output: Any = None, **options: Any) -> Any:
    """`emberlite.convert("model_dir", "model.tflite")`: a trainer bundle or an .onnx file to a
    .tflite model; the same as `emberlite.converter.convert` (options: quantize, signature,
    optimize, disable).  Returns a ConversionResult."""
    from emberlite.converter import convert as run

    return run(source, output, **options)


def device(spec: str) -> AbstractContextManager[Any]:
    """`with emberlite.device("gpu:0"):` places new tensors and ops on that device.

    The same as `emberlite.trainer.device`; a GPU that is not there falls back to the CPU
    with one warning.
    """
    from emberlite.trainer.device import device as placement

    return placement(spec)


def function(fn: Any = None, *, input_signature: Any = None) -> Any:
    """`@emberlite.function`: trace a Python function of tensors into a graph (tf.function);
    the same as `emberlite.trainer.function`."""
    from emberlite.trainer.function import function as trace

    return trace(fn, input_signature=input_signature)

"""The TFLite-compatible model format: schema, object model, reading and writing.

>>> from emberlite.schema import read_model, write_model
>>> model = read_model("sine_float.tflite")          # doctest: +SKIP
>>> read_model(write_model(model)) == model          # doctest: +SKIP
True
"""

from emberlite.schema.model import (
    Buffer,
    DimensionMetadata,
    Metadata,
    Model,
    Operator,
    OperatorCode,
    Options,
    QuantizationParameters,
    SignatureDef,
    SparsityParameters,
    SubGraph,
    Tensor,
    TensorMap,
)
from emberlite.schema.reader import read_model
from emberlite.schema.types import BuiltinOperator, TensorType
from emberlite.schema.writer import save_model, write_model

__all__ = [
    "Buffer",
    "BuiltinOperator",
    "DimensionMetadata",
    "Metadata",
    "Model",
    "Operator",
    "OperatorCode",
    "Options",
    "QuantizationParameters",
    "SignatureDef",
    "SparsityParameters",
    "SubGraph",
    "Tensor",
    "TensorMap",
    "TensorType",
    "read_model",
    "save_model",
    "write_model",
]

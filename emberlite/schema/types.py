"""Enumerations of the model format, and how TFLite's tensor types map to NumPy.

The enums are built from the generated schema code, so model.fbs stays the one place that
defines them.
"""

from __future__ import annotations

import enum

import numpy as np

from emberlite.schema import model_generated as fb


def _enum(name: str, source: type) -> type[enum.IntEnum]:
    members = {k: v for k, v in vars(source).items() if not k.startswith("_")}
    return enum.IntEnum(name, members)


TensorType = _enum("TensorType", fb.TensorType)
BuiltinOperator = _enum("BuiltinOperator", fb.BuiltinOperator)
ActivationFunctionType = _enum("ActivationFunctionType", fb.ActivationFunctionType)
Padding = _enum("Padding", fb.Padding)

# NumPy dtype of each tensor type whose elements are whole bytes.  The others (STRING,
# RESOURCE, VARIANT, the packed 2- and 4-bit types, BFLOAT16, the float8s) have no NumPy
# equivalent and are handled as raw bytes.
NUMPY_DTYPES: dict[int, np.dtype] = {
    TensorType.FLOAT32: np.dtype(np.float32),
    TensorType.FLOAT16: np.dtype(np.float16),
    TensorType.FLOAT64: np.dtype(np.float64),
    TensorType.INT8: np.dtype(np.int8),
    TensorType.INT16: np.dtype(np.int16),
    TensorType.INT32: np.dtype(np.int32),
    TensorType.INT64: np.dtype(np.int64),
    TensorType.UINT8: np.dtype(np.uint8),
    TensorType.UINT16: np.dtype(np.uint16),
    TensorType.UINT32: np.dtype(np.uint32),
    TensorType.UINT64: np.dtype(np.uint64),
    TensorType.BOOL: np.dtype(np.bool_),
    TensorType.COMPLEX64: np.dtype(np.complex64),
    TensorType.COMPLEX128: np.dtype(np.complex128),
}

# Bits per element of the packed sub-byte types.
PACKED_BITS = {TensorType.INT4: 4, TensorType.UINT4: 4, TensorType.INT2: 2}


def tensor_type_name(code: int) -> str:
    """'FLOAT32' for 0; 'TYPE_99' for a code this schema does not know."""
    try:
        return TensorType(code).name
    except ValueError:
        return f"TYPE_{code}"


def builtin_name(code: int) -> str:
    """'CONV_2D' for 3; 'BUILTIN_999' for a code this schema does not know."""
    try:
        return BuiltinOperator(code).name
    except ValueError:
        return f"BUILTIN_{code}"

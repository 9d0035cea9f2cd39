"""What the writer needs to know per builtin op: its options table, its version, its runtime.

- `options_kind("CONV_2D")` -> "Conv2DOptions": the member of the schema's BuiltinOptions
  union the op reads (the CamelCase of its name, except for the tables ops share).
- `op_version(sig)`: the version TFLite's converter gives a node, from the features it uses
  (tensorflow/lite/tools/versioning/op_version.cc, GetBuiltinOperatorVersion): e.g.
  DEPTHWISE_CONV_2D with dilation is version 2, FULLY_CONNECTED without a bias is 6,
  DEQUANTIZE of float16 is 3.  Every rule is "this feature needs at least version N", so the
  version is the largest N whose feature is present (1 when none is).
- `min_runtime_version(codes)`: the "min_runtime_version" metadata TensorFlow writes, the
  oldest TFLite runtime with every (op, version) (versioning/runtime_version.cc).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from emberlite.schema.model_layout import UNIONS

_BUILTIN_OPTIONS = frozenset(UNIONS["BuiltinOptions"])
# Ops whose options table is not named after the op.
_SHARED_OPTIONS = {
    **dict.fromkeys(("AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D"), "Pool2DOptions"),
    **dict.fromkeys(
        ("MEAN", "SUM", "REDUCE_PROD", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_ANY", "REDUCE_ALL"),
        "ReducerOptions",
    ),
    **dict.fromkeys(("MAXIMUM", "MINIMUM"), "MaximumMinimumOptions"),
    **dict.fromkeys(("RANDOM_STANDARD_NORMAL", "RANDOM_UNIFORM", "MULTINOMIAL"), "RandomOptions"),
    "ATAN2": "ATan2Options",
    "BATCH_MATMUL": "BatchMatMulOptions",
    "BATCH_TO_SPACE_ND": "BatchToSpaceNDOptions",
    "SPACE_TO_BATCH_ND": "SpaceToBatchNDOptions",
    "L2_NORMALIZATION": "L2NormOptions",
    "PADV2": "PadV2Options",
    "TOPK_V2": "TopKV2Options",
    "CONV_3D_TRANSPOSE": "Conv3DOptions",
    "LSH_PROJECTION": "LSHProjectionOptions",
    "SVDF": "SVDFOptions",
    "RNN": "RNNOptions",
    "LSTM": "LSTMOptions",
    "UNIDIRECTIONAL_SEQUENCE_RNN": "SequenceRNNOptions",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "UnidirectionalSequenceLSTMOptions",
    "BIDIRECTIONAL_SEQUENCE_RNN": "BidirectionalSequenceRNNOptions",
    "BIDIRECTIONAL_SEQUENCE_LSTM": "BidirectionalSequenceLSTMOptions",
}


def options_kind(op: str) -> str | None:
    """The options table builtin `op` reads ("Conv2DOptions"), or None when it has none."""
    if op in _SHARED_OPTIONS:
        return _SHARED_OPTIONS[op]
    # CONV_2D -> Conv2D, GATHER_ND -> GatherNd, SELECT_V2 -> SelectV2
    name = "".join(p if p[:1].isdigit() else p.capitalize() for p in op.split("_")) + "Options"
    return name if name in _BUILTIN_OPTIONS else None


# -- op versions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TensorSig:
    dtype: np.dtype
    shape: tuple[int | None, ...]

    @property
    def rank(self) -> int:
        return len(self.shape)


@dataclass(frozen=True)
class OpSignature:
    """What the version rules look at: dtypes and shapes of a node's tensors, its options."""

    op: str
    inputs: tuple[TensorSig | None, ...]  # None: an omitted optional input
    outputs: tuple[TensorSig, ...]
    options: dict[str, Any] = field(default_factory=dict)  # complete, defaults filled

    def input_type(self, i: int) -> np.dtype | None:
        sig = self.inputs[i] if i < len(self.inputs) else None
        return None if sig is None else sig.dtype

    def max_rank(self) -> int:
        return max((t.rank for t in self.inputs if t is not None), default=0)


Rule = Callable[[OpSignature], bool]
I8, I16, I32, I64 = (np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64))
U8, U16, U32 = (np.dtype(t) for t in (np.uint8, np.uint16, np.uint32))
F16, F64, BOOL = np.dtype(np.float16), np.dtype(np.float64), np.dtype(np.bool_)


def _typed(*dtypes: np.dtype, i: int = 0) -> Rule:
    return lambda s: s.input_type(i) in dtypes


def _out_typed(*dtypes: np.dtype) -> Rule:
    return lambda s: bool(s.outputs) and s.outputs[0].dtype in dtypes


def _rank_over(n: int, i: int = 0) -> Rule:
    return lambda s: s.inputs[i] is not None and s.inputs[i].rank > n


def _option(name: str, test: Callable[[Any], bool] = bool) -> Rule:
    return lambda s: test(s.options.get(name))


def _broadcast_over(n: int) -> Rule:
    """Binary inputs of different shapes, one of rank > n."""
    return lambda s: (
        len(s.inputs) >= 2
        and None not in s.inputs[:2]
        and s.inputs[0].shape != s.inputs[1].shape
        and s.max_rank() > n
    )


def _grouped(s: OpSignature) -> bool:
    """A CONV_2D whose filter sees fewer channels than its input has (a grouped convolution)."""
    x, w = s.inputs[0], s.inputs[1]
    return x is not None and w is not None and x.shape[-1] not in (None, w.shape[-1])


def _always(s: OpSignature) -> bool:
    return True


_FLOAT_INT8 = [(2, _typed(I8))]  # the common rule: int8 kernels came in version 2
_VERSIONS: dict[str, list[tuple[int, Rule]]] = {
    "CONV_2D": [(3, lambda s: s.input_type(0) == I8 == s.input_type(1)), (6, _grouped)],
    "DEPTHWISE_CONV_2D": [
        (3, lambda s: s.input_type(0) == I8 == s.input_type(1)),
        (2, _option("dilation_w_factor", lambda v: v != 1)),
        (2, _option("dilation_h_factor", lambda v: v != 1)),
    ],
    "FULLY_CONNECTED": [
        (2, _option("weights_format")),
        (4, lambda s: s.input_type(0) == I8 == s.input_type(1)),
        (5, _option("keep_num_dims")),
        (6, lambda s: len(s.inputs) == 2),
    ],
    "TRANSPOSE_CONV": [
        (2, _typed(I8, i=1)),
        (3, lambda s: len(s.inputs) == 4 and s.inputs[3] is not None),
        (4, _option("fused_activation_function")),
    ],
    "DEQUANTIZE": [(2, _typed(I8)), (3, _typed(I16, F16))],
    "QUANTIZE": [(2, _out_typed(I16))],
    "CAST": [
        (2, lambda s: U32 in (s.input_type(0), s.outputs[0].dtype)),
        (3, lambda s: I8 in (s.input_type(0), s.outputs[0].dtype)),
        (4, lambda s: U16 in (s.input_type(0), s.outputs[0].dtype)),
        (5, lambda s: bool({F16, F64} & {s.input_type(0), s.outputs[0].dtype})),
    ],
    "ADD": [*_FLOAT_INT8, (4, _typed(I64))],
    "SUB": [*_FLOAT_INT8, (3, _broadcast_over(4)), (4, _typed(I64))],
    "MUL": [*_FLOAT_INT8, (5, _typed(I64)), (6, _typed(np.dtype(np.complex64))), (7, _typed(U32))],
    "DIV": [(2, _broadcast_over(4))],
    "MAXIMUM": [*_FLOAT_INT8, (3, _broadcast_over(4))],
    "MINIMUM": [*_FLOAT_INT8, (3, _broadcast_over(4))],
    "TRANSPOSE": [*_FLOAT_INT8, (3, _typed(BOOL)), (4, _rank_over(4)), (6, _rank_over(5))],
    "STRIDED_SLICE": [
        *_FLOAT_INT8,
        (3, _typed(BOOL)),
        (4, _rank_over(4)),
        (6, _option("ellipsis_mask")),
        (6, _option("new_axis_mask")),
        (7, _typed(U32)),
        (8, _option("offset")),
    ],
    "SLICE": [*_FLOAT_INT8, (5, _rank_over(4)), (6, _typed(U32))],
    "PAD": [*_FLOAT_INT8, (4, _rank_over(4))],
    "PADV2": [*_FLOAT_INT8, (4, _rank_over(4))],
    "SPACE_TO_BATCH_ND": [*_FLOAT_INT8, (3, lambda s: s.inputs[0].rank != 4)],
    "BATCH_TO_SPACE_ND": [*_FLOAT_INT8, (3, lambda s: s.inputs[0].rank != 4)],
    "GATHER": [
        *_FLOAT_INT8,
        (3, _typed(BOOL)),
        (4, _typed(I16)),
        (5, _option("batch_dims")),
        (6, _typed(I16, i=1)),
    ],
    "GATHER_ND": [(4, _typed(I16, i=1)), (5, _typed(BOOL))],
    "SPLIT": [(2, _typed(I8, i=1)), (3, _typed(I32, i=1)), (4, _typed(I16, i=1))],
    "RESIZE_BILINEAR": [*_FLOAT_INT8, (3, _option("half_pixel_centers"))],
    "RESIZE_NEAREST_NEIGHBOR": [
        *_FLOAT_INT8,
        (3, _option("half_pixel_centers")),
        (3, _option("align_corners")),
    ],
    "SELECT": [*_FLOAT_INT8, (3, lambda s: any(t and t.rank == 5 for t in s.inputs))],
    "SELECT_V2": [(2, _typed(U32))],
    "ARG_MAX": [*_FLOAT_INT8, (3, _typed(BOOL))],
    "ARG_MIN": [*_FLOAT_INT8, (3, _typed(BOOL))],
    "REVERSE_V2": [(2, _typed(BOOL)), (3, _typed(I8))],
    "TILE": [(3, _typed(I8))],
    "PACK": [*_FLOAT_INT8, (4, _typed(U32))],
    "UNPACK": [(2, _typed(I8, U8)), (3, _typed(BOOL))],
    "ABS": [(2, _typed(I8, U8)), (5, _typed(I32))],
    "RELU": [(2, _typed(I8, U8))],
    "WHERE": [(2, lambda s: s.input_type(0) != BOOL)],
    "BROADCAST_TO": [(2, _always), (3, _typed(I8, I16))],  # version 1 was withdrawn
    "RANGE": [(2, _typed(I64))],
    "FLOOR_DIV": [(2, _typed(np.dtype(np.float32))), (3, _typed(I8, I16))],
    "FLOOR_MOD": [(2, _typed(I8, I16))],
    "EXP": [(2, _typed(I8, I16))],
    "LOG": [(2, _typed(I8, I16))],
    "REDUCE_PROD": [(2, _typed(I8, I16))],
    "GELU": [(2, _typed(I8, U8))],
    "EQUAL": [*_FLOAT_INT8, (4, _typed(I16))],
    "NOT_EQUAL": _FLOAT_INT8,
    "LESS": _FLOAT_INT8,
    "GREATER_EQUAL": _FLOAT_INT8,
    "FILL": [(4, _typed(F16, i=1)), (3, _typed(I8, I16, i=1)), (2, _typed(BOOL, i=1))],
    **dict.fromkeys(
        (
            "AVERAGE_POOL_2D",
            "MAX_POOL_2D",
            "CONCATENATION",
            "SOFTMAX",
            "MEAN",
            "MIRROR_PAD",
            "REDUCE_MAX",
            "REDUCE_MIN",
            "RELU6",
            "RSQRT",
            "TANH",
            "LOGISTIC",
            "SPACE_TO_DEPTH",
            "DEPTH_TO_SPACE",
            "SPLIT_V",
            "SUM",
            "LOG_SOFTMAX",
            "GREATER",
            "LESS_EQUAL",
            "SQUARED_DIFFERENCE",
            "L2_NORMALIZATION",
            "TOPK_V2",
            "BATCH_MATMUL",
        ),
        _FLOAT_INT8,
    ),
}


def op_version(sig: OpSignature) -> int:
    """The version TFLite's converter writes for a node with signature `sig`."""
    return max((v for v, rule in _VERSIONS.get(sig.op, ()) if rule(sig)), default=1)


# -- runtime versions -------------------------------------------------------------------------

# Op -> the oldest TFLite runtime of versions 1, 2, ... (None: that version has no entry).
_RUNTIME: dict[str, tuple[str | None, ...]] = {
    "ABS": ("1.13.0", "2.4.0", "2.5.0", "2.6.0"),
    "ADD": ("1.5.0", "1.14.0", "2.4.0", "2.6.0"),
    "ADD_N": ("1.14.0",),
    "ARG_MAX": ("1.9.0", "1.14.0", "2.9.0"),
    "ARG_MIN": ("1.9.0", "1.14.0", "2.9.0"),
    "AVERAGE_POOL_2D": ("1.5.0", "1.14.0", "2.3.0"),
    "BATCH_MATMUL": ("2.3.0", "2.3.0", "2.4.0", "2.5.0"),
    "BATCH_TO_SPACE_ND": ("1.6.0", "1.14.0", "2.3.0"),
    "BROADCAST_TO": (None, "2.5.0", "2.5.0"),
    "CAST": ("1.5.0", "2.7.0", "2.8.0", "2.9.0"),
    "CEIL": ("1.14.0",),
    "CONCATENATION": ("1.5.0", "1.14.0", "2.3.0"),
    "CONV_2D": ("1.5.0", "1.14.0", "1.14.0", "2.3.0", "2.4.0", "2.9.0"),
    "COS": ("1.14.0",),
    "CUMSUM": ("2.4.0",),
    "DEPTH_TO_SPACE": ("2.1.0", "2.5.0"),
    "DEPTHWISE_CONV_2D": ("1.5.0", "1.12.0", "1.14.0", "2.2.0", "2.3.0", "2.3.0"),
    "DEQUANTIZE": ("1.13.1", "1.14.0", "1.15.0", "2.2.0", "2.7.0"),
    "DIV": ("1.6.0", "2.3.0"),
    "ELU": ("1.14.0",),
    "EQUAL": ("1.14.0", "1.14.0", "2.3.0"),
    "EXP": ("1.7.0",),
    "EXPAND_DIMS": ("1.10.0",),
    "FILL": ("1.13.0", "2.3.0", "2.5.0"),
    "FLOOR": ("1.9.0",),
    "FLOOR_DIV": ("1.14.0", "1.14.0"),
    "FLOOR_MOD": ("1.13.0",),
    "FULLY_CONNECTED": ("1.5.0", "1.10.0", "1.14.0", "1.14.0", "2.0.0", "2.1.0", "2.3.0"),
    "GATHER": ("1.6.0", "1.14.0", "1.15.0", "2.4.0", "2.5.0"),
    "GATHER_ND": ("1.14.0", "2.3.0", "2.5.0"),
    "GELU": ("2.9.0", "2.9.0"),
    "GREATER": ("1.14.0", "1.14.0"),
    "GREATER_EQUAL": ("1.14.0", "1.14.0"),
    "HARD_SWISH": ("1.15.0",),
    "L2_NORMALIZATION": ("1.5.0", "1.14.0"),
    "LEAKY_RELU": ("1.13.1", "2.3.0"),
    "LESS": ("1.14.0", "1.14.0"),
    "LESS_EQUAL": ("1.14.0", "1.14.0"),
    "LOCAL_RESPONSE_NORMALIZATION": ("1.5.0",),
    "LOG": ("1.14.0",),
    "LOG_SOFTMAX": ("1.14.0", "1.14.0"),
    "LOGICAL_AND": ("1.11.0",),
    "LOGICAL_NOT": ("1.11.0",),
    "LOGICAL_OR": ("1.11.0",),
    "LOGISTIC": ("1.14.0", "1.14.0", "2.3.0"),
    "MAX_POOL_2D": ("1.5.0", "1.14.0", "2.3.0"),
    "MAXIMUM": ("1.14.0", "1.14.0", "2.3.0", "2.3.0"),
    "MEAN": ("1.6.0", "1.14.0", "2.4.0"),
    "MINIMUM": ("1.14.0", "1.14.0", "2.3.0", "2.3.0"),
    "MIRROR_PAD": ("1.13.1", "2.3.0"),
    "MUL": ("1.5.0", "1.14.0", "1.15.0", "2.3.0", "2.6.0"),
    "NEG": ("1.9.0",),
    "NOT_EQUAL": ("1.14.0", "1.14.0", "2.3.0"),
    "PACK": ("1.11.0", "1.14.0", "2.3.0"),
    "PAD": ("1.5.0", "1.14.0", "2.4.0", "2.6.0"),
    "PADV2": ("1.9.0", "1.14.0", "2.4.0", "2.6.0"),
    "POW": ("1.10.0",),
    "PRELU": ("1.8.0",),
    "QUANTIZE": ("1.14.0", "1.15.0", "2.7.0"),
    "RANGE": ("1.13.0",),
    "RANK": ("1.14.0",),
    "REDUCE_ANY": ("1.11.0",),
    "REDUCE_ALL": ("2.6.0",),
    "REDUCE_MAX": ("1.11.0", "1.14.0", "2.5.0"),
    "REDUCE_MIN": ("1.11.0", "1.14.0", "2.5.0"),
    "REDUCE_PROD": ("1.11.0", "2.6.0"),
    "RELU": ("1.5.0", "2.1.0", "2.5.0"),
    "RELU6": ("1.5.0", "1.14.0", "2.5.0"),
    "RELU_N1_TO_1": ("1.5.0",),
    "RELU_0_TO_1": ("2.10.0",),
    "RESHAPE": ("1.5.0",),
    "RESIZE_BILINEAR": ("1.7.0", "1.14.0", "2.2.0", "2.5.0"),
    "RESIZE_NEAREST_NEIGHBOR": ("1.13.1", "1.14.0", "2.3.0", "2.4.0"),
    "REVERSE_V2": ("1.14.0", "2.2.0", "2.5.0"),
    "ROUND": ("1.14.0",),
    "RSQRT": ("1.10.0", "2.5.0"),
    "SELECT": ("1.14.0", "1.14.0"),
    "SELECT_V2": ("2.2.0",),
    "SHAPE": ("1.10.0",),
    "SIN": ("1.9.0",),
    "SLICE": ("1.14.0", "1.14.0", "1.14.0", "2.4.0", "2.5.0"),
    "SOFTMAX": ("1.5.0", "1.14.0", "2.3.0"),
    "SPACE_TO_BATCH_ND": ("1.6.0", "1.14.0", "2.3.0"),
    "SPACE_TO_DEPTH": ("1.5.0", "1.14.0"),
    "SPLIT": ("1.5.0", "1.14.0", "1.14.0", "2.3.0"),
    "SPLIT_V": ("1.13.1", "2.3.0"),
    "SQRT": ("1.10.0",),
    "SQUARE": ("1.12.0",),
    "SQUARED_DIFFERENCE": ("1.13.1", "2.5.0"),
    "SQUEEZE": ("1.6.0", "2.5.0"),
    "STRIDED_SLICE": ("1.6.0", "1.14.0", "2.1.0", "2.2.0", "2.5.0", "2.6.0"),
    "SUB": ("1.6.0", "1.14.0", "2.3.0", "2.4.0", "2.4.0"),
    "SUM": ("1.10.0", "1.15.0"),
    "TANH": ("1.14.0", "1.14.0", "2.3.0"),
    "TILE": ("1.10.1", "2.2.0", "2.8.0"),
    "TOPK_V2": ("1.7.0", "1.14.0"),
    "TRANSPOSE": ("1.6.0", "1.14.0", "1.15.0", "2.3.0", "2.4.0"),
    "TRANSPOSE_CONV": ("1.9.0", "2.2.0", "2.3.0"),
    "UNPACK": ("1.11.0", "1.14.0", "2.2.0", "2.3.0"),
    "WHERE": ("1.14.0", "2.8.0"),
    "ZEROS_LIKE": ("1.12.0",),
}


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def min_runtime_version(codes: Iterable[tuple[str, int]]) -> str:
    """The oldest runtime that has every (op, version) in `codes`; "" when none is known.

    As TensorFlow does, pairs its table lacks are skipped.
    """
    known = [
        _RUNTIME[op][version - 1]
        for op, version in codes
        if op in _RUNTIME and version <= len(_RUNTIME[op])
    ]
    return max((v for v in known if v), key=_version_key, default="")

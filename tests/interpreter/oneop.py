"""Tiny one-op models built with the model writer, run in emberlite and in LiteRT.

    compare_with_litert("ADD", [x, Const(bias)], [(2, 3)], options("AddOptions", fused_activation_function=1))

Plain arrays become runtime inputs fed with their values; `Const` arrays become constant
tensors; None is an omitted optional input (-1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from emberlite.interpreter import Interpreter
from emberlite.parity import difference
from emberlite.schema import (
    Buffer,
    BuiltinOperator,
    Model,
    Operator,
    OperatorCode,
    Options,
    SubGraph,
    Tensor,
    write_model,
)
from emberlite.schema.types import NUMPY_DTYPES
from tests.litert import litert_interpreter

TENSOR_TYPES = {dtype: code for code, dtype in NUMPY_DTYPES.items()}


@dataclass(frozen=True)
class Const:
    value: np.ndarray


def options(kind: str, **fields: Any) -> Options:
    """An options table, e.g. options("Conv2DOptions", padding=1, stride_w=2, stride_h=2)."""
    return Options(kind, tuple(fields.items()))


def one_op_model(
    op: str,
    inputs: Sequence[np.ndarray | Const | None],
    output_shapes: Sequence[Sequence[int]],
    opts: Options | None = None,
    output_dtypes: Sequence[Any] | None = None,
    custom_options: bytes | None = None,
) -> bytes:
    tensors, buffers, input_ids, runtime = [], [Buffer()], [], []
    for i, x in enumerate(inputs):
        if x is None:
            input_ids.append(-1)
            continue
        value = np.require(x.value if isinstance(x, Const) else x, requirements="C")  # keeps 0-D
        buffer = 0
        if isinstance(x, Const):
            buffers.append(Buffer(memoryview(value.tobytes())))
            buffer = len(buffers) - 1
        else:
            runtime.append(len(tensors))
        tensors.append(Tensor(f"in{i}", value.shape, TENSOR_TYPES[value.dtype], buffer=buffer))
        input_ids.append(len(tensors) - 1)
    dtypes = output_dtypes or [np.float32] * len(output_shapes)
    outputs = []
    for j, (shape, dtype) in enumerate(zip(output_shapes, dtypes, strict=True)):
        tensors.append(Tensor(f"out{j}", tuple(shape), TENSOR_TYPES[np.dtype(dtype)]))
        outputs.append(len(tensors) - 1)
    code = (
        OperatorCode.for_builtin(BuiltinOperator[op])
        if op in BuiltinOperator.__members__
        else OperatorCode.for_custom(op)
    )
    node = Operator(
        0, tuple(input_ids), tuple(outputs), builtin_options=opts, custom_options=custom_options
    )
    model = Model(
        operator_codes=(code,),
        subgraphs=(SubGraph(tuple(tensors), tuple(runtime), tuple(outputs), (node,)),),
        buffers=tuple(buffers),
    )
    return write_model(model)


def run(interpreter: Any, inputs: Sequence[np.ndarray | Const | None]) -> list[np.ndarray]:
    interpreter.allocate_tensors()
    feeds = [x for x in inputs if x is not None and not isinstance(x, Const)]
    for d, x in zip(interpreter.get_input_details(), feeds, strict=True):
        interpreter.set_tensor(d["index"], np.require(x, requirements="C"))
    interpreter.invoke()
    return [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]


def compare_with_litert(
    op: str,
    inputs: Sequence[np.ndarray | Const | None],
    output_shapes: Sequence[Sequence[int]],
    opts: Options | None = None,
    *,
    output_dtypes: Sequence[Any] | None = None,
    custom_options: bytes | None = None,
    xnnpack: bool = False,
) -> list[np.ndarray]:
    """Run the one-op model in both; assert same shapes and the parity rule; return ours.

    LiteRT runs its builtin kernels (no XNNPACK) unless `xnnpack` (for custom ops only its
    default path provides).
    """
    content = one_op_model(op, inputs, output_shapes, opts, output_dtypes, custom_options)
    ours = run(Interpreter(model_content=content), inputs)
    theirs = run(litert_interpreter(content, xnnpack=xnnpack), inputs)
    for k, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        assert a.shape == b.shape, f"{op} output {k}: shape {a.shape}, LiteRT {b.shape}"
        assert a.dtype == b.dtype, f"{op} output {k}: dtype {a.dtype}, LiteRT {b.dtype}"
        diff = difference(a, b)
        assert diff.ok, f"{op} output {k}: {diff}"
    return ours

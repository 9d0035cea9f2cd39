"""Tiny one-op models built with the model writer, run in emberlite and in LiteRT: the
helpers every kernel test module shares.

    relu = options("AddOptions", fused_activation_function=1)
    compare_with_litert("ADD", [x, Const(bias)], [(2, 3)], relu)
    assert_fails("ADD", [x, y], [(2, 3)], match="do not broadcast")

Plain arrays become runtime inputs fed with their values (0-D arrays stay 0-D); `Const`
arrays become constant tensors; None is an omitted optional input (-1).  The model's tensors
are named in0, in1, ... (inputs given, in order), then out0, out1, ...
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from emberlite.interpreter import Interpreter
from emberlite.interpreter.registry import KernelError
from emberlite.parity import difference
from emberlite.schema import (
    Buffer,
    BuiltinOperator,
    Model,
    Operator,
    OperatorCode,
    Options,
    QuantizationParameters,
    SubGraph,
    Tensor,
    read_model,
    write_model,
)
from emberlite.schema.types import NUMPY_DTYPES
from tests.litert import litert_interpreter

TENSOR_TYPES = {dtype: code for code, dtype in NUMPY_DTYPES.items()}
RNG = np.random.default_rng(0)

# Binary ops' input shapes: equal, trailing vector, both broadcast, scalar-like, lhs broadcast.
BROADCAST_SHAPES = [((2, 3), (2, 3)), ((1, 4, 4, 3), (3,)), ((2, 1, 5), (1, 4, 1)), ((4,), (1,))]
BROADCAST_SHAPES += [((1,), (3, 2))]

SAME, VALID = 0, 1  # Padding


def out_size(size: int, k: int, stride: int, padding: int, dilation: int = 1) -> int:
    """A sliding window's output size along one axis, as TFLite pads."""
    if padding == SAME:
        return -(-size // stride)
    return (size - (k - 1) * dilation - 1 + stride) // stride


# Tensor edits (see `edited`).
QUANTIZED = {"quantization": QuantizationParameters(scale=(0.5,), zero_point=(0,))}
SCALAR = {"shape": ()}


def rand(*shape: int, scale: float = 1.0, dtype: Any = np.float32) -> np.ndarray:
    """Standard normal values times `scale`, as `dtype`."""
    return (RNG.standard_normal(shape) * scale).astype(dtype)


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


def edited(content: bytes, changes: dict[int | str, dict]) -> bytes:
    """The model with tensors of subgraph 0 changed: {index or name: {field: value}}."""
    model = read_model(content)
    graph = model.subgraphs[0]
    table = list(graph.tensors)
    index = {t.name: i for i, t in enumerate(table)}
    for key, fields in changes.items():
        i = index[key] if isinstance(key, str) else key
        table[i] = dataclasses.replace(table[i], **fields)
    graph = dataclasses.replace(graph, tensors=tuple(table))
    return write_model(dataclasses.replace(model, subgraphs=(graph,)))


def run(interpreter: Any, inputs: Sequence[np.ndarray | Const | None]) -> list[np.ndarray]:
    interpreter.allocate_tensors()
    feeds = [x for x in inputs if x is not None and not isinstance(x, Const)]
    for d, x in zip(interpreter.get_input_details(), feeds, strict=True):
        interpreter.set_tensor(d["index"], np.require(x, requirements="C"))
    interpreter.invoke()
    return [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]


def compare_models(
    content: bytes,
    inputs: Sequence[np.ndarray | Const | None],
    *,
    exact: bool = False,
    xnnpack: bool = False,
    what: str = "model",
) -> list[np.ndarray]:
    """Run a model in both; assert same shapes, dtypes, and the parity rule (`exact`: equal
    values); return ours.

    LiteRT runs its builtin kernels (no XNNPACK) unless `xnnpack` (for custom ops only its
    default path provides).
    """
    ours = run(Interpreter(model_content=content), inputs)
    theirs = run(litert_interpreter(content, xnnpack=xnnpack), inputs)
    for k, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        assert a.shape == b.shape, f"{what} output {k}: shape {a.shape}, LiteRT {b.shape}"
        assert a.dtype == b.dtype, f"{what} output {k}: dtype {a.dtype}, LiteRT {b.dtype}"
        if exact:
            np.testing.assert_array_equal(a, b, err_msg=f"{what} output {k}")
        else:
            diff = difference(a, b)
            assert diff.ok, f"{what} output {k}: {diff}"
    return ours


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
    """compare_models for the one-op model."""
    content = one_op_model(op, inputs, output_shapes, opts, output_dtypes, custom_options)
    return compare_models(content, inputs, xnnpack=xnnpack, what=op)


def rejects(content: bytes, match: str) -> None:
    """allocate_tensors of the model raises a KernelError matching `match`."""
    with pytest.raises(KernelError, match=match):
        Interpreter(model_content=content).allocate_tensors()


def assert_fails(
    op, inputs, shapes, opts=None, dtypes=None, *, match, edit=None, custom_options=None
) -> None:
    """allocate_tensors of the one-op model (its tensors `edit`ed) raises a KernelError
    naming node and op."""
    content = one_op_model(op, inputs, shapes, opts, dtypes, custom_options)
    rejects(edited(content, edit) if edit else content, rf"node 0 \({op}\): .*{match}")


def assert_invoke_fails(op, inputs, shapes, opts=None, dtypes=None, *, match) -> None:
    """allocate_tensors passes; invoke raises a KernelError, as LiteRT's invoke fails."""
    content = one_op_model(op, inputs, shapes, opts, dtypes)
    with pytest.raises(KernelError, match=rf"node 0 \({op}\): .*{match}"):
        run(Interpreter(model_content=content), inputs)

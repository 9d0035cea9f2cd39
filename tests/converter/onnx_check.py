"""ONNX models in, parity out: what the ONNX front-end tests share.

    path = save(model, tmp_path)                  # an onnx.ModelProto on disk
    result = check_onnx(path, {"x": x})           # onnxruntime vs converted, both runtimes

`check_onnx` converts the file (optimized and, with `unoptimized=True`, as the front end
lowered it), runs the .tflite in our interpreter and in LiteRT's builtin kernels, and asserts
both within the parity rule (1e-4 relative, 1e-5 absolute floor) of onnxruntime's outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest

from emberlite.converter import ConversionResult, convert
from emberlite.converter.frontends.onnx import load
from emberlite.interpreter import Interpreter
from tests.litert import litert_interpreter

ort = pytest.importorskip("onnxruntime", reason="onnxruntime missing: install the test extra")


def save(model: onnx.ModelProto, directory: Path, name: str = "model.onnx") -> Path:
    path = directory / name
    onnx.save(model, str(path))
    return path


def run(interpreter: Any, feeds: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Outputs for `feeds`, inputs resized first (a None batch is 1 until resized)."""
    details = interpreter.get_input_details()
    for d, x in zip(details, feeds, strict=True):
        if tuple(d["shape"]) != x.shape:
            interpreter.resize_tensor_input(d["index"], x.shape)
    interpreter.allocate_tensors()
    for d, x in zip(details, feeds, strict=True):
        interpreter.set_tensor(d["index"], np.require(x, requirements="C"))
    interpreter.invoke()
    return [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]


def onnxruntime_outputs(path: Path, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def assert_parity(actual: np.ndarray, expected: np.ndarray, what: str) -> None:
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, want {expected.shape}"
    if np.issubdtype(expected.dtype, np.floating):
        np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-5, err_msg=what)
    else:
        np.testing.assert_array_equal(actual, expected, err_msg=what)


def check_onnx(
    path: Path, feeds: dict[str, np.ndarray], *, unoptimized: bool = True
) -> ConversionResult:
    """Convert `path` and assert parity with onnxruntime in both runtimes; returns the
    optimized conversion."""
    expected = onnxruntime_outputs(path, feeds)
    load(path).validate()
    results = [convert(path)] + ([convert(path, optimize=False)] if unoptimized else [])
    for result, how in zip(results, ["optimized", "unoptimized"], strict=False):
        for runtime, interpreter in (
            ("emberlite", Interpreter(model_content=result.content)),
            ("LiteRT", litert_interpreter(result.content)),
        ):
            outputs = run(interpreter, list(feeds.values()))
            assert len(outputs) == len(expected)
            for k, (a, e) in enumerate(zip(outputs, expected, strict=True)):
                assert_parity(a, e, f"{how} model in {runtime}, output {k}")
    return results[0]


def inner_transposes(result: ConversionResult) -> int:
    """TRANSPOSE ops of a converted model that neither read a graph input nor write a graph
    output (the NCHW <-> NHWC edges)."""
    from emberlite.schema import read_model

    model = read_model(result.content)
    graph = model.subgraphs[0]
    edges = set(graph.inputs) | set(graph.outputs)
    return sum(
        1
        for op in graph.operators
        if model.op_name(op) == "TRANSPOSE"
        and op.inputs[0] not in edges
        and op.outputs[0] not in edges
    )

"""The op table: one lowering function per ONNX op type, registered by name."""

from __future__ import annotations

from collections.abc import Callable

from emberlite.converter.frontends.onnx.context import OnnxNode

Lowering = Callable[[OnnxNode], None]
OPS: dict[str, Lowering] = {}


def lowers(*op_types: str) -> Callable[[Lowering], Lowering]:
    """Register the decorated function as the lowering of `op_types`."""

    def register(fn: Lowering) -> Lowering:
        for op_type in op_types:
            if op_type in OPS:
                raise RuntimeError(f"ONNX op {op_type} registered twice")
            OPS[op_type] = fn
        return fn

    return register

"""Building IR for one trainer node at a time (the bundle front end's lowerings use this).

`Call` is the trainer node being lowered: its inputs already as IR tensor names, its attrs,
and its output specs.  `Builder.emit` adds a TFLite node whose output is named after the
call ("conv2d#3", intermediates "conv2d#3/bias"); `transpose` and `reshape` move constant
data at once (filters into TFLite's layouts) and emit a node only for runtime values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from emberlite.converter import ir


class Unsupported(Exception):
    """A trainer node has no TFLite lowering (the front end collects these by node)."""


class Spec(NamedTuple):
    shape: tuple[int | None, ...]
    dtype: np.dtype


@dataclass
class Call:
    index: int
    op: str
    inputs: list[str]
    attrs: dict[str, Any]
    outputs: list[Spec]

    @property
    def name(self) -> str:
        return f"{self.op} (node {self.index})"


class Builder:
    def __init__(self, graph: ir.Graph):
        self.graph = graph
        self.call: Call | None = None

    # -- reading ----------------------------------------------------------------------------

    def shape(self, name: str) -> tuple[int | None, ...]:
        return self.graph.tensors[name].shape

    def dtype(self, name: str) -> np.dtype:
        return self.graph.tensors[name].dtype

    def data(self, name: str) -> np.ndarray | None:
        return self.graph.constant(name)

    def out(self, k: int = 0) -> Spec:
        return self.call.outputs[k]

    # -- making -----------------------------------------------------------------------------

    def _base(self, suffix: str | None) -> str:
        base = f"{self.call.op}#{self.call.index}"  # '#': in no layer's variable names
        return f"{base}/{suffix}" if suffix else base

    def const(self, value: Any, dtype: Any, suffix: str) -> str:
        return self.graph.add_constant(self._base(suffix), value, dtype)

    def ints(self, values: Any, suffix: str) -> str:
        """An int32 constant (axes, shapes, perms: what TFLite ops read as int32)."""
        return self.const(values, np.int32, suffix)

    def emit(
        self,
        op: str,
        inputs: Sequence[str | None],
        options: dict[str, Any] | None = None,
        *,
        shape: Sequence[int | None] | None = None,
        dtype: Any = None,
        suffix: str | None = None,
    ) -> str:
        """Add node `op`; returns its output, shaped as the call's first output unless told."""
        spec = self.out()
        out = self.graph.add_tensor(
            self._base(suffix),
            spec.shape if shape is None else shape,
            spec.dtype if dtype is None else dtype,
        )
        self.graph.add_node(op, list(inputs), [out], options, name=self.call.name)
        return out

    def emit_many(
        self, op: str, inputs: Sequence[str | None], options: dict[str, Any] | None = None
    ) -> list[str]:
        """Add node `op` with one output per output of the call."""
        outs = [
            self.graph.add_tensor(f"{self._base(None)}:{k}", spec.shape, spec.dtype)
            for k, spec in enumerate(self.call.outputs)
        ]
        self.graph.add_node(op, list(inputs), outs, options, name=self.call.name)
        return outs

    # -- data movement (constants move now) ------------------------------------------------
    # `suffix` names the result after the call ("conv2d#3/suffix"; None: the call's output),
    # or a moved constant after its source ("conv2d/kernel/suffix").

    def transpose(self, x: str, perm: Sequence[int], suffix: str | None = "transposed") -> str:
        data = self.data(x)
        if data is not None:
            return self.graph.add_constant(f"{x}/{suffix or 'transposed'}", data.transpose(perm))
        shape = tuple(self.shape(x)[p] for p in perm)
        perm_tensor = self.ints(perm, f"{suffix or 'output'}_perm")
        return self.emit(
            "TRANSPOSE", [x, perm_tensor], shape=shape, dtype=self.dtype(x), suffix=suffix
        )

    def reshape(self, x: str, shape: Sequence[int | None], suffix: str | None = "reshaped") -> str:
        """`x` reshaped to `shape` (None or -1: the one size left to infer)."""
        dims = [-1 if d is None else int(d) for d in shape]
        if dims.count(-1) > 1:
            raise Unsupported(f"cannot reshape to {list(shape)}: more than one unknown size")
        data = self.data(x)
        if data is not None:
            return self.graph.add_constant(f"{x}/{suffix or 'reshaped'}", data.reshape(dims))
        shape_tensor = self.ints(dims, f"{suffix or 'output'}_shape")
        return self.emit(
            "RESHAPE",
            [x, shape_tensor],
            {"new_shape": dims},
            shape=tuple(None if d == -1 else d for d in dims),
            dtype=self.dtype(x),
            suffix=suffix,
        )

    def cast(self, x: str, dtype: Any, suffix: str | None = "cast") -> str:
        dtype = np.dtype(dtype)
        if self.dtype(x) == dtype:
            return x
        return self.emit("CAST", [x], shape=self.shape(x), dtype=dtype, suffix=suffix)

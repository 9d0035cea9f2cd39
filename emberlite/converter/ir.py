"""The converter's IR: a graph of named, typed tensors and TFLite-vocabulary nodes.

    front end (bundle / ONNX) --> Graph --passes--> Graph --writer--> .tflite

Front ends lower their ops to TFLite's builtin ops at once ("CONV_2D", "FULLY_CONNECTED",
"ADD", ...), NHWC, with options under the schema's own field names (the fields of
`Conv2DOptions` etc. in emberlite/schema/model.fbs, enum values as ints), so passes and the
writer speak one language and a pass can be read next to TFLite's docs.

- `Tensor`: a name, a shape (None where the size is only known at run time, e.g. the batch),
  a NumPy dtype, and `data` (a NumPy array) when it is a constant.
- `Node`: an op name, input tensor names (None for an omitted optional input, TFLite's -1),
  output tensor names, options, and a name for messages (where it came from).
- `Graph`: tensors by name, nodes in execution order, the graph's inputs and outputs (with
  their signature names), and metadata.  Passes rewrite it in place through its small API.

`Graph.problems()` lists everything inconsistent (dangling names, a tensor made twice, a
cycle, constants whose data disagree with their shape); `validate()` raises one
`ConversionError` listing all of them.  Tests validate after every pass.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from emberlite.errors import EmberliteError


class ConversionError(EmberliteError, ValueError):
    """A model cannot be converted; the message lists every problem found, by name."""

    def __init__(self, what: str, problems: Iterable[str] = ()):
        self.problems = list(problems)
        lines = [what, *(f"  - {p}" for p in self.problems)]
        super().__init__("\n".join(lines))


@dataclass
class Tensor:
    name: str
    shape: tuple[int | None, ...]
    dtype: np.dtype
    data: np.ndarray | None = None
    quantization: Any = None  # schema.QuantizationParameters (set by quantization)

    def __post_init__(self) -> None:
        self.shape = tuple(None if d is None else int(d) for d in self.shape)
        self.dtype = np.dtype(self.dtype)

    @property
    def is_constant(self) -> bool:
        return self.data is not None


@dataclass
class Node:
    op: str  # TFLite builtin name, e.g. "CONV_2D"
    inputs: list[str | None]
    outputs: list[str]
    options: dict[str, Any] = field(default_factory=dict)
    name: str = ""  # where it came from, for messages: "conv2d (node 3)"

    def __repr__(self) -> str:
        return f"<{self.op} {self.name!r} {self.inputs} -> {self.outputs}>"


@dataclass
class Graph:
    tensors: dict[str, Tensor] = field(default_factory=dict)
    nodes: list[Node] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    # signature names of the inputs / outputs (default: the tensor names)
    input_names: list[str] = field(default_factory=list)
    output_names: list[str] = field(default_factory=list)
    signature_key: str = "serving_default"
    metadata: dict[str, bytes] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=itertools.count, repr=False)

    # -- building ---------------------------------------------------------------------------------

    def unique_name(self, base: str) -> str:
        name = base
        while name in self.tensors:
            name = f"{base}_{next(self._ids)}"
        return name

    def add_tensor(self, name: str, shape: Any, dtype: Any, data: np.ndarray | None = None) -> str:
        """A new tensor (its name made unique); returns the name."""
        name = self.unique_name(name)
        self.tensors[name] = Tensor(name, tuple(shape), dtype, data)
        return name

    def add_constant(self, name: str, value: Any, dtype: Any = None) -> str:
        data = np.asarray(value, dtype=dtype)
        return self.add_tensor(name, data.shape, data.dtype, data)

    def add_node(
        self,
        op: str,
        inputs: list[str | None],
        outputs: list[str],
        options: dict[str, Any] | None = None,
        name: str = "",
        index: int | None = None,
    ) -> Node:
        """Append a node (or insert it at `index`)."""
        node = Node(op, list(inputs), list(outputs), dict(options or {}), name or op.lower())
        self.nodes.insert(len(self.nodes) if index is None else index, node)
        return node

    # -- reading ----------------------------------------------------------------------------------

    def producers(self) -> dict[str, Node]:
        return {out: node for node in self.nodes for out in node.outputs}

    def consumers(self) -> dict[str, list[Node]]:
        found: dict[str, list[Node]] = {}
        for node in self.nodes:
            for name in node.inputs:
                if name is not None:
                    found.setdefault(name, []).append(node)
        return found

    def constant(self, name: str | None) -> np.ndarray | None:
        """The data of tensor `name` if it is a constant, else None."""
        tensor = self.tensors.get(name) if name is not None else None
        return tensor.data if tensor is not None else None

    def op_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for node in self.nodes:
            counts[node.op] = counts.get(node.op, 0) + 1
        return counts

    # -- rewriting --------------------------------------------------------------------------------

    def replace_uses(self, old: str, new: str) -> None:
        """Every read of tensor `old` (by nodes and as a graph output) reads `new` instead."""
        for node in self.nodes:
            node.inputs = [new if name == old else name for name in node.inputs]
        self.outputs = [new if name == old else name for name in self.outputs]

    def remove_nodes(self, doomed: Iterable[Node]) -> None:
        ids = {id(n) for n in doomed}
        self.nodes = [n for n in self.nodes if id(n) not in ids]

    def remove_unused_tensors(self) -> None:
        used = set(self.inputs) | set(self.outputs)
        for node in self.nodes:
            used.update(n for n in node.inputs if n is not None)
            used.update(node.outputs)
        self.tensors = {k: v for k, v in self.tensors.items() if k in used}

    # -- checking ---------------------------------------------------------------------------------

    def problems(self) -> list[str]:
        """Everything inconsistent in the graph, each named (empty when it is sound)."""
        found = []
        made: dict[str, str] = {name: "a graph input" for name in self.inputs}
        for name, tensor in self.tensors.items():
            if tensor.is_constant:
                made[name] = "a constant"
                if tuple(tensor.data.shape) != tensor.shape or tensor.data.dtype != tensor.dtype:
                    found.append(
                        f"constant {name!r} holds {tensor.data.dtype}{list(tensor.data.shape)} "
                        f"but is declared {tensor.dtype}{list(tensor.shape)}"
                    )
        for name in [*self.inputs, *self.outputs]:
            if name not in self.tensors:
                found.append(f"graph input/output {name!r} is not a tensor of the graph")
        later = {out: i for i, node in enumerate(self.nodes) for out in node.outputs}
        for i, node in enumerate(self.nodes):
            where = f"node {i} {node.op} ({node.name})"
            for name in node.inputs:
                if name is None:
                    continue
                if name not in self.tensors:
                    found.append(f"{where} reads {name!r}, which no tensor has as its name")
                elif name not in made:
                    if later.get(name, -1) >= i:
                        found.append(f"{where} reads {name!r} before it is made (a cycle)")
                    else:
                        found.append(f"{where} reads {name!r}, which nothing makes")
            for name in node.outputs:
                if name not in self.tensors:
                    found.append(f"{where} writes {name!r}, which is not a tensor of the graph")
                elif name in made:
                    found.append(f"{where} writes {name!r}, already made by {made[name]}")
                made[name] = where
        for name in self.outputs:
            if name in self.tensors and name not in made:
                found.append(f"graph output {name!r} is never made")
        return found

    def validate(self, what: str = "the converted graph is inconsistent") -> None:
        problems = self.problems()
        if problems:
            raise ConversionError(what, problems)

"""A bundle's signature graph (the JSON form of emberlite/trainer/graph.py), parsed and
checked without the trainer's variables: dangling references, cycles and malformed parts
are all collected and raised as one ConversionError.

Nodes refer to earlier nodes only (the trainer records them in execution order), so a
reference to the node itself or a later one is a cycle.  Floating-point specs and arrays
become float32: the converter writes float32 models (float16 weights are a later step).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from emberlite.converter.frontends.bundle_builder import Spec
from emberlite.converter.ir import ConversionError
from emberlite.trainer.graph import Const, Input, NodeOutput, Ref, Var, decode_attr

ASSIGN = "assign"


def ir_dtype(dtype: Any) -> np.dtype:
    dtype = np.dtype(dtype)
    return np.dtype(np.float32) if dtype.kind == "f" else dtype


@dataclass
class SourceNode:
    index: int  # its place in the JSON, which references use
    op: str
    inputs: list[Ref]
    attrs: dict[str, Any]
    outputs: list[Spec]


@dataclass
class SourceGraph:
    inputs: list[tuple[str, Spec]]
    nodes: list[SourceNode]
    outputs: list[Ref]
    output_names: list[str]
    arrays: dict[Ref, np.ndarray]  # the constants and variables the nodes read (float32)

    def __post_init__(self) -> None:
        self._by_index = {n.index: n for n in self.nodes}

    def spec(self, ref: Ref) -> Spec:
        if isinstance(ref, Input):
            return self.inputs[ref.index][1]
        if isinstance(ref, NodeOutput):
            return self.node(ref.node).outputs[ref.output]
        array = self.arrays[ref]
        return Spec(array.shape, array.dtype)

    def node(self, index: int) -> SourceNode:
        return self._by_index[index]

    def uses(self) -> Counter[Ref]:
        """How many times each node output is read (a graph output counts as a read)."""
        reads = [r for n in self.nodes for r in n.inputs] + self.outputs
        return Counter(r for r in reads if isinstance(r, NodeOutput))


def parse(
    data: Any, constants: dict[str, np.ndarray], variables: dict[str, np.ndarray], what: str
) -> SourceGraph:
    """The graph JSON `data`; `constants` and `variables` by the names references use."""
    if not isinstance(data, dict):
        raise ConversionError(f"{what}: the graph is not a JSON object")
    parser = _Parser(data, constants, variables)
    graph = parser.graph()
    if parser.problems:
        raise ConversionError(f"{what}: the graph is inconsistent", parser.problems)
    return graph


class _Parser:
    def __init__(self, data: dict, constants: dict, variables: dict):
        self.data, self.constants, self.variables = data, constants, variables
        self.problems: list[str] = []
        self.arrays: dict[Ref, np.ndarray] = {}
        self.raw_nodes = self.listed("nodes")
        self.input_count = 0

    def graph(self) -> SourceGraph:
        inputs = []
        for i, raw in enumerate(self.listed("inputs")):
            spec = self.spec(raw, f"input {i}")
            name = raw.get("name") if isinstance(raw, dict) else None
            inputs.append((name if isinstance(name, str) and name else f"input_{i}", spec))
        self.input_count = len(inputs)
        nodes = [self.node(i, raw) for i, raw in enumerate(self.raw_nodes)]
        outputs = [self.ref(r, "an output", len(self.raw_nodes)) for r in self.listed("outputs")]
        names = self.data.get("output_names") or [f"output_{i}" for i in range(len(outputs))]
        if not isinstance(names, list) or len(names) != len(outputs):
            self.problems.append(f"output_names {names!r} do not name the {len(outputs)} outputs")
        return SourceGraph(inputs, nodes, outputs, list(names), self.arrays)

    def listed(self, key: str) -> list:
        value = self.data.get(key)
        if not isinstance(value, list):
            self.problems.append(f"{key!r} is missing or not a list")
            return []
        return value

    def node(self, i: int, raw: Any) -> SourceNode:
        where = f"node {i} ({raw.get('op') if isinstance(raw, dict) else '?'})"
        try:
            if raw["op"] == ASSIGN:  # reported by the lowering: nothing lowers it
                return SourceNode(i, ASSIGN, [], {}, [])
            inputs = [self.ref(r, where, i) for r in raw["inputs"]]
            attrs = {k: decode_attr(v) for k, v in raw["attrs"].items()}
            outputs = [self.spec(s, f"{where} output {k}") for k, s in enumerate(raw["outputs"])]
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            self.problems.append(f"{where} is malformed: {type(e).__name__}: {e}")
            return SourceNode(
                i, str(raw.get("op", "?")) if isinstance(raw, dict) else "?", [], {}, []
            )
        return SourceNode(i, str(raw["op"]), inputs, attrs, outputs)

    def spec(self, raw: Any, where: str) -> Spec:
        try:
            shape = tuple(None if d is None else int(d) for d in raw["shape"])
            return Spec(shape, ir_dtype(raw["dtype"]))
        except (KeyError, TypeError, ValueError) as e:
            self.problems.append(f"{where} has no valid shape and dtype: {e}")
            return Spec((), np.dtype(np.float32))

    def ref(self, raw: Any, where: str, before: int) -> Ref:
        """The reference `raw` made at node `before` (or by the outputs, after every node)."""
        problem, ref = self._resolve(raw, before)
        if problem:
            self.problems.append(f"{where} reads {raw!r}: {problem}")
        return ref

    def _resolve(self, raw: Any, before: int) -> tuple[str | None, Ref]:
        if not isinstance(raw, dict) or len(raw.keys() & {"input", "node", "const", "var"}) != 1:
            return "not a reference", Const("?")
        if "input" in raw:
            i = raw["input"]
            ok = isinstance(i, int) and 0 <= i < self.input_count
            return None if ok else "no such input", Input(i if isinstance(i, int) else -1)
        if "node" in raw:
            n, k = raw["node"], raw.get("output", 0)
            if not isinstance(n, int) or not isinstance(k, int) or not 0 <= n < len(self.raw_nodes):
                return "no such node", NodeOutput(-1)
            if n >= before:
                return "a node at or after the reader (a cycle)", NodeOutput(n, k)
            made = (
                self.raw_nodes[n].get("outputs", []) if isinstance(self.raw_nodes[n], dict) else []
            )
            if not 0 <= k < len(made):
                return f"node {n} has {len(made)} outputs", NodeOutput(n, k)
            return None, NodeOutput(n, k)
        kind, table = ("const", self.constants) if "const" in raw else ("var", self.variables)
        name = raw[kind]
        if not isinstance(name, str):
            return "not a name", Const("?")
        ref = Const(name) if kind == "const" else Var(name)
        if name not in table:
            return f"no {'constant' if kind == 'const' else 'variable'} of that name", ref
        if ref not in self.arrays:
            array = np.asarray(table[name])
            self.arrays[ref] = array.astype(ir_dtype(array.dtype), copy=False)
        return None, ref

"""Graphs traced from eager code: recording, replay, pruning and the JSON form.

While a `Tracer` is active (`emberlite.function` runs one around a trace), every primitive call
made through `registry.apply` is recorded as a node, with its inputs as references:

    Input(i)             the i-th traced input of the function
    NodeOutput(n, k)     output k of node n
    Var(name)            a Variable, read when the node runs (so it sees earlier assigns)
    Const(name)          any other tensor, array or number: its value is kept in the graph

`Variable.assign` records an `assign` node, so updates happen on every replay.  `Graph.run`
replays the nodes in order through `apply`, so tapes and device placement work as eagerly.

JSON form (`Graph.to_json`; the constants travel beside it as NumPy arrays by name):

    {"inputs": [{"name": "x", "shape": [null, 28, 28, 1], "dtype": "float32"}],
     "variables": [{"name": "conv2d/kernel", "shape": [3, 3, 1, 32], "dtype": "float32"}],
     "nodes": [
       {"op": "conv2d", "inputs": [{"input": 0}, {"var": "conv2d/kernel"}],
        "attrs": {"strides": {"tuple": [1, 1]}, "groups": 1, ...},
        "outputs": [{"shape": [null, 28, 28, 32], "dtype": "float32"}]},
       {"op": "assign", "var": "step", "value": {"node": 3, "output": 0}}],
     "outputs": [{"node": 7, "output": 0}]}

References are {"input": i}, {"node": n, "output": k}, {"const": name} and {"var": name}.
Attr values that JSON holds (numbers, strings, booleans, null, lists) stand for themselves;
the rest are one-key tagged objects: {"tuple": [...]}, {"dtype": "float32"},
{"slice": [start, stop, step]}, {"ellipsis": null}, {"scalar": {"value": 3, "dtype": "int64"}}
(a NumPy scalar), {"ndarray": {"data": [...], "dtype": "int64", "shape": [2]}}.  Variables
are named by `Variable.name` when traced (a second variable of a name already taken gets
"name_1", ...); `Graph.variables` maps those names to the variables.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from emberlite.errors import EmberliteError
from emberlite.trainer.tensor import Tensor, Variable


class TracingError(EmberliteError, RuntimeError):
    """A traced function does something a graph cannot replay faithfully."""


class GraphError(EmberliteError, ValueError):
    """A graph (or its JSON form) is inconsistent: unknown op, missing variable, bad attr."""


@dataclass(frozen=True)
class TensorSpec:
    """The shape (None: any size) and dtype of a tensor, as tf.TensorSpec."""

    shape: tuple[int | None, ...]
    dtype: np.dtype = np.dtype(np.float32)
    name: str | None = None

    def __init__(self, shape: Any, dtype: Any = np.float32, name: str | None = None):
        try:
            dims = tuple(None if d is None else int(d) for d in shape)
        except TypeError:
            raise EmberliteError(
                f"TensorSpec shape must be a list of sizes, got {shape!r}"
            ) from None
        object.__setattr__(self, "shape", dims)
        object.__setattr__(self, "dtype", np.dtype(dtype))
        object.__setattr__(self, "name", name)

    @classmethod
    def from_tensor(cls, tensor: Any, name: str | None = None) -> TensorSpec:
        """The spec of a tensor or NumPy array."""
        return cls(tensor.shape, tensor.dtype, name)

    def is_compatible_with(self, tensor: Any) -> bool:
        """Same rank and dtype, and the same size wherever this spec gives one."""
        shape = tuple(tensor.shape)
        return (
            np.dtype(tensor.dtype) == self.dtype
            and len(shape) == len(self.shape)
            and all(d is None or d == n for d, n in zip(self.shape, shape, strict=True))
        )

    def __repr__(self) -> str:
        return f"TensorSpec(shape={self.shape}, dtype={self.dtype.name}, name={self.name!r})"


# -- references and nodes -------------------------------------------------------------------------


@dataclass(frozen=True)
class Input:
    index: int


@dataclass(frozen=True)
class NodeOutput:
    node: int
    output: int = 0


@dataclass(frozen=True)
class Var:
    name: str


@dataclass(frozen=True)
class Const:
    name: str


Ref = Input | NodeOutput | Var | Const


@dataclass
class Node:
    """A primitive call (`op` names it in PRIMITIVES), or `assign` (inputs: Var, value)."""

    op: str
    inputs: tuple[Ref, ...]
    attrs: dict[str, Any] = field(default_factory=dict)
    outputs: tuple[TensorSpec, ...] = ()


# -- the graph ----------------------------------------------------------------------------------


@dataclass
class Graph:
    inputs: list[TensorSpec]
    nodes: list[Node]
    outputs: list[Ref]
    constants: dict[str, np.ndarray]
    variables: dict[str, Variable]

    def __post_init__(self) -> None:
        self._const_tensors: dict[str, Tensor] = {}
        self._releases: list[list[int]] | None = None

    def run(self, inputs: Sequence[Tensor]) -> list[Tensor]:
        """Replay the nodes in order on `inputs`; the values of `outputs`."""
        from emberlite.trainer.ops.registry import PRIMITIVES, apply

        if len(inputs) != len(self.inputs):
            raise GraphError(f"the graph takes {len(self.inputs)} inputs, got {len(inputs)}")
        for i, (spec, t) in enumerate(zip(self.inputs, inputs, strict=True)):
            if not spec.is_compatible_with(t):
                raise GraphError(
                    f"input {i} ({spec.name}) must have shape {spec.shape} {spec.dtype.name}, "
                    f"got {t.shape} {t.dtype.name}"
                )
        values: list[Any] = []
        for node, releases in zip(self.nodes, self._release_plan(), strict=True):
            args = [self._value(ref, inputs, values) for ref in node.inputs]
            if node.op == "assign":
                args[0].assign(args[1])
                values.append(())
            else:
                prim = PRIMITIVES[node.op]
                out = apply(prim, args, node.attrs)
                values.append(out if prim.multiple_outputs else (out,))
            for n in releases:  # NOTE: free what no later node reads, as eager code would
                values[n] = None
        results = []
        for ref in self.outputs:
            value = self._value(ref, inputs, values)
            results.append(
                apply(PRIMITIVES["read_variable"], [value], {}) if isinstance(ref, Var) else value
            )
        return results

    def output_specs(self) -> list[TensorSpec]:
        return [self.spec(ref) for ref in self.outputs]

    def spec(self, ref: Ref) -> TensorSpec:
        if isinstance(ref, Input):
            return self.inputs[ref.index]
        if isinstance(ref, NodeOutput):
            return self.nodes[ref.node].outputs[ref.output]
        value = self.variables[ref.name] if isinstance(ref, Var) else self.constants[ref.name]
        return TensorSpec(value.shape, value.dtype)

    def prune(self, keep_assigns: bool = True) -> Graph:
        """The graph of the nodes its outputs need (and its assigns, unless keep_assigns is
        False: a forward graph for export)."""
        needed = {r.node for r in self.outputs if isinstance(r, NodeOutput)}
        if keep_assigns:
            needed |= {i for i, node in enumerate(self.nodes) if node.op == "assign"}
        for i in range(len(self.nodes) - 1, -1, -1):
            if i in needed:
                needed |= {r.node for r in self.nodes[i].inputs if isinstance(r, NodeOutput)}
        order = sorted(needed)
        renumber = {old: new for new, old in enumerate(order)}

        def move(ref: Ref) -> Ref:
            return (
                NodeOutput(renumber[ref.node], ref.output) if isinstance(ref, NodeOutput) else ref
            )

        nodes = [
            replace(self.nodes[i], inputs=tuple(move(r) for r in self.nodes[i].inputs))
            for i in order
        ]
        outputs = [move(r) for r in self.outputs]
        used = [r for node in nodes for r in node.inputs] + outputs
        return Graph(
            list(self.inputs),
            nodes,
            outputs,
            {r.name: self.constants[r.name] for r in used if isinstance(r, Const)},
            {r.name: self.variables[r.name] for r in used if isinstance(r, Var)},
        )

    # -- JSON ---------------------------------------------------------------------------------

    def to_json(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(a JSON-ready dict, the constants by name); see the module docstring."""
        nodes = []
        for i, node in enumerate(self.nodes):
            if node.op == "assign":
                var, value = node.inputs
                nodes.append({"op": "assign", "var": var.name, "value": _ref_json(value)})
                continue
            try:
                attrs = {k: encode_attr(v) for k, v in node.attrs.items()}
            except GraphError as e:
                raise GraphError(f"node {i} ({node.op}): {e}") from None
            nodes.append(
                {
                    "op": node.op,
                    "inputs": [_ref_json(r) for r in node.inputs],
                    "attrs": attrs,
                    "outputs": [_spec_json(s) for s in node.outputs],
                }
            )
        data = {
            "inputs": [_spec_json(s) for s in self.inputs],
            "variables": [
                _spec_json(TensorSpec(v.shape, v.dtype, name)) for name, v in self.variables.items()
            ],
            "nodes": nodes,
            "outputs": [_ref_json(r) for r in self.outputs],
        }
        return data, dict(self.constants)

    @classmethod
    def from_json(
        cls, data: dict[str, Any], constants: dict[str, np.ndarray], variables: dict[str, Variable]
    ) -> Graph:
        """The graph `to_json` wrote, its variables taken from `variables` by name."""
        try:
            graph = cls._parse(data, constants, variables)
            graph._check_refs()
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
            if isinstance(e, GraphError):
                raise
            raise GraphError(f"malformed graph JSON: {type(e).__name__}: {e}") from None
        return graph

    @classmethod
    def _parse(
        cls, data: dict[str, Any], constants: dict[str, np.ndarray], variables: dict[str, Variable]
    ) -> Graph:
        from emberlite.trainer.ops.registry import PRIMITIVES

        wanted = {}
        for spec in data.get("variables", []):
            name = spec["name"]
            if name not in variables:
                raise GraphError(f"the graph needs variable {name!r}, which was not given")
            v, expected = variables[name], _spec_from_json(spec)
            if not expected.is_compatible_with(v):
                raise GraphError(
                    f"variable {name!r} has shape {list(v.shape)} {v.dtype.name}, the graph "
                    f"expects {list(expected.shape)} {expected.dtype.name}"
                )
            wanted[name] = v
        nodes = []
        for i, raw in enumerate(data["nodes"]):
            if raw["op"] == "assign":
                nodes.append(Node("assign", (Var(raw["var"]), _ref_from_json(raw["value"]))))
                continue
            if raw["op"] not in PRIMITIVES:
                raise GraphError(f"node {i}: unknown op {raw['op']!r}")
            nodes.append(
                Node(
                    raw["op"],
                    tuple(_ref_from_json(r) for r in raw["inputs"]),
                    {k: decode_attr(v) for k, v in raw["attrs"].items()},
                    tuple(_spec_from_json(s) for s in raw["outputs"]),
                )
            )
        return cls(
            [_spec_from_json(s) for s in data["inputs"]],
            nodes,
            [_ref_from_json(r) for r in data["outputs"]],
            dict(constants),
            wanted,
        )

    # -- helpers ------------------------------------------------------------------------------

    def _value(self, ref: Ref, inputs: Sequence[Tensor], values: list[Any]) -> Any:
        if isinstance(ref, NodeOutput):
            return values[ref.node][ref.output]
        if isinstance(ref, Input):
            return inputs[ref.index]
        if isinstance(ref, Var):
            return self.variables[ref.name]
        tensor = self._const_tensors.get(ref.name)
        if tensor is None:
            tensor = self._const_tensors[ref.name] = Tensor(self.constants[ref.name])
        return tensor

    def _release_plan(self) -> list[list[int]]:
        """For each node, the earlier nodes whose outputs nothing after it reads."""
        if self._releases is None:
            last = {}
            for i, node in enumerate(self.nodes):
                for r in node.inputs:
                    if isinstance(r, NodeOutput):
                        last[r.node] = i
            kept = {r.node for r in self.outputs if isinstance(r, NodeOutput)}
            self._releases = [[] for _ in self.nodes]
            for n, i in last.items():
                if n not in kept:
                    self._releases[i].append(n)
        return self._releases

    def _check_refs(self) -> None:
        for i, node in enumerate(self.nodes):
            for r in node.inputs:
                self._check_ref(r, f"node {i} ({node.op})", before=i)
        for r in self.outputs:
            self._check_ref(r, "the outputs", before=len(self.nodes))

    def _check_ref(self, ref: Ref, where: str, before: int) -> None:
        bad = (
            (isinstance(ref, Input) and not 0 <= ref.index < len(self.inputs))
            or (
                isinstance(ref, NodeOutput)
                and not (
                    0 <= ref.node < before and 0 <= ref.output < len(self.nodes[ref.node].outputs)
                )
            )
            or (isinstance(ref, Const) and ref.name not in self.constants)
            or (isinstance(ref, Var) and ref.name not in self.variables)
        )
        if bad:
            raise GraphError(f"{where}: {_ref_json(ref)} is not in the graph")


# -- recording -----------------------------------------------------------------------------------


class Tracer:
    """Records the primitive calls and assigns made while it is active (see `tracing`)."""

    def __init__(self, name: str, inputs: Sequence[Tensor], specs: Sequence[TensorSpec]):
        self.name = name
        self.specs = list(specs)
        self.nodes: list[Node] = []
        self.constants: dict[str, np.ndarray] = {}
        self.variables: dict[str, Variable] = {}
        # id -> (ref, tensor): the tensor is kept so that its id stays its own while tracing.
        self._refs: dict[int, tuple[Ref, Any]] = {
            id(t): (Input(i), t) for i, t in enumerate(inputs)
        }
        self._saved: dict[int, tuple[Variable, Any]] = {}  # values before the first assign
        # variable id -> the reads apply made of it (the tensors tapes keep as op inputs)
        self._reads: dict[int, list[Tensor]] = {}

    def ref(self, x: Any) -> Ref:
        """The reference for `x`: a traced value, a variable, else a new constant."""
        if isinstance(x, Variable):
            return self._variable(x)
        known = self._refs.get(id(x))
        if known is not None:
            return known[0]
        ref = Const(f"c{len(self.constants)}")
        self.constants[ref.name] = np.array(x._host(), copy=True)
        self._refs[id(x)] = (ref, x)
        return ref

    def holds(self, tensor: Any) -> bool:
        """Whether `tensor`'s value depends on the traced inputs or variables."""
        if isinstance(tensor, Variable):
            return True
        known = self._refs.get(id(tensor))
        return known is not None and not isinstance(known[0], Const)

    def record_op(
        self,
        op: str,
        inputs: Sequence[Any],
        attrs: dict,
        outputs: Sequence[Tensor],
        reads: Sequence[Tensor | None] = (),
    ):
        """Record a call; `reads[i]` is the value apply read of a Variable input i: gradient
        rules use it later (op.inputs), so it stands for the variable until an assign."""
        refs = tuple(self.ref(x) for x in inputs)
        for x, read in zip(inputs, reads, strict=False):
            if read is not None and id(read) not in self._refs:
                self._refs[id(read)] = (self._variable(x), read)
                self._reads.setdefault(id(x), []).append(read)
        index = len(self.nodes)
        self.nodes.append(
            Node(op, refs, attrs, tuple(TensorSpec(o.shape, o.dtype) for o in outputs))
        )
        for k, o in enumerate(outputs):
            self._refs[id(o)] = (NodeOutput(index, k), o)

    def record_assign(self, variable: Variable, value: Tensor) -> None:
        # NOTE: reads of the variable still to be used keep the value before the assign: from
        # here on they stand for a read_variable node (recorded now, before the assign).
        for read in self._reads.pop(id(variable), []):
            self._refs.pop(id(read))
            self.record_op("read_variable", (variable,), {}, (read,))
        self._saved.setdefault(id(variable), (variable, variable._data))
        self.nodes.append(Node("assign", (self._variable(variable), self.ref(value))))

    def undo_assigns(self) -> None:
        """Give the variables assigned while tracing their earlier values back."""
        for variable, data in self._saved.values():
            variable._data = data

    def graph(self, outputs: Sequence[Any]) -> Graph:
        refs = [self.ref(o) for o in outputs]
        return Graph(self.specs, self.nodes, refs, self.constants, self.variables).prune()

    def _variable(self, variable: Variable) -> Var:
        known = self._refs.get(id(variable))
        if known is not None:
            return known[0]
        name, n = variable.name, 0
        while name in self.variables:
            n += 1
            name = f"{variable.name}_{n}"
        self.variables[name] = variable
        self._refs[id(variable)] = (Var(name), variable)
        return Var(name)


_state = threading.local()


def _tracers() -> list[Tracer]:
    return _state.__dict__.setdefault("tracers", [])


@contextlib.contextmanager
def tracing(tracer: Tracer, isolated: bool = False) -> Iterator[Tracer]:
    """Record into `tracer` inside the block (and into the tracers around it, which then
    inline this trace).  `isolated`: a trace on stand-in values that nothing outside it may
    see, neither the tracers nor the gradient tapes around it; its assigns are undone."""
    from emberlite.trainer import autodiff

    tracers = _tracers()
    outer = (tracers[:], autodiff._active()[:]) if isolated else None
    if isolated:
        tracers.clear()
        autodiff._active().clear()
    tracers.append(tracer)
    try:
        with np.errstate(all="ignore") if isolated else contextlib.nullcontext():
            yield tracer
    finally:
        tracers.remove(tracer)
        if isolated:
            tracer.undo_assigns()
            tracers[:], autodiff._active()[:] = outer


def is_tracing() -> bool:
    return bool(_tracers())


def record_op(
    op: str,
    inputs: Sequence[Any],
    attrs: dict,
    outputs: Sequence[Tensor],
    reads: Sequence[Tensor | None] = (),
) -> None:
    """Called by registry.apply (and variable reads) for every primitive that ran."""
    for tracer in _tracers():
        tracer.record_op(op, inputs, attrs, outputs, reads)


def record_assign(variable: Variable, value: Tensor) -> None:
    """Called by Variable.assign."""
    for tracer in _tracers():
        tracer.record_assign(variable, value)


def is_traced(tensor: Any) -> bool:
    """Whether reading `tensor`'s value now would bake a trace-time value into a graph."""
    return any(tracer.holds(tensor) for tracer in _tracers())


def check_readable(tensor: Any, how: str) -> None:
    """Raise TracingError if reading `tensor`'s value in Python (`how`) would bake it in."""
    for tracer in _tracers():
        if tracer.holds(tensor):
            what = f"variable {tensor.name!r}" if isinstance(tensor, Variable) else "a tensor"
            raise TracingError(
                f"{how} reads the value of {what} while emberlite.function traces "
                f"{tracer.name}: the graph would keep this one value on every call. Use tensor "
                "ops instead (where, cast, reduce_max, ...), or read values outside the function"
            )


# -- comparing two traces -------------------------------------------------------------------------


def generalize(first: Graph, second: Graph, sizes: tuple[str, str]) -> Graph:
    """`first` with the sizes that differ from `second` (traced with other sizes for the
    unknown dimensions) as None; TracingError where the two differ in anything else.

    `sizes` describes the two sets of stand-in sizes, for the messages.
    """
    ops = [n.op for n in first.nodes], [n.op for n in second.nodes]
    if ops[0] != ops[1]:
        i = next(
            (i for i, (a, b) in enumerate(zip(*ops, strict=False)) if a != b), min(map(len, ops))
        )
        raise TracingError(
            f"the function records different ops for inputs of shapes {sizes[0]} and "
            f"{sizes[1]} (from node {i} on: {_op_at(first, i)} vs {_op_at(second, i)}): "
            "it branches in Python on a shape"
        )
    for i, (a, b) in enumerate(zip(first.nodes, second.nodes, strict=True)):
        for name in sorted(a.attrs.keys() | b.attrs.keys()):
            if encode_attr(a.attrs.get(name)) != encode_attr(b.attrs.get(name)):
                raise TracingError(
                    f"node {i} ({a.op}): attr {name!r} is {a.attrs.get(name)!r} for inputs of "
                    f"shapes {sizes[0]} and {b.attrs.get(name)!r} for {sizes[1]}: the function "
                    "bakes an unknown dimension into the graph. Use -1 for it (e.g. "
                    "reshape(x, (-1, 784))) or sizes that do not depend on it"
                )
        k = _changed_input(first, a, second, b)
        if k is not None:
            raise TracingError(
                f"node {i} ({a.op}): input {k} changes with the unknown dimensions (inputs of "
                f"shapes {sizes[0]} vs {sizes[1]}): a value computed in Python from a shape, "
                "such as a mean's count over an unknown dimension, is baked into the graph"
            )
    for k, (r, s) in enumerate(zip(first.outputs, second.outputs, strict=True)):
        if not _same_ref(first, r, second, s):
            raise TracingError(f"output {k} changes with the unknown dimensions")
    nodes = [
        replace(a, outputs=tuple(_join(x, y) for x, y in zip(a.outputs, b.outputs, strict=True)))
        for a, b in zip(first.nodes, second.nodes, strict=True)
    ]
    inputs = [_join(x, y) for x, y in zip(first.inputs, second.inputs, strict=True)]
    return Graph(inputs, nodes, list(first.outputs), first.constants, first.variables)


def _changed_input(first: Graph, a: Node, second: Graph, b: Node) -> int | None:
    """The first input of node `a` (of `first`) that differs from node `b`'s (of `second`)."""
    for k, (r, t) in enumerate(zip(a.inputs, b.inputs, strict=False)):
        if not _same_ref(first, r, second, t):
            return k
    return None if len(a.inputs) == len(b.inputs) else min(len(a.inputs), len(b.inputs))


def _op_at(graph: Graph, i: int) -> str:
    return graph.nodes[i].op if i < len(graph.nodes) else "the end"


def _same_ref(ga: Graph, a: Ref, gb: Graph, b: Ref) -> bool:
    if isinstance(a, Const) and isinstance(b, Const):
        x, y = ga.constants[a.name], gb.constants[b.name]
        return x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y, equal_nan=True)
    return a == b


def _join(a: TensorSpec, b: TensorSpec) -> TensorSpec:
    shape = tuple(x if x == y else None for x, y in zip(a.shape, b.shape, strict=False))
    return TensorSpec(shape if len(a.shape) == len(b.shape) else a.shape, a.dtype, a.name)


# -- JSON helpers -------------------------------------------------------------------------------


def encode_attr(value: Any) -> Any:
    """An attr value as JSON-ready data (see the module docstring for the tagged forms)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, tuple):
        return {"tuple": [encode_attr(v) for v in value]}
    if isinstance(value, list):
        return [encode_attr(v) for v in value]
    if isinstance(value, slice):
        return {"slice": [encode_attr(v) for v in (value.start, value.stop, value.step)]}
    if value is Ellipsis:
        return {"ellipsis": None}
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return {"dtype": np.dtype(value).name}
    if isinstance(value, np.generic):
        return {"scalar": {"value": value.item(), "dtype": value.dtype.name}}
    if isinstance(value, np.ndarray):
        return {
            "ndarray": {"data": value.tolist(), "dtype": value.dtype.name, "shape": value.shape}
        }
    raise GraphError(f"cannot write an attr of type {type(value).__name__}: {value!r}")


def decode_attr(data: Any) -> Any:
    """The attr value `encode_attr` wrote."""
    if isinstance(data, list):
        return [decode_attr(v) for v in data]
    if not isinstance(data, dict):
        return data
    if len(data) != 1:
        raise GraphError(f"an attr tag has one key, got {sorted(data)}")
    ((tag, body),) = data.items()
    if tag == "tuple":
        return tuple(decode_attr(v) for v in body)
    if tag == "slice":
        return slice(*(decode_attr(v) for v in body))
    if tag == "ellipsis":
        return Ellipsis
    if tag == "dtype":
        return np.dtype(body)
    if tag == "scalar":
        return np.dtype(body["dtype"]).type(body["value"])
    if tag == "ndarray":
        return np.array(body["data"], dtype=body["dtype"]).reshape(body["shape"])
    raise GraphError(f"unknown attr tag {tag!r}")


def _ref_json(ref: Ref) -> dict[str, Any]:
    if isinstance(ref, Input):
        return {"input": ref.index}
    if isinstance(ref, NodeOutput):
        return {"node": ref.node, "output": ref.output}
    return {"var" if isinstance(ref, Var) else "const": ref.name}


def _ref_from_json(data: dict[str, Any]) -> Ref:
    if "input" in data:
        return Input(int(data["input"]))
    if "node" in data:
        return NodeOutput(int(data["node"]), int(data.get("output", 0)))
    if "var" in data:
        return Var(data["var"])
    if "const" in data:
        return Const(data["const"])
    raise GraphError(f"not a reference: {data!r}")


def _spec_json(spec: TensorSpec) -> dict[str, Any]:
    out = {"name": spec.name} if spec.name is not None else {}
    return out | {"shape": list(spec.shape), "dtype": spec.dtype.name}


def _spec_from_json(data: dict[str, Any]) -> TensorSpec:
    return TensorSpec(data["shape"], data["dtype"], data.get("name"))

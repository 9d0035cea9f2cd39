"""Runs one subgraph: prepares every node once, plans memory, then invokes a flat step list.

`allocate()` resolves shapes node by node (each kernel's `prepare`), computes ahead of time
every node whose inputs are all known (constants, SHAPE of a static tensor, DEQUANTIZE of
float16 weights, DENSIFY of sparse weights ...), places the remaining tensors in one arena
(planner.py) and builds the steps.  `invoke()` is then one loop over (eval, data, inputs,
outputs) with every array already in place: it allocates nothing proportional to the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from emberlite.errors import EmberliteError
from emberlite.interpreter.planner import ARENA_ALIGNMENT, Allocation, plan_arena
from emberlite.interpreter.registry import Eval, KernelError, NodeContext, TensorInfo, lookup
from emberlite.schema import Model, Operator, Tensor


class UnsupportedOpError(EmberliteError, RuntimeError):
    """The model uses ops that no kernel is registered for."""


@dataclass(frozen=True, slots=True)
class Step:
    """One node of the invoke plan."""

    node: int
    op_name: str
    eval: Eval
    data: Any
    inputs: tuple[np.ndarray | None, ...]
    outputs: tuple[np.ndarray, ...]  # the node's outputs, then its scratch buffers


class SubgraphExecutor:
    def __init__(self, model: Model, subgraph_index: int = 0, preserve_all_tensors: bool = False):
        self.model = model
        self.index = subgraph_index
        self.subgraph = model.subgraphs[subgraph_index]
        self.preserve_all_tensors = preserve_all_tensors
        self.input_shapes: dict[int, tuple[int, ...]] = {
            i: self.subgraph.tensors[i].shape for i in self.subgraph.inputs
        }
        self.arrays: list[np.ndarray | None] = [None] * len(self.subgraph.tensors)
        self.infos: list[TensorInfo | None] = [None] * len(self.subgraph.tensors)
        self.steps: tuple[Step, ...] = ()
        self._calls: tuple[tuple, ...] = ()  # the steps as plain tuples: the invoke loop's diet
        self.arena_size = 0
        self.allocated = False

    # -- prepare --------------------------------------------------------------------------------

    def allocate(self) -> None:
        """Prepare every node for the current input shapes and place all tensors."""
        self.allocated = False
        tensors = self.subgraph.tensors
        infos: list[TensorInfo | None] = [None] * len(tensors)
        values: dict[int, np.ndarray] = {}
        for i, t in enumerate(tensors):
            constant = self.model.constant(t)
            if constant is not None and not t.is_variable:
                values[i] = constant
                infos[i] = TensorInfo(
                    i,
                    t,
                    tuple(constant.shape) if t.sparsity is None else t.shape,
                    _dtype(t),
                    constant,
                )
        # A zero-element tensor that no node computes is a constant too, though its buffer is empty.
        produced = {o for op in self.subgraph.operators for o in op.outputs} | set(
            self.subgraph.inputs
        )
        for i, t in enumerate(tensors):
            if infos[i] is None and i not in produced and not t.is_variable and 0 in t.shape:
                values[i] = np.empty(t.shape, _dtype(t))
                infos[i] = TensorInfo(i, t, t.shape, _dtype(t), values[i])
        for i in self.subgraph.inputs:
            infos[i] = TensorInfo(i, tensors[i], self.input_shapes[i], _dtype(tensors[i]))
        for i, t in enumerate(tensors):
            if t.is_variable:
                infos[i] = TensorInfo(i, t, t.shape, _dtype(t))

        kernels = self._kernels()
        pending: list[tuple[int, Operator, Any, Any]] = []  # (node, op, kernel, plan)
        for n, op in enumerate(self.subgraph.operators):
            kernel = kernels[n]
            ctx = self._context(n, op, infos)
            plan = kernel.prepare(ctx)
            if len(plan.output_shapes) != len(op.outputs):
                raise ctx.fail(
                    f"produces {len(plan.output_shapes)} outputs; the model lists {len(op.outputs)}"
                )
            for o, shape in zip(op.outputs, plan.output_shapes, strict=True):
                infos[o] = TensorInfo(
                    o, tensors[o], tuple(int(d) for d in shape), _dtype(tensors[o])
                )
            known = all(i < 0 or infos[i].value is not None for i in op.inputs)
            if kernel.foldable and (known or plan.folds):
                self._fold(ctx, kernel, plan, op, infos, values)
            else:
                pending.append((n, op, kernel, plan))

        for i in self.subgraph.outputs:
            if infos[i] is None:
                raise EmberliteError(
                    f"subgraph {self.index}: output tensor {i} "
                    f"({tensors[i].name!r}) is never computed"
                )
        self._place(infos, values, pending)
        self.infos = infos
        self.allocated = True

    def _kernels(self) -> list[Any]:
        found, missing = [], []
        for n, op in enumerate(self.subgraph.operators):
            name = self.model.op_name(op)
            kernel = lookup(name)
            found.append(kernel)
            if kernel is None:
                missing.append(f"{name} (node {n})")
        if missing:
            raise UnsupportedOpError(
                f"{self.model.source}: no kernel for {len(missing)} "
                f"node(s): {', '.join(missing[:10])}" + (" ..." if len(missing) > 10 else "")
            )
        return found

    def _context(self, n: int, op: Operator, infos: list[TensorInfo | None]) -> NodeContext:
        ins = []
        for i in op.inputs:
            if i >= 0 and infos[i] is None:
                raise KernelError(
                    f"node {n} ({self.model.op_name(op)}): input tensor {i} "
                    f"({self.subgraph.tensors[i].name!r}) is used before any node computes it"
                )
            ins.append(None if i < 0 else infos[i])
        outs = tuple(
            TensorInfo(
                o,
                self.subgraph.tensors[o],
                self.subgraph.tensors[o].shape,
                _dtype(self.subgraph.tensors[o]),
            )
            for o in op.outputs
        )
        return NodeContext(
            n,
            self.model.op_name(op),
            op.builtin_options or op.builtin_options_2,
            op.custom_options,
            tuple(ins),
            outs,
        )

    def _fold(self, ctx, kernel, plan, op, infos, values) -> None:
        """Run a node now, at prepare time, and make its outputs constants."""
        outs = [np.empty(infos[o].shape, infos[o].dtype) for o in op.outputs]
        scratch = [np.empty(shape, dtype) for shape, dtype in plan.scratch]
        kernel.eval(
            plan.data, [None if i < 0 else infos[i].value for i in op.inputs], outs + scratch
        )
        for o, array in zip(op.outputs, outs, strict=True):
            array.flags.writeable = False
            values[o] = array
            infos[o] = TensorInfo(o, infos[o].tensor, infos[o].shape, infos[o].dtype, array)

    def _place(self, infos, values, pending) -> None:
        """Lifetimes -> arena offsets -> array views; then the step list."""
        end = len(pending)
        first: dict[int, int] = {}
        last: dict[int, int] = {}
        for i in self.subgraph.inputs:
            first[i], last[i] = 0, end
        for i, info in enumerate(infos):
            if info is not None and info.tensor.is_variable:
                first[i], last[i] = 0, end
        for step, (_, op, _, _) in enumerate(pending):
            for o in op.outputs:
                first.setdefault(o, step)
                last[o] = max(last.get(o, step), step)
            for i in op.inputs:
                if i >= 0 and i not in values:
                    last[i] = max(last.get(i, step), step)
        for i in self.subgraph.outputs:
            if i not in values:
                last[i] = end
        if self.preserve_all_tensors:
            first = dict.fromkeys(first, 0)
            last = dict.fromkeys(last, end)

        tensor_allocations = [
            Allocation(i, _nbytes(infos[i].shape, infos[i].dtype), first[i], last[i]) for i in first
        ]
        # Scratch buffers live for their node's step only; keys past the tensor indices name them.
        scratch_allocations: list[list[Allocation]] = []
        key = len(infos)
        for step, (_, _, _, plan) in enumerate(pending):
            node_scratch = []
            for shape, dtype in plan.scratch:
                node_scratch.append(Allocation(key, _nbytes(shape, np.dtype(dtype)), step, step))
                key += 1
            scratch_allocations.append(node_scratch)
        offsets, self.arena_size = plan_arena(
            tensor_allocations + [a for node in scratch_allocations for a in node]
        )
        raw = np.empty(self.arena_size + ARENA_ALIGNMENT, np.uint8)
        arena = raw[-raw.ctypes.data % ARENA_ALIGNMENT :][: self.arena_size]

        def view(a: Allocation, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
            return arena[offsets[a.key] : offsets[a.key] + a.size].view(dtype).reshape(shape)

        arrays: list[np.ndarray | None] = [None] * len(infos)
        for i, array in values.items():
            arrays[i] = array
        for a in tensor_allocations:
            info = infos[a.key]
            arrays[a.key] = view(a, info.shape, info.dtype)
            if info.tensor.is_variable:
                self._reset_variable(a.key, arrays[a.key])
        self.arrays = arrays
        self.steps = tuple(
            Step(
                n,
                self.model.op_name(op),
                kernel.eval,
                plan.data,
                tuple(None if i < 0 else arrays[i] for i in op.inputs),
                tuple(arrays[o] for o in op.outputs)
                + tuple(
                    view(a, tuple(shape), dtype)
                    for a, (shape, dtype) in zip(node_scratch, plan.scratch, strict=True)
                ),
            )
            for (n, op, kernel, plan), node_scratch in zip(
                pending, scratch_allocations, strict=True
            )
        )
        self._calls = tuple((s.eval, s.data, s.inputs, s.outputs) for s in self.steps)

    def _reset_variable(self, index: int, array: np.ndarray) -> None:
        initial = self.model.constant(self.subgraph.tensors[index])
        array[...] = 0 if initial is None else initial

    def reset_variables(self) -> None:
        for i, t in enumerate(self.subgraph.tensors):
            if t.is_variable and self.arrays[i] is not None:
                self._reset_variable(i, self.arrays[i])

    # -- invoke ---------------------------------------------------------------------------------

    def invoke(self) -> None:
        for run, data, ins, outs in self._calls:
            run(data, ins, outs)


def _dtype(t: Tensor) -> np.dtype:
    dtype = t.numpy_dtype
    if dtype is None:
        raise EmberliteError(
            f"tensor {t.name!r}: type {t.type_name} is not supported by the interpreter"
        )
    return dtype


def _nbytes(shape: tuple[int, ...], dtype: np.dtype) -> int:
    return int(np.prod(shape, dtype=np.int64)) * dtype.itemsize

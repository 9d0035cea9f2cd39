"""The parity rule: how close emberlite's numbers must be to LiteRT's, and the comparison.

Float tensors: |ours - ref| <= max(ATOL, RTOL * |ref|) element-wise against LiteRT's builtin
kernels (DESIGN: 1e-4 relative, 1e-5 absolute floor); integer tensors: exactly equal.
Deep float models drift further than 1e-4 even between LiteRT's own CPU paths.  So for each
output, LiteRT's XNNPACK path is measured against its builtin kernels on the same inputs; where
that drift breaks the rule, the output's bar is twice the drift instead of 1e-4: emberlite may
be no further from the builtin kernels than twice LiteRT's own other path is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

RTOL = 1e-4
ATOL = 1e-5

# Custom ops that LiteRT provides only through its default XNNPACK delegate.
XNNPACK_ONLY_OPS = frozenset({"Convolution2DTransposeBias"})


@dataclass(frozen=True, slots=True)
class Difference:
    """How far one array is from its reference."""

    max_abs: float
    max_rel: float  # max |ours - ref| / max(|ref|, ATOL / RTOL): relative, with the floor
    mismatched: int  # elements outside the 1e-4 rule (for integers: not equal)
    size: int
    exact: bool = False  # integers: only equality counts

    @property
    def ok(self) -> bool:
        """Within the 1e-4 rule."""
        return self.mismatched == 0


def difference(ours: np.ndarray, ref: np.ndarray) -> Difference:
    """Compare `ours` with `ref` (same shape) under the parity rule."""
    ours, ref = np.asarray(ours), np.asarray(ref)
    if ours.shape != ref.shape:
        raise ValueError(f"shapes differ: {list(ours.shape)} vs reference {list(ref.shape)}")
    exact = not np.issubdtype(ref.dtype, np.floating)
    if ours.size == 0:
        return Difference(0.0, 0.0, 0, 0, exact)
    if exact:
        err = np.abs(ours.astype(np.int64) - ref.astype(np.int64))
        return Difference(
            float(err.max()), float(err.max()), int(np.count_nonzero(err)), ref.size, True
        )
    a, b = ours.astype(np.float64), ref.astype(np.float64)
    err = np.abs(a - b)
    same_special = (np.isnan(a) & np.isnan(b)) | (a == b)  # equal infinities, both NaN
    err = np.where(same_special, 0.0, np.where(np.isnan(err), np.inf, err))
    allowed = np.maximum(ATOL, RTOL * np.abs(b))
    rel = err / np.maximum(np.abs(b), ATOL / RTOL)
    return Difference(
        float(err.max()), float(rel.max()), int(np.count_nonzero(err > allowed)), ref.size
    )


def parity_bar(drift: float | None) -> float:
    """The max relative error allowed, given LiteRT's own XNNPACK drift (None: unmeasured)."""
    return RTOL if drift is None or drift <= RTOL else 2 * drift


@dataclass(frozen=True, slots=True)
class TensorParity:
    """One tensor of the model compared with the reference."""

    index: int
    name: str
    producer: str  # "CONV_2D (node 12)", or "input" / "constant"
    diff: Difference
    drift: float | None = None  # LiteRT XNNPACK vs builtin max_rel, measured for outputs

    @property
    def bar(self) -> float:
        return parity_bar(self.drift)

    @property
    def ok(self) -> bool:
        if self.diff.ok:
            return True
        return not self.diff.exact and self.diff.max_rel <= self.bar


@dataclass(frozen=True, slots=True)
class ParityReport:
    reference: str  # which LiteRT path was the reference
    outputs: tuple[TensorParity, ...]
    intermediates: tuple[TensorParity, ...]  # in execution order; empty unless asked for

    @property
    def first_divergent(self) -> TensorParity | None:
        """The earliest tensor in execution order that breaks the 1e-4 rule: where to look."""
        for t in self.intermediates or self.outputs:
            if not t.diff.ok:
                return t
        return None

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.outputs)


def needs_xnnpack(model: Any) -> bool:
    """Whether the model uses custom ops only LiteRT's default (XNNPACK) path provides."""
    return any(code.name in XNNPACK_ONLY_OPS for code in model.operator_codes)


def run_parity(
    content: bytes,
    inputs: list[np.ndarray] | None = None,
    seed: int = 0,
    intermediates: bool = False,
) -> ParityReport:
    """Run emberlite and LiteRT on the same inputs; compare outputs (and intermediates)."""
    from emberlite.interpreter import Interpreter
    from emberlite.reference import invoke_once, litert, random_inputs
    from emberlite.schema import read_model

    model = read_model(content)
    lite = litert()
    xnnpack_only = needs_xnnpack(model)

    def litert_run(builtin: bool, preserve: bool = False) -> Any:
        kwargs = {}
        if builtin:
            kwargs["experimental_op_resolver_type"] = (
                lite.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
            )
        return lite.Interpreter(
            model_content=content,
            num_threads=1,
            experimental_preserve_all_tensors=preserve,
            **kwargs,
        )

    theirs = litert_run(builtin=not xnnpack_only, preserve=intermediates and not xnnpack_only)
    ours = Interpreter(model_content=content, experimental_preserve_all_tensors=intermediates)
    feeds = inputs if inputs is not None else random_inputs(theirs.get_input_details(), seed)
    expected = invoke_once(theirs, feeds)
    invoke_once(ours, feeds)
    drifts: list[float | None] = [None] * len(expected)
    if not xnnpack_only:
        other = invoke_once(litert_run(builtin=False), feeds)
        drifts = [difference(x, e).max_rel for x, e in zip(other, expected, strict=True)]

    sg = model.subgraphs[0]
    producers = {
        o: f"{model.op_name(op)} (node {n})"
        for n, op in enumerate(sg.operators)
        for o in op.outputs
    }

    def compare(index: int, drift: float | None = None) -> TensorParity:
        producer = producers.get(index, "input" if index in sg.inputs else "constant")
        diff = difference(ours.get_tensor(index), theirs.get_tensor(index))
        return TensorParity(index, sg.tensors[index].name, producer, diff, drift)

    middle: tuple[TensorParity, ...] = ()
    if intermediates and not xnnpack_only:
        middle = tuple(compare(o) for op in sg.operators for o in op.outputs)
    reference = "LiteRT default path (XNNPACK)" if xnnpack_only else "LiteRT builtin kernels"
    return ParityReport(
        reference, tuple(compare(i, d) for i, d in zip(sg.outputs, drifts, strict=True)), middle
    )

"""The parity rule: how close emberlite's numbers must be to LiteRT's.

float outputs: |ours - ref| <= max(ATOL, RTOL * |ref|) element-wise (DESIGN: 1e-4 relative,
1e-5 absolute floor); integer outputs: exactly equal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RTOL = 1e-4
ATOL = 1e-5


@dataclass(frozen=True, slots=True)
class Difference:
    """How far one array is from its reference."""

    max_abs: float
    max_rel: float  # max |ours - ref| / max(|ref|, ATOL / RTOL): relative, with the floor
    mismatched: int  # elements outside the rule
    size: int

    @property
    def ok(self) -> bool:
        return self.mismatched == 0


def difference(
    ours: np.ndarray, ref: np.ndarray, rtol: float = RTOL, atol: float = ATOL
) -> Difference:
    """Compare `ours` with `ref` (same shape) under the parity rule."""
    ours, ref = np.asarray(ours), np.asarray(ref)
    if ours.shape != ref.shape:
        raise ValueError(f"shapes differ: {list(ours.shape)} vs reference {list(ref.shape)}")
    if ours.size == 0:
        return Difference(0.0, 0.0, 0, 0)
    if not np.issubdtype(ref.dtype, np.floating):
        wrong = int(np.count_nonzero(ours != ref))
        err = np.abs(ours.astype(np.int64) - ref.astype(np.int64))
        return Difference(float(err.max()), float(err.max()), wrong, ref.size)
    a, b = ours.astype(np.float64), ref.astype(np.float64)
    err = np.abs(a - b)
    same_special = (np.isnan(a) & np.isnan(b)) | (a == b)  # equal infinities, both NaN
    err = np.where(same_special, 0.0, np.where(np.isnan(err), np.inf, err))
    scale = np.maximum(np.abs(b), atol / rtol)
    rel = err / scale
    return Difference(
        float(err.max()),
        float(rel.max()),
        int(np.count_nonzero(err > np.maximum(atol, rtol * np.abs(b)))),
        ref.size,
    )


@dataclass(frozen=True, slots=True)
class TensorParity:
    """One tensor of the model compared with the reference."""

    index: int
    name: str
    producer: str  # "CONV_2D (node 12)", or "input" / "constant"
    diff: Difference


@dataclass(frozen=True, slots=True)
class ParityReport:
    reference: str  # which LiteRT path was the reference
    outputs: tuple[TensorParity, ...]
    intermediates: tuple[TensorParity, ...]  # in execution order; empty unless asked for

    @property
    def first_divergent(self) -> TensorParity | None:
        """The earliest tensor in execution order that breaks the rule: where to look."""
        for t in self.intermediates or self.outputs:
            if not t.diff.ok:
                return t
        return None

    @property
    def ok(self) -> bool:
        return all(t.diff.ok for t in self.outputs)


def needs_xnnpack(model) -> bool:
    """Whether the model uses custom ops only LiteRT's default (XNNPACK) path provides."""
    return any(code.name in XNNPACK_ONLY_OPS for code in model.operator_codes)


# Custom ops that LiteRT provides only through its default XNNPACK delegate.
XNNPACK_ONLY_OPS = frozenset({"Convolution2DTransposeBias"})


def run_parity(
    content: bytes,
    inputs: list[np.ndarray] | None = None,
    seed: int = 0,
    intermediates: bool = False,
    num_threads: int = 1,
) -> ParityReport:
    """Run emberlite and LiteRT on the same inputs; compare outputs (and intermediates)."""
    from emberlite.interpreter import Interpreter
    from emberlite.reference import invoke_once, litert, random_inputs
    from emberlite.schema import read_model

    model = read_model(content)
    lite = litert()
    xnnpack = needs_xnnpack(model)
    kwargs = (
        {}
        if xnnpack
        else {
            "experimental_op_resolver_type": lite.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        }
    )
    # NOTE: preserving all tensors makes LiteRT drop its default delegate, so only when asked.
    theirs = lite.Interpreter(
        model_content=content,
        num_threads=num_threads,
        experimental_preserve_all_tensors=intermediates and not xnnpack,
        **kwargs,
    )
    ours = Interpreter(
        model_content=content,
        num_threads=num_threads,
        experimental_preserve_all_tensors=intermediates,
    )
    feeds = inputs if inputs is not None else random_inputs(theirs.get_input_details(), seed)
    for interp in (theirs, ours):
        invoke_once(interp, feeds)

    sg = model.subgraphs[0]
    producers = {
        o: f"{model.op_name(op)} (node {n})"
        for n, op in enumerate(sg.operators)
        for o in op.outputs
    }

    def compare(index: int) -> TensorParity:
        name = sg.tensors[index].name
        producer = producers.get(index, "input" if index in sg.inputs else "constant")
        return TensorParity(
            index, name, producer, difference(ours.get_tensor(index), theirs.get_tensor(index))
        )

    middle = ()
    if intermediates and not xnnpack:
        order = [o for op in sg.operators for o in op.outputs]
        middle = tuple(compare(i) for i in order)
    reference = "LiteRT default path (XNNPACK)" if xnnpack else "LiteRT builtin kernels"
    return ParityReport(reference, tuple(compare(i) for i in sg.outputs), middle)

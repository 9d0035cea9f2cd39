"""GradientTape: records ops while it is active and differentiates through them.

The tape is a list of the ops that ran, in order, while it was recording and touched a
watched tensor (or a result of one).  `gradient` walks that list backwards, which is a
reverse topological order because ops ran in order: deterministic and iterative, no
recursion.  Gradient rules are themselves ops, so a tape that is recording while another
computes gradients records the backward pass too: nested tapes give higher derivatives.
"""

from __future__ import annotations

import contextlib
import enum
import threading
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from emberlite.errors import EmberliteError


class UnconnectedGradients(enum.Enum):
    NONE = "none"
    ZERO = "zero"


class GradientError(EmberliteError, RuntimeError):
    """A gradient cannot be computed (finished tape, integer target, ...)."""


@dataclass(frozen=True, slots=True)
class TapeEntry:
    """One recorded op: what the gradient rule gets as `op`."""

    prim: Any
    inputs: tuple  # Tensors (a Variable only as the input of its read op)
    outputs: tuple
    attrs: dict


_local = threading.local()


def _active() -> list[GradientTape]:
    return _local.__dict__.setdefault("tapes", [])


def record(prim: Any, inputs: Sequence[Any], outputs: Sequence[Any], attrs: dict) -> None:
    """Called by every differentiable op: each recording tape keeps it if it is connected."""
    tapes = _active()
    if not tapes:
        return
    from emberlite.trainer.tensor import Variable

    entry = None
    for tape in tapes:
        if not tape._recording:
            continue
        if tape._watch_accessed_variables:
            for x in inputs:
                if isinstance(x, Variable) and x.trainable:
                    tape.watch(x)
        if any(id(x) in tape._tracked for x in inputs):
            entry = entry or TapeEntry(prim, tuple(inputs), tuple(outputs), attrs)
            tape._entries.append(entry)
            tape._tracked.update((id(o), o) for o in outputs)


class GradientTape:
    """Records ops for automatic differentiation, as tf.GradientTape does.

    Args:
        persistent: allow more than one `gradient`/`jacobian` call (the recording is kept
            until the tape is garbage collected).
        watch_accessed_variables: watch every trainable Variable an op reads.
    """

    def __init__(self, persistent: bool = False, watch_accessed_variables: bool = True):
        self._persistent = persistent
        self._watch_accessed_variables = watch_accessed_variables
        self._entries: list[TapeEntry] = []
        # id -> tensor: the watched tensors and every result computed from them (kept alive
        # so ids stay unique while the tape holds them).
        self._tracked: dict[int, Any] = {}
        self._variables: dict[int, Any] = {}  # watched variables, in the order first watched
        self._recording = False
        self._used = False

    def __enter__(self) -> GradientTape:
        self._recording = True
        _active().append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self._recording = False
        _active().remove(self)

    def watch(self, tensor: Any) -> None:
        """Track `tensor` (or a nested list of tensors) so gradients with respect to it exist."""
        from emberlite.trainer.tensor import Tensor, Variable

        for t in _flatten(tensor):
            if not isinstance(t, Tensor):
                raise GradientError(
                    f"GradientTape.watch takes tensors or variables, got {type(t).__name__}"
                )
            if t.dtype.kind != "f":
                warnings.warn(
                    "The dtype of the watched tensor must be floating (e.g. float32), "
                    f"got {t.dtype.name}",
                    stacklevel=2,
                )
            self._tracked[id(t)] = t
            if isinstance(t, Variable):
                self._variables.setdefault(id(t), t)

    def watched_variables(self) -> list[Any]:
        """The variables this tape watched, explicitly or by their use, in that order."""
        return list(self._variables.values())

    @contextlib.contextmanager
    def stop_recording(self) -> Iterator[None]:
        """Ops inside the block are not recorded by this tape."""
        if not self._recording:
            raise GradientError("Tape.stop_recording can only be used while the tape is recording")
        self._recording = False
        try:
            yield
        finally:
            self._recording = True

    def reset(self) -> None:
        """Forget everything recorded so far (the tape stays active)."""
        self._entries.clear()
        self._tracked.clear()
        self._variables.clear()

    def gradient(
        self,
        target: Any,
        sources: Any,
        output_gradients: Any = None,
        unconnected_gradients: UnconnectedGradients | str = UnconnectedGradients.NONE,
    ) -> Any:
        """d(sum of target)/d(source) for each source, in the structure `sources` has.

        A source that the target does not depend on gets None (or zeros with
        unconnected_gradients="zero").  Several targets are summed, as in TensorFlow.
        """
        from emberlite.trainer.ops import math_ops

        if self._used and not self._persistent:
            raise GradientError(
                "A non-persistent GradientTape can only be used to compute one set of gradients "
                "(or jacobians); create it with persistent=True to call gradient() again"
            )
        self._used = True
        unconnected = UnconnectedGradients(unconnected_gradients)
        targets = _flatten(target)
        seeds = [None] * len(targets) if output_gradients is None else _flatten(output_gradients)
        grads: dict[int, Any] = {}
        was_recording, self._recording = self._recording, False  # our own backward stays off us
        try:
            for t, seed in zip(targets, seeds, strict=True):
                if t.dtype.kind != "f":
                    raise GradientError(
                        f"The target of a gradient must be floating, got {t.dtype.name}"
                    )
                _accumulate(grads, id(t), math_ops.ones_like(t) if seed is None else seed)
            for entry in reversed(self._entries):
                upstream = [grads.get(id(o)) for o in entry.outputs]
                if all(g is None for g in upstream):
                    continue
                if entry.prim.gradient is None:
                    raise GradientError(f"no gradient is defined for op {entry.prim.name}")
                upstream = [
                    math_ops.zeros_like(o) if g is None else g
                    for o, g in zip(entry.outputs, upstream, strict=True)
                ]
                for x, g in zip(entry.inputs, entry.prim.gradient(entry, *upstream), strict=True):
                    if g is not None:
                        if g.dtype != x.dtype and x.dtype.kind == "f":
                            # NOTE: a mixed-dtype op (float32 * float64 -> float64) sends the
                            # wider gradient back; each input gets it in its own dtype.
                            g = math_ops.cast(g, x.dtype)
                        _accumulate(grads, id(x), g)
        finally:
            self._recording = was_recording
        if not self._persistent:
            self._entries, self._tracked = [], {}
        return _restructure(sources, [_result(grads, s, unconnected) for s in _flatten(sources)])

    def jacobian(self, target: Any, source: Any) -> Any:
        """d target[i...] / d source[j...], shaped target.shape + source.shape.

        Computed one target element at a time, so the tape is kept for the whole call.
        """
        from emberlite.trainer.ops import array_ops, math_ops

        persistent, self._persistent = self._persistent, True
        try:
            rows = []
            for i in np.ndindex(*target.shape):
                seed = np.zeros(target.shape, target.dtype)
                seed[i] = 1
                rows.append(
                    self.gradient(
                        target,
                        source,
                        output_gradients=math_ops.constant_like(seed, target),
                        unconnected_gradients=UnconnectedGradients.ZERO,
                    )
                )
        finally:
            self._persistent = persistent
        return array_ops.reshape(array_ops.stack(rows), tuple(target.shape) + tuple(source.shape))


def _accumulate(grads: dict[int, Any], key: int, g: Any) -> None:
    grads[key] = g if key not in grads else grads[key] + g


def _result(grads: dict[int, Any], source: Any, unconnected: UnconnectedGradients) -> Any:
    from emberlite.trainer.ops import math_ops

    if source.dtype.kind != "f":
        warnings.warn(
            f"The dtype of the source tensor must be floating, got {source.dtype.name}",
            stacklevel=3,
        )
        return None
    g = grads.get(id(source))
    if g is None and unconnected is UnconnectedGradients.ZERO:
        return math_ops.zeros_like(source)
    return g


def _flatten(x: Any) -> list[Any]:
    if isinstance(x, list | tuple):
        return [y for item in x for y in _flatten(item)]
    if isinstance(x, dict):
        return [y for key in sorted(x) for y in _flatten(x[key])]
    return [x]


def _restructure(template: Any, flat: list[Any]) -> Any:
    it = iter(flat)

    def build(t: Any) -> Any:
        if isinstance(t, list | tuple):
            return type(t)(build(x) for x in t)
        if isinstance(t, dict):
            return {k: build(t[k]) for k in sorted(t)}
        return next(it)

    return build(template)

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

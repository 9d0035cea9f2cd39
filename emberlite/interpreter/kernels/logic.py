"""Comparisons and logical ops: bool outputs, NumPy broadcasting."""

from __future__ import annotations

import numpy as np

from emberlite.interpreter.kernels.common import (
    BOOL,
    NUMERIC,
    prepare_binary,
    prepare_unary,
    ufunc_eval,
)
from emberlite.interpreter.registry import register

for _name, _ufunc in [
    ("LESS", np.less),
    ("LESS_EQUAL", np.less_equal),
    ("GREATER", np.greater),
    ("GREATER_EQUAL", np.greater_equal),
]:
    register(_name, prepare=prepare_binary(NUMERIC, BOOL))(ufunc_eval(_ufunc))
register("EQUAL", prepare=prepare_binary((*NUMERIC, BOOL), BOOL))(ufunc_eval(np.equal))
register("NOT_EQUAL", prepare=prepare_binary((*NUMERIC, BOOL), BOOL))(ufunc_eval(np.not_equal))
register("LOGICAL_AND", prepare=prepare_binary((BOOL,)))(ufunc_eval(np.logical_and))
register("LOGICAL_OR", prepare=prepare_binary((BOOL,)))(ufunc_eval(np.logical_or))
register("LOGICAL_NOT", prepare=prepare_unary((BOOL,)))(ufunc_eval(np.logical_not))

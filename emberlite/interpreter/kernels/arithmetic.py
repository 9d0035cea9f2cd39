"""Binary arithmetic with NumPy broadcasting (and fused activations where TFLite has them)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from emberlite.interpreter.kernels.common import (
    F32,
    I32,
    NUMERIC,
    Activation,
    fused_activation,
    prepare_binary,
    prepare_elementwise,
)
from emberlite.interpreter.registry import KernelError, NodeContext, NodePlan, register


def prepare_arithmetic(ctx: NodeContext) -> NodePlan:
    """ADD, SUB, MUL: `data` is the fused activation."""
    shape, dtype = prepare_elementwise(ctx, NUMERIC)
    return NodePlan((shape,), data=fused_activation(ctx, shape, dtype))


def _binary(ufunc: np.ufunc):
    def run(activation, ins, outs):
        ufunc(ins[0], ins[1], out=outs[0])
        if activation is not None:
            activation(outs[0], outs[0])

    return run


register("ADD", prepare=prepare_arithmetic)(_binary(np.add))
register("SUB", prepare=prepare_arithmetic)(_binary(np.subtract))
register("MUL", prepare=prepare_arithmetic)(_binary(np.multiply))


# -- division -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Division:
    """`check`: the divisor is computed at run time and must be tested for zeros (and, for
    POW, for negative integer exponents); `where` names the node for those run-time errors.
    Integer DIV has scratch, outs[1]: the dividend less its truncated remainder."""

    where: str
    check: bool
    integer: bool
    activation: Activation = None


def _prepare_division(ctx: NodeContext, allowed, fused: bool, zero_check: bool) -> NodePlan:
    """`zero_check`: TFLite refuses to divide by zero (at invoke) rather than give inf/NaN."""
    shape, dtype = prepare_elementwise(ctx, allowed)
    integer = dtype.kind == "i"
    activation = fused_activation(ctx, shape, dtype) if fused else None
    divisor = ctx.input(1).value
    if zero_check and divisor is not None:
        if not divisor.all():
            raise ctx.fail("division by 0 (the divisor is a constant with zeros)")
        zero_check = False
    scratch = ((shape, dtype),) if integer and ctx.op_name == "DIV" else ()
    where = f"node {ctx.index} ({ctx.op_name})"
    return NodePlan((shape,), Division(where, zero_check, integer, activation), scratch)


def _check_divisor(d: Division, divisor: np.ndarray) -> None:
    if d.check and not divisor.all():
        raise KernelError(f"{d.where}: division by 0")


def prepare_div(ctx: NodeContext) -> NodePlan:
    # NOTE: float division by zero gives inf / NaN (clamped to +-FLT_MAX by TFLite's
    # activation range); integer division by zero is an error.
    integer = ctx.input(0).dtype.kind == "i"
    return _prepare_division(ctx, (F32, I32), fused=True, zero_check=integer)


@register("DIV", prepare=prepare_div)
def div(d: Division, ins, outs):
    a, b, out = ins[0], ins[1], outs[0]
    _check_divisor(d, b)
    if d.integer:
        # NOTE: C division truncates toward zero; a - fmod(a, b) is an exact multiple of b.
        exact = outs[1]
        np.fmod(a, b, out=exact)
        np.subtract(a, exact, out=exact)
        np.floor_divide(exact, b, out=out)
    else:
        np.divide(a, b, out=out)
    if d.activation is not None:
        d.activation(out, out)


def prepare_floor_div(ctx: NodeContext) -> NodePlan:
    return _prepare_division(ctx, (F32, I32), fused=False, zero_check=True)


@register("FLOOR_DIV", prepare=prepare_floor_div)
def floor_div(d: Division, ins, outs):
    _check_divisor(d, ins[1])
    if d.integer:
        np.floor_divide(ins[0], ins[1], out=outs[0])
    else:
        # NOTE: TFLite computes floor(a / b); NumPy's float floor_divide works from fmod and
        # can differ from it by one where a / b rounds to an integer.
        np.divide(ins[0], ins[1], out=outs[0])
        np.floor(outs[0], out=outs[0])


def prepare_floor_mod(ctx: NodeContext) -> NodePlan:
    # Floats: x mod 0 is NaN; integers: an error.
    integer = ctx.input(0).dtype.kind == "i"
    return _prepare_division(ctx, NUMERIC, fused=False, zero_check=integer)


@register("FLOOR_MOD", prepare=prepare_floor_mod)
def floor_mod(d: Division, ins, outs):
    # np.remainder is TFLite's floor mod: fmod, moved by b where the signs differ.
    _check_divisor(d, ins[1])
    np.remainder(ins[0], ins[1], out=outs[0])


def prepare_pow(ctx: NodeContext) -> NodePlan:
    shape, dtype = prepare_elementwise(ctx, (F32, I32))
    integer = dtype == I32
    exponent = ctx.input(1).value
    if integer and exponent is not None and (exponent < 0).any():
        raise ctx.fail("integer powers need non-negative exponents")
    check = integer and exponent is None
    return NodePlan((shape,), data=Division(f"node {ctx.index} (POW)", check, integer))


@register("POW", prepare=prepare_pow)
def power(d: Division, ins, outs):
    if d.check and (ins[1] < 0).any():
        raise KernelError(f"{d.where}: integer powers need non-negative exponents")
    np.power(ins[0], ins[1], out=outs[0])


# -- maximum, minimum, squared difference ---------------------------------------------------------


def _prepare_extreme(ctx: NodeContext) -> NodePlan:
    """MAXIMUM / MINIMUM.  `data`: (input index, low, high) when one input is a constant of
    one element and the other, large, has the output's shape: then the op is a clip."""
    shape, dtype = prepare_elementwise(ctx, NUMERIC)
    if math.prod(shape) < 4096:  # np.clip costs 2 us of Python more than np.maximum
        return NodePlan((shape,), None)
    for k in (0, 1):
        value, other = ctx.input(k).value, ctx.input(1 - k)
        if value is not None and value.size == 1 and other.shape == shape:
            info = np.iinfo(dtype) if dtype.kind == "i" else None
            lowest = dtype.type(-np.inf if info is None else info.min)
            highest = dtype.type(np.inf if info is None else info.max)
            bound = dtype.type(value.reshape(()))
            maximum = ctx.op_name == "MAXIMUM"
            return NodePlan((shape,), (1 - k, *((bound, highest) if maximum else (lowest, bound))))
    return NodePlan((shape,), None)


def _extreme(ufunc: np.ufunc):
    # NOTE: np.clip for a constant bound: NumPy's maximum / minimum against a single value
    # run without SIMD, 3 times slower.  np.maximum / np.minimum return NaN where either
    # operand is NaN; TFLite's `a > b ? a : b` returns b when a is NaN.
    def run(clip, ins, outs):
        if clip is None:
            ufunc(ins[0], ins[1], out=outs[0])
        else:
            np.clip(ins[clip[0]], clip[1], clip[2], out=outs[0])

    return run


register("MAXIMUM", prepare=_prepare_extreme)(_extreme(np.maximum))
register("MINIMUM", prepare=_prepare_extreme)(_extreme(np.minimum))


@register("SQUARED_DIFFERENCE", prepare=prepare_binary((F32, I32)))
def squared_difference(data, ins, outs):
    np.subtract(ins[0], ins[1], out=outs[0])
    np.square(outs[0], out=outs[0])

"""Binary arithmetic with NumPy broadcasting (and fused activations where TFLite has them)."""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from dataclasses import dataclass

import numpy as np

from emberlite.interpreter.kernels.common import Activation, broadcast_shape, fused_activation
from emberlite.interpreter.registry import KernelError, NodeContext, NodePlan, register
from emberlite.schema.types import ActivationFunctionType

F32 = np.dtype(np.float32)
I32 = np.dtype(np.int32)
I64 = np.dtype(np.int64)
BOOL = np.dtype(np.bool_)
NUMERIC = (F32, I32, I64)


def input_dtype(ctx: NodeContext, allowed: Collection[np.dtype], *indices: int) -> np.dtype:
    """The dtype the inputs `indices` (default: 0) share, checked against `allowed`.

    Quantized integer tensors fail: their kernels are not written yet.
    """
    infos = [(i, ctx.input(i)) for i in indices or (0,)]
    for i, info in infos:
        q = info.tensor.quantization
        if info.dtype.kind in "iu" and q is not None and q.scale:
            raise ctx.fail(f"input {i} is quantized {info.dtype.name}, which is not supported yet")
        if info.dtype not in allowed:
            names = ", ".join(np.dtype(d).name for d in allowed)
            raise ctx.fail(f"input {i} has type {info.dtype.name}; supported: {names}")
    dtype = infos[0][1].dtype
    if any(info.dtype != dtype for _, info in infos):
        types = ", ".join(info.dtype.name for _, info in infos)
        raise ctx.fail(f"inputs must share one type, got {types}")
    return dtype


def check_output(ctx: NodeContext, dtype: np.dtype, k: int = 0) -> None:
    if ctx.outputs[k].dtype != dtype:
        raise ctx.fail(f"output {k} has type {ctx.outputs[k].dtype.name}; expected {dtype.name}")


def prepare_elementwise(
    ctx: NodeContext, allowed: Collection[np.dtype], out: np.dtype | None = None
) -> tuple[tuple[int, ...], np.dtype]:
    """Two inputs of one allowed type, broadcast: (output shape, input dtype)."""
    ctx.expect_inputs(2)
    dtype = input_dtype(ctx, allowed, 0, 1)
    check_output(ctx, dtype if out is None else out)
    return broadcast_shape(ctx), dtype


def _int_activation(ctx: NodeContext) -> Activation:
    """Fused activations of integer ADD/SUB/MUL/DIV: clamps, as TFLite's activation range."""
    code = ctx.option("fused_activation_function", ActivationFunctionType.NONE)
    bounds = {
        ActivationFunctionType.NONE: None,
        ActivationFunctionType.RELU: (0, None),
        ActivationFunctionType.RELU6: (0, 6),
        ActivationFunctionType.RELU_N1_TO_1: (-1, 1),
    }
    if code not in bounds:
        raise ctx.fail(f"fused activation {code} is not supported for integers")
    if bounds[code] is None:
        return None
    low, high = bounds[code]
    return lambda x: np.clip(x, low, high, out=x)


def _prepare_with_activation(allowed: Collection[np.dtype]) -> Callable[[NodeContext], NodePlan]:
    def prepare(ctx: NodeContext) -> NodePlan:
        shape, dtype = prepare_elementwise(ctx, allowed)
        activation = fused_activation(ctx) if dtype == F32 else _int_activation(ctx)
        return NodePlan((shape,), data=activation)

    return prepare


def _binary(ufunc: np.ufunc):
    def run(activation, ins, outs):
        ufunc(ins[0], ins[1], out=outs[0])
        if activation is not None:
            activation(outs[0])

    return run


prepare_binary = _prepare_with_activation(NUMERIC)
register("ADD", prepare=prepare_binary)(_binary(np.add))
register("SUB", prepare=prepare_binary)(_binary(np.subtract))
register("MUL", prepare=prepare_binary)(_binary(np.multiply))


# -- division -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Division:
    """`check`: the divisor is computed at run time and must be tested for zeros (and, for
    POW, for negative integer exponents); `where` names the node for those run-time errors."""

    where: str
    check: bool
    integer: bool
    activation: Activation = None
    scratch: np.ndarray | None = None  # int DIV: the dividend less its truncated remainder


def _prepare_division(ctx: NodeContext, allowed, fused: bool, zero_check: bool) -> NodePlan:
    """`zero_check`: TFLite refuses to divide by zero (at invoke) rather than give inf/NaN."""
    shape, dtype = prepare_elementwise(ctx, allowed)
    integer = dtype.kind == "i"
    activation = None
    if fused:
        activation = _int_activation(ctx) if integer else fused_activation(ctx)
    divisor = ctx.input(1).value
    if zero_check and divisor is not None:
        if not divisor.all():
            raise ctx.fail("division by 0 (the divisor is a constant with zeros)")
        zero_check = False
    scratch = np.empty(shape, dtype) if integer and ctx.op_name == "DIV" else None
    where = f"node {ctx.index} ({ctx.op_name})"
    return NodePlan((shape,), Division(where, zero_check, integer, activation, scratch))


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
        np.fmod(a, b, out=d.scratch)
        np.subtract(a, d.scratch, out=d.scratch)
        np.floor_divide(d.scratch, b, out=out)
    else:
        np.divide(a, b, out=out)
    if d.activation is not None:
        d.activation(out)


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


def _prepare_plain(allowed: Collection[np.dtype]) -> Callable[[NodeContext], NodePlan]:
    def prepare(ctx: NodeContext) -> NodePlan:
        return NodePlan((prepare_elementwise(ctx, allowed)[0],))

    return prepare


def _plain(ufunc: np.ufunc):
    def run(data, ins, outs):
        ufunc(ins[0], ins[1], out=outs[0])

    return run


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


@register("SQUARED_DIFFERENCE", prepare=_prepare_plain((F32, I32)))
def squared_difference(data, ins, outs):
    np.subtract(ins[0], ins[1], out=outs[0])
    np.square(outs[0], out=outs[0])

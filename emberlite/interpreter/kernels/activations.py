"""Activation functions, SOFTMAX and LOG_SOFTMAX (float32)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from emberlite.interpreter.kernels.common import (
    FLOAT,
    Clamp,
    broadcast_shape,
    check_output,
    clamp,
    input_dtype,
    prepare_float,
)
from emberlite.interpreter.registry import NodeContext, NodePlan, register


def _prepare_clamp(low: float, high: float):
    def prepare(ctx: NodeContext) -> NodePlan:
        plan = prepare_float(ctx)
        return NodePlan(plan.output_shapes, clamp(low, high, math.prod(ctx.input(0).shape)))

    return prepare


def _clamp(fn: Clamp, ins, outs):
    fn(ins[0], outs[0])


register("RELU", prepare=_prepare_clamp(0.0, np.inf))(_clamp)
register("RELU6", prepare=_prepare_clamp(0.0, 6.0))(_clamp)
register("RELU_N1_TO_1", prepare=_prepare_clamp(-1.0, 1.0))(_clamp)
register("RELU_0_TO_1", prepare=_prepare_clamp(0.0, 1.0))(_clamp)


@register("TANH", prepare=prepare_float)
def tanh(data, ins, outs):
    np.tanh(ins[0], out=outs[0])


@register("LOGISTIC", prepare=prepare_float)
def logistic(data, ins, outs):
    out = outs[0]
    np.negative(ins[0], out=out)
    with np.errstate(over="ignore"):  # below x = -88.7: 1 / (1 + inf) = 0, as it should be
        np.exp(out, out=out)
    out += 1.0
    np.divide(1.0, out, out=out)


@register("HARD_SWISH", prepare=_prepare_clamp(0.0, 6.0))
def hard_swish(relu6: Clamp, ins, outs):
    x, out = ins[0], outs[0]
    np.add(x, 3.0, out=out)
    relu6(out, out)
    out *= x
    out /= 6.0


@register("ELU", prepare=_prepare_clamp(-np.inf, 0.0))
def elu(negative_part: Clamp, ins, outs):
    # NOTE: expm1(x) >= x everywhere, so max(expm1(min(x, 0)), x) is x > 0 ? x : expm1(x).
    x, out = ins[0], outs[0]
    negative_part(x, out)
    np.expm1(out, out=out)
    np.maximum(out, x, out=out)


# -- LEAKY_RELU, PRELU ----------------------------------------------------------------------------


def prepare_leaky_relu(ctx: NodeContext) -> NodePlan:
    plan = prepare_float(ctx)
    alpha = float(ctx.option("alpha", 0.0))
    # x > 0 ? x : alpha x is max(x, alpha x) for alpha <= 1 and min(x, alpha x) above 1.
    pick = np.maximum if alpha <= 1 else np.minimum
    return NodePlan(plan.output_shapes, (np.float32(alpha), pick))


@register("LEAKY_RELU", prepare=prepare_leaky_relu)
def leaky_relu(data, ins, outs):
    alpha, pick = data
    np.multiply(ins[0], alpha, out=outs[0])
    pick(outs[0], ins[0], out=outs[0])


@dataclass(frozen=True, slots=True)
class PRelu:
    """`pick`: alpha is a constant with all values <= 1 (np.maximum) or all > 1 (np.minimum),
    so x >= 0 ? x : alpha x is pick(x, alpha x); None: mixed or run-time alpha, with scratch
    outs[1] for alpha min(x, 0)."""

    pick: np.ufunc | None
    negative_part: Clamp
    positive_part: Clamp


def prepare_prelu(ctx: NodeContext) -> NodePlan:
    ctx.expect_inputs(2)
    check_output(ctx, input_dtype(ctx, FLOAT, 0, 1))
    shape = broadcast_shape(ctx)
    if shape != ctx.input(0).shape:
        raise ctx.fail(
            f"alpha of shape {list(ctx.input(1).shape)} does not broadcast to the input's "
            f"shape {list(ctx.input(0).shape)}"
        )
    alpha = ctx.input(1).value
    pick = None
    if alpha is not None and (alpha <= 1).all():
        pick = np.maximum
    elif alpha is not None and (alpha > 1).all():
        pick = np.minimum
    size = math.prod(shape)
    scratch = () if pick else ((shape, np.dtype(np.float32)),)
    data = PRelu(pick, clamp(-np.inf, 0.0, size), clamp(0.0, np.inf, size))
    return NodePlan((shape,), data, scratch)


@register("PRELU", prepare=prepare_prelu)
def prelu(p: PRelu, ins, outs):
    x, alpha, out = ins[0], ins[1], outs[0]
    if p.pick is not None:
        np.multiply(x, alpha, out=out)
        p.pick(out, x, out=out)
        return
    # max(x, 0) + alpha min(x, 0): one of the two terms is exactly 0.
    negative = outs[1]
    p.negative_part(x, negative)
    np.multiply(negative, alpha, out=negative)
    p.positive_part(x, out)
    out += negative


# -- GELU -----------------------------------------------------------------------------------------

# erfc(z) for z >= 0 is t exp(-z^2 + P(y)), t = 2 / (2 + z), y = 2t - 1, with P a Chebyshev
# series (Numerical Recipes, 3rd ed., 6.2.2: Erf::erfccheb).  Its first 13 terms, as a power
# series in y evaluated in float64, give erfc to 6e-9 relative, well below float32's rounding.
_ERFC_CHEBYSHEV = (
    -1.3026537197817094 / 2,  # halved: the series' first term counts half
    6.4196979235649026e-1,
    1.9476473204185836e-2,
    -9.561514786808631e-3,
    -9.46595344482036e-4,
    3.66839497852761e-4,
    4.2523324806907e-5,
    -2.0278578112534e-5,
    -1.624290004647e-6,
    1.303655835580e-6,
    1.5626441722e-8,
    -8.5238095915e-8,
    6.529054439e-9,
)
_ERFC_POWERS = tuple(float(c) for c in np.polynomial.chebyshev.cheb2poly(_ERFC_CHEBYSHEV))
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def prepare_gelu(ctx: NodeContext) -> NodePlan:
    """`data`: exact GELU's relu; None for the tanh approximation.  Exact GELU's float64
    scratch: outs[1] |z|, then z^2; outs[2] y; outs[3] the exponent, then erfc."""
    plan = prepare_float(ctx)
    if ctx.option("approximate", False):
        return NodePlan(plan.output_shapes, None)
    shape = ctx.input(0).shape
    scratch = ((shape, np.dtype(np.float64)),) * 3
    return NodePlan(plan.output_shapes, clamp(0.0, np.inf, math.prod(shape)), scratch)


@register("GELU", prepare=prepare_gelu)
def gelu(relu: Clamp | None, ins, outs):
    x, out = ins[0], outs[0]
    if relu is None:
        # 0.5 x (1 + tanh(sqrt(2 / pi) x (1 + 0.044715 x^2))), in float32 as TFLite does.
        np.multiply(x, x, out=out)
        out *= 0.044715
        out += 1.0
        out *= x
        out *= _SQRT_2_OVER_PI
        np.tanh(out, out=out)
        out += 1.0
        out *= x
        out *= 0.5
        return
    # GELU(x) = 0.5 x erfc(-x / sqrt 2) = max(x, 0) - 0.5 |x| erfc(|x| / sqrt 2).
    # NOTE: z is rounded to float32 first, as TFLite's erfcf(x * -M_SQRT1_2) sees it.
    z, y, e = outs[1:4]
    np.multiply(x, np.float32(math.sqrt(0.5)), out=z)
    np.abs(z, out=z)
    np.add(z, 2.0, out=y)
    np.divide(4.0, y, out=y)
    y -= 1.0
    np.square(z, out=z)
    np.multiply(y, _ERFC_POWERS[-1], out=e)
    for c in _ERFC_POWERS[-2:0:-1]:
        e += c
        e *= y
    e += _ERFC_POWERS[0]
    e -= z
    np.exp(e, out=e)
    y += 1.0  # 2t
    e *= y
    e *= x
    np.abs(e, out=e)
    e *= 0.25
    relu(x, out)
    np.subtract(out, e, out=out)


# -- SOFTMAX, LOG_SOFTMAX -------------------------------------------------------------------------

# NOTE: NumPy reduces along a short last axis one row at a time (2 ms for 64K rows of 2): up
# to this depth, a loop over the columns finds the row maxima faster.
COLUMN_LOOP_DEPTH = 64


@dataclass(frozen=True, slots=True)
class Softmax:
    """`extreme`: the stabilizing shift, the row's max (its min when beta < 0, where beta x is
    largest at the smallest x).  Scratch outs[1], `row` (..., 1), holds it, then the row's sum
    of exponentials (the same memory without the last axis), a product with `ones`; outs[2]:
    LOG_SOFTMAX's exponentials."""

    beta: float
    extreme: np.ufunc
    columns: bool
    ones: np.ndarray


def prepare_softmax(ctx: NodeContext) -> NodePlan:
    plan = prepare_float(ctx)
    shape = ctx.input(0).shape
    if not shape:
        raise ctx.fail("needs an input of rank >= 1")
    f32 = np.dtype(np.float32)
    scratch = [((*shape[:-1], 1), f32)]
    if ctx.op_name == "SOFTMAX":
        beta = float(ctx.option("beta", 0.0))  # the schema default, as TFLite reads it
    else:
        beta = 1.0
        scratch.append((shape, f32))
    data = Softmax(
        beta,
        np.maximum if beta >= 0 else np.minimum,
        shape[-1] <= COLUMN_LOOP_DEPTH,
        np.ones(shape[-1], np.float32),
    )
    return NodePlan(plan.output_shapes, data, tuple(scratch))


def _shift(s: Softmax, x: np.ndarray, out: np.ndarray, row: np.ndarray) -> None:
    """out = x - its row's max (min), which `row` keeps."""
    if s.columns:
        np.copyto(row, x[..., :1])
        for c in range(1, x.shape[-1]):
            s.extreme(row, x[..., c : c + 1], out=row)
    else:
        s.extreme.reduce(x, axis=-1, keepdims=True, out=row)
    np.subtract(x, row, out=out)


@register("SOFTMAX", prepare=prepare_softmax)
def softmax(s: Softmax, ins, outs):
    out, row = outs[0], outs[1]
    _shift(s, ins[0], out, row)
    if s.beta != 1.0:
        out *= s.beta
    np.exp(out, out=out)
    np.matmul(out, s.ones, out=row[..., 0])
    out /= row


@register("LOG_SOFTMAX", prepare=prepare_softmax)
def log_softmax(s: Softmax, ins, outs):
    out, row, full = outs[0], outs[1], outs[2]
    _shift(s, ins[0], out, row)
    np.exp(out, out=full)
    np.matmul(full, s.ones, out=row[..., 0])
    np.log(row, out=row)
    out -= row

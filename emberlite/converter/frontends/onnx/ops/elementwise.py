"""Elementwise ops: unary math, broadcasting binary arithmetic, activations, Cast.

Elementwise ops keep their input's axis order (an NHWC tensor stays NHWC); binary ops bring
every operand to the order of the first run-time operand of full rank.  Activations TFLite
lacks (Erf, Softplus, Elu with alpha != 1) become short chains of builtin ops.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx import helper

from emberlite.converter.frontends.onnx import layout
from emberlite.converter.frontends.onnx.context import OnnxNode, Unsupported, Value, known_value
from emberlite.converter.frontends.onnx.layout import Perm
from emberlite.converter.frontends.onnx.ops.registry import lowers

UNARY = {
    "Relu": "RELU",
    "Sigmoid": "LOGISTIC",
    "Tanh": "TANH",
    "Exp": "EXP",
    "Sqrt": "SQRT",
    "HardSwish": "HARD_SWISH",
    "Neg": "NEG",
    "Abs": "ABS",
    "Log": "LOG",
    "Floor": "FLOOR",
    "Ceil": "CEIL",
    "Sin": "SIN",
    "Cos": "COS",
    "Sign": "SIGN",
}
BINARY = {
    "Add": "ADD",
    "Sub": "SUB",
    "Mul": "MUL",
    "Div": "DIV",
    "Pow": "POW",
    "PRelu": "PRELU",
    # variadic: folded pairwise
    "Sum": "ADD",
    "Max": "MAXIMUM",
    "Min": "MINIMUM",
}
# Clip bounds TFLite has an activation op for (fuse_activation folds them into the producer).
CLIP_OPS = {(0.0, 6.0): "RELU6", (-1.0, 1.0): "RELU_N1_TO_1", (0.0, np.inf): "RELU"}
CLIP_OPS[(0.0, 1.0)] = "RELU_0_TO_1"
# Abramowitz & Stegun 7.1.26: erf(x) = 1 - t (a1 + t (a2 + ...)) exp(-x^2), t = 1 / (1 + p x)
# for x >= 0, absolute error below 1.5e-7 (float32's own resolution near 1).
ERF_P = 0.3275911
ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
CASTABLE = {np.dtype(t) for t in (np.float32, np.float16, np.int8, np.uint8, np.int16)}
CASTABLE |= {np.dtype(t) for t in (np.int32, np.int64, np.bool_)}


@lowers(*UNARY)
def unary(n: OnnxNode) -> None:
    x = n.input(0)
    n.produce(UNARY[n.op], [n.lowering.ir(x)], x.perm)


# -- broadcasting ---------------------------------------------------------------------------------


def broadcast_dims(*shapes: tuple) -> tuple:
    """NumPy broadcasting of dims (ints, and Dims or None where unknown); an unknown dim
    against a known one > 1 is that one."""
    rank = max(len(s) for s in shapes)
    out = []
    for axis in range(rank):
        sizes = [s[axis - rank + len(s)] for s in shapes if axis - rank + len(s) >= 0]
        known = [d for d in sizes if isinstance(d, int) and d != 1]
        unknown = [d for d in sizes if not isinstance(d, int)]
        out.append(known[0] if known else unknown[0] if unknown else 1)
    return tuple(out)


def common_perm(operands: list[Value], rank: int) -> Perm:
    """The axis order of a broadcasting op's output: that of its first run-time operand of
    full rank, else of its highest-rank run-time operand (extended to the front)."""
    runtime = [v for v in operands if not v.known]
    if not runtime:
        return layout.identity(rank)
    best = max(runtime, key=lambda v: v.rank)  # the first of the highest rank
    lead = rank - best.rank
    return layout.identity(lead) + tuple(p + lead for p in best.perm)


def elementwise(n: OnnxNode, op: str, operands: list[Value]) -> None:
    """`op` over `operands` (pairwise, left to right), broadcasting as ONNX does."""
    dtype = n.out_dtype()
    operands = [_as_dtype(v, dtype) for v in operands]
    dims = n.out_dims()
    perm = common_perm(operands, len(dims))
    names = [n.lowering.broadcast(v, perm) for v in operands]
    tensors = n.lowering.graph.tensors
    result = names[0]
    for k, name in enumerate(names[1:], start=1):
        if k == len(names) - 1:
            out = n.output(0, perm, dims)
        else:  # a partial sum of a variadic op: its IR shape broadcasts the IR operands'
            shape = broadcast_dims(tensors[result].shape, tensors[name].shape)
            out = n.temp(f"partial{k}", shape, dtype)
        n.lowering.emit(op, [result, name], [out])
        result = out


def _as_dtype(value: Value, dtype: np.dtype) -> Value:
    """A known operand in the op's dtype (ONNX's Pow takes any exponent type; TFLite not)."""
    if value.known and not value.symbolic and value.data.dtype != dtype:
        return known_value(f"{value.name}_{dtype}", value.data.astype(dtype))
    return value


@lowers(*BINARY)
def binary(n: OnnxNode) -> None:
    operands = [v for v in n.inputs if v is not None]
    if len(operands) == 1:
        n.alias(0, operands[0])
        return
    elementwise(n, BINARY[n.op], operands)


# -- activations ----------------------------------------------------------------------------------


class Chain:
    """Elementwise ops over the shape of `x`, the last writing the node's output."""

    def __init__(self, n: OnnxNode, x: Value):
        self.n, self.x = n, x
        self.shape = layout.ir_shape(x.dims, x.perm)
        self.steps = 0

    def __call__(self, op: str, *args: str | float, **options: Any) -> str:
        out = self.n.temp(f"{op.lower()}{self.steps}", self.shape, self.x.dtype)
        self.steps += 1
        self.n.lowering.emit(op, [self._operand(a) for a in args], [out], **options)
        return out

    def end(self, op: str, *args: str | float, **options: Any) -> None:
        out = self.n.output(0, self.x.perm)
        self.n.lowering.emit(op, [self._operand(a) for a in args], [out], **options)

    def _operand(self, arg: str | float) -> str:
        if isinstance(arg, str):
            return arg
        return self.n.lowering.add_constant(f"{self.n.name}_const", arg, self.x.dtype)


@lowers("Clip")
def clip(n: OnnxNode) -> None:
    x = n.input(0)
    low, high = n.constant(1, "min"), n.constant(2, "max")
    low = n.attr("min", -np.inf) if low is None else float(low)  # attributes: opset < 11
    high = n.attr("max", np.inf) if high is None else float(high)
    if (low, high) in CLIP_OPS:
        n.produce(CLIP_OPS[(low, high)], [n.lowering.ir(x)], x.perm)
        return
    chain, result = Chain(n, x), n.lowering.ir(x)
    if np.isfinite(high):
        result = chain("MINIMUM", result, high)
    chain.end("MAXIMUM", result, low)


@lowers("LeakyRelu")
def leaky_relu(n: OnnxNode) -> None:
    x = n.input(0)
    n.produce("LEAKY_RELU", [n.lowering.ir(x)], x.perm, alpha=float(n.attr("alpha", 0.01)))


@lowers("HardSigmoid")
def hard_sigmoid(n: OnnxNode) -> None:
    x = n.input(0)
    chain = Chain(n, x)
    scaled = chain("MUL", n.lowering.ir(x), float(n.attr("alpha", 0.2)))
    chain.end("RELU_0_TO_1", chain("ADD", scaled, float(n.attr("beta", 0.5))))


@lowers("Elu")
def elu(n: OnnxNode) -> None:
    x, alpha = n.input(0), float(n.attr("alpha", 1.0))
    if alpha == 1.0:
        n.produce("ELU", [n.lowering.ir(x)], x.perm)
        return
    chain, source = Chain(n, x), n.lowering.ir(x)  # max(x, 0) + alpha (exp(min(x, 0)) - 1)
    negative = chain("MUL", chain("SUB", chain("EXP", chain("MINIMUM", source, 0.0)), 1.0), alpha)
    chain.end("ADD", chain("RELU", source), negative)


@lowers("Softplus")
def softplus(n: OnnxNode) -> None:
    x = n.input(0)
    chain, source = Chain(n, x), n.lowering.ir(x)  # max(x, 0) + log(1 + exp(-|x|)): no overflow
    tail = chain("LOG", chain("ADD", chain("EXP", chain("NEG", chain("ABS", source))), 1.0))
    chain.end("ADD", chain("RELU", source), tail)


@lowers("Erf")
def erf(n: OnnxNode) -> None:
    x = n.input(0)
    chain, source = Chain(n, x), n.lowering.ir(x)
    t = chain("DIV", 1.0, chain("ADD", chain("MUL", chain("ABS", source), ERF_P), 1.0))
    poly = chain("ADD", chain("MUL", t, ERF_A[4]), ERF_A[3])
    for a in reversed(ERF_A[:3]):
        poly = chain("ADD", chain("MUL", poly, t), a)
    gauss = chain("EXP", chain("NEG", chain("MUL", source, source)))
    magnitude = chain("SUB", 1.0, chain("MUL", chain("MUL", poly, t), gauss))
    chain.end("MUL", chain("SIGN", source), magnitude)


@lowers("Gelu")
def gelu(n: OnnxNode) -> None:
    x = n.input(0)
    tanh = n.attr("approximate", "none") == "tanh"
    n.produce("GELU", [n.lowering.ir(x)], x.perm, approximate=tanh)


@lowers("Cast")
def cast(n: OnnxNode) -> None:
    x = n.input(0)
    dtype = np.dtype(helper.tensor_dtype_to_np_dtype(n.attr("to")))
    if dtype == x.dtype:
        n.alias(0, x)
        return
    if dtype not in CASTABLE or x.dtype not in CASTABLE:
        raise Unsupported(f"a cast from {x.dtype} to {dtype} (TFLite lacks the type)")
    n.produce("CAST", [n.lowering.ir(x)], x.perm)

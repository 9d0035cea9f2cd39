"""Dense layers, normalization and softmax."""

from __future__ import annotations

import numpy as np

from emberlite.converter.frontends.onnx import layout
from emberlite.converter.frontends.onnx.context import OnnxNode, Unsupported, axis_of, known_value
from emberlite.converter.frontends.onnx.layout import Perm
from emberlite.converter.frontends.onnx.ops.registry import lowers
from emberlite.converter.frontends.onnx.ops.windows import NHWC, spatial_dims

# -- dense --------------------------------------------------------------------------------------


@lowers("Gemm")
def gemm(n: OnnxNode) -> None:
    a, b, c = n.input(0), n.input(1), n.optional(2)
    alpha, beta = float(n.attr("alpha", 1.0)), float(n.attr("beta", 1.0))
    trans_a, trans_b = bool(n.attr("transA", 0)), bool(n.attr("transB", 0))
    lowering = n.lowering
    source = lowering.ir(a, (1, 0) if trans_a else (0, 1))
    if not b.known:
        raise Unsupported("Gemm with a run-time B; use MatMul")
    weights = (b.data if trans_b else b.data.T) * np.asarray(alpha, b.data.dtype)
    units = weights.shape[0]
    bias = None
    if c is not None and c.known and _is_row(c.data.shape, units):
        bias = np.broadcast_to(c.data.reshape(-1) * beta, (units,)).astype(weights.dtype)
        c = None
    out_dims = n.out_dims()
    w_name = lowering.add_constant(f"{b.name}_weights", weights)
    b_name = None if bias is None else lowering.add_constant(f"{n.proto.output[0]}_bias", bias)
    if c is None:
        n.produce("FULLY_CONNECTED", [source, w_name, b_name], (0, 1))
        return
    dense = n.temp("dense", layout.ir_shape(out_dims, (0, 1)), a.dtype)
    lowering.emit("FULLY_CONNECTED", [source, w_name, b_name], [dense])
    scaled = known_value(f"{c.name}_scaled", c.data * beta) if c.known and beta != 1 else c
    if not c.known and beta != 1:
        raise Unsupported("Gemm with a run-time C and beta != 1")
    n.produce("ADD", [dense, lowering.broadcast(scaled, (0, 1))], (0, 1))


def _is_row(shape: tuple[int, ...], units: int) -> bool:
    """A Gemm C that is the same for every row: a bias vector."""
    rows, last = shape[:-1], shape[-1:]
    return len(shape) <= 2 and all(d == 1 for d in rows) and last in ((), (1,), (units,))


@lowers("MatMul")
def matmul(n: OnnxNode) -> None:
    a, b = n.input(0), n.input(1)
    lowering = n.lowering
    if a.rank < 2 or b.rank < 2:
        raise Unsupported("MatMul of vectors (rank 1)")
    if b.known and b.rank == 2:
        keep = a.rank > 2
        perm = a.perm if keep and a.perm[-1] == a.rank - 1 else layout.identity(a.rank)
        weights = lowering.add_constant(f"{b.name}_weights", b.data.T)
        n.produce(
            "FULLY_CONNECTED", [lowering.ir(a, perm), weights, None], perm, keep_num_dims=keep
        )
        return
    rank = len(n.out_dims())
    n.produce(
        "BATCH_MATMUL",
        [lowering.ir(a, layout.identity(a.rank)), lowering.ir(b, layout.identity(b.rank))],
        layout.identity(rank),
    )


# -- normalization and softmax --------------------------------------------------------------------


@lowers("BatchNormalization")
def batch_normalization(n: OnnxNode) -> None:
    """Inference batch norm as MUL + ADD with per-channel constants (fold_batch_norm moves
    them into the convolution before it)."""
    x = n.input(0)
    if n.attr("training_mode", 0) or any(n.proto.output[1:]):
        raise Unsupported("training-mode batch normalization (running statistics as outputs)")
    scale, bias, mean, var = (
        n.constant(i, what)
        for i, what in enumerate(("scale", "B", "input_mean", "input_var"), start=1)
    )
    multiplier = scale / np.sqrt(var.astype(np.float64) + float(n.attr("epsilon", 1e-5)))
    shift = bias - mean * multiplier
    along_channels = (-1,) + (1,) * (x.rank - 2)
    lowering, perm = n.lowering, x.perm
    operands = [
        known_value(f"{n.name}_{what}", data.reshape(along_channels).astype(x.dtype))
        for what, data in (("multiplier", multiplier), ("shift", shift))
    ]
    scaled = n.temp("scaled", layout.ir_shape(x.dims, perm), x.dtype)
    lowering.emit("MUL", [lowering.ir(x), lowering.broadcast(operands[0], perm)], [scaled])
    n.produce("ADD", [scaled, lowering.broadcast(operands[1], perm)], perm)


@lowers("LRN")
def lrn(n: OnnxNode) -> None:
    x = n.input(0)
    spatial_dims(x)
    size = int(n.attr("size"))
    if size % 2 == 0:
        raise Unsupported(f"LRN size {size}: TFLite's window is symmetric (odd sizes only)")
    n.produce(
        "LOCAL_RESPONSE_NORMALIZATION",
        [n.lowering.ir(x, NHWC)],
        NHWC,
        radius=(size - 1) // 2,
        bias=float(n.attr("bias", 1.0)),
        alpha=float(n.attr("alpha", 1e-4)) / size,
        beta=float(n.attr("beta", 0.75)),
    )


@lowers("Softmax", "LogSoftmax")
def softmax(n: OnnxNode) -> None:
    x = n.input(0)
    axis = axis_of(int(n.attr("axis", -1)), x.rank)
    perm: Perm = x.perm if x.perm[-1] == axis else layout.move_to_end(x.perm, axis)
    source = n.lowering.ir(x, perm)
    if n.op == "Softmax":
        n.produce("SOFTMAX", [source], perm, beta=1.0)
    else:
        n.produce("LOG_SOFTMAX", [source], perm)

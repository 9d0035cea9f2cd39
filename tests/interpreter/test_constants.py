"""DEQUANTIZE, QUANTIZE and DENSIFY against LiteRT, including a real sparse model's weights."""

from dataclasses import replace

import numpy as np
import pytest

from emberlite.interpreter import Interpreter
from emberlite.schema import (
    Buffer,
    BuiltinOperator,
    DimensionMetadata,
    Model,
    Operator,
    OperatorCode,
    QuantizationParameters,
    SparsityParameters,
    SubGraph,
    Tensor,
    TensorType,
    read_model,
    write_model,
)
from tests.interpreter.oneop import Const, compare_models, edited, one_op_model, rejects
from tests.litert import litert_interpreter

RNG = np.random.default_rng(0)
DENSE, CSR = 0, 1


def quantized_model(op, inputs, output_shapes, output_dtypes, quantization) -> bytes:
    """one_op_model with QuantizationParameters on tensors named in `quantization`."""
    content = one_op_model(op, inputs, output_shapes, None, output_dtypes)
    return edited(content, {name: {"quantization": q} for name, q in quantization.items()})


def per_tensor(scale, zero_point=0):
    return QuantizationParameters(scale=(scale,), zero_point=(zero_point,))


def per_axis(scales, zero_points, axis):
    return QuantizationParameters(
        scale=tuple(float(s) for s in scales),
        zero_point=tuple(int(z) for z in zero_points),
        quantized_dimension=axis,
    )


# -- DEQUANTIZE -----------------------------------------------------------------------------------


@pytest.mark.parametrize("const", [True, False])
@pytest.mark.parametrize("shape", [(7,), (2, 3, 4), (1, 3, 3, 8)])
def test_dequantize_float16(const, shape):
    x = (RNG.standard_normal(shape) * 100).astype(np.float16)
    inputs = [Const(x) if const else x]
    content = quantized_model("DEQUANTIZE", inputs, [shape], [np.float32], {})
    (out,) = compare_models(content, inputs)
    np.testing.assert_array_equal(out, x.astype(np.float32))


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16])
@pytest.mark.parametrize("scale, zero", [(0.05, 0), (0.0123, 7), (2.5, -3)])
@pytest.mark.parametrize("const", [True, False])
def test_dequantize_per_tensor(dtype, scale, zero, const):
    info = np.iinfo(dtype)
    if dtype == np.uint8:
        zero = abs(zero) + 120
    if dtype == np.int16:
        zero = 0  # TFLite's int16 quantization is symmetric
    x = RNG.integers(info.min, info.max + 1, (3, 5, 4), dtype=dtype)
    inputs = [Const(x) if const else x]
    quant = {"in0": per_tensor(scale, zero)}
    content = quantized_model("DEQUANTIZE", inputs, [x.shape], [np.float32], quant)
    (out,) = compare_models(content, inputs)
    np.testing.assert_allclose(out, (x.astype(np.float64) - zero) * scale, rtol=1e-6)


@pytest.mark.parametrize("axis", [0, 1, 3])
@pytest.mark.parametrize("const", [True, False])
def test_dequantize_per_axis(axis, const):
    shape = (4, 3, 3, 5)
    x = RNG.integers(-127, 128, shape, dtype=np.int8)
    scales = RNG.uniform(0.001, 0.1, shape[axis])
    inputs = [Const(x) if const else x]
    quant = {"in0": per_axis(scales, [0] * shape[axis], axis)}
    content = quantized_model("DEQUANTIZE", inputs, [shape], [np.float32], quant)
    (out,) = compare_models(content, inputs)
    bshape = [1] * 4
    bshape[axis] = -1
    want = x.astype(np.float64) * scales.reshape(bshape)
    np.testing.assert_allclose(out, want, rtol=1e-6)


def test_dequantize_folds():
    x = np.ones((2, 2), np.float16)
    content = quantized_model("DEQUANTIZE", [Const(x)], [(2, 2)], [np.float32], {})
    interpreter = Interpreter(model_content=content)
    interpreter.allocate_tensors()
    assert interpreter._main.steps == ()


def test_dequantize_rejects():
    x = np.ones(3, np.int8)
    rejects(quantized_model("DEQUANTIZE", [x], [(3,)], [np.float32], {}), "no quantization")
    bad_axis = {"in0": per_axis([0.1, 0.2], [0, 0], 0)}
    rejects(quantized_model("DEQUANTIZE", [x], [(3,)], [np.float32], bad_axis), "2 scales")
    rejects(
        quantized_model("DEQUANTIZE", [np.ones(3, np.float32)], [(3,)], [np.float32], {}),
        "cannot dequantize float32",
    )
    quant = {"in0": per_tensor(0.1)}
    rejects(quantized_model("DEQUANTIZE", [x], [(3,)], [np.int32], quant), "must be float32")


# -- QUANTIZE -------------------------------------------------------------------------------------


def quantize_inputs(scale, zero, dtype):
    info = np.iinfo(dtype)
    span = (info.max - info.min) * scale
    x = RNG.uniform(-0.7 * span, 0.7 * span, (4, 5, 6)).astype(np.float32)
    halves = (np.arange(-40, 40) + 0.5).astype(np.float32) * np.float32(scale)  # ties
    x.reshape(-1)[: halves.size] = halves
    x.reshape(-1)[-6:] = [-1e3, 1e3, -1e9, 1e9, 0.0, -0.0]  # clamped; overflowing int32
    return x


def half_away(ratio):
    return np.sign(ratio) * np.floor(np.abs(ratio.astype(np.float64)) + 0.5)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16])
@pytest.mark.parametrize("scale, zero", [(0.25, 0), (0.0123, 5), (0.1, -20), (1 / 3, 3), (3.7, 1)])
def test_quantize(dtype, scale, zero):
    if dtype == np.uint8:
        zero += 128
    if dtype == np.int16:
        zero = 0
    x = quantize_inputs(scale, zero, dtype)
    content = quantized_model(
        "QUANTIZE", [x], [x.shape], [dtype], {"out0": per_tensor(scale, zero)}
    )
    (out,) = compare_models(content, [x], exact=True)
    # LiteRT's per-tensor path: x * (1 / scale) in float32, rounded half to even.
    info = np.iinfo(dtype)
    want = np.rint(x * (np.float32(1) / np.float32(scale)))
    # x86's float -> int32 overflow gives INT32_MIN, and + zero_point wraps around in int32.
    want[np.abs(want) >= 2**31] = -(2**31)
    want = (want.astype(np.int64) + zero + 2**31) % 2**32 - 2**31
    want = np.clip(want, info.min, info.max).astype(dtype)
    np.testing.assert_array_equal(out, want)


def test_quantize_rounds_ties_to_even():
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999997, -0.49999997], np.float32)
    content = quantized_model("QUANTIZE", [x], [x.shape], [np.int8], {"out0": per_tensor(1.0)})
    (out,) = compare_models(content, [x], exact=True)
    np.testing.assert_array_equal(out, [0, 2, 2, 0, -2, -2, 0, 0])


@pytest.mark.parametrize("axis", [0, 1, 3])
@pytest.mark.parametrize("scale", [1 / 3, 0.0123, 0.007, 3.7])
def test_quantize_per_axis(axis, scale):
    shape = (3, 4, 2, 5)
    x = RNG.uniform(-100 * scale, 100 * scale, shape).astype(np.float32)
    scales = np.float32(scale) * (1 + np.arange(shape[axis], dtype=np.float32))
    bshape = [1] * 4
    bshape[axis] = -1
    ties = (RNG.integers(-60, 60, shape) + 0.5).astype(np.float32) * scales.reshape(bshape)
    x = np.where(RNG.random(shape) < 0.3, ties, x).astype(np.float32)
    quant = {"out0": per_axis(scales, [0] * shape[axis], axis)}
    content = quantized_model("QUANTIZE", [x], [shape], [np.int8], quant)
    (out,) = compare_models(content, [x], exact=True)
    # LiteRT's per-axis path: x / scale in float32, rounded half away from zero.
    want = np.clip(half_away(x / scales.reshape(bshape)), -128, 127)
    np.testing.assert_array_equal(out, want.astype(np.int8))


def test_quantize_rejects():
    x = np.ones(3, np.float32)
    rejects(quantized_model("QUANTIZE", [x], [(3,)], [np.int8], {}), "no quantization")
    quant = {"out0": per_tensor(0.1)}
    rejects(quantized_model("QUANTIZE", [x], [(3,)], [np.int32], quant), "cannot quantize to")
    q8 = np.ones(3, np.int8)
    content = quantized_model("QUANTIZE", [q8], [(3,)], [np.int8], {**quant, "in0": quant["out0"]})
    rejects(content, "only float32")
    rejects(quantized_model("QUANTIZE", [x], [(3,)], [np.int8], {"out0": per_tensor(0.0)}), "<= 0")


# -- DENSIFY --------------------------------------------------------------------------------------


def sparse_model(dense_shape, values, sparsity, dtype=np.float32) -> bytes:
    """One DENSIFY node over a constant sparse tensor."""
    code = {
        np.float32: TensorType.FLOAT32,
        np.float16: TensorType.FLOAT16,
        np.int8: TensorType.INT8,
    }[dtype]
    data = np.asarray(values, dtype)
    tensors = (
        Tensor("sparse", dense_shape, code, buffer=1, sparsity=sparsity),
        Tensor("dense", dense_shape, code),
    )
    op = Operator(0, (0,), (1,))
    model = Model(
        operator_codes=(OperatorCode.for_builtin(BuiltinOperator.DENSIFY),),
        subgraphs=(SubGraph(tensors, (), (1,), (op,)),),
        buffers=(Buffer(), Buffer(memoryview(data.tobytes()))),
    )
    return write_model(model)


def dim(fmt, size=0, segments=None, indices=None, kind="Int32Vector"):
    if fmt == DENSE:
        return DimensionMetadata(format=DENSE, dense_size=size)
    return DimensionMetadata(
        format=CSR,
        array_segments=tuple(segments),
        array_segments_kind=kind,
        array_indices=tuple(indices),
        array_indices_kind=kind,
    )


def csr(matrix, kind="Int32Vector"):
    """Rows dense, columns compressed: (values, level metadata) of a 2-D array."""
    rows, cols = np.nonzero(matrix)
    segments = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=matrix.shape[0]))])
    return matrix[rows, cols], (dim(DENSE, matrix.shape[0]), dim(CSR, 0, segments, cols, kind))


def sparse_matrix(shape, density=0.3, dtype=np.float32):
    m = RNG.standard_normal(shape).astype(dtype)
    m[RNG.random(shape) > density] = 0
    return m


def run_densify(content):
    return compare_models(content, [], exact=True)[0]


@pytest.mark.parametrize("kind", ["Int32Vector", "Uint16Vector", "Uint8Vector"])
@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int8])
def test_densify_csr(kind, dtype):
    m = (sparse_matrix((6, 9)) * 20).astype(dtype)
    m[2] = 0  # an empty row
    values, dims = csr(m, kind)
    content = sparse_model(m.shape, values, SparsityParameters((0, 1), (), dims), dtype)
    np.testing.assert_array_equal(run_densify(content), m)


def test_densify_column_major():
    m = sparse_matrix((5, 7))
    values, dims = csr(m.T)  # traversal visits dimension 1 first
    content = sparse_model(m.shape, values, SparsityParameters((1, 0), (), dims))
    np.testing.assert_array_equal(run_densify(content), m)


@pytest.mark.parametrize("block", [2, 4])
def test_densify_block_sparse(block):
    # 1 x block blocks along dimension 1, as TFLite's block-sparse FULLY_CONNECTED weights.
    rows, cols = 4, 12
    m = RNG.standard_normal((rows, cols)).astype(np.float32)
    keep = RNG.random((rows, cols // block)) < 0.4
    m *= np.repeat(keep, block, axis=1)
    r, c = np.nonzero(keep)
    segments = np.concatenate([[0], np.cumsum(np.bincount(r, minlength=rows))])
    values = m.reshape(rows, cols // block, block)[r, c].reshape(-1)
    dims = (dim(DENSE, rows), dim(CSR, 0, segments, c), dim(DENSE, block))
    content = sparse_model(m.shape, values, SparsityParameters((0, 1, 2), (1,), dims))
    np.testing.assert_array_equal(run_densify(content), m)


def test_densify_2d_blocks():
    # 2 x 2 blocks, the block grid stored CSR and each block dense.
    m = np.zeros((4, 6), np.float32)
    keep = np.array([[1, 0, 1], [0, 1, 0]], bool)
    for br, bc in zip(*np.nonzero(keep), strict=True):
        m[2 * br : 2 * br + 2, 2 * bc : 2 * bc + 2] = RNG.standard_normal((2, 2))
    r, c = np.nonzero(keep)
    segments = np.concatenate([[0], np.cumsum(np.bincount(r, minlength=2))])
    values = m.reshape(2, 2, 3, 2).transpose(0, 2, 1, 3)[r, c].reshape(-1)
    dims = (dim(DENSE, 2), dim(CSR, 0, segments, c), dim(DENSE, 2), dim(DENSE, 2))
    content = sparse_model(m.shape, values, SparsityParameters((0, 1, 2, 3), (0, 1), dims))
    np.testing.assert_array_equal(run_densify(content), m)


def test_densify_4d():
    # The layout of the real model's conv weights: three dense levels, the last one CSR.
    w = sparse_matrix((8, 1, 1, 32), 0.3, np.float16)
    values, (_, last) = csr(w.reshape(8, 32), "Uint8Vector")
    dims = (dim(DENSE, 8), dim(DENSE, 1), dim(DENSE, 1), last)
    content = sparse_model(w.shape, values, SparsityParameters((0, 1, 2, 3), (), dims), np.float16)
    np.testing.assert_array_equal(run_densify(content), w)


def test_densify_rejects():
    m = sparse_matrix((3, 4))
    values, dims = csr(m)
    good = SparsityParameters((0, 1), (), dims)
    rejects(sparse_model(m.shape, values[:-1], good), "stores")
    rejects(sparse_model(m.shape, values, SparsityParameters((0, 0), (), dims)), "traversal_order")
    rejects(sparse_model(m.shape, values, SparsityParameters((0, 1), (), dims[:1])), "records")
    short = (dims[0], dim(CSR, 0, (0, 1), (0,)))
    rejects(sparse_model(m.shape, values, SparsityParameters((0, 1), (), short)), "segments")
    outside = (dims[0], replace(dims[1], array_indices=(9,) * len(dims[1].array_indices)))
    rejects(sparse_model(m.shape, values, SparsityParameters((0, 1), (), outside)), "outside")


@pytest.mark.parametrize(
    "name, count", [("face_detection_full_range_sparse.tflite", 46), ("pose_detection.tflite", 38)]
)
def test_densify_real_model(model_files, name, count):
    """Every DENSIFY of a real sparse model, in emberlite, against LiteRT's intermediate tensors."""
    path = model_files[name]
    model = read_model(path.read_bytes())
    sg = model.subgraphs[0]
    nodes = [op for op in sg.operators if model.op_name(op) == "DENSIFY"]
    assert len(nodes) == count
    # emberlite: a graph of the DENSIFY nodes alone (the rest of the model is other kernels').
    used = sorted({op.inputs[0] for op in nodes} | {op.outputs[0] for op in nodes})
    remap = {old: new for new, old in enumerate(used)}
    code = OperatorCode.for_builtin(BuiltinOperator.DENSIFY)
    graph = SubGraph(
        tuple(sg.tensors[i] for i in used),
        (),
        tuple(remap[op.outputs[0]] for op in nodes),
        tuple(Operator(0, (remap[op.inputs[0]],), (remap[op.outputs[0]],)) for op in nodes),
    )
    ours = Interpreter(
        model_content=write_model(replace(model, operator_codes=(code,), subgraphs=(graph,)))
    )
    ours.allocate_tensors()
    ours.invoke()
    assert ours._main.steps == ()  # all folded at allocate
    # LiteRT: the whole model, keeping its intermediate tensors.
    lite = litert_interpreter(path.read_bytes(), experimental_preserve_all_tensors=True)
    lite.allocate_tensors()
    detail = lite.get_input_details()[0]
    lite.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    lite.invoke()
    nonzero = 0
    for op in nodes:
        got, want = ours.get_tensor(remap[op.outputs[0]]), lite.get_tensor(op.outputs[0])
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)
        nonzero += int(np.count_nonzero(want))
    assert nonzero > 0

"""The Interpreter's API behaves as tflite_runtime's does (LiteRT as the reference)."""

from __future__ import annotations

import numpy as np
import pytest

from emberlite.errors import EmberliteError, InterpreterStateError, TensorValueError
from emberlite.interpreter import Interpreter
from emberlite.interpreter.executor import UnsupportedOpError
from tests.interpreter.oneop import Const, one_op_model, options
from tests.litert import litert_interpreter


@pytest.fixture
def sine(model_files):
    return model_files["sine_float.tflite"]


def both(path):
    content = path.read_bytes()
    return Interpreter(model_content=content), litert_interpreter(content)


def assert_same_details(ours: list[dict], theirs: list[dict]) -> None:
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            if isinstance(a[key], np.ndarray):
                np.testing.assert_array_equal(a[key], b[key], err_msg=key)
                assert a[key].dtype == b[key].dtype, key
            elif isinstance(a[key], dict):
                assert a[key].keys() == b[key].keys()
                for k in a[key]:
                    np.testing.assert_array_equal(a[key][k], b[key][k], err_msg=f"{key}.{k}")
            else:
                assert a[key] == b[key], key


def test_details_match_litert(sine):
    ours, theirs = both(sine)
    for interp in (ours, theirs):
        interp.allocate_tensors()
    assert_same_details(ours.get_input_details(), theirs.get_input_details())
    assert_same_details(ours.get_output_details(), theirs.get_output_details())
    assert [d["name"] for d in ours.get_tensor_details()] == [
        d["name"] for d in theirs.get_tensor_details()
    ]
    assert ours.get_signature_list() == theirs.get_signature_list()
    assert [op["op_name"] for op in ours._get_ops_details()] == ["FULLY_CONNECTED"] * 3


def test_constructor_needs_exactly_one_model(sine):
    with pytest.raises(ValueError, match="without model"):
        Interpreter()
    with pytest.raises(ValueError, match="both"):
        Interpreter(model_path=str(sine), model_content=sine.read_bytes())
    with pytest.raises(EmberliteError, match="too short"):
        Interpreter(model_content=b"nope")


def test_invoke_before_allocate(sine):
    interp = Interpreter(model_path=str(sine))
    with pytest.raises(InterpreterStateError, match="allocate_tensors"):
        interp.invoke()
    with pytest.raises(RuntimeError):  # what tflite_runtime code catches
        interp.invoke()


def test_set_tensor_checks_dtype_and_shape(sine):
    interp = Interpreter(model_path=str(sine))
    index = interp.get_input_details()[0]["index"]
    with pytest.raises(TensorValueError, match="unallocated"):
        interp.set_tensor(index, np.zeros((1, 1), np.float32))
    interp.allocate_tensors()
    with pytest.raises(
        ValueError, match="Got value of type FLOAT64 but expected type FLOAT32 for input 0"
    ):
        interp.set_tensor(index, np.zeros((1, 1)))
    with pytest.raises(ValueError, match=r"Got shape \[2, 1\] but expected \[1, 1\]"):
        interp.set_tensor(index, np.zeros((2, 1), np.float32))
    with pytest.raises(ValueError, match="out of range"):
        interp.get_tensor(99)


def test_resize_propagates_shapes(sine):
    ours, theirs = both(sine)
    x = np.linspace(0, 6, 8, dtype=np.float32).reshape(8, 1)
    results = []
    for interp in (ours, theirs):
        index = interp.get_input_details()[0]["index"]
        interp.resize_tensor_input(index, [8, 1], strict=True)
        interp.allocate_tensors()
        interp.set_tensor(index, x)
        interp.invoke()
        results.append(interp.get_tensor(interp.get_output_details()[0]["index"]))
    assert results[0].shape == (8, 1)
    np.testing.assert_allclose(results[0], results[1], rtol=1e-5, atol=1e-6)
    assert list(ours.get_output_details()[0]["shape"]) == [8, 1]


def test_strict_resize_only_changes_dynamic_dimensions(sine):
    interp = Interpreter(model_path=str(sine))
    with pytest.raises(ValueError, match="unknown dimensions"):
        interp.resize_tensor_input(0, [1, 2], strict=True)
    interp.resize_tensor_input(0, [3, 1], strict=True)
    with pytest.raises(InterpreterStateError):
        interp.invoke()  # resizing asks for allocate_tensors again


def test_signature_runner(sine):
    ours, theirs = both(sine)
    x = np.array([[0.5], [1.5], [2.5]], np.float32)
    a = ours.get_signature_runner()(dense_input=x)
    b = theirs.get_signature_runner()(dense_input=x)
    assert a.keys() == b.keys() == {"dense_2"}
    np.testing.assert_allclose(a["dense_2"], b["dense_2"], rtol=1e-5, atol=1e-6)
    runner = ours.get_signature_runner("serving_default")
    assert list(runner.get_input_details()) == ["dense_input"]
    with pytest.raises(ValueError, match="not found"):
        ours.get_signature_runner("nope")
    with pytest.raises(ValueError, match="Invalid inputs"):
        runner(wrong=x)


def test_preserve_all_tensors_keeps_intermediates(sine):
    content = sine.read_bytes()
    ours = Interpreter(model_content=content, experimental_preserve_all_tensors=True)
    theirs = litert_interpreter(content, experimental_preserve_all_tensors=True)
    for interp in (ours, theirs):
        interp.allocate_tensors()
        interp.set_tensor(0, np.array([[2.0]], np.float32))
        interp.invoke()
    for d in theirs.get_tensor_details():
        np.testing.assert_allclose(
            ours.get_tensor(d["index"]), theirs.get_tensor(d["index"]), rtol=1e-5, atol=1e-6
        )


def test_tensor_view_sees_each_invoke(sine):
    interp = Interpreter(model_path=str(sine))
    interp.allocate_tensors()
    out = interp.tensor(interp.get_output_details()[0]["index"])
    seen = []
    for x in (0.0, 1.0):
        interp.set_tensor(0, np.array([[x]], np.float32))
        interp.invoke()
        seen.append(float(out()[0, 0]))
    assert seen[0] != seen[1]


def test_unknown_ops_are_named_at_allocate():
    content = one_op_model("MyCustomOp", [np.zeros(3, np.float32)], [(3,)])
    interp = Interpreter(model_content=content)
    with pytest.raises(UnsupportedOpError, match=r"MyCustomOp \(node 0\)"):
        interp.allocate_tensors()


def test_constant_nodes_are_computed_once():
    content = one_op_model(
        "ADD", [Const(np.ones(4, np.float32)), Const(np.ones(4, np.float32))], [(4,)]
    )
    interp = Interpreter(model_content=content)
    interp.allocate_tensors()
    assert interp._main.steps == ()
    interp.invoke()
    np.testing.assert_array_equal(interp.get_tensor(2), np.full(4, 2, np.float32))


def test_bad_shapes_are_named():
    content = one_op_model(
        "ADD",
        [np.zeros((2, 3), np.float32), np.zeros((4,), np.float32)],
        [(2, 3)],
        options("AddOptions"),
    )
    with pytest.raises(
        ValueError, match=r"node 0 \(ADD\): shapes \[2, 3\] and \[4\] do not broadcast"
    ):
        Interpreter(model_content=content).allocate_tensors()


def test_num_threads_is_validated(sine):
    with pytest.raises(ValueError, match="num_threads"):
        Interpreter(model_path=str(sine), num_threads=-5)
    interp = Interpreter(model_path=str(sine), num_threads=2)
    interp.allocate_tensors()
    interp.invoke()

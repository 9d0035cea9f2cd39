"""The converter's IR: building, rewriting, and the consistency check that lists every problem."""

import numpy as np
import pytest

from emberlite.converter.ir import ConversionError, Graph


def small_graph():
    g = Graph()
    g.add_tensor("x", (None, 4), np.float32)
    g.inputs = ["x"]
    w = g.add_constant("w", np.ones((3, 4), np.float32))
    g.add_tensor("y", (None, 3), np.float32)
    g.add_tensor("z", (None, 3), np.float32)
    g.add_node("FULLY_CONNECTED", ["x", w, None], ["y"], name="dense")
    g.add_node("RELU", ["y"], ["z"], name="relu")
    g.outputs = ["z"]
    return g


def test_a_sound_graph_has_no_problems_and_answers_questions():
    g = small_graph()
    assert g.problems() == []
    assert g.op_counts() == {"FULLY_CONNECTED": 1, "RELU": 1}
    assert g.producers()["z"].op == "RELU"
    assert [n.op for n in g.consumers()["y"]] == ["RELU"]
    assert g.constant("w").shape == (3, 4) and g.constant("x") is None
    assert g.add_tensor("y", (1,), np.float32) != "y"  # names stay unique


def test_rewriting_keeps_outputs_in_step():
    g = small_graph()
    relu = g.producers()["z"]
    g.replace_uses("z", "y")
    g.remove_nodes([relu])
    g.remove_unused_tensors()
    assert g.outputs == ["y"] and "z" not in g.tensors and g.problems() == []


def test_every_problem_is_listed_at_once():
    g = small_graph()
    g.nodes[0].inputs[0] = "missing"
    g.add_tensor("loop", (1,), np.float32)
    g.add_node("NEG", ["later"], ["loop"], name="early")
    g.add_tensor("later", (1,), np.float32)
    g.add_node("NEG", ["loop"], ["later"], name="late")
    g.add_node("NEG", ["y"], ["z"], name="again")
    g.tensors["w"].data = np.ones((2, 2), np.float32)
    with pytest.raises(ConversionError) as e:
        g.validate()
    text = str(e.value)
    assert "reads 'missing', which no tensor has" in text
    assert "reads 'later' before it is made (a cycle)" in text
    assert "writes 'z', already made by node 1" in text
    assert "constant 'w' holds float32[2, 2]" in text
    assert len(e.value.problems) == 4

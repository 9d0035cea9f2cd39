"""Compute a node whose inputs are all constants, as the runtime would: the node alone is
written as a model (with the options the writer completes) and run by our interpreter.
"""

from __future__ import annotations

import numpy as np

from emberlite.converter.ir import ConversionError, Graph, Node
from emberlite.converter.writer import write
from emberlite.errors import EmberliteError
from emberlite.interpreter import Interpreter


def evaluate(graph: Graph, node: Node) -> list[np.ndarray]:
    """The outputs of `node`, every input of which is a constant of `graph`."""
    names = [n for n in (*node.inputs, *node.outputs) if n is not None]
    alone = Graph(
        tensors={n: graph.tensors[n] for n in names}, nodes=[node], outputs=list(node.outputs)
    )
    try:
        interpreter = Interpreter(model_content=write(alone))
        interpreter.allocate_tensors()
        interpreter.invoke()
    except EmberliteError as e:
        raise ConversionError(f"{node.op} ({node.name}) cannot be computed", [str(e)]) from e
    return [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]

"""Binary arithmetic against LiteRT: broadcasting and fused activations."""

import numpy as np
import pytest

from tests.interpreter.oneop import Const, compare_with_litert, options

RNG = np.random.default_rng(0)
OPTION_TABLES = {"ADD": "AddOptions", "SUB": "SubOptions", "MUL": "MulOptions", "DIV": "DivOptions"}


@pytest.mark.parametrize("op", ["ADD", "SUB", "MUL", "DIV"])
@pytest.mark.parametrize(
    "shapes", [((2, 3), (2, 3)), ((1, 4, 4, 3), (3,)), ((2, 1, 5), (1, 4, 1)), ((4,), ())]
)
@pytest.mark.parametrize("activation", [0, 1, 2, 3])
def test_binary(op, shapes, activation):
    a = RNG.standard_normal(shapes[0]).astype(np.float32) * 3
    b = RNG.standard_normal(shapes[1]).astype(np.float32) + (4 if op == "DIV" else 0)
    out = np.broadcast_shapes(*shapes)
    compare_with_litert(
        op, [a, b], [out], options(OPTION_TABLES[op], fused_activation_function=activation)
    )


def test_constant_operand():
    a = RNG.standard_normal((3, 4)).astype(np.float32)
    compare_with_litert("ADD", [a, Const(np.ones(4, np.float32))], [(3, 4)])

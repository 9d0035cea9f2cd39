"""The committed schema code is current, and our schema is TFLite's on the wire."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from emberlite.schema import model_generated

ROOT = Path(__file__).resolve().parents[2]


def wire_facts(source: str) -> dict[str, set]:
    """What fixes the bytes: every field's slot, type and default, every enum value, every
    vector's element size and alignment, and every table's field count."""
    return {
        "slots": set(
            re.findall(
                r"def (\w+)\(builder, \w+\):\n    builder\.Prepend(\w+)Slot\((\d+), [^,]+, (.+)\)",
                source,
            )
        ),
        "enums": {
            (name, line.strip())
            for name, body in re.findall(
                r"class (\w+)\(object\):\n((?:    \w+ = -?\d+\n)+)", source
            )
            for line in body.splitlines()
        },
        "vectors": set(
            re.findall(
                r"def (\w+)Start(\w+)Vector\(builder, numElems\):\n"
                r"    return builder\.StartVector\((\d+), numElems, (\d+)\)",
                source,
            )
        ),
        "tables": set(
            re.findall(r"def (\w+)Start\(builder\):\n    builder\.StartObject\((\d+)\)", source)
        ),
    }


def test_generated_code_is_current():
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_schema.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_matches_tflite_on_the_wire(model_files):
    ours = wire_facts(Path(model_generated.__file__).read_text())
    theirs = wire_facts(model_files["tflite_schema_py_generated.py"].read_text())
    for key in ours:
        assert ours[key], f"found no {key} in our generated code: the check would prove nothing"
        assert ours[key] == theirs[key], (
            f"{key} differ: only ours {sorted(ours[key] - theirs[key])[:5]}, "
            f"only TFLite's {sorted(theirs[key] - ours[key])[:5]}"
        )


def test_enums_come_from_the_schema():
    from emberlite.schema import BuiltinOperator, TensorType

    assert BuiltinOperator.CONV_2D == 3 and BuiltinOperator.STABLEHLO_CASE == 209
    assert TensorType.INT8 == 9 and TensorType.FLOAT8_E5M2 == 22

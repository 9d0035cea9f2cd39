"""A readable summary of a model: what `emberlite inspect` prints.

`summarize` turns a Model into plain JSON-able data (dicts, lists, str, int, float, None);
`render` prints that data as rich tables.  Keeping the two apart lets `--json` and the tables
show exactly the same facts.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from rich import box
from rich.columns import Columns
from rich.console import Console
from rich.table import Table
from rich.text import Text

from emberlite.schema.model import Model, QuantizationParameters, SubGraph, Tensor

Summary = dict[str, Any]

# How many per-axis scales, and custom op uses, the tables show before eliding the rest.
_SHOWN_SCALES = 3
_SHOWN_USES = 8


# -- summary -----------------------------------------------------------------------------------


def summarize(model: Model, file_size: int | None = None) -> Summary:
    """The facts of `model` as JSON-able data; `file_size` is the file's size in bytes, if known."""
    return {
        "source": model.source,
        "file_size": file_size,
        "schema_version": model.version,
        "description": model.description,
        "constant_bytes": _constant_bytes(model),
        "subgraphs": [_subgraph(model, i, sg) for i, sg in enumerate(model.subgraphs)],
        "custom_ops": _custom_ops(model),
        "signatures": [
            {
                "key": sig.signature_key,
                "subgraph_index": sig.subgraph_index,
                "inputs": {m.name: m.tensor_index for m in sig.inputs},
                "outputs": {m.name: m.tensor_index for m in sig.outputs},
            }
            for sig in model.signature_defs
        ],
        "metadata": [
            {"name": m.name, "bytes": len(model.buffers[m.buffer].data)} for m in model.metadata
        ],
        "operator_codes": [{"name": c.name, "version": c.version} for c in model.operator_codes],
    }


def _constant_bytes(model: Model) -> int:
    """Bytes of all constant buffers that some tensor uses, each buffer counted once."""
    used = {t.buffer for sg in model.subgraphs for t in sg.tensors}
    return sum(len(model.buffers[b].data) for b in used)


def _subgraph(model: Model, index: int, sg: SubGraph) -> Summary:
    histogram = Counter(model.op_name(op) for op in sg.operators)
    return {
        "index": index,
        "name": sg.name,
        "num_tensors": len(sg.tensors),
        "num_operators": len(sg.operators),
        "inputs": [_tensor(i, sg.tensors[i]) for i in sg.inputs],
        "outputs": [_tensor(i, sg.tensors[i]) for i in sg.outputs],
        # Most used first; ties by name, so the order is stable.
        "op_histogram": dict(sorted(histogram.items(), key=lambda kv: (-kv[1], kv[0]))),
        "dtypes": _dtypes(model, sg),
    }


def _tensor(index: int, t: Tensor) -> Summary:
    return {
        "index": index,
        "name": t.name,
        "shape": list(t.shape),
        "shape_signature": None if t.shape_signature is None else list(t.shape_signature),
        "dtype": t.type_name,
        "quantization": _quantization(t.quantization),
    }


def _quantization(q: QuantizationParameters | None) -> Summary | None:
    # Converters often write an empty table for float tensors: that is no quantization.
    if q is None or not q.scale:
        return None
    return {
        "scales": list(q.scale),
        "zero_points": list(q.zero_point),
        "quantized_dimension": q.quantized_dimension,
    }


def _dtypes(model: Model, sg: SubGraph) -> dict[str, Summary]:
    """{dtype: {"tensors": count, "constant_bytes": bytes}}, by descending constant bytes.

    A buffer that several tensors share is counted once (under the first tensor's dtype), so
    the bytes are what the file holds.
    """
    tensors: Counter[str] = Counter()
    constant: defaultdict[str, int] = defaultdict(int)
    seen: set[int] = set()
    for t in sg.tensors:
        tensors[t.type_name] += 1
        if t.buffer and t.buffer not in seen:
            seen.add(t.buffer)
            constant[t.type_name] += len(model.buffers[t.buffer].data)
    order = sorted(tensors, key=lambda name: (-constant[name], -tensors[name], name))
    return {name: {"tensors": tensors[name], "constant_bytes": constant[name]} for name in order}


def _custom_ops(model: Model) -> list[Summary]:
    """Each custom op once, with the (subgraph, operator) indices of the nodes that use it."""
    uses: dict[str, list[Summary]] = {c.name: [] for c in model.operator_codes if c.is_custom}
    for si, sg in enumerate(model.subgraphs):
        for oi, op in enumerate(sg.operators):
            code = model.operator_codes[op.opcode_index]
            if code.is_custom:
                uses[code.name].append({"subgraph": si, "operator": oi})
    return [{"name": name, "used_by": used} for name, used in uses.items()]


# -- rendering ---------------------------------------------------------------------------------


def render(summary: Summary, console: Console) -> None:
    """Print `summary` (from `summarize`) as one compact table per section."""
    console.print(_overview_table(summary))
    for sg in summary["subgraphs"]:
        console.print(_subgraph_heading(sg))
        console.print(_tensors_table("Inputs", sg["inputs"]))
        console.print(_tensors_table("Outputs", sg["outputs"]))
        histogram = _histogram_table("Ops", sg["op_histogram"])
        console.print(Columns([histogram, _dtypes_table("Tensors by dtype", sg["dtypes"])]))
    console.print()
    tables = [
        _custom_ops_table(summary["custom_ops"]),
        _signatures_table(summary["signatures"]),
        _metadata_table(summary["metadata"]),
        _opcodes_table(summary["operator_codes"]),
    ]
    console.print(Columns([t for t in tables if t.row_count]))


def _table(title: str, *columns: str) -> Table:
    """A compact table; columns named with a leading '>' are right-aligned numbers."""
    table = Table(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD)
    for column in columns:
        if column.startswith(">"):
            table.add_column(column[1:], justify="right", no_wrap=True)
        else:
            table.add_column(column, overflow="fold")
    return table


def _add_row(table: Table, *cells: str) -> None:
    # Text, not markup: a tensor named "x[0]" must print as such.
    table.add_row(*(Text(cell) for cell in cells))


def _overview_table(summary: Summary) -> Table:
    table = Table(
        title="Model", title_justify="left", title_style="bold", show_header=False, box=box.SIMPLE
    )
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    graphs = summary["subgraphs"]
    rows = {
        "file": summary["source"],
        "size": "?" if summary["file_size"] is None else human_bytes(summary["file_size"]),
        "schema version": str(summary["schema_version"]),
        "description": summary["description"] or "-",
        "subgraphs": str(len(graphs)),
        "tensors": str(sum(sg["num_tensors"] for sg in graphs)),
        "operators": str(sum(sg["num_operators"] for sg in graphs)),
        "constants": human_bytes(summary["constant_bytes"]),
    }
    for key, value in rows.items():
        _add_row(table, key, value)
    return table


def _subgraph_heading(sg: Summary) -> Text:
    name = f" {sg['name']!r}" if sg["name"] else ""
    return Text.assemble(
        (f"\nSubgraph {sg['index']}{name}", "bold underline"),
        f"  {sg['num_tensors']} tensors, {sg['num_operators']} operators",
    )


def _tensors_table(title: str, tensors: list[Summary]) -> Table:
    table = _table(title, ">tensor", "name", "shape", "dtype", "quantization")
    for t in tensors:
        _add_row(
            table, str(t["index"]), t["name"], _shape(t), t["dtype"], _quant(t["quantization"])
        )
    return table


def _shape(t: Summary) -> str:
    """[1, 224, 224, 3]; a dynamic dimension (-1 in the signature) shows as '?'."""
    signature = t["shape_signature"] or t["shape"]
    if len(signature) != len(t["shape"]):
        signature = t["shape"]
    dims = ["?" if s < 0 else str(d) for d, s in zip(t["shape"], signature, strict=True)]
    return "[" + ", ".join(dims) + "]"


def _quant(q: Summary | None) -> str:
    if q is None:
        return "-"
    scales, zero_points = q["scales"], q["zero_points"]
    if len(scales) == 1:
        zp = zero_points[0] if zero_points else 0
        return f"scale {scales[0]:.6g}, zero point {zp}"
    shown = ", ".join(f"{s:.3g}" for s in scales[:_SHOWN_SCALES])
    more = ", ..." if len(scales) > _SHOWN_SCALES else ""
    return f"per-axis (dim {q['quantized_dimension']}): {len(scales)} scales [{shown}{more}]"


def _histogram_table(title: str, histogram: dict[str, int]) -> Table:
    table = _table(title, "op", ">count")
    for name, count in sorted(histogram.items(), key=lambda kv: (-kv[1], kv[0])):
        _add_row(table, name, str(count))
    return table


def _dtypes_table(title: str, dtypes: dict[str, Summary]) -> Table:
    table = _table(title, "dtype", ">tensors", ">constant bytes")
    for name, d in dtypes.items():
        _add_row(table, name, str(d["tensors"]), human_bytes(d["constant_bytes"]))
    return table


def _custom_ops_table(custom_ops: list[Summary]) -> Table:
    table = _table("Custom ops", "op", ">uses", "operators (subgraph:index)")
    for op in custom_ops:
        used_by = op["used_by"]
        where = ", ".join(f"{u['subgraph']}:{u['operator']}" for u in used_by[:_SHOWN_USES])
        where += ", ..." if len(used_by) > _SHOWN_USES else ""
        _add_row(table, op["name"], str(len(op["used_by"])), where or "-")
    return table


def _signatures_table(signatures: list[Summary]) -> Table:
    table = _table("Signatures", "key", ">subgraph", "inputs (name: tensor)", "outputs")
    for sig in signatures:
        _add_row(
            table,
            sig["key"],
            str(sig["subgraph_index"]),
            _mapping(sig["inputs"]),
            _mapping(sig["outputs"]),
        )
    return table


def _mapping(names: dict[str, int]) -> str:
    return "\n".join(f"{name}: {index}" for name, index in names.items()) or "-"


def _metadata_table(metadata: list[Summary]) -> Table:
    table = _table("Metadata", "name", ">size")
    for m in metadata:
        _add_row(table, m["name"], human_bytes(m["bytes"]))
    return table


def _opcodes_table(codes: list[Summary]) -> Table:
    table = _table("Operator codes", ">#", "op", ">version")
    for i, code in enumerate(codes):
        _add_row(table, str(i), code["name"], str(code["version"]))
    return table


def human_bytes(n: int) -> str:
    """512 B, 2.0 kB, 1.2 MB: decimal units, one decimal place."""
    if n < 1000:
        return f"{n} B"
    size, units = n / 1000, ["kB", "MB", "GB", "TB"]
    while size >= 999.95 and len(units) > 1:  # 999.95 would print as 1000.0
        size /= 1000
        units.pop(0)
    return f"{size:.1f} {units[0]}"

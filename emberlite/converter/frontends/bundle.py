"""The bundle front end: a signature of a trainer bundle -> the converter's IR.

    graph = load(Path("digits_bundle"))                    # its serving_default signature
    graph = load(Path("digits_bundle"), signature="embed")  # any other saved signature

The bundle is read with `read_bundle` (no trainer model is built).  Its signature graph is
parsed and checked (bundle_graph), the trainer's composites of single TFLite ops fused
(bundle_fusions), and every node lowered (bundle_ops).  Variables and captured constants
become IR constants; inputs keep their names and shapes (batch None); outputs take the
signature's output names; the bundle's labels and normalization become metadata entries
"labels.txt" and "normalization.json".  Every node that cannot be lowered is named in one
ConversionError.
"""

from __future__ import annotations

import json
from pathlib import Path

from emberlite.converter import ir
from emberlite.converter.frontends.bundle_builder import Builder, Call, Unsupported
from emberlite.converter.frontends.bundle_fusions import fuse
from emberlite.converter.frontends.bundle_graph import SourceGraph, parse
from emberlite.converter.frontends.bundle_ops import LOWERINGS
from emberlite.converter.ir import ConversionError
from emberlite.trainer.graph import Input, NodeOutput, Ref
from emberlite.trainer.saving.bundle_files import Bundle, BundleError, read_bundle

SERVING = "serving_default"


def load(path: Path, *, signature: str | None = None) -> ir.Graph:
    """The IR graph of `signature` (default: serving_default) of the bundle at `path`."""
    path = Path(path)
    try:
        bundle = read_bundle(path)
    except BundleError as e:
        raise ConversionError(str(e)) from e
    key = signature or SERVING
    if key not in bundle.signatures:
        saved = ", ".join(map(repr, bundle.signatures)) or "none"
        raise ConversionError(f"bundle {path} has no signature {key!r}; its signatures: {saved}")
    what = f"bundle {path}, signature {key!r}"
    prefix = f"{key}/"
    constants = {k[len(prefix) :]: v for k, v in bundle.constants.items() if k.startswith(prefix)}
    source = parse(bundle.signatures[key], constants, bundle.variables, what)
    fuse(source)
    graph = _lower(source, key, what)
    graph.metadata.update(_metadata(bundle))
    return graph


def _lower(source: SourceGraph, key: str, what: str) -> ir.Graph:
    graph = ir.Graph(signature_key=key)
    values: dict[Ref, str] = {}
    for i, (name, spec) in enumerate(source.inputs):
        values[Input(i)] = graph.add_tensor(name, spec.shape, spec.dtype)
    graph.inputs = [values[Input(i)] for i in range(len(source.inputs))]
    graph.input_names = list(graph.inputs)

    def value(ref: Ref) -> str:
        if ref not in values:  # a constant or variable, made where first read
            values[ref] = graph.add_constant(ref.name, source.arrays[ref])
        return values[ref]

    builder, problems = Builder(graph), []
    for node in source.nodes:
        call = Call(node.index, node.op, [value(r) for r in node.inputs], node.attrs, node.outputs)
        outputs = _lower_call(builder, call, problems)
        values.update((NodeOutput(node.index, k), out) for k, out in enumerate(outputs))
    if problems:
        raise ConversionError(f"{what} cannot be converted", problems)
    graph.outputs = [value(r) for r in source.outputs]
    graph.output_names = list(source.output_names)
    graph.remove_unused_tensors()
    return graph


def _lower_call(builder: Builder, call: Call, problems: list[str]) -> list[str]:
    """The IR names of the call's outputs; on failure a problem, and stand-ins for them."""
    lowering = LOWERINGS.get(call.op)
    builder.call = call
    try:
        if lowering is None:
            raise Unsupported(f"primitive {call.op!r} has no TFLite lowering")
        return lowering(builder)
    except Unsupported as e:
        problems.append(f"node {call.index} ({call.op}): {e}")
    except (KeyError, TypeError, ValueError, IndexError) as e:  # attrs a corrupt bundle gave
        problems.append(f"node {call.index} ({call.op}): bad attrs: {type(e).__name__}: {e}")
    return [
        builder.graph.add_tensor(f"{call.op}#{call.index}:unconverted", spec.shape, spec.dtype)
        for spec in call.outputs
    ]


def _metadata(bundle: Bundle) -> dict[str, bytes]:
    found = {}
    labels = bundle.asset_path("labels")
    if labels is not None:
        found["labels.txt"] = labels.read_bytes()
    normalization = bundle.manifest.get("normalization")
    if isinstance(normalization, dict):
        stats = {k: normalization[k] for k in ("mean", "std") if k in normalization}
        found["normalization.json"] = json.dumps(stats).encode()
    return found

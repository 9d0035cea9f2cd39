"""The `emberlite` command line.

Every command's EmberliteError becomes one line, `emberlite: error: <message>`, on stderr and
exit status 1; that is handled once, in `_Group.invoke`, so new commands get it for free.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
import numpy as np
from rich.console import Console
from rich.table import Table

from emberlite import __version__
from emberlite.check import check_model
from emberlite.converter import QUANTIZE_MODES, ConversionResult
from emberlite.converter import convert as convert_model
from emberlite.errors import EmberliteError, TensorValueError
from emberlite.inspect import render, summarize
from emberlite.interpreter import Interpreter
from emberlite.parity import ParityReport, TensorParity, run_parity
from emberlite.reference import random_inputs
from emberlite.schema import read_model


class _Group(click.Group):
    """A click group that reports EmberliteErrors as one line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EmberliteError as e:
            message = " ".join(str(e).splitlines())
            click.echo(f"emberlite: error: {message}", err=True)
            ctx.exit(1)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="emberlite")
def main() -> None:
    """emberlite: train on the desktop, convert to TFLite FlatBuffers, run on the edge."""


@main.command()
# No exists=True: read_model reports a missing file as a one-line ModelFormatError.
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def inspect(model: Path, as_json: bool) -> None:
    """Summarize MODEL (a .tflite file): inputs, outputs, ops, dtypes, signatures, metadata."""
    loaded = read_model(model)
    summary = summarize(loaded, file_size=model.stat().st_size)
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        render(summary, Console())


@main.command()
@click.argument("model", type=click.Path(path_type=Path))
def check(model: Path) -> None:
    """Check that emberlite reads MODEL faithfully: verify, round-trip, and compare with LiteRT."""
    marks = {True: "[green]ok[/]", False: "[red]FAIL[/]", None: "[yellow]skip[/]"}
    console = Console(highlight=False)
    steps = check_model(model)
    for step in steps:
        console.print(f"{marks[step.ok]:>16}  {step.name:<12} {step.detail}", soft_wrap=True)
    if any(step.ok is False for step in steps):
        raise SystemExit(1)


def _read_inputs(specs: tuple[str, ...], details: list[dict], seed: int) -> list[np.ndarray]:
    """Inputs from .npy files (`FILE` in input order, or `NAME=FILE`), else seeded random data."""
    if not specs:
        return random_inputs(details, seed)
    by_name = {d["name"]: i for i, d in enumerate(details)}
    arrays: list[np.ndarray | None] = [None] * len(details)
    for position, spec in enumerate(specs):
        name, _, path = spec.rpartition("=")
        slot = by_name.get(name) if name else position
        if slot is None or slot >= len(details):
            raise TensorValueError(f"--input {spec}: the model has no input {name or position}")
        try:
            arrays[slot] = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise EmberliteError(f"--input {spec}: cannot read {path}: {e}") from e
    missing = [details[i]["name"] for i, a in enumerate(arrays) if a is None]
    if missing:
        raise TensorValueError(f"no --input given for {', '.join(missing)}")
    return arrays


_INPUT_HELP = (
    "Input .npy file, in input order, or NAME=FILE.npy (repeatable). Default: seeded random."
)


@main.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("-i", "--input", "inputs", multiple=True, help=_INPUT_HELP)
@click.option("--seed", default=0, show_default=True, help="Seed of the random inputs.")
@click.option("--num-threads", type=int, default=None, help="Threads the kernels may use.")
@click.option(
    "-o", "--output-dir", type=click.Path(path_type=Path), help="Save each output as NAME.npy here."
)
def run(
    model: Path,
    inputs: tuple[str, ...],
    seed: int,
    num_threads: int | None,
    output_dir: Path | None,
) -> None:
    """Run MODEL once with emberlite's interpreter and show (or save) its outputs."""
    interpreter = Interpreter(model_path=str(model), num_threads=num_threads)
    details = interpreter.get_input_details()
    feeds = _read_inputs(inputs, details, seed)
    for d, x in zip(details, feeds, strict=True):
        if tuple(x.shape) != tuple(d["shape"]):
            interpreter.resize_tensor_input(d["index"], x.shape)
    interpreter.allocate_tensors()
    for d, x in zip(interpreter.get_input_details(), feeds, strict=True):
        interpreter.set_tensor(d["index"], x)
    start = time.perf_counter()
    interpreter.invoke()
    elapsed = time.perf_counter() - start
    table = Table("output", "shape", "dtype", "min", "max", "mean", box=None)
    for d in interpreter.get_output_details():
        y = interpreter.get_tensor(d["index"])
        stats = (y.min(), y.max(), y.mean()) if y.size else (np.nan,) * 3
        table.add_row(d["name"], str(list(y.shape)), y.dtype.name, *(f"{v:.6g}" for v in stats))
        if output_dir is not None:
            output_dir.mkdir(parents=True, exist_ok=True)
            np.save(output_dir / f"{_file_name(d['name'])}.npy", y)
    console = Console()
    console.print(table)
    console.print(f"invoke: {elapsed * 1e3:.2f} ms, arena {interpreter.arena_size / 1e6:.2f} MB")


def _file_name(tensor_name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in tensor_name)


@main.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("-i", "--input", "inputs", multiple=True, help=_INPUT_HELP)
@click.option("--seed", default=0, show_default=True, help="Seed of the random inputs.")
@click.option("--intermediates", is_flag=True, help="Compare every tensor in execution order too.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def parity(
    model: Path, inputs: tuple[str, ...], seed: int, intermediates: bool, as_json: bool
) -> None:
    """Compare emberlite with LiteRT on MODEL, tensor by tensor; exit 1 if outputs differ.

    The rule: |ours - LiteRT| <= max(1e-5, 1e-4 * |LiteRT|) for floats, equality for integers;
    where LiteRT's own XNNPACK path drifts further on an output, twice that drift.  With
    --intermediates, names the first tensor beyond 1e-4 and the op that produced it.
    """
    content = _read_bytes(model)
    details = Interpreter(model_content=content).get_input_details()
    report = run_parity(
        content, _read_inputs(inputs, details, seed) if inputs else None, seed, intermediates
    )
    if as_json:
        click.echo(json.dumps(_report_json(report), indent=2))
    else:
        _print_parity(report, Console(highlight=False))
    if not report.ok:
        raise SystemExit(1)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise EmberliteError(f"{path}: cannot read: {e.strerror or e}") from e


def _report_json(report: ParityReport) -> dict[str, Any]:
    def row(t: TensorParity) -> dict[str, Any]:
        return {
            "index": t.index,
            "name": t.name,
            "producer": t.producer,
            **asdict(t.diff),
            "xnnpack_drift": t.drift,
            "bar": t.bar,
            "ok": t.ok,
        }

    first = report.first_divergent
    return {
        "reference": report.reference,
        "ok": report.ok,
        "outputs": [row(t) for t in report.outputs],
        "intermediates": [row(t) for t in report.intermediates],
        "first_divergent": row(first) if first else None,
    }


def _print_parity(report: ParityReport, console: Console) -> None:
    console.print(
        f"reference: {report.reference}; bar: 1e-4 relative (1e-5 absolute floor), or "
        "twice LiteRT's own XNNPACK drift where that is larger"
    )
    columns = ("tensor", "name", "produced by", "max abs", "max rel", "bar", "mismatched", "")
    for title, rows in (
        ("outputs", report.outputs),
        ("tensors in execution order", report.intermediates),
    ):
        if not rows:
            continue
        table = Table(*columns, title=title, box=None, title_justify="left")
        for t in rows:
            mark = "[green]ok[/]" if t.ok else "[red]DIFFERS[/]"
            table.add_row(
                str(t.index),
                t.name,
                t.producer,
                f"{t.diff.max_abs:.3g}",
                f"{t.diff.max_rel:.3g}",
                f"{t.bar:.3g}",
                f"{t.diff.mismatched}/{t.diff.size}",
                mark,
            )
        console.print(table)
    first = report.first_divergent
    verdict = "[green]outputs within the bar[/]" if report.ok else "[red]outputs differ[/]"
    if first is None:
        console.print(f"{verdict}; every compared tensor is within 1e-4")
    else:
        console.print(
            f"{verdict}; first tensor beyond 1e-4: {first.index} {first.name!r}, "
            f"produced by {first.producer}"
        )


@main.command("convert")
@click.argument("source", metavar="INPUT", type=click.Path(path_type=Path))
@click.option(
    "-o", "--output", required=True, type=click.Path(path_type=Path), help="The .tflite to write."
)
@click.option(
    "--quantize",
    default="none",
    show_default=True,
    metavar="|".join(QUANTIZE_MODES),
    help="Weights as float32, or stored as float16 (half the size).",
)
@click.option("--signature", help="The bundle signature to convert (default: serving_default).")
@click.option("--no-optimize", is_flag=True, help="Write the graph as lowered, unoptimized.")
@click.option(
    "--disable",
    multiple=True,
    metavar="PASS",
    help="Skip an optimization pass (repeatable, or comma-separated).",
)
def convert_command(
    source: Path,
    output: Path,
    quantize: str,
    signature: str | None,
    no_optimize: bool,
    disable: tuple[str, ...],
) -> None:
    """Convert INPUT (a bundle directory or an .onnx file) to a .tflite model."""
    result = convert_model(
        source,
        output,
        quantize=quantize,
        signature=signature,
        optimize=not no_optimize,
        disable=[name.strip() for names in disable for name in names.split(",") if name.strip()],
    )
    _print_conversion(result, Console(highlight=False))


def _print_conversion(result: ConversionResult, console: Console) -> None:
    before, after = result.ops_before, result.ops_after
    table = Table("op", "before", "after", box=None)
    for op in sorted(before.keys() | after.keys()):
        table.add_row(op, str(before.get(op, 0)), str(after.get(op, 0)))
    console.print(table)
    console.print(
        f"ops: {sum(before.values())} -> {sum(after.values())}; "
        f"size: {_size_text(result.size)}; "
        f"time: {result.seconds:.2f} s"
    )
    console.print(f"wrote {result.output}", soft_wrap=True)


def _size_text(size: int) -> str:
    scaled = f"{size / 1e6:.2f} MB" if size >= 1e6 else f"{size / 1e3:.1f} kB"
    return f"{scaled} ({size} bytes)"


if __name__ == "__main__":
    main()

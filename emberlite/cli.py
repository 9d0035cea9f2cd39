"""The `emberlite` command line.

Every command's EmberliteError becomes one line, `emberlite: error: <message>`, on stderr and
exit status 1; that is handled once, in `_Group.invoke`, so new commands get it for free.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from emberlite import __version__
from emberlite.check import check_model
from emberlite.errors import EmberliteError
from emberlite.inspect import render, summarize
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


if __name__ == "__main__":
    main()

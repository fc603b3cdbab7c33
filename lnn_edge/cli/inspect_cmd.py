"""``lnn-edge inspect``: print what a model file holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from lnn_edge.cli.common import print_json
from lnn_edge.model.modelfile import load
from lnn_edge.model.summary import format_summary, summarize


@click.command("inspect")
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def command(model: Path, as_json: bool) -> None:
    """Summarize MODEL (.lnn): kind, neurons by role, synapses, parameters, inputs, outputs, memory.

    \b
    Example:
      lnn-edge inspect pendulum.lnn

    A model imported with --expect shows the check: "verified against io.npz ..." with the error reached.
    """
    loaded = load(model)
    info = summarize(loaded)
    verified = loaded.provenance.get("verified")
    if as_json:
        print_json({**info, **({"verified": verified} if verified else {})})
    else:
        click.echo(format_summary(info))
        if verified:
            click.echo(verified_line(verified))


def verified_line(verified: dict[str, Any]) -> str:
    """The ``import --expect`` check stored in the file, as one line."""
    options = " ".join(f"{name}={value}" for name, value in verified["options"].items())
    return (
        f"verified against {verified['file']} (sha256 {verified['sha256'][:16]}): error {verified['error']:.2g} of "
        f"y's range, threshold {verified['threshold']:g}; options {options}"
    )

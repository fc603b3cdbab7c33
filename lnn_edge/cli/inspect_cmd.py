"""``lnn-edge inspect``: print what a model file holds."""

from __future__ import annotations

from pathlib import Path

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
    """
    info = summarize(load(model))
    if as_json:
        print_json(info)
    else:
        click.echo(format_summary(info))

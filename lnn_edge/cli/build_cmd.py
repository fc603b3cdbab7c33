"""``lnn-edge build``: cross-compile an export with the firmware for a board and report flash/RAM use."""

from __future__ import annotations

from pathlib import Path

import click

from lnn_edge.cli.common import note_failed_verdict, note_unlisted, print_json
from lnn_edge.target.boards import DEFAULT_BOARD
from lnn_edge.target.build import build_firmware, describe


@click.command("build")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--board", default=DEFAULT_BOARD, show_default=True, help="Board name (lnn-edge boards) or a .toml file.")
@click.option("--force", is_flag=True, help="Rebuild even if nothing changed.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (paths and sizes).")
def command(directory: Path, board: str, force: bool, as_json: bool) -> None:
    """Build the firmware for the export in DIRECTORY into DIRECTORY/fw/<board>/.

    Writes firmware.elf, .bin and .hex (atomically) and prints flash and RAM use, the model's share and the
    rest, against the board's memory; fails with a clear message when the image does not fit. Unchanged
    inputs reuse the previous build.

    \b
    Examples:
      lnn-edge build out/pendulum --board qemu-mps2-an386
      lnn-edge build out/pendulum --board nucleo-f401re --json
    """
    result = build_firmware(directory, board, force=force)
    note_unlisted(result.export)  # the export build_firmware loaded: not a second load and hash pass
    note_failed_verdict(result.export)
    if as_json:
        print_json(result.as_dict())
    else:
        click.echo(describe(result))

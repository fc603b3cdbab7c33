"""``lnn-edge boards``: list the board definitions (name, core, clock, memory, how to flash, emulated)."""

from __future__ import annotations

import click

from lnn_edge.cli.common import print_json
from lnn_edge.target.boards import DEFAULT_BOARD, list_boards


def _size(size: int) -> str:
    return f"{size // (1 << 20)} MiB" if size >= 1 << 20 and size % (1 << 20) == 0 else f"{size // 1024} KiB"


@click.command("boards")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with every board.")
def command(as_json: bool) -> None:
    """List the boards lnn-edge can build for, flash and verify on.

    Emulated boards run in QEMU (tests and CI use them); real boards build and link within their memory
    and are flashed with pyOCD, OpenOCD or picotool. The default board is marked with *.

    \b
    Examples:
      lnn-edge boards
      lnn-edge boards --json
    """
    boards = list_boards()
    if as_json:
        print_json({"default": DEFAULT_BOARD, "boards": [board.summary() for board in boards]})
        return
    rows = [("name", "core", "clock", "flash", "RAM", "UART", "flash with", "emulated")]
    for board in boards:
        method = board.flash_method if not board.emulated else f"qemu {board.qemu_machine}"
        rows.append((
            board.name + (" *" if board.name == DEFAULT_BOARD else ""), board.core, f"{board.clock_hz / 1e6:g} MHz",
            _size(board.flash.size), _size(board.ram.size), board.uart.driver, method,
            "yes" if board.emulated else (f"no (twin: {board.qemu_twin})" if board.qemu_twin else "no"),
        ))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())

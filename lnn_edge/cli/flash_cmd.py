"""``lnn-edge flash``: flash a real board (pyOCD/OpenOCD/picotool) or start an emulated one in QEMU."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from lnn_edge.atomic import atomic_file, check_file_target
from lnn_edge.cli.common import note_failed_verdict, print_json
from lnn_edge.outputs import is_port_file
from lnn_edge.target.boards import DEFAULT_BOARD, load_board
from lnn_edge.target.build import build_firmware
from lnn_edge.target.flash import flash_plan, qemu_plan, run_plan
from lnn_edge.target.qemu import start


def _write_port_file(path: Path, url: str) -> None:
    with atomic_file(path, kind="port file", is_own=is_port_file) as tmp:
        tmp.write_text(url + "\n")


def _show_plan(tool: str, command: list[str], shell: str, as_json: bool) -> None:
    if as_json:
        print_json({"tool": tool, "command": command, "shell": shell})  # shell: with any preparing command
    else:
        click.echo(shell)


@click.command("flash")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--board", default=DEFAULT_BOARD, show_default=True, help="Board name (lnn-edge boards) or a .toml file.")
@click.option("--tool", type=click.Choice(["pyocd", "openocd", "picotool"]), default=None,
              help="Real boards: flash with this tool instead of the board's preferred one.")  # fmt: skip
@click.option("--dry-run", is_flag=True, help="Print the command instead of running it.")
@click.option("--background", is_flag=True, help="Emulated boards: leave QEMU running and print its PID.")
@click.option("--port-file", type=click.Path(path_type=Path), default=None,
              help="Emulated boards: write the pyserial URL of the UART to this file.")  # fmt: skip
@click.option("--tcp-port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Emulated boards: TCP port of the UART (0: any free port).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (command, url, pid).")
def command(
    directory: Path, board: str, tool: str | None, dry_run: bool, background: bool, port_file: Path | None,
    tcp_port: int, as_json: bool,
) -> None:  # fmt: skip
    """Put the firmware for the export in DIRECTORY on a board (building it first if needed).

    Real boards: runs pyOCD, OpenOCD or picotool as the board file says. Emulated boards: starts QEMU with
    the UART on 127.0.0.1 and prints its pyserial URL (socket://127.0.0.1:PORT); QEMU runs until Ctrl-C,
    or in the background with --background.

    \b
    Examples:
      lnn-edge flash out/pendulum --board nucleo-f401re --dry-run
      lnn-edge flash out/pendulum --board qemu-mps2-an386 --background --port-file port.txt
      lnn-edge verify out/pendulum --port "$(cat port.txt)"
    """
    target = load_board(board)
    built = build_firmware(directory, target)
    note_failed_verdict(built.export)
    if not target.emulated:
        plan = flash_plan(target, built, tool)
        if dry_run:
            _show_plan(plan.tool, plan.command, plan.shell(), as_json)
            return
        run_plan(plan)
        if as_json:
            print_json({"tool": plan.tool, "command": plan.command, "board": target.name, "flashed": True})
        else:
            click.echo(f"flashed {built.export.name} to {target.name} with {plan.tool}")
        return
    if dry_run:
        plan = qemu_plan(target, built.elf, tcp_port or 5555)
        _show_plan(plan.tool, plan.command, plan.shell(), as_json)
        return
    if port_file is not None:  # refused before QEMU starts: a refusal after would leave it running unnamed
        check_file_target(port_file, "port file", is_port_file)
    instance = start(target, built.elf, tcp_port=tcp_port, workdir=built.directory, detach=background)
    if port_file is not None:
        try:
            _write_port_file(port_file, instance.url)
        except BaseException:  # it changed meanwhile, or the disk is full: stop the QEMU nobody can find
            with contextlib.suppress(Exception):
                instance.stop()
            raise
    if as_json:
        print_json({"board": target.name, "url": instance.url, "pid": instance.pid, "background": background})
    else:
        click.echo(f"{target.name} runs in QEMU (pid {instance.pid}); its UART: {instance.url}")
        click.echo(f"  lnn-edge verify {directory} --port {instance.url}")
    if background:
        return
    if not as_json:
        click.echo("press Ctrl-C to stop")
    try:
        instance.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        with contextlib.suppress(Exception):
            instance.stop()
        if port_file is not None:
            with contextlib.suppress(OSError):
                port_file.unlink()

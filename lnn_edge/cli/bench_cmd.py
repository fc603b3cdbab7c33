"""``lnn-edge bench``: instructions per step, mix, flash, RAM and stack of an export on a board's core."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from lnn_edge.bench.run import bench_export
from lnn_edge.cli.common import print_json
from lnn_edge.codegen.export import load_export
from lnn_edge.errors import LnnEdgeError
from lnn_edge.host.verify import default_sequences


def _board(name: str) -> Any:
    from lnn_edge.target.boards import load_board

    return load_board(name)


def _device_bench(export: Any, board: Any, port: str | None, steps: int) -> dict[str, Any]:
    from lnn_edge.bench.run import bench_on_device

    if port is not None:
        return bench_on_device(export, port, steps, emulated=board.emulated).as_dict()
    if not board.emulated:
        raise LnnEdgeError(f"board {board.name} is real hardware: flash it and pass its serial device with --port")
    from lnn_edge.target.verify import emulated_port

    with emulated_port(export.directory, board) as instance:
        return bench_on_device(export, instance.url, steps, emulated=True).as_dict()


def format_bench(info: dict[str, Any]) -> str:
    mix = ", ".join(f"{kind} {count:,.0f}" for kind, count in info["instruction_mix"].items() if count)
    total = info.get("flash_total_bytes")
    rows = [
        ("board", f"{info['board']} ({info['core']})"),
        ("precision", info["precision"]),
        ("instructions/step", f"{info['instructions_per_step']:,.0f} (min {info['min_instructions']:,}, "
                              f"max {info['max_instructions']:,}, over {info['steps']} steps; {info['counted_by']})"),
        ("in libgcc", f"{info['library_instructions_per_step']:,.0f} of them (division, soft-float helpers)"),
        ("instruction mix", mix),
        ("cycles/step", f"~{info['estimated_cycles_per_step']:,.0f} (ESTIMATE from the core's published timings)"),
        ("flash, model", f"{info['flash_model_bytes']:,} B code + parameters, "
                         f"{info['flash_library_bytes']:,} B libgcc"),
        ("flash, firmware", "-" if total is None else f"{total:,} B (startup, UART, protocol, model)"),
        ("RAM, static", f"{info['ram_static_bytes']} B (the state)"),
        ("stack, peak", f"{info['stack_peak_bytes']} B (painted and measured)"),
        ("bit-exact", "yes (every counted step equals the emulator)" if info["bit_exact"] else "NO"),
    ]  # fmt: skip
    device = info.get("device")
    if device:
        rows.append(
            (
                "on the device",
                f"{device['cycles_per_step']:,.0f} {device['cycles_kind']} cycles per step "
                f"(min {device['cycles_min']:,}, max {device['cycles_max']:,}) at {device['url']}",
            )
        )
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)


@click.command("bench")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option(
    "--board", "board_name", default="qemu-mps2-an386", show_default=True, help="Board (its core is counted)."
)
@click.option("--steps", type=click.IntRange(min=1, max=10_000), default=20, show_default=True, help="Steps to count.")
@click.option("--no-firmware", is_flag=True, help="Skip building the firmware (no flash_total_bytes).")
@click.option(
    "--port",
    default=None,
    metavar="URL",
    help="Also measure cycles on the device at this pyserial URL (a real board: DWT cycles).",
)
@click.option("--on-board", is_flag=True, help="Emulated boards: also run the firmware in QEMU and measure there.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def command(
    directory: Path, board_name: str, steps: int, no_firmware: bool, port: str | None, on_board: bool, as_json: bool
) -> None:
    """Benchmark the export in DIRECTORY on a board's core: exact instructions per step (the step image run in
    Unicorn, counted per basic block; outputs checked bit for bit), instruction mix, estimated cycles, flash of
    the model and of the whole firmware, static RAM and peak stack.

    \b
    Examples:
      lnn-edge bench out/pendulum --board qemu-mps2-an386
      lnn-edge bench out/pendulum --board qemu-microbit --steps 50 --json
      lnn-edge bench out/pendulum --board nucleo-f401re --port /dev/ttyACM0     # + DWT cycles on the board
      lnn-edge bench out/pendulum --board qemu-mps2-an386 --on-board            # + SysTick ticks in QEMU
    """
    export = load_export(directory)
    board = _board(board_name)
    result = bench_export(export, board.core, default_sequences(export, steps))
    info: dict[str, Any] = {"board": board.name, **result.as_dict()}
    if not no_firmware:
        from lnn_edge.target.build import build_firmware

        info["flash_total_bytes"] = build_firmware(export.directory, board).size.flash_used
    if port is not None or on_board:
        info["device"] = _device_bench(export, board, port, steps)
    if as_json:
        print_json(info)
    else:
        click.echo(format_bench(info))
    if not result.bit_exact:
        raise SystemExit(1)

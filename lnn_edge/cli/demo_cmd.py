"""``lnn-edge demo``: train, export, verify on the host, run on emulated boards, verify over serial, bench."""

from __future__ import annotations

from pathlib import Path

import click

from lnn_edge.demo import run_demo, summary_table


@click.command("demo")
@click.option(
    "-o",
    "--out",
    "directory",
    type=click.Path(path_type=Path),
    default=Path("demo-out"),
    show_default=True,
    help="Folder for the model, exports, firmware and the report.",
)
@click.option("--epochs", type=click.IntRange(min=1), default=40, show_default=True, help="Training epochs.")
@click.option("--quiet", is_flag=True, help="Only the summary.")
def command(directory: Path, epochs: int, quiet: bool) -> None:
    """Run the whole pipeline on the default model and emulated boards, and write a report.

    Trains an LTC on AutoNCP(19,2) for the built-in pendulum task, exports fixed16 and float32 C, verifies both
    on the host, builds firmware for qemu-mps2-an386 (M4F), qemu-microbit (M0) and qemu-sifive-e (RISC-V,
    RV32IMAC), runs it in QEMU, verifies it over the serial line bit for bit, counts instructions per step on
    M0/M3/M4F/M7 and RV32IMAC and writes DIR/report/README.md with plots. A rerun reuses the trained model and
    cached builds.

    \b
    Example:
      lnn-edge demo -o demo-out
    """

    def say(text: str) -> None:
        if not quiet:
            click.echo(text, err=True)

    result = run_demo(directory, epochs=epochs, say=say, progress=not quiet)
    click.echo(summary_table(result.rows))
    click.echo(f"report: {directory / 'report' / 'README.md'} ({result.seconds:.0f} s)")
    if not result.passed:
        raise SystemExit(1)

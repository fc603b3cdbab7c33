"""The ``lnn-edge`` command line: one verb per pipeline stage (see ``lnn-edge --help``)."""

from __future__ import annotations

import click

from lnn_edge import __version__
from lnn_edge.cli.common import UserErrorGroup


@click.group(cls=UserErrorGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="lnn-edge")
def cli() -> None:
    """lnn-edge: liquid neural networks (LTC, CfC, NCP) on Cortex-M and RISC-V microcontrollers, verified bit for bit.

    \b
    Typical flow:
      lnn-edge train --cell ltc --wiring autoncp:19,2 --task pendulum -o pendulum.lnn
      lnn-edge import my_state_dict.pt -o my.lnn
      lnn-edge inspect my.lnn
      lnn-edge run my.lnn --data inputs.npz -o outputs.npz
    """


def _register() -> None:
    # Imported here so that ``lnn-edge --help`` stays fast and torch is only imported by verbs that need it.
    from lnn_edge.cli import (
        bench_cmd,
        boards_cmd,
        build_cmd,
        demo_cmd,
        export_cmd,
        flash_cmd,
        import_cmd,
        inspect_cmd,
        quantize_cmd,
        run_cmd,
        train_cmd,
        verify_cmd,
    )

    for module in (train_cmd, import_cmd, inspect_cmd, quantize_cmd, run_cmd, export_cmd, verify_cmd, build_cmd,
                   flash_cmd, bench_cmd, boards_cmd, demo_cmd):  # fmt: skip
        cli.add_command(module.command)


_register()


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="lnn-edge")

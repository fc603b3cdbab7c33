"""The real ``lnn-edge`` command line, run in process (click's runner): what the CLI tests share."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from lnn_edge.cli import cli


def invoke(*args: str | Path) -> tuple[int, str, str]:
    """Run ``lnn-edge ARGS...``; (exit code, stdout, stderr). An exception the CLI does not turn into an error
    message propagates, so a crash fails the test with its traceback."""
    result = CliRunner().invoke(cli, [str(arg) for arg in args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr

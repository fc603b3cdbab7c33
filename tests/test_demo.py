"""The demo's every stage in a short CI variant: 2 training epochs, then export, host verify, QEMU boards over
serial, bench and the report (the full `make demo` trains 40 epochs; same code path)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from lnn_edge.cli import cli

pytestmark = [pytest.mark.qemu, pytest.mark.slow]


def test_demo_runs_every_stage_and_writes_a_report(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["demo", "-o", str(out), "--epochs", "2", "--quiet"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    table = result.stdout
    for target in ("Python float64", "host C (gcc), fixed16", "host C (gcc), float32", "qemu-mps2-an386 (cortex-m4f), fixed16",
                   "qemu-mps2-an386 (cortex-m4f), float32", "qemu-microbit (cortex-m0), fixed16",
                   "qemu-sifive-e (rv32imac), fixed16"):  # fmt: skip
        assert target in table, target
    assert "FAIL" not in table and "| NO |" not in table
    report = out / "report"
    text = (report / "README.md").read_text()
    assert "## Summary" in text
    for image in ("training-loss.png", "traces.png", "error.png", "instructions.png"):
        assert (report / image).read_bytes()[:4] == b"\x89PNG", image
        assert image in text
    # A rerun reuses the trained model.
    again = CliRunner().invoke(cli, ["demo", "-o", str(out), "--epochs", "2"], catch_exceptions=False)
    assert again.exit_code == 0 and "reusing the trained model" in again.stderr

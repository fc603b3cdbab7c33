"""The RISC-V row of `make demo`'s summary table: the demo's board stage on qemu-sifive-e alone (the whole demo,
with training, is tests/test_demo.py), on an untrained LTC of the demo's shape."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from ncps import wirings
from ncps.torch import LTC

from lnn_edge.codegen.export import export
from lnn_edge.demo import BENCH_CORES, BOARDS, board_row, held_out_data, summary_table
from lnn_edge.model.importers import from_module
from lnn_edge.model.model import Calibration

pytestmark = pytest.mark.qemu


def test_the_demo_runs_fixed16_on_the_risc_v_board_and_reports_its_row(tmp_path: Path) -> None:
    assert ("qemu-sifive-e", "fixed16") in BOARDS and "rv32imac" in BENCH_CORES
    sequences, targets = held_out_data(steps=16)
    torch.manual_seed(0)
    model = from_module(LTC(sequences.x.shape[-1], wirings.AutoNCP(19, 2)))
    model.calibration = Calibration(x=sequences.x, dt=sequences.dt)
    exported = export(model, tmp_path / "export-fixed16", "fixed16", name="pendulum")
    messages: list[str] = []
    row, trace = board_row(exported, "qemu-sifive-e", sequences, targets, {}, messages.append)
    assert row.target == "qemu-sifive-e (rv32imac), fixed16" and row.passed and row.bit_exact
    assert trace.shape == targets.shape
    assert row.task_rmse is not None and row.task_rmse > 0
    assert row.instructions_per_step is not None and 5_000 < row.instructions_per_step < 40_000
    assert row.flash_bytes is not None and 0 < row.flash_bytes <= 16 * 1024  # the whole image
    assert row.ram_bytes is not None and 0 < row.ram_bytes <= 16 * 1024  # the FE310's DTIM
    assert any("mcycle-icount ticks per step" in message for message in messages)
    line = next(line for line in summary_table([row]).splitlines() if line.startswith("| qemu-sifive-e"))
    assert line.endswith("| PASS |") and f"| {row.instructions_per_step:,.0f} |" in line

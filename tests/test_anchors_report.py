"""benchmarks/anchors.py and benchmarks/report.py: the RISC-V anchors of issue 17 are measured by lnn-edge's own
counter, the recorded figure follows from the committed port, and the report's RV32 tables read matrix rows."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import anchors
import report

from lnn_edge.errors import LnnEdgeError


def row(model: str, precision: str, core: str, instructions: float, **extra: Any) -> dict[str, Any]:
    return {"model": model, "precision": precision, "core": core, "instructions_per_step": instructions, **extra}


LTC, CFC = "LTC AutoNCP(19,2)", "CfC wired AutoNCP(19,2)"


def test_report_gives_rv32_columns_ratios_and_the_issue_17_targets() -> None:
    rows = [
        row(LTC, "fixed16", "rv32imc", 10_000, flash_model_bytes=3_000),
        row(LTC, "fixed16", "rv32imac", 10_000, flash_total_bytes=9_000),
        row(LTC, "fixed16", "cortex-m4f", 8_000),
        row(CFC, "fixed16", "rv32imc", 7_000),
    ]
    table = report.instruction_table(rows)
    assert table.splitlines()[0].endswith("| RV32IMC | RV32IMAC |")
    assert "| LTC AutoNCP(19,2) | fixed16 | - | - | 8,000 | - | - | 10,000 | 10,000 |" in table
    port, cmsis = (values[0] for values in report.RISCV_ANCHORS.values())
    anchors_table = report.riscv_anchor_table(rows)
    assert (
        f"| lnn-edge {LTC}, fixed16 | **10,000** | **10,000** | {port / 10_000:,.1f}x | {cmsis / 10_000:,.1f}x |"
        in (anchors_table)
    )
    assert "M4F" not in anchors_table  # RV32 rows only
    targets = {line.split(" | ")[0][2:]: line for line in report.targets_table(rows, report.RISCV_TARGETS).splitlines()}
    assert targets["RV32IMC LTC fixed16 instructions/step"].endswith("| 11,000 | 10,000 | yes |")
    assert targets["RV32IMC wired CfC fixed16 instructions/step"].endswith("| 6,000 | 7,000 | **no** |")
    assert targets["fixed16 LTC flash, parameters + step code (RV32IMC)"].endswith("| 3,584 | 3,000 | yes |")
    assert targets["whole qemu-sifive-e firmware flash, LTC fixed16"].endswith("| 8,192 | 9,000 | **no** |")
    assert targets["RV32IMC LTC fixed16: faster than CMSIS-NN's s8 LSTM"].endswith(f"| {cmsis:,} | 10,000 | yes |")
    assert targets["RV32IMC LTC float32: faster than the float32 port"].endswith("| - | - |")  # no such row


@pytest.mark.slow
def test_the_float_port_anchor_is_counted_and_computes_the_ltc(tmp_path: Path) -> None:
    """The committed port, built for RV32IMC and counted by lnn-edge's counter, matches the float64 reference
    (count_ltc_port checks it) and reproduces the figure report.py records."""
    model = anchors.matrix_models((anchors.LTC_MODEL,))[anchors.LTC_MODEL]
    found = anchors.count_ltc_port(model, "rv32imc", 4, tmp_path)  # anchors.py's default --port-steps
    recorded = report.RISCV_ANCHORS[anchors.LABELS["ltc_f32"]][0]
    assert found.core == "rv32imc" and found.steps == 4
    assert round(found.instructions_per_step) == recorded
    assert found.library_instructions_per_step > found.instructions_per_step / 2  # soft float, in libgcc


def test_the_cmsis_anchor_names_what_a_checkout_lacks(tmp_path: Path) -> None:
    (tmp_path / "Include").mkdir()
    with pytest.raises(
        LnnEdgeError, match="is not a CMSIS-NN checkout .no Source/LSTMFunctions/arm_lstm_unidirectional_s8.c"
    ):
        anchors.count_cmsis_lstm(tmp_path, "rv32imc", 2, tmp_path)


def test_the_memory_table_has_an_rv32imc_variant() -> None:
    fields = {"flash_model_bytes": 3_308, "flash_library_bytes": 0, "ram_static_bytes": 78, "stack_peak_bytes": 224}
    rows = [row(LTC, "fixed16", "rv32imc", 1.0, **fields), row(LTC, "fixed16", "cortex-m4f", 1.0, **fields)]
    lines = report.memory_table(rows, "rv32imc").splitlines()
    assert lines[2:] == ["| LTC AutoNCP(19,2) | fixed16 | 3,308 | 0 | 78 | 224 |"]


@pytest.mark.slow
def test_rows_benched_by_anchors_py_make_the_report(tmp_path: Path) -> None:
    """From lnn-edge's own rows (matrix.py's model and format, benched now) to the generated page: the RV32
    columns, the ratios against the recorded anchors and the issue-17 targets, firmware size included."""
    import json
    import subprocess

    rows = anchors.lnn_edge_rows((LTC,), ("fixed16",), ("rv32imc", "rv32imac"), 3, tmp_path / "work")
    assert [r["core"] for r in rows] == ["rv32imc", "rv32imac"] and all(r["bit_exact"] for r in rows)
    assert rows[0]["flash_total_bytes"] is None and 0 < rows[1]["flash_total_bytes"] <= 16 * 1024  # qemu-sifive-e
    (tmp_path / "matrix.json").write_text(json.dumps(rows))
    out = tmp_path / "docs" / "benchmarks.md"
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "report.py"
    subprocess.run([sys.executable, str(script), "--matrix", str(tmp_path / "matrix.json"), "--out", str(out)],
                   check=True, capture_output=True)  # fmt: skip
    page = out.read_text()
    count = rows[0]["instructions_per_step"]
    assert f"| {LTC} | fixed16 | - | - | - | - | - | {count:,.0f} | {count:,.0f} |" in page
    cmsis = report.RISCV_ANCHORS[anchors.LABELS["cmsis_lstm_s8"]][0]
    assert f"| lnn-edge {LTC}, fixed16 | **{count:,.0f}** | **{count:,.0f}** |" in page
    assert f"| {cmsis / count:,.1f}x |" in page
    firmware = f"| whole qemu-sifive-e firmware flash, LTC fixed16 | 8,192 | {rows[1]['flash_total_bytes']:,} |"
    assert firmware in page
    assert "### The targets of issue 17 (RISC-V)" in page and "99f736a63036613032f9b70de36b493bcd7802d4" in page

"""benchmarks/profile_step.py: it profiles the very model the benchmark matrix measures, and its total is the
matrix's count of that model."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import matrix

from lnn_edge.bench.run import bench_export
from lnn_edge.codegen.export import export
from lnn_edge.host.verify import default_sequences

BENCHMARKS = Path(matrix.__file__).parent
LABEL = "LTC AutoNCP(8,2)"


def test_a_model_gets_the_same_calibration_data_whichever_models_are_prepared() -> None:
    everything = dict(matrix.prepared_models())
    for label in (LABEL, "CfC wired AutoNCP(19,2) mixed memory"):
        ((name, model),) = matrix.prepared_models(only=(label,))
        chosen, expected = model.calibration, everything[label].calibration
        assert name == label and chosen is not None and expected is not None
        np.testing.assert_array_equal(chosen.x, expected.x)
        np.testing.assert_array_equal(np.asarray(chosen.dt), np.asarray(expected.dt))


def test_the_script_reports_the_matrix_count_of_the_model(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "profile_step.py"), "--model", LABEL, "--core", "rv32imc", "--top", "4"],
        capture_output=True, text=True, check=True, timeout=600,
    )  # fmt: skip
    (model,) = matrix.prepared_models(only=(LABEL,))
    exported = export(model[1], tmp_path / "export", "fixed16", name="bench")
    counted = bench_export(exported, "rv32imc", default_sequences(exported, 20))
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"{LABEL}, fixed16: {counted.instructions_per_step:,.1f} instructions per step on rv32imc")
    assert "bit-exact against the emulator: yes" in first
    stretches = [line for line in result.stdout.splitlines() if re.match(r"\s+[\d,]+\.\d\s+[\d.]+%", line)]
    assert len(stretches) == 4

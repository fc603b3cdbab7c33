"""The LTC kernels of the runtime library (lnn/lnn_ltc_q15.h, lnn_ltc_q31.h, lnn_ltc_f32.h, the ARMv6-M,
ARMv7E-M and RV32 assembly of the q15 synapse loop and the VFP assembly of the f32 one), each against the NumPy
emulator, bit for bit, outputs and state, on drawn models: on the host (portable C, and the Thumb-1 arithmetic with
LNN_THUMB1) and in Unicorn on every core the assembly targets, with the assembly and with its portable reference
(LNN_NO_ASM). Apart from the code generator's tests: a failure here points at a kernel. Also: the generated <name>.c
is data and wrappers only."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from codegen_helpers import assert_host_build_matches_emulator, export_model, random_sequences
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ncps import wirings
from ncps.torch import LTC

from lnn_edge.bench.run import bench_export
from lnn_edge.model.importers import from_module
from lnn_edge.model.model import Calibration, Model

ASM_CORES = {
    "fixed16": ("cortex-m0", "cortex-m4f", "cortex-m33", "rv32imc"),
    "fixed32": ("cortex-m3",),
    "float32": ("cortex-m4f", "cortex-m33"),
}
"""Cores whose build runs the kernel's assembly (q15: ARMv6-M, ARMv7E-M and RV32; f32: FPU cores) or, for q31, which
has none, one Thumb-2 core."""


def _model(units: int, motor: int, inputs: int, unfolds: int, seed: int) -> Model:
    torch.manual_seed(seed)
    model = from_module(LTC(inputs, wirings.AutoNCP(units, motor, seed=seed), ode_unfolds=unfolds))
    rng = np.random.default_rng(seed)
    model.calibration = Calibration(x=rng.normal(size=(2, 30, inputs)), dt=rng.uniform(0.2, 2.0, size=(2, 30)))
    return model


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    units=st.integers(5, 40),
    inputs=st.integers(1, 24),
    unfolds=st.integers(1, 7),
    seed=st.integers(0, 10_000),
    precision=st.sampled_from(["fixed16", "fixed32", "float32"]),
)
def test_ltc_kernels_equal_the_emulator_on_host_and_cores(
    tmp_path_factory: pytest.TempPathFactory, units: int, inputs: int, unfolds: int, seed: int, precision: str
) -> None:
    model = _model(units, max(1, units // 6), inputs, unfolds, seed)
    exported = export_model(model, tmp_path_factory.mktemp(precision), precision, dt="variable")
    assert_host_build_matches_emulator(exported, seed, ())
    assert_host_build_matches_emulator(
        exported, seed, ("-DLNN_THUMB1",) if precision == "fixed16" else ("-DLNN_NO_ASM",)
    )
    sequences = random_sequences(np.random.default_rng(seed + 1), 1, 8, inputs, scale=2.0)
    for core in ASM_CORES[precision]:
        for flags in ((), ("-DLNN_NO_ASM",)):
            assert bench_export(exported, core, sequences, flags).bit_exact, (core, flags)


@pytest.mark.parametrize("precision", ["fixed16", "fixed32", "float32"])
def test_generated_ltc_source_is_data_and_wrappers(tmp_path: Path, precision: str) -> None:
    """No loop and no inline assembly in <name>.c: the logic is in lnn/, the file holds constants, tables and
    one-line wrappers; the assembly sits in the architecture's own file of lnn/."""
    exported = export_model(_model(19, 2, 20, 6, 0), tmp_path / "out", precision)
    source = (exported.directory / f"{exported.name}.c").read_text()
    code = re.sub(r"/\*.*?\*/", "", source, flags=re.S)  # comments may say what the kernel does
    assert not re.search(r"\b(for|while|do)\b", code)
    assert "asm" not in code and "__asm" not in code
    assert re.search(r'#include "lnn/lnn_ltc_(q15|q31|f32)\.h"', code)
    runtime = exported.directory / "lnn"
    asm_files = sorted(p.name for p in runtime.iterdir() if "__asm__" in p.read_text())
    assert asm_files == [
        "lnn_f32_vfp.h",
        "lnn_ltc_f32_vfp.h",
        "lnn_ltc_q15_armv6m.h",
        "lnn_ltc_q15_armv7em.h",
        "lnn_ltc_q15_rv32.h",
    ]

"""The CfC fixed-point kernels of the runtime library (lnn/lnn_cfc_q15.h, lnn_cfc_q31.h), each against the NumPy
emulator, bit for bit, outputs and state, on drawn models (dense with and without a backbone, wired; every mode;
fixed16 and fixed32): on the host (portable C, and under ASan/UBSan with LNN_NO_ASM) and in Unicorn on the cores
with the DSP path of the q15 passes (Cortex-M4F, M33; with it and with its portable reference, LNN_NO_ASM) and on
one without it (Cortex-M3). Apart from the code generator's tests: a failure here points at a kernel. Also: the
generated <name>.c is data and wrappers only, and lnn/ is the same library for every model."""

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
from ncps.torch import CfC

from lnn_edge.bench.run import bench_export
from lnn_edge.model.importers import from_module
from lnn_edge.model.model import Calibration, Model

CORES = ("cortex-m4f", "cortex-m33", "cortex-m3")
"""Two cores whose build takes the DSP path of the q15 passes (SMLAD) and one whose build takes the portable C."""
MODES = ("default", "no_gate", "pure")
ACTIVATIONS = ("lecun_tanh", "tanh", "relu", "silu", "gelu")


def _model(kind: str, units: int, inputs: int, mode: str, activation: str, seed: int) -> Model:
    """A CfC of ``kind`` "wired" (AutoNCP), "dense" (no backbone) or "backbone" (one or two backbone layers)."""
    torch.manual_seed(seed)
    if kind == "wired":
        module = CfC(inputs, wirings.AutoNCP(max(units, 4), max(1, units // 4), seed=seed), mode=mode)
    elif kind == "dense":
        module = CfC(inputs, units, proj_size=min(2, units), mode=mode, backbone_layers=0)
    else:
        module = CfC(
            inputs, units, mode=mode, activation=activation, backbone_layers=1 + seed % 2,
            backbone_units=3 + seed % 9,
        )  # fmt: skip
    model = from_module(module)
    rng = np.random.default_rng(seed)
    model.calibration = Calibration(x=rng.normal(size=(2, 30, inputs)), dt=rng.uniform(0.2, 2.0, size=(2, 30)))
    return model


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from(["dense", "backbone", "wired"]),
    units=st.integers(1, 24),
    inputs=st.integers(1, 12),
    mode=st.sampled_from(MODES),
    activation=st.sampled_from(ACTIVATIONS),
    seed=st.integers(0, 10_000),
    precision=st.sampled_from(["fixed16", "fixed32"]),
)
def test_cfc_fixed_kernels_equal_the_emulator_on_host_and_cores(
    tmp_path_factory: pytest.TempPathFactory,
    kind: str,
    units: int,
    inputs: int,
    mode: str,
    activation: str,
    seed: int,
    precision: str,
) -> None:
    model = _model(kind, units, inputs, mode, activation, seed)
    exported = export_model(model, tmp_path_factory.mktemp(precision), precision, dt="variable")
    assert_host_build_matches_emulator(exported, seed, ())
    assert_host_build_matches_emulator(exported, seed, ("-DLNN_NO_ASM",))
    sequences = random_sequences(np.random.default_rng(seed + 1), 1, 8, inputs, scale=2.0)
    for core in CORES:
        for flags in ((), ("-DLNN_NO_ASM",)) if core != "cortex-m3" else ((),):
            assert bench_export(exported, core, sequences, flags).bit_exact, (core, flags)


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fixed16", "fixed32"])
@pytest.mark.parametrize("kind", ["backbone", "wired"])
def test_cfc_fixed_kernels_every_mode_and_activation(tmp_path: Path, precision: str, kind: str) -> None:
    """Every mode (and, with a backbone, every activation) at least once, on the host."""
    for index, mode in enumerate(MODES):
        for activation in ACTIVATIONS if kind == "backbone" else ACTIVATIONS[:1]:
            model = _model(kind, 9, 5, mode, activation, index)
            assert_host_build_matches_emulator(
                export_model(model, tmp_path / f"{mode}-{activation}", precision), index, ()
            )


@pytest.mark.parametrize("precision", ["fixed16", "fixed32"])
def test_generated_cfc_fixed_source_is_data_and_wrappers(tmp_path: Path, precision: str) -> None:
    """No loop and no inline assembly in <name>.c: the step is in lnn/, the file holds constants, arrays,
    descriptors and one-line wrappers. lnn/ is byte for byte the same for two different models."""
    sources = {}
    for kind in ("backbone", "wired"):
        exported = export_model(_model(kind, 12, 6, "default", "silu", 3), tmp_path / kind, precision)
        source = (exported.directory / f"{exported.name}.c").read_text()
        code = re.sub(r"/\*.*?\*/", "", source, flags=re.S)  # comments may say what the kernel does
        assert not re.search(r"\b(for|while|do)\b", code)
        assert "asm" not in code
        assert re.search(r'#include "lnn/lnn_cfc_(q15|q31)\.h"', code)
        runtime = exported.directory / "lnn"
        sources[kind] = {path.name: path.read_bytes() for path in sorted(runtime.iterdir())}
    assert sources["backbone"] == sources["wired"]
    assert {"lnn_cfc_q15.h", "lnn_cfc_q31.h"} <= set(sources["wired"])

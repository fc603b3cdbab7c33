"""Generated LTC C == the emulator, bit for bit, every step, outputs and state, for every precision;
strict compiles for the host and four Cortex-M cores; a clean ASan/UBSan run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from codegen_helpers import assert_c_matches_emulator, export_model, random_sequences
from hypothesis import given, settings
from hypothesis import strategies as st
from ncps import wirings
from ncps.torch import LTC
from ncps_oracle import randomize_parameters

from lnn_edge.emulator import Emulator
from lnn_edge.importers import from_module
from lnn_edge.model import Calibration, Model
from lnn_edge.toolchain import CORE_FLAGS, sanitizer_run, strict_compile
from lnn_edge.verify_host import emulator_raw, raw_inputs

PRECISIONS = ["float32", "fixed16", "fixed32"]


def _ltc(wiring: wirings.Wiring, inputs: int, seed: int, scale: float | None = None, **options: object) -> Model:
    torch.manual_seed(seed)
    module = LTC(inputs, wiring, **options)  # type: ignore[arg-type]
    if scale is not None:
        randomize_parameters(module, np.random.default_rng(seed), scale=scale)
        module.rnn_cell.apply_weight_constraints()
    model = from_module(module)
    rng = np.random.default_rng(seed + 1)
    model.calibration = Calibration(x=rng.normal(size=(3, 40, inputs)), dt=rng.uniform(0.05, 3.0, size=(3, 40)))
    return model


@st.composite
def wiring_draws(draw: st.DrawFn) -> wirings.Wiring:
    kind = draw(st.sampled_from(["fc", "random", "ncp", "autoncp"]))
    seed = draw(st.integers(0, 1000))
    if kind == "fc":
        units = draw(st.integers(1, 64))
        return wirings.FullyConnected(units, draw(st.integers(1, units)), erev_init_seed=seed)
    if kind == "random":
        units = draw(st.integers(2, 64))
        return wirings.Random(
            units, draw(st.integers(1, units)), draw(st.sampled_from([0.2, 0.5, 0.9])), random_seed=seed
        )
    if kind == "ncp":
        inter, command, motor = draw(st.integers(1, 20)), draw(st.integers(1, 20)), draw(st.integers(1, 8))
        return wirings.NCP(
            inter, command, motor, draw(st.integers(1, inter)), draw(st.integers(1, command)),
            draw(st.integers(0, 6)), draw(st.integers(1, command)), seed=seed,
        )  # fmt: skip
    units = draw(st.integers(5, 64))
    return wirings.AutoNCP(units, draw(st.integers(1, units - 3)), seed=seed)


@settings(max_examples=12)
@given(
    wiring=wiring_draws(),
    inputs=st.integers(1, 32),
    unfolds=st.integers(1, 8),
    mapping=st.sampled_from(["affine", "linear", "none"]),
    scale=st.sampled_from([None, 0.5, 2.0]),
    seed=st.integers(0, 10_000),
)
def test_ltc_c_equals_emulator_drawn(
    tmp_path_factory: pytest.TempPathFactory, wiring: wirings.Wiring, inputs: int, unfolds: int, mapping: str,
    scale: float | None, seed: int,
) -> None:  # fmt: skip
    model = _ltc(wiring, inputs, seed, scale, ode_unfolds=unfolds, input_mapping=mapping, output_mapping=mapping)
    sequences = random_sequences(np.random.default_rng(seed), 2, 30, inputs, scale=2.0)
    for precision in PRECISIONS:
        directory = tmp_path_factory.mktemp(precision)
        exported = export_model(model, directory / "out", precision, dt="variable" if seed % 2 else None)
        assert_c_matches_emulator(exported, sequences)


@pytest.mark.parametrize("precision", PRECISIONS)
def test_fixed_dt_export_uses_precomputed_constants_bit_exactly(tmp_path: Path, precision: str) -> None:
    model = _ltc(wirings.AutoNCP(19, 2), 20, seed=4)
    sequences = random_sequences(np.random.default_rng(0), 2, 50, 20)
    sequences.dt[:] = model.dt  # every step at the default dt: the precomputed path
    sequences.dt[1, ::7] = 0.3  # and some other elapsed times: the computed path
    exported = export_model(model, tmp_path / "out", precision, dt=1.0)
    assert_c_matches_emulator(exported, sequences)


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    model = _ltc(wirings.AutoNCP(19, 2), 20, seed=5)
    return {p: export_model(model, tmp_path_factory.mktemp(p) / "out", p, name="ltc_" + p) for p in PRECISIONS}


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("core", [None, "cortex-m0", "cortex-m3", "cortex-m4f", "cortex-m7"])
def test_strict_compile_host_and_cores(exports: dict[str, object], precision: str, core: str | None) -> None:
    exported = exports[precision]
    result = strict_compile(exported.directory, exported.name, core)  # type: ignore[attr-defined]
    assert result.ok, result.output
    assert core is None or core in CORE_FLAGS


@pytest.mark.parametrize("precision", PRECISIONS)
def test_sanitizer_run_is_clean_and_bit_exact(exports: dict[str, object], precision: str) -> None:
    exported = exports[precision]
    qmodel = exported.qmodel  # type: ignore[attr-defined]
    emulator = Emulator(qmodel)
    sequences = random_sequences(np.random.default_rng(3), 2, 40, 20, scale=3.0)
    x_raw, dt_raw = raw_inputs(emulator, sequences)
    dtype = np.dtype({"float32": np.float32, "fixed16": np.int16, "fixed32": np.int32}[precision])
    y, state = sanitizer_run(exported.directory, exported.name, x_raw, dt_raw, dtype, 2, 19)  # type: ignore[attr-defined]
    y_e, state_e = emulator_raw(emulator.run(sequences.x, sequences.dt, check=False), qmodel.is_fixed)
    assert np.array_equal(
        y.view(np.uint32) if precision == "float32" else y,
        y_e.view(np.uint32) if precision == "float32" else y_e,
    )
    assert np.array_equal(state.astype(state_e.dtype), state_e)


def test_example_main_builds_and_runs(exports: dict[str, object], tmp_path: Path) -> None:
    import subprocess

    for precision in PRECISIONS:
        exported = exports[precision]
        binary = tmp_path / f"example_{precision}"
        directory = exported.directory  # type: ignore[attr-defined]
        subprocess.run(
            ["gcc", "-std=c99", "-Wall", "-Wextra", "-Wconversion", "-Werror", "-pedantic", "-O2", "-ffp-contract=off",
             str(directory / "example_main.c"), str(directory / f"{exported.name}.c"), "-o", str(binary)],  # type: ignore[attr-defined]
            check=True,
        )  # fmt: skip
        output = subprocess.run([str(binary)], capture_output=True, text=True, check=True).stdout
        assert output.count("step") == 10

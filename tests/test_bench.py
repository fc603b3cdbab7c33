"""Instruction counts: Unicorn per basic block == QEMU's TCG plugin per step; the bench verb's figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from ncps import wirings
from ncps.torch import LTC, CfC
from support.qemu_icount import qemu_step_counts

from lnn_edge.bench.image import build_bench_image
from lnn_edge.bench.instr_count import classify, count_steps
from lnn_edge.bench.profile import profile_export
from lnn_edge.bench.run import VALUE_DTYPES, bench_export
from lnn_edge.cli import cli
from lnn_edge.codegen.export import Export, export
from lnn_edge.host.verify import default_sequences, raw_inputs
from lnn_edge.model.datafile import Sequences
from lnn_edge.model.importers import from_module
from lnn_edge.model.model import Calibration
from lnn_edge.quant.emulator import Emulator


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Export]:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    out = {}
    for cell, module in (("ltc", LTC(20, wirings.AutoNCP(19, 2))), ("cfc", CfC(20, wirings.AutoNCP(19, 2)))):
        model = from_module(module)
        model.calibration = Calibration(x=rng.normal(size=(4, 30, 20)), dt=rng.uniform(0.5, 1.5, size=(4, 30)))
        for precision in ("float32", "fixed16", "fixed32"):
            out[f"{cell}-{precision}"] = export(model, tmp_path_factory.mktemp(cell) / precision, precision, name="m")
    return out


@pytest.mark.qemu
@pytest.mark.parametrize(
    ("key", "core"),
    [("ltc-fixed16", "cortex-m3"), ("ltc-fixed16", "cortex-m4f"), ("ltc-float32", "cortex-m7"), ("cfc-fixed16", "cortex-m4f"),
     ("cfc-float32", "cortex-m4f"), ("ltc-fixed32", "cortex-m4f")],
)  # fmt: skip
def test_unicorn_counts_equal_qemu_plugin_counts(exports: dict[str, Export], key: str, core: str) -> None:
    """The cross-check of the two independent counters, step by step (same compiled model, different images)."""
    exported = exports[key]
    sequences = default_sequences(exported, 6)
    first = Sequences(x=sequences.x[:1], dt=sequences.dt[:1])
    x_raw, dt_raw = raw_inputs(Emulator(exported.qmodel), first)
    image = build_bench_image(exported.directory, "m", core, exported.directory / "bench")
    dtype = np.dtype(VALUE_DTYPES[exported.manifest["value_type"]])
    model = exported.qmodel.model
    state_bytes = exported.manifest["memory"]["state"]
    unicorn = count_steps(image, dtype, model.state_size, x_raw[0], dt_raw[0], model.output_size, state_bytes)
    qemu = qemu_step_counts(exported.directory, "m", core, x_raw[0], dt_raw[0], exported.manifest["value_type"])
    assert qemu == unicorn.per_step
    assert min(qemu) > 1000


@pytest.mark.slow
@pytest.mark.parametrize("core", ["cortex-m0", "cortex-m3", "cortex-m4f", "cortex-m7", "cortex-m33"])
@pytest.mark.parametrize(
    "key", ["ltc-float32", "ltc-fixed16", "ltc-fixed32", "cfc-float32", "cfc-fixed16", "cfc-fixed32"]
)
def test_cross_compiled_step_is_bit_exact_and_measured(exports: dict[str, Export], key: str, core: str) -> None:
    result = bench_export(exports[key], core, default_sequences(exports[key], 4))
    assert result.bit_exact
    assert result.instructions_per_step > 1000
    assert 0 < result.flash_model_bytes < 64 * 1024
    assert 0 < result.stack_peak_bytes < 4096
    assert sum(result.instruction_mix.values()) == pytest.approx(result.instructions_per_step)
    assert 0 <= result.library_instructions_per_step < result.instructions_per_step
    if core in ("cortex-m4f", "cortex-m7", "cortex-m33") and "float32" in key:
        assert result.instruction_mix["fp"] > 0 and result.flash_library_bytes == 0  # hardware FPU, no soft-float
        assert result.library_instructions_per_step == 0
    if core == "cortex-m0" and "fixed16" in key and key.startswith("ltc"):
        # __aeabi_idiv: M0 has no divide instruction. Each neuron with internal synapses divides once per unfold
        # (dozens of instructions, counted inside libgcc); the others go through a reciprocal in the model's code.
        assert result.flash_library_bytes > 0
        model = exports[key].qmodel.model
        assert model.ltc is not None
        wired = int((model.arrays["sparsity_mask"].sum(axis=0) > 0).sum())
        assert wired > 0 and result.library_instructions_per_step > 20 * wired * model.ltc.ode_unfolds


def test_classify_uses_canonical_names() -> None:
    assert [classify(n) for n in ("ldrsh", "vldr", "pop", "str", "push", "sdiv", "vdiv", "smlabb", "mla", "bl", "bne", "cbz",
                                  "vmul", "add", "it", "bic")] == [
        "load", "load", "load", "store", "store", "divide", "divide", "multiply", "multiply", "branch", "branch",
        "branch", "fp", "other", "other", "other",
    ]  # fmt: skip


@pytest.mark.slow
def test_bench_cli_json(exports: dict[str, Export]) -> None:
    directory = str(exports["ltc-fixed16"].directory)
    result = CliRunner().invoke(cli, ["bench", directory, "--board", "qemu-mps2-an386", "--steps", "5", "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    for key in (
        "instructions_per_step",
        "flash_model_bytes",
        "flash_total_bytes",
        "ram_static_bytes",
        "stack_peak_bytes",
    ):
        assert info[key] > 0, key
    assert info["flash_total_bytes"] > info["flash_model_bytes"]
    assert info["core"] == "cortex-m4f" and info["bit_exact"] is True


@pytest.mark.slow
def test_bench_cli_unknown_board(exports: dict[str, Export], tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["bench", str(exports["ltc-fixed16"].directory), "--board", "no-such-board"])
    assert result.exit_code == 1 and "no-such-board" in result.stderr


@pytest.mark.qemu
def test_bench_on_the_emulated_board_measures_cycles_over_serial(exports: dict[str, Export]) -> None:
    """The same verb asks the firmware (in QEMU) to BENCH itself: SysTick ticks under -icount track the exact count."""
    directory = str(exports["ltc-fixed16"].directory)
    result = CliRunner().invoke(
        cli, ["bench", directory, "--board", "qemu-mps2-an386", "--steps", "20", "--on-board", "--json"]
    )
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    device = info["device"]
    assert device["cycles_kind"] == "systick-icount" and device["board"] == "qemu-mps2-an386"
    # an386 runs -icount shift=6 at 25 MHz: 1.6 ticks per instruction; the BENCH loop adds a few instructions.
    instructions = device["cycles_per_step"] / 1.6
    assert info["instructions_per_step"] <= instructions <= info["instructions_per_step"] * 1.05


def test_the_bench_and_build_folders_are_not_called_user_files(tmp_path: Path) -> None:
    """``bench/`` and ``fw/`` are lnn-edge's own outputs in an export: the note about unlisted files (which every
    verb prints, and which broke --json readers that mixed it in) must not name them."""
    from lnn_edge.codegen.export import load_export, unlisted_files
    from lnn_edge.target.build import build_firmware

    torch.manual_seed(0)
    model = from_module(LTC(3, wirings.AutoNCP(8, 2)))
    model.calibration = Calibration(x=np.random.default_rng(0).normal(size=(2, 10, 3)))
    exported = export(model, tmp_path / "out", "fixed16", name="m")
    bench_export(exported, "cortex-m0", default_sequences(exported, 2))
    build_firmware(exported.directory, "qemu-mps2-an386")
    assert (exported.directory / "bench").is_dir() and (exported.directory / "fw").is_dir()
    assert unlisted_files(load_export(exported.directory)) == []
    (exported.directory / "mine.txt").write_text("a user's file")
    assert unlisted_files(load_export(exported.directory)) == ["mine.txt"]


@pytest.mark.parametrize(
    ("key", "core"),
    [("ltc-fixed16", "rv32imc"), ("ltc-fixed16", "cortex-m0"), ("cfc-fixed16", "cortex-m4f"), ("ltc-float32", "cortex-m3")],
)  # fmt: skip
def test_the_profile_accounts_for_every_counted_instruction(exports: dict[str, Export], key: str, core: str) -> None:
    """benchmarks/profile_step.py's attribution: Capstone's decoding of the executed blocks, per address, adds up
    to the counter's instructions per step (block lengths from the encoding), line by line and stretch by stretch;
    Thumb-2 IT blocks (M3), Thumb-1 (M0), RV32C and libgcc's soft-float (float32 on M3) included."""
    exported = exports[key]
    sequences = default_sequences(exported, 4)
    profile = profile_export(exported, core, sequences)
    counted = bench_export(exported, core, sequences)
    assert profile.bit_exact and counted.bit_exact
    assert profile.steps == counted.steps == 4
    assert sum(line.per_step for line in profile.lines) == pytest.approx(counted.instructions_per_step, abs=1e-9)
    stretches = profile.stretches()
    assert sum(stretch.per_step for stretch in stretches) == pytest.approx(counted.instructions_per_step, abs=1e-9)
    assert sum(stretch.instructions for stretch in stretches) == len(profile.lines)
    assert [s.per_step for s in stretches] == sorted((s.per_step for s in stretches), reverse=True)
    # the hottest stretch runs many times a step: a loop of the step itself, or in soft float a libgcc helper
    # (named as such, not folded into the step)
    assert stretches[0].times_per_step >= 19
    assert stretches[0].symbol == ("__aeabi_fadd" if key == "ltc-float32" else "m_step_dt")
    text = profile.format(top=5, listing=True)
    assert text.count("\n") > len(profile.lines) and f"{counted.instructions_per_step:,.1f} instructions" in text

"""Generated LTC C == the emulator, bit for bit, every step, outputs and state, for every precision;
strict compiles for the host and four Cortex-M cores; a clean ASan/UBSan run."""

from __future__ import annotations

import subprocess
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
from strategies import wiring_draws
from support.compile_checks import sanitizer_run, strict_compile

from lnn_edge.codegen.export import Export
from lnn_edge.host.verify import emulator_raw, raw_inputs
from lnn_edge.model.datafile import Sequences
from lnn_edge.model.importers import from_module
from lnn_edge.model.model import Calibration, Model
from lnn_edge.quant.emulator import Emulator
from lnn_edge.target.toolchain import CORE_FLAGS

PRECISIONS = ["float32", "fixed16", "fixed32"]


def _ltc(wiring: wirings.Wiring, inputs: int, seed: int, scale: float | None = None, **options: object) -> Model:
    torch.manual_seed(seed)
    module = LTC(inputs, wiring, **options)
    if scale is not None:
        randomize_parameters(module, np.random.default_rng(seed), scale=scale)
        module.rnn_cell.apply_weight_constraints()
    model = from_module(module)
    rng = np.random.default_rng(seed + 1)
    model.calibration = Calibration(x=rng.normal(size=(3, 40, inputs)), dt=rng.uniform(0.05, 3.0, size=(3, 40)))
    return model


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("core", [None, "cortex-m0", "cortex-m3", "cortex-m4f", "cortex-m7"])
def test_strict_compile_host_and_cores(exports: dict[str, object], precision: str, core: str | None) -> None:
    exported = exports[precision]
    result = strict_compile(exported.directory, exported.name, core)  # type: ignore[attr-defined]
    assert result.ok, result.output
    assert core is None or core in CORE_FLAGS


@pytest.mark.parametrize(("march", "mabi"), [("rv32i", "ilp32"), ("rv32ec", "ilp32e"), ("rv32emc", "ilp32e")])
def test_fixed16_builds_for_rv32_parts_the_assembly_cannot_run_on(
    exports: dict[str, object], tmp_path: Path, march: str, mabi: str
) -> None:
    """lnn_ltc_q15_rv32.h needs M (mul, mulhsu) and more registers than RV32E's 15: a part without M, or an
    RV32E one (WCH's CH32V003 is RV32EC), builds the portable C loop, warning-free. Before its guard asked for
    __riscv_mul and no __riscv_32e, these builds failed (`mul` unknown without M; impossible asm constraints on
    RV32E). The C loop's bit-exactness on RV32 is tested in test_runtime_ltc.py (-DLNN_NO_ASM on rv32imc)."""
    from lnn_edge.host.harness import NUMERIC_FLAGS, STRICT_FLAGS
    from lnn_edge.target.toolchain import require_tool

    exported = exports["fixed16"]
    directory, name = exported.directory, exported.name  # type: ignore[attr-defined]
    command = [require_tool("riscv64-unknown-elf-gcc"), *STRICT_FLAGS, *NUMERIC_FLAGS, f"-march={march}",
               f"-mabi={mabi}", "-O2", "-ffreestanding", "-c", str(directory / f"{name}.c"),
               "-o", str(tmp_path / "m.o")]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
    disassembly = subprocess.run([require_tool("riscv64-unknown-elf-objdump"), "-d", str(tmp_path / "m.o")],
                                 capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "mulhsu" not in disassembly  # the C loop (GCC never picks mulhsu for it), not the assembly


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
@pytest.mark.parametrize("precision", PRECISIONS)
def test_state_struct_size_is_the_reported_static_ram(
    exports: dict[str, object], tmp_path: Path, precision: str
) -> None:
    """sizeof the state struct is what the manifest, the header and the bench report; fixed point carries the
    scratch of max(inputs, neurons) values (the sanitizer runs fill it with a pattern before every step)."""
    exported = exports[precision]
    directory, name = exported.directory, exported.name  # type: ignore[attr-defined]
    (tmp_path / "size.c").write_text(
        f'#include <stdio.h>\n#include "{name}.h"\n'
        f'int main(void) {{ printf("%u", (unsigned)sizeof({name}_state_t)); return 0; }}\n'
    )
    binary = tmp_path / "size"
    subprocess.run(["gcc", "-std=c99", "-I", str(directory), str(tmp_path / "size.c"), "-o", str(binary)], check=True)
    size = int(subprocess.run([str(binary)], capture_output=True, text=True, check=True).stdout)
    value = 4 if precision != "fixed16" else 2
    assert size == value * (19 + (20 if precision != "float32" else 0))
    assert exported.manifest["memory"]["state"] == size  # type: ignore[attr-defined]
    assert f"state {size} B" in (directory / f"{name}.h").read_text()


def _run_with_flags(exported: Export, sequences: Sequences, flags: list[str]) -> None:
    """Build the model with extra compiler flags (a code path the host would not take), warnings as errors and
    ASan/UBSan, and compare it with the emulator bit for bit (outputs and state, every step)."""
    qmodel = exported.qmodel
    model = qmodel.model
    emulator = Emulator(qmodel)
    x_raw, dt_raw = raw_inputs(emulator, sequences)
    dtype = np.dtype({"float32": np.float32, "fixed16": np.int16, "fixed32": np.int32}[qmodel.precision])
    strict = ("-Wall", "-Wextra", "-Wconversion", "-Werror", *flags)
    y, state = sanitizer_run(
        exported.directory, exported.name, x_raw, dt_raw, dtype, model.output_size, model.state_size, strict
    )
    y_e, state_e = emulator_raw(emulator.run(sequences.x, sequences.dt, check=False), qmodel.is_fixed)
    assert np.array_equal(y.astype(y_e.dtype), y_e)
    assert np.array_equal(state.astype(state_e.dtype), state_e)


@pytest.mark.slow
def test_thumb1_code_path_is_bit_exact_on_the_host(tmp_path: Path) -> None:
    """The Cortex-M0 formulation of the conductance rounding (no 2^14 constant), selected on the host with
    LNN_THUMB1: the same bits as the emulator."""
    model = _ltc(wirings.AutoNCP(16, 3), 6, seed=11, scale=0.5)
    sequences = random_sequences(np.random.default_rng(4), 2, 40, 6, scale=2.0)
    exported = export_model(model, tmp_path / "out", "fixed16", dt="variable")
    _run_with_flags(exported, sequences, ["-DLNN_THUMB1"])


@pytest.mark.slow
@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("missing", ["internal", "sensory", "both"])
def test_wirings_without_internal_or_sensory_synapses(tmp_path: Path, precision: str, missing: str) -> None:
    """No neuron with internal synapses (every update is the leaf form), or no sensory synapse at all: the
    generated C still compiles strictly and matches the emulator."""
    model = _ltc(wirings.Random(7, 2, 0.5, random_seed=3), 4, seed=8)
    if missing in ("internal", "both"):
        model.arrays["sparsity_mask"] = np.zeros_like(model.arrays["sparsity_mask"])
    if missing in ("sensory", "both"):
        model.arrays["sensory_sparsity_mask"] = np.zeros_like(model.arrays["sensory_sparsity_mask"])
    exported = export_model(model, tmp_path / "out", precision)
    assert_c_matches_emulator(exported, random_sequences(np.random.default_rng(1), 2, 25, 4))
    for core in (None, "cortex-m0", "cortex-m4f"):
        result = strict_compile(exported.directory, exported.name, core)
        assert result.ok, result.output


@pytest.mark.slow
@settings(max_examples=4, deadline=None)
@given(wiring=wiring_draws(), inputs=st.integers(1, 12), seed=st.integers(0, 10_000))
def test_cross_compiled_paths_bit_exact_on_random_wirings(
    tmp_path_factory: pytest.TempPathFactory, wiring: wirings.Wiring, inputs: int, seed: int
) -> None:
    """The DSP (M4/M7), saturation-only (M3) and Thumb-1 (M0) code paths of the fixed-point step, and the float
    step on an FPU, run in Unicorn on random wirings: bit-exact with the emulator (the host tests above only
    take the portable path)."""
    from lnn_edge.bench.run import bench_export
    from lnn_edge.host.verify import default_sequences

    model = _ltc(wiring, inputs, seed, scale=0.5 if seed % 2 else None)
    for precision, cores in (
        ("fixed16", ("cortex-m0", "cortex-m3", "cortex-m4f", "cortex-m7")),
        ("float32", ("cortex-m4f",)),
    ):
        exported = export_model(model, tmp_path_factory.mktemp(precision) / "out", precision, dt="variable")
        sequences = default_sequences(exported, 6)
        for core in cores:
            assert bench_export(exported, core, sequences).bit_exact, (precision, core)


def test_fixed16_refuses_more_than_256_sources_clearly(tmp_path: Path) -> None:
    """fixed16 packs the presynaptic index into the low 8 bits of c: a model with more inputs says so and names
    the precisions that take it (fixed32 does, bit-exactly)."""
    from lnn_edge.quant.qformat import QuantizationError

    model = _ltc(wirings.Random(6, 2, 0.5, random_seed=5), 300, seed=6)
    with pytest.raises(QuantizationError, match=r"at most 256 inputs and neurons; this model has 300 inputs.*fixed32"):
        export_model(model, tmp_path / "f16", "fixed16")
    exported = export_model(model, tmp_path / "f32", "fixed32")
    assert_c_matches_emulator(exported, random_sequences(np.random.default_rng(2), 2, 12, 300))


@pytest.mark.slow
@pytest.mark.parametrize(
    "core, precision", [("cortex-m0", "fixed16"), ("cortex-m4f", "fixed16"), ("cortex-m4f", "float32")]
)
@pytest.mark.parametrize(
    "flags",
    [("-O0",), ("-Og",), ("-Os",), ("-O3",), ("-O2", "-fno-omit-frame-pointer"), ("-Os", "-flto")],
    ids=" ".join,
)
def test_assembly_loops_build_and_are_bit_exact_under_other_flags(
    tmp_path: Path, core: str, precision: str, flags: tuple[str, ...]
) -> None:
    """The hand-scheduled synapse loops (ARMv6-M fixed16: eight pinned low registers; ARMv7E-M fixed16: DSP
    instructions in registers GCC picks; FPU float32: VLDM/VMLA) must compile and stay bit-exact whatever
    optimisation level or frame-pointer setting a user's firmware build passes (the step runs in Unicorn)."""
    from lnn_edge.bench.run import bench_export
    from lnn_edge.host.verify import default_sequences

    model = _ltc(wirings.AutoNCP(12, 2), 5, seed=9, scale=0.5)
    exported = export_model(model, tmp_path / "out", precision, dt="variable")
    assert bench_export(exported, core, default_sequences(exported, 8), flags).bit_exact


@pytest.mark.slow
@pytest.mark.parametrize(
    "core, precision", [("cortex-m0", "fixed16"), ("cortex-m4f", "fixed16"), ("cortex-m4f", "float32")]
)
def test_portable_c_loops_on_assembly_cores_match_bit_for_bit(tmp_path: Path, core: str, precision: str) -> None:
    """-DLNN_NO_ASM builds the C reference loops on the cores that otherwise run assembly: both builds are
    bit-exact with the emulator in Unicorn, and the switch really changes the code that ran."""
    from lnn_edge.bench.image import build_bench_image
    from lnn_edge.bench.run import bench_export
    from lnn_edge.host.verify import default_sequences

    model = _ltc(wirings.AutoNCP(12, 2), 5, seed=10, scale=0.5)
    exported = export_model(model, tmp_path / "out", precision, dt="variable")
    sequences = default_sequences(exported, 8)
    listings = []
    for flags in ((), ("-DLNN_NO_ASM",)):
        result = bench_export(exported, core, sequences, flags)
        assert result.bit_exact, flags
        elf = build_bench_image(exported.directory, exported.name, core, exported.directory / "bench", flags).elf
        dump = subprocess.run(["arm-none-eabi-objdump", "-d", str(elf)], capture_output=True, text=True, check=True)
        listings.append(dump.stdout.split("Disassembly of section", 1)[1])  # without the file's path
    assert listings[0] != listings[1]
    if precision == "float32":
        assert "vmla.f32" in listings[0] and "vmla.f32" not in listings[1]


def test_float32_fpu_loop_clamps_extreme_inputs_like_the_emulator(tmp_path: Path) -> None:
    """Inputs far outside any calibration (+-1e30, +-inf, NaN, +-300) put 2^t past its +-125 clamp: the Cortex-M4F
    assembly loop takes its out-of-line clamp exactly as the C and the emulator do, bit for bit."""
    from lnn_edge.bench.image import build_bench_image
    from lnn_edge.bench.run import bench_export

    model = _ltc(wirings.AutoNCP(10, 2), 4, seed=13, scale=0.5)
    exported = export_model(model, tmp_path / "out", "float32", dt="variable")
    rng = np.random.default_rng(5)
    x = rng.normal(size=(1, 16, 4))
    x[0, 2:, :] = rng.choice([1e30, -1e30, np.inf, -np.inf, np.nan, 300.0, -300.0, 0.5], size=(14, 4))
    sequences = Sequences(x=x, dt=rng.uniform(0.5, 1.5, size=(1, 16)))
    with np.errstate(invalid="ignore", over="ignore"):  # the emulator meets the inf and NaN inputs too
        assert bench_export(exported, "cortex-m4f", sequences).bit_exact  # bitwise, NaN payloads included
    elf = build_bench_image(exported.directory, exported.name, "cortex-m4f", exported.directory / "bench").elf
    listing = subprocess.run(["arm-none-eabi-objdump", "-d", str(elf)], capture_output=True, text=True, check=True)
    assert "{s0-s3}" in listing.stdout and "vmla.f32" in listing.stdout  # the assembly path is the one that ran


@pytest.mark.slow
def test_float32_fpu_loop_reads_16_bit_source_indices(tmp_path: Path) -> None:
    """More than 255 inputs: presynaptic indices are 16-bit and the FPU loop loads them with LDRH (bit-exact)."""
    from lnn_edge.bench.run import bench_export
    from lnn_edge.host.verify import default_sequences

    model = _ltc(wirings.Random(6, 2, 0.5, random_seed=5), 300, seed=6)
    exported = export_model(model, tmp_path / "out", "float32")
    assert "#define LNN_LTC_INDEX_T uint16_t" in (exported.directory / f"{exported.name}.c").read_text()
    assert bench_export(exported, "cortex-m4f", default_sequences(exported, 4)).bit_exact


@pytest.mark.slow
@pytest.mark.parametrize("overrides", [{"v": 9, "sig": 8}, {"v": 9, "sig": 5, "ssig": 5, "xm": 9}], ids=["z7", "z4"])
def test_dsp_sigmoid_weight_moves_left_for_coarse_sigmoid_inputs(tmp_path: Path, overrides: dict[str, int]) -> None:
    """With a coarse sigmoid input format the interpolation weight sits below bit 16 - SIG_FS of p and the SMLAWT
    path shifts it left instead of right (weight_x16): still bit-exact on the DSP cores."""
    import re

    from lnn_edge.bench.run import bench_export
    from lnn_edge.host.verify import default_sequences
    from lnn_edge.quant.quantize import quantize

    model = _ltc(wirings.FullyConnected(4, 1), 3, seed=4)
    qmodel = quantize(model, "fixed16", overrides=dict(overrides))
    exported = export_model(qmodel, tmp_path / "out", "fixed16")
    source = (exported.directory / f"{exported.name}.c").read_text()
    sig_fs = re.search(r"#define LNN_LTC_SIG_FS (\d+)", source)
    assert sig_fs is not None and "#define LNN_LTC_SMLAWT_FITS 1" in source
    assert int(qmodel.constants["z_shift"]) < 16 - int(sig_fs.group(1))
    for core in ("cortex-m4f", "cortex-m7"):
        assert bench_export(exported, core, default_sequences(exported, 12)).bit_exact, core


@pytest.mark.slow
def test_m0_paths_without_reciprocals_are_bit_exact(tmp_path: Path) -> None:
    """Below 4 neurons or 4 unfolds the Cortex-M0 step divides directly instead of through reciprocals (they would
    cost more than they save): both paths, built for the M0, match the emulator."""
    import re

    from lnn_edge.bench.run import bench_export
    from lnn_edge.host.verify import default_sequences

    for wiring, unfolds, expected in (
        (wirings.FullyConnected(3, 1), 6, "RECIPROCAL_LEAVES"),
        (wirings.AutoNCP(9, 2), 2, "RECIPROCAL_CM"),
    ):
        model = _ltc(wiring, 4, seed=12, scale=0.5, ode_unfolds=unfolds)
        exported = export_model(model, tmp_path / f"u{unfolds}", "fixed16", dt="variable")
        source = (exported.directory / f"{exported.name}.c").read_text()
        assert re.findall(r"#define LNN_LTC_RECIPROCAL_\w+ 1\b", source) == [f"#define LNN_LTC_{expected} 1"]
        assert bench_export(exported, "cortex-m0", default_sequences(exported, 6)).bit_exact

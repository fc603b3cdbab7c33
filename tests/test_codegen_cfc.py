"""Generated CfC C == the emulator, bit for bit, every step, outputs and state, for every precision (dense cells
of every mode, backbone and activation; wired cells of every wiring kind); strict compiles for the host and four
Cortex-M cores; clean ASan/UBSan runs; the float32 runtime activations against lnn_edge.quant.f32math."""

from __future__ import annotations

import ctypes
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from codegen_helpers import assert_c_matches_emulator, export_model, random_sequences, runtime_shim
from hypothesis import given, settings
from hypothesis import strategies as st
from ncps import wirings
from ncps.torch import CfC
from ncps_oracle import randomize_parameters
from strategies import wiring_draws
from support.compile_checks import sanitizer_run, strict_compile

from lnn_edge.cells.cfc.layout import ff_dense
from lnn_edge.codegen.export import Export
from lnn_edge.host.verify import compile_export, emulator_raw, raw_inputs
from lnn_edge.model.importers import from_module
from lnn_edge.model.model import ACTIVATIONS, Calibration, Model, validate
from lnn_edge.quant import f32math
from lnn_edge.quant.emulator import Emulator
from lnn_edge.quant.quantize import quantize
from lnn_edge.target.toolchain import CORE_FLAGS

PRECISIONS = ["float32", "fixed16", "fixed32"]
MODES = ["default", "no_gate", "pure"]
CORES = [None, "cortex-m0", "cortex-m3", "cortex-m4f", "cortex-m7"]


def _model(module: torch.nn.Module, seed: int, scale: float | None, mapping: bool) -> Model:
    """An ncps CfC with random parameters (``scale``; None keeps torch's init), imported, with calibration."""
    rng = np.random.default_rng(seed)
    if scale is not None:
        randomize_parameters(module, rng, scale=scale)
    model = from_module(module)
    if mapping:
        assert model.cfc is not None
        model.cfc.output_mapping = "affine"
        model.arrays["output_w"] = rng.choice([-1.0, 1.0], size=model.output_size) * rng.uniform(
            0.3, 3.0, size=model.output_size
        )
        model.arrays["output_b"] = rng.normal(0.0, 2.0, size=model.output_size)
        validate(model)
    model.calibration = Calibration(
        x=rng.normal(size=(3, 40, model.input_size)), dt=rng.uniform(0.05, 3.0, size=(3, 40))
    )
    return model


def _dense(
    inputs: int, hidden: int, mode: str, activation: str, layers: int, units: int, proj: int | None, seed: int,
    scale: float | None = None, mapping: bool = False,
) -> Model:  # fmt: skip
    torch.manual_seed(seed)
    module = CfC(
        inputs, hidden, proj_size=proj, mode=mode, activation=activation, backbone_layers=layers,
        backbone_units=units,
    )  # fmt: skip
    return _model(module, seed, scale, mapping)


def _wired(
    inputs: int, wiring: wirings.Wiring, mode: str, proj: int | None, seed: int, scale: float | None = None,
    mapping: bool = False,
) -> Model:  # fmt: skip
    torch.manual_seed(seed)
    return _model(CfC(inputs, wiring, proj_size=proj, mode=mode), seed, scale, mapping)


def _check_all_precisions(tmp: pytest.TempPathFactory, model: Model, seed: int) -> None:
    sequences = random_sequences(np.random.default_rng(seed), 2, 25, model.input_size, scale=2.0)
    for precision in PRECISIONS:
        exported = export_model(model, tmp.mktemp(precision) / "out", precision, dt="variable" if seed % 2 else None)
        assert_c_matches_emulator(exported, sequences)
        strict = strict_compile(exported.directory, exported.name)  # the harness build is not pedantic
        assert strict.ok, strict.output


@pytest.mark.slow
@settings(max_examples=15, deadline=None)
@given(
    inputs=st.integers(1, 32),
    hidden=st.integers(1, 64),
    mode=st.sampled_from(MODES),
    activation=st.sampled_from(sorted(ACTIVATIONS)),
    layers=st.integers(0, 2),
    units=st.integers(1, 32),
    proj=st.one_of(st.none(), st.integers(1, 5)),
    scale=st.sampled_from([None, 0.3, 1.0]),
    mapping=st.booleans(),
    seed=st.integers(0, 10_000),
)
def test_dense_cfc_c_equals_emulator_drawn(
    tmp_path_factory: pytest.TempPathFactory, inputs: int, hidden: int, mode: str, activation: str, layers: int,
    units: int, proj: int | None, scale: float | None, mapping: bool, seed: int,
) -> None:  # fmt: skip
    model = _dense(inputs, hidden, mode, activation, layers, units, proj, seed, scale, mapping)
    _check_all_precisions(tmp_path_factory, model, seed)


@st.composite
def wired_draws(draw: st.DrawFn) -> tuple[wirings.Wiring, int | None]:
    """A wiring and a projection size (ncps runs a one-layer wiring with a projection only if output = units)."""
    proj = draw(st.one_of(st.none(), st.integers(1, 5)))
    return draw(wiring_draws(outputs_equal_units=proj is not None, erev_seed=False)), proj


@pytest.mark.slow
@settings(max_examples=15, deadline=None)
@given(
    drawn=wired_draws(),
    inputs=st.integers(1, 32),
    mode=st.sampled_from(MODES),
    scale=st.sampled_from([None, 0.3, 1.0]),
    mapping=st.booleans(),
    seed=st.integers(0, 10_000),
)
def test_wired_cfc_c_equals_emulator_drawn(
    tmp_path_factory: pytest.TempPathFactory, drawn: tuple[wirings.Wiring, int | None], inputs: int, mode: str,
    scale: float | None, mapping: bool, seed: int,
) -> None:  # fmt: skip
    wiring, proj = drawn
    model = _wired(inputs, wiring, mode, proj, seed, scale, mapping)
    _check_all_precisions(tmp_path_factory, model, seed)


# --- representative models: strict compiles, sanitizer, example, sparsity -----------------------------------

REPRESENTATIVE = {
    "dense_default": lambda: _dense(6, 10, "default", "gelu", 2, 7, 3, seed=1, mapping=True),
    "dense_no_gate": lambda: _dense(5, 9, "no_gate", "silu", 1, 6, None, seed=2),
    "dense_pure": lambda: _dense(4, 8, "pure", "lecun_tanh", 2, 5, 2, seed=3),
    "dense_relu": lambda: _dense(3, 5, "default", "relu", 1, 4, None, seed=4, mapping=True),
    "dense_tanh": lambda: _dense(3, 5, "no_gate", "tanh", 1, 4, 2, seed=5),
    # Issue 15's deep backbone: the 512-segment table and Q13 activations (bbK_sr) of fixed16.
    "dense_deep": lambda: _dense(8, 16, "default", "lecun_tanh", 2, 32, None, seed=14, scale=0.3),
    "wired_default": lambda: _wired(5, wirings.NCP(6, 4, 3, 3, 3, 2, 3, seed=6), "default", None, seed=6),
    "wired_pure": lambda: _wired(7, wirings.AutoNCP(14, 3, seed=7), "pure", 2, seed=7, mapping=True),
    "wired_no_gate": lambda: _wired(4, wirings.Random(9, 9, 0.6, random_seed=8), "no_gate", 2, seed=8),
    # Wide inputs into few neurons: layer 0 is sparse enough for its ff1/ff2 to run over the synapses (CSR).
    "wired_sparse": lambda: _wired(64, wirings.NCP(4, 3, 2, 1, 1, 1, 1, seed=12), "default", None, seed=12),
    "wired_sparse_pure": lambda: _wired(48, wirings.NCP(5, 3, 2, 1, 2, 1, 2, seed=13), "pure", None, seed=13),
    # Large weights: wide accumulators, saturating backbone activations and pure-mode states.
    "dense_large": lambda: _dense(8, 20, "pure", "relu", 2, 12, 3, seed=9, scale=2.0, mapping=True),
    "wired_large": lambda: _wired(24, wirings.AutoNCP(40, 4, seed=10), "default", 4, seed=10, scale=2.0),
}


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Export]:
    result = {}
    for label, build in REPRESENTATIVE.items():
        model = build()
        for precision in PRECISIONS:
            directory = tmp_path_factory.mktemp(f"{label}_{precision}") / "out"
            result[label, precision] = export_model(model, directory, precision, name=f"{label}_{precision}")
    return result


@pytest.mark.slow
@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("label", sorted(REPRESENTATIVE))
def test_strict_compile_host_and_cores(exports: dict[tuple[str, str], Export], label: str, precision: str) -> None:
    exported = exports[label, precision]
    for core in CORES:
        assert core is None or core in CORE_FLAGS
        result = strict_compile(exported.directory, exported.name, core)
        assert result.ok, f"{core or 'host'}: {result.output}"


@pytest.mark.slow
@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize(
    "label",
    [
        "dense_default",
        "dense_no_gate",
        "dense_pure",
        "wired_default",
        "wired_pure",
        "dense_large",
        "wired_large",
        "wired_sparse",
        "wired_sparse_pure",
    ],
)
def test_sanitizer_run_is_clean_and_bit_exact(
    exports: dict[tuple[str, str], Export], label: str, precision: str
) -> None:
    """Inputs and elapsed times far beyond calibration (and 0, and the default): saturated inputs, no UB."""
    exported = exports[label, precision]
    qmodel = exported.qmodel
    model = qmodel.model
    emulator = Emulator(qmodel)
    rng = np.random.default_rng(3)
    sequences = random_sequences(rng, 2, 30, model.input_size, scale=6.0)
    sequences.dt[:, ::3] = rng.uniform(0.0, 100.0, size=sequences.dt[:, ::3].shape)
    sequences.dt[0, 1::3] = model.dt  # the default elapsed time
    sequences.dt[1, 1::4] = 0.0
    x_raw, dt_raw = raw_inputs(emulator, sequences)
    dtype = np.dtype({"float32": np.float32, "fixed16": np.int16, "fixed32": np.int32}[precision])
    y, state = sanitizer_run(
        exported.directory, exported.name, x_raw, dt_raw, dtype, model.output_size, model.state_size
    )
    y_e, state_e = emulator_raw(emulator.run(sequences.x, sequences.dt, check=False), qmodel.is_fixed)
    if precision == "float32":
        y, y_e, state, state_e = y.view(np.uint32), y_e.view(np.uint32), state.view(np.uint32), state_e.view(np.uint32)
    assert np.array_equal(y.astype(np.int64), y_e.astype(np.int64))
    assert np.array_equal(state.astype(np.int64), state_e.astype(np.int64))


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fixed16", "fixed32"])
def test_negative_elapsed_time_is_clamped_to_zero(exports: dict[tuple[str, str], Export], precision: str) -> None:
    for label in ("dense_pure", "wired_default"):
        exported = exports[label, precision]
        model = exported.qmodel.model
        compiled = compile_export(exported)
        x_raw, _ = raw_inputs(
            Emulator(exported.qmodel), random_sequences(np.random.default_rng(1), 1, 10, model.input_size)
        )
        y_zero, state_zero = compiled.run_raw(x_raw, np.zeros((1, 10)))
        y_neg, state_neg = compiled.run_raw(x_raw, np.full((1, 10), -(1 << (exported.qmodel.bits - 1))))
        assert np.array_equal(y_zero, y_neg) and np.array_equal(state_zero, state_neg)


def test_wired_heads_are_evaluated_as_documented(exports: dict[tuple[str, str], Export]) -> None:
    """ff1/ff2 of a wired layer: dense rows fused with time_a/time_b where ff_dense says so (absent synapses are
    zero weights), else exactly the synapses of its mask (CSR, both heads per synapse); time_a/time_b stay dense."""
    kinds = set()
    for label in ("wired_default", "wired_sparse", "wired_sparse_pure"):
        for precision in PRECISIONS:
            exported = exports[label, precision]
            source = (exported.directory / f"{exported.name}.c").read_text()
            params = exported.qmodel.params
            pure = "l0_ta_w" not in params
            masked = 1 if pure else 2
            for layer in range(3):
                mask = params[f"l{layer}_mask"]
                synapses = int(np.count_nonzero(mask))
                assert synapses < mask.size
                if ff_dense(mask, precision):
                    kinds.add("dense")
                    heads = "ff1" if pure else ("ff1_ff2" if precision == "fixed32" else "ff1_ff2_ta_tb")
                    assert f"l{layer}_{heads}_w" in source and f"l{layer}_col[" not in source
                else:
                    kinds.add("sparse")
                    count = masked * synapses
                    words = f"int16_t h[{count}];\n    int32_t w[{count // 2}];\n}} l{layer}_syn_w"
                    assert f"l{layer}_col[{synapses}]" in source
                    assert f"l{layer}_syn_w[{count}]" in source or words in source
                    if not pure:
                        assert f"l{layer}_ta_tb_w" in source
        header = (exported.directory / f"{exported.name}.h").read_text()
        memory = exported.manifest["memory"]
        assert f"parameters {memory['params']} B" in header
    assert kinds == {"dense", "sparse"}
    assert exports["wired_default", "fixed16"].manifest["memory"]["state"] == 13 * 2


@pytest.mark.slow
def test_example_main_builds_and_runs(exports: dict[tuple[str, str], Export], tmp_path: Path) -> None:
    for precision in PRECISIONS:
        exported = exports["dense_default", precision]
        binary = tmp_path / f"example_{precision}"
        directory = exported.directory
        subprocess.run(
            ["gcc", "-std=c99", "-Wall", "-Wextra", "-Wconversion", "-Werror", "-pedantic", "-O2", "-ffp-contract=off",
             str(directory / "example_main.c"), str(directory / f"{exported.name}.c"), "-o", str(binary)],
            check=True,
        )  # fmt: skip
        output = subprocess.run([str(binary)], capture_output=True, text=True, check=True).stdout
        assert output.count("step") == 10


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fixed16", "fixed32"])
@pytest.mark.parametrize("activation", ["relu", "silu", "gelu"])
def test_saturating_tensors_stay_bit_exact_and_sanitizer_clean(tmp_path: Path, activation: str, precision: str) -> None:
    """Backbone formats forced 3 bits finer than calibration asks, and a pure-mode state proven only for
    dt >= 2 run at dt = 0.01: the saturating paths of the C (backbone activations, state) match the emulator."""
    model = _dense(8, 20, "pure", activation, 2, 12, 3, seed=9, scale=2.0, mapping=True)
    rng = np.random.default_rng(0)
    model.calibration = Calibration(x=rng.normal(size=(3, 40, 8)), dt=rng.uniform(2.0, 3.0, size=(3, 40)))
    natural = quantize(model, precision)
    overrides = {name: natural.formats[name] + 3 for name in ("bb0_act", "bb1_act")}
    qmodel = quantize(model, precision, overrides=overrides)
    sequences = random_sequences(rng, 2, 30, model.input_size)
    sequences.dt[:, ::2] = 0.01
    emulated = Emulator(qmodel).run(sequences.x, sequences.dt)
    assert {"bb0", "bb1", "h"} <= set(emulated.saturations.counts)
    exported = export_model(qmodel, tmp_path / "out", precision)
    assert_c_matches_emulator(exported, sequences)
    x_raw, dt_raw = raw_inputs(Emulator(qmodel), sequences)
    dtype = np.dtype(np.int16 if precision == "fixed16" else np.int32)
    y, state = sanitizer_run(exported.directory, exported.name, x_raw, dt_raw, dtype, 3, model.state_size)
    assert emulated.y_raw is not None and emulated.state_raw is not None
    assert np.array_equal(y, emulated.y_raw) and np.array_equal(state, emulated.state_raw)


# --- the float32 runtime activations, value by value ---------------------------------------------------------

ACTIVATION_SHIM = """
#include "lnn/lnn_f32.h"
void apply(int which, const float *x, float *y, int n)
{
    int i;
    for (i = 0; i < n; i++) {
        switch (which) {
        case 0: y[i] = lnn_lecun_tanh_f32(x[i]); break;
        case 1: y[i] = lnn_tanh_f32(x[i]); break;
        case 2: y[i] = lnn_relu_f32(x[i]); break;
        case 3: y[i] = lnn_silu_f32(x[i]); break;
        case 4: y[i] = lnn_gelu_f32(x[i]); break;
        default: y[i] = lnn_erf_f32(x[i]); break;
        }
    }
}
"""


def test_runtime_activations_equal_f32math(tmp_path: Path) -> None:
    shim = runtime_shim(tmp_path, ACTIVATION_SHIM, ["-ffp-contract=off", "-fno-fast-math", "-Wdouble-promotion"])
    rng = np.random.default_rng(0)
    x = np.concatenate(
        [rng.normal(0.0, 3.0, 20_000), rng.uniform(-60.0, 60.0, 5_000), [0.0, -0.0, 1e-30, -1e-30, 88.0, -88.0]]
    ).astype(np.float32)
    pointer = ctypes.POINTER(ctypes.c_float)
    functions = [*(f32math.ACTIVATIONS[name] for name in ("lecun_tanh", "tanh", "relu", "silu", "gelu")), f32math.erf]
    for which, function in enumerate(functions):
        y = np.empty_like(x)
        shim.apply(which, x.ctypes.data_as(pointer), y.ctypes.data_as(pointer), len(x))
        expected = function(x).astype(np.float32)
        assert np.array_equal(y.view(np.uint32), expected.view(np.uint32)), function.__name__


# --- the DSP path (SMLAD, SSAT, pair loads) and the portable path, cross-compiled and run ----------------------


@pytest.mark.slow
@pytest.mark.parametrize("core", ["cortex-m4f", "cortex-m0"])
@pytest.mark.parametrize(
    "label", ["wired_default", "wired_sparse", "dense_default", "dense_pure", "dense_no_gate", "dense_deep"]
)
def test_cross_compiled_step_is_bit_exact(exports: dict[tuple[str, str], Export], label: str, core: str) -> None:
    """The host runs the portable C; the ARMv7E-M intrinsics (SMLAD/SMLABB/SMLATB, SSAT, the unaligned table
    pair load) and float32's VMLA only run on a DSP/FPU core: the bench image in Unicorn must equal the emulator
    bit for bit too."""
    from lnn_edge.bench.run import bench_export
    from lnn_edge.host.verify import default_sequences

    for precision in ("fixed16", "fixed32", "float32") if core == "cortex-m4f" else ("fixed16",):
        exported = exports[label, precision]
        result = bench_export(exported, core, default_sequences(exported, 12))
        assert result.bit_exact, (label, precision, core)

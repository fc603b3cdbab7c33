"""The float32 CfC kernels of the runtime library (lnn/lnn_cfc_f32.h) against the NumPy emulator, bit for bit,
outputs and state, on drawn models (dense cells with and without a backbone, every activation, wired cells with
dense and sparse ff1/ff2; every mode): on the host (the -O2 harness build and an ASan/UBSan build), and in
Unicorn on an FPU core (Cortex-M4F: VMLA, and its portable reference -DLNN_NO_ASM) and a soft-float core
(Cortex-M3). Apart from the code generator's tests: a failure here points at the kernel. Also: the tanh
constants of the header are lnn_edge.quant.f32math's, its tanh, sigmoid and gated mix equal f32math value by value,
and the generated <name>.c is data and wrappers only, over a lnn/ that every export shares byte for byte."""

from __future__ import annotations

import ctypes
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from codegen_helpers import assert_host_build_matches_emulator, export_model, random_sequences, runtime_shim
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ncps import wirings
from ncps.torch import CfC
from support.compile_checks import strict_compile

from lnn_edge.bench.run import bench_export
from lnn_edge.cells.cfc.layout import ff_dense
from lnn_edge.codegen.export import Export
from lnn_edge.model.importers import from_module
from lnn_edge.model.model import ACTIVATIONS, Calibration, Model, validate
from lnn_edge.quant import f32math

MODES = ["default", "no_gate", "pure"]
KINDS = ["dense", "backbone", "wired", "wired_sparse"]
"""A dense cell without and with backbone layers; a wired NCP (ff1/ff2 dense rows); a wired NCP with wide inputs
into few neurons, whose first layer evaluates ff1/ff2 over its synapses (CSR)."""

# Enough of lnn_cfc_f32.h's configuration to compile it in a shim (the sizes do not matter there).
SHIM_CONFIG = """#define LNN_CFC_F32_STATE_SIZE 1
#define LNN_CFC_F32_MODE LNN_CFC_F32_DEFAULT
#define LNN_CFC_F32_ACTIVATION LNN_CFC_F32_TANH
#define LNN_CFC_F32_Z_SIZE 1
#define LNN_CFC_F32_BB_LAYERS 2
#define LNN_CFC_F32_BB_SIZE 1
#define LNN_CFC_F32_INDEX_T uint8_t
#include "lnn/lnn_cfc_f32.h"
"""


def _model(kind: str, mode: str, activation: str, inputs: int, hidden: int, seed: int, mapping: bool) -> Model:
    """An ncps CfC of ``kind`` (see KINDS) with torch's random initialisation, imported, with calibration;
    ``mapping``: with a random affine output mapping (ncps modules have none)."""
    torch.manual_seed(seed)
    if kind == "dense":
        module = CfC(inputs, hidden, mode=mode, backbone_layers=0)
    elif kind == "backbone":
        module = CfC(inputs, hidden, proj_size=2, mode=mode, activation=activation, backbone_layers=1 + seed % 2,
                     backbone_units=3 + seed % 7)  # fmt: skip
    elif kind == "wired":
        module = CfC(inputs, wirings.AutoNCP(max(hidden, 5), 2, seed=seed), mode=mode)
    else:
        module = CfC(40 + inputs, wirings.NCP(4, 3, 2, 1, 1, 1, 1, seed=seed), mode=mode)
    model = from_module(module)
    rng = np.random.default_rng(seed)
    if mapping:
        assert model.cfc is not None
        model.cfc.output_mapping = "affine"
        model.arrays["output_w"] = rng.uniform(-3.0, 3.0, size=model.output_size)
        model.arrays["output_b"] = rng.normal(0.0, 2.0, size=model.output_size)
        validate(model)
    model.calibration = Calibration(
        x=rng.normal(size=(2, 30, model.input_size)), dt=rng.uniform(0.05, 3.0, size=(2, 30))
    )
    return model


def _host_matches(exported: Export, seed: int) -> None:
    """The -O2 harness build and an ASan/UBSan build of the portable C (-DLNN_NO_ASM) equal the emulator, every
    step, outputs and state."""
    assert_host_build_matches_emulator(exported, seed)
    assert_host_build_matches_emulator(exported, seed, ("-DLNN_NO_ASM",))


def _sparse_layers(exported: Export) -> int:
    params = exported.qmodel.params
    return sum(1 for key in params if key.endswith("mask") and not ff_dense(params[key], "float32"))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from(KINDS),
    mode=st.sampled_from(MODES),
    activation=st.sampled_from(sorted(ACTIVATIONS)),
    inputs=st.integers(1, 12),
    hidden=st.integers(1, 16),
    seed=st.integers(0, 10_000),
    mapping=st.booleans(),
)
def test_cfc_f32_kernels_equal_the_emulator_on_host_and_cores(
    tmp_path_factory: pytest.TempPathFactory, kind: str, mode: str, activation: str, inputs: int, hidden: int,
    seed: int, mapping: bool,
) -> None:  # fmt: skip
    model = _model(kind, mode, activation, inputs, hidden, seed, mapping)
    exported = export_model(model, tmp_path_factory.mktemp("float32"), "float32", dt="variable")
    _host_matches(exported, seed)
    sequences = random_sequences(np.random.default_rng(seed + 1), 1, 6, model.input_size, scale=2.0)
    for core, flags in (("cortex-m4f", ()), ("cortex-m4f", ("-DLNN_NO_ASM",)), ("cortex-m3", ())):
        assert bench_export(exported, core, sequences, flags).bit_exact, (core, flags)


@pytest.mark.parametrize(
    ("kind", "mode", "activation"),
    [("backbone", MODES[k % 3], activation) for k, activation in enumerate(sorted(ACTIVATIONS))]
    + [(kind, mode, "lecun_tanh") for kind in ("dense", "wired", "wired_sparse") for mode in MODES],
)
def test_every_kind_mode_and_activation_on_the_host(tmp_path: Path, kind: str, mode: str, activation: str) -> None:
    """Each backbone activation, and each mode of each cell kind, strictly compiled (pedantic, -Werror) and bit for
    bit on the host: the drawn test above samples these, this one visits every one."""
    model = _model(kind, mode, activation, 5, 7, seed=3, mapping=kind in ("backbone", "wired"))
    exported = export_model(model, tmp_path / "out", "float32")
    if kind == "wired_sparse":
        assert _sparse_layers(exported) >= 1  # the CSR path is exercised
    elif kind == "wired":
        assert _sparse_layers(exported) == 0
    strict = strict_compile(exported.directory, exported.name)
    assert strict.ok, strict.output
    _host_matches(exported, seed=3)


def _bits(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.float32).view(np.uint32)


def test_every_tanh_constant_is_listed(tmp_path: Path) -> None:
    """The header's tanh constants are f32math's, bit for bit (Python stays the source of truth)."""
    header = (Path(__file__).resolve().parents[1] / "lnn_edge" / "runtime" / "lnn_cfc_f32.h").read_text()
    names = sorted(re.findall(r"#define (LNN_CFC_F32_TANH_[PQ]\d) ", header))
    assert names == [f"LNN_CFC_F32_TANH_{c}{k}" for c in "PQ" for k in range(len(f32math.CFC_TANH_P))]
    assert len(f32math.CFC_TANH_P) == len(f32math.CFC_TANH_Q) == 5
    body = "\n".join(f"    out[{k}] = {name};" for k, name in enumerate(names))
    shim = f"{SHIM_CONFIG}void constants(float *out, uint32_t *clamp)\n{{\n{body}\n"
    shim += "    *clamp = LNN_CFC_F32_TANH_CLAMP_BITS;\n}\n"
    library = runtime_shim(tmp_path, shim, ["-pedantic", "-Wdouble-promotion"])
    out, clamp = (ctypes.c_float * len(names))(), ctypes.c_uint32()
    library.constants(out, ctypes.byref(clamp))
    expected = [*f32math.CFC_TANH_P, *f32math.CFC_TANH_Q]
    assert list(_bits(np.array(out[:]))) == list(_bits(np.array(expected)))
    assert clamp.value == f32math.CFC_TANH_CLAMP_BITS


FUNCTION_SHIM = """
void apply(const float *a, const float *b, const float *c, float *tanh_out, float *sigmoid_out, float *mix_out, int n)
{
    int i;
    for (i = 0; i < n; i++) {
        tanh_out[i] = lnn_cfc_f32_tanh(a[i]);
        sigmoid_out[i] = lnn_cfc_f32_sigmoid(a[i]);
        mix_out[i] = lnn_cfc_f32_gated_mix(a[i], b[i], c[i]);
    }
}
"""


def test_tanh_sigmoid_and_gated_mix_equal_f32math(tmp_path: Path) -> None:
    """Value by value, the clamp's edges (9.0 and its neighbours, infinities, NaN, signed zeros) included."""
    rng = np.random.default_rng(0)
    special = np.array([0.0, -0.0, 9.0, -9.0, np.inf, -np.inf, np.nan, 1e-30, -1e-30, 3.4e38], dtype=np.float32)
    nine = np.float32(9.0)
    edges = np.array([np.nextafter(nine, np.float32(0)), np.nextafter(nine, np.float32(20))], dtype=np.float32)
    a = np.concatenate([special, edges, -edges, rng.normal(0, 4, 2000).astype(np.float32)]).astype(np.float32)
    b = rng.permutation(a).astype(np.float32)
    c = rng.permutation(a).astype(np.float32)
    library = runtime_shim(tmp_path, SHIM_CONFIG + FUNCTION_SHIM, ["-ffp-contract=off"])
    n = a.size
    out = [np.zeros(n, dtype=np.float32) for _ in range(3)]
    pointer = ctypes.POINTER(ctypes.c_float)
    library.apply(*(v.ctypes.data_as(pointer) for v in (a, b, c, *out)), n)
    with np.errstate(all="ignore"):
        expected = [f32math.cfc_tanh(a), f32math.cfc_sigmoid(a), f32math.cfc_gated_mix(a, b, c)]
    for name, got, want in zip(("tanh", "sigmoid", "gated_mix"), out, expected, strict=True):
        want = np.asarray(want, dtype=np.float32)
        same = (_bits(got) == _bits(want)) | (np.isnan(got) & np.isnan(want))
        assert same.all(), (name, a[~same][:3], got[~same][:3], want[~same][:3])


def test_generated_cfc_source_is_data_and_wrappers(tmp_path: Path) -> None:
    """No loop and no inline assembly in <name>.c: the step is in lnn/lnn_cfc_f32.h, the file holds constants,
    descriptors and one kernel call per layer; lnn/ is the same, byte for byte, whatever the model."""
    dense = _model("backbone", "default", "gelu", 6, 9, seed=1, mapping=True)
    wired = _model("wired_sparse", "pure", "tanh", 3, 5, seed=2, mapping=False)
    first = export_model(dense, tmp_path / "a", "float32", name="a")
    second = export_model(wired, tmp_path / "b", "float32", name="b")
    for exported in (first, second):
        source = (exported.directory / f"{exported.name}.c").read_text()
        code = re.sub(r"/\*.*?\*/", "", source, flags=re.S)  # comments may say what the kernel does
        assert not re.search(r"\b(for|while|do)\b", code)
        assert "asm" not in code
        assert '#include "lnn/lnn_cfc_f32.h"' in code
    assert _sparse_layers(second) >= 1

    def runtime(exported: Export) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in sorted((exported.directory / "lnn").iterdir())}

    assert "lnn_cfc_f32.h" in runtime(first)
    assert runtime(first) == runtime(second)

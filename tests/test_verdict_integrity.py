"""Verdicts that a fresh build would give (issue 13, "Wrong verdicts").

- Only the files an export's manifest lists are compiled: a stray ``stdint.h`` dropped beside them can neither
  break a build nor hide behind a cached one.
- The emulator converts real inputs exactly as the generated C's ``<name>_to_q`` does, for every finite and
  infinite value: saturated before the integer conversion, never wrapped (1e15 used to become -32768).
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import cffi
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from ncps import wirings
from ncps.torch import LTC

from lnn_edge.codegen.export import Export, export
from lnn_edge.host.verify import default_sequences, verify_host
from lnn_edge.model.importers import load_torch_file
from lnn_edge.model.model import Calibration, Model
from lnn_edge.quant.emulator import Emulator
from lnn_edge.quant.fixedpoint import float_to_q
from lnn_edge.target.build import build_firmware

STRAY_HEADER = '#error "a stray header beside the export was compiled"\n'


def make_export(folder: Path, precision: str) -> Export:
    torch.manual_seed(3)
    torch.save(LTC(3, wirings.AutoNCP(6, 1)).state_dict(), folder / "ltc.pt")
    model = load_torch_file(folder / "ltc.pt")
    model.calibration = Calibration(x=np.random.default_rng(0).normal(size=(4, 30, 3)), dt=None)
    return export(model, folder / "out", precision, name="net")


@pytest.fixture(scope="module", params=["fixed16", "fixed32"])
def fixed_export(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Export:
    return make_export(tmp_path_factory.mktemp(request.param), request.param)


# --- only the manifest's files are compiled ----------------------------------------------------------------


@pytest.mark.slow
def test_a_stray_header_in_an_export_is_never_compiled(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    exported = make_export(tmp_path, "float32")
    sequences = default_sequences(exported, steps=20)
    monkeypatch.setenv("LNN_EDGE_CACHE", str(tmp_path_factory.mktemp("cache-warm")))
    assert verify_host(exported, sequences).passed  # the cache now holds this export's build
    (exported.directory / "stdint.h").write_text(STRAY_HEADER)
    (exported.directory / "lnn_fw_model.h").write_text(STRAY_HEADER)
    cached = verify_host(exported, sequences)
    monkeypatch.setenv("LNN_EDGE_CACHE", str(tmp_path_factory.mktemp("cache-fresh")))
    fresh = verify_host(exported, sequences)  # a fresh compile gives the same verdict as the cached one
    assert cached.passed and fresh.passed and fresh.bit_exact
    assert np.array_equal(cached.raw["c_y"], fresh.raw["c_y"])
    built = build_firmware(exported.directory, "qemu-mps2-an385")  # the firmware build ignores it too
    assert built.elf.is_file()


# --- input conversion: the emulator is the C's twin ---------------------------------------------------------


@pytest.fixture(scope="module")
def c_to_q(fixed_export: Export, tmp_path_factory: pytest.TempPathFactory) -> object:
    """The export's own ``net_to_q`` (a static inline in net.h), compiled for the host."""
    folder = tmp_path_factory.mktemp("to_q")
    module_name = f"_to_q_{fixed_export.manifest['precision']}"
    ffi = cffi.FFI()
    ffi.cdef("long to_q(float value, int frac);")
    ffi.set_source(
        module_name,
        '#include "net.h"\nlong to_q(float value, int frac) { return (long)net_to_q(value, frac); }',
        include_dirs=[str(fixed_export.directory)],
        extra_compile_args=["-O2", "-ffp-contract=off"],
    )
    spec = importlib.util.spec_from_file_location(module_name, ffi.compile(tmpdir=str(folder)))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.lib.to_q


def test_huge_inputs_and_time_steps_saturate_instead_of_wrapping(fixed_export: Export) -> None:
    emulator = Emulator(fixed_export.qmodel)
    bits = fixed_export.qmodel.bits
    high, low = (1 << (bits - 1)) - 1, -(1 << (bits - 1))
    x = np.array([[1e15, -1e15, np.inf], [1e300, -np.inf, 0.0]])
    raw = emulator.input_to_raw(x)
    assert raw[0].tolist() == [high, low, high] and raw[1].tolist() == [high, low, 0]
    assert emulator.dt_to_raw(np.array([1e16, np.inf, 1e300])).tolist() == [high] * 3
    assert emulator.dt_to_raw(np.array([-1e16])).tolist() == [0]


finite_or_infinite = st.one_of(
    st.floats(width=32, allow_nan=False),
    st.floats(allow_nan=False, min_value=-1e40, max_value=1e40),
    st.sampled_from([0.49999997, -0.49999997, 0.5, -0.5, 32767.5, -32768.5, 8388609.0, 2.0**31, -(2.0**31)]),
    st.integers(-(2**32), 2**32).map(lambda k: k / 2.0),  # halves: where rounding direction matters
)


@pytest.mark.slow
@given(value=finite_or_infinite, frac=st.integers(-24, 40))
def test_float_to_q_equals_the_generated_c(fixed_export: Export, c_to_q: object, value: float, frac: int) -> None:
    bits = fixed_export.qmodel.bits
    expected = c_to_q(value, frac)  # type: ignore[operator]
    assert int(float_to_q(value, frac, bits)[0]) == expected, (value, frac)


@pytest.mark.slow
@given(
    values=st.lists(finite_or_infinite, min_size=3, max_size=3),
    dt=st.one_of(st.floats(min_value=1e-6, max_value=1e300), st.just(math.inf)),
)
def test_emulator_inputs_equal_the_generated_c(
    fixed_export: Export, c_to_q: object, values: list[float], dt: float
) -> None:
    emulator = Emulator(fixed_export.qmodel)
    raw = emulator.input_to_raw(np.array([values]))[0]
    fracs = fixed_export.qmodel.params["x_frac"]
    assert raw.tolist() == [c_to_q(v, int(f)) for v, f in zip(values, fracs, strict=True)]  # type: ignore[operator]
    dt_raw = emulator.dt_to_raw(np.array([dt]))[0]
    assert dt_raw == c_to_q(dt, fixed_export.qmodel.formats["dt"])  # type: ignore[operator]


@pytest.mark.slow
def test_verify_and_build_name_the_files_the_manifest_does_not_list(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from lnn_edge.cli import cli

    exported = make_export(tmp_path, "float32")
    (exported.directory / "stdint.h").write_text(STRAY_HEADER)
    (exported.directory / "bell\x07.h").write_text(STRAY_HEADER)
    for args in (["verify", str(exported.directory), "--steps", "5"], ["build", str(exported.directory)]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        assert "holds files its manifest does not list ('bell\\x07.h', stdint.h)" in result.stderr
        assert "\x07" not in result.stderr


# --- weights far below the resolution: no shift beyond the product's width ---------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fixed16", "fixed32"])
@pytest.mark.parametrize("tiny", [1e-10, 1e-300])
def test_a_dead_channels_tiny_weight_stays_bit_exact(tmp_path: Path, precision: str, tiny: float) -> None:
    """A weight of 1e-10 (a dead channel after weight decay) got a shift of 49 in fixed16: undefined in C (the
    host C differed from the emulator) and an OverflowError in the emulator for smaller ones."""
    torch.manual_seed(0)
    model = load_torch_file_from(LTC(4, wirings.AutoNCP(8, 2)), tmp_path)
    for name in ("input_w", "output_w"):
        model.arrays[name] = model.arrays[name].copy()
        model.arrays[name][-1] = tiny
    model.calibration = Calibration(x=np.random.default_rng(0).normal(size=(4, 30, 4)))
    exported = export(model, tmp_path / "out", precision, name="net")
    bits = exported.qmodel.bits
    assert max(exported.qmodel.params["in_shift"].max(), exported.qmodel.params["out_shift"].max()) <= 2 * bits - 2
    result = verify_host(exported, default_sequences(exported, steps=30))
    assert result.bit_exact and result.passed, result.mismatch


def load_torch_file_from(module: torch.nn.Module, folder: Path) -> Model:
    torch.save(module.state_dict(), folder / "sd.pt")
    return load_torch_file(folder / "sd.pt")

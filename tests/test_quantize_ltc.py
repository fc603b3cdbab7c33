"""LTC quantization: accuracy against the float64 reference, the proven state bound under adversarial
inputs, no accumulator overflow, and clear errors for what cannot be quantized."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from ncps import wirings
from ncps.torch import LTC
from ncps_oracle import randomize_parameters

from lnn_edge.cli import cli
from lnn_edge.errors import DataFileError
from lnn_edge.metrics import compare
from lnn_edge.model.importers import from_module
from lnn_edge.model.model import Calibration, Model
from lnn_edge.model.modelfile import save
from lnn_edge.quant.calibration import calibration_for
from lnn_edge.quant.emulator import Emulator
from lnn_edge.quant.qformat import QuantizationError
from lnn_edge.quant.qmodelfile import load_any
from lnn_edge.quant.quantize import quantize
from lnn_edge.reference import Reference

THRESHOLDS = {"float32": 1e-5, "fixed32": 1e-4, "fixed16": 1e-2}


def _model(wiring: wirings.Wiring | int = 8, inputs: int = 5, seed: int = 0, **options: object) -> Model:
    torch.manual_seed(seed)
    model = from_module(LTC(inputs, wiring, **options))
    rng = np.random.default_rng(seed)
    model.calibration = Calibration(x=rng.normal(size=(6, 60, inputs)), dt=rng.uniform(0.5, 1.5, size=(6, 60)))
    return model


def _calibration(model: Model) -> tuple[np.ndarray, np.ndarray]:
    """The calibration sample's inputs and elapsed times (every model here has both)."""
    assert model.calibration is not None and model.calibration.dt is not None
    return model.calibration.x, model.calibration.dt


def _random_model(units: int, inputs: int, scale: float, seed: int, steps: int, unfolds: int = 6) -> Model:
    """A Random-wiring LTC with randomised parameters of the given scale, calibrated on inputs of that scale."""
    torch.manual_seed(seed)
    module = LTC(inputs, wirings.Random(units, max(1, units // 3), 0.4, random_seed=seed), ode_unfolds=unfolds)
    randomize_parameters(module, np.random.default_rng(seed), scale=scale)
    model = from_module(module)
    rng = np.random.default_rng(seed)
    model.calibration = Calibration(x=rng.normal(size=(2, steps, inputs)) * scale, dt=rng.uniform(0.2, 2.0, (2, steps)))
    return model


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["float32", "fixed16", "fixed32"])
@pytest.mark.parametrize(
    "wiring",
    [wirings.AutoNCP(19, 2), wirings.FullyConnected(8, 3), wirings.Random(12, 2, 0.5)],
    ids=["autoncp", "fc", "random"],
)
def test_ltc_accuracy_against_reference(precision: str, wiring: wirings.Wiring) -> None:
    model = _model(wiring, inputs=6)
    qmodel = quantize(model, precision)
    rng = np.random.default_rng(9)
    x, dt = rng.normal(size=(3, 300, 6)), rng.uniform(0.5, 1.5, size=(3, 300))
    y_ref, s_ref = Reference(model).run(x, dt)
    result = Emulator(qmodel).run(x, dt)
    error = compare(result.y, y_ref)
    assert error.max_abs_rel_range <= THRESHOLDS[precision], error
    assert compare(result.state, s_ref).max_abs <= 50 * THRESHOLDS[precision]
    assert result.saturations.total == 0, result.saturations.events[:3]


@pytest.mark.slow
@pytest.mark.parametrize("mapping", ["affine", "linear", "none"])
@pytest.mark.parametrize("implicit", [True, False])
def test_ltc_mappings_and_constraints(mapping: str, implicit: bool) -> None:
    model = _model(6, input_mapping=mapping, output_mapping=mapping, implicit_param_constraints=implicit, ode_unfolds=3)
    for precision in ("fixed16", "fixed32"):
        result = Emulator(quantize(model, precision)).run(*_calibration(model))
        y_ref, _ = Reference(model).run(*_calibration(model))
        assert compare(result.y, y_ref).max_abs_rel_range <= THRESHOLDS[precision]


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fixed16", "fixed32"])
def test_state_bound_holds_under_adversarial_inputs(precision: str) -> None:
    """Huge inputs, tiny and huge elapsed times, 2000 steps: the state never leaves the proven bound and no
    accumulator overflows; only the inputs and dt saturate/clamp (and are reported)."""
    model = _model(wirings.AutoNCP(12, 2), inputs=4, seed=3)
    qmodel = quantize(model, precision)
    rng = np.random.default_rng(0)
    x = rng.choice([-1e6, 1e6, 0.0], size=(2, 2000, 4)) * rng.uniform(size=(2, 2000, 4))
    dt = rng.choice([1e-6, 1.0, 1e6], size=(2, 2000))
    result = Emulator(qmodel).run(x, dt)
    assert result.state_raw is not None
    bound = qmodel.bounds["state"] * 2.0 ** qmodel.formats["v"]
    assert np.abs(result.state_raw).max() <= round(bound) + 1
    counts = result.saturations.counts
    assert not any(name.startswith("overflow") for name in counts), counts
    assert counts.get("x", 0) > 0 and counts.get("dt", 0) > 0  # the inputs did saturate, and were logged
    event = result.saturations.events[0]
    assert event.tensor in ("x", "dt", "xm") and event.step == 0


@pytest.mark.slow
@settings(max_examples=25)
@given(
    units=st.integers(2, 20),
    inputs=st.integers(1, 10),
    unfolds=st.integers(1, 8),
    scale=st.sampled_from([0.3, 1.0, 3.0]),
    precision=st.sampled_from(["fixed16", "fixed32"]),
    seed=st.integers(0, 10_000),
)
def test_random_models_quantize_without_saturation_or_say_why(
    units: int, inputs: int, unfolds: int, scale: float, precision: str, seed: int
) -> None:
    model = _random_model(units, inputs, scale, seed, steps=30, unfolds=unfolds)
    try:
        qmodel = quantize(model, precision)
    except QuantizationError as error:
        assert "'" in str(error)  # names the tensor
        return
    result = Emulator(qmodel).run(*_calibration(model))
    assert result.saturations.total == 0, result.saturations.events[:3]


def test_emulator_is_deterministic_and_integer() -> None:
    model = _model(wirings.AutoNCP(10, 2))
    qmodel = quantize(model, "fixed16")
    a = Emulator(qmodel).run(*_calibration(model))
    b = Emulator(qmodel).run(*_calibration(model))
    assert a.y_raw is not None and a.y_raw.dtype == np.int64
    assert a.state_raw is not None and b.y_raw is not None and b.state_raw is not None
    assert np.array_equal(a.y_raw, b.y_raw) and np.array_equal(a.state_raw, b.state_raw)
    assert np.abs(a.state_raw).max() < 2**15 and np.abs(a.y_raw).max() < 2**15


def test_float32_twin_is_float32_and_close() -> None:
    model = _model(wirings.AutoNCP(10, 2))
    qmodel = quantize(model, "float32")
    assert all(array.dtype == np.float32 for array in qmodel.params.values())
    emulator = Emulator(qmodel)
    y, state = emulator.step_raw(np.ones((2, 5), np.float32), np.zeros((2, 10), np.float32), np.ones(2, np.float32))
    assert y.dtype == np.float32 and state.dtype == np.float32


# --- bad input -------------------------------------------------------------------------------------


def test_fixed_point_without_calibration_says_how_to_fix() -> None:
    model = _model()
    model.calibration = None
    with pytest.raises(DataFileError, match="--calib"):
        quantize(model, "fixed16")


def test_an_input_too_wide_for_fixed16_is_named() -> None:
    """A raw sensor channel at 1e6 swamps the mapped input's format: the refusal names that input and how to
    declare its range, not only the step's internal tensor 'xm'."""
    model = _model(inputs=3)
    model.input_names = ["acc", "pressure_pa", "gyro"]
    assert model.calibration is not None
    model.calibration.x[..., 1] *= 1e6
    with pytest.raises(QuantizationError, match=r"input 'pressure_pa'.*--input-range pressure_pa=LO:HI"):
        quantize(model, "fixed16")


def test_unknown_and_overflowing_overrides() -> None:
    model = _model()
    with pytest.raises(QuantizationError, match="unknown format override.*bogus"):
        quantize(model, "fixed16", overrides={"bogus": 3})
    with pytest.raises(QuantizationError, match="override v=15 overflows"):
        quantize(model, "fixed16", overrides={"v": 15})
    # too coarse: the override is named as the cause, not the model
    with pytest.raises(QuantizationError, match=r"override v=-2: fewer than 0 fractional bits"):
        quantize(model, "fixed32", overrides={"v": -2})
    tighter = quantize(model, "fixed16", overrides={"g": 6})
    assert tighter.formats["g"] == 6


def test_parameter_no_format_can_hold() -> None:
    model = _model()
    model.arrays["erev"] = model.arrays["erev"] * 1e5
    with pytest.raises(QuantizationError, match="tensor 'v' reaches"):
        quantize(model, "fixed16")
    quantize(model, "fixed32")  # 32 bits hold it


def test_calibration_with_wrong_shape_or_nan(tmp_path: Path) -> None:
    model = _model()
    np.savez(tmp_path / "bad.npz", x=np.zeros((2, 10, 3)))
    with pytest.raises(DataFileError, match="field 'x' has shape"):
        calibration_for(model, tmp_path / "bad.npz")
    np.savez(tmp_path / "nan.npz", x=np.full((2, 10, 5), np.nan))
    with pytest.raises(DataFileError, match="NaN"):
        calibration_for(model, tmp_path / "nan.npz")


# --- the command line (a contract) -----------------------------------------------------------------


@pytest.mark.slow
def test_quantize_and_run_cli(tmp_path: Path) -> None:
    model = _model(wirings.AutoNCP(12, 2), inputs=5)
    save(model, tmp_path / "m.lnn")
    runner = CliRunner()
    result = runner.invoke(
        cli,
        ["quantize", str(tmp_path / "m.lnn"), "-o", str(tmp_path / "q.lnn"), "--precision", "fixed16",
         "--report", str(tmp_path / "r.json")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "PASS" in result.stdout and "held-out" in result.stdout
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["passed"] and report["parameter_bytes"] > 0
    assert {e["name"] for e in report["evaluations"]} == {"calibration", "held-out"}
    assert {"max_abs", "rmse", "mae", "rel_l2", "cosine"} <= set(report["evaluations"][0]["outputs"])
    assert isinstance(load_any(tmp_path / "q.lnn"), type(quantize(model, "fixed16")))

    x = np.random.default_rng(1).normal(size=(2, 20, 5))
    np.savez(tmp_path / "in.npz", x=x)
    result = runner.invoke(
        cli,
        ["run", str(tmp_path / "q.lnn"), "--data", str(tmp_path / "in.npz"), "-o", str(tmp_path / "o.npz")],
    )
    assert result.exit_code == 0, result.output
    with np.load(tmp_path / "o.npz") as out:
        assert set(out.files) == {"y", "state", "y_raw", "state_raw"}
        assert out["y"].shape == (2, 20, 2) and out["state_raw"].dtype == np.int64
        y_ref, _ = Reference(model).run(x, np.ones((2, 20)))
        assert compare(out["y"], y_ref).max_abs_rel_range <= 1e-2


def test_quantize_cli_bad_override(tmp_path: Path) -> None:
    save(_model(), tmp_path / "m.lnn")
    result = CliRunner().invoke(
        cli,
        [
            "quantize",
            str(tmp_path / "m.lnn"),
            "-o",
            str(tmp_path / "q.lnn"),
            "--precision",
            "fixed16",
            "--format",
            "g",
        ],
    )
    assert result.exit_code == 1 and result.stderr.startswith("error: --format 'g'")
    assert not (tmp_path / "q.lnn").exists()


# --- the fast step's invariants -----------------------------------------------------------------------------


@settings(max_examples=20)
@given(
    units=st.integers(2, 20),
    inputs=st.integers(1, 10),
    scale=st.sampled_from([0.05, 0.3, 1.0, 3.0, 20.0]),
    precision=st.sampled_from(["fixed16", "fixed32"]),
    seed=st.integers(0, 10_000),
)
def test_sigmoid_position_formats_and_offsets(units: int, inputs: int, scale: float, precision: str, seed: int) -> None:
    """The table position p = sigma * pre + c fits W - 1 bits for ANY B-bit pre (formats capped so that
    fsig + fv <= 2B - 7); its shift below z keeps the embedded presynaptic index harmless (z_shift >= 10, and
    c's low 8 bits are the source); every base conductance is >= 3 (div_round_fast)."""
    model = _random_model(units, inputs, scale, seed, steps=20)
    try:
        qmodel = quantize(model, precision)
    except QuantizationError:
        return
    bits, f, q = qmodel.bits, qmodel.formats, qmodel.params
    assert f["sig"] + f["v"] <= 2 * bits - 7 and f["ssig"] + f["xm"] <= 2 * bits - 7
    limit = 1 << (2 * bits - 1)
    for prefix in ("", "s_"):
        reach = np.abs(q[f"{prefix}sigma"]) * (1 << (bits - 1)) + np.abs(q[f"{prefix}c"])
        assert int(reach.max(initial=0)) < limit
    assert q["gleak_eps"].min() >= 3
    assert min(qmodel.constants["z_shift"], qmodel.constants["s_z_shift"]) >= 10
    assert max(qmodel.constants["z_shift"], qmodel.constants["s_z_shift"]) <= bits
    for prefix, mask in (("", q["mask"]), ("s_", q["s_mask"])):
        sources = np.nonzero(mask)[0]
        assert np.array_equal(q[f"{prefix}c"][mask.astype(bool)] & 0xFF, sources & 0xFF)


def test_tiny_leak_gets_the_minimum_base_conductance() -> None:
    model = _model(wirings.AutoNCP(10, 2))
    model.arrays["gleak"] = np.full_like(model.arrays["gleak"], -30.0)  # softplus(-30) ~ 1e-13: 0 LSB
    qmodel = quantize(model, "fixed16")
    assert int(qmodel.params["gleak"].max()) == 0 and qmodel.params["gleak_eps"].min() == 3
    assert model.calibration is not None and model.calibration.dt is not None
    result = Emulator(qmodel).run(*_calibration(model))
    assert result.saturations.total == 0

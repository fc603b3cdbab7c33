"""CfC quantization (dense and wired): accuracy against the float64 reference for every mode, backbone,
activation, projection and wiring; the float32 twin against an independent scalar evaluation; no accumulator
overflow (exact Python-integer recomputation, also under extreme inputs); clear errors for what cannot be
quantized."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from ncps import wirings
from ncps.torch import CfC
from ncps_oracle import randomize_parameters

from lnn_edge.cells.cfc.emulate import CfcFixedStep, CfcFloat32Step
from lnn_edge.cells.cfc.layout import cfc_layers, ff_dense
from lnn_edge.metrics import compare
from lnn_edge.model.importers import from_module
from lnn_edge.model.model import ACTIVATIONS, Calibration, Model, validate
from lnn_edge.quant import f32math
from lnn_edge.quant.emulator import Emulator
from lnn_edge.quant.qformat import QuantizationError
from lnn_edge.quant.qmodel import QuantizedModel
from lnn_edge.quant.qmodelfile import load_any, save_quantized
from lnn_edge.quant.quantize import quantize
from lnn_edge.reference import Reference

THRESHOLDS = {"float32": 1e-5, "fixed32": 1e-4, "fixed16": 1e-2}
PRECISIONS = ("float32", "fixed16", "fixed32")
MODES = ("default", "no_gate", "pure")


def _module(
    mode: str, kind: str, backbone: int, activation: str, proj: int | None, inputs: int, seed: int
) -> torch.nn.Module:
    torch.manual_seed(seed)
    if kind == "ncp":
        wiring: wirings.Wiring = wirings.NCP(6, 4, 3, 3, 3, 2, 3, seed=seed + 1)
        return CfC(inputs, wiring, proj_size=proj, mode=mode)
    if kind == "autoncp":
        return CfC(inputs, wirings.AutoNCP(14, 3, seed=seed + 2), proj_size=proj, mode=mode)
    return CfC(
        inputs,
        12,
        proj_size=proj,
        mode=mode,
        activation=activation,
        backbone_layers=backbone,
        backbone_units=16,
    )


def _model(
    mode: str = "default",
    kind: str = "dense",
    backbone: int = 1,
    activation: str = "lecun_tanh",
    proj: int | None = None,
    mapping: bool = False,
    inputs: int = 5,
    seed: int = 0,
) -> Model:
    model = from_module(_module(mode, kind, backbone, activation, proj, inputs, seed))
    rng = np.random.default_rng(seed)
    if mapping:
        assert model.cfc is not None
        model.cfc.output_mapping = "affine"
        sign = rng.choice([-1.0, 1.0], size=model.output_size)
        model.arrays["output_w"] = sign * rng.uniform(0.3, 3.0, size=model.output_size)
        model.arrays["output_b"] = rng.normal(0.0, 2.0, size=model.output_size)
        validate(model)
    model.calibration = Calibration(x=rng.normal(size=(8, 40, inputs)), dt=rng.uniform(0.2, 2.0, size=(8, 40)))
    return model


def _inputs(model: Model, seed: int = 9, batch: int = 4, steps: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Random sequences inside the calibration range (inputs and elapsed times)."""
    calib = model.calibration
    assert calib is not None and calib.dt is not None
    rng = np.random.default_rng(seed)
    bound = np.abs(calib.x).max(axis=(0, 1))
    x = np.clip(rng.normal(size=(batch, steps, model.input_size)), -bound, bound)
    dt = rng.uniform(calib.dt.min(), calib.dt.max(), size=(batch, steps))
    return x, dt


def _check_accuracy(model: Model, saturation_free: bool = True) -> dict[str, float]:
    x, dt = _inputs(model)
    y_ref, _ = Reference(model).run(x, dt)
    errors = {}
    for precision in PRECISIONS:
        qmodel = quantize(model, precision)
        result = Emulator(qmodel).run(x, dt)
        error = compare(result.y, y_ref).max_abs_rel_range
        errors[precision] = error
        assert error <= THRESHOLDS[precision], (precision, error)
        if qmodel.is_fixed:
            assert result.y_raw is not None and result.state_raw is not None
            limit = 1 << (qmodel.bits - 1)
            assert np.abs(result.y_raw).max() <= limit and np.abs(result.state_raw).max() <= limit
            if saturation_free:
                assert result.saturations.total == 0, (precision, result.saturations.events[:3])
    return errors


DENSE = [(0, "lecun_tanh")] + [(layers, act) for layers in (1, 2) for act in ACTIVATIONS]


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("proj", [None, 3])
@pytest.mark.parametrize(("backbone", "activation"), DENSE)
def test_dense_cfc_accuracy(mode: str, proj: int | None, backbone: int, activation: str) -> None:
    model = _model(mode, "dense", backbone, activation, proj)
    _check_accuracy(model, saturation_free=True)


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("proj", [None, 2])
@pytest.mark.parametrize("kind", ["ncp", "autoncp"])
def test_wired_cfc_accuracy(mode: str, proj: int | None, kind: str) -> None:
    model = _model(mode, kind, proj=proj, seed=3)
    _check_accuracy(model, saturation_free=True)


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", ["dense", "ncp"])
def test_output_mapping(mode: str, kind: str) -> None:
    model = _model(mode, kind, backbone=1, proj=3 if kind == "dense" else None, mapping=True, seed=5)
    _check_accuracy(model)


def test_wired_masks_are_exact_zeros() -> None:
    model = _model("default", "ncp")
    for precision in PRECISIONS:
        qmodel = quantize(model, precision)
        for layer in cfc_layers(model):
            mask = model.arrays[f"{layer.source}sparsity_mask"] == 0
            assert np.all(qmodel.params[f"{layer.name}ff1_w"][mask] == 0)
            assert np.all(qmodel.params[f"{layer.name}ff2_w"][mask] == 0)
            assert np.array_equal(qmodel.params[f"{layer.name}mask"], model.arrays[f"{layer.source}sparsity_mask"])
            assert np.any(qmodel.params[f"{layer.name}ta_w"][mask] != 0)  # time heads stay dense


# --- float32 twin -----------------------------------------------------------------------------------------


def _scalar_f32_step(qmodel: QuantizedModel, x: np.ndarray, h: np.ndarray, dt: float) -> tuple[list, list]:
    """An independent float32 evaluation: scalar by scalar, sequential sums (bias first; a wired layer's ff1/ff2
    skip absent synapses unless ff_dense evaluates them densely), f32math's CfC nonlinearities, the gated update
    as one fraction of the tanh parts."""
    model = qmodel.model
    assert model.cfc is not None
    p, f = qmodel.params, np.float32
    act = f32math.CFC_ACTIVATIONS[model.cfc.activation]

    def parts(v: np.float32) -> tuple[np.float32, np.float32]:
        n, d = f32math.cfc_tanh_parts(np.asarray([v], dtype=np.float32))
        return f(n[0]), f(d[0])

    def tanh(v: np.float32) -> np.float32:
        n, d = parts(v)
        return f(n / d)

    def linear(name: str, z: list, mask: np.ndarray | None = None) -> list:
        w, b = p[f"{name}_w"], p[f"{name}_b"]
        out = []
        for r in range(w.shape[0]):
            acc = f(b[r])
            for c in range(w.shape[1]):
                if mask is None or mask[r, c]:
                    acc = f(acc + f(w[r, c] * z[c]))
            out.append(acc)
        return out

    t = f(dt)
    u = [f(v) for v in x]
    new_state: list = []
    for layer in cfc_layers(model):
        pre = layer.name
        mask = p.get(f"{pre}mask")
        if mask is not None and ff_dense(mask, "float32"):
            mask = None
        z = u + [f(v) for v in h[layer.start : layer.start + layer.size]]
        for k in range(int(qmodel.constants["backbone_layers"])):
            z = [f(act(v)) for v in linear(f"bb{k}", z)]
        ff1 = linear(f"{pre}ff1", z, mask)
        if model.cfc.mode == "pure":
            a, tau = p[f"{pre}A"], p[f"{pre}tau"]
            u = [
                f(f(f(-a[i]) * f(f32math.exp_neg(np.asarray(t * f(tau[i] + abs(v)))))) * v) + a[i]
                for i, v in enumerate(ff1)
            ]
        else:
            ff2 = linear(f"{pre}ff2", z, mask)
            ta, tb = linear(f"{pre}ta", z), linear(f"{pre}tb", z)
            u = []
            for i in range(layer.size):
                gate = f(f(ta[i] * t) + tb[i])
                if model.cfc.mode == "no_gate":
                    g = f(f(0.5) + f(f(0.5) * tanh(f(f(0.5) * gate))))
                    u.append(f(tanh(ff1[i]) + f(g * tanh(ff2[i]))))
                else:
                    (n1, d1), (n2, d2), (ng, dg) = parts(ff1[i]), parts(ff2[i]), parts(f(f(0.5) * gate))
                    p12, p21 = f(n1 * d2), f(n2 * d1)
                    num = f(f(f(p12 + p21) * dg) + f(ng * f(p21 - p12)))
                    den = f(f(f(d1 * d2) * dg) * f(2.0))
                    u.append(f(num / den))
        new_state += u
    y = linear("fc", u) if model.cfc.proj_size is not None else u
    if model.cfc.output_mapping == "affine":
        y = [f(f(v * p["out_w"][k]) + p["out_b"][k]) for k, v in enumerate(y)]
    return y, new_state


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("kind", "backbone", "activation", "proj"),
    [
        ("dense", 1, "gelu", 3),
        ("dense", 2, "silu", None),
        ("dense", 1, "lecun_tanh", None),
        ("ncp", 0, "relu", 2),
    ],
)
def test_float32_twin_is_sequential_float32(
    mode: str, kind: str, backbone: int, activation: str, proj: int | None
) -> None:
    model = _model(mode, kind, backbone, activation, proj, mapping=True, inputs=3, seed=11)
    qmodel = quantize(model, "float32")
    assert all(array.dtype == np.float32 for array in qmodel.params.values())
    step = CfcFloat32Step(qmodel)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 5, 3)).astype(np.float32)
    dt = rng.uniform(0.2, 2.0, size=(2, 5)).astype(np.float32)
    h = np.zeros((2, model.state_size), dtype=np.float32)
    for t in range(5):
        y, h_next = step.step(x[:, t], h, dt[:, t])
        again = step.step(x[:, t], h, dt[:, t])
        assert y.dtype == np.float32 and h_next.dtype == np.float32
        assert np.array_equal(y, again[0]) and np.array_equal(h_next, again[1])
        y_naive, h_naive = _scalar_f32_step(qmodel, x[0, t], h[0], float(dt[0, t]))
        assert np.array_equal(y[0], np.array(y_naive, dtype=np.float32)), t
        assert np.array_equal(h_next[0], np.array(h_naive, dtype=np.float32)), t
        h = h_next


# --- overflow -----------------------------------------------------------------------------------------------

STORED = (".a", "ta.q", "f1", "k")
"""Traced values the C stores in B-bit variables."""


def _check_trace(qmodel: QuantizedModel, trace: dict[str, np.ndarray]) -> int:
    """Every Linear accumulator equals its exact Python-integer value and fits W bits; every W-bit intermediate
    fits W bits; every stored value fits B bits. Returns the number of accumulators checked."""
    bits = qmodel.bits
    wide_limit, limit = (1 << (2 * bits - 1)) - 1, 1 << (bits - 1)
    checked = 0
    for key, value in trace.items():
        assert value.dtype == np.int64
        exact_values = value.astype(object)
        if key.endswith(".acc"):
            name = key[: -len(".acc")]
            z = trace[f"{name}.z"].astype(object)
            weight, bias = (
                qmodel.params[f"{name}_w"].astype(object),
                qmodel.params[f"{name}_b"].astype(object),
            )
            exact = bias[None, :] + z @ weight.T
            assert np.all(exact == exact_values), key
            checked += 1
        assert max(abs(int(v)) for v in exact_values.ravel()) <= wide_limit, key
        if key.endswith(STORED):
            assert np.abs(value).max() <= limit, key
    return checked


def _extreme_state(qmodel: QuantizedModel, rng: np.random.Generator, batch: int) -> np.ndarray:
    """The largest state the proofs allow (default: 2**h, no_gate: 2**(h+1), pure: the saturated B bits)."""
    assert qmodel.model.cfc is not None
    fh, mode = qmodel.formats["h"], qmodel.model.cfc.mode
    top = {"default": 1 << fh, "no_gate": 1 << (fh + 1)}.get(mode, 1 << (qmodel.bits - 1))
    return rng.choice([-top, top], size=(batch, qmodel.model.state_size)).clip(-top, (1 << (qmodel.bits - 1)) - 1)


OVERFLOW_CASES = [
    ("dense", 1, "lecun_tanh", 3),
    ("dense", 2, "relu", None),
    ("dense", 2, "silu", None),
    ("dense", 1, "gelu", 2),
    ("dense", 1, "tanh", None),
    ("dense", 0, "lecun_tanh", None),
    ("ncp", 0, "lecun_tanh", 2),
]


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fixed16", "fixed32"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("kind", "backbone", "activation", "proj"), OVERFLOW_CASES)
def test_no_accumulator_overflow(
    precision: str, mode: str, kind: str, backbone: int, activation: str, proj: int | None
) -> None:
    """Calibration inputs for a few steps, then extreme ones: inputs at +-2**(B-1), the state at its proven
    bound, dt at 0 and at its largest value; every accumulator is recomputed exactly."""
    model = _model(mode, kind, backbone, activation, proj, mapping=proj is None)
    qmodel = quantize(model, precision)
    emulator = Emulator(qmodel)
    step = CfcFixedStep(qmodel)
    step.trace = {}
    x, dt = _inputs(model, batch=3, steps=4)
    h = emulator.initial_state(3)
    bits = qmodel.bits
    for t in range(4):
        y, h = step.step(emulator.input_to_raw(x[:, t]), h, emulator.dt_to_raw(dt[:, t]))
        assert _check_trace(qmodel, step.trace) > 0
    rng = np.random.default_rng(0)
    top = (1 << (bits - 1)) - 1
    for dt_q in (np.array([top, 0, top, 1]), np.array([0, top, 7, top])):
        x_q = rng.choice([-(1 << (bits - 1)), top], size=(4, model.input_size))
        y, h = step.step(x_q, _extreme_state(qmodel, rng, 4), dt_q)
        _check_trace(qmodel, step.trace)
        assert np.abs(y).max() <= 1 << (bits - 1) and np.abs(h).max() <= 1 << (bits - 1)


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fixed16", "fixed32"])
@pytest.mark.parametrize("mode", MODES)
def test_adversarial_sequences_only_saturate_inputs(precision: str, mode: str) -> None:
    """Huge inputs and elapsed times for 300 steps: in the gated modes only x and dt saturate (reported); the
    state never leaves its proven bound."""
    model = _model(mode, "dense", 1, "lecun_tanh", None)
    qmodel = quantize(model, precision)
    rng = np.random.default_rng(2)
    x = rng.choice([-1e6, 1e6, 0.0], size=(2, 300, 5)) * rng.uniform(size=(2, 300, 5))
    dt = rng.choice([1e-6, 1.0, 1e6], size=(2, 300))
    result = Emulator(qmodel).run(x, dt)
    assert result.state_raw is not None
    assert set(result.saturations.counts) <= ({"x", "dt"} if mode != "pure" else {"x", "dt", "h"})
    assert result.saturations.counts.get("x", 0) > 0
    if mode == "default":
        assert np.abs(result.state_raw).max() <= 1 << qmodel.formats["h"]


# --- errors and overrides -----------------------------------------------------------------------------------


def test_overrides() -> None:
    model = _model("default", "dense", 1, "silu", 3)
    with pytest.raises(QuantizationError, match="unknown format override.*formats of this CfC are: .*bb0_act"):
        quantize(model, "fixed16", overrides={"v": 3})
    with pytest.raises(QuantizationError, match="tensor 'h'"):
        quantize(model, "fixed16", overrides={"h": 15})
    with pytest.raises(QuantizationError, match=r"override h=-5: fewer than 0 fractional bits .* from 0 to"):
        quantize(model, "fixed16", overrides={"h": -5})  # a negative shift in the step: refused, not a traceback
    with pytest.raises(QuantizationError, match="ff1_acc"):
        quantize(model, "fixed16", overrides={"ff1_acc": 31})
    coarse = quantize(model, "fixed16", overrides={"h": 12, "bb0_act": 9})
    assert coarse.formats["h"] == 12 and coarse.formats["bb0_act"] == 9
    x, dt = _inputs(model)
    result = Emulator(coarse).run(x, dt)
    assert compare(result.y, Reference(model).run(x, dt)[0]).max_abs_rel_range <= 3e-2


@pytest.mark.parametrize("precision", PRECISIONS)
def test_quantized_file_round_trip(tmp_path: Path, precision: str) -> None:
    model = _model("pure", "ncp", proj=2, mapping=True)
    qmodel = quantize(model, precision)
    path = tmp_path / "m.lnn"
    digest = save_quantized(qmodel, path)
    loaded = load_any(path)
    assert isinstance(loaded, QuantizedModel) and loaded.quant_hash() == digest == qmodel.quant_hash()
    x, dt = _inputs(model, batch=2, steps=5)
    first, second = Emulator(qmodel).run(x, dt), Emulator(loaded).run(x, dt)
    assert np.array_equal(first.y, second.y) and np.array_equal(first.state, second.state)


def test_huge_weights_name_the_tensor() -> None:
    model = _model("default", "dense", 1, "relu", None)
    model.arrays["backbone.0.weight"] = model.arrays["backbone.0.weight"] * 1e9
    with pytest.raises(QuantizationError, match="tensor '"):
        quantize(model, "fixed16")


@pytest.mark.slow
@settings(max_examples=15, deadline=None)
@given(
    mode=st.sampled_from(MODES),
    kind=st.sampled_from(["dense", "wired"]),
    inputs=st.integers(1, 6),
    hidden=st.integers(1, 10),
    backbone=st.integers(0, 2),
    units=st.integers(1, 12),
    activation=st.sampled_from(ACTIVATIONS),
    proj=st.one_of(st.none(), st.integers(1, 3)),
    scale=st.sampled_from([0.3, 1.0, 3.0]),
    precision=st.sampled_from(["fixed16", "fixed32"]),
    seed=st.integers(0, 2**31),
)
def test_drawn_models_quantize_or_name_a_tensor(
    mode: str,
    kind: str,
    inputs: int,
    hidden: int,
    backbone: int,
    units: int,
    activation: str,
    proj: int | None,
    scale: float,
    precision: str,
    seed: int,
) -> None:
    torch.manual_seed(seed % 1000)
    if kind == "wired":
        units_total = max(hidden, 4)
        wiring = wirings.AutoNCP(units_total + 2, max(1, min(hidden, units_total - 2)), seed=seed % 1000)
        module = CfC(inputs, wiring, mode=mode, proj_size=proj)
    else:
        module = CfC(
            inputs, hidden, mode=mode, activation=activation, backbone_layers=backbone, backbone_units=units,
            proj_size=proj,
        )  # fmt: skip
    randomize_parameters(module.double(), np.random.default_rng(seed), scale=scale)
    model = from_module(module)
    rng = np.random.default_rng(seed)
    model.calibration = Calibration(
        x=rng.normal(0.0, scale, size=(3, 25, inputs)), dt=rng.uniform(0.1, 3.0, size=(3, 25))
    )
    try:
        qmodel = quantize(model, precision)
    except QuantizationError as error:
        assert "tensor '" in str(error), error
        return
    calib = model.calibration
    result = Emulator(qmodel).run(calib.x, calib.dt)  # type: ignore[arg-type]
    assert result.saturations.total == 0, result.saturations.events[:3]


def test_a_quantized_cfc_of_the_previous_scheme_is_refused() -> None:
    """Parameters quantized for the previous fixed-point step (no ``cfc_scheme``) must not run under this one."""
    from lnn_edge.codegen.render import render
    from lnn_edge.errors import LnnEdgeError

    qmodel = quantize(_model("default", "ncp"), "fixed16")
    assert qmodel.constants["cfc_scheme"] == 2
    del qmodel.constants["cfc_scheme"]
    with pytest.raises(LnnEdgeError, match="older lnn-edge"):
        Emulator(qmodel)
    with pytest.raises(LnnEdgeError, match="older lnn-edge"):
        render(qmodel, "m")

"""fixed16 fidelity of dense CfCs with deeper backbones (issue 15): real ncps modules whose parameters are moved
away from their initial values, through the real quantizer and emulator, against the float64 reference.

The figure is the max abs output error over held-out sequences (inside the calibration range) as a fraction of
the reference output range. The breakdown of where it comes from, and the figures before and after the deep-backbone
formats, are in docs/number-formats.md (CfC section)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from ncps.torch import CfC

from lnn_edge.cells.cfc.quantize import BACKBONE_ACT_DROP, TANH_INDEX_BITS_DEEP
from lnn_edge.metrics import compare
from lnn_edge.model.importers import from_module
from lnn_edge.model.model import ACTIVATIONS, Calibration, Model
from lnn_edge.quant.emulator import Emulator
from lnn_edge.quant.quantize import quantize
from lnn_edge.reference import Reference

ISSUE_NOISE = 0.18
"""The issue's model: N(0, 0.18) (weights: times sqrt(32 / fan-in)) added to every trainable parameter puts it at
1.06 % of the range (median of 6 seeds) with the formats of before issue 15, the 1.02 % the issue reports. Near
the edge of chaos: from 0.2 on some seeds miss fixed32's 1e-4, at 0.25 float32 misses its 1e-5."""
GOAL = 5e-3
"""Issue 15's goal for that model: at most 0.5 % of the output range (median over seeds)."""
DRAWN_NOISE = 0.1
"""Drawn models get less noise: 3 x 64 lecun_tanh backbones turn chaotic sooner (a few % at 0.15, whatever the
precision: fixed32 then misses its bar too)."""
DRAWN_BOUND = 5e-3
"""What every drawn deep-backbone model (2-3 layers, 16-64 units, every activation) reaches in fixed16: at most
0.23 % over 40 draws, lecun_tanh 3 x 50-64 the worst (0.31 % median with the formats of before issue 15)."""


def deep_cfc(
    activation: str, layers: int, units: int, seed: int, noise: float, inputs: int = 8, hidden: int = 16
) -> Model:
    """A real ncps CfC with a deep backbone, parameters perturbed by N(0, noise), calibrated on N(0, 1) inputs."""
    torch.manual_seed(seed)
    module = CfC(inputs, hidden, backbone_layers=layers, backbone_units=units, activation=activation).double()
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for param in module.parameters():
            if param.requires_grad:  # weights: scaled by the fan-in, as their initial values are
                scale = noise * (32 / param.shape[1]) ** 0.5 if param.dim() == 2 else noise
                param.add_(torch.from_numpy(rng.normal(0.0, scale, size=tuple(param.shape))))
    model = from_module(module)
    model.calibration = Calibration(x=rng.normal(size=(16, 50, inputs)), dt=rng.uniform(0.5, 1.5, size=(16, 50)))
    return model


def held_out(model: Model, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Fresh sequences inside the calibration range (per-input max |x| and the elapsed-time range)."""
    calib = model.calibration
    assert calib is not None and calib.dt is not None
    rng = np.random.default_rng(seed + 10_000)
    bound = np.abs(calib.x).max(axis=(0, 1))
    x = np.clip(rng.normal(size=(8, 60, model.input_size)), -bound, bound)
    return x, rng.uniform(calib.dt.min(), calib.dt.max(), size=(8, 60))


def fixed16_error(model: Model, seed: int) -> float:
    """fixed16 max abs output error / output range on held-out data; no value may saturate."""
    qmodel = quantize(model, "fixed16")
    x, dt = held_out(model, seed)
    y_ref, _ = Reference(model).run(x, dt)
    result = Emulator(qmodel).run(x, dt)
    assert result.saturations.total == 0, result.saturations.events[:3]
    return compare(result.y, y_ref).max_abs_rel_range


@pytest.mark.slow
def test_the_issue_model_meets_the_goal() -> None:
    """8 inputs, 16 hidden, two lecun_tanh backbone layers of 32 units: at most 0.5 % of the range (measured
    0.39 %; 1.06 % before the deep-backbone formats). The median over seeds: near the edge of chaos one seed's
    sequence error swings by 2x with any change of rounding (the breakdown in docs/number-formats.md)."""
    errors = [fixed16_error(deep_cfc("lecun_tanh", 2, 32, seed, ISSUE_NOISE), seed) for seed in range(6)]
    assert float(np.median(errors)) <= GOAL, errors


def test_deep_tanh_backbones_use_the_finer_table_and_narrower_activations() -> None:
    """The formats the goal rests on: a 512-segment table and activations 2 bits narrower than the table's."""
    qmodel = quantize(deep_cfc("tanh", 3, 16, 0, DRAWN_NOISE), "fixed16")
    assert qmodel.constants["tanh_index_bits"] == TANH_INDEX_BITS_DEEP[16]
    for k in range(3):
        assert qmodel.constants[f"bb{k}_sr"] == BACKBONE_ACT_DROP[16]
        assert qmodel.formats[f"bb{k}_act"] == 15 - BACKBONE_ACT_DROP[16]


@pytest.mark.slow
@settings(max_examples=10, deadline=None)
@given(
    activation=st.sampled_from(sorted(ACTIVATIONS)),
    layers=st.integers(2, 3),
    units=st.integers(16, 64),
    seed=st.integers(0, 10_000),
)
def test_drawn_deep_backbones_stay_within_the_bound(activation: str, layers: int, units: int, seed: int) -> None:
    error = fixed16_error(deep_cfc(activation, layers, units, seed, DRAWN_NOISE), seed)
    assert error <= DRAWN_BOUND, (activation, layers, units, seed, error)

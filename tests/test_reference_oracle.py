"""The float64 reference equals ncps in double (model.double()) to <= 1e-12 over >= 200 steps.

Hypothesis draws wiring kinds, sizes, options and parameters; the cell is driven step by step with random
elapsed times of shape (B, 1).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from ncps import wirings
from ncps.torch import LTC, CfC
from ncps_oracle import randomize_parameters, run_ncps
from strategies import small_wiring_draws

from lnn_edge.model.importers import from_module
from lnn_edge.reference import Reference

STEPS = 200
TOLERANCE = 1e-12


def _compare(module: torch.nn.Module, seed: int, inputs_scale: float = 1.0, free_running: bool = True) -> None:
    """Check every step, outputs and state. Per step, the reference starts from ncps's previous state, so
    the check is exact even where random parameters make the dynamics chaotic (there, float64 rounding
    differences grow like any perturbation); ``free_running`` also compares two independent runs."""
    rng = np.random.default_rng(seed)
    model = from_module(module)
    x = rng.normal(0.0, inputs_scale, size=(2, STEPS, model.input_size))
    dt = rng.uniform(0.05, 3.0, size=(2, STEPS))
    y_ncps, s_ncps = run_ncps(module, x, dt)
    reference = Reference(model)
    previous = reference.initial_state(2)
    for t in range(STEPS):
        y_step, s_step = reference.step(x[:, t], previous, dt[:, t])
        assert np.max(np.abs(y_step - y_ncps[:, t])) <= TOLERANCE, f"output differs at step {t}"
        assert np.max(np.abs(s_step - s_ncps[:, t])) <= TOLERANCE, f"state differs at step {t}"
        previous = s_ncps[:, t]
    if free_running:
        y_ref, s_ref = reference.run(x, dt)
        assert y_ref.shape == y_ncps.shape and s_ref.shape == s_ncps.shape
        assert np.max(np.abs(y_ref - y_ncps)) <= TOLERANCE
        assert np.max(np.abs(s_ref - s_ncps)) <= TOLERANCE


@st.composite
def ltc_wirings(draw: st.DrawFn) -> tuple[wirings.Wiring, int]:
    """A small wiring and an input count."""
    return draw(small_wiring_draws()), draw(st.integers(1, 8))


@pytest.mark.slow
@settings(max_examples=30)
@given(
    wiring_and_inputs=ltc_wirings(),
    input_mapping=st.sampled_from(["affine", "linear", "none"]),
    output_mapping=st.sampled_from(["affine", "linear", "none"]),
    implicit=st.booleans(),
    unfolds=st.integers(1, 8),
    seed=st.integers(0, 2**31),
)
def test_ltc_matches_ncps(
    wiring_and_inputs: tuple[wirings.Wiring, int],
    input_mapping: str,
    output_mapping: str,
    implicit: bool,
    unfolds: int,
    seed: int,
) -> None:
    wiring, inputs = wiring_and_inputs
    torch.manual_seed(seed % 1000)
    module = LTC(
        inputs,
        wiring,
        input_mapping=input_mapping,
        output_mapping=output_mapping,
        ode_unfolds=unfolds,
        implicit_param_constraints=implicit,
    ).double()
    randomize_parameters(module, np.random.default_rng(seed))
    if not implicit:  # raw parameters must be kept positive by training's clipping
        module.rnn_cell.apply_weight_constraints()
    _compare(module, seed, inputs_scale=2.0)


@pytest.mark.parametrize("mode", ["default", "no_gate", "pure"])
@pytest.mark.parametrize("backbone_layers", [0, 1, 2])
def test_dense_cfc_matches_ncps_modes_and_backbones(mode: str, backbone_layers: int) -> None:
    torch.manual_seed(backbone_layers)
    module = CfC(5, 12, mode=mode, backbone_layers=backbone_layers, backbone_units=16)
    _compare(module.double(), seed=backbone_layers)


@pytest.mark.parametrize("activation", ["lecun_tanh", "tanh", "relu", "silu", "gelu"])
@pytest.mark.parametrize("proj_size", [None, 3])
def test_dense_cfc_matches_ncps_activations_and_projection(activation: str, proj_size: int | None) -> None:
    torch.manual_seed(7)
    module = CfC(4, 9, proj_size=proj_size, activation=activation, backbone_units=11)
    _compare(module.double(), seed=7)


@pytest.mark.slow
@settings(max_examples=20)
@given(
    inputs=st.integers(1, 8),
    hidden=st.integers(1, 24),
    mode=st.sampled_from(["default", "no_gate", "pure"]),
    activation=st.sampled_from(["lecun_tanh", "tanh", "relu", "silu", "gelu"]),
    backbone_layers=st.integers(0, 2),
    backbone_units=st.integers(1, 20),
    dropout=st.sampled_from([0.0, 0.2]),
    proj_size=st.one_of(st.none(), st.integers(1, 5)),
    seed=st.integers(0, 2**31),
)
def test_dense_cfc_matches_ncps_drawn(
    inputs: int,
    hidden: int,
    mode: str,
    activation: str,
    backbone_layers: int,
    backbone_units: int,
    dropout: float,
    proj_size: int | None,
    seed: int,
) -> None:
    torch.manual_seed(seed % 1000)
    module = CfC(
        inputs,
        hidden,
        proj_size=proj_size,
        mode=mode,
        activation=activation,
        backbone_layers=backbone_layers,
        backbone_units=backbone_units,
        backbone_dropout=dropout,
    ).double()
    randomize_parameters(module, np.random.default_rng(seed), scale=0.7)
    _compare(module, seed, free_running=False)


@pytest.mark.slow
@settings(max_examples=20)
@given(
    wiring_and_inputs=ltc_wirings(),
    mode=st.sampled_from(["default", "no_gate", "pure"]),
    proj_size=st.one_of(st.none(), st.integers(1, 4)),
    seed=st.integers(0, 2**31),
)
def test_wired_cfc_matches_ncps(
    wiring_and_inputs: tuple[wirings.Wiring, int], mode: str, proj_size: int | None, seed: int
) -> None:
    wiring, inputs = wiring_and_inputs
    # ncps itself fails on a projection of a one-layer wiring with fewer motors than units (shape mismatch).
    assume(proj_size is None or wiring.num_layers > 1 or wiring.output_dim == wiring.units)
    torch.manual_seed(seed % 1000)
    module = CfC(inputs, wiring, proj_size=proj_size, mode=mode).double()
    randomize_parameters(module, np.random.default_rng(seed), scale=0.7)
    _compare(module, seed, free_running=False)


@pytest.mark.slow
def test_autoncp_19_2_ltc_and_cfc_reference_sizes() -> None:
    """The paper-sized model: AutoNCP(19, 2) with 20 inputs has 100 sensory and 45 internal synapses."""
    torch.manual_seed(0)
    ltc = LTC(20, wirings.AutoNCP(19, 2))
    model = from_module(ltc)
    assert model.synapse_counts() == (100, 45)
    assert model.wiring.kind == "autoncp"
    assert {role: len(ids) for role, ids in model.wiring.roles.items()} == {
        "motor": 2,
        "command": 6,
        "inter": 11,
    }
    _compare(ltc.double(), seed=1)
    _compare(CfC(20, wirings.AutoNCP(19, 2)).double(), seed=2)


def test_synapse_sigmoid_replaces_every_ltc_synapse_sigmoid() -> None:
    """``synapse_sigmoid`` (used to measure cheaper sigmoid tables) is applied once to the sensory synapses and
    once per unfold to the internal ones; the default is the exact logistic function, bit for bit."""
    from lnn_edge.reference import sigmoid

    torch.manual_seed(3)
    model = from_module(LTC(5, wirings.AutoNCP(9, 2), ode_unfolds=4))
    rng = np.random.default_rng(3)
    x, dt = rng.normal(size=(2, 5)), rng.uniform(0.5, 1.5, size=2)
    calls: list[tuple[int, ...]] = []

    def counted(z: np.ndarray) -> np.ndarray:
        calls.append(z.shape)
        return sigmoid(z)

    state = Reference(model).initial_state(2)
    y_default, s_default = Reference(model).step(x, state, dt)
    y_counted, s_counted = Reference(model, synapse_sigmoid=counted).step(x, state, dt)
    assert calls == [(2, 5, 9)] + [(2, 9, 9)] * 4
    assert np.array_equal(y_counted, y_default) and np.array_equal(s_counted, s_default)
    y_half, _ = Reference(model, synapse_sigmoid=lambda z: 0.5 * sigmoid(z)).step(x, state, dt)
    assert not np.allclose(y_half, y_default)

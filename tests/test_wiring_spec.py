"""Wiring specs: parsing, errors, and the ncps wirings and neuron roles they produce."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lnn_edge.errors import LnnEdgeError
from lnn_edge.model.wiring_spec import (
    build_wiring,
    check_compatible,
    parse_wiring,
    projects_outputs,
    wiring_config,
    wiring_roles,
)


@pytest.mark.parametrize(
    ("text", "kind", "units", "motor", "sparsity"),
    [
        ("autoncp:19,2", "autoncp", 19, 2, 0.5),
        ("AutoNCP: 24, 3, 0.7", "autoncp", 24, 3, 0.7),
        ("ncp:12,6,1,4,3,4,2", "ncp", 19, 1, None),
        ("fc:16", "fully_connected", 16, None, None),
        ("fully_connected:8", "fully_connected", 8, None, None),
        ("random:32,0.5", "random", 32, None, 0.5),
        ("dense:64", "dense", 64, None, None),
    ],
)
def test_parse(text: str, kind: str, units: int, motor: int | None, sparsity: float | None) -> None:
    spec = parse_wiring(text)
    assert (spec.kind, spec.units, spec.motor, spec.sparsity) == (kind, units, motor, sparsity)
    assert str(spec) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("autoncp", "missing ':'"),
        ("lstm:4", "unknown kind 'lstm'"),
        ("fc:", "fc takes 1 number, got 0"),
        ("fc:4,5", "fc takes 1 number, got 2"),
        ("fc:x", "UNITS 'x' is not an integer"),
        ("fc:0", "UNITS is 0; expected at least 1"),
        ("random:8", "random takes 2 numbers"),
        ("random:8,1.0", "SPARSITY is 1.0"),
        ("random:8,half", "SPARSITY 'half' is not a number"),
        ("autoncp:19", "autoncp takes 2 or 3 numbers"),
        ("autoncp:5,3", "OUTPUTS \\(3\\) must be less than UNITS - 2"),
        ("autoncp:19,2,0.95", "SPARSITY is 0.95"),
        ("ncp:12,6,1,4,3,4", "ncp takes 7 numbers, got 6"),
        ("ncp:3,6,1,4,3,4,2", "SENSORY_FANOUT \\(4\\) exceeds the 3 inter neurons"),
        ("ncp:12,2,1,4,3,4,2", "INTER_FANOUT \\(3\\) exceeds the 2 command neurons"),
        ("ncp:12,6,1,4,3,4,7", "MOTOR_FANIN \\(7\\) exceeds the 6 command neurons"),
        ("ncp:12,6,0,4,3,4,2", "MOTOR_NEURONS is 0"),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(LnnEdgeError, match=message) as caught:
        parse_wiring(text)
    assert f"wiring spec '{text}' is not valid" in str(caught.value)


def test_compatibility_errors() -> None:
    with pytest.raises(LnnEdgeError, match="use --cell cfc, or a wired spec such as fc:64"):
        check_compatible(parse_wiring("dense:64"), "ltc", 2, "pendulum")
    with pytest.raises(LnnEdgeError, match="has 2 motor neurons but task 'lorenz' has 3 outputs; use autoncp:19,3"):
        check_compatible(parse_wiring("autoncp:19,2"), "ltc", 3, "lorenz")
    with pytest.raises(LnnEdgeError, match="fewer than the 3 outputs"):
        check_compatible(parse_wiring("fc:2"), "ltc", 3, "lorenz")
    check_compatible(parse_wiring("fc:2"), "cfc", 3, "lorenz")  # a CfC projects its outputs
    check_compatible(parse_wiring("ncp:12,6,3,4,3,4,2"), "cfc", 3, "lorenz")


def _partition(roles: dict[str, list[int]], units: int) -> None:
    everyone = sorted(index for indices in roles.values() for index in indices)
    assert everyone == list(range(units))


@pytest.mark.parametrize("cell", ["ltc", "cfc"])
def test_ncp_roles_follow_each_cell_state_layout(cell: str) -> None:
    spec = parse_wiring("autoncp:19,2")
    wiring = build_wiring(spec, cell, 2)
    wiring.build(3)
    roles = wiring_roles(spec, cell, wiring, 2)
    _partition(roles, 19)
    assert (len(roles["inter"]), len(roles["command"]), len(roles["motor"])) == (11, 6, 2)
    if cell == "ltc":  # ncps neuron ids: [motor | command | inter]; LTC outputs are the first neurons
        assert roles["motor"] == [0, 1] and roles["command"] == list(range(2, 8))
    else:  # a wired CfC lays its state out by layer: [inter | command | motor]
        assert roles["inter"] == list(range(11)) and roles["motor"] == [17, 18]


def test_fc_and_random_roles_and_outputs() -> None:
    fc = parse_wiring("fc:6")
    wiring = build_wiring(fc, "ltc", 2)
    assert wiring.output_dim == 2 and not projects_outputs(fc, "ltc")
    assert wiring_roles(fc, "ltc", wiring, 2) == {"motor": [0, 1], "hidden": [2, 3, 4, 5]}
    # A CfC's outputs are its whole last layer: fc/random/dense project them to the task's outputs.
    rnd = parse_wiring("random:5,0.4")
    wiring = build_wiring(rnd, "cfc", 2)
    assert wiring.output_dim == 5 and projects_outputs(rnd, "cfc")
    assert wiring_roles(rnd, "cfc", wiring, 2) == {"motor": [], "hidden": [0, 1, 2, 3, 4]}
    assert build_wiring(parse_wiring("dense:8"), "cfc", 2) is None


def test_wiring_config_has_no_matrices() -> None:
    spec = parse_wiring("ncp:12,6,1,4,3,4,2")
    wiring = build_wiring(spec, "ltc", 1)
    wiring.build(2)
    config = wiring_config(spec, wiring)
    assert config == {
        "inter_neurons": 12,
        "command_neurons": 6,
        "motor_neurons": 1,
        "sensory_fanout": 4,
        "inter_fanout": 3,
        "recurrent_command_synapses": 4,
        "motor_fanin": 2,
        "seed": 22222,
    }
    for text in ("autoncp:19,2", "fc:5", "random:6,0.5"):
        spec = parse_wiring(text)
        wiring = build_wiring(spec, "ltc", 2)
        wiring.build(3)
        config = wiring_config(spec, wiring)
        assert config["units"] == spec.units and not any("adjacency" in key for key in config)
    assert wiring_config(parse_wiring("dense:7"), None) == {"units": 7}


@given(units=st.integers(4, 40), data=st.data())
def test_any_valid_autoncp_builds_with_partitioned_roles(units: int, data: st.DataObject) -> None:
    outputs = data.draw(st.integers(1, units - 3))
    sparsity = data.draw(st.sampled_from([0.1, 0.5, 0.9]))
    inputs = data.draw(st.integers(1, 5))
    cell = data.draw(st.sampled_from(["ltc", "cfc"]))
    spec = parse_wiring(f"autoncp:{units},{outputs},{sparsity}")
    wiring = build_wiring(spec, cell, outputs)
    wiring.build(inputs)
    roles = wiring_roles(spec, cell, wiring, outputs)
    _partition(roles, units)
    assert len(roles["motor"]) == outputs

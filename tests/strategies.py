"""Hypothesis strategies shared by the tests: drawn ncps wirings of every kind.

One strategy with the size limits as parameters, so the codegen, quantizer and reference tests draw their
wirings the same way and a new wiring kind is added once.
"""

from __future__ import annotations

from hypothesis import strategies as st
from ncps import wirings

KINDS = ("fc", "random", "ncp", "autoncp")


@st.composite
def wiring_draws(
    draw: st.DrawFn,
    *,
    max_units: int = 64,
    ncp_layers: tuple[int, int, int] = (20, 20, 8),
    max_recurrent: int = 6,
    densities: tuple[float, ...] = (0.2, 0.5, 0.9),
    max_seed: int = 1000,
    outputs_equal_units: bool = False,
    erev_seed: bool = True,
) -> wirings.Wiring:
    """A FullyConnected, Random, NCP or AutoNCP wiring.

    ``max_units`` bounds FullyConnected, Random and AutoNCP units; ``ncp_layers`` bounds the NCP's inter, command
    and motor neurons. ``outputs_equal_units`` gives one-layer wirings as many outputs as units (ncps runs a
    projection on one layer only then). ``erev_seed`` passes the drawn seed to FullyConnected's reversal
    potentials (LTC uses them; CfC does not)."""
    kind = draw(st.sampled_from(KINDS))
    seed = draw(st.integers(0, max_seed))
    if kind in ("fc", "random"):
        units = draw(st.integers(1 if kind == "fc" else 2, max_units))
        outputs = units if outputs_equal_units else draw(st.integers(1, units))
        if kind == "fc":
            if erev_seed:
                return wirings.FullyConnected(units, outputs, erev_init_seed=seed)
            return wirings.FullyConnected(units, outputs)
        return wirings.Random(units, outputs, draw(st.sampled_from(densities)), random_seed=seed)
    if kind == "ncp":
        inter = draw(st.integers(1, ncp_layers[0]))
        command = draw(st.integers(1, ncp_layers[1]))
        motor = draw(st.integers(1, ncp_layers[2]))
        return wirings.NCP(
            inter,
            command,
            motor,
            sensory_fanout=draw(st.integers(1, inter)),
            inter_fanout=draw(st.integers(1, command)),
            recurrent_command_synapses=draw(st.integers(0, max_recurrent)),
            motor_fanin=draw(st.integers(1, command)),
            seed=seed,
        )
    units = draw(st.integers(5, max_units))
    return wirings.AutoNCP(units, draw(st.integers(1, units - 3)), seed=seed)


def small_wiring_draws() -> st.SearchStrategy[wirings.Wiring]:
    """Wirings small enough to run ncps itself on many steps (the reference oracle tests)."""
    return wiring_draws(max_units=12, ncp_layers=(5, 5, 3), max_recurrent=4, densities=(0.5,), max_seed=10_000)

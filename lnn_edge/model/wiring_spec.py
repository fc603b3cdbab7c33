"""Wiring specs: the short strings ``--wiring`` takes, parsed and turned into ncps wirings.

Grammar (numbers separated by commas)::

    autoncp:UNITS,OUTPUTS[,SPARSITY]     ncps AutoNCP (sparsity 0.1-0.9, default 0.5)
    ncp:INTER,COMMAND,MOTOR,SENSORY_FANOUT,INTER_FANOUT,RECURRENT_COMMAND_SYNAPSES,MOTOR_FANIN
    fc:UNITS                             FullyConnected (alias fully_connected)
    random:UNITS,SPARSITY                Random, sparsity in [0, 1)
    dense:UNITS                          a plain CfC with UNITS hidden units (CfC only)

An ncp/autoncp spec fixes the number of motor neurons (the outputs); fc and random wirings take the task's
number of outputs. Parsing needs neither torch nor ncps, so bad specs fail before anything heavy loads.
A wiring is built fresh every time it is needed: ncps ``NCP.build`` adds synapses again when called twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lnn_edge.errors import LnnEdgeError

GRAMMAR = (
    "autoncp:UNITS,OUTPUTS[,SPARSITY], ncp:INTER,COMMAND,MOTOR,SENSORY_FANOUT,INTER_FANOUT,"
    "RECURRENT_COMMAND_SYNAPSES,MOTOR_FANIN, fc:UNITS, random:UNITS,SPARSITY or dense:UNITS"
)
ALIASES = {"autoncp": "autoncp", "ncp": "ncp", "fc": "fully_connected", "fully_connected": "fully_connected"}
ALIASES.update({"random": "random", "dense": "dense"})
NCP_FIELDS = (
    "inter_neurons",
    "command_neurons",
    "motor_neurons",
    "sensory_fanout",
    "inter_fanout",
    "recurrent_command_synapses",
    "motor_fanin",
)
NCP_SEED = 22222
"""ncps' default wiring seed (NCP and AutoNCP), kept so that a spec names one topology."""


@dataclass(frozen=True)
class WiringSpec:
    """A parsed ``--wiring`` value. ``kind`` uses the names of :data:`lnn_edge.model.model.WIRING_KINDS`."""

    kind: str
    units: int
    motor: int | None = None
    sparsity: float | None = None
    ncp: tuple[int, ...] = ()
    text: str = ""

    def __str__(self) -> str:
        return self.text


def parse_wiring(text: str) -> WiringSpec:
    """Parse a spec such as ``autoncp:19,2``; raise :class:`LnnEdgeError` naming the spec if it is bad."""
    name, sep, args = text.strip().partition(":")
    kind = ALIASES.get(name.strip().lower())
    if kind is None or not sep:
        raise _bad(text, f"unknown kind '{name}'" if sep else "missing ':'")
    fields = [field.strip() for field in args.split(",")] if args.strip() else []
    if kind == "autoncp":
        return _parse_autoncp(text, fields)
    if kind == "ncp":
        return _parse_ncp(text, fields)
    if kind == "random":
        _count(text, fields, 2)
        return WiringSpec(
            "random",
            _int(text, fields[0], "UNITS"),
            sparsity=_sparsity(text, fields[1], 0.0, 0.99),
            text=text,
        )
    _count(text, fields, 1)
    return WiringSpec(kind, _int(text, fields[0], "UNITS"), text=text)


def _parse_autoncp(text: str, fields: list[str]) -> WiringSpec:
    if len(fields) not in (2, 3):
        raise _bad(text, f"autoncp takes 2 or 3 numbers, got {len(fields)}")
    units = _int(text, fields[0], "UNITS", minimum=4)
    motor = _int(text, fields[1], "OUTPUTS")
    if motor >= units - 2:
        raise _bad(text, f"OUTPUTS ({motor}) must be less than UNITS - 2 ({units - 2})")
    sparsity = _sparsity(text, fields[2], 0.1, 0.9) if len(fields) == 3 else 0.5
    return WiringSpec("autoncp", units, motor=motor, sparsity=sparsity, text=text)


def _parse_ncp(text: str, fields: list[str]) -> WiringSpec:
    _count(text, fields, len(NCP_FIELDS))
    values = tuple(
        _int(text, field, name.upper(), minimum=0 if name == "recurrent_command_synapses" else 1)
        for field, name in zip(fields, NCP_FIELDS, strict=True)
    )
    inter, command, motor, sensory_fanout, inter_fanout, _, motor_fanin = values
    if sensory_fanout > inter:
        raise _bad(text, f"SENSORY_FANOUT ({sensory_fanout}) exceeds the {inter} inter neurons")
    if inter_fanout > command:
        raise _bad(text, f"INTER_FANOUT ({inter_fanout}) exceeds the {command} command neurons")
    if motor_fanin > command:
        raise _bad(text, f"MOTOR_FANIN ({motor_fanin}) exceeds the {command} command neurons")
    return WiringSpec("ncp", inter + command + motor, motor=motor, ncp=values, text=text)


def _bad(text: str, why: str) -> LnnEdgeError:
    return LnnEdgeError(f"wiring spec '{text}' is not valid: {why}; expected {GRAMMAR}")


def _count(text: str, fields: list[str], expected: int) -> None:
    if len(fields) != expected:
        kind = text.partition(":")[0]
        raise _bad(text, f"{kind} takes {expected} number{'s' if expected > 1 else ''}, got {len(fields)}")


def _int(text: str, field: str, name: str, minimum: int = 1) -> int:
    try:
        value = int(field)
    except ValueError:
        raise _bad(text, f"{name} '{field}' is not an integer") from None
    if value < minimum:
        raise _bad(text, f"{name} is {value}; expected at least {minimum}")
    return value


def _sparsity(text: str, field: str, low: float, high: float) -> float:
    try:
        value = float(field)
    except ValueError:
        raise _bad(text, f"SPARSITY '{field}' is not a number") from None
    if not low <= value <= high:
        raise _bad(text, f"SPARSITY is {value}; expected {low} to {high}")
    return value


def check_compatible(spec: WiringSpec, cell: str, outputs: int, task: str) -> None:
    """Fail early, in one sentence, when a spec cannot serve this cell and task."""
    if spec.kind == "dense" and cell != "cfc":
        raise LnnEdgeError(
            f"wiring '{spec}' is a plain CfC; use --cell cfc, or a wired spec such as fc:{spec.units} for LTC"
        )
    if spec.motor is not None and spec.motor != outputs:
        suggestion = f"autoncp:{spec.units},{outputs}" if spec.kind == "autoncp" else "MOTOR = the outputs"
        raise LnnEdgeError(
            f"wiring '{spec}' has {spec.motor} motor neurons but task '{task}' has {outputs} outputs; use {suggestion}"
        )
    if cell == "ltc" and spec.kind in ("fully_connected", "random") and outputs > spec.units:
        raise LnnEdgeError(f"wiring '{spec}' has {spec.units} neurons, fewer than the {outputs} outputs of '{task}'")


def projects_outputs(spec: WiringSpec, cell: str) -> bool:
    """Whether the network reads its outputs through a linear projection (CfC ``proj_size``).

    A CfC cell's outputs are its whole last layer, so dense, fc and random CfCs need a projection to the
    task's outputs; an NCP's last layer is already its motor neurons, and an LTC reads its first neurons.
    The roles of a projected network list every neuron as hidden: none is an output by itself.
    """
    return cell == "cfc" and spec.kind in ("dense", "fully_connected", "random")


def build_wiring(spec: WiringSpec, cell: str, outputs: int) -> Any:
    """A fresh, unbuilt ncps wiring for the spec (never call ``build`` twice on it); None for dense."""
    from ncps import wirings  # imported lazily: ncps is optional, and callers check it first

    projected = projects_outputs(spec, cell)
    if spec.kind == "dense":
        return None
    if spec.kind == "autoncp":
        assert spec.sparsity is not None
        return wirings.AutoNCP(spec.units, outputs, sparsity_level=spec.sparsity, seed=NCP_SEED)
    if spec.kind == "ncp":
        return wirings.NCP(*spec.ncp, seed=NCP_SEED)
    output_dim = spec.units if projected else outputs
    if spec.kind == "fully_connected":
        return wirings.FullyConnected(spec.units, output_dim=output_dim)
    return wirings.Random(spec.units, output_dim=output_dim, sparsity_level=spec.sparsity)


def wiring_config(spec: WiringSpec, wiring: Any) -> dict[str, Any]:
    """Constructor arguments of the wiring (no adjacency lists), for the checkpoint.

    ncps' ``NCP.get_config`` returns neuron id lists and reseeds its generator, so NCP's is written here.
    """
    if wiring is None:
        return {"units": spec.units}
    if spec.kind == "ncp":
        return {**dict(zip(NCP_FIELDS, spec.ncp, strict=True)), "seed": NCP_SEED}
    config: dict[str, Any] = wiring.get_config()
    return {key: value for key, value in config.items() if "adjacency" not in key}


def wiring_roles(spec: WiringSpec, cell: str, wiring: Any, outputs: int) -> dict[str, list[int]]:
    """State indices of each neuron role, in the cell's own state order.

    LTC NCP state is ncps neuron ids, [motor | command | inter]; a wired CfC lays its state out by layer,
    [inter | command | motor]. When outputs go through a projection every state entry feeds them.
    """
    if spec.kind in ("autoncp", "ncp"):
        layers = [list(wiring.get_neurons_of_layer(k)) for k in range(3)]  # inter, command, motor ids
        if cell == "ltc":
            return {"motor": layers[2], "command": layers[1], "inter": layers[0]}
        sizes = [len(layer) for layer in layers]
        inter = list(range(sizes[0]))
        command = list(range(sizes[0], sizes[0] + sizes[1]))
        motor = list(range(sizes[0] + sizes[1], sum(sizes)))
        return {"motor": motor, "command": command, "inter": inter}
    if projects_outputs(spec, cell):
        return {"motor": [], "hidden": list(range(spec.units))}
    return {"motor": list(range(outputs)), "hidden": list(range(outputs, spec.units))}

"""Turn ncps torch models into :class:`~lnn_edge.model.model.Model`: from a module in memory, a trainer
checkpoint, or a bare ``state_dict`` saved with ``torch.save``.

Everything a state_dict can tell is read from its keys and shapes (cell kind, mappings, backbone, sizes,
proj_size, topology from the masks, whether it is a wrapper's or a bare cell's, the motor count of an NCP); the
rest (positivity constraints, ODE unfolds, epsilon, CfC mode and activation) comes from keyword arguments. An
option left at ``None`` takes the default of the ncps class that wrote the file, and the model's
``provenance["notes"]`` says what was assumed. The topology is always taken from the saved masks: rebuilding an
ncps wiring adds synapses.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from lnn_edge.errors import ImportModelError, MissingDependencyError
from lnn_edge.model.limits import (
    MAX_INPUTS,
    MAX_JSON_DEPTH,
    MAX_NEURONS,
    MAX_ODE_UNFOLDS,
    MAX_OUTPUTS,
    MAX_STATE_DICT_KEYS,
    json_depth,
)
from lnn_edge.model.model import (
    ACTIVATIONS,
    CFC_MODES,
    Calibration,
    CfcOptions,
    InputStats,
    LtcOptions,
    Model,
    WiringInfo,
    validate,
)
from lnn_edge.model.normalization import Normalization, fold_normalization
from lnn_edge.model.schema import Fields, shown

CHECKPOINT_FORMAT = "lnn-edge-checkpoint"

LTC_KEYS = [
    "gleak",
    "vleak",
    "cm",
    "sigma",
    "mu",
    "w",
    "erev",
    "sensory_sigma",
    "sensory_mu",
    "sensory_w",
    "sensory_erev",
    "sparsity_mask",
    "sensory_sparsity_mask",
]
MAPPING_KEYS = ("input_w", "input_b", "output_w", "output_b")
CHECKPOINT_FIELDS = frozenset(
    {
        "format", "version", "state_dict", "import_options", "wiring", "normalization", "input_names",
        "output_names", "dt", "task", "calibration_x", "calibration_dt", "calibration_stats", "calibration_y", "config",
    }
)  # fmt: skip
STATS_FIELDS = frozenset({"minimum", "maximum", "abs_p999", "count"})
"""The checkpoint's ``calibration_stats``: per-input statistics of the whole training split (float64 tensors)."""
IMPORT_OPTIONS = frozenset({"implicit_constraints", "ode_unfolds", "epsilon", "mode", "activation", "output_size"})
LTC_OPTIONS = ("implicit_constraints", "ode_unfolds", "epsilon", "output_size")
CFC_OPTIONS = ("mode", "activation")
FLAGS = {
    "implicit_constraints": "--implicit-constraints/--no-implicit-constraints",
    "ode_unfolds": "--ode-unfolds",
    "epsilon": "--epsilon",
    "mode": "--mode",
    "activation": "--activation",
    "output_size": "--output-size",
}
"""The command-line flag of each import option, for error messages."""
CELL_NAMES = {"ltc": "an LTC", "cfc": "a CfC", "wired_cfc": "a wired CfC"}
CELL_MARKERS = ("layer_0.ff1.weight", "gleak", "ff1.weight")
"""A key that only an ncps cell has (after ``rnn_cell.``): finds the cell inside a larger model's state_dict."""


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise MissingDependencyError(
            "reading torch files needs PyTorch: pip install torch==2.13.0 'lnn-edge[train]'"
        ) from None
    return torch


def _to_numpy(value: Any, key: str) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().double().numpy()
    try:
        return np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ImportModelError(f"state_dict entry '{key}' is not a numeric tensor") from None


def _class_ids(value: Any) -> np.ndarray:
    """The checkpoint's ``calibration_y``: an integer tensor of class ids (validated against the model later)."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.dtype.kind not in "iu":
        raise ImportModelError(f"checkpoint field 'calibration_y' holds {array.dtype} values, not class ids")
    return array.astype(np.int64)


def from_state_dict(
    state_dict: Mapping[str, Any],
    *,
    implicit_constraints: bool | None = None,
    ode_unfolds: int | None = None,
    epsilon: float | None = None,
    mode: str | None = None,
    activation: str | None = None,
    output_size: int | None = None,
    wiring: WiringInfo | None = None,
    dt: float = 1.0,
    provenance: dict[str, Any] | None = None,
    prefix: str = "",
) -> Model:
    """Build a model from an ncps ``LTC``/``CfC`` (or bare cell) state_dict of tensors or arrays.

    Options left at ``None`` take the defaults of the ncps class that saved the file: a wrapper's keys start
    with ``rnn_cell.``, a bare cell's do not (``LTCCell`` defaults to no implicit constraints, ``LTC`` to
    them). ``output_size`` is only needed for an LTC without output mapping whose wiring is not an NCP (an
    NCP's motors are the neurons without outgoing synapses). An option that does not apply to the cell is
    an error. ``prefix`` selects the ncps layer inside a larger model's state_dict (``"rnn."``).
    """
    arrays = {key: _to_numpy(value, key) for key, value in _select(state_dict, prefix).items()}
    bare = not any(key.startswith("rnn_cell.") for key in arrays)
    arrays = {_strip(key): value for key, value in arrays.items()}
    if any(key.startswith("lstm.") for key in arrays):
        raise ImportModelError(
            "the model uses mixed_memory=True (an LSTM beside the cell, keys 'lstm.*'), which lnn-edge does "
            "not support: retrain with mixed_memory=False"
        )
    given = given_options(
        implicit_constraints=implicit_constraints, ode_unfolds=ode_unfolds, epsilon=epsilon, mode=mode,
        activation=activation, output_size=output_size,
    )  # fmt: skip
    notes: list[str] = []
    if "gleak" in arrays:
        _refuse_inapplicable("ltc", given, CFC_OPTIONS)
        model = _ltc(arrays, _ltc_options(given, bare, notes), output_size, notes)
    elif "layer_0.ff1.weight" in arrays:
        _refuse_inapplicable("wired_cfc", given, (*LTC_OPTIONS, "activation"), "it has no backbone")
        model = _wired_cfc(arrays, mode or "default")
    elif "ff1.weight" in arrays:
        _refuse_inapplicable("cfc", given, LTC_OPTIONS)
        model = _dense_cfc(arrays, mode or "default", activation)
    else:
        raise _no_cell_error(arrays)
    if wiring is not None:
        model.wiring = wiring
    model.dt = float(dt)
    model.provenance = dict(provenance or {})
    if notes:
        model.provenance["notes"] = notes
    try:
        validate(model)
    except Exception as error:  # validation names the field; say it happened while importing
        raise ImportModelError(f"imported parameters are not a valid model: {error}") from None
    return model


def _refuse_inapplicable(cell: str, given: dict[str, Any], options: tuple[str, ...], why: str = "") -> None:
    """An option the cell does not have is an error: ignoring it would hide a mistaken model or flag."""
    for name in options:
        if name in given:
            reason = why or f"it is {'a CfC' if name in CFC_OPTIONS else 'an LTC'} option"
            raise ImportModelError(f"{FLAGS[name]} does not apply to {CELL_NAMES[cell]} ({reason})")


def _ltc_options(given: dict[str, Any], bare: bool, notes: list[str]) -> dict[str, Any]:
    """The LTC options: given ones, else the defaults of the class that saved the file (noted when they differ
    between ``LTC`` and ``LTCCell``)."""
    options = {"implicit_constraints": not bare, "ode_unfolds": 6, "epsilon": 1e-8, **given}
    options.pop("output_size", None)
    if bare and "implicit_constraints" not in given:
        notes.append(
            "bare LTCCell state_dict (keys without 'rnn_cell.'): using LTCCell's default "
            "implicit_param_constraints=False (the LTC wrapper's is True; --implicit-constraints to change)"
        )
    return options


def _select(state_dict: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """The entries under ``prefix``, with it removed; without one, the whole state_dict."""
    if not prefix:
        return dict(state_dict)
    prefix = prefix if prefix.endswith(".") else prefix + "."  # "rnn" names the same submodule as "rnn."
    selected = {key[len(prefix) :]: value for key, value in state_dict.items() if key.startswith(prefix)}
    if not selected:
        found = ", ".join(f"'{p}'" for p in cell_prefixes(state_dict)) or "none"
        raise ImportModelError(f"--prefix '{prefix}' matches no key (ncps layers found under: {found})")
    return selected


def cell_prefixes(keys: Any) -> list[str]:
    """Where ncps layers sit in a larger model's state_dict: ``["rnn."]`` for keys ``rnn.rnn_cell.gleak``, ...

    A key ending in a cell's marker gives the prefix before it; prefixes inside another (a wired CfC's
    ``layer_1.ff1.weight`` seen as a cell of its own) are dropped."""
    found = set()
    for key in keys:
        for marker in CELL_MARKERS:
            for tail in (f"rnn_cell.{marker}", marker):
                if key.endswith("." + tail):
                    found.add(key[: -len(tail)])
    return sorted(p for p in found if not any(p != q and p.startswith(q) for q in found))


def _attribute(prefix: str) -> str:
    """The Python expression of the submodule a state_dict prefix names: ``"0."`` -> ``model[0]``."""
    path = "model"
    for part in prefix.rstrip(".").split("."):
        path += f"[{part}]" if part.isdigit() else f".{part}"
    return path


def _no_cell_error(arrays: dict[str, np.ndarray]) -> ImportModelError:
    """No cell at the top level: point at the ncps layer inside a wrapping model if there is one."""
    prefixes = cell_prefixes(arrays)
    if not prefixes:
        sample = ", ".join(sorted(arrays)[:6]) or "none"
        return ImportModelError(
            f"no LTC or CfC parameters found (expected keys like 'rnn_cell.gleak' or 'rnn_cell.ff1.weight'; "
            f"got {sample})"
        )
    others = sorted({key.split(".")[0] + ".*" for key in arrays if not key.startswith(tuple(prefixes))})
    beside = f" beside {', '.join(others[:4])}" if others else ""
    if len(prefixes) == 1:
        return ImportModelError(
            f"the state_dict is a larger model's, with an ncps layer under the prefix '{prefixes[0]}'{beside}: save "
            f"{_attribute(prefixes[0])}.state_dict() instead, or import it with --prefix {prefixes[0]}"
        )
    listed = ", ".join(f"'{p}'" for p in prefixes)
    return ImportModelError(
        f"the state_dict is a larger model's, with ncps layers under the prefixes {listed}: save one of them "
        f"({_attribute(prefixes[0])}.state_dict(), ...), or choose one with --prefix"
    )


def _strip(key: str) -> str:
    return key[len("rnn_cell.") :] if key.startswith("rnn_cell.") else key


def _take(arrays: dict[str, np.ndarray], keys: list[str] | tuple[str, ...]) -> dict[str, np.ndarray]:
    return {key: arrays.pop(key) for key in keys if key in arrays}


def _refuse_leftovers(arrays: dict[str, np.ndarray], cell: str) -> None:
    if arrays:
        raise ImportModelError(f"unknown keys for an ncps {cell}: {', '.join(sorted(arrays))}")


def _mapping(taken: dict[str, np.ndarray], side: str) -> str:
    if f"{side}_w" in taken:
        return "affine" if f"{side}_b" in taken else "linear"
    if f"{side}_b" in taken:
        raise ImportModelError(f"the state_dict has '{side}_b' without '{side}_w': not an ncps mapping")
    return "none"


def _ltc(arrays: dict[str, np.ndarray], options: dict[str, Any], output_size: int | None, notes: list[str]) -> Model:
    missing = [key for key in LTC_KEYS if key not in arrays]
    if missing:
        raise ImportModelError(f"an LTC state_dict needs 'rnn_cell.{missing[0]}', which is missing")
    params = _take(arrays, LTC_KEYS)
    params.update(_take(arrays, MAPPING_KEYS))
    _refuse_leftovers(arrays, "LTC")
    if params["gleak"].ndim != 1 or params["sensory_w"].ndim != 2:
        raise ImportModelError("'rnn_cell.gleak' must be a vector and 'rnn_cell.sensory_w' a matrix")
    units = params["gleak"].shape[0]
    inputs = params["sensory_w"].shape[0]
    out_map = _mapping(params, "output")
    if out_map != "none":
        motors = params["output_w"].shape[0]
        if output_size is not None and output_size != motors:
            raise ImportModelError(f"--output-size {output_size} contradicts 'output_w' with {motors} entries")
    elif output_size is not None:
        motors = output_size
    else:
        motors = _ncp_motor_count(params) or units
        if motors < units:
            notes.append(
                f"output size {motors}: an NCP's motor neurons are exactly those without outgoing synapses "
                f"(neurons 0-{motors - 1} here; --output-size to change)"
            )
        else:  # a FullyConnected or Random wiring's output_dim is not in its masks
            notes.append(
                f"output size {units}, every neuron: without an output mapping the file cannot tell the wiring's "
                "output_dim (--output-size, or --expect io.npz whose y has one column per output)"
            )
    ltc = LtcOptions(
        ode_unfolds=options["ode_unfolds"],
        epsilon=float(options["epsilon"]),
        input_mapping=_mapping(params, "input"),
        output_mapping=out_map,
        implicit_constraints=options["implicit_constraints"],
    )
    wiring = WiringInfo(kind="custom", roles=_infer_ltc_roles(params, motors))
    return Model(
        cell="ltc",
        input_size=inputs,
        output_size=motors,
        state_size=units,
        arrays=params,
        ltc=ltc,
        wiring=wiring,
    )


def _infer_ltc_roles(params: dict[str, np.ndarray], motors: int) -> dict[str, list[int]]:
    """Motor neurons are the first ``motors``; with an NCP-shaped topology, split the rest into inter
    (fed by sensory synapses) and command (not fed by sensors) neurons."""
    units = params["gleak"].shape[0]
    motor = list(range(motors))
    fed = params["sensory_sparsity_mask"].sum(axis=0) > 0
    rest = list(range(motors, units))
    inter = [i for i in rest if fed[i]]
    command = [i for i in rest if not fed[i]]
    ncp_shaped = inter and command and not fed[:motors].any()
    if ncp_shaped:
        return {"motor": motor, "command": command, "inter": inter}
    return {"motor": motor, "hidden": rest}


def _ncp_motor_count(params: dict[str, np.ndarray]) -> int | None:
    """The motor count of an NCP/AutoNCP wiring, or None for other wirings.

    ncps numbers an NCP's motor neurons first, and they are exactly the neurons with no outgoing synapses
    (rows of ``sparsity_mask``, indexed [source, destination]); the rest must split into inter and command
    neurons as in an NCP, so that a random wiring's silent neuron is not taken for a motor."""
    silent = ~(params["sparsity_mask"] != 0).any(axis=1)
    count = int(silent.sum())
    if count == 0 or not silent[:count].all():
        return None
    return count if "command" in _infer_ltc_roles(params, count) else None


def _head_keys(prefix: str, mode: str) -> list[str]:
    heads = ["ff1"] if mode == "pure" else ["ff1", "ff2", "time_a", "time_b"]
    keys = [f"{prefix}{head}.{part}" for head in heads for part in ("weight", "bias")]
    if mode == "pure":
        keys += [f"{prefix}w_tau", f"{prefix}A"]
    return keys


def _check_mode(arrays: dict[str, np.ndarray], prefix: str, mode: str) -> str:
    if mode not in CFC_MODES:
        raise ImportModelError(f"--mode {mode!r} is not one of {', '.join(CFC_MODES)}")
    is_pure = f"{prefix}w_tau" in arrays
    if is_pure and mode != "pure":
        return "pure"  # the keys are unambiguous: a pure-mode cell has w_tau and A and no ff2
    if not is_pure and mode == "pure":
        raise ImportModelError("--mode pure was given but the state_dict has no 'w_tau' (it is a gated CfC)")
    return mode


def _dense_cfc(arrays: dict[str, np.ndarray], mode: str, given_activation: str | None) -> Model:
    activation = given_activation or "lecun_tanh"
    if activation not in ACTIVATIONS:
        raise ImportModelError(f"--activation {activation!r} is not one of {', '.join(ACTIVATIONS)}")
    mode = _check_mode(arrays, "", mode)
    params: dict[str, np.ndarray] = {}
    # ncps numbers backbone modules Linear, activation[, dropout], ...; keep only the Linear layers, renumbered.
    indices = sorted({int(m.group(1)) for key in arrays if (m := re.fullmatch(r"backbone\.(\d+)\.weight", key))})
    for layer, index in enumerate(indices):
        params[f"backbone.{layer}.weight"] = arrays.pop(f"backbone.{index}.weight")
        if f"backbone.{index}.bias" not in arrays:
            raise ImportModelError(f"'rnn_cell.backbone.{index}.bias' is missing")
        params[f"backbone.{layer}.bias"] = arrays.pop(f"backbone.{index}.bias")
    head_keys = _head_keys("", mode)
    missing = [key for key in head_keys if key not in arrays]
    if missing:
        raise ImportModelError(f"a {mode}-mode CfC state_dict needs 'rnn_cell.{missing[0]}', which is missing")
    params.update(_take(arrays, head_keys))
    params.update(_take(arrays, ["fc.weight", "fc.bias"]))
    _refuse_leftovers(arrays, "CfC")
    if given_activation is not None and not indices:
        raise ImportModelError("--activation does not apply to a CfC without backbone layers (it has none)")
    hidden = params["ff1.weight"].shape[0]
    width = params["ff1.weight"].shape[1]
    backbone_units = params["backbone.0.weight"].shape[0] if indices else 0
    inputs = (params["backbone.0.weight"].shape[1] if indices else width) - hidden
    if inputs < 1:
        raise ImportModelError(f"the first CfC layer has {inputs + hidden} columns for {hidden} hidden units")
    proj = params["fc.weight"].shape[0] if "fc.weight" in params else None
    options = CfcOptions(
        mode=mode,
        activation=activation,
        backbone_units=backbone_units,
        backbone_layers=len(indices),
        proj_size=proj,
        layer_sizes=[hidden],
    )
    return Model(
        cell="cfc",
        input_size=inputs,
        output_size=proj if proj is not None else hidden,
        state_size=hidden,
        arrays=params,
        cfc=options,
        wiring=WiringInfo(kind="dense", config={"units": hidden}, roles={"hidden": list(range(hidden))}),
    )


def _wired_cfc(arrays: dict[str, np.ndarray], mode: str) -> Model:
    mode = _check_mode(arrays, "layer_0.", mode)
    params: dict[str, np.ndarray] = {}
    sizes: list[int] = []
    while f"layer_{len(sizes)}.ff1.weight" in arrays:
        prefix = f"layer_{len(sizes)}."
        keys = [*_head_keys(prefix, mode), f"{prefix}sparsity_mask"]
        missing = [key for key in keys if key not in arrays]
        if missing:
            raise ImportModelError(f"a wired CfC state_dict needs 'rnn_cell.{missing[0]}', which is missing")
        params.update(_take(arrays, keys))
        sizes.append(params[f"{prefix}ff1.weight"].shape[0])
    params.update(_take(arrays, ["fc.weight", "fc.bias"]))
    _refuse_leftovers(arrays, "wired CfC")
    inputs = params["layer_0.ff1.weight"].shape[1] - sizes[0]
    proj = params["fc.weight"].shape[0] if "fc.weight" in params else None
    if proj is not None and params["fc.weight"].shape[1] != sizes[-1]:
        raise ImportModelError(
            f"'fc.weight' reads {params['fc.weight'].shape[1]} values but the last wired layer has {sizes[-1]} "
            "neurons (ncps cannot run this model either: give a one-layer wiring output_dim == units)"
        )
    units = sum(sizes)
    starts = np.cumsum([0, *sizes])
    names = ["inter", "command", "motor"] if len(sizes) == 3 else [f"layer_{k}" for k in range(len(sizes))]
    roles = {name: list(range(int(starts[k]), int(starts[k + 1]))) for k, name in enumerate(names)}
    return Model(
        cell="wired_cfc",
        input_size=inputs,
        output_size=proj if proj is not None else sizes[-1],
        state_size=units,
        arrays=params,
        cfc=CfcOptions(mode=mode, activation="lecun_tanh", proj_size=proj, layer_sizes=sizes),
        wiring=WiringInfo(kind="custom", roles=roles),
    )


def from_module(module: Any, *, dt: float = 1.0) -> Model:
    """Import an ncps torch module in memory: ``LTC``, ``CfC``, ``LTCCell``, ``CfCCell`` or ``WiredCfCCell``."""
    torch = _torch()
    if not isinstance(module, torch.nn.Module):
        raise ImportModelError(f"expected an ncps torch module, got {type(module).__name__}")
    cell = getattr(module, "rnn_cell", module)
    kind = type(cell).__name__
    options: dict[str, Any] = {}
    if kind == "LTCCell":
        options = {
            "implicit_constraints": bool(cell._implicit_param_constraints),
            "ode_unfolds": int(cell._ode_unfolds),
            "epsilon": float(cell._epsilon),
            "output_size": int(cell.motor_size),
        }
    elif kind in ("CfCCell", "WiredCfCCell"):
        inner = cell if kind == "CfCCell" else cell._layers[0]
        options = {"mode": inner.mode}
        if kind == "CfCCell" and inner.backbone is not None:  # only a backbone has an activation
            options["activation"] = _activation_name(inner)
    else:
        inner = [name for name, child in module.named_modules() if name and type(child).__name__ in ("LTC", "CfC")]
        hint = f": pass {_attribute(inner[0] + '.')}, the ncps layer inside it" if inner else ""
        raise ImportModelError(
            f"{type(module).__name__} is not an ncps LTC or CfC module (supported: LTC, CfC, LTCCell, CfCCell, "
            f"WiredCfCCell){hint}"
        )
    if getattr(module, "use_mixed", False):
        raise ImportModelError("the model uses mixed_memory=True, which lnn-edge does not support")
    ncps_wiring = getattr(cell, "_wiring", None)
    model = from_state_dict(
        module.state_dict(), dt=dt, provenance={"source": f"ncps module {type(module).__name__}"}, **options
    )
    if ncps_wiring is not None:
        model.wiring = describe_wiring(ncps_wiring, model.cell)
        validate(model)
    return model


def _activation_name(cell: Any) -> str:
    if cell.backbone is None:
        return "lecun_tanh"
    names = {"LeCun": "lecun_tanh", "Tanh": "tanh", "ReLU": "relu", "SiLU": "silu", "GELU": "gelu"}
    for layer in cell.backbone:
        if type(layer).__name__ in names:
            return names[type(layer).__name__]
    raise ImportModelError("unknown CfC backbone activation")


def describe_wiring(wiring: Any, cell: str) -> WiringInfo:
    """Describe an ncps wiring object (kind, constructor config, roles as state indices) without its matrices."""
    kinds = {"FullyConnected": "fully_connected", "Random": "random", "NCP": "ncp", "AutoNCP": "autoncp"}
    kind = kinds.get(type(wiring).__name__, "custom")
    try:
        config = {
            key: value
            for key, value in wiring.get_config().items()
            if key not in ("adjacency_matrix", "sensory_adjacency_matrix")
        }
    except Exception:  # custom wirings may not implement get_config; the masks carry the topology anyway
        config = {}
    config = {key: (value.tolist() if hasattr(value, "tolist") else value) for key, value in config.items()}
    units = int(wiring.units)
    motors = int(wiring.output_dim)
    if kind in ("ncp", "autoncp"):
        groups = {
            "motor": [int(i) for i in wiring._motor_neurons],
            "command": [int(i) for i in wiring._command_neurons],
            "inter": [int(i) for i in wiring._inter_neurons],
        }
        if cell == "wired_cfc":  # the wired CfC state is laid out [inter | command | motor]
            sizes = [len(groups["inter"]), len(groups["command"]), len(groups["motor"])]
            starts = np.cumsum([0, *sizes])
            groups = {
                name: list(range(int(starts[k]), int(starts[k + 1])))
                for k, name in enumerate(("inter", "command", "motor"))
            }
        return WiringInfo(kind=kind, config=config, roles=groups)
    if cell == "wired_cfc":  # one layer: every neuron's state is an output of the cell
        return WiringInfo(kind=kind, config=config, roles={"layer_0": list(range(units))})
    return WiringInfo(
        kind=kind, config=config, roles={"motor": list(range(motors)), "hidden": list(range(motors, units))}
    )


def check_checkpoint(checkpoint: Any) -> None:
    """Check the types of a trainer checkpoint's fields (the schema of the format; the values are checked when
    the model is built); raise :class:`ImportModelError` naming the field."""
    top = Fields(checkpoint, "checkpoint", ImportModelError)
    top.only(CHECKPOINT_FIELDS)
    check_state_dict(top.raw("state_dict"), "checkpoint field 'state_dict'")
    options = top.obj("import_options")
    options.only(IMPORT_OPTIONS)
    options.boolean("implicit_constraints", True)
    options.integer("ode_unfolds", 1, MAX_ODE_UNFOLDS, 6)
    options.number("epsilon", 1e-8)
    options.string("mode", default="default")
    options.string("activation", default="lecun_tanh")
    if options.raw("output_size", None) is not None:
        options.integer("output_size", 1, MAX_OUTPUTS)
    wiring = top.obj("wiring")
    wiring.only({"kind", "config", "roles"})
    wiring.string("kind", default="custom")
    wiring.obj("config", {})
    roles = wiring.obj("roles", {})
    for role in roles.data:
        roles.integers(role, MAX_NEURONS, 0, MAX_NEURONS - 1)
    normalization = top.optional_obj("normalization")
    if normalization is not None:
        normalization.only({"x_mean", "x_std", "y_mean", "y_std"})
    for key in ("input_names", "output_names"):
        if top.raw(key, None) is not None:
            top.strings(key, MAX_INPUTS if key == "input_names" else MAX_OUTPUTS)
    top.number("dt", 1.0)
    stats = top.optional_obj("calibration_stats")
    if stats is not None:
        stats.only(STATS_FIELDS)
        check_state_dict({key: stats.raw(key) for key in STATS_FIELDS}, "checkpoint field 'calibration_stats'")
    for key in ("task", "config"):
        if top.raw(key, None) is not None:
            top.obj(key)
    if json_depth(checkpoint) > MAX_JSON_DEPTH:
        raise ImportModelError(f"checkpoint nests deeper than {MAX_JSON_DEPTH} levels")


def check_state_dict(state_dict: Any, where: str) -> None:
    """A mapping of at most :data:`MAX_STATE_DICT_KEYS` string keys to tensors or arrays."""
    if not isinstance(state_dict, Mapping) or len(state_dict) > MAX_STATE_DICT_KEYS:
        raise ImportModelError(f"{where} is {shown(state_dict)}; expected a state_dict of tensors")
    for key, value in state_dict.items():
        if not isinstance(key, str) or not hasattr(value, "shape"):
            raise ImportModelError(f"{where} has entry {shown(key)} of {type(value).__name__}; expected a tensor")


def from_checkpoint(checkpoint: Mapping[str, Any]) -> Model:
    """Build the deployable model from a trainer checkpoint (normalization folded into the mappings)."""
    if checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise ImportModelError("not an lnn-edge trainer checkpoint (field 'format')")
    check_checkpoint(checkpoint)
    try:
        options = _applicable(checkpoint["state_dict"], dict(checkpoint["import_options"]))
        model = from_state_dict(
            checkpoint["state_dict"],
            wiring=WiringInfo(**checkpoint["wiring"]),
            dt=float(checkpoint.get("dt", 1.0)),
            provenance={"source": "lnn-edge trainer", "config": checkpoint.get("config", {})},
            **options,
        )
        norm = checkpoint.get("normalization")
        if norm:
            model = fold_normalization(model, Normalization.from_dict(norm))
        model.input_names = list(checkpoint.get("input_names") or model.input_names)
        model.output_names = list(checkpoint.get("output_names") or model.output_names)
        model.task = dict(checkpoint.get("task") or {})
        calib_x = checkpoint.get("calibration_x")
        if calib_x is not None:
            calib_dt = checkpoint.get("calibration_dt")
            calib_y = checkpoint.get("calibration_y")  # class labels of the sample (trainer 0.2 and later)
            model.calibration = Calibration(
                x=_to_numpy(calib_x, "calibration_x"),
                dt=None if calib_dt is None else _to_numpy(calib_dt, "calibration_dt"),
                stats=_input_stats(checkpoint.get("calibration_stats")),
                y=None if calib_y is None else _class_ids(calib_y),
            )
    except KeyError as error:
        raise ImportModelError(f"the checkpoint has no field {error}") from None
    except (TypeError, ValueError) as error:  # normalization vectors that are not numbers
        raise ImportModelError(f"the checkpoint's normalization is malformed ({error})") from None
    validate(model)
    return model


def _applicable(state_dict: Mapping[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """``options`` without the import options the cell in ``state_dict`` does not have (the trainer stores
    every option for every cell)."""
    keys = [_strip(key) for key in state_dict]
    if "gleak" in keys:
        names: tuple[str, ...] = LTC_OPTIONS
    elif "layer_0.ff1.weight" in keys or not any(key.startswith("backbone.") for key in keys):
        names = ("mode",)
    else:
        names = CFC_OPTIONS
    return {name: value for name, value in options.items() if name not in IMPORT_OPTIONS or name in names}


def _input_stats(stats: Mapping[str, Any] | None) -> InputStats | None:
    """The checkpoint's ``calibration_stats`` (float64 tensors; ``count`` 0-d) as :class:`InputStats`."""
    if stats is None:
        return None
    count = _to_numpy(stats["count"], "calibration_stats.count")
    if count.size != 1 or not (np.isfinite(count).all() and count.reshape(-1)[0] >= 0):
        raise ImportModelError("checkpoint field 'calibration_stats.count' must be one number >= 0")
    return InputStats(
        minimum=_to_numpy(stats["minimum"], "calibration_stats.minimum"),
        maximum=_to_numpy(stats["maximum"], "calibration_stats.maximum"),
        abs_p999=_to_numpy(stats["abs_p999"], "calibration_stats.abs_p999"),
        count=int(count.reshape(-1)[0]),
    )


def given_options(**options: Any) -> dict[str, Any]:
    """The import options a user set: those not None (a flag left out is None, so the cell's own default and
    the check that an option applies to the cell can tell it from a value given)."""
    return {name: value for name, value in options.items() if value is not None}


def load_torch_file(path: str | os.PathLike[str], **options: Any) -> Model:
    """Import a file written by ``torch.save``: a trainer checkpoint or an ncps state_dict.

    ``options`` are the :func:`from_state_dict` keywords for what a state_dict cannot tell, as the user gave them
    (``import`` and ``export`` pass only the flags set, :func:`given_options`): an option the cell does not have is
    an error.
    """
    torch = _torch()
    path = Path(path)
    if not path.is_file():
        raise ImportModelError(f"{path}: no such file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        text = str(error).splitlines()[0] if str(error) else type(error).__name__
        if "weights_only" in str(error) or "Unsupported global" in str(error):
            raise ImportModelError(
                f"{path}: holds pickled Python objects (a whole module?), which are not loaded for safety: "
                "save model.state_dict() instead, or call lnn_edge.model.importers.from_module(model) in Python"
            ) from None
        raise ImportModelError(f"{path}: not a readable torch file (truncated or corrupt: {text})") from None
    try:
        if isinstance(payload, Mapping) and payload.get("format") == CHECKPOINT_FORMAT:
            model = from_checkpoint(payload)
        elif isinstance(payload, Mapping) and all(hasattr(v, "shape") for v in payload.values()):
            check_state_dict(payload, "the state_dict")
            model = from_state_dict(payload, provenance={"source": "ncps state_dict", "file": path.name}, **options)
        else:
            raise ImportModelError("holds neither an ncps state_dict nor an lnn-edge checkpoint")
    except ImportModelError as error:
        raise ImportModelError(f"{path}: {error}") from None
    return model

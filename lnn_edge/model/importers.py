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
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from lnn_edge.errors import ImportModelError, MissingDependencyError
from lnn_edge.model import kinds
from lnn_edge.model.kinds import CellKind
from lnn_edge.model.limits import (
    MAX_INPUTS,
    MAX_JSON_DEPTH,
    MAX_NEURONS,
    MAX_ODE_UNFOLDS,
    MAX_OUTPUTS,
    MAX_STATE_DICT_KEYS,
    json_depth,
)
from lnn_edge.model.model import Calibration, InputStats, Model, WiringInfo, validate
from lnn_edge.model.ncps_state import FLAGS
from lnn_edge.model.normalization import Normalization, fold_normalization
from lnn_edge.model.schema import Fields, shown

CHECKPOINT_FORMAT = "lnn-edge-checkpoint"

CHECKPOINT_FIELDS = frozenset(
    {
        "format", "version", "state_dict", "import_options", "wiring", "normalization", "input_names",
        "output_names", "dt", "task", "calibration_x", "calibration_dt", "calibration_stats", "calibration_y", "config",
    }
)  # fmt: skip
STATS_FIELDS = frozenset({"minimum", "maximum", "abs_p999", "count"})
"""The checkpoint's ``calibration_stats``: per-input statistics of the whole training split (float64 tensors)."""
IMPORT_OPTIONS = frozenset({"implicit_constraints", "ode_unfolds", "epsilon", "mode", "activation", "output_size"})


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
    validated: bool = True,
) -> Model:
    """Build a model from an ncps ``LTC``/``CfC`` (or bare cell) state_dict of tensors or arrays.

    Options left at ``None`` take the defaults of the ncps class that saved the file: a wrapper's keys start
    with ``rnn_cell.``, a bare cell's do not (``LTCCell`` defaults to no implicit constraints, ``LTC`` to
    them). ``output_size`` is only needed for an LTC without output mapping whose wiring is not an NCP (an
    NCP's motors are the neurons without outgoing synapses). An option that does not apply to the cell is
    an error. ``prefix`` selects the ncps layer inside a larger model's state_dict (``"rnn."``).
    ``validated=False`` leaves the model's validation to the caller: ``import --expect`` validates every candidate
    of its search, so defaults that the parameters rule out do not stop it (a bare ``LTCCell`` trained with
    implicit constraints has negative raw weights, which its class's default, no constraints, would reject).
    """
    arrays = {key: _to_numpy(value, key) for key, value in _select(state_dict, prefix).items()}
    bare = not any(key.startswith("rnn_cell.") for key in arrays)
    arrays = {_strip(key): value for key, value in arrays.items()}
    given = given_options(
        implicit_constraints=implicit_constraints, ode_unfolds=ode_unfolds, epsilon=epsilon, mode=mode,
        activation=activation, output_size=output_size,
    )  # fmt: skip
    notes: list[str] = []
    kind = _claiming_kind(arrays)
    _refuse_inapplicable(kind, given)
    model = kind.from_arrays(arrays, given, bare, notes)
    if wiring is not None:
        model.wiring = wiring
    model.dt = float(dt)
    model.provenance = dict(provenance or {})
    if notes:
        model.provenance["notes"] = notes
    if validated:
        validate_imported(model)
    return model


def validate_imported(model: Model) -> None:
    """Validate an imported model; the error says it happened while importing (validation names the field)."""
    try:
        validate(model)
    except Exception as error:
        raise ImportModelError(f"imported parameters are not a valid model: {error}") from None


def _claiming_kind(arrays: dict[str, np.ndarray]) -> CellKind:
    """The kind of cell whose keys the state_dict holds, or an error that says where a cell might be."""
    kind = _kind_of_keys(arrays.keys())
    if kind is None:
        raise _no_cell_error(arrays)
    return kind


def _kind_of_keys(keys: Collection[str]) -> CellKind | None:
    """The kind that claims ``keys``; of several, the most specific: the one with the most of its markers among
    the keys (a mixed-memory LTC's keys are an LTC's plus the LSTM's, and both kinds claim them)."""
    claiming = [kind for kind in kinds.registry().values() if kind.claims(keys)]
    return max(claiming, key=lambda kind: sum(marker in keys for marker in kind.markers), default=None)


def _refuse_inapplicable(kind: CellKind, given: dict[str, Any]) -> None:
    """An option the cell does not have is an error: ignoring it would hide a mistaken model or flag."""
    for name in given:
        if name not in kind.import_options:
            takes = ", ".join(FLAGS[option] for option in kind.import_options)
            raise ImportModelError(f"{FLAGS[name]} does not apply to {kind.article} (it takes {takes})")


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
    markers = [marker for kind in kinds.registry().values() for marker in kind.markers]
    found = set()
    for key in keys:
        for marker in markers:
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


def from_module(module: Any, *, dt: float = 1.0) -> Model:
    """Import an ncps torch module in memory: ``LTC``, ``CfC``, ``LTCCell``, ``CfCCell`` or ``WiredCfCCell``."""
    torch = _torch()
    if not isinstance(module, torch.nn.Module):
        raise ImportModelError(f"expected an ncps torch module, got {type(module).__name__}")
    cell = getattr(module, "rnn_cell", module)
    kind = _kind_of_class(type(cell).__name__)
    if kind is None:
        inner = [name for name, child in module.named_modules() if name and type(child).__name__ in ("LTC", "CfC")]
        hint = f": pass {_attribute(inner[0] + '.')}, the ncps layer inside it" if inner else ""
        classes = ", ".join(["LTC", "CfC", *(c for k in kinds.registry().values() for c in k.ncps_classes)])
        raise ImportModelError(f"{type(module).__name__} is not an ncps LTC or CfC module (supported: {classes}){hint}")
    options = kind.module_options(cell)  # a mixed_memory=True module's lstm.* keys choose its mixed kind below
    ncps_wiring = getattr(cell, "_wiring", None)
    model = from_state_dict(
        module.state_dict(), dt=dt, provenance={"source": f"ncps module {type(module).__name__}"}, **options
    )
    if ncps_wiring is not None:
        model.wiring = describe_wiring(ncps_wiring, model.cell)
        validate(model)
    return model


def _kind_of_class(name: str) -> CellKind | None:
    """The kind that imports the ncps cell class ``name``."""
    return next((kind for kind in kinds.registry().values() if name in kind.ncps_classes), None)


WIRING_CLASSES = {"FullyConnected": "fully_connected", "Random": "random", "NCP": "ncp", "AutoNCP": "autoncp"}
"""ncps wiring classes -> ``WiringInfo.kind``."""


def describe_wiring(wiring: Any, cell: str) -> WiringInfo:
    """Describe an ncps wiring object (kind, constructor config, roles as state indices) without its matrices."""
    wiring_kind = WIRING_CLASSES.get(type(wiring).__name__, "custom")
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
    groups = None
    if wiring_kind in ("ncp", "autoncp"):
        groups = {
            "motor": [int(i) for i in wiring._motor_neurons],
            "command": [int(i) for i in wiring._command_neurons],
            "inter": [int(i) for i in wiring._inter_neurons],
        }
    roles = kinds.get(cell).wiring_roles(groups, units, motors)
    return WiringInfo(kind=wiring_kind, config=config, roles=roles)


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


def _nested_state_dicts(payload: Any) -> list[str]:
    """The keys of a training checkpoint ({'epoch': 3, 'model': state_dict, 'optimizer': ...}, or Lightning's
    'state_dict') under which a state_dict of tensors sits."""
    if not isinstance(payload, Mapping):
        return []

    def tensors(value: Any) -> bool:
        return isinstance(value, Mapping) and bool(value) and all(hasattr(v, "shape") for v in value.values())

    return [key for key, value in list(payload.items())[:64] if isinstance(key, str) and tensors(value)]


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
    keys = {_strip(key) for key in state_dict}
    kind = _kind_of_keys(keys)
    names = kind.applicable_options(keys) if kind is not None else ()
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


def load_torch_file(path: str | os.PathLike[str], *, validated: bool = True, **options: Any) -> Model:
    """Import a file written by ``torch.save``: a trainer checkpoint or an ncps state_dict.

    ``options`` are the :func:`from_state_dict` keywords for what a state_dict cannot tell, as the user gave them
    (``import`` and ``export`` pass only the flags set, :func:`given_options`): an option the cell does not have is
    an error. ``validated``: as for :func:`from_state_dict`.
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
            provenance = {"source": "ncps state_dict", "file": path.name}
            model = from_state_dict(payload, provenance=provenance, validated=validated, **options)
        elif len(nested := _nested_state_dicts(payload)) == 1:  # a training checkpoint: its one state_dict
            key = nested[0]
            check_state_dict(payload[key], f"the state_dict under key {key!r}")
            provenance = {"source": "ncps state_dict", "file": path.name, "key": key}
            model = from_state_dict(payload[key], provenance=provenance, validated=validated, **options)
            model.provenance.setdefault("notes", []).append(f"read the state_dict under the checkpoint's key {key!r}")
        elif nested:
            listed = ", ".join(map(repr, nested))
            raise ImportModelError(f"holds several state_dicts (under keys {listed}): save the one of the ncps model "
                                   "alone, torch.save(checkpoint[KEY], 'model.pt'), and import that")  # fmt: skip
        else:
            raise ImportModelError("holds neither an ncps state_dict nor an lnn-edge checkpoint")
    except ImportModelError as error:
        raise ImportModelError(f"{path}: {error}") from None
    return model

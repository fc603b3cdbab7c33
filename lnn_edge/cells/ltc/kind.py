"""The LTC at the model level (a :class:`lnn_edge.model.kinds.CellKind`): its options and arrays, how ncps stores
it, its normalization folding, and the options ``import --expect`` searches.

Array names follow the ncps ``LTCCell`` state_dict without ``rnn_cell.`` (see :mod:`lnn_edge.model.model`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from typing import Any

import numpy as np

from lnn_edge.errors import ImportModelError, ModelFileError
from lnn_edge.model.checks import check_choice, check_positive_int, finite, require
from lnn_edge.model.limits import MAX_ODE_UNFOLDS
from lnn_edge.model.model import LTC_POSITIVE, MAPPINGS, LtcOptions, Model, WiringInfo
from lnn_edge.model.ncps_state import mapping_of, refuse_leftovers, take
from lnn_edge.model.normalization import Normalization, fold_output_normalization

LTC_KEYS = (
    "gleak", "vleak", "cm", "sigma", "mu", "w", "erev", "sensory_sigma", "sensory_mu", "sensory_w", "sensory_erev",
    "sparsity_mask", "sensory_sparsity_mask",
)  # fmt: skip
MAPPING_KEYS = ("input_w", "input_b", "output_w", "output_b")
SYNAPSE_ARRAYS = ("sigma", "mu", "w", "erev")
EPSILONS = (1e-8, 1e-6, 1e-5, 1e-4, 1e-3)
"""The epsilons ``import --expect`` searches: ncps's default first, then the values people use."""
MAX_UNFOLDS_SEARCHED = 32


class LtcKind:
    """The liquid time-constant cell of ``ncps.torch.LTC`` / ``LTCCell``."""

    name = "ltc"
    title = "LTC"
    article = "an LTC"
    indexed_synapses = True
    ncps_classes = ("LTCCell",)
    markers = ("gleak",)
    import_options = ("implicit_constraints", "ode_unfolds", "epsilon", "output_size")

    # --- the model's structure ------------------------------------------------------------------------------

    def validate_options(self, model: Model) -> None:
        opts = model.ltc
        if opts is None or model.cfc is not None:
            raise ModelFileError("an LTC model needs 'ltc' options and no 'cfc' options")
        check_positive_int("ltc.ode_unfolds", opts.ode_unfolds, maximum=MAX_ODE_UNFOLDS)
        if not (isinstance(opts.epsilon, float | int) and finite(opts.epsilon) and opts.epsilon >= 0):
            raise ModelFileError(f"field 'ltc.epsilon' is {opts.epsilon!r}; expected a finite number >= 0")
        check_choice("ltc.input_mapping", opts.input_mapping, MAPPINGS)
        check_choice("ltc.output_mapping", opts.output_mapping, MAPPINGS)
        if not isinstance(opts.implicit_constraints, bool):
            raise ModelFileError("field 'ltc.implicit_constraints' must be true or false")
        if model.output_size > model.state_size:
            raise ModelFileError(
                f"field 'output_size' is {model.output_size}, more than the {model.state_size} neurons"
            )

    def expected_shapes(self, model: Model) -> dict[str, tuple[int, ...]]:
        n, s, m = model.state_size, model.input_size, model.output_size
        opts: LtcOptions = require(model.ltc, "ltc options")
        shapes: dict[str, tuple[int, ...]] = {name: (n,) for name in ("gleak", "vleak", "cm")}
        for name in (*SYNAPSE_ARRAYS, "sparsity_mask"):
            shapes[name] = (n, n)
        for name in (*SYNAPSE_ARRAYS, "sparsity_mask"):
            shapes[f"sensory_{name}"] = (s, n)
        if opts.input_mapping in ("affine", "linear"):
            shapes["input_w"] = (s,)
        if opts.input_mapping == "affine":
            shapes["input_b"] = (s,)
        if opts.output_mapping in ("affine", "linear"):
            shapes["output_w"] = (m,)
        if opts.output_mapping == "affine":
            shapes["output_b"] = (m,)
        return shapes

    def validate_values(self, model: Model) -> None:
        assert model.ltc is not None
        if model.ltc.implicit_constraints:
            return
        for name in LTC_POSITIVE:
            values = model.arrays[name]
            if np.any(values < 0):
                raise ModelFileError(
                    f"array '{name}' has negative entries (min {values.min():.3g}) but implicit constraints "
                    "are off: call the cell's apply_weight_constraints() before saving, or import with "
                    "--implicit-constraints if the model was trained with them"
                )

    def output_state_indices(self, model: Model) -> list[int]:
        return list(range(model.output_size))  # ncps's LTC reads its outputs from its first neurons

    def synapse_counts(self, model: Model) -> tuple[int, int]:
        return int(model.arrays["sensory_sparsity_mask"].sum()), int(model.arrays["sparsity_mask"].sum())

    def used_entries(self, model: Model, name: str) -> np.ndarray | None:
        if name in SYNAPSE_ARRAYS:
            return np.asarray(model.arrays["sparsity_mask"] != 0)
        if name.startswith("sensory_"):
            return np.asarray(model.arrays["sensory_sparsity_mask"] != 0)
        return None

    def summary_options(self, model: Model) -> dict[str, Any]:
        assert model.ltc is not None
        return {
            "ode_unfolds": model.ltc.ode_unfolds,
            "epsilon": model.ltc.epsilon,
            "input_mapping": model.ltc.input_mapping,
            "output_mapping": model.ltc.output_mapping,
            "implicit_constraints": model.ltc.implicit_constraints,
        }

    def fold_normalization(self, model: Model, norm: Normalization) -> None:
        """Into the input mapping (x_mapped = (x - mean) / std * w + b) and, with targets, the output mapping."""
        assert model.ltc is not None
        arrays = model.arrays
        w = arrays.get("input_w", np.ones(model.input_size))
        b = arrays.get("input_b", np.zeros(model.input_size))
        arrays["input_w"] = w / norm.x_std
        arrays["input_b"] = b - norm.x_mean * w / norm.x_std
        model.ltc.input_mapping = "affine"
        if fold_output_normalization(model, norm):
            model.ltc.output_mapping = "affine"

    # --- import from ncps -----------------------------------------------------------------------------------

    def claims(self, keys: Collection[str]) -> bool:
        return "gleak" in keys

    def applicable_options(self, keys: Collection[str]) -> tuple[str, ...]:
        return self.import_options

    def from_arrays(self, arrays: dict[str, np.ndarray], given: dict[str, Any], bare: bool, notes: list[str]) -> Model:
        options = _options(given, bare, notes)
        missing = [key for key in LTC_KEYS if key not in arrays]
        if missing:
            raise ImportModelError(f"an LTC state_dict needs 'rnn_cell.{missing[0]}', which is missing")
        params = take(arrays, LTC_KEYS)
        params.update(take(arrays, MAPPING_KEYS))
        refuse_leftovers(arrays, "LTC")
        if params["gleak"].ndim != 1 or params["sensory_w"].ndim != 2:
            raise ImportModelError("'rnn_cell.gleak' must be a vector and 'rnn_cell.sensory_w' a matrix")
        units = params["gleak"].shape[0]
        inputs = params["sensory_w"].shape[0]
        out_map = mapping_of(params, "output")
        motors = _motors(params, out_map, given.get("output_size"), notes)
        ltc = LtcOptions(
            ode_unfolds=options["ode_unfolds"],
            epsilon=float(options["epsilon"]),
            input_mapping=mapping_of(params, "input"),
            output_mapping=out_map,
            implicit_constraints=options["implicit_constraints"],
        )
        wiring = WiringInfo(kind="custom", roles=_infer_roles(params, motors))
        return Model(
            cell="ltc", input_size=inputs, output_size=motors, state_size=units, arrays=params, ltc=ltc, wiring=wiring
        )

    def module_options(self, cell: Any) -> dict[str, Any]:
        return {
            "implicit_constraints": bool(cell._implicit_param_constraints),
            "ode_unfolds": int(cell._ode_unfolds),
            "epsilon": float(cell._epsilon),
            "output_size": int(cell.motor_size),
        }

    def wiring_roles(self, groups: dict[str, list[int]] | None, units: int, motors: int) -> dict[str, list[int]]:
        if groups is not None:
            return groups  # the LTC's state is ncps's neuron ids: [motor | command | inter]
        return {"motor": list(range(motors)), "hidden": list(range(motors, units))}

    # --- import --expect --------------------------------------------------------------------------------------

    def options_of(self, model: Model) -> dict[str, Any]:
        assert model.ltc is not None
        return {
            "implicit_constraints": model.ltc.implicit_constraints,
            "ode_unfolds": model.ltc.ode_unfolds,
            "epsilon": model.ltc.epsilon,
            "output_size": model.output_size,
        }

    def option_space(self, model: Model) -> dict[str, list[Any]]:
        assert model.ltc is not None
        return {
            "implicit_constraints": [model.ltc.implicit_constraints, not model.ltc.implicit_constraints],
            "ode_unfolds": [6, *(u for u in range(1, MAX_UNFOLDS_SEARCHED + 1) if u != 6)],
            "epsilon": list(EPSILONS),
        }

    def with_options(self, model: Model, options: dict[str, Any]) -> Model:
        assert model.ltc is not None
        ltc = {key: value for key, value in options.items() if key != "output_size"}
        return replace(model, ltc=replace(model.ltc, **ltc))


def _options(given: dict[str, Any], bare: bool, notes: list[str]) -> dict[str, Any]:
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


def _motors(params: dict[str, np.ndarray], out_map: str, output_size: int | None, notes: list[str]) -> int:
    """The output size: the output mapping's, else the one given, else an NCP's motors, else every neuron."""
    units = params["gleak"].shape[0]
    if out_map != "none":
        motors = int(params["output_w"].shape[0])
        if output_size is not None and output_size != motors:
            raise ImportModelError(f"--output-size {output_size} contradicts 'output_w' with {motors} entries")
        return motors
    if output_size is not None:
        return output_size
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
    return motors


def _infer_roles(params: dict[str, np.ndarray], motors: int) -> dict[str, list[int]]:
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
    return count if "command" in _infer_roles(params, count) else None


KINDS = (LtcKind(),)

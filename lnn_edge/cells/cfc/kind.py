"""The CfC at the model level (two :class:`lnn_edge.model.kinds.CellKind`\\ s): the dense cell (``cfc``, ncps
``CfCCell``) and the wired one (``wired_cfc``, ``WiredCfCCell``): their options and arrays, how ncps stores them,
their normalization folding, and the options ``import --expect`` searches.

Array names follow the ncps state_dict without ``rnn_cell.`` (see :mod:`lnn_edge.model.model`).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import replace
from typing import Any

import numpy as np

from lnn_edge.errors import ImportModelError, ModelFileError
from lnn_edge.model.checks import check_choice, check_positive_int, require
from lnn_edge.model.limits import MAX_BACKBONE_LAYERS, MAX_BACKBONE_UNITS, MAX_LAYERS, MAX_NEURONS, MAX_OUTPUTS
from lnn_edge.model.model import ACTIVATIONS, CFC_HEADS_GATED, CFC_MODES, CfcOptions, Model, WiringInfo
from lnn_edge.model.ncps_state import refuse_leftovers, take
from lnn_edge.model.normalization import Normalization, fold_output_normalization

BACKBONE_WEIGHT = re.compile(r"backbone\.(\d+)\.weight")
ACTIVATION_NAMES = {"LeCun": "lecun_tanh", "Tanh": "tanh", "ReLU": "relu", "SiLU": "silu", "GELU": "gelu"}
"""ncps's backbone activation modules -> the option's values."""


class CfcKind:
    """What the dense and the wired CfC share; :class:`DenseCfcKind` and :class:`WiredCfcKind` add the rest."""

    name: str
    title: str
    article: str
    wired: bool

    # --- the model's structure ------------------------------------------------------------------------------

    def validate_options(self, model: Model) -> None:
        cfc = model.cfc
        if cfc is None or model.ltc is not None:
            raise ModelFileError(f"a {model.cell} model needs 'cfc' options and no 'ltc' options")
        check_choice("cfc.mode", cfc.mode, CFC_MODES)
        check_choice("cfc.activation", cfc.activation, ACTIVATIONS)
        check_choice("cfc.output_mapping", cfc.output_mapping, ("none", "affine"))
        if not isinstance(cfc.layer_sizes, list) or not 1 <= len(cfc.layer_sizes) <= MAX_LAYERS:
            raise ModelFileError(f"field 'cfc.layer_sizes' must list 1 to {MAX_LAYERS} layer sizes")
        for size in cfc.layer_sizes:
            check_positive_int("cfc.layer_sizes", size, maximum=MAX_NEURONS)
        if sum(cfc.layer_sizes) != model.state_size:
            raise ModelFileError(
                f"field 'cfc.layer_sizes' {cfc.layer_sizes} does not add up to state_size {model.state_size}"
            )
        self._validate_layers(cfc)
        last = cfc.layer_sizes[-1]
        if cfc.proj_size is not None:
            check_positive_int("cfc.proj_size", cfc.proj_size, maximum=MAX_OUTPUTS)
            last = cfc.proj_size
        if model.output_size != last:
            raise ModelFileError(f"field 'output_size' is {model.output_size}; the cell gives {last} outputs")

    def _validate_layers(self, cfc: CfcOptions) -> None:
        raise NotImplementedError

    def expected_shapes(self, model: Model) -> dict[str, tuple[int, ...]]:
        cfc: CfcOptions = require(model.cfc, "cfc options")
        shapes = self._cell_shapes(model, cfc)
        last = cfc.layer_sizes[-1]
        if cfc.proj_size is not None:
            shapes["fc.weight"] = (cfc.proj_size, last)
            shapes["fc.bias"] = (cfc.proj_size,)
        if cfc.output_mapping == "affine":
            shapes["output_w"] = (model.output_size,)
            shapes["output_b"] = (model.output_size,)
        return shapes

    def _cell_shapes(self, model: Model, cfc: CfcOptions) -> dict[str, tuple[int, ...]]:
        raise NotImplementedError

    def validate_values(self, model: Model) -> None:
        return None  # no constraint on a CfC's values beyond finiteness

    def summary_options(self, model: Model) -> dict[str, Any]:
        assert model.cfc is not None
        return {
            "mode": model.cfc.mode,
            "layer_sizes": model.cfc.layer_sizes,
            "proj_size": model.cfc.proj_size,
            "output_mapping": model.cfc.output_mapping,
        }

    def fold_normalization(self, model: Model, norm: Normalization) -> None:
        """Into the input columns of the first linear layers that read x (the backbone's first layer, or every
        head), and the targets into an lnn-edge output mapping after the optional projection."""
        assert model.cfc is not None
        arrays = model.arrays
        s = model.input_size
        for layer in self._first_layers(model):
            weight = arrays[f"{layer}.weight"]
            scaled = weight[:, :s] / norm.x_std
            # Wired ff1/ff2 are used as weight * mask: the bias absorbs only the synapses that exist.
            mask_name = layer.split(".")[0] + ".sparsity_mask"
            masked = layer.endswith(("ff1", "ff2")) and mask_name in arrays
            used = scaled * arrays[mask_name][:, :s] if masked else scaled
            arrays[f"{layer}.bias"] = arrays[f"{layer}.bias"] - used @ norm.x_mean
            arrays[f"{layer}.weight"] = np.concatenate([scaled, weight[:, s:]], axis=1)
        if fold_output_normalization(model, norm):
            model.cfc.output_mapping = "affine"

    def _first_layers(self, model: Model) -> list[str]:
        raise NotImplementedError

    # --- import from ncps -----------------------------------------------------------------------------------

    def wiring_roles(self, groups: dict[str, list[int]] | None, units: int, motors: int) -> dict[str, list[int]]:
        return {"motor": list(range(motors)), "hidden": list(range(motors, units))}

    # --- import --expect --------------------------------------------------------------------------------------

    def options_of(self, model: Model) -> dict[str, Any]:
        assert model.cfc is not None
        return {"mode": model.cfc.mode, "activation": model.cfc.activation}

    def option_space(self, model: Model) -> dict[str, list[Any]]:
        assert model.cfc is not None
        return {"mode": ["pure"] if model.cfc.mode == "pure" else ["default", "no_gate"]}

    def with_options(self, model: Model, options: dict[str, Any]) -> Model:
        assert model.cfc is not None
        return replace(model, cfc=replace(model.cfc, **options))


class DenseCfcKind(CfcKind):
    """ncps's ``CfC(units=N)`` / ``CfCCell``: one fully connected cell, with an optional backbone."""

    name = "cfc"
    title = "CfC (dense)"
    article = "a CfC"
    wired = False
    indexed_synapses = False
    ncps_classes = ("CfCCell",)
    markers = ("ff1.weight",)
    import_options = ("mode", "activation")

    def _validate_layers(self, cfc: CfcOptions) -> None:
        if len(cfc.layer_sizes) != 1:
            raise ModelFileError("field 'cfc.layer_sizes' must have one entry for a dense CfC")
        check_positive_int("cfc.backbone_layers", cfc.backbone_layers, minimum=0, maximum=MAX_BACKBONE_LAYERS)
        if cfc.backbone_layers:
            check_positive_int("cfc.backbone_units", cfc.backbone_units, maximum=MAX_BACKBONE_UNITS)

    def _cell_shapes(self, model: Model, cfc: CfcOptions) -> dict[str, tuple[int, ...]]:
        hidden = cfc.layer_sizes[0]
        width = model.input_size + hidden
        shapes: dict[str, tuple[int, ...]] = {}
        for k in range(cfc.backbone_layers):
            shapes[f"backbone.{k}.weight"] = (cfc.backbone_units, width)
            shapes[f"backbone.{k}.bias"] = (cfc.backbone_units,)
            width = cfc.backbone_units
        shapes.update(_head_shapes("", cfc.mode, hidden, width))
        return shapes

    def output_state_indices(self, model: Model) -> list[int]:
        return list(range(model.state_size))

    def synapse_counts(self, model: Model) -> tuple[int, int]:
        assert model.cfc is not None
        first = model.arrays["backbone.0.weight" if model.cfc.backbone_layers else "ff1.weight"]
        return first.shape[0] * model.input_size, first.shape[0] * (first.shape[1] - model.input_size)

    def used_entries(self, model: Model, name: str) -> np.ndarray | None:
        return None

    def summary_options(self, model: Model) -> dict[str, Any]:
        assert model.cfc is not None
        return {
            **super().summary_options(model),
            "activation": model.cfc.activation,
            "backbone_layers": model.cfc.backbone_layers,
            "backbone_units": model.cfc.backbone_units,
        }

    def _first_layers(self, model: Model) -> list[str]:
        assert model.cfc is not None
        if model.cfc.backbone_layers:
            return ["backbone.0"]
        return [head for head in _heads(model.cfc.mode)]

    def claims(self, keys: Collection[str]) -> bool:
        return "ff1.weight" in keys

    def applicable_options(self, keys: Collection[str]) -> tuple[str, ...]:
        # only a backbone has an activation
        return self.import_options if any(key.startswith("backbone.") for key in keys) else ("mode",)

    def from_arrays(self, arrays: dict[str, np.ndarray], given: dict[str, Any], bare: bool, notes: list[str]) -> Model:
        given_activation = given.get("activation")
        activation = given_activation or "lecun_tanh"
        if activation not in ACTIVATIONS:
            raise ImportModelError(f"--activation {activation!r} is not one of {', '.join(ACTIVATIONS)}")
        mode = _check_mode(arrays, "", given.get("mode") or "default")
        params: dict[str, np.ndarray] = {}
        # ncps numbers backbone modules Linear, activation[, dropout], ...; keep only the Linear layers, renumbered.
        indices = sorted({int(m.group(1)) for key in arrays if (m := BACKBONE_WEIGHT.fullmatch(key))})
        for layer, index in enumerate(indices):
            params[f"backbone.{layer}.weight"] = arrays.pop(f"backbone.{index}.weight")
            if f"backbone.{index}.bias" not in arrays:
                raise ImportModelError(f"'rnn_cell.backbone.{index}.bias' is missing")
            params[f"backbone.{layer}.bias"] = arrays.pop(f"backbone.{index}.bias")
        head_keys = _head_keys("", mode)
        missing = [key for key in head_keys if key not in arrays]
        if missing:
            raise ImportModelError(f"a {mode}-mode CfC state_dict needs 'rnn_cell.{missing[0]}', which is missing")
        params.update(take(arrays, head_keys))
        params.update(take(arrays, ["fc.weight", "fc.bias"]))
        refuse_leftovers(arrays, "CfC")
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

    def module_options(self, cell: Any) -> dict[str, Any]:
        options: dict[str, Any] = {"mode": cell.mode}
        if cell.backbone is not None:  # only a backbone has an activation
            options["activation"] = _activation_name(cell)
        return options

    def option_space(self, model: Model) -> dict[str, list[Any]]:
        assert model.cfc is not None
        space = super().option_space(model)
        if model.cfc.backbone_layers > 0:
            space["activation"] = list(ACTIVATIONS)
        return space


class WiredCfcKind(CfcKind):
    """ncps's ``CfC(wiring)`` / ``WiredCfCCell``: one CfC layer per wiring layer, masked by its synapses."""

    name = "wired_cfc"
    title = "CfC (wired)"
    article = "a wired CfC"
    wired = True
    indexed_synapses = True
    ncps_classes = ("WiredCfCCell",)
    markers = ("layer_0.ff1.weight",)
    import_options = ("mode",)

    def _validate_layers(self, cfc: CfcOptions) -> None:
        if cfc.backbone_layers or cfc.backbone_units:
            raise ModelFileError("a wired CfC has no backbone: 'cfc.backbone_layers' must be 0")

    def _cell_shapes(self, model: Model, cfc: CfcOptions) -> dict[str, tuple[int, ...]]:
        shapes: dict[str, tuple[int, ...]] = {}
        inputs = model.input_size
        for index, size in enumerate(cfc.layer_sizes):
            prefix = f"layer_{index}."
            shapes.update(_head_shapes(prefix, cfc.mode, size, inputs + size))
            shapes[f"{prefix}sparsity_mask"] = (size, inputs + size)
            inputs = size
        return shapes

    def output_state_indices(self, model: Model) -> list[int]:
        assert model.cfc is not None
        last = model.cfc.layer_sizes[-1]
        return list(range(model.state_size - last, model.state_size))

    def synapse_counts(self, model: Model) -> tuple[int, int]:
        assert model.cfc is not None
        masks = [model.arrays[f"layer_{k}.sparsity_mask"] for k in range(len(model.cfc.layer_sizes))]
        sensory = int(masks[0][:, : model.input_size].sum())
        return sensory, sum(int(mask.sum()) for mask in masks) - sensory

    def used_entries(self, model: Model, name: str) -> np.ndarray | None:
        if name.endswith(("ff1.weight", "ff2.weight")):
            return np.asarray(model.arrays[f"{name.split('.')[0]}.sparsity_mask"] != 0)
        return None

    def _first_layers(self, model: Model) -> list[str]:
        assert model.cfc is not None
        return [f"layer_0.{head}" for head in _heads(model.cfc.mode)]

    def claims(self, keys: Collection[str]) -> bool:
        return "layer_0.ff1.weight" in keys

    def applicable_options(self, keys: Collection[str]) -> tuple[str, ...]:
        return self.import_options

    def from_arrays(self, arrays: dict[str, np.ndarray], given: dict[str, Any], bare: bool, notes: list[str]) -> Model:
        mode = _check_mode(arrays, "layer_0.", given.get("mode") or "default")
        params: dict[str, np.ndarray] = {}
        sizes: list[int] = []
        while f"layer_{len(sizes)}.ff1.weight" in arrays:
            prefix = f"layer_{len(sizes)}."
            keys = [*_head_keys(prefix, mode), f"{prefix}sparsity_mask"]
            missing = [key for key in keys if key not in arrays]
            if missing:
                raise ImportModelError(f"a wired CfC state_dict needs 'rnn_cell.{missing[0]}', which is missing")
            params.update(take(arrays, keys))
            sizes.append(params[f"{prefix}ff1.weight"].shape[0])
        params.update(take(arrays, ["fc.weight", "fc.bias"]))
        refuse_leftovers(arrays, "wired CfC")
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

    def module_options(self, cell: Any) -> dict[str, Any]:
        return {"mode": cell._layers[0].mode}

    def wiring_roles(self, groups: dict[str, list[int]] | None, units: int, motors: int) -> dict[str, list[int]]:
        if groups is None:  # one layer: every neuron's state is an output of the cell
            return {"layer_0": list(range(units))}
        # The wired CfC lays its state out by layer, [inter | command | motor], not by ncps neuron id.
        sizes = [len(groups["inter"]), len(groups["command"]), len(groups["motor"])]
        starts = np.cumsum([0, *sizes])
        layers = ("inter", "command", "motor")
        return {name: list(range(int(starts[k]), int(starts[k + 1]))) for k, name in enumerate(layers)}


def _heads(mode: str) -> tuple[str, ...]:
    return ("ff1",) if mode == "pure" else CFC_HEADS_GATED


def _head_shapes(prefix: str, mode: str, hidden: int, width: int) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    for head in _heads(mode):
        shapes[f"{prefix}{head}.weight"] = (hidden, width)
        shapes[f"{prefix}{head}.bias"] = (hidden,)
    if mode == "pure":
        shapes[f"{prefix}w_tau"] = (1, hidden)
        shapes[f"{prefix}A"] = (1, hidden)
    return shapes


def _head_keys(prefix: str, mode: str) -> list[str]:
    keys = [f"{prefix}{head}.{part}" for head in _heads(mode) for part in ("weight", "bias")]
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


def _activation_name(cell: Any) -> str:
    for layer in cell.backbone:
        if type(layer).__name__ in ACTIVATION_NAMES:
            return ACTIVATION_NAMES[type(layer).__name__]
    raise ImportModelError("unknown CfC backbone activation")


KINDS = (DenseCfcKind(), WiredCfcKind())

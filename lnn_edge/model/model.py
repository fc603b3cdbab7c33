"""The in-memory model: a trained LTC, CfC or wired CfC network as plain NumPy arrays plus its options.

A :class:`Model` is what a ``.lnn`` file holds (see :mod:`lnn_edge.model.modelfile` for the container and
``docs/model-file.md`` for the format). Array names follow the ncps ``state_dict`` keys without the
``rnn_cell.`` prefix, so every number can be traced back to the torch module it came from:

* LTC: ``gleak vleak cm sigma mu w erev sensory_sigma sensory_mu sensory_w sensory_erev sparsity_mask
  sensory_sparsity_mask`` and, by mapping, ``input_w input_b output_w output_b``. Parameters are stored raw,
  exactly as ncps holds them; ``LtcOptions.implicit_constraints`` says whether softplus is applied to
  ``gleak cm w sensory_w`` when they are used.
* dense CfC: ``backbone.K.weight/bias`` (K = 0.. layers-1, renumbered consecutively: ncps interleaves
  activation and dropout modules), ``ff1 ff2 time_a time_b`` (``.weight/.bias``), ``w_tau A`` in pure mode,
  ``fc.weight/bias`` for ``proj_size``.
* wired CfC: the same heads per NCP layer as ``layer_L.<head>``, plus ``layer_L.sparsity_mask`` (shape of
  ``ff1.weight``), ``fc.*`` for ``proj_size``.
* CfC models may carry ``output_w output_b`` (an lnn-edge extension, ``CfcOptions.output_mapping == "affine"``):
  the trainer folds its target normalization there so that the deployed model gives raw units.

:func:`validate` checks everything and raises :class:`~lnn_edge.errors.ModelFileError` naming the field. What
differs between cells (their options' checks, arrays and shapes, which entries are used, where the outputs are
read) is each cell's kind, ``cells/<name>/kind.py``, asked through :mod:`lnn_edge.model.kinds`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lnn_edge.errors import ModelFileError
from lnn_edge.model import kinds
from lnn_edge.model.checks import check_choice, check_positive_int, finite
from lnn_edge.model.limits import (
    MAX_CALIBRATION_VALUES,
    MAX_INPUTS,
    MAX_NAME_CHARS,
    MAX_NEURONS,
    MAX_OUTPUTS,
)

MAPPINGS = ("affine", "linear", "none")
CFC_MODES = ("default", "no_gate", "pure")
ACTIVATIONS = ("lecun_tanh", "tanh", "relu", "silu", "gelu")
WIRING_KINDS = ("fully_connected", "random", "ncp", "autoncp", "custom", "dense")

LTC_POSITIVE = ("gleak", "cm", "w", "sensory_w")
"""LTC parameters that ncps keeps positive (softplus with implicit constraints, clipping without)."""

CFC_HEADS_GATED = ("ff1", "ff2", "time_a", "time_b")


@dataclass
class LtcOptions:
    """Options of an ncps ``LTCCell`` (defaults are those of the ``ncps.torch.LTC`` wrapper)."""

    ode_unfolds: int = 6
    epsilon: float = 1e-8
    input_mapping: str = "affine"
    output_mapping: str = "affine"
    implicit_constraints: bool = True


@dataclass
class CfcOptions:
    """Options of an ncps ``CfCCell`` (dense) or ``WiredCfCCell`` (wired).

    ``layer_sizes`` is ``[hidden]`` for a dense cell and the wired layer sizes (inter, command, motor for an
    NCP; one layer for FullyConnected/Random wirings) for a wired cell. Backbone fields are 0 for wired cells.
    """

    mode: str = "default"
    activation: str = "lecun_tanh"
    backbone_units: int = 0
    backbone_layers: int = 0
    proj_size: int | None = None
    layer_sizes: list[int] = field(default_factory=list)
    output_mapping: str = "none"


@dataclass
class WiringInfo:
    """Where the topology came from and which neuron plays which role.

    The topology itself is in the masks (``sparsity_mask`` ...): rebuilding an ncps wiring is not
    idempotent, so it is never rebuilt. ``roles`` maps a role name (``motor``, ``command``, ``inter``,
    ``hidden``) to state indices; ``config`` keeps the ncps constructor arguments where they are known.
    """

    kind: str = "custom"
    config: dict[str, Any] = field(default_factory=dict)
    roles: dict[str, list[int]] = field(default_factory=dict)


@dataclass
class InputStats:
    """Per-input statistics over a whole training split (each array [S]): what input formats are chosen from
    when a model carries them, since a small sample misses the extremes of real recordings."""

    minimum: np.ndarray
    maximum: np.ndarray
    abs_p999: np.ndarray
    """The 99.9th percentile of |x|."""
    count: int
    """Values seen per input."""


@dataclass
class Calibration:
    """A sample of training inputs (``x`` [B,T,S], optional ``dt`` [B,T]) for choosing number formats and
    measuring error, and optionally ``stats`` over the whole training split."""

    x: np.ndarray
    dt: np.ndarray | None = None
    stats: InputStats | None = None
    y: np.ndarray | None = None
    """The sample's class labels (int64 [B], scored at the last step, or [B,T] per step), when it was drawn from
    a classifier's training split: they let quantize and verify judge accuracy by default."""


@dataclass
class Model:
    """A trained liquid network, framework-free. See the module docstring for the array names."""

    cell: str
    input_size: int
    output_size: int
    state_size: int
    arrays: dict[str, np.ndarray]
    ltc: LtcOptions | None = None
    cfc: CfcOptions | None = None
    wiring: WiringInfo = field(default_factory=WiringInfo)
    input_names: list[str] = field(default_factory=list)
    output_names: list[str] = field(default_factory=list)
    dt: float = 1.0
    calibration: Calibration | None = None
    input_ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Declared full scales (``--input-range NAME=LO:HI``) by input name: they win over calibration."""
    output_ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Declared output ranges by output name, where the user knows them."""
    task: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.input_names:
            self.input_names = [f"x{i}" for i in range(self.input_size)]
        if not self.output_names:
            self.output_names = [f"y{i}" for i in range(self.output_size)]

    @property
    def output_state_indices(self) -> list[int]:
        """The state entries the outputs are read from (before projection and output mapping)."""
        return kinds.get(self.cell).output_state_indices(self)

    @property
    def neurons(self) -> int:
        """The cell's neurons: the state size over the values a neuron holds (a kind's ``state_per_neuron``,
        1 unless it says otherwise; mixed memory: 2, h and c)."""
        return self.state_size // getattr(kinds.get(self.cell), "state_per_neuron", 1)

    def synapse_counts(self) -> tuple[int, int]:
        """(sensory synapses, internal synapses) as given by the masks; dense cells count every weight."""
        return kinds.get(self.cell).synapse_counts(self)

    def parameter_count(self) -> int:
        """Effective (used) parameters: masked-out synapse parameters and masks themselves are not counted."""
        return sum(int(np.count_nonzero(used)) for used in effective_parameter_masks(self).values())


def effective_parameter_masks(model: Model) -> dict[str, np.ndarray]:
    """For each trainable array, a boolean array of the entries the network actually uses."""
    kind = kinds.get(model.cell)
    masks: dict[str, np.ndarray] = {}
    for name, array in model.arrays.items():
        if name.endswith("sparsity_mask"):
            continue
        used = kind.used_entries(model, name)
        masks[name] = np.ones(array.shape, dtype=bool) if used is None else used
    return masks


def expected_shapes(model: Model) -> dict[str, tuple[int, ...]]:
    """Every array the model must hold, with its shape, derived from the cell kind, options and sizes."""
    return kinds.get(model.cell).expected_shapes(model)


def validate(model: Model) -> None:
    """Check a model completely; raise :class:`ModelFileError` naming the first offending field."""
    validate_structure(model)
    _validate_arrays(model)
    if model.calibration is not None:
        _validate_calibration(model)
    _validate_ranges("input_ranges", model.input_ranges, model.input_names)
    _validate_ranges("output_ranges", model.output_ranges, model.output_names)


def validate_structure(model: Model) -> None:
    """Check everything but the arrays: cell, sizes within the limits, options, names and roles.

    Loaders call this before reading any array, so that the sizes that decide how much is read are bounded.
    """
    kind = kinds.get(model.cell)  # an unknown cell is an error naming the field
    check_positive_int("input_size", model.input_size, maximum=MAX_INPUTS)
    check_positive_int("output_size", model.output_size, maximum=MAX_OUTPUTS)
    check_positive_int("state_size", model.state_size, maximum=MAX_NEURONS)
    if not (isinstance(model.dt, float | int) and not isinstance(model.dt, bool) and finite(model.dt) and model.dt > 0):
        raise ModelFileError(f"field 'dt' is {model.dt!r}; expected a finite time step > 0")
    check_choice("wiring.kind", model.wiring.kind, WIRING_KINDS)
    kind.validate_options(model)
    _validate_names("input_names", model.input_names, model.input_size, "inputs")
    _validate_names("output_names", model.output_names, model.output_size, "outputs")
    _validate_roles(model)


def _validate_names(field_name: str, names: list[str], count: int, what: str) -> None:
    if len(names) != count:
        raise ModelFileError(f"field '{field_name}' has {len(names)} names for {count} {what}")
    for name in names:
        if not isinstance(name, str) or len(name) > MAX_NAME_CHARS:
            raise ModelFileError(
                f"field '{field_name}' holds {name!r:.60}; expected names of at most {MAX_NAME_CHARS} characters"
            )


def _validate_arrays(model: Model) -> None:
    expected = expected_shapes(model)
    for name in model.arrays:
        if name not in expected:
            raise ModelFileError(f"array '{name}' is not part of a {model.cell} model with these options")
    for name, shape in expected.items():
        if name not in model.arrays:
            raise ModelFileError(f"array '{name}' is missing")
        array = model.arrays[name]
        if not isinstance(array, np.ndarray) or array.dtype != np.float64:
            dtype = getattr(array, "dtype", type(array).__name__)
            raise ModelFileError(f"array '{name}' has dtype {dtype}; expected float64")
        if array.shape != shape:
            raise ModelFileError(f"array '{name}' has shape {array.shape}; expected {shape}")
        if not np.all(np.isfinite(array)):
            raise ModelFileError(f"array '{name}' contains NaN or Inf")
        if name.endswith("sparsity_mask") and not np.all((array == 0) | (array == 1)):
            raise ModelFileError(f"array '{name}' is a mask but holds values other than 0 and 1")
    kinds.get(model.cell).validate_values(model)


def _validate_roles(model: Model) -> None:
    if not isinstance(model.wiring.roles, dict):
        raise ModelFileError(f"field 'wiring.roles' is {model.wiring.roles!r:.60}; expected role -> neuron indices")
    seen: set[int] = set()
    for role, indices in model.wiring.roles.items():
        if not isinstance(indices, list):
            raise ModelFileError(f"field 'wiring.roles.{role}' is {indices!r:.60}; expected a list of neuron indices")
        for index in indices:
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < model.state_size:
                raise ModelFileError(f"field 'wiring.roles.{role}' holds {index!r}, not a neuron index")
            if index in seen:
                raise ModelFileError(f"field 'wiring.roles.{role}': neuron {index} has two roles")
            seen.add(index)


def _validate_calibration(model: Model) -> None:
    calib = model.calibration
    assert calib is not None
    x = calib.x
    if not isinstance(x, np.ndarray) or x.ndim != 3 or x.shape[2] != model.input_size or x.shape[1] < 1:
        raise ModelFileError(
            f"calibration 'x' has shape {getattr(x, 'shape', None)}; expected [B, T, {model.input_size}]"
        )
    if x.size > MAX_CALIBRATION_VALUES:
        raise ModelFileError(f"calibration 'x' holds {x.size} values, more than the limit of {MAX_CALIBRATION_VALUES}")
    if x.dtype != np.float64 or not np.all(np.isfinite(x)):
        raise ModelFileError("calibration 'x' must be finite float64")
    if calib.dt is not None:
        dt = calib.dt
        if dt.shape != x.shape[:2]:
            raise ModelFileError(f"calibration 'dt' has shape {dt.shape}; expected {x.shape[:2]}")
        if dt.dtype != np.float64 or not np.all(np.isfinite(dt)) or np.any(dt <= 0):
            raise ModelFileError("calibration 'dt' must be finite float64 > 0")
    if calib.stats is not None:
        _validate_stats(calib.stats, model.input_size)
    if calib.y is not None:
        y = calib.y
        shapes = (x.shape[:1], x.shape[:2])
        if not isinstance(y, np.ndarray) or y.shape not in shapes or y.dtype != np.int64:
            raise ModelFileError(
                f"calibration 'y' has shape {getattr(y, 'shape', None)}; expected int64 class ids of shape "
                f"{list(shapes[0])} or {list(shapes[1])}"
            )
        if y.size and (y.min() < 0 or y.max() >= model.output_size):
            raise ModelFileError(f"calibration 'y' holds class ids outside 0..{model.output_size - 1}")


def _validate_stats(stats: InputStats, inputs: int) -> None:
    """Whole-split statistics: one finite value per input, minimum <= maximum, 0 <= abs_p999, a positive count."""
    for name in ("minimum", "maximum", "abs_p999"):
        values = getattr(stats, name)
        if not isinstance(values, np.ndarray) or values.shape != (inputs,) or not np.all(np.isfinite(values)):
            raise ModelFileError(f"calibration stats '{name}' must be {inputs} finite numbers, one per input")
    if np.any(stats.minimum > stats.maximum) or np.any(stats.abs_p999 < 0):
        raise ModelFileError("calibration stats: 'minimum' exceeds 'maximum' or 'abs_p999' is negative")
    if isinstance(stats.count, bool) or not isinstance(stats.count, int | np.integer) or stats.count < 1:
        raise ModelFileError(f"calibration stats 'count' is {stats.count!r}; expected a positive integer")


def _validate_ranges(field_name: str, ranges: dict[str, tuple[float, float]], names: list[str]) -> None:
    """Declared ranges: known names, finite low < high."""
    for name, bounds in ranges.items():
        if name not in names:
            raise ModelFileError(f"field '{field_name}' names {name!r}, which is not one of {', '.join(names)}")
        if len(bounds) != 2 or not all(finite(v) for v in bounds) or not bounds[0] < bounds[1]:
            raise ModelFileError(
                f"field '{field_name}' entry {name!r} is {bounds!r}; expected finite (low, high), low < high"
            )

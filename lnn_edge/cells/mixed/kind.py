"""Mixed memory at the model level: an LSTM in front of a liquid cell (``LTC(..., mixed_memory=True)``).

ncps steps ``h, c = lstm(x, (h, c))`` and then ``y, h = rnn_cell(x, h, dt)``. A mixed kind wraps the liquid
cell's own kind (found in the kind registry by name, so this folder imports no other cell's) and adds the LSTM's
three arrays and its cell state ``c``. The model's state is ``[h | c]``: ``state_size`` is twice the liquid
cell's neurons, ``h`` (the liquid cell's state) first, so the outputs are read from the same entries as the
inner cell's. Everything else (options, wiring, import options, ``import --expect``'s search) is the inner kind's.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from typing import Any

import numpy as np

from lnn_edge.errors import ImportModelError, ModelFileError
from lnn_edge.model import kinds
from lnn_edge.model.kinds import CellKind
from lnn_edge.model.model import Model
from lnn_edge.model.ncps_state import take
from lnn_edge.model.normalization import Normalization

LSTM_KEYS = {
    "lstm.input_map.weight": "lstm_input_w",
    "lstm.input_map.bias": "lstm_input_b",
    "lstm.recurrent_map.weight": "lstm_recurrent_w",
}
"""ncps's ``LSTMCell`` state_dict keys (beside ``rnn_cell.*``) -> the model file's array names."""
LSTM_ARRAYS = tuple(LSTM_KEYS.values())
MARKER = "lstm.input_map.weight"
SUFFIX = "_mixed"


def inner_model(model: Model) -> Model:
    """The liquid cell alone: the model without the LSTM's arrays, with ``h`` as its state."""
    arrays = {name: array for name, array in model.arrays.items() if name not in LSTM_ARRAYS}
    return replace(model, cell=model.cell.removesuffix(SUFFIX), state_size=model.state_size // 2, arrays=arrays)


def lstm_arrays(model: Model) -> dict[str, np.ndarray]:
    """The LSTM's arrays of a mixed model: ``lstm_input_w`` [4H, S], ``lstm_input_b`` [4H], ``lstm_recurrent_w``
    [4H, H], rows in ncps's gate order (input activation, input gate, forget gate, output gate)."""
    return {name: model.arrays[name] for name in LSTM_ARRAYS}


class MixedKind:
    """An ncps LTC or CfC with ``mixed_memory=True``: the inner kind's model plus an LSTM."""

    state_per_neuron = 2
    """h and c: a neuron is two state values (``Model.neurons``)."""

    def __init__(self, inner: str, title: str, article: str) -> None:
        self._inner_name = inner
        self.name = inner + SUFFIX
        self.title = f"{title} with mixed memory (LSTM)"
        self.article = f"{article} with mixed memory"

    @property
    def inner(self) -> CellKind:
        return kinds.get(self._inner_name)

    @property
    def indexed_synapses(self) -> bool:
        return self.inner.indexed_synapses

    @property
    def markers(self) -> tuple[str, ...]:
        return (*self.inner.markers, MARKER)  # the inner cell's and the LSTM's: more specific than the inner kind

    @property
    def ncps_classes(self) -> tuple[str, ...]:
        return ()  # from_module finds the inner cell's class; the state_dict's lstm.* keys then choose this kind

    @property
    def import_options(self) -> tuple[str, ...]:
        return self.inner.import_options

    # --- the model's structure ------------------------------------------------------------------------------

    def validate_options(self, model: Model) -> None:
        if model.state_size % 2:
            raise ModelFileError(
                f"field 'state_size' is {model.state_size}; a mixed-memory model's state is [h | c], an even size"
            )
        self.inner.validate_options(inner_model(model))

    def expected_shapes(self, model: Model) -> dict[str, tuple[int, ...]]:
        units, inputs = model.state_size // 2, model.input_size
        shapes = self.inner.expected_shapes(inner_model(model))
        shapes.update(lstm_input_w=(4 * units, inputs), lstm_input_b=(4 * units,), lstm_recurrent_w=(4 * units, units))
        return shapes

    def validate_values(self, model: Model) -> None:
        self.inner.validate_values(inner_model(model))

    def output_state_indices(self, model: Model) -> list[int]:
        return self.inner.output_state_indices(inner_model(model))

    def synapse_counts(self, model: Model) -> tuple[int, int]:
        return self.inner.synapse_counts(inner_model(model))

    def used_entries(self, model: Model, name: str) -> np.ndarray | None:
        return None if name in LSTM_ARRAYS else self.inner.used_entries(inner_model(model), name)

    def summary_options(self, model: Model) -> dict[str, Any]:
        return {**self.inner.summary_options(inner_model(model)), "mixed_memory": True}

    def fold_normalization(self, model: Model, norm: Normalization) -> None:
        """The inner cell folds its part (and the targets) as it would alone; the LSTM reads the same normalized
        inputs through ``lstm_input_w``, so ``W (x - mean) / std + b`` becomes ``(W / std) x + (b - W (mean / std))``,
        exact as the inner cell's fold is."""
        inner = inner_model(model)
        self.inner.fold_normalization(inner, norm)
        model.arrays.update(inner.arrays)
        model.ltc, model.cfc = inner.ltc, inner.cfc  # the inner fold may mark its mappings affine
        weight = model.arrays["lstm_input_w"]
        model.arrays["lstm_input_w"] = weight / norm.x_std
        model.arrays["lstm_input_b"] = model.arrays["lstm_input_b"] - weight @ (norm.x_mean / norm.x_std)

    # --- import from ncps -----------------------------------------------------------------------------------

    def claims(self, keys: Collection[str]) -> bool:
        return MARKER in keys and self.inner.claims([key for key in keys if not key.startswith("lstm.")])

    def applicable_options(self, keys: Collection[str]) -> tuple[str, ...]:
        return self.inner.applicable_options([key for key in keys if not key.startswith("lstm.")])

    def from_arrays(self, arrays: dict[str, np.ndarray], given: dict[str, Any], bare: bool, notes: list[str]) -> Model:
        taken = take(arrays, tuple(LSTM_KEYS))
        missing = [key for key in LSTM_KEYS if key not in taken]
        if missing:
            raise ImportModelError(f"a mixed-memory state_dict needs '{missing[0]}', which is missing")
        model = self.inner.from_arrays(arrays, given, bare, notes)
        lstm = {LSTM_KEYS[key]: value for key, value in taken.items()}
        return replace(model, cell=self.name, state_size=2 * model.state_size, arrays={**model.arrays, **lstm})

    def module_options(self, cell: Any) -> dict[str, Any]:
        return self.inner.module_options(cell)

    def wiring_roles(self, groups: dict[str, list[int]] | None, units: int, motors: int) -> dict[str, list[int]]:
        return self.inner.wiring_roles(groups, units, motors)  # an ncps wiring's units are the neurons

    # --- import --expect --------------------------------------------------------------------------------------

    def options_of(self, model: Model) -> dict[str, Any]:
        return self.inner.options_of(inner_model(model))

    def option_space(self, model: Model) -> dict[str, list[Any]]:
        return self.inner.option_space(inner_model(model))

    def with_options(self, model: Model, options: dict[str, Any]) -> Model:
        changed = self.inner.with_options(inner_model(model), options)
        return replace(changed, cell=model.cell, state_size=model.state_size, arrays=model.arrays)


KINDS = (
    MixedKind("ltc", "LTC", "an LTC"),
    MixedKind("cfc", "CfC (dense)", "a CfC"),
    MixedKind("wired_cfc", "CfC (wired)", "a wired CfC"),
)

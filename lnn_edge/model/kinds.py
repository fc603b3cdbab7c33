"""Cell kinds at the model level: what a model file, its validation, the ncps importer, the normalization folding,
``inspect`` and ``import --expect`` need to know of each kind of cell, behind one interface (:class:`CellKind`).

Each cell folder's ``kind.py`` (``lnn_edge/cells/<name>/kind.py``) lists its kinds in ``KINDS``; :func:`get` finds
them through :func:`lnn_edge.plugins.cell_modules` at the first lookup. The modules of this package ask
:func:`get` and never compare a model's ``cell`` string themselves. A kind module builds only on the model layer
(an import contract in pyproject.toml keeps it so).
"""

from __future__ import annotations

from collections.abc import Collection
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from lnn_edge.errors import ModelFileError
from lnn_edge.plugins import collect

if TYPE_CHECKING:
    from lnn_edge.model.model import Model
    from lnn_edge.model.normalization import Normalization


class CellKind(Protocol):
    """One kind of cell, as the model layer sees it."""

    @property
    def name(self) -> str:
        """The model file's ``cell`` string: ``ltc``, ``cfc``, ``wired_cfc``."""
        ...

    @property
    def title(self) -> str:
        """How ``inspect`` names it: ``LTC``, ``CfC (dense)``."""
        ...

    @property
    def article(self) -> str:
        """How a sentence names it: ``an LTC``, ``a wired CfC``."""
        ...

    # --- the model's structure ------------------------------------------------------------------------------

    def validate_options(self, model: Model) -> None:
        """Check the cell's options and the sizes they imply; raise ModelFileError naming the field."""
        ...

    def expected_shapes(self, model: Model) -> dict[str, tuple[int, ...]]:
        """Every array the model must hold, with its shape."""
        ...

    def validate_values(self, model: Model) -> None:
        """Checks of array values beyond shape and finiteness (the arrays are known to be there)."""
        ...

    def output_state_indices(self, model: Model) -> list[int]:
        """The state entries the outputs are read from (before projection and output mapping)."""
        ...

    def synapse_counts(self, model: Model) -> tuple[int, int]:
        """(sensory synapses, internal synapses) as given by the masks; dense cells count every weight."""
        ...

    def used_entries(self, model: Model, name: str) -> np.ndarray | None:
        """The entries of array ``name`` the network uses (a boolean array), or None when it uses all."""
        ...

    @property
    def indexed_synapses(self) -> bool:
        """Whether its synapses are stored with indices (a sparse cell): ``inspect``'s flash estimate."""
        ...

    def summary_options(self, model: Model) -> dict[str, Any]:
        """The options ``inspect`` lists."""
        ...

    def fold_normalization(self, model: Model, norm: Normalization) -> None:
        """Fold input (and target) normalization into the model's parameters, in place."""
        ...

    # --- import from ncps -----------------------------------------------------------------------------------

    @property
    def ncps_classes(self) -> tuple[str, ...]:
        """The ncps cell classes (``type(module.rnn_cell).__name__``) this kind imports from a module."""
        ...

    @property
    def markers(self) -> tuple[str, ...]:
        """State_dict keys (after ``rnn_cell.``) that only this kind has: they find it in a larger model."""
        ...

    @property
    def import_options(self) -> tuple[str, ...]:
        """The import options (what a state_dict cannot tell) this kind takes; any other is refused."""
        ...

    def claims(self, keys: Collection[str]) -> bool:
        """Whether a state_dict with these keys (``rnn_cell.`` removed) holds this kind."""
        ...

    def applicable_options(self, keys: Collection[str]) -> tuple[str, ...]:
        """The import options that apply to the cell of these keys (a CfC without backbone has no activation)."""
        ...

    def from_arrays(self, arrays: dict[str, np.ndarray], given: dict[str, Any], bare: bool, notes: list[str]) -> Model:
        """The model of a state_dict's arrays (consumed; any left over is an error), with the options ``given`` and
        otherwise the defaults of the class that saved it (``bare``: a cell without the ncps wrapper); a default
        worth knowing goes to ``notes``."""
        ...

    def module_options(self, cell: Any) -> dict[str, Any]:
        """The import options an ncps cell object (of :attr:`ncps_classes`) holds."""
        ...

    def wiring_roles(self, groups: dict[str, list[int]] | None, units: int, motors: int) -> dict[str, list[int]]:
        """The neurons of each role as state indices, from an ncps wiring's neuron groups (ncps ids of ``motor``,
        ``command``, ``inter`` for an NCP, else None)."""
        ...

    # --- import --expect --------------------------------------------------------------------------------------

    def options_of(self, model: Model) -> dict[str, Any]:
        """The options a state_dict cannot tell, as the model has them."""
        ...

    def option_space(self, model: Model) -> dict[str, list[Any]]:
        """The values to try for each of those options, the model's own first."""
        ...

    def with_options(self, model: Model, options: dict[str, Any]) -> Model:
        """``model`` with other values of those options (not validated)."""
        ...


@cache
def registry() -> dict[str, CellKind]:
    """The model file's ``cell`` string -> its kind, from every cell folder's ``kind.py``."""
    return collect("kind", "KINDS")


def names() -> tuple[str, ...]:
    """Every cell string a model file may hold."""
    return tuple(registry())


def get(name: str) -> CellKind:
    """The kind of a model's ``cell`` string."""
    try:
        return registry()[name]
    except KeyError:
        raise ModelFileError(f"field 'cell' is {name!r}; expected one of {', '.join(names())}") from None

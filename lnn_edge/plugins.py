"""Finding the cell folders: every subpackage ``lnn_edge/cells/<name>/`` is a cell, and contributes the objects its
modules of agreed names list. Adding a cell is adding a folder; no list elsewhere names it.

Two registries read the folders through :func:`cell_modules`: the model layer's (:mod:`lnn_edge.model.kinds`,
modules ``kind.py``: what a model file, the importer and ``inspect`` need of a cell) and the pipeline's
(:mod:`lnn_edge.cells`, modules ``cell.py``: the quantizer, emulator, code generator and reference). The import is
by name at the first lookup, so the model layer, which the cells build on, never imports them statically (the
layers contract in pyproject.toml holds) and loading the package stays cheap.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from typing import Any

CELLS_PACKAGE = "lnn_edge.cells"


def cell_modules(module: str) -> list[ModuleType]:
    """``lnn_edge.cells.<name>.<module>`` of every cell folder that has one, in folder-name order."""
    package = importlib.import_module(CELLS_PACKAGE)
    found = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda info: info.name):
        if not info.ispkg:
            continue
        name = f"{CELLS_PACKAGE}.{info.name}.{module}"
        try:
            found.append(importlib.import_module(name))
        except ModuleNotFoundError as error:
            if error.name != name:  # a missing dependency of the module, not a folder without one
                raise
    return found


def collect(module: str, attribute: str) -> dict[str, Any]:
    """The objects every cell folder's ``module`` lists in ``attribute``, by their ``name`` (one cell string each)."""
    found: dict[str, Any] = {}
    for loaded in cell_modules(module):
        for item in getattr(loaded, attribute):
            assert item.name not in found, f"two cell folders define the cell '{item.name}'"
            found[item.name] = item
    return found

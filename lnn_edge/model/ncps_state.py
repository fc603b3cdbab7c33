"""Reading an ncps state_dict's arrays: the helpers the cell kinds' importers share (``cells/<name>/kind.py``)."""

from __future__ import annotations

import numpy as np

from lnn_edge.errors import ImportModelError

FLAGS = {
    "implicit_constraints": "--implicit-constraints/--no-implicit-constraints",
    "ode_unfolds": "--ode-unfolds",
    "epsilon": "--epsilon",
    "mode": "--mode",
    "activation": "--activation",
    "output_size": "--output-size",
}
"""The command-line flag of each import option, for error messages."""


def take(arrays: dict[str, np.ndarray], keys: list[str] | tuple[str, ...]) -> dict[str, np.ndarray]:
    """Remove the present ``keys`` from ``arrays`` and return them."""
    return {key: arrays.pop(key) for key in keys if key in arrays}


def refuse_leftovers(arrays: dict[str, np.ndarray], cell: str) -> None:
    """Keys no part of the cell took are an error: a different cell or version wrote the file."""
    if arrays:
        raise ImportModelError(f"unknown keys for an ncps {cell}: {', '.join(sorted(arrays))}")


def mapping_of(taken: dict[str, np.ndarray], side: str) -> str:
    """The ncps input/output mapping that the taken ``<side>_w``/``<side>_b`` arrays make: affine, linear or none."""
    if f"{side}_w" in taken:
        return "affine" if f"{side}_b" in taken else "linear"
    if f"{side}_b" in taken:
        raise ImportModelError(f"the state_dict has '{side}_b' without '{side}_w': not an ncps mapping")
    return "none"

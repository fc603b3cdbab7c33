"""Fold the trainer's input/target normalization into a model so it takes and gives raw sensor units.

Training sees ``x_n = (x - x_mean) / x_std`` and predicts ``y_n``, with ``y = y_n * y_std + y_mean``. Both maps
are affine, so they merge exactly into the model's own affine maps:

* LTC: the input mapping ``x_n * w + b`` becomes ``x * (w / x_std) + (b - x_mean * w / x_std)`` and the output
  mapping ``v * w + b`` becomes ``v * (w * y_std) + (b * y_std + y_mean)`` (mappings become ``affine``).
* CfC: the input normalization folds into the input columns of the first linear layer(s) that read ``x``
  (the backbone's first layer, or every head when there is no backbone); the target normalization becomes an
  lnn-edge output mapping (``output_w``, ``output_b``) applied after the optional projection.

Each cell kind folds its own (``fold_normalization`` of ``cells/<name>/kind.py``); the output side is
:func:`fold_output_normalization` for every kind.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np

from lnn_edge.errors import ImportModelError
from lnn_edge.model import kinds
from lnn_edge.model.model import Model


@dataclass
class Normalization:
    """Per-feature statistics of the training data; ``y_*`` is None for classification."""

    x_mean: np.ndarray
    x_std: np.ndarray
    y_mean: np.ndarray | None = None
    y_std: np.ndarray | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Normalization:
        def vector(key: str) -> np.ndarray | None:
            value = data.get(key)
            if value is None:
                return None
            array = np.asarray(value.tolist() if hasattr(value, "tolist") else value, dtype=np.float64)
            if array.ndim != 1 or not np.all(np.isfinite(array)):
                raise ImportModelError(f"normalization field '{key}' must be a finite vector")
            if key.endswith("std") and np.any(array <= 0):
                raise ImportModelError(f"normalization field '{key}' must be > 0")
            return array

        x_mean, x_std = vector("x_mean"), vector("x_std")
        if x_mean is None or x_std is None:
            raise ImportModelError("normalization needs 'x_mean' and 'x_std'")
        return cls(x_mean=x_mean, x_std=x_std, y_mean=vector("y_mean"), y_std=vector("y_std"))


def fold_normalization(model: Model, norm: Normalization) -> Model:
    """Return a copy of ``model`` whose inputs and outputs are in raw units."""
    folded = copy.deepcopy(model)
    if norm.x_mean.shape != (model.input_size,) or norm.x_std.shape != (model.input_size,):
        raise ImportModelError(f"input normalization has the wrong size for {model.input_size} inputs")
    wrong_targets = (
        norm.y_mean is not None
        and norm.y_std is not None
        and (norm.y_mean.shape != (model.output_size,) or norm.y_std.shape != (model.output_size,))
    )
    if wrong_targets:
        raise ImportModelError(f"target normalization has the wrong size for {model.output_size} outputs")
    kinds.get(model.cell).fold_normalization(folded, norm)
    return folded


def fold_output_normalization(model: Model, norm: Normalization) -> bool:
    """Fold the target normalization, if there is one, into ``output_w``/``output_b`` (created as the identity
    map where missing); whether it was folded, so the cell can mark its output mapping affine."""
    if norm.y_mean is None or norm.y_std is None:
        return False
    arrays = model.arrays
    ow = arrays.get("output_w", np.ones(model.output_size))
    ob = arrays.get("output_b", np.zeros(model.output_size))
    arrays["output_w"] = ow * norm.y_std
    arrays["output_b"] = ob * norm.y_std + norm.y_mean
    return True

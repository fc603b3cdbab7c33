"""Fold the trainer's input/target normalization into a model so it takes and gives raw sensor units.

Training sees ``x_n = (x - x_mean) / x_std`` and predicts ``y_n``, with ``y = y_n * y_std + y_mean``. Both maps
are affine, so they merge exactly into the model's own affine maps:

* LTC: the input mapping ``x_n * w + b`` becomes ``x * (w / x_std) + (b - x_mean * w / x_std)`` and the output
  mapping ``v * w + b`` becomes ``v * (w * y_std) + (b * y_std + y_mean)`` (mappings become ``affine``).
* CfC: the input normalization folds into the input columns of the first linear layer(s) that read ``x``
  (the backbone's first layer, or every head when there is no backbone); the target normalization becomes an
  lnn-edge output mapping (``output_w``, ``output_b``) applied after the optional projection.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np

from lnn_edge.errors import ImportModelError
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
    if model.cell == "ltc":
        _fold_ltc(folded, norm)
    else:
        _fold_cfc(folded, norm)
    return folded


def _fold_ltc(model: Model, norm: Normalization) -> None:
    assert model.ltc is not None
    arrays = model.arrays
    w = arrays.get("input_w", np.ones(model.input_size))
    b = arrays.get("input_b", np.zeros(model.input_size))
    arrays["input_w"] = w / norm.x_std
    arrays["input_b"] = b - norm.x_mean * w / norm.x_std
    model.ltc.input_mapping = "affine"
    if norm.y_mean is not None and norm.y_std is not None:
        ow = arrays.get("output_w", np.ones(model.output_size))
        ob = arrays.get("output_b", np.zeros(model.output_size))
        arrays["output_w"] = ow * norm.y_std
        arrays["output_b"] = ob * norm.y_std + norm.y_mean
        model.ltc.output_mapping = "affine"


def _fold_cfc(model: Model, norm: Normalization) -> None:
    assert model.cfc is not None
    arrays = model.arrays
    s = model.input_size
    if model.cell == "cfc" and model.cfc.backbone_layers:
        first = ["backbone.0"]
    else:
        prefix = "layer_0." if model.cell == "wired_cfc" else ""
        heads = ("ff1",) if model.cfc.mode == "pure" else ("ff1", "ff2", "time_a", "time_b")
        first = [f"{prefix}{head}" for head in heads]
    for layer in first:
        weight = arrays[f"{layer}.weight"]
        scaled = weight[:, :s] / norm.x_std
        # Wired ff1/ff2 are used as weight * mask: the bias absorbs only the synapses that exist.
        mask_name = layer.split(".")[0] + ".sparsity_mask"
        used = scaled * arrays[mask_name][:, :s] if layer.endswith(("ff1", "ff2")) and mask_name in arrays else scaled
        arrays[f"{layer}.bias"] = arrays[f"{layer}.bias"] - used @ norm.x_mean
        arrays[f"{layer}.weight"] = np.concatenate([scaled, weight[:, s:]], axis=1)
    if norm.y_mean is not None and norm.y_std is not None:
        ow = arrays.get("output_w", np.ones(model.output_size))
        ob = arrays.get("output_b", np.zeros(model.output_size))
        arrays["output_w"] = ow * norm.y_std
        arrays["output_b"] = ob * norm.y_std + norm.y_mean
        model.cfc.output_mapping = "affine"

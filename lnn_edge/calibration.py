"""Calibration data: the inputs that set input formats, and the elapsed-time range a model is used with."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from lnn_edge.datafile import Sequences, as_sequences, load_inputs
from lnn_edge.errors import DataFileError
from lnn_edge.model import Model


@dataclass
class CalibrationStats:
    """Ranges seen in calibration data: per-input max |x|, and the smallest and largest elapsed time."""

    sequences: Sequences
    x_absmax: np.ndarray
    dt_min: float
    dt_max: float
    source: str


def calibration_for(model: Model, path: str | os.PathLike[str] | None = None) -> CalibrationStats:
    """Calibration from ``path`` (npz with ``x`` and optional ``dt``), else the sample stored in the model."""
    if path is not None:
        sequences = load_inputs(path, model.input_size, model.dt)
        source = str(path)
    elif model.calibration is not None:
        sequences = as_sequences(model.calibration.x, model.calibration.dt, model.input_size, model.dt, "model")
        source = "the model's stored training sample"
    else:
        raise DataFileError(
            "fixed-point formats for the inputs need calibration data: pass --calib IN.npz (with 'x' [B,T,"
            f"{model.input_size}] and optional 'dt'), or import/train the model with a stored sample"
        )
    x_absmax = np.max(np.abs(sequences.x), axis=(0, 1))
    return CalibrationStats(
        sequences=sequences,
        x_absmax=x_absmax,
        dt_min=float(sequences.dt.min()),
        dt_max=float(sequences.dt.max()),
        source=source,
    )

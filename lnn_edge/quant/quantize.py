"""Quantize a model to float32, fixed16 or fixed32 (the report and its verdict: :mod:`lnn_edge.quant.report`)."""

from __future__ import annotations

import os

from lnn_edge import cells
from lnn_edge.model.model import Model
from lnn_edge.quant.calibration import CalibrationStats, calibration_for
from lnn_edge.quant.qformat import QuantizationError
from lnn_edge.quant.qmodel import PRECISIONS, QuantizedModel


def quantize(
    model: Model,
    precision: str,
    calib: str | os.PathLike[str] | CalibrationStats | None = None,
    overrides: dict[str, int] | None = None,
) -> QuantizedModel:
    """Quantize ``model``. Fixed point needs calibration inputs (``calib`` or the model's stored sample)."""
    if precision not in PRECISIONS:
        raise QuantizationError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    cell = cells.get(model.cell)
    if precision == "float32":
        if overrides:
            raise QuantizationError("format overrides apply to fixed16 and fixed32 only")
        qmodel = cell.quantize_float32(model)
    else:
        stats = calib if isinstance(calib, CalibrationStats) else calibration_for(model, calib)
        qmodel = cell.quantize_fixed(model, precision, stats, overrides)
    qmodel.validate()
    return qmodel

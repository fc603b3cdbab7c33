"""Quantize a model to float32, fixed16 or fixed32 and measure what it costs against the float64 reference."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from lnn_edge.calibration import CalibrationStats, calibration_for
from lnn_edge.emulator import Emulator
from lnn_edge.metrics import ErrorMetrics, compare
from lnn_edge.model import Model
from lnn_edge.qformat import QuantizationError
from lnn_edge.qmodel import PRECISIONS, QuantizedModel
from lnn_edge.reference import Reference

# Pass thresholds on the max abs output error, as a fraction of the reference output range.
DEFAULT_THRESHOLDS = {"float32": 1e-5, "fixed32": 1e-4, "fixed16": 1e-2}


def quantize(
    model: Model,
    precision: str,
    calib: str | os.PathLike[str] | CalibrationStats | None = None,
    overrides: dict[str, int] | None = None,
) -> QuantizedModel:
    """Quantize ``model``. Fixed point needs calibration inputs (``calib`` or the model's stored sample)."""
    if precision not in PRECISIONS:
        raise QuantizationError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    if model.cell == "ltc":
        from lnn_edge.quantize_ltc import quantize_ltc_fixed as fixed
        from lnn_edge.quantize_ltc import quantize_ltc_float32 as float32
    else:
        from lnn_edge.quantize_cfc import quantize_cfc_fixed as fixed
        from lnn_edge.quantize_cfc import quantize_cfc_float32 as float32
    if precision == "float32":
        if overrides:
            raise QuantizationError("format overrides apply to fixed16 and fixed32 only")
        qmodel = float32(model)
    else:
        stats = calib if isinstance(calib, CalibrationStats) else calibration_for(model, calib)
        qmodel = fixed(model, precision, stats, overrides)
    qmodel.validate()
    return qmodel


@dataclass
class Evaluation:
    """Error of a quantized model against the reference on one set of sequences."""

    name: str
    sequences: int
    steps: int
    outputs: ErrorMetrics
    state: ErrorMetrics
    saturations: int
    saturation_counts: dict[str, int]
    first_saturations: list[str]


def evaluate(qmodel: QuantizedModel, x: np.ndarray, dt: np.ndarray, name: str) -> Evaluation:
    """Run the emulator and the reference on the same sequences and compare outputs and state."""
    y_ref, s_ref = Reference(qmodel.model).run(x, dt)
    result = Emulator(qmodel).run(x, dt, check=True)
    return Evaluation(
        name=name,
        sequences=int(x.shape[0]),
        steps=int(x.shape[1]),
        outputs=compare(result.y, y_ref),
        state=compare(result.state, s_ref),
        saturations=result.saturations.total,
        saturation_counts=dict(result.saturations.counts),
        first_saturations=[str(event) for event in result.saturations.events[:10]],
    )


def quantization_report(
    qmodel: QuantizedModel,
    calib: CalibrationStats | None,
    held_out: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Formats and ranges per tensor, parameter bytes, and measured error on calibration and held-out data."""
    evaluations = []
    if calib is not None:
        evaluations.append(evaluate(qmodel, calib.sequences.x, calib.sequences.dt, "calibration"))
    if held_out is not None:
        evaluations.append(evaluate(qmodel, held_out[0], held_out[1], "held-out"))
    threshold = DEFAULT_THRESHOLDS[qmodel.precision]
    passed = all(e.outputs.max_abs_rel_range <= threshold and e.saturations == 0 for e in evaluations)
    return {
        "precision": qmodel.precision,
        "model_hash": qmodel.quant_hash(),
        "formats": [
            {
                "name": name,
                "frac_bits": frac,
                "bound": qmodel.bounds.get(name),
                "source": qmodel.sources.get(name, "fixed"),
                "lsb": 2.0**-frac,
            }
            for name, frac in sorted(qmodel.formats.items())
        ],
        "per_feature": {name: qmodel.params[name].tolist() for name in ("x_frac", "y_frac") if name in qmodel.params},
        "bounds": qmodel.bounds,
        "parameter_bytes": qmodel.param_bytes(),
        "error_bounds": error_bounds(qmodel),
        "evaluations": [
            {
                "name": e.name,
                "sequences": e.sequences,
                "steps": e.steps,
                "outputs": e.outputs.as_dict(),
                "state": e.state.as_dict(),
                "saturations": e.saturations,
                "saturation_counts": e.saturation_counts,
                "first_saturations": e.first_saturations,
            }
            for e in evaluations
        ],
        "threshold_max_abs_rel_range": threshold,
        "passed": passed,
    }


def error_bounds(qmodel: QuantizedModel) -> dict[str, float]:
    """Per-operation error bounds that follow from the formats (documented in docs/number-formats.md)."""
    if not qmodel.is_fixed:
        # f32math: the LTC sigmoid from the 2^t table (measured 2.4e-7), the CfC rational tanh (3.3e-7).
        return {"float32_sigmoid_abs": 2.5e-7, "float32_tanh_abs": 3.3e-7}
    bits = qmodel.bits
    if qmodel.model.cell == "ltc":
        index_bits = int(qmodel.constants.get("sigmoid_index_bits", 8))
        step = 16.0 / (1 << index_bits)
        # Linear interpolation error h^2/8 max|f''| (sigmoid'' <= 0.0963) plus table and interpolation rounding.
        bounds = {"sigmoid_abs": step * step / 8 * 0.0963 + 2.0 ** -(bits - 1)}
    else:
        # The CfC tanh table (proven in tests/test_fixedpoint_cfc.py): 7 LSB of Q15 exhaustively for fixed16,
        # 2.9e-6 for fixed32; sigmoid = (1 + tanh(x/2)) / 2 has half that error.
        tanh_abs = 7 * 2.0**-15 if bits == 16 else 2.9e-6
        bounds = {"tanh_abs": tanh_abs, "sigmoid_abs": tanh_abs / 2}
    for name in ("v", "h", "g", "xm"):
        if name in qmodel.formats:
            bounds[f"lsb_{name}"] = 2.0 ** -qmodel.formats[name]
    return bounds

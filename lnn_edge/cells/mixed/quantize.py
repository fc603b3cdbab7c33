"""LSTM quantization for mixed-memory cells: the LSTM's parameters and formats beside the inner cell's.

The state is ``[h | c]`` in ONE format (the inner cell's state format, ``v`` for the LTC), so the header's
``STATE_FRAC``, the firmware's state frames and every state comparison stay as they are for one format. ``h'`` of
the LSTM is in (-1, 1) (tanh times a sigmoid: a proof), and it is the liquid cell's input state, so the inner
state format must hold 1; the cell state ``c`` has no such bound (it sums over steps), so its range is calibrated
(the float64 reference over the calibration sequences, times :data:`lnn_edge.quant.calibration.HEADROOM`) and
``c`` saturates beyond it (the emulator's check mode reports it as tensor ``c``). If the inner cell chose a finer
state format than these need, it is quantized again with the coarser one (an override of its state format).

Deployable arrays (fixed point; ``P`` the constant ``lstm_p``):

=================  =======  ==========================================  ==============================
name               shape    meaning                                     format
=================  =======  ==========================================  ==============================
lstm_w_in          [4H,S]   input_map.weight, rows i, ig, fg, og        column j: Q(P - x_frac[j]), B bits
lstm_w_rec         [4H,H]   recurrent_map.weight                        Q(P - state format), B bits
lstm_b             [4H]     input_map.bias, + 1 on the forget rows      Q P, 32-bit (fixed16), 64-bit
lstm_sigmoid       [2^k+1]  sigmoid on [0, 16)                          Q(B-1) (unsigned B bits)
=================  =======  ==========================================  ==============================

float32: ``lstm_w_in``, ``lstm_w_rec``, ``lstm_b`` (the forget rows' + 1 folded in) as float32.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lnn_edge.cells.mixed.kind import inner_model, lstm_arrays
from lnn_edge.cells.mixed.layout import build_table, gate_sums_fit, table_frac
from lnn_edge.cells.mixed.reference import MixedReference
from lnn_edge.floatmath import FloatStep, run_steps
from lnn_edge.model.model import Model
from lnn_edge.quant.calibration import HEADROOM, CalibrationStats
from lnn_edge.quant.fixedpoint import quantize_value
from lnn_edge.quant.qformat import QuantizationError, frac_bits_for, max_abs
from lnn_edge.quant.qmodel import QuantizedModel

Array = np.ndarray
InnerQuantizer = Callable[[Model, dict[str, int] | None], QuantizedModel]


def folded_bias(model: Model) -> Array:
    """input_map.bias with ncps's forget-gate + 1 added (rows 2H..3H-1): exact in real arithmetic."""
    units = model.state_size // 2
    bias = np.array(lstm_arrays(model)["lstm_input_b"], dtype=np.float64)
    bias[2 * units : 3 * units] += 1.0
    return bias


def with_lstm(model: Model, inner: QuantizedModel, params: dict[str, Array]) -> QuantizedModel:
    """The mixed model's quantized model: the inner cell's numbers plus the LSTM's ``params``."""
    return QuantizedModel(
        model=model,
        precision=inner.precision,
        params={**inner.params, **params},
        formats=dict(inner.formats),
        constants=dict(inner.constants),
        bounds=dict(inner.bounds),
        sources=dict(inner.sources),
    )


def quantize_float32(model: Model, inner: QuantizedModel) -> QuantizedModel:
    p = lstm_arrays(model)
    return with_lstm(
        model,
        inner,
        {
            "lstm_w_in": p["lstm_input_w"].astype(np.float32),
            "lstm_w_rec": p["lstm_recurrent_w"].astype(np.float32),
            "lstm_b": folded_bias(model).astype(np.float32),
        },
    )


def calibrated_c_bound(model: Model, inner_step: FloatStep, calib: CalibrationStats) -> float:
    """max |c| of the float64 reference over the calibration sequences, times the calibration headroom."""
    seq = calib.sequences
    start = np.zeros((seq.x.shape[0], model.state_size))
    _, states = run_steps(MixedReference(model, inner_step), seq.x, seq.dt, start, model.output_size)
    return max_abs(states[:, :, model.state_size // 2 :]) * HEADROOM


def quantize_fixed(
    model: Model,
    precision: str,
    calib: CalibrationStats,
    overrides: dict[str, int] | None,
    state_format: str,
    inner_quantize: InnerQuantizer,
    inner_step: FloatStep,
) -> QuantizedModel:
    """fixed16 / fixed32: the inner cell quantized with a state format that also holds h' and c, then the LSTM.

    ``state_format`` names the inner cell's state format; ``inner_quantize(model, overrides)`` quantizes the inner
    model; ``inner_step`` is its float64 step (for the calibration of c). An override ``c`` sets the state format."""
    given = dict(overrides or {})
    c_override = given.pop("c", None)
    qinner = inner_quantize(inner_model(model), given or None)
    bits = qinner.bits
    c_bound = calibrated_c_bound(model, inner_step, calib)
    needed = frac_bits_for(max(1.0, c_bound), bits) if c_override is None else int(c_override)
    if c_override is not None or needed < qinner.formats[state_format]:
        qinner = inner_quantize(inner_model(model), {**given, state_format: needed})
    fs = qinner.formats[state_format]
    frac = _product_frac(model, qinner, fs)
    params = _quantized_lstm(model, qinner, fs, frac)
    params["lstm_sigmoid"] = np.array(build_table(bits).values, dtype=np.int64)
    qmodel = with_lstm(model, qinner, params)
    qmodel.formats["c"] = fs
    qmodel.bounds["c"], qmodel.sources["c"] = c_bound, f"calibration (x{HEADROOM} headroom; saturates beyond)"
    qmodel.bounds["lstm_h"], qmodel.sources["lstm_h"] = 1.0, "proof (tanh times a sigmoid)"
    qmodel.constants["lstm_p"] = frac
    qmodel.constants["lstm_t"] = table_frac(bits)
    return qmodel


def _product_frac(model: Model, qinner: QuantizedModel, fs: int) -> int:
    """Q``P`` of the gate sums: the finest in which every weight fits B bits in its column's format, the bias
    fits 2B - 2 bits, and a row's sum is below 2^ACC_BITS for any B-bit inputs and state (exact in the C)."""
    bits = qinner.bits
    p = lstm_arrays(model)
    x_frac = qinner.params["x_frac"].astype(np.int64)
    limits = [int(f) + frac_bits_for(max_abs(p["lstm_input_w"][:, j]), bits) for j, f in enumerate(x_frac)]
    limits.append(fs + frac_bits_for(max_abs(p["lstm_recurrent_w"]), bits))
    limits.append(frac_bits_for(max_abs(folded_bias(model)), 2 * bits - 2))
    frac = min(*limits, 62)  # z >> (P - T) within 64 bits (layout.gate_format)
    while not _sums_fit(model, qinner, fs, frac):
        frac -= 1
    if frac < table_frac(bits) + 1:  # the table reads z at Q T and 2z at Q T: right shifts of z only
        raise QuantizationError(
            f"the LSTM's gate sums need Q{frac}, too coarse for its sigmoid: use float32, or retrain with "
            "smaller weights"
        )
    return frac


def _quantized_lstm(model: Model, qinner: QuantizedModel, fs: int, frac: int) -> dict[str, Array]:
    bits = qinner.bits
    p = lstm_arrays(model)
    x_frac = qinner.params["x_frac"].astype(np.int64)
    w_in = np.stack([_round(p["lstm_input_w"][:, j], frac - int(f), bits) for j, f in enumerate(x_frac)], axis=1)
    return {
        "lstm_w_in": w_in,
        "lstm_w_rec": _round(p["lstm_recurrent_w"], frac - fs, bits),
        "lstm_b": _round(folded_bias(model), frac, 2 * bits - 1),
    }


def _sums_fit(model: Model, qinner: QuantizedModel, fs: int, frac: int) -> bool:
    q = _quantized_lstm(model, qinner, fs, frac)
    return gate_sums_fit(q["lstm_w_in"], q["lstm_w_rec"], q["lstm_b"], qinner.bits)


def _round(real: Array, frac: int, bits: int) -> Array:
    """``round(real 2^frac)`` half away from zero, saturated to ``bits`` bits."""
    return quantize_value(real, frac, bits)

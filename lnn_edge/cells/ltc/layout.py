"""The layout decisions of the LTC step that its quantizer, emulator and code generator share: how many bits of
a synapse's c hold its presynaptic index, the sigmoid table as the step reads it, and cm / delta for an elapsed
time. Functions of the (quantized) model only, so the code generator gets them without importing the emulator."""

from __future__ import annotations

import numpy as np

from lnn_edge.model.model import Model
from lnn_edge.quant.fixedpoint import ClampedTable, div_round
from lnn_edge.quant.qmodel import QuantizedModel


def source_bits(model: Model) -> int:
    """Bits of a presynaptic index kept in the low bits of a fixed16 synapse's c."""
    return 8 if max(model.state_size, model.input_size) <= 256 else 16


def sigmoid_table(qmodel: QuantizedModel) -> ClampedTable:
    """The fixed-point step's sigmoid: the quantized samples on [-16, 16], input Q``z``, output Q``s``."""
    return ClampedTable(
        "sigmoid",
        tuple(int(v) for v in qmodel.params["sigmoid_table"]),
        in_frac=qmodel.formats["z"],
        out_frac=qmodel.formats["s"],
        span_log2=4,
        index_bits=int(qmodel.constants["sigmoid_index_bits"]) + 1,
    )


def cm_per_dt(qmodel: QuantizedModel, dt_q: np.ndarray) -> np.ndarray:
    """cm / delta in Q``g`` [B, N] for elapsed times ``dt_q`` [B] in Q``dt``, clamped below at the calibrated
    minimum ``dt_min_q`` (as the C divides: rounded half away from zero)."""
    dt_c = np.maximum(dt_q, int(qmodel.constants["dt_min_q"]))
    return div_round(qmodel.params["cm_u"][None, :] << int(qmodel.constants.get("cm_shift", 0)), dt_c[:, None])

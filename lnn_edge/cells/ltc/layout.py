"""The layout decisions of the LTC step that its quantizer, emulator and code generator share: how many bits of
a synapse's c hold its presynaptic index (decided by the quantizer and recorded in the quantized model), the
sigmoid table as the step reads it, and cm / delta for an elapsed time. Functions of the quantized model's fields
only, so the code generator gets them without importing the quantizer or the emulator."""

from __future__ import annotations

import numpy as np

from lnn_edge.model.model import Model
from lnn_edge.quant.fixedpoint import ClampedTable, div_round
from lnn_edge.quant.qmodel import QuantizedModel


def source_bits(model: Model) -> int:
    """Bits of a presynaptic index kept in the low bits of a fixed-point synapse's c: the quantizer's decision,
    which it records as ``constants["source_bits"]`` (read back with :func:`stored_source_bits`)."""
    return 8 if max(model.state_size, model.input_size) <= 256 else 16


def stored_source_bits(qmodel: QuantizedModel) -> int:
    """The source bits a fixed-point LTC was quantized with (a quantized file older than the record gets
    :func:`source_bits`, the decision its version made)."""
    return int(qmodel.constants.get("source_bits", source_bits(qmodel.model)))


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

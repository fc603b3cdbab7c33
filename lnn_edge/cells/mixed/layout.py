"""The layout decisions of the LSTM step that its quantizer, emulator and code generator share, as functions of
the quantized model's fields (so neither the emulator nor the code generator imports the quantizer).

Fixed point (``B`` = 16 or 32 bits, ``S = B - 1``): gate pre-activations ``z`` are exact 64-bit sums in Q``P``
(constant ``lstm_p``); the sigmoid is one table (:func:`lnn_edge.quant.fixedpoint.sigmoid_table`, the C's
``lnn_interp_u16`` / ``lnn_interp_u32``) on [0, 16) read at ``|t|``, ``t`` in Q``T`` (constant ``lstm_t``), output
Q``S``; tanh(x) = 2 sigmoid(2x) - 1 reads the same table at 2x.
"""

from __future__ import annotations

from lnn_edge.quant.fixedpoint import InterpTable, sigmoid_table
from lnn_edge.quant.qmodel import QuantizedModel

INDEX_BITS = {16: 8, 32: 10}
"""log2 of the sigmoid table's segments on [0, 16): fixed16 256 (257 uint16, 514 B), fixed32 1024 (4 KB)."""


def table_frac(bits: int) -> int:
    """Q``T`` of the table's input: [0, 16) in B - 1 bits."""
    return bits - 5


def lstm_table(qmodel: QuantizedModel) -> InterpTable:
    """The sigmoid table of a fixed-point LSTM, as the quantizer stored it."""
    bits = qmodel.bits
    values = tuple(int(v) for v in qmodel.params["lstm_sigmoid"])
    return InterpTable("lstm_sigmoid", values, table_frac(bits), bits - 1, 4, INDEX_BITS[bits])


def build_table(bits: int) -> InterpTable:
    """The sigmoid table the quantizer stores (``lstm_sigmoid``)."""
    return sigmoid_table(INDEX_BITS[bits], table_frac(bits), bits - 1)

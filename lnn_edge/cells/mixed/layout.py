"""The layout decisions of the LSTM step that its quantizer, emulator and code generator share, as functions of
the quantized model's fields (so neither the emulator nor the code generator imports the quantizer).

Fixed point (``B`` = 16 or 32 bits, ``S = B - 1``): gate pre-activations ``z`` are exact 64-bit sums in Q``P``
(constant ``lstm_p``); the sigmoid is one table (:func:`lnn_edge.quant.fixedpoint.sigmoid_table`, the C's
``lnn_interp_u16`` / ``lnn_interp_u32``) on [0, 16) read at ``|t|``, ``t`` in Q``T`` (constant ``lstm_t``, always
``B - 5``), output Q``S``; tanh(x) = 2 sigmoid(2x) - 1 reads the same table at 2x.

:func:`gate_format` re-checks, for a quantized model read from a file, what the quantizer proved: the gate sums
fit the C's accumulator and every shift of the step is a right shift, so no file can make the C overflow.
"""

from __future__ import annotations

import numpy as np

from lnn_edge.errors import ModelFileError
from lnn_edge.quant.fixedpoint import InterpTable, sigmoid_table
from lnn_edge.quant.qmodel import QuantizedModel

INDEX_BITS = {16: 8, 32: 10}
"""log2 of the sigmoid table's segments on [0, 16): fixed16 256 (257 uint16, 514 B), fixed32 1024 (4 KB)."""


ACC_BITS = {16: 31, 32: 62}
"""The gate sums' bound, log2: fixed16 sums in a 32-bit accumulator (one multiply-accumulate per weight on a
Cortex-M), fixed32 in a 64-bit one."""


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


def gate_sums_fit(w_in: np.ndarray, w_rec: np.ndarray, b: np.ndarray, bits: int) -> bool:
    """Whether every row's bias plus products stays below 2^ACC_BITS for any B-bit inputs and state."""
    top = 1 << (bits - 1)
    rows = (np.abs(w_in).sum(axis=1) + np.abs(w_rec).sum(axis=1)) * top + np.abs(b)
    return bool(np.all(rows < (1 << ACC_BITS[bits])))


def gate_format(qmodel: QuantizedModel) -> int:
    """Q``P`` of the gate sums (constant ``lstm_p``), after checking the quantizer's proofs on the stored numbers:
    ``T < P <= 62`` (the step's shifts of z are right shifts within 64 bits), ``lstm_t`` is ``B - 5``, the state
    format is within ``(-B, S)`` (its shifts stay within 64 bits), and the gate sums fit the accumulator."""
    bits, q = qmodel.bits, qmodel.params
    p, t, f = int(qmodel.constants["lstm_p"]), int(qmodel.constants["lstm_t"]), int(qmodel.formats["c"])
    if t != table_frac(bits) or not t < p <= 62 or not -bits < f < bits - 1:
        raise ModelFileError(f"quantized LSTM formats P={p}, T={t}, c={f} are not ones the quantizer writes")
    if not gate_sums_fit(q["lstm_w_in"], q["lstm_w_rec"], q["lstm_b"], bits):
        raise ModelFileError("quantized LSTM weights: a gate sum could overflow its accumulator")
    return p

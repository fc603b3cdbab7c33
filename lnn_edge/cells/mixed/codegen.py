"""The code-generator context of a mixed-memory cell: the inner cell's context (its template renders the
inner cell's data) plus the LSTM's parameters, which the mixed template (``templates/<inner>_mixed_*.c.j2``,
extending the inner cell's) writes before its wrappers: an LSTM step, then the inner step."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from lnn_edge.cells.mixed.layout import INDEX_BITS, gate_format, table_frac
from lnn_edge.codegen.c_layout import struct_bytes
from lnn_edge.codegen.c_literals import c_array
from lnn_edge.codegen.header import CellCode, HeaderContext
from lnn_edge.quant.qmodel import QuantizedModel


@dataclass(frozen=True)
class LstmContext:
    """The ``LNN_LSTM_*`` constants and the parameter arrays (C initializers) of ``lnn/lnn_lstm_<kernel>.h``."""

    kernel: str
    """``q15``, ``q31`` or ``f32``."""
    units: int
    inputs: int
    w_in: str
    w_rec: str
    b: str
    sigmoid: str = "0"
    f: int = 0
    """The state format (fixed point)."""
    p: int = 0
    t: int = 0
    index_bits: int = 0


@dataclass(frozen=True)
class MixedContext:
    """``c`` of a mixed template: ``lstm``, ``inner_template`` (the template it extends), and every field of the
    inner cell's context, which the inner template reads as ``c.<field>``."""

    inner: Any
    inner_template: str
    lstm: LstmContext

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)  # only reached for names this class lacks: the inner context's


def by_unit(rows: np.ndarray, units: int) -> np.ndarray:
    """Gate rows [4H, C] (ncps's order: H rows per gate) as the kernel stores them, [H][C][4]: a unit's four
    gates side by side for each column."""
    return rows.reshape(4, units, rows.shape[1]).transpose(1, 2, 0)


def by_unit_pairs(rows: np.ndarray, units: int) -> np.ndarray:
    """Gate rows [4H, C] as the q15 kernel stores them: per unit, for each column pair the four gates' two weights
    side by side ([C//2][4][2], one word per gate for SMLAD), then an odd last column's four weights."""
    columns = rows.shape[1]
    per_unit = rows.reshape(4, units, columns).transpose(1, 0, 2)  # [H][4][C]
    pairs = columns // 2 * 2
    paired = per_unit[:, :, :pairs].reshape(units, 4, pairs // 2, 2).transpose(0, 2, 1, 3).reshape(units, -1)
    return np.concatenate([paired, per_unit[:, :, pairs:].reshape(units, -1)], axis=1)


def lstm_context(qmodel: QuantizedModel) -> LstmContext:
    q, fixed, bits = qmodel.params, qmodel.is_fixed, qmodel.bits
    kind = "int" if fixed else "float"
    units = qmodel.model.state_size // 2
    weights = by_unit_pairs if fixed and bits == 16 else by_unit
    common: dict[str, Any] = {
        "units": units,
        "inputs": qmodel.model.input_size,
        "w_in": c_array(weights(q["lstm_w_in"], units), kind, bits),
        "w_rec": c_array(weights(q["lstm_w_rec"], units), kind, bits),
        "b": c_array(by_unit(q["lstm_b"][:, None], units), kind, 64 if fixed and bits == 32 else 32, per_line=8),
    }
    if not fixed:
        return LstmContext(kernel="f32", **common)
    return LstmContext(
        kernel="q15" if bits == 16 else "q31",
        sigmoid=c_array(q["lstm_sigmoid"], "int", 32),
        f=qmodel.formats["c"],
        p=gate_format(qmodel),
        t=table_frac(bits),
        index_bits=INDEX_BITS[bits],
        **common,
    )


def lstm_bytes(qmodel: QuantizedModel) -> int:
    """``sizeof`` the LSTM's ``static const`` model struct."""
    n, s = qmodel.model.state_size // 2, qmodel.model.input_size
    value = 4 if not qmodel.is_fixed else qmodel.bits // 8
    members = [(value, value, 4 * n * s), (value, value, 4 * n * n)]
    if qmodel.is_fixed:
        bias = 4 if qmodel.bits == 16 else 8  # the gate sums' accumulator (layout.ACC_BITS)
        members += [(bias, bias, 4 * n), (value, value, (1 << INDEX_BITS[qmodel.bits]) + 1)]
    else:
        members.append((4, 4, 4 * n))
    return struct_bytes(members)


def mixed_code(qmodel: QuantizedModel, header: HeaderContext, inner: CellCode, inner_template: str) -> CellCode:
    """The inner cell's code with the LSTM added: its context, parameters, the state's c half and the stack's
    h' buffer."""
    value = 4 if not qmodel.is_fixed else qmodel.bits // 8
    units = qmodel.model.state_size // 2
    memory = replace(
        inner.memory,
        params=inner.memory.params + lstm_bytes(qmodel),
        state=inner.memory.state + value * units,
        stack=max(inner.memory.stack, value * units + 32),  # h' of the LSTM (+ four gate sums), then the inner step
    )
    state_doc = f"{inner.state_doc}; the state is [h | c]: entries {units}..{2 * units - 1} are the LSTM's cell state c"
    context = MixedContext(inner=inner.c, inner_template=inner_template, lstm=lstm_context(qmodel))
    return replace(inner, c=context, memory=memory, state_doc=state_doc)

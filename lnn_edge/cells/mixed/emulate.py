"""The LSTM step of a mixed-memory cell exactly as the C runtime computes it (``lnn/lnn_lstm_q15.h``,
``lnn_lstm_q31.h``, ``lnn_lstm_f32.h``), then the inner cell's own emulator step on the new ``h``.

Fixed point, per unit (``B`` bits, ``S = B - 1``, ``P`` = ``lstm_p``, ``T`` = ``lstm_t``, ``f`` the state
format; every product and sum exact: the quantizer proves the gate sums fit the C's accumulator):

====================================================================  =========
z    = lstm_b + sum_j lstm_w_in[:, j] x_j + sum_j lstm_w_rec[:, j] h_j  Q P        (|z| < 2^31 fixed16)
sg(t) = T(min(|t|, 16 2^T)), and ONE - that for t < 0                   Q S        (sigmoid of t in Q T)
th(t) = 2 sg(t) - ONE                                                   Q S        (tanh of t/2, t in Q T)
si, sf, so = sg(rshift_round(z_g, P - T)) for g = ig, fg (+1 in bias), og
ti   = th(rshift_round(z_i, P - T - 1))                                 tanh(i)
c'   = sat_B(rshift_round(c sf + rshift_round(ti si, S - f), S))       Q f        (saturation logged as ``c``)
h'   = rshift_round(th(rshift_round(c', f - T - 1)) so, 2S - f)         Q f        (|h'| < 1: no saturation)
====================================================================  =========

float32 (no FMA, sums in index order): ``z = b``, then ``z + w_in[:, j] x_j`` for inputs ascending, then
``z + w_rec[:, j] h_j`` for units ascending; ``c' = c sigmoid(fg) + tanh(i) sigmoid(ig)``,
``h' = tanh(c') sigmoid(og)`` with the libm-free :func:`lnn_edge.quant.f32math.sigmoid` / ``tanh``.
"""

from __future__ import annotations

import numpy as np

from lnn_edge.cells import FixedStep, Float32Step
from lnn_edge.cells.mixed.layout import gate_format, lstm_table, table_frac
from lnn_edge.quant import f32math
from lnn_edge.quant.emulate_common import SaturationLog
from lnn_edge.quant.fixedpoint import InterpTable, as_int, rshift_round, saturate
from lnn_edge.quant.qmodel import QuantizedModel

Array = np.ndarray


def sigmoid_q(t: Array, table: InterpTable) -> Array:
    """sigmoid of ``t`` (Q``table.in_frac``) in Q``table.out_frac``: the table at min(|t|, limit), mirrored."""
    t = as_int(t)
    value = table(np.minimum(np.abs(t), table.limit))
    return np.where(t >= 0, value, (1 << table.out_frac) - value)


class LstmFixedStep:
    """The fixed-point mixed step: LSTM on (h, c), then the inner cell's step on (x, h')."""

    def __init__(self, qmodel: QuantizedModel, inner: FixedStep) -> None:
        self.q = qmodel.params
        self.units = qmodel.model.state_size // 2
        self.bits = qmodel.bits
        self.f = qmodel.formats["c"]
        self.p = gate_format(qmodel)
        self.t = table_frac(self.bits)
        self.table = lstm_table(qmodel)
        self.inner = inner

    def lstm(self, x_q: Array, h: Array, c: Array, log: SaturationLog | None = None) -> tuple[Array, Array]:
        """(h', c') from raw inputs ``x_q`` [B,S] and the state halves [B,H]."""
        q, n, s, f = self.q, self.units, self.bits - 1, self.f
        one = 1 << s
        z = self.q["lstm_b"] + as_int(x_q) @ q["lstm_w_in"].T + as_int(h) @ q["lstm_w_rec"].T
        zi, zig, zfg, zog = (z[:, k * n : (k + 1) * n] for k in range(4))
        si = sigmoid_q(rshift_round(zig, self.p - self.t), self.table)
        sf = sigmoid_q(rshift_round(zfg, self.p - self.t), self.table)
        so = sigmoid_q(rshift_round(zog, self.p - self.t), self.table)
        ti = 2 * sigmoid_q(rshift_round(zi, self.p - self.t - 1), self.table) - one
        wide = rshift_round(as_int(c) * sf + rshift_round(ti * si, s - f), s)
        c_new = saturate(wide, self.bits)
        if log is not None:
            log.record("c", c_new != wide)
        tc = 2 * sigmoid_q(rshift_round(c_new, f - self.t - 1), self.table) - one
        return rshift_round(tc * so, 2 * s - f), c_new

    def step(self, x_q: Array, state: Array, dt_q: Array, log: SaturationLog | None = None, /) -> tuple[Array, Array]:
        h, c = self.lstm(x_q, state[:, : self.units], state[:, self.units :], log)
        y, h = self.inner.step(x_q, h, dt_q, log)
        return y, np.concatenate([h, c], axis=1)


class LstmFloat32Step:
    """The float32 mixed step: LSTM on (h, c) in the C's operation order, then the inner cell's float32 step."""

    def __init__(self, qmodel: QuantizedModel, inner: Float32Step) -> None:
        self.q = qmodel.params
        self.units = qmodel.model.state_size // 2
        self.inner = inner

    def lstm(self, x: Array, h: Array, c: Array) -> tuple[Array, Array]:
        q, n = self.q, self.units
        z = np.broadcast_to(q["lstm_b"], (x.shape[0], 4 * n)).astype(np.float32)
        for j in range(x.shape[1]):
            z = z + q["lstm_w_in"][:, j] * x[:, j, None]
        for j in range(n):
            z = z + q["lstm_w_rec"][:, j] * h[:, j, None]
        zi, zig, zfg, zog = (z[:, k * n : (k + 1) * n] for k in range(4))
        c_new = c * f32math.sigmoid(zfg) + f32math.tanh(zi) * f32math.sigmoid(zig)
        return f32math.tanh(c_new) * f32math.sigmoid(zog), c_new

    def step(self, x: Array, state: Array, dt: Array, /) -> tuple[Array, Array]:
        h, c = self.lstm(x, state[:, : self.units], state[:, self.units :])
        y, h = self.inner.step(x, h, dt)
        return y, np.concatenate([h, c], axis=1)

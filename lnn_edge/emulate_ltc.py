"""The LTC step exactly as the generated C computes it: integer (fixed16/fixed32) and float32.

This is the reference kernel of ``templates/``: plain, vectorized over the batch and the neurons, with
every rounding and every operation order spelled out. Integer sums are exact and so order-free; float32
sums run over presynaptic neurons in increasing index order, as the C does. Absent synapses have a zero
max conductance, so evaluating them adds exact zeros: the C skips them and gets the same bits.
"""

from __future__ import annotations

import numpy as np

from lnn_edge import f32math
from lnn_edge.emulate_common import SaturationLog
from lnn_edge.fixedpoint import InterpTable, div_round, rshift_round, saturate, sigmoid_q
from lnn_edge.qmodel import QuantizedModel

Array = np.ndarray


class LtcFixedStep:
    """One fixed-point LTC step on int64 arrays holding B-bit values (see :mod:`lnn_edge.quantize_ltc`)."""

    def __init__(self, qmodel: QuantizedModel) -> None:
        self.q = qmodel.params
        self.bits = qmodel.bits
        self.formats = qmodel.formats
        self.c = qmodel.constants
        self.outputs = qmodel.model.output_size
        # Accumulators are 2B-bit: |S - G v| < 2^(2B-2) follows from G < 2^(B-2); den < 2^(2B-2) leaves room
        # for the rounding offset.
        self.num_limit = 1 << (2 * self.bits - 2)
        self.g_limit = 1 << (self.bits - 2)
        self.table = InterpTable(
            "sigmoid",
            tuple(int(v) for v in self.q["sigmoid_table"]),
            in_frac=qmodel.formats["z"],
            out_frac=qmodel.formats["s"],
            span_log2=4,
            index_bits=int(self.c["sigmoid_index_bits"]),
        )

    def cm_t(self, dt_q: Array, log: SaturationLog | None = None) -> Array:
        """cm / Δ in Q``g`` for elapsed times ``dt_q`` [B] (clamped below at the calibrated minimum)."""
        floor = int(self.c["dt_min_q"])
        if log is not None:
            log.record("dt", dt_q[:, None] < floor)
        dt_c = np.maximum(dt_q, floor)
        return div_round(self.q["cm_u"][None, :], dt_c[:, None])

    def step(self, x_q: Array, v: Array, dt_q: Array, log: SaturationLog | None = None) -> tuple[Array, Array]:
        """x_q [B,S] (per-feature Q ``x_frac``), v [B,N] (Q``v``), dt_q [B] (Q``dt``) -> (y_q [B,M], v [B,N])."""
        q, bits = self.q, self.bits
        xm_raw = _shift_each(x_q * q["in_w"], q["in_shift"]) + q["in_b"]
        xm = saturate(xm_raw, bits)
        if log is not None:
            log.record("xm", xm != xm_raw)

        # Sensory synapses, once per step: [B, S, N].
        d = xm[:, :, None] - q["s_mu"]
        s = sigmoid_q(rshift_round(q["s_sigma"] * d, int(self.c["s_z_shift"])), self.table)
        g = rshift_round(q["s_w"] * s, bits - 1)
        num_sensory = np.sum(g * q["s_erev"], axis=1)
        den_sensory = np.sum(g, axis=1)

        cm_t = self.cm_t(dt_q, log)
        # S = Σ g E (reversal potentials weighted by conductance), G = Σ g, leak and sensory terms included.
        base_s = q["gleak_vleak"] + num_sensory
        base_g = q["gleak"] + den_sensory + int(self.c["eps"])
        for _ in range(int(self.c["unfolds"])):
            d = v[:, :, None] - q["mu"]
            s = sigmoid_q(rshift_round(q["sigma"] * d, int(self.c["z_shift"])), self.table)
            g = rshift_round(q["w"] * s, bits - 1)
            g_sum = base_g + np.sum(g, axis=1)
            num = base_s + np.sum(g * q["erev"], axis=1) - g_sum * v
            den = cm_t + g_sum
            if log is not None:  # the quantizer proves these bounds; checking mode verifies them
                log.record("overflow:num", np.abs(num) >= self.num_limit)
                log.record("overflow:den", (g_sum >= self.g_limit) | (den <= 0) | (den >= self.num_limit))
            # (cm_t v + S) / (cm_t + G), written as v + (S - G v) / (cm_t + G): the numerator does not grow
            # with cm_t, and v + round(.) is the rounded convex combination.
            v = v + div_round(num, den)

        y_raw = _shift_each(v[:, : self.outputs] * q["out_w"], q["out_shift"]) + q["out_b"]
        y = saturate(y_raw, bits)
        if log is not None:
            log.record("y", y != y_raw)
        return y, v


def _shift_each(x: Array, shifts: Array) -> Array:
    """rshift_round with a per-column shift (left shift where negative)."""
    out = np.empty_like(x)
    for column, shift in enumerate(np.asarray(shifts, dtype=np.int64)):
        out[..., column] = rshift_round(x[..., column], int(shift))
    return out


class LtcFloat32Step:
    """One float32 LTC step in the C's operation order (no FMA, sequential sums, no libm)."""

    def __init__(self, qmodel: QuantizedModel) -> None:
        self.p = qmodel.params
        self.unfolds = int(qmodel.constants["unfolds"])
        self.eps = np.float32(qmodel.constants["epsilon"])
        self.outputs = qmodel.model.output_size

    def step(self, x: Array, v: Array, dt: Array) -> tuple[Array, Array]:
        """x [B,S], v [B,N], dt [B] (float32) -> (y [B,M], v [B,N])."""
        p = self.p
        xm = x * p["in_w"] + p["in_b"]
        batch, neurons = v.shape
        num_sensory = np.zeros((batch, neurons), dtype=np.float32)
        den_sensory = np.zeros((batch, neurons), dtype=np.float32)
        for j in range(xm.shape[1]):
            g = p["s_w"][j] * f32math.sigmoid(p["s_sigma"][j] * (xm[:, j, None] - p["s_mu"][j]))
            num_sensory = num_sensory + g * p["s_erev"][j]
            den_sensory = den_sensory + g
        delta = dt / np.float32(self.unfolds)
        cm_t = p["cm"] / delta[:, None]
        leak = p["gleak"] * p["vleak"]
        for _ in range(self.unfolds):
            num = np.zeros((batch, neurons), dtype=np.float32)
            den = np.zeros((batch, neurons), dtype=np.float32)
            for j in range(neurons):
                g = p["w"][j] * f32math.sigmoid(p["sigma"][j] * (v[:, j, None] - p["mu"][j]))
                num = num + g * p["erev"][j]
                den = den + g
            num = num + num_sensory
            den = den + den_sensory
            v = ((cm_t * v + leak) + num) / (((cm_t + p["gleak"]) + den) + self.eps)
        y = v[:, : self.outputs] * p["out_w"] + p["out_b"]
        return y, v

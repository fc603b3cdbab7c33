"""The LTC step exactly as the generated C computes it: integer (fixed16/fixed32) and float32.

This is the reference kernel of ``templates/``: plain, vectorized over the batch and the neurons, with
every rounding and every operation order spelled out. Integer sums are exact and so order-free; float32
sums run over presynaptic neurons in increasing index order, as the C does. Absent synapses have a zero
max conductance, so evaluating them adds exact zeros: the C skips them and gets the same bits.

Fixed point (``docs/number-formats.md``): a synapse's conductance is ``rshift_round(w * sig, B-1)`` with
``sig`` the :class:`~lnn_edge.quant.fixedpoint.ClampedTable` sigmoid read at ``(sigma * pre + c) >> z_shift``; the
update is ``v + div_round_fast(S - G v, cm_t + G)``. Float32: ``w / (1 + exp2_fast(b + a * pre))``, see
:class:`LtcFloat32Step`.
"""

from __future__ import annotations

import numpy as np

from lnn_edge.cells.ltc.layout import cm_per_dt, sigmoid_table
from lnn_edge.quant import f32math
from lnn_edge.quant.emulate_common import SaturationLog
from lnn_edge.quant.fixedpoint import (
    div_round_fast,
    rshift_round,
    rshift_round_columns,
    saturate,
)
from lnn_edge.quant.qmodel import QuantizedModel

Array = np.ndarray


class LtcFixedStep:
    """One fixed-point LTC step on int64 arrays holding B-bit values (see :mod:`lnn_edge.cells.ltc.quantize`)."""

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
        self.p_limit = 1 << (2 * self.bits - 1)
        self.table = sigmoid_table(qmodel)
        self.qmodel = qmodel

    def cm_t(self, dt_q: Array, log: SaturationLog | None = None) -> Array:
        """cm / Δ in Q``g`` for elapsed times ``dt_q`` [B] (clamped below at the calibrated minimum)."""
        if log is not None:
            log.record("dt", dt_q[:, None] < int(self.c["dt_min_q"]))
        return cm_per_dt(self.qmodel, dt_q)

    def conductance(self, pre: Array, prefix: str, shift: int, log: SaturationLog | None = None) -> Array:
        """g = rshift_round(w * sigmoid, B-1) of every synapse [B, pre, post] from presynaptic values ``pre``
        [B, pre]: the table position is p = sigma * pre + c (c = -sigma * mu + rounding), read at p >> shift."""
        q = self.q
        p = q[f"{prefix}sigma"] * pre[:, :, None] + q[f"{prefix}c"]
        if log is not None:
            log.record("overflow:p", (np.abs(p) >= self.p_limit).any(axis=2))
        return rshift_round(q[f"{prefix}w"] * self.table.read(p, shift), self.bits - 1)

    def step(self, x_q: Array, v: Array, dt_q: Array, log: SaturationLog | None = None) -> tuple[Array, Array]:
        """x_q [B,S] (per-feature Q ``x_frac``), v [B,N] (Q``v``), dt_q [B] (Q``dt``) -> (y_q [B,M], v [B,N])."""
        q, bits = self.q, self.bits
        xm_raw = rshift_round_columns(x_q * q["in_w"], q["in_shift"]) + q["in_b"]
        xm = saturate(xm_raw, bits)
        if log is not None:
            log.record("xm", xm != xm_raw)

        # Sensory synapses, once per step: [B, S, N].
        g = self.conductance(xm, "s_", int(self.c["s_z_shift"]), log)
        num_sensory = np.sum(g * q["s_erev"], axis=1)
        den_sensory = np.sum(g, axis=1)

        cm_t = self.cm_t(dt_q, log)
        # S = Σ g E (reversal potentials weighted by conductance), G = Σ g, leak and sensory terms included.
        base_s = q["gleak_vleak"] + num_sensory
        base_g = q["gleak_eps"] + den_sensory
        for _ in range(int(self.c["unfolds"])):
            g = self.conductance(v, "", int(self.c["z_shift"]), log)
            g_sum = base_g + np.sum(g, axis=1)
            num = base_s + np.sum(g * q["erev"], axis=1) - g_sum * v
            den = cm_t + g_sum
            if log is not None:  # the quantizer proves these bounds; checking mode verifies them
                log.record("overflow:num", np.abs(num) >= self.num_limit)
                log.record("overflow:den", (g_sum >= self.g_limit) | (den <= 0) | (den >= self.num_limit))
            # (cm_t v + S) / (cm_t + G), written as v + (S - G v) / (cm_t + G): the numerator does not grow
            # with cm_t, and v + round(.) is the rounded convex combination (den >= 3: floor or ceil).
            v = v + div_round_fast(num, den)

        y_raw = rshift_round_columns(v[:, : self.outputs] * q["out_w"], q["out_shift"]) + q["out_b"]
        y = saturate(y_raw, bits)
        if log is not None:
            log.record("y", y != y_raw)
        return y, v


class LtcFloat32Step:
    """One float32 LTC step in the C's operation order (no FMA, sequential sums, no libm).

    Per step, per neuron: ``cm_t = cm * (unfolds / dt)``; ``num = leak``, ``den = (cm_t + gleak) + eps``, then
    for each sensory synapse (inputs ascending) ``g = s_w / (1 + 2**(s_b + s_a x))``, ``num = num + g s_erev``,
    ``den = den + g`` (:func:`lnn_edge.quant.f32math.conductance_fast`). A neuron without internal synapses then
    updates as ``v = beta + alpha v`` with ``alpha = cm_t / den``, ``beta = num / den``; the others, every unfold,
    add their internal synapses (sources ascending) to copies of num and den and take
    ``v = (num + cm_t v) / den``; all from the previous unfold's potentials.
    """

    def __init__(self, qmodel: QuantizedModel) -> None:
        self.p = qmodel.params
        self.unfolds = int(qmodel.constants["unfolds"])
        self.eps = np.float32(qmodel.constants["epsilon"])
        self.outputs = qmodel.model.output_size
        self.wired = self.p["mask"].any(axis=0)

    def step(self, x: Array, v: Array, dt: Array) -> tuple[Array, Array]:
        """x [B,S], v [B,N], dt [B] (float32) -> (y [B,M], v [B,N])."""
        p = self.p
        rate = np.float32(self.unfolds) / dt
        cm_t = p["cm"] * rate[:, None]
        num_base = np.broadcast_to(p["leak"], v.shape).astype(np.float32)
        den_base = (cm_t + p["gleak"]) + self.eps
        for j in range(x.shape[1]):
            g = f32math.conductance_fast(p["s_w"][j], p["s_b"][j] + p["s_a"][j] * x[:, j, None])
            num_base = num_base + g * p["s_erev"][j]
            den_base = den_base + g
        alpha, beta = cm_t / den_base, num_base / den_base
        for _ in range(self.unfolds):
            num, den = num_base, den_base
            for j in range(v.shape[1]):
                g = f32math.conductance_fast(p["w"][j], p["b"][j] + p["a"][j] * v[:, j, None])
                num = num + g * p["erev"][j]
                den = den + g
            v = np.where(self.wired, (num + cm_t * v) / den, beta + alpha * v)
        y = v[:, : self.outputs] * p["out_w"] + p["out_b"]
        return y, v

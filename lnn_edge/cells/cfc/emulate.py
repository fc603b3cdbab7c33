"""The CfC step (dense and wired) exactly as the generated C computes it: fixed16/fixed32 and float32.

This is the specification of the CfC templates. Array, format and shift names are those of
:mod:`lnn_edge.cells.cfc.quantize` (``L`` = ``""`` for a dense cell, ``lK_`` for wired layer K); ``B`` storage bits,
``W = 2B`` accumulator bits (int32_t / int64_t), ``s = B - 1``, ``ONE = 2**s``. ``sat_B`` clamps to the signed
B-bit range; ``rshift_round(v, k) = (v + 2**(k-1)) >> k`` (arithmetic shift, k >= 0; k = 0: v itself).
``T(v)`` is the tanh table (:class:`lnn_edge.quant.fixedpoint.CfcTable`, ``tanh_table``): ``v`` in Q``t`` is saturated
to ``t + 4`` bits (the span [-8, 8)), the segment is addressed directly by the signed value (no abs, no
mirroring), the result is in Q``s`` with ``abs <= ONE - 1``. A sigmoid is ``(1 + tanh(x/2)) / 2``: its argument
``x`` is produced in Q(t-1), which the table reads as ``x/2`` in Q``t``. ``phi_q`` is
:func:`lnn_edge.quant.fixedpoint.sigmoid_q` with ``phi_table`` (Phi(-x) = 1 - Phi(x)); ``exp_neg_q`` is
:mod:`lnn_edge.quant.fixedpoint`'s.

Fixed point, one step. Inputs ``x_q`` (per-feature Q``x_frac``, already saturated to B bits), state ``h``
(Q``h``), elapsed time ``dt_q`` (Q``dt``, in [0, 2**(B-1) - 1]). The CfC layers run in order (a dense cell is
one layer); layer 0 reads ``u = x_q``, layer K > 0 reads ``u`` = the NEW state of layer K-1; ``z = [u ; h_L]``
where ``h_L`` is this layer's slice of the OLD state. ``Linear name(z)`` is
``acc[r] = name_b[r] + sum_c name_w[r,c] * z[c]``, an exact W-bit integer sum (any order, any grouping: wired
ff1/ff2 may skip the synapses with ``Lmask = 0``, their weights are 0; the C adds pairs of products with SMLAD).
The C folds rounding into biases: where an accumulator is read by ``rshift_round(acc, k)`` its bias holds
``2**(k-1)`` and the C shifts with ``>>`` (the time_b bias also holds ``2**(Lg_s-1) << Ltb_s``, the gate's
rounding); the quantizer proves those sums fit W bits. Every line below is per neuron r.

==========================================================================  ============================
operation                                                                   result
==========================================================================  ============================
BACKBONE (dense cells), K = 0, 1, ...: ``acc = Linear bbK(z)``               Q``bbK_acc``, W
- tanh, lecun_tanh: ``a = T(rshift_round(acc, bbK_sz))``                     Q``s`` (= Q``bbK_act``), B
  (lecun_tanh: 0.666 is in bbK's weights and bias, 1.7159 in the weights
  of whatever reads ``a``: the next backbone layer or every head);
  deep backbones (``bbK_sr`` present): ``a = rshift_round(a, bbK_sr)``         Q(s - ``bbK_sr``) = Q``bbK_act``
- relu: ``a = sat_B(max(rshift_round(acc, bbK_sa), 0))``, logged ``bbK``     Q``bbK_act``, B
- silu: ``v = sat_B(rshift_round(acc, bbK_sa))``, logged ``bbK``             Q``bbK_act``, B
  ``a = rshift_round(v * (ONE + T(rshift_round(acc, bbK_sz))), s + 1)``      Q``bbK_act``, B
- gelu: ``v`` as silu, ``a = rshift_round(v * phi_q(rshift_round(acc,        Q``bbK_act``, B
  bbK_sz)), s)`` (phi reads Q``z``)
  then ``z = a`` (next backbone layer, or the heads)
GATED HEADS (default, no_gate)
``t1 = T(rshift_round(Linear Lff1(z), Lff1_sz))``                            Q``s``, abs <= ONE - 1
``t2 = T(rshift_round(Linear Lff2(z), Lff2_sz))``                            Q``s``, abs <= ONE - 1
``ta = rshift_round(Linear Lta(z), Lta_s)``                                  Q``Lta``, B
``gz = ta * dt_q + rshift_round(Linear Ltb(z), Ltb_s)``                      Q(``Lta`` + ``dt``), W
``tg = T(rshift_round(gz, Lg_s))`` = tanh(gz/2) = 2 sigmoid(gz) - 1          Q``s``, abs <= ONE - 1
default: ``h' = ((t1 + t2) * ONE + tg * (t2 - t1) + 2**(h_s-1) - 1) >> h_s``  Q``h``, abs <= 2**h
  (= t1 (1 - g) + g t2 with g = (ONE + tg) / 2; rounding half down keeps the
  sum inside W bits: it is at most 2**(W-1) - 1; h_s = 2s + 1 - h)
no_gate: ``g = (tg + ONE + 1) >> 1``                                         Q``s``, in [1, ONE]
  ``h' = rshift_round(t1, h_s1) + rshift_round(g * t2, h_s2)``               Q``h``, abs <= 2**(h+1)
PURE
``f1 = rshift_round(Linear Lff1(z), Lff1_sp)``                               Q``Lf1``, B
``k = Ltau + abs(f1)``                                                       Q``Lf1``, B
``u = rshift_round(dt_q * k, Lu_s)``                                         Q``e``, W, >= 0
``e = exp_neg_q(u)`` (exp_table, exp_factors)                                Q``s``, in [0, ONE]
``m = rshift_round(e * f1, s)``                                              Q``Lf1``, B
``h' = LA_h - rshift_round(LA * m, LA_s)``                                   Q``h``, W
STATE ``h' = sat_B(h')``, logged ``h`` (a proven no-op in gated modes)       Q``h``, B
OUTPUTS from the last layer's ``h'``: ``p = h'`` (Q``h``), or with ``fc``
``p_k = rshift_round(Linear fc(h'), fc_shift[k])``                           Q(fc_acc - fc_shift[k]), B
affine mapping:                                                              Q``y_frac[k]``, B
``y_k = sat_B(rshift_round(p_k * out_w[k], out_shift[k]) + out_b[k])``,
logged ``y`` (a proven no-op); without a mapping ``y = p``
==========================================================================  ============================

Float32, one step (:class:`CfcFloat32Step`): the same structure on the float32 parameters, every operation
one IEEE binary32 operation. A Linear is ``acc = b[r]; acc = acc + w[r,0]*z[0]; acc = acc + w[r,1]*z[1]; ...``
(bias first, then the columns in increasing index; a wired layer's ff1/ff2 skip the masked columns unless
the quantized model records them as dense (``ff_dense_K``, :func:`lnn_edge.cells.cfc.layout.ff_dense`), adding the zero
products too). tanh is the
rational :func:`lnn_edge.quant.f32math.cfc_tanh` (x P(x^2) / Q(x^2) on [-9, 9]), backbone activations
``f32math.CFC_ACTIVATIONS``. Heads: ``gate = ta*t + tb``; default ``h' = f32math.cfc_gated_mix(ff1, ff2, gate)``
(tanh(ff1) (1 - g) + g tanh(ff2) as one fraction, one division); no_gate
``h' = cfc_tanh(ff1) + cfc_sigmoid(gate) * cfc_tanh(ff2)``; pure
``h' = ((-A) * exp_neg(t * (tau + abs(ff1)))) * ff1 + A``. Outputs ``y = fc(h')``, then ``y = y*out_w + out_b``.
"""

from __future__ import annotations

import numpy as np

from lnn_edge.cells.cfc.layout import CFC_SCHEME, PHI_SPAN_LOG2, cfc_layers, layer_ff_dense
from lnn_edge.errors import LnnEdgeError
from lnn_edge.quant import f32math
from lnn_edge.quant.emulate_common import SaturationLog
from lnn_edge.quant.fixedpoint import (
    CfcTable,
    InterpTable,
    exp_neg_q,
    rshift_round,
    rshift_round_columns,
    saturate,
    sigmoid_q,
)
from lnn_edge.quant.qmodel import QuantizedModel

Array = np.ndarray
F32 = np.float32


class CfcFixedStep:
    """One fixed-point CfC step on int64 arrays holding B-bit values (see :mod:`lnn_edge.cells.cfc.quantize`).

    Set ``trace`` to a dict to record every Linear's input and accumulator (``<name>.z``, ``<name>.acc``) and
    the other W-bit intermediates by name: the overflow checks of the tests read it.
    """

    def __init__(self, qmodel: QuantizedModel) -> None:
        model = qmodel.model
        assert model.cfc is not None
        self.q = qmodel.params
        self.c = qmodel.constants
        self.bits = qmodel.bits
        self.s = self.bits - 1
        self.one = 1 << self.s
        self.mode = model.cfc.mode
        self.activation = model.cfc.activation
        self.backbone = int(self.c["backbone_layers"])
        self.layers = cfc_layers(model)
        self.proj = model.cfc.proj_size is not None
        self.affine = model.cfc.output_mapping == "affine"
        fz = qmodel.formats["z"]
        if int(self.c.get("cfc_scheme", 1)) != CFC_SCHEME:
            raise LnnEdgeError(
                "this quantized CfC was made by an older lnn-edge (fixed-point scheme "
                f"{self.c.get('cfc_scheme', 1)}, now {CFC_SCHEME}): quantize the float model again"
            )
        self._tanh: CfcTable | None = None  # pure mode without a tanh-using backbone has no table
        if "tanh_table" in self.q:
            index_bits = int(self.c["tanh_index_bits"])
            mirrored = bool(self.c.get("tanh_mirrored", 0))
            self._tanh = CfcTable(
                "cfc_tanh", _ints(self.q["tanh_table"]), qmodel.formats["t"], self.s, 3, index_bits, mirrored
            )
        self.phi: InterpTable | None = None
        if "phi_table" in self.q:
            bits = int(self.c["phi_index_bits"])
            self.phi = InterpTable("phi", _ints(self.q["phi_table"]), fz, self.s, PHI_SPAN_LOG2, bits)
        self.exp: InterpTable | None = None
        self.exp_factors: tuple[int, ...] = ()
        if self.mode == "pure":
            bits = int(self.c["exp_index_bits"])
            self.exp = InterpTable("exp_neg", _ints(self.q["exp_table"]), qmodel.formats["e"], self.s, 0, bits)
            self.exp_factors = _ints(self.q["exp_factors"])
        self.trace: dict[str, Array] | None = None

    @property
    def tanh(self) -> CfcTable:
        assert self._tanh is not None
        return self._tanh

    def _t(self, name: str, value: Array) -> Array:
        if self.trace is not None:
            self.trace[name] = value
        return value

    def _linear(self, name: str, z: Array) -> Array:
        """acc = b + W z: exact integer sums (masked weights are zero)."""
        self._t(f"{name}.z", z)
        return self._t(f"{name}.acc", self.q[f"{name}_b"] + z @ self.q[f"{name}_w"].T)

    def _sh(self, name: str) -> int:
        return int(self.c[name])

    def _backbone(self, z: Array, log: SaturationLog | None) -> Array:
        bits, s = self.bits, self.s
        for k in range(self.backbone):
            name = f"bb{k}"
            acc = self._linear(name, z)
            act = self.activation
            if act in ("tanh", "lecun_tanh"):
                z = self.tanh(rshift_round(acc, self._sh(f"{name}_sz")))
                z = rshift_round(z, int(self.c.get(f"{name}_sr", 0)))  # deep backbones: Q s -> Q(s - bbK_sr)
            elif act == "relu":
                v = np.maximum(rshift_round(acc, self._sh(f"{name}_sa")), 0)
                z = saturate(v, bits)
                if log is not None:
                    log.record(name, z != v)
            else:
                raw = rshift_round(acc, self._sh(f"{name}_sa"))
                v = saturate(raw, bits)
                if log is not None:
                    log.record(name, v != raw)
                if act == "silu":
                    half = self.tanh(rshift_round(acc, self._sh(f"{name}_sz")))  # tanh(x/2) = 2 sigmoid(x) - 1
                    z = rshift_round(self._t(f"{name}.prod", v * (self.one + half)), s + 1)
                else:
                    assert self.phi is not None
                    gate = sigmoid_q(rshift_round(acc, self._sh(f"{name}_sz")), self.phi)
                    z = rshift_round(self._t(f"{name}.prod", v * gate), s)
            self._t(f"{name}.a", z)
        return z

    def _gated(self, pre: str, z: Array, dt_q: Array) -> Array:
        t1 = self.tanh(rshift_round(self._linear(f"{pre}ff1", z), self._sh(f"{pre}ff1_sz")))
        t2 = self.tanh(rshift_round(self._linear(f"{pre}ff2", z), self._sh(f"{pre}ff2_sz")))
        ta = self._t(f"{pre}ta.q", rshift_round(self._linear(f"{pre}ta", z), self._sh(f"{pre}ta_s")))
        tb = rshift_round(self._linear(f"{pre}tb", z), self._sh(f"{pre}tb_s"))
        gz = self._t(f"{pre}g.z", ta * dt_q[:, None] + tb)
        tg = self.tanh(rshift_round(gz, self._sh(f"{pre}g_s")))  # tanh(gz / 2) = 2 sigmoid(gz) - 1
        one = self.one
        if self.mode == "no_gate":
            g = (tg + one + 1) >> 1
            return rshift_round(t1, self._sh("h_s1")) + rshift_round(self._t(f"{pre}h.prod", g * t2), self._sh("h_s2"))
        shift = self._sh("h_s")
        num = self._t(f"{pre}h.num", (t1 + t2) * one + tg * (t2 - t1) + ((1 << (shift - 1)) - 1))
        return num >> shift

    def _pure(self, pre: str, z: Array, dt_q: Array) -> Array:
        assert self.exp is not None
        f1 = self._t(f"{pre}f1", rshift_round(self._linear(f"{pre}ff1", z), self._sh(f"{pre}ff1_sp")))
        k = self._t(f"{pre}k", self.q[f"{pre}tau"] + np.abs(f1))
        u = rshift_round(self._t(f"{pre}u.prod", dt_q[:, None] * k), self._sh(f"{pre}u_s"))
        e = exp_neg_q(u, self.exp, self.exp_factors)
        m = rshift_round(self._t(f"{pre}m.prod", e * f1), self.s)
        scaled = self._t(f"{pre}A.prod", self.q[f"{pre}A"] * m)
        return self._t(f"{pre}h.raw", self.q[f"{pre}A_h"] - rshift_round(scaled, self._sh(f"{pre}A_s")))

    def step(self, x_q: Array, h: Array, dt_q: Array, log: SaturationLog | None = None) -> tuple[Array, Array]:
        """x_q [B,S] (per-feature Q``x_frac``), h [B,N] (Q``h``), dt_q [B] (Q``dt``) -> (y_q [B,M], h)."""
        x_q, h, dt_q = np.asarray(x_q, np.int64), np.asarray(h, np.int64), np.asarray(dt_q, np.int64)
        raw_parts, new_parts = [], []
        u = x_q
        for layer in self.layers:
            z = np.concatenate([u, h[:, layer.start : layer.start + layer.size]], axis=1)
            if self.backbone:
                z = self._backbone(z, log)
            raw = self._pure(layer.name, z, dt_q) if self.mode == "pure" else self._gated(layer.name, z, dt_q)
            u = saturate(raw, self.bits)
            raw_parts.append(raw)
            new_parts.append(u)
        h_raw, h_new = np.concatenate(raw_parts, axis=1), np.concatenate(new_parts, axis=1)
        if log is not None:
            log.record("h", h_new != h_raw)

        p = rshift_round_columns(self._linear("fc", u), self.q["fc_shift"]) if self.proj else u
        if not self.affine:
            return p, h_new
        y_raw = rshift_round_columns(self._t("y.prod", p * self.q["out_w"]), self.q["out_shift"]) + self.q["out_b"]
        y = saturate(y_raw, self.bits)
        if log is not None:
            log.record("y", y != y_raw)
        return y, h_new


def _ints(array: Array) -> tuple[int, ...]:
    return tuple(int(v) for v in array)


class CfcFloat32Step:
    """One float32 CfC step in the C's operation order (no FMA, sequential sums bias first, no libm)."""

    def __init__(self, qmodel: QuantizedModel) -> None:
        model = qmodel.model
        assert model.cfc is not None
        self.qmodel = qmodel
        self.p = qmodel.params
        self.mode = model.cfc.mode
        self.activation = f32math.CFC_ACTIVATIONS[model.cfc.activation]
        self.backbone = int(qmodel.constants["backbone_layers"])
        self.layers = cfc_layers(model)
        self.proj = model.cfc.proj_size is not None
        self.affine = model.cfc.output_mapping == "affine"

    def _linear(self, name: str, z: Array, mask: Array | None = None) -> Array:
        """acc_r = b_r, then acc_r = acc_r + w[r,c] * z[c] for c = 0, 1, ... (skipping masked synapses)."""
        weight, bias = self.p[f"{name}_w"], self.p[f"{name}_b"]
        acc = np.repeat(bias[None, :], z.shape[0], axis=0)
        for c in range(weight.shape[1]):
            term = z[:, c, None] * weight[:, c]
            acc = acc + term if mask is None else np.where(mask[:, c] != 0, acc + term, acc)
        return acc

    def step(self, x: Array, h: Array, dt: Array) -> tuple[Array, Array]:
        """x [B,S], h [B,N], dt [B] (float32) -> (y [B,M], h [B,N])."""
        x, h = np.asarray(x, dtype=F32), np.asarray(h, dtype=F32)
        t = np.asarray(dt, dtype=F32)[:, None]
        parts = []
        u = x
        for layer in self.layers:
            pre = layer.name
            mask = self.p.get(f"{pre}mask")
            if mask is not None and layer_ff_dense(self.qmodel, layer):
                mask = None  # evaluated densely: the absent synapses' zero weights are added too
            z = np.concatenate([u, h[:, layer.start : layer.start + layer.size]], axis=1)
            for k in range(self.backbone):
                z = self.activation(self._linear(f"bb{k}", z))
            ff1 = self._linear(f"{pre}ff1", z, mask)
            if self.mode == "pure":
                a = self.p[f"{pre}A"]
                e = f32math.exp_neg(t * (self.p[f"{pre}tau"] + np.abs(ff1)))
                u = ((-a) * e) * ff1 + a
            else:
                ff2 = self._linear(f"{pre}ff2", z, mask)
                gate = self._linear(f"{pre}ta", z) * t + self._linear(f"{pre}tb", z)
                if self.mode == "no_gate":
                    u = f32math.cfc_tanh(ff1) + f32math.cfc_sigmoid(gate) * f32math.cfc_tanh(ff2)
                else:
                    u = f32math.cfc_gated_mix(ff1, ff2, gate)
            parts.append(u)
        y = self._linear("fc", u) if self.proj else u
        if self.affine:
            y = y * self.p["out_w"] + self.p["out_b"]
        return y, np.concatenate(parts, axis=1)

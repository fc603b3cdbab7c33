"""CfC quantization (dense and wired): formats from provable bounds and calibration, deployable parameters.

The fixed-point CfC step is specified by :class:`lnn_edge.cells.cfc.emulate.CfcFixedStep` (its module docstring has
the operation table); this module chooses the formats that make every value in it fit its width, provably.
Notation: ``B`` storage bits (16 or 32), ``W = 2B`` accumulator bits, ``s = B - 1`` (the format of sigmoid,
tanh and exp table outputs: 1.0 = ``ONE = 2**s``), ``Qf`` a value ``q`` meaning ``q / 2**f``.

How overflow is excluded. Every Linear layer (backbone, heads, ``fc``) is ``acc = b + sum_c w[r,c] * z[c]``
with all products landing in ONE accumulator format ``Q{name}_acc``: column ``c`` of the weight matrix is
stored in ``Q({name}_acc - in_frac[c])``, where ``in_frac[c]`` is the format of input ``c`` (the inputs of
the first layer are ``[x ; h]``: per-feature ``x_frac`` then ``h``). For every row, ``sum_c |w_q| * zmax_q[c]
+ |b_q|`` is computed exactly (Python integers) from the quantized values, where ``zmax_q`` is a proven bound
of the integer inputs (``2**(B-1)`` for saturated inputs, ``2**h`` for the default-mode state ...); the
accumulator format is lowered until that bound plus the rounding offset of its shifts fits ``W`` bits. Values
requantized to ``B`` bits get the finest format their exact bound allows. Only backbone ``relu/silu/gelu``
activations (calibrated formats) and the pure-mode state (calibrated, or proven for ``dt >= dt_min``) can
saturate; the emulator saturates them and records it. Everything else is a proof. The C folds the rounding
offsets of the shifts that read an accumulator into its bias (see :mod:`lnn_edge.cells.cfc.codegen`): every such bias
plus its offsets is proven to fit W bits too, and so is the gate sum ``ta * dt_q + tb`` with its offsets
(``Lta`` is lowered from its finest format until it does).

lecun_tanh backbones: 1.7159 tanh(0.666 x) is evaluated as tanh alone; 0.666 scales the layer's weights and bias,
1.7159 the weights of whatever reads its activations, before quantization (exact in real arithmetic).
Deep backbones (at least :data:`DEEP_BACKBONE` layers) get a finer tanh table (:data:`TANH_INDEX_BITS_DEEP`) and,
with tanh/lecun_tanh, activations rounded to Q(s - ``bbK_sr``) so that the weights reading them are finer
(:data:`BACKBONE_ACT_DROP`; the error breakdown behind both is in docs/number-formats.md).

Deployable arrays (``L`` is ``""`` for a dense cell and ``l0_``, ``l1_`` ... for the layers of a wired cell;
"B"/"W": the C type holds B or W bits):

==================  ========  ==============================================  ==============================
name                shape     meaning                                         format
==================  ========  ==============================================  ==============================
x_frac              [S]       input format per feature                        (fractional bits)
bbK_w               [U, C]    backbone layer K weights (dense cells only;     col c: Q(bbK_acc-in_frac[c]) B
                              lecun_tanh: scaled, see above)
bbK_b               [U]       backbone layer K bias                           Q``bbK_acc``, W
Lff1_w, Lff1_b      [H, C]    head ff1 (wired: 0 where the mask is 0), bias   as bbK_w, bbK_b (``Lff1_acc``)
Lff2_w, Lff2_b      [H, C]    head ff2 (gated modes), bias                    ``Lff2_acc``
Lta_w, Lta_b        [H, C]    head time_a (gated modes; dense when wired)     ``Lta_acc``
Ltb_w, Ltb_b        [H, C]    head time_b (gated modes; dense when wired)     ``Ltb_acc``
Ltau                [H]       abs(w_tau) (pure)                               Q``Lf1``, B
LA, LA_h            [H]       A (pure), and A in the state format             Q``LA``, Q``h``, B
Lmask               [H, C]    wired topology of ff1/ff2 (1 = synapse)         0/1
fc_w, fc_b          [P, H]    projection (proj_size), bias                    ``fc_acc`` (columns in Q``h``)
fc_shift            [P]       fc accumulator -> output p_k                    p_k: Q(fc_acc - fc_shift[k]), B
out_w, out_shift    [M]       output mapping weight, its shift (affine only)  Q(y_frac + out_shift - p_frac)
out_b               [M]       output mapping bias (affine only)               Q``y_frac[k]``, B
y_frac              [M]       output format per output                        (fractional bits)
tanh_table          [2^k+1]   tanh on [-8, 8] (CfcTable), input Q``t``        Q``s``, signed B, odd
phi_table           [2^k+1]   normal CDF Phi on [0, 8), input Q``z`` (gelu)   Q``s``, unsigned B
exp_table           [2^k+1]   exp(-u) on [0, 1), input Q``e`` (pure)          Q``s``, unsigned B
exp_factors         [17]      exp(-n), n = 0..16 (pure)                       Q``s``, unsigned B
==================  ========  ==============================================  ==============================

Scalar formats (``formats``; each may be overridden by name, see :func:`quantize_cfc_fixed`): ``dt``, ``z``
(Phi's input, and the least resolution asked of the tanh inputs), ``t`` (the tanh table's input: the finest,
at most :data:`TANH_IN_MAX`, that every reader reaches with a right shift), ``s``, ``h``, ``e`` (pure),
``bbK_acc``, ``bbK_act``, ``Lff1_acc``, ``Lff2_acc``, ``Lta_acc``, ``Ltb_acc``, ``Lta``, ``Lf1`` and ``LA``
(pure), ``fc_acc``. Shift amounts (``constants``, all >= 0): ``bbK_sz bbK_sa bbK_sr`` (``bbK_sr``: deep
tanh backbones only, see :data:`BACKBONE_ACT_DROP`) ``Lff1_sz Lff2_sz Lta_s Ltb_s Lg_s h_s`` (default)
``h_s1 h_s2`` (no_gate) ``Lff1_sp Lu_s LA_s`` (pure), and the integer constants ``one``
(``2**s``), ``tanh_index_bits`` (also ``phi_index_bits``, ``exp_index_bits``), ``dt_default_q``, ``layers``,
``backbone_layers``, ``cfc_scheme`` (:data:`CFC_SCHEME`). Their use is in the operation table of
:mod:`lnn_edge.cells.cfc.emulate`.

Float32 (:func:`quantize_cfc_float32`) uses the same array names holding the plain float32 parameters
(``tau`` = abs(w_tau), masked weights zero, ``Lmask``; no shifts, formats or tables).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lnn_edge.cells.cfc.layout import CFC_SCHEME, PHI_SPAN_LOG2, CfcLayer, cfc_layers, ff_dense_constants
from lnn_edge.cells.cfc.reference import CfcReference
from lnn_edge.floatmath import ACTIVATIONS, run_steps
from lnn_edge.model.model import Model
from lnn_edge.quant.calibration import CalibrationStats
from lnn_edge.quant.fixedpoint import cfc_tanh_table, exp_neg_int_factors, exp_neg_table, make_table, quantize_value
from lnn_edge.quant.qformat import FormatChooser, QuantizationError, frac_bits_for
from lnn_edge.quant.qmodel import QuantizedModel

TABLE_BITS = {16: 8, 32: 10}
"""log2 of the segments of the Phi and exp tables (gelu, pure mode): 257 / 1025 samples."""
Z_FRAC = {16: 11, 32: 24}
"""Default format Q z of the Phi table's input (gelu) and the least resolution asked of the tanh inputs."""
EXP_IN_FRAC = {16: 12, 32: 28}
"""Fractional bits of the exp(-u) table input (pure mode): [0, 1) split in 2**k segments needs >= k bits."""
LECUN_IN, LECUN_OUT = 0.666, 1.7159
ACT_MARGIN = 2.0
"""Calibrated backbone activations (relu, silu, gelu) get a format for twice the largest value seen."""
STATE_MARGIN = 2.0
"""Pure-mode state: twice the largest calibrated |h| (unless the proof for dt >= dt_min is tighter)."""
MIN_CALIBRATED = 2.0**-8
"""Floor of calibrated bounds (a dead unit must not get a format that saturates at tiny values)."""
TANH_INDEX_BITS = {16: 8, 32: 10}
"""log2 of the tanh table's segments: fixed16 256 on [-8, 8] (257 int16: 514 B; 9 would halve the CfC pendulum
model's fixed16 error, 6.8e-4 -> 2.8e-4 of the output range, for 512 B more flash), fixed32 1024 on [0, 8]."""
DEEP_BACKBONE = 2
"""Backbones with at least this many layers chain that many table reads and accumulator-limited weight
products before the heads: fixed16 gives them the finer tanh table and the narrower activations below."""
TANH_INDEX_BITS_DEEP = {16: 9, 32: 10}
"""log2 of the tanh table's segments for deep backbones (:data:`DEEP_BACKBONE`): fixed16 512 on [-8, 8] (1 KB,
the same instructions; a quarter of the interpolation error, measured in docs/number-formats.md)."""
BACKBONE_ACT_DROP = {16: 2, 32: 0}
"""Bits a deep tanh/lecun_tanh backbone drops from its activations (Q s -> Q(s - drop), rounded): the W-bit
accumulator bounds ``sum |w_q| * 2**s``, so every bit the activations give up is a bit of precision for the
weights that read them. fixed16 drops 2 (Q13 activations, weights 2 bits finer: the weights were the largest
error source); fixed32's 64-bit accumulators do not need it."""
TANH_MIRRORED = {16: False, 32: True}
"""fixed16 stores tanh on [-8, 8] and reads it with the signed input (no abs: fewest instructions); fixed32
stores [0, 8] and mirrors (abs and a negation are cheap beside its 64-bit arithmetic; same flash, twice the
resolution). See :class:`lnn_edge.quant.fixedpoint.CfcTable`."""
TANH_IN_MAX = {16: 15, 32: 28}
"""Finest input format of the tanh table (:class:`lnn_edge.quant.fixedpoint.CfcTable`): its input saturates to
``t + 4`` bits (19 for fixed16, 32 for fixed32)."""


HEADS = {"ff1": "ff1", "ff2": "ff2", "time_a": "ta", "time_b": "tb"}


def effective_cfc(model: Model) -> dict[str, np.ndarray]:
    """The CfC parameters as the step uses them (float64), under their deployable names.

    Wired ff1/ff2 weights are multiplied by the layer's mask (absent synapses hold exact zeros), ``tau`` is
    abs(w_tau), ``A`` is flattened; without an output mapping there is no ``out_w``/``out_b``.
    """
    cfc = model.cfc
    assert cfc is not None
    a = model.arrays
    p: dict[str, np.ndarray] = {}
    for k in range(cfc.backbone_layers if model.cell == "cfc" else 0):
        p[f"bb{k}_w"] = a[f"backbone.{k}.weight"].copy()
        p[f"bb{k}_b"] = a[f"backbone.{k}.bias"].copy()
    heads = ("ff1",) if cfc.mode == "pure" else ("ff1", "ff2", "time_a", "time_b")
    for layer in cfc_layers(model):
        mask = a.get(f"{layer.source}sparsity_mask")
        for head in heads:
            weight = a[f"{layer.source}{head}.weight"].copy()
            if mask is not None and head in ("ff1", "ff2"):
                weight = weight * mask
            p[f"{layer.name}{HEADS[head]}_w"] = weight
            p[f"{layer.name}{HEADS[head]}_b"] = a[f"{layer.source}{head}.bias"].copy()
        if cfc.mode == "pure":
            p[f"{layer.name}tau"] = np.abs(a[f"{layer.source}w_tau"]).reshape(-1)
            p[f"{layer.name}A"] = a[f"{layer.source}A"].reshape(-1).copy()
        if mask is not None:
            p[f"{layer.name}mask"] = mask.copy()
    if cfc.proj_size is not None:
        p["fc_w"] = a["fc.weight"].copy()
        p["fc_b"] = a["fc.bias"].copy()
    if cfc.output_mapping == "affine":
        p["out_w"] = a["output_w"].copy()
        p["out_b"] = a["output_b"].copy()
    return p


def quantize_cfc_float32(model: Model) -> QuantizedModel:
    """float32: the effective parameters rounded to float32 (see :func:`effective_cfc` for the names)."""
    assert model.cfc is not None
    params = {name: array.astype(np.float32) for name, array in effective_cfc(model).items()}
    constants: dict[str, int | float] = {
        "layers": len(cfc_layers(model)),
        "backbone_layers": model.cfc.backbone_layers if model.cell == "cfc" else 0,
        **ff_dense_constants(params, model, "float32"),
    }
    return QuantizedModel(model=model, precision="float32", params=params, constants=constants)


# --- fixed point ---------------------------------------------------------------------------------------


def _rshift_round_int(value: int, shift: int) -> int:
    """rshift_round on one Python integer (exact)."""
    if shift > 0:
        return (value + (1 << (shift - 1))) >> shift
    return value << (-shift)


def _exact_row_bounds(w_q: np.ndarray, b_q: np.ndarray, in_max: list[int]) -> list[int]:
    """For each row, sum_c |w_q[r,c]| * in_max[c] + |b_q[r]| in exact integer arithmetic."""
    weights = np.abs(w_q).astype(object)
    inputs = np.array([int(v) for v in in_max], dtype=object)
    rows = (weights * inputs[None, :]).sum(axis=1) + np.abs(b_q).astype(object)
    return [int(v) for v in rows]


@dataclass
class _Linear:
    w: np.ndarray
    b: np.ndarray
    acc: int
    """Accumulator format."""
    row_max: list[int]
    """Proven max |acc| per row (integers)."""
    targets: dict[str, int]


class _Quantizer(FormatChooser):
    """The shared format bookkeeping (:class:`~lnn_edge.quant.qformat.FormatChooser`), plus the CfC's exact fit checks
    of integer maxima and its derived constants."""

    def __init__(self, precision: str, overrides: dict[str, int] | None) -> None:
        super().__init__(precision, overrides)
        self.wide = 2 * self.bits
        self.limit = (1 << (self.bits - 1)) - 1
        self.wide_limit = (1 << (self.wide - 1)) - 1
        self.constants: dict[str, int | float] = {}

    def fit(self, name: str, value_max: int, frac: int) -> int:
        """The finest format f <= frac such that rshift_round(value_max, frac - f) fits B bits."""
        f = frac
        while _rshift_round_int(value_max, frac - f) > self.limit:
            f -= 1
        return f

    def require_fits(self, name: str, value_max: int, bits: int | None = None) -> None:
        limit = (1 << ((bits or self.wide) - 1)) - 1
        if value_max > limit:
            raise QuantizationError(
                f"tensor '{name}' can reach {value_max} (integer), more than {bits or self.wide} bits hold: its "
                "weights or inputs are too large for this precision; use float32 or retrain with smaller values"
            )

    def shift(self, name: str, amount: int, tensor: str) -> int:
        """Record the shift constant ``name``; a negative amount: ``tensor`` is too coarse for its target."""
        if amount < 0:
            raise QuantizationError(
                f"tensor '{tensor}' is held {-amount} bits coarser than the step needs (shift {name or tensor}): "
                f"its values are too large for {self.precision}; use float32 or retrain with smaller weights"
            )
        if name:
            self.constants[name] = amount
        return amount

    def linear(
        self,
        name: str,
        weight: np.ndarray,
        bias: np.ndarray,
        in_frac: np.ndarray,
        in_max: list[int],
        targets: Callable[[int, list[int]], dict[str, int]],
    ) -> _Linear:
        """Quantize ``acc = b + W z``: choose ``{name}_acc``, the finest accumulator format in which every
        row's exact bound plus the rounding offset of the largest shift fits W bits.

        ``targets(acc, row_max)`` returns the formats the accumulator is shifted to (chosen from the exact
        bound); every one must be <= the accumulator format.
        """
        in_frac = np.asarray(in_frac, dtype=np.int64)
        col_max = np.max(np.abs(weight), axis=0) if weight.size else np.zeros(weight.shape[1])
        w_frac_max = np.array([frac_bits_for(float(v), self.bits) for v in col_max], dtype=np.int64)
        in_real = np.array([float(m) for m in in_max]) / np.exp2(in_frac.astype(np.float64))
        real = float(np.max(np.abs(weight) @ in_real + np.abs(bias)))
        self.note(f"{name}_acc", real, "proof")
        forced = self.override(f"{name}_acc")
        acc = int(min(int(np.min(in_frac + w_frac_max)), frac_bits_for(real, self.wide)))
        if forced is not None:
            acc = forced
        for _ in range(self.wide):
            scale = np.exp2((acc - in_frac).astype(np.float64))
            w_q = quantize_value(weight * scale[None, :], 0, self.bits)
            b_q = quantize_value(bias, acc, self.wide)
            exact_w = np.abs(weight * scale[None, :]).max(initial=0.0) < self.limit + 0.5
            row_max = _exact_row_bounds(w_q, b_q, in_max)
            worst = max(row_max)
            goals = targets(acc, row_max) if exact_w and worst <= self.wide_limit else {}
            if goals and max(goals.values()) <= acc:
                rounding = 1 << max(acc - min(goals.values()) - 1, 0)
                if worst + rounding <= self.wide_limit:
                    self.formats[f"{name}_acc"] = acc
                    self.note(f"{name}_acc", worst / math.ldexp(1.0, acc), "proof")
                    return _Linear(w_q, b_q, acc, row_max, goals)
            if forced is not None:
                raise QuantizationError(
                    f"format override {name}_acc={forced} overflows: tensor '{name}' accumulates up to "
                    f"{real:.4g}, which needs a coarser format"
                )
            acc -= 1
        raise QuantizationError(
            f"tensor '{name}' accumulates up to {real:.4g}: no {self.wide}-bit accumulator format holds it "
            f"with the resolution its targets need; use float32 or retrain with smaller weights"
        )


def _calibrated_ranges(model: Model, calib: CalibrationStats) -> dict[str, float]:
    """Run the float64 reference over the calibration sequences: max |h|, backbone pre-activation ranges."""
    cfc = model.cfc
    assert cfc is not None
    x, dt = calib.sequences.x, calib.sequences.dt
    _, states = run_steps(CfcReference(model), x, dt, np.zeros((x.shape[0], model.state_size)), model.output_size)
    ranges = {"h": float(np.abs(states).max())}
    if model.cell == "cfc" and cfc.backbone_layers:
        previous = np.concatenate([np.zeros_like(states[:, :1]), states[:, :-1]], axis=1)
        z = np.concatenate([x, previous], axis=2).reshape(-1, x.shape[2] + states.shape[2])
        activation = ACTIVATIONS[cfc.activation]
        for k in range(cfc.backbone_layers):
            pre = z @ model.arrays[f"backbone.{k}.weight"].T + model.arrays[f"backbone.{k}.bias"]
            ranges[f"bb{k}_pos"] = float(max(pre.max(), 0.0))
            ranges[f"bb{k}_abs"] = float(np.abs(pre).max())
            z = activation(pre)
    return ranges


def _phi(x: np.ndarray) -> np.ndarray:
    return np.array([0.5 * (1.0 + math.erf(float(v) / math.sqrt(2.0))) for v in x])


def quantize_cfc_fixed(
    model: Model, precision: str, calib: CalibrationStats, overrides: dict[str, int] | None = None
) -> QuantizedModel:
    """fixed16 / fixed32: choose every format (see the module docstring) and quantize every parameter.

    ``overrides`` maps scalar format names (``h``, ``dt``, ``z``, ``e``, ``bbK_act``, ``..._acc``, ``Lta``,
    ``Lf1``, ``LA``) to fractional bits; an override that could overflow raises :class:`QuantizationError`,
    as does an unknown name (the message lists the valid ones).
    """
    cfc = model.cfc
    assert cfc is not None
    qz = _Quantizer(precision, overrides)
    bits = qz.bits
    s = bits - 1
    one = 1 << s
    p = effective_cfc(model)
    ranges = _calibrated_ranges(model, calib)
    layers = cfc_layers(model)
    params: dict[str, np.ndarray] = {}

    # Elapsed time, as LTC: calibrated largest dt with a 4x margin; dt_q is saturated to [0, 2**(B-1) - 1].
    fdt = qz.choose("dt", calib.dt_max * 4.0, "calibration")
    dt_max_q = qz.limit

    # Q z: Phi's input format (gelu; its table span 8 needs z <= B - 5) and the least resolution every tanh
    # input is asked for (Q(z+1), so the tanh table's own format Q t, chosen at the end, is at least that).
    table_bits = TABLE_BITS[bits]
    fz = qz.override("z")
    fz = Z_FRAC[bits] if fz is None else fz
    if not table_bits - 3 <= fz <= bits - 5:
        raise QuantizationError(f"format override z={fz} is outside [{table_bits - 3}, {bits - 5}]")
    qz.formats["z"], qz.formats["s"] = fz, s

    # Inputs: per-feature formats from calibration, saturated to B bits by the caller.
    x_bound = calib.x_absmax + 1e-12  # margin already in x_absmax (calibration.HEADROOM)
    x_frac = np.array([frac_bits_for(float(b), bits) for b in x_bound], dtype=np.int64)
    qz.note("x", float(np.max(x_bound)), "calibration")
    x_max = [1 << (bits - 1)] * model.input_size

    # State: one format for all layers. default: |h| <= 1 (convex combination of tanh values);
    # no_gate: |h| <= 2 (tanh + gate * tanh).
    if cfc.mode == "default":
        fh = qz.choose("h", 1.0, "proof")
        h_max = 1 << fh
    elif cfc.mode == "no_gate":
        fh = qz.choose("h", 2.0, "proof")
        h_max = 1 << (fh + 1)
    else:
        fh = _pure_state_format(qz, p, layers, ranges, calib)
        h_max = 1 << (bits - 1)  # saturated
    if cfc.mode == "default":
        qz.shift("h_s", 2 * s + 1 - fh, "h")
    elif cfc.mode == "no_gate":
        qz.shift("h_s1", s - fh, "h")
        qz.shift("h_s2", 2 * s - fh, "h")
    uses: list[tuple[str, int, int, str, int]] = []

    # Backbone (dense only).
    in_frac = np.concatenate([x_frac, np.full(model.state_size if model.cell == "cfc" else 0, fh)])
    in_max = x_max + [h_max] * (model.state_size if model.cell == "cfc" else 0)
    backbone = cfc.backbone_layers if model.cell == "cfc" else 0
    if backbone and cfc.activation == "lecun_tanh":
        # lecun_tanh(x) = 1.7159 tanh(0.666 x): 0.666 scales each backbone layer's weights and bias, 1.7159 the
        # weights of whatever reads the activations (the next backbone layer, or every head), so the step
        # only evaluates tanh. Exact in real arithmetic; the quantized weights are those of the scaled layers.
        for k in range(backbone):
            if k:
                p[f"bb{k}_w"] = p[f"bb{k}_w"] * LECUN_OUT
            p[f"bb{k}_w"] = p[f"bb{k}_w"] * LECUN_IN
            p[f"bb{k}_b"] = p[f"bb{k}_b"] * LECUN_IN
        for head in ("ff1",) if cfc.mode == "pure" else ("ff1", "ff2", "ta", "tb"):
            p[f"{head}_w"] = p[f"{head}_w"] * LECUN_OUT
    deep = backbone >= DEEP_BACKBONE
    for k in range(backbone):
        in_frac, in_max = _backbone_layer(qz, params, p, k, cfc.activation, in_frac, in_max, ranges, uses, deep)

    # Heads, layer by layer.
    tau_needed = cfc.mode == "pure"
    pure_parts: list[tuple[CfcLayer, int, int]] = []
    gates: list[_Gate] = []
    for layer in layers:
        if model.cell == "wired_cfc":
            seg_frac = x_frac if layer.index == 0 else np.full(layer.inputs, fh)
            seg_max = x_max if layer.index == 0 else [h_max] * layer.inputs
            in_frac = np.concatenate([seg_frac, np.full(layer.size, fh)])
            in_max = list(seg_max) + [h_max] * layer.size
            params[f"{layer.name}mask"] = p[f"{layer.name}mask"].astype(np.int64)
        if tau_needed:
            pure_parts.append((layer, *_pure_head(qz, params, p, layer, in_frac, in_max)))
        else:
            gates.append(_gated_heads(qz, params, p, layer, in_frac, in_max, fz, fdt, uses))

    if tau_needed:
        _pure_combination(qz, params, p, pure_parts, fdt, fh)

    # The tanh table: its input format, then every shift into it.
    tanh_used = bool(uses) or bool(gates)
    if tanh_used:
        tanh_bits = (TANH_INDEX_BITS_DEEP if deep else TANH_INDEX_BITS)[bits]
        ft = _table_input_format(qz, uses, gates, fdt, tanh_bits)
        for gate in gates:
            _gate_shifts(qz, gate, ft, fdt, dt_max_q)
        for shift_name, source, offset, tensor, row_max in uses:
            amount = qz.shift(shift_name, source - (ft + offset), tensor)
            if row_max:  # the C folds this shift's rounding into the bias of the accumulator
                qz.require_fits(f"{tensor} (bias + rounding)", row_max + ((1 << (amount - 1)) if amount else 0))
        mirrored = TANH_MIRRORED[bits]
        params["tanh_table"] = np.array(cfc_tanh_table(tanh_bits, ft, s, mirrored=mirrored).values, dtype=np.int64)
        qz.constants["tanh_index_bits"] = tanh_bits
        qz.constants["tanh_mirrored"] = int(mirrored)

    # Outputs.
    y_frac = _outputs(qz, params, p, model, fh, h_max)

    qz.refuse_unknown_overrides("CfC")

    params["x_frac"] = x_frac
    params["y_frac"] = y_frac
    if backbone and cfc.activation == "gelu":
        phi = make_table("phi", _phi, PHI_SPAN_LOG2, table_bits, fz, s)
        params["phi_table"] = np.array(phi.values, dtype=np.int64)
        qz.constants["phi_index_bits"] = table_bits
    qz.constants["layers"] = len(layers)
    qz.constants["backbone_layers"] = backbone
    qz.constants["dt_default_q"] = int(quantize_value(model.dt, fdt, bits))
    qz.constants["one"] = one
    qz.constants["cfc_scheme"] = CFC_SCHEME
    qz.constants.update(ff_dense_constants(params, model, precision))
    return QuantizedModel(model, precision, params, qz.formats, qz.constants, qz.bounds, qz.sources)


def _pure_state_format(
    qz: _Quantizer,
    p: dict[str, np.ndarray],
    layers: list[CfcLayer],
    ranges: dict[str, float],
    calib: CalibrationStats,
) -> int:
    """Pure mode: h = A (1 - e ff1), e = exp(-t (|w_tau| + |ff1|)). Since |ff1| e <= exp(-t |w_tau|) / (e t),
    |h| <= |A| (1 + exp(-t_min |w_tau|) / (e t_min)) for t >= t_min (a proof for dt >= the calibrated
    minimum), else twice the calibrated max |h|. Never below max |A| (h = A when ff1 = 0)."""
    t_min = calib.dt_min
    proof = 0.0
    a_max = 0.0
    for layer in layers:
        a = np.abs(p[f"{layer.name}A"])
        tau = p[f"{layer.name}tau"]
        proof = max(proof, float(np.max(a * (1.0 + np.exp(-t_min * tau) / (math.e * t_min)))))
        a_max = max(a_max, float(a.max()))
    calibrated = max(STATE_MARGIN * ranges["h"], a_max, MIN_CALIBRATED)
    if proof <= calibrated:
        return qz.choose("h", proof * (1.0 + 2.0**-10), "proof")
    return qz.choose("h", calibrated, "calibration")


def _backbone_layer(
    qz: _Quantizer,
    params: dict[str, np.ndarray],
    p: dict[str, np.ndarray],
    k: int,
    activation: str,
    in_frac: np.ndarray,
    in_max: list[int],
    ranges: dict[str, float],
    uses: list[tuple[str, int, int, str, int]],
    deep: bool,
) -> tuple[np.ndarray, list[int]]:
    """Quantize backbone layer k; return the (format, proven integer bound) of its activations. Reads of the
    tanh table are appended to ``uses`` (shift name, source format, offset, tensor, folded bound; see
    :func:`_table_input_format`). ``deep``: the backbone has at least :data:`DEEP_BACKBONE` layers."""
    bits, s = qz.bits, qz.bits - 1
    fz = qz.formats["z"]
    name = f"bb{k}"
    act_name = f"{name}_act"
    if activation in ("tanh", "lecun_tanh"):
        # The activation is the tanh table's output, Q s, |a| <= 2**s - 1, or in a deep backbone that output
        # rounded to Q(s - drop) (lecun_tanh: 0.666 is folded into this layer's weights, 1.7159 into the next
        # layer's; see quantize_cfc_fixed).
        drop = BACKBONE_ACT_DROP[bits] if deep else 0
        af = s - drop
        qz.formats[act_name] = af
        qz.note(act_name, 1.0, "proof")
        lin = qz.linear(name, p[f"{name}_w"], p[f"{name}_b"], in_frac, in_max, lambda acc, rows: {"z": fz + 1})
        uses.append((f"{name}_sz", lin.acc, 0, name, max(lin.row_max)))
        if drop:
            qz.constants[f"{name}_sr"] = drop
        out_max = _rshift_round_int((1 << s) - 1, drop)
    else:
        key = "pos" if activation == "relu" else "abs"
        calibrated = max(ACT_MARGIN * ranges[f"{name}_{key}"], MIN_CALIBRATED)
        forced = qz.override(act_name)
        af_cal = frac_bits_for(calibrated, bits) if forced is None else forced
        chosen: dict[str, int] = {}

        def goals(acc: int, rows: list[int]) -> dict[str, int]:
            # The proven bound of the pre-activation (|relu|, |silu|, |gelu| <= |pre|) may beat calibration.
            proof = qz.fit(act_name, max(rows), acc)
            chosen["af"] = max(af_cal, proof) if forced is None else forced
            chosen["proof"] = int(proof >= af_cal and forced is None)
            result = {"a": chosen["af"]}
            if activation != "relu":
                result["z"] = fz
            return result

        lin = qz.linear(name, p[f"{name}_w"], p[f"{name}_b"], in_frac, in_max, goals)
        af = chosen["af"]
        if activation == "silu":  # sigmoid(x) = (1 + tanh(x / 2)) / 2: the table reads x / 2, so x in Q(t - 1)
            uses.append((f"{name}_sz", lin.acc, -1, name, 0))
        qz.formats[act_name] = af
        if chosen["proof"]:
            qz.note(act_name, max(lin.row_max) / math.ldexp(1.0, lin.acc), "proof")
        else:
            qz.note(act_name, calibrated, "calibration" if forced is None else "override")
        qz.shift(f"{name}_sa", lin.acc - af, name)
        if activation == "gelu":
            qz.shift(f"{name}_sz", lin.acc - fz, name)
        out_max = 1 << (bits - 1)  # saturated to B bits (|silu|, |gelu| <= |saturated input|)
    params[f"{name}_w"], params[f"{name}_b"] = lin.w, lin.b
    width = p[f"{name}_w"].shape[0]
    return np.full(width, af, dtype=np.int64), [out_max] * width


@dataclass
class _Gate:
    """The time heads of one layer, quantized; their shifts wait for the tanh table's input format."""

    pre: str
    ta: _Linear
    tb: _Linear
    fta: int
    forced: bool


def _gated_heads(
    qz: _Quantizer,
    params: dict[str, np.ndarray],
    p: dict[str, np.ndarray],
    layer: CfcLayer,
    in_frac: np.ndarray,
    in_max: list[int],
    fz: int,
    fdt: int,
    uses: list[tuple[str, int, int, str, int]],
) -> _Gate:
    """ff1, ff2 (into the tanh table), time_a (requantized to B bits for the product with dt), time_b (added
    to that product in its format, Q(Lta + dt))."""
    pre = layer.name
    for head in ("ff1", "ff2"):
        weight, bias = p[f"{pre}{head}_w"], p[f"{pre}{head}_b"]
        lin = qz.linear(f"{pre}{head}", weight, bias, in_frac, in_max, lambda a, r: {"z": fz + 1})
        params[f"{pre}{head}_w"], params[f"{pre}{head}_b"] = lin.w, lin.b
        uses.append((f"{pre}{head}_sz", lin.acc, 0, f"{pre}{head}", max(lin.row_max)))

    ta_name = f"{pre}ta"
    forced = qz.override(ta_name)
    chosen: dict[str, int] = {}

    def ta_goals(acc: int, rows: list[int]) -> dict[str, int]:
        chosen["f"] = qz.fit(ta_name, max(rows), acc) if forced is None else forced
        return {"ta": chosen["f"]}

    ta = qz.linear(ta_name, p[f"{ta_name}_w"], p[f"{ta_name}_b"], in_frac, in_max, ta_goals)
    params[f"{ta_name}_w"], params[f"{ta_name}_b"] = ta.w, ta.b
    tb_name = f"{pre}tb"
    tb = qz.linear(tb_name, p[f"{tb_name}_w"], p[f"{tb_name}_b"], in_frac, in_max, lambda a, r: {"z": fz})
    params[f"{tb_name}_w"], params[f"{tb_name}_b"] = tb.w, tb.b
    # The gate argument, read by the table as gz / 2, must be at least as fine as Q(t - 1).
    return _Gate(pre, ta, tb, chosen["f"], forced is not None)


def _table_input_format(
    qz: _Quantizer, uses: list[tuple[str, int, int, str, int]], gates: list[_Gate], fdt: int, table_bits: int
) -> int:
    """The tanh table's input format Q t: the finest (at most :data:`TANH_IN_MAX`) that every reader reaches
    with a right shift. A reader with offset -1 passes x for tanh(x / 2) (a sigmoid), so x is in Q(t - 1)."""
    limits = [TANH_IN_MAX[qz.bits]]
    limits += [source - offset for _, source, offset, _, _ in uses]
    limits += [gate.fta + fdt + 1 for gate in gates]
    ft = min(limits)
    forced = qz.override("t")
    if forced is not None:
        if forced > ft:
            raise QuantizationError(f"format override t={forced} is finer than the step allows (at most {ft})")
        ft = forced
    if ft + 3 - table_bits < 1:
        raise QuantizationError(
            f"tensor 'tanh_table' input format Q{ft} is too coarse for its {2**table_bits} segments"
        )
    qz.formats["t"] = ft
    qz.note("t", 8.0, "table span")
    return ft


def _gate_shifts(qz: _Quantizer, gate: _Gate, ft: int, fdt: int, dt_max_q: int) -> None:
    """gz = ta * dt_q + rshift_round(tb, Ltb_s) in Q(Lta + dt); the table reads rshift_round(gz, Lg_s) in
    Q(t - 1). Lta is lowered from its finest format until tb reaches Q(Lta + dt) with a right shift and the
    sum, with every rounding offset the C folds into the tb bias, fits W bits."""
    pre = gate.pre
    ta_name, tb_name = f"{pre}ta", f"{pre}tb"
    ta_rows, tb_rows = max(gate.ta.row_max), max(gate.tb.row_max)
    fta = gate.fta
    while True:
        ta_shift = gate.ta.acc - fta
        g_shift = fta + fdt - (ft - 1)
        tb_shift = gate.tb.acc - (fta + fdt)
        if ta_shift < 0 or g_shift < 0:
            raise QuantizationError(
                f"tensor '{pre}time_a' cannot be held in a format fine enough for the gate: its values are too "
                f"large for {qz.precision}; use float32 or retrain with smaller weights"
            )
        ta_max = _rshift_round_int(ta_rows, ta_shift)
        g_round = (1 << (g_shift - 1)) if g_shift else 0
        fits = tb_shift >= 0 and ta_max <= qz.limit
        if fits:
            tb_round = (1 << (tb_shift - 1)) if tb_shift else 0
            total = ta_max * dt_max_q + _rshift_round_int(tb_rows, tb_shift) + g_round
            folded_tb = tb_rows + tb_round + (g_round << tb_shift)
            folded_ta = ta_rows + ((1 << (ta_shift - 1)) if ta_shift else 0)
            fits = max(total, folded_tb, folded_ta) <= qz.wide_limit
        if fits:
            break
        if gate.forced:
            raise QuantizationError(f"format override {ta_name}={fta} overflows the gate of layer '{pre or 'cell'}'")
        fta -= 1
    qz.formats[ta_name] = fta
    qz.note(ta_name, ta_rows / math.ldexp(1.0, gate.ta.acc), "proof")
    qz.shift(f"{ta_name}_s", ta_shift, ta_name)
    qz.shift(f"{tb_name}_s", tb_shift, tb_name)
    qz.shift(f"{pre}g_s", g_shift, f"{pre}time_a*dt")


def _pure_head(
    qz: _Quantizer,
    params: dict[str, np.ndarray],
    p: dict[str, np.ndarray],
    layer: CfcLayer,
    in_frac: np.ndarray,
    in_max: list[int],
) -> tuple[int, int]:
    """ff1 requantized to Q``Lf1`` with |w_tau| in the same format so that tau + |ff1| fits B bits."""
    pre = layer.name
    name = f"{pre}f1"
    tau = p[f"{pre}tau"]
    forced = qz.override(name)
    chosen: dict[str, int] = {}

    def goals(acc: int, rows: list[int]) -> dict[str, int]:
        f = qz.fit(name, max(rows), acc) if forced is None else forced
        if forced is None:
            while True:
                tau_q = quantize_value(tau, f, qz.bits)
                worst = max(int(t) + _rshift_round_int(r, acc - f) for t, r in zip(tau_q, rows, strict=True))
                if worst <= qz.limit:
                    break
                f -= 1
        chosen["f"] = f
        return {"f1": f}

    lin = qz.linear(f"{pre}ff1", p[f"{pre}ff1_w"], p[f"{pre}ff1_b"], in_frac, in_max, goals)
    fp = chosen["f"]
    qz.formats[name] = fp
    params[f"{pre}ff1_w"], params[f"{pre}ff1_b"] = lin.w, lin.b
    shift = qz.shift(f"{pre}ff1_sp", lin.acc - fp, f"{pre}ff1")
    tau_q = quantize_value(tau, fp, qz.bits)
    worst = max(int(t) + _rshift_round_int(r, shift) for t, r in zip(tau_q, lin.row_max, strict=True))
    qz.require_fits(f"{pre}tau+|ff1|", worst, qz.bits)
    qz.note(name, worst / math.ldexp(1.0, fp), "proof")
    params[f"{pre}tau"] = tau_q
    return fp, worst


def _pure_combination(
    qz: _Quantizer,
    params: dict[str, np.ndarray],
    p: dict[str, np.ndarray],
    parts: list[tuple[CfcLayer, int, int]],
    fdt: int,
    fh: int,
) -> None:
    """u = rshift_round(dt_q * k, Lu_s) (Q e); e = exp(-u); m = rshift_round(e * f1, s);
    h = A_h - rshift_round(A * m, LA_s)."""
    bits, s = qz.bits, qz.bits - 1
    table_bits = TABLE_BITS[bits]
    fe = qz.override("e")
    if fe is None:
        fe = min(EXP_IN_FRAC[bits], min(fdt + fp for _, fp, _ in parts))
    if fe < table_bits or fe > bits + 8:
        raise QuantizationError(
            f"tensor 'exp_table' input format Q{fe} is outside [{table_bits}, {bits + 8}]: the elapsed time "
            "or ff1 are too large for this precision; use float32"
        )
    qz.formats["e"] = fe
    for layer, fp, k_max in parts:
        pre = layer.name
        qz.shift(f"{pre}u_s", fdt + fp - fe, f"{pre}tau+|ff1|")
        a = p[f"{pre}A"]
        fa = qz.choose(f"{pre}A", float(np.max(np.abs(a))), "parameters")
        params[f"{pre}A"] = quantize_value(a, fa, bits)
        params[f"{pre}A_h"] = quantize_value(a, fh, bits)
        qz.require_fits(f"{pre}A", int(np.max(np.abs(params[f"{pre}A_h"]))), bits)
        a_shift = qz.shift(f"{pre}A_s", fa + fp - fh, f"{pre}A")
        # |A_q * m| <= 2**(B-1) * k_max; h = A_h - rshift_round(A_q * m, A_s) before saturation fits W bits.
        qz.require_fits(f"{pre}A*m", (1 << (bits - 1)) * k_max + (1 << max(a_shift - 1, 0)))
    table = exp_neg_table(table_bits, fe, s)
    params["exp_table"] = np.array(table.values, dtype=np.int64)
    params["exp_factors"] = np.array(exp_neg_int_factors(s), dtype=np.int64)
    qz.constants["exp_index_bits"] = table_bits


def _outputs(
    qz: _Quantizer, params: dict[str, np.ndarray], p: dict[str, np.ndarray], model: Model, fh: int, h_max: int
) -> np.ndarray:
    """Projection (per-output formats from exact bounds) and the optional affine output mapping."""
    cfc = model.cfc
    assert cfc is not None
    bits = qz.bits
    last = cfc.layer_sizes[-1]
    if cfc.proj_size is not None:
        chosen: dict[str, list[int]] = {}

        def goals(acc: int, rows: list[int]) -> dict[str, int]:
            chosen["f"] = [qz.fit("fc", r, acc) for r in rows]
            return {f"p{k}": f for k, f in enumerate(chosen["f"])}

        lin = qz.linear("fc", p["fc_w"], p["fc_b"], np.full(last, fh), [h_max] * last, goals)
        p_frac = np.array(chosen["f"], dtype=np.int64)
        shifts = lin.acc - p_frac
        if np.any(shifts < 0):
            raise QuantizationError("tensor 'fc' needs a left shift: its values are too large for this precision")
        params["fc_w"], params["fc_b"], params["fc_shift"] = lin.w, lin.b, shifts.astype(np.int64)
        p_max = [_rshift_round_int(r, int(sh)) for r, sh in zip(lin.row_max, shifts, strict=True)]
    else:
        p_frac = np.full(last, fh, dtype=np.int64)
        p_max = [h_max] * last
    if cfc.output_mapping != "affine":
        qz.note("y", max(m / math.ldexp(1.0, int(f)) for m, f in zip(p_max, p_frac, strict=True)), "proof")
        return p_frac
    ow, ob = p["out_w"], p["out_b"]
    ow_frac = np.array([frac_bits_for(abs(float(w)), bits) for w in ow], dtype=np.int64)
    ow_q = quantize_value(ow * np.exp2(ow_frac.astype(np.float64)), 0, bits)
    p_real = np.array([m / math.ldexp(1.0, int(f)) for m, f in zip(p_max, p_frac, strict=True)])
    y_bound = p_real * np.abs(ow_q / np.exp2(ow_frac.astype(np.float64))) + np.abs(ob)
    y_frac = np.array(
        [frac_bits_for(float(b) * (1 + 2.0**-10) + 2.0 ** -(bits - 2), bits) for b in y_bound], dtype=np.int64
    )
    out_shift = p_frac + ow_frac - y_frac
    for k, amount in enumerate(out_shift):
        qz.shift("", int(amount), f"output_w[{k}]")  # per output: the array out_shift
    out_b = quantize_value(ob * np.exp2(y_frac.astype(np.float64)), 0, bits)
    for k in range(len(ow)):
        product = p_max[k] * abs(int(ow_q[k]))
        qz.require_fits("y", product + (1 << max(int(out_shift[k]) - 1, 0)))
        y_max = _rshift_round_int(product, int(out_shift[k])) + abs(int(out_b[k]))
        if y_max > qz.limit:  # rounding pushed past the format: one bit coarser
            y_frac[k] -= 1
            out_shift[k] += 1
            out_b[k] = int(quantize_value(float(ob[k]) * math.ldexp(1.0, int(y_frac[k])), 0, bits))
            y_max = _rshift_round_int(product, int(out_shift[k])) + abs(int(out_b[k]))
        qz.require_fits("y", y_max, bits)
    qz.note("y", float(y_bound.max()), "proof")
    params["out_w"], params["out_shift"], params["out_b"] = ow_q, out_shift.astype(np.int64), out_b
    return y_frac

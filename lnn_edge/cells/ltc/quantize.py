"""LTC quantization: number formats from provable bounds and calibration, and the deployable parameters.

The fixed-point LTC step (see :mod:`lnn_edge.cells.ltc.emulate` and ``docs/number-formats.md``) is built so that
the semi-implicit update stays a convex combination in integers: every conductance (cm/Δ, gleak, each
synapse's w*sigmoid) shares the format ``g`` and every potential (state, vleak, erev) the format ``v``, the
leak term is the integer product ``gleak_q * vleak_q``, and the update is one rounded division:
``v += div_round_fast(S - G v, cm_t + G)`` with ``G`` the conductance sum and ``S`` the conductance-weighted
reversal potentials, which equals ncps's ``(cm_t v + S) / (cm_t + G)``. So |v_q| never exceeds
max(|vleak_q|, |erev_q|) — no state saturation is possible, for any input and any number of steps (the
division rounds to floor or ceil because every denominator is >= 3: the base conductance ``gleak_eps`` is at
least 3 LSB). The numerator never involves cm/Δ, so only ``G`` (not the large cm/Δ of short time steps) limits
the resolution of ``g``: ``G < 2**(B-2)`` is proven from the parameters, and cm/Δ only has to fit the W-bit
denominator.

A synapse's sigmoid is read from one table over [-16, 16) at the position ``p = sigma * pre + c``: ``c`` holds
``-sigma * mu``, the rounding of the shift to the sigmoid input and the offset of 16 (positions count from -16),
and its low ``source_bits`` bits are the presynaptic index (see :func:`_sigmoid_offsets`). ``sig``/``ssig`` are
capped so that ``p`` fits W - 1 bits for any B-bit ``pre``.

Names of deployable arrays (shared by the emulator and the C templates):

===============  ========  =================================  ===========================
name             shape     meaning                            format
===============  ========  =================================  ===========================
x_frac           [S]       input format per feature           (fractional bits)
in_w, in_shift   [S]       input mapping weight, its shift    Q``iw_frac[j]``
in_b             [S]       input mapping bias                 Q``xm``
s_sigma, s_c     [S,N]     sensory slope, table offset        Q``ssig``, Q``ssig+xm`` (W bits)
s_w, s_erev      [S,N]     sensory max conductance, reversal  Q``g`` (0 if no synapse), Q``v``
sigma, c         [N,N]     synapse slope, table offset        Q``sig``, Q``sig+v`` (W bits)
w, erev          [N,N]     synapse max conductance, reversal  Q``g`` (0 if no synapse), Q``v``
s_mask, mask     [S,N]...  topology (1 = synapse exists)      0/1
gleak            [N]       leak conductance                   Q``g``
gleak_eps        [N]       max(gleak + eps, 3)                Q``g``
gleak_vleak      [N]       gleak_q * vleak_q                  Q``g+v``
cm_u             [N]       cm * unfolds, B bits               Q``g+dt-cm_shift`` (constant ``cm_shift``)
out_w, out_shift [M]       output weight, its shift           Q``ow_frac[k]``
out_b, y_frac    [M]       output bias, output format         Q``y_frac[k]``
sigmoid_table    [2^k+1]   sigmoid on [-16, 16]               Q``s`` (:class:`~lnn_edge.quant.fixedpoint.ClampedTable`)
===============  ========  =================================  ===========================

float32 (:func:`quantize_ltc_float32`): ``s_a, s_b, s_w, s_erev`` [S,N], ``a, b, w, erev`` [N,N] (t = b + a * pre
is -z log2(e)), ``gleak, cm, leak`` [N], ``out_w, out_b`` [M], the masks.
"""

from __future__ import annotations

import math

import numpy as np

from lnn_edge.cells.ltc.layout import source_bits
from lnn_edge.floatmath import softplus
from lnn_edge.model.model import Model
from lnn_edge.quant.calibration import CalibrationStats
from lnn_edge.quant.fixedpoint import quantize_value, sigmoid_clamped_table
from lnn_edge.quant.qformat import (
    FormatChooser,
    QuantizationError,
    frac_bits_for,
    max_abs,
    max_product_shift,
    require_resolution,
)
from lnn_edge.quant.qmodel import QuantizedModel

SIGMOID_INDEX_BITS = {16: 6, 32: 9}
"""Sigmoid table resolution k: segments of width 16 / 2**k over [-16, 16), i.e. 2**(k+1) segments:
128 segments (h = 1/4, stored as 128 x {uint16 sample, int16 slope} pairs) for fixed16, 1024 (h = 1/32,
1025 x uint32 samples) for fixed32."""
MIN_BASE_CONDUCTANCE = 3
"""Smallest gleak + eps (in LSB of ``g``): keeps every update denominator >= 3 (see :func:`div_round_fast`)."""
Z_FRAC = {16: 11, 32: 24}
"""Fractional bits of sigmoid inputs: [-16, 16) needs 5 integer bits."""


def effective_ltc(model: Model) -> dict[str, np.ndarray]:
    """The LTC parameters as the step uses them: positivity applied, mappings made explicit, masks applied."""
    assert model.ltc is not None
    p = {name: array.copy() for name, array in model.arrays.items()}
    if model.ltc.implicit_constraints:
        for name in ("gleak", "cm", "w", "sensory_w"):
            p[name] = softplus(p[name])
    s, m = model.input_size, model.output_size
    p.setdefault("input_w", np.ones(s))
    p.setdefault("input_b", np.zeros(s))
    p.setdefault("output_w", np.ones(m))
    p.setdefault("output_b", np.zeros(m))
    p["w"] = p["w"] * p["sparsity_mask"]
    p["sensory_w"] = p["sensory_w"] * p["sensory_sparsity_mask"]
    return p


def quantize_ltc_float32(model: Model) -> QuantizedModel:
    """float32: the step's constants computed in float64 and rounded to float32 once.

    A synapse's sigmoid is read as 1 / (1 + 2**t) with t = -z log2(e) = a * pre + b: ``a = -sigma log2(e)``,
    ``b = sigma mu log2(e)``; for sensory synapses the input mapping is folded in (``pre`` is the raw input x:
    ``s_a = -s_sigma in_w log2(e)``, ``s_b = s_sigma (s_mu - in_b) log2(e)``). ``leak = gleak vleak``.
    Absent synapses have w = 0 (and a = b = 0)."""
    p = effective_ltc(model)
    mask, smask = p["sparsity_mask"], p["sensory_sparsity_mask"]
    log2e = 1.0 / math.log(2.0)
    in_w, in_b = p["input_w"][:, None], p["input_b"][:, None]
    params64 = {
        "s_a": -p["sensory_sigma"] * in_w * log2e * smask,
        "s_b": p["sensory_sigma"] * (p["sensory_mu"] - in_b) * log2e * smask,
        "s_w": p["sensory_w"],
        "s_erev": p["sensory_erev"] * smask,
        "a": -p["sigma"] * log2e * mask,
        "b": p["sigma"] * p["mu"] * log2e * mask,
        "w": p["w"],
        "erev": p["erev"] * mask,
        "gleak": p["gleak"],
        "cm": p["cm"],
        "leak": p["gleak"] * p["vleak"],
        "out_w": p["output_w"],
        "out_b": p["output_b"],
        "s_mask": smask,
        "mask": mask,
    }
    params = {name: np.asarray(value, dtype=np.float64).astype(np.float32) for name, value in params64.items()}
    assert model.ltc is not None
    return QuantizedModel(
        model=model,
        precision="float32",
        params=params,
        constants={"unfolds": model.ltc.ode_unfolds, "epsilon": float(np.float32(model.ltc.epsilon))},
    )


def quantize_ltc_fixed(
    model: Model, precision: str, calib: CalibrationStats, overrides: dict[str, int] | None = None
) -> QuantizedModel:
    """fixed16 / fixed32: choose formats (overridable by name) and quantize every parameter."""
    assert model.ltc is not None
    chooser = FormatChooser(precision, overrides)
    bits = chooser.bits
    choose = chooser.choose
    formats, bounds, sources = chooser.formats, chooser.bounds, chooser.sources
    p = effective_ltc(model)
    mask, smask = p["sparsity_mask"].astype(bool), p["sensory_sparsity_mask"].astype(bool)
    unfolds = model.ltc.ode_unfolds

    # Potentials: |v| <= max(|v0| = 0, |vleak|, |erev|, |sensory_erev|) at every step (convex combination);
    # mu shares the format because the step subtracts v - mu.
    vmax = max(max_abs(p["vleak"]), max_abs(p["erev"], mask), max_abs(p["sensory_erev"], smask))
    bounds["state"], sources["state"] = vmax, "proof"
    fv = choose("v", max(vmax, max_abs(p["mu"], mask)), "proof", minimum=bits // 4)

    # Inputs: per-feature formats from calibration (sensors come in very different units).
    x_bound = calib.x_absmax + 1e-12  # margin already in x_absmax (calibration.HEADROOM)
    x_frac = np.array([frac_bits_for(float(b), bits) for b in x_bound], dtype=np.int64)
    iw_frac = np.array([frac_bits_for(abs(float(w)), bits) for w in p["input_w"]], dtype=np.int64)
    mapped = x_bound * np.abs(p["input_w"]) + np.abs(p["input_b"])  # each input's mapped bound
    xm_bound = float(np.max(mapped))
    bounds["xm_calibrated"], sources["xm_calibrated"] = xm_bound, "calibration"
    try:
        fxm = choose("xm", max(xm_bound, max_abs(p["sensory_mu"], smask)), "calibration", minimum=bits // 4)
    except QuantizationError as error:  # say which input: 'xm' is the step's name for every mapped input
        k = int(np.argmax(mapped))
        if "override" in str(error) or mapped[k] < max_abs(p["sensory_mu"], smask):
            raise
        raise QuantizationError(
            f"{error}. The largest mapped input is input '{model.input_names[k]}': {x_bound[k]:.4g} (its calibrated "
            f"range with headroom) times its input weight {float(p['input_w'][k]):.4g}; if the sensor cannot "
            f"reach that, declare its range (--input-range {model.input_names[k]}=LO:HI)"
        ) from None
    # A weight far below the mapped input's resolution (a dead channel: 1e-10) would get a format whose shift
    # leaves the product's width (undefined in C, an overflow in the emulator): cap it there; it quantizes to 0
    # or 1 LSB, as its contribution is below the mapped input's LSB anyway.
    iw_frac = np.minimum(iw_frac, fxm - x_frac + max_product_shift(bits))

    fsig = choose("sig", max_abs(p["sigma"], mask), "parameters", headroom=1)
    fssig = choose("ssig", max_abs(p["sensory_sigma"], smask), "parameters", headroom=1)
    table_bits = SIGMOID_INDEX_BITS[bits]
    # The table position p = sigma * v + c (c holds -sigma mu, the rounding of the shift and the offset of 16 that
    # makes positions count from -16) must fit W - 1 bits for any B-bit v: fsig + fv <= 2B - 7. Finer sigma bits
    # are dropped (they would move z by less than one LSB of its format, see docs/number-formats.md).
    for name, other in (("sig", fv), ("ssig", fxm)):
        if formats[name] > 2 * bits - 7 - other:
            formats[name] = 2 * bits - 7 - other
            sources[name] = "parameters (capped: sigma * v + 16 fits W - 1 bits)"
    fsig, fssig = formats["sig"], formats["ssig"]
    # Each synapse's presynaptic index is kept in the low src_bits of c (no field of its own): that moves the
    # position by less than 2^(src_bits - 1), so the shift below z's LSB must be at least src_bits + 2.
    src_bits = source_bits(model)
    if src_bits + 2 > bits:  # the shift below z's LSB is at most B (z_shift <= B, below)
        raise QuantizationError(
            f"{precision} keeps a synapse's presynaptic index in {bits // 2} bits, so it takes at most "
            f"{1 << (bits // 2)} inputs and neurons; this model has {model.input_size} inputs and "
            f"{model.state_size} neurons: use fixed32 or float32"
        )
    gap = src_bits + 2
    fz = chooser.override("z")
    fz = min(Z_FRAC[bits], fsig + fv - gap, fssig + fxm - gap) if fz is None else fz
    if fz + 4 <= table_bits:
        raise QuantizationError(
            f"tensor 'sigma' (max {bounds['sig']:.4g}) with potentials up to {bounds['v']:.4g} leaves the sigmoid "
            f"input only {fz} fractional bits: use fixed32 or float32"
        )
    formats["z"] = fz
    formats["s"] = bits - 1
    # The product sigma * v keeps at most B bits below the sigmoid input's LSB (z_shift <= B): finer sigma
    # bits would only move z by < 2^-B of its LSB, and the shifts stay below the accumulator width.
    for name, other in (("sig", fv), ("ssig", fxm)):
        if formats[name] > fz + bits - other:
            formats[name] = fz + bits - other
            sources[name] = "parameters (capped: z_shift <= B)"
    fsig, fssig = formats["sig"], formats["ssig"]
    if min(fsig + fv, fssig + fxm) - fz < gap:
        raise QuantizationError(f"format override z={fz} is finer than sigma * v allows (max {fsig + fv - gap})")

    # Conductances: G = gleak + Σ w·σ + Σ w_s·σ_s + eps must fit B-2 bits, so that the numerator S - G v
    # (G times a potential difference of B+1 bits) fits the accumulator. Checked with the quantized values.
    g_real = p["gleak"] + (p["w"] * mask).sum(axis=0) + (p["sensory_w"] * smask).sum(axis=0)
    bounds["G"], sources["G"] = float(g_real.max()), "proof"
    g_override = chooser.override("g")
    fg = frac_bits_for(float(g_real.max()), bits, headroom=1) if g_override is None else g_override
    eps = model.ltc.epsilon
    while True:
        q = _quantize_conductances(p, fg, bits, eps)
        if q["g_max"] <= (1 << (bits - 2)) - 1:
            break
        if g_override is not None:
            raise QuantizationError(f"format override g={fg} overflows the LTC conductance sum")
        fg -= 1
    require_resolution("g", fg, bounds["G"], precision, minimum=bits // 4)
    formats["g"] = fg

    # Elapsed time: clamped below at a floor, so cm/Δ has a proven maximum. With irregular sampling the floor
    # is half the smallest calibrated dt (calibration rarely sees the very shortest gap); with a constant dt it
    # is that dt. Shorter elapsed times are clamped and reported as saturations of "dt". cm_u = cm * unfolds in
    # Q(g + dt) must fit W - 2 bits, which caps the dt format's fractional bits.
    dt_floor = calib.dt_min if calib.dt_min == calib.dt_max else calib.dt_min / 2
    dt_top = calib.dt_max
    cm_u_max = float(p["cm"].max()) * unfolds
    dt_cap = 2 * bits - 3 - fg - (math.ceil(math.log2(cm_u_max)) if cm_u_max > 0 else 0)
    fdt = min(frac_bits_for(dt_top * 4.0, bits), dt_cap)
    dt_override = chooser.override("dt")
    if dt_override is not None:
        fdt = dt_override
        if fdt > dt_cap:
            raise QuantizationError(f"format override dt={fdt} overflows cm * unfolds (largest safe: {dt_cap})")
    formats["dt"], bounds["dt"], sources["dt"] = fdt, dt_top * 4.0, "calibration"
    dt_min_q = int(quantize_value(dt_floor, fdt, bits))
    if dt_min_q < 1:
        raise QuantizationError(f"elapsed time {dt_floor:.3g} is below the resolution of the dt format Q{fdt}")
    # cm * unfolds keeps B significant bits (stored in B bits, shifted left by cm_shift in the step): cm/Δ is
    # then exact to a relative 2^-(B-1), far below its own rounding to Q g.
    cm_wide = int(quantize_value(p["cm"] * unfolds, fg + fdt, 2 * bits).max(initial=0))
    cm_shift = max(0, cm_wide.bit_length() - (bits - 1))
    cm_u = quantize_value(p["cm"] * unfolds, fg + fdt - cm_shift, bits)
    cm_t_max = (int(cm_u.max(initial=0)) << cm_shift) // dt_min_q + 1
    bounds["cm_t"], sources["cm_t"] = cm_t_max / math.ldexp(1.0, fg), "proof"
    if cm_t_max + q["g_max"] >= 1 << (2 * bits - 2):
        raise QuantizationError(
            f"tensor 'cm' over the shortest elapsed time ({dt_floor:.3g}) overflows the {precision} denominator: "
            "use fixed32, or calibrate with longer time steps"
        )

    # Outputs: |y_k| <= vmax * |ow_k| + |ob_k| (provable); per-output formats. A tiny weight's format is capped
    # like the input weights' (the shift stays within the product); capping can only lower the bound it
    # implies by less than one LSB of y, so a second pass settles it.
    ow_frac = np.array([frac_bits_for(abs(float(w)), bits) for w in p["output_w"]], dtype=np.int64)
    vmax_q_real = _vmax_quantized(p, mask, smask, fv, bits)
    for _ in range(3):
        ow_q = quantize_value(np.ldexp(p["output_w"], ow_frac), 0, bits)  # ldexp: exact, no overflow of 2**f
        y_bound = vmax_q_real * np.abs(np.ldexp(ow_q.astype(np.float64), -ow_frac)) + np.abs(p["output_b"])
        y_frac = np.array([frac_bits_for(float(b) * (1 + 2.0**-10) + 2.0 ** -(bits - 2), bits) for b in y_bound])
        capped = np.minimum(ow_frac, y_frac - fv + max_product_shift(bits))
        if np.array_equal(capped, ow_frac):
            break
        ow_frac = capped
    bounds["y"], sources["y"] = float(y_bound.max()), "proof"

    chooser.refuse_unknown_overrides("LTC")

    z_shift, s_z_shift = fsig + fv - fz, fssig + fxm - fz
    sigma_q = quantize_value(p["sigma"] * mask, fsig, bits)
    s_sigma_q = quantize_value(p["sensory_sigma"] * smask, fssig, bits)
    c = _sigmoid_offsets(sigma_q, quantize_value(p["mu"] * mask, fv, bits), z_shift, fz, mask, src_bits)
    s_c = _sigmoid_offsets(
        s_sigma_q, quantize_value(p["sensory_mu"] * smask, fxm, bits), s_z_shift, fz, smask, src_bits
    )
    # The table position p = sigma * v + c (v any B-bit value, not only the proven range) fits W - 1 bits.
    # (Proven above by the format caps; checked here with the quantized values.)
    p_max = max(
        int((np.abs(sigma_q) * (1 << (bits - 1)) + np.abs(c)).max(initial=0)),
        int((np.abs(s_sigma_q) * (1 << (bits - 1)) + np.abs(s_c)).max(initial=0)),
    )
    if p_max >= 1 << (2 * bits - 1):
        raise AssertionError(f"sigmoid position reaches {p_max}: beyond {2 * bits} bits")
    table = sigmoid_clamped_table(table_bits + 1, fz, bits - 1)

    params = {
        "x_frac": x_frac,
        "in_w": quantize_value(np.ldexp(p["input_w"], iw_frac), 0, bits),
        "in_shift": x_frac + iw_frac - fxm,
        "in_b": quantize_value(p["input_b"], fxm, bits),
        "s_sigma": s_sigma_q,
        "s_c": s_c,
        "s_w": q["s_w"],
        "s_erev": quantize_value(p["sensory_erev"] * smask, fv, bits),
        "sigma": sigma_q,
        "c": c,
        "w": q["w"],
        "erev": quantize_value(p["erev"] * mask, fv, bits),
        "s_mask": smask.astype(np.int64),
        "mask": mask.astype(np.int64),
        "gleak": q["gleak"],
        "gleak_eps": q["gleak_eps"],
        "gleak_vleak": q["gleak"] * quantize_value(p["vleak"], fv, bits),
        "cm_u": cm_u,
        "out_w": ow_q,
        "out_shift": fv + ow_frac - y_frac,
        "out_b": quantize_value(p["output_b"] * np.exp2(y_frac), 0, bits),
        "y_frac": y_frac.astype(np.int64),
        "sigmoid_table": np.array(table.values, dtype=np.int64),
    }
    constants: dict[str, int | float] = {
        "unfolds": unfolds,
        "eps": int(q["eps"]),
        "dt_min_q": dt_min_q,
        "dt_default_q": max(dt_min_q, int(quantize_value(model.dt, fdt, bits))),
        "sigmoid_index_bits": table_bits,
        "z_shift": z_shift,
        "s_z_shift": s_z_shift,
        "cm_shift": cm_shift,
        "source_bits": src_bits,
    }
    return QuantizedModel(model, precision, params, formats, constants, bounds, sources)


def _quantize_conductances(p: dict[str, np.ndarray], fg: int, bits: int, eps: float) -> dict[str, np.ndarray | int]:
    w = quantize_value(p["w"], fg, bits)
    s_w = quantize_value(p["sensory_w"], fg, bits)
    gleak = quantize_value(p["gleak"], fg, bits)
    eps_q = max(1, int(quantize_value(eps, fg, bits)))
    # The base conductance of every neuron is at least 3 LSB (eps raised where gleak is tiny; the extra weight
    # sits on potential 0): the update's denominator cm/Δ + G is then >= 3, which div_round_fast needs.
    gleak_eps = np.maximum(gleak + eps_q, MIN_BASE_CONDUCTANCE)
    g_sum = gleak_eps + w.sum(axis=0) + s_w.sum(axis=0)
    if min(w.min(initial=0), s_w.min(initial=0), gleak.min(initial=0)) < 0:
        raise AssertionError("conductances are non-negative by construction")
    return {"w": w, "s_w": s_w, "gleak": gleak, "eps": eps_q, "gleak_eps": gleak_eps, "g_max": int(g_sum.max())}


def _sigmoid_offsets(
    sigma: np.ndarray, mu: np.ndarray, shift: int, z_frac: int, mask: np.ndarray, src_bits: int
) -> np.ndarray:
    """c of every synapse [pre, post]: ``sigma * v + c = sigma (v - mu) + 2^(shift-1) + 16 * 2^(z_frac + shift)``,
    so ``(sigma * v + c) >> shift`` is ``rshift_round(sigma * (v - mu), shift)`` (the sigmoid input in Q``z_frac``)
    counted from -16: the table position. With ``src_bits`` the low bits of c are the presynaptic index: c moves
    by the nearest amount in [-2^(src_bits-1), 2^(src_bits-1)) that makes them so. 0 where no synapse."""
    rounding = (1 << (shift - 1)) if shift > 0 else 0
    c = -sigma * mu + rounding + (1 << (z_frac + 4 + shift))
    if src_bits:
        modulus = 1 << src_bits
        source = np.arange(c.shape[0], dtype=np.int64)[:, None]
        c = c + (source - c + modulus // 2) % modulus - modulus // 2
    return np.where(mask, c, 0).astype(np.int64)


def _vmax_quantized(p: dict[str, np.ndarray], mask: np.ndarray, smask: np.ndarray, fv: int, bits: int) -> float:
    values = [
        quantize_value(p["vleak"], fv, bits),
        quantize_value(p["erev"] * mask, fv, bits),
        quantize_value(p["sensory_erev"] * smask, fv, bits),
    ]
    return max(float(np.abs(v).max(initial=0)) for v in values) / math.ldexp(1.0, fv)

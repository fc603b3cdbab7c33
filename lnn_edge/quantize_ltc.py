"""LTC quantization: number formats from provable bounds and calibration, and the deployable parameters.

The fixed-point LTC step (see :mod:`lnn_edge.emulate_ltc` and ``docs/number-formats.md``) is built so that
the semi-implicit update stays a convex combination in integers: every conductance (cm/Δ, gleak, each
synapse's w*sigmoid) shares the format ``g`` and every potential (state, vleak, erev) the format ``v``, the
leak term is the integer product ``gleak_q * vleak_q``, and the update is one rounded division:
``v += div_round(S - G v, cm_t + G)`` with ``G`` the conductance sum and ``S`` the conductance-weighted
reversal potentials, which equals ncps's ``(cm_t v + S) / (cm_t + G)``. So |v_q| never exceeds
max(|vleak_q|, |erev_q|) — no state saturation is possible, for any input and any number of steps.
The numerator never involves cm/Δ, so only ``G`` (not the large cm/Δ of short time steps) limits the
resolution of ``g``: ``G < 2**(B-2)`` is proven from the parameters, and cm/Δ only has to fit the W-bit
denominator.

Names of deployable arrays (shared by the emulator and the C templates):

===============  ========  =================================  ===========================
name             shape     meaning                            format
===============  ========  =================================  ===========================
x_frac           [S]       input format per feature           (fractional bits)
in_w, in_shift   [S]       input mapping weight, its shift    Q``iw_frac[j]``
in_b             [S]       input mapping bias                 Q``xm``
s_mu, s_sigma    [S,N]     sensory sigmoid centre, slope      Q``xm``, Q``ssig``
s_w, s_erev      [S,N]     sensory max conductance, reversal  Q``g`` (0 if no synapse), Q``v``
mu, sigma        [N,N]     synapse sigmoid centre, slope      Q``v``, Q``sig``
w, erev          [N,N]     synapse max conductance, reversal  Q``g`` (0 if no synapse), Q``v``
s_mask, mask     [S,N]...  topology (1 = synapse exists)      0/1
gleak            [N]       leak conductance                   Q``g``
gleak_vleak      [N]       gleak_q * vleak_q                  Q``g+v``
cm_u             [N]       cm * unfolds                       Q``g+dt``
out_w, out_shift [M]       output weight, its shift           Q``ow_frac[k]``
out_b, y_frac    [M]       output bias, output format         Q``y_frac[k]``
sigmoid_table    [2^k+1]   sigmoid on [0, 16)                 Q``s``
===============  ========  =================================  ===========================
"""

from __future__ import annotations

import math

import numpy as np

from lnn_edge.calibration import CalibrationStats
from lnn_edge.fixedpoint import quantize_value, sigmoid_table
from lnn_edge.model import Model
from lnn_edge.qformat import QuantizationError, frac_bits_for, max_abs, require_resolution
from lnn_edge.qmodel import STORAGE_BITS, QuantizedModel
from lnn_edge.reference import softplus

SIGMOID_INDEX_BITS = {16: 8, 32: 10}
"""Sigmoid table segments (2**k over [0, 16)): 257 x uint16 for fixed16, 1025 x uint32 for fixed32."""
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
    """float32: the effective parameters rounded to float32 (masked synapses have w = 0)."""
    p = effective_ltc(model)
    names = {
        "in_w": "input_w", "in_b": "input_b", "s_mu": "sensory_mu", "s_sigma": "sensory_sigma",
        "s_w": "sensory_w", "s_erev": "sensory_erev", "mu": "mu", "sigma": "sigma", "w": "w", "erev": "erev",
        "gleak": "gleak", "vleak": "vleak", "cm": "cm", "out_w": "output_w", "out_b": "output_b",
        "s_mask": "sensory_sparsity_mask", "mask": "sparsity_mask",
    }  # fmt: skip
    params = {c_name: p[name].astype(np.float32) for c_name, name in names.items()}
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
    bits = STORAGE_BITS[precision]
    overrides = dict(overrides or {})
    p = effective_ltc(model)
    mask, smask = p["sparsity_mask"].astype(bool), p["sensory_sparsity_mask"].astype(bool)
    unfolds = model.ltc.ode_unfolds
    formats: dict[str, int] = {}
    bounds: dict[str, float] = {}
    sources: dict[str, str] = {}

    def choose(name: str, bound: float, source: str, headroom: int = 0, minimum: int | None = None) -> int:
        bounds[name], sources[name] = bound, source
        frac = overrides.pop(name) if name in overrides else frac_bits_for(bound, bits, headroom)
        if name in formats:
            raise AssertionError(name)
        if minimum is not None:
            require_resolution(name, frac, bound, precision, minimum)
        if round(bound * math.ldexp(1.0, frac)) > (1 << (bits - 1 - headroom)) - 1:
            raise QuantizationError(
                f"format override {name}={frac} overflows: tensor '{name}' reaches {bound:.4g}, "
                f"the largest safe format is {frac_bits_for(bound, bits, headroom)}"
            )
        formats[name] = frac
        return frac

    # Potentials: |v| <= max(|v0| = 0, |vleak|, |erev|, |sensory_erev|) at every step (convex combination);
    # mu shares the format because the step subtracts v - mu.
    vmax = max(max_abs(p["vleak"]), max_abs(p["erev"], mask), max_abs(p["sensory_erev"], smask))
    bounds["state"], sources["state"] = vmax, "proof"
    fv = choose("v", max(vmax, max_abs(p["mu"], mask)), "proof", minimum=bits // 4)

    # Inputs: per-feature formats from calibration (sensors come in very different units).
    x_bound = calib.x_absmax * 1.25 + 1e-12
    x_frac = np.array([frac_bits_for(float(b), bits) for b in x_bound], dtype=np.int64)
    iw_frac = np.array([frac_bits_for(abs(float(w)), bits) for w in p["input_w"]], dtype=np.int64)
    xm_bound = float(np.max(x_bound * np.abs(p["input_w"]) + np.abs(p["input_b"])))
    bounds["xm_calibrated"], sources["xm_calibrated"] = xm_bound, "calibration"
    fxm = choose("xm", max(xm_bound, max_abs(p["sensory_mu"], smask)), "calibration", minimum=bits // 4)

    fsig = choose("sig", max_abs(p["sigma"], mask), "parameters", headroom=1)
    fssig = choose("ssig", max_abs(p["sensory_sigma"], smask), "parameters", headroom=1)
    table_bits = SIGMOID_INDEX_BITS[bits]
    fz = overrides.pop("z", min(Z_FRAC[bits], fsig + fv, fssig + fxm))
    if fz + 4 < table_bits:
        raise QuantizationError(
            f"tensor 'sigma' (max {bounds['sig']:.4g}) with potentials up to {bounds['v']:.4g} leaves the sigmoid "
            f"input only {fz} fractional bits: use fixed32 or float32"
        )
    formats["z"] = fz
    formats["s"] = bits - 1

    # Conductances: G = gleak + Σ w·σ + Σ w_s·σ_s + eps must fit B-2 bits, so that the numerator S - G v
    # (G times a potential difference of B+1 bits) fits the accumulator. Checked with the quantized values.
    g_real = p["gleak"] + (p["w"] * mask).sum(axis=0) + (p["sensory_w"] * smask).sum(axis=0)
    bounds["G"], sources["G"] = float(g_real.max()), "proof"
    fg = overrides.pop("g") if "g" in overrides else frac_bits_for(float(g_real.max()), bits, headroom=1)
    eps = model.ltc.epsilon
    while True:
        q = _quantize_conductances(p, fg, bits, eps)
        if q["g_max"] <= (1 << (bits - 2)) - 1:
            break
        if "g" in formats:
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
    if "dt" in overrides:
        fdt = overrides.pop("dt")
        if fdt > dt_cap:
            raise QuantizationError(f"format override dt={fdt} overflows cm * unfolds (largest safe: {dt_cap})")
    formats["dt"], bounds["dt"], sources["dt"] = fdt, dt_top * 4.0, "calibration"
    dt_min_q = int(quantize_value(dt_floor, fdt, bits))
    if dt_min_q < 1:
        raise QuantizationError(f"elapsed time {dt_floor:.3g} is below the resolution of the dt format Q{fdt}")
    cm_u = quantize_value(p["cm"] * unfolds, fg + fdt, 2 * bits)
    cm_t_max = int(cm_u.max(initial=0)) // dt_min_q + 1
    bounds["cm_t"], sources["cm_t"] = cm_t_max / math.ldexp(1.0, fg), "proof"
    if cm_t_max + q["g_max"] >= 1 << (2 * bits - 2):
        raise QuantizationError(
            f"tensor 'cm' over the shortest elapsed time ({dt_floor:.3g}) overflows the {precision} denominator: "
            "use fixed32, or calibrate with longer time steps"
        )

    # Outputs: |y_k| <= vmax * |ow_k| + |ob_k| (provable); per-output formats.
    ow_frac = np.array([frac_bits_for(abs(float(w)), bits) for w in p["output_w"]], dtype=np.int64)
    ow_q = quantize_value(p["output_w"] * np.exp2(ow_frac), 0, bits)
    vmax_q_real = _vmax_quantized(p, mask, smask, fv, bits)
    y_bound = vmax_q_real * np.abs(ow_q / np.exp2(ow_frac)) + np.abs(p["output_b"])
    y_frac = np.array([frac_bits_for(float(b) * (1 + 2.0**-10) + 2.0 ** -(bits - 2), bits) for b in y_bound])
    bounds["y"], sources["y"] = float(y_bound.max()), "proof"

    if overrides:
        raise QuantizationError(
            f"unknown format override(s) {', '.join(sorted(overrides))}; LTC formats are: v, xm, sig, ssig, z, dt, g"
        )

    params = {
        "x_frac": x_frac,
        "in_w": quantize_value(p["input_w"] * np.exp2(iw_frac), 0, bits),
        "in_shift": x_frac + iw_frac - fxm,
        "in_b": quantize_value(p["input_b"], fxm, bits),
        "s_mu": quantize_value(p["sensory_mu"] * smask, fxm, bits),
        "s_sigma": quantize_value(p["sensory_sigma"] * smask, fssig, bits),
        "s_w": q["s_w"],
        "s_erev": quantize_value(p["sensory_erev"] * smask, fv, bits),
        "mu": quantize_value(p["mu"] * mask, fv, bits),
        "sigma": quantize_value(p["sigma"] * mask, fsig, bits),
        "w": q["w"],
        "erev": quantize_value(p["erev"] * mask, fv, bits),
        "s_mask": smask.astype(np.int64),
        "mask": mask.astype(np.int64),
        "gleak": q["gleak"],
        "gleak_vleak": q["gleak"] * quantize_value(p["vleak"], fv, bits),
        "cm_u": cm_u,
        "out_w": ow_q,
        "out_shift": fv + ow_frac - y_frac,
        "out_b": quantize_value(p["output_b"] * np.exp2(y_frac), 0, bits),
        "y_frac": y_frac.astype(np.int64),
        "sigmoid_table": np.array(sigmoid_table(table_bits, fz, bits - 1).values, dtype=np.int64),
    }
    constants: dict[str, int | float] = {
        "unfolds": unfolds,
        "eps": int(q["eps"]),
        "dt_min_q": dt_min_q,
        "dt_default_q": max(dt_min_q, int(quantize_value(model.dt, fdt, bits))),
        "sigmoid_index_bits": table_bits,
        "z_shift": fsig + fv - fz,
        "s_z_shift": fssig + fxm - fz,
    }
    if int(constants["z_shift"]) < 0 or int(constants["s_z_shift"]) < 0:
        raise QuantizationError(f"format override z={fz} is finer than sigma * v allows (max {fsig + fv})")
    return QuantizedModel(model, precision, params, formats, constants, bounds, sources)


def _quantize_conductances(p: dict[str, np.ndarray], fg: int, bits: int, eps: float) -> dict[str, np.ndarray | int]:
    w = quantize_value(p["w"], fg, bits)
    s_w = quantize_value(p["sensory_w"], fg, bits)
    gleak = quantize_value(p["gleak"], fg, bits)
    eps_q = max(1, int(quantize_value(eps, fg, bits)))
    g_sum = gleak + w.sum(axis=0) + s_w.sum(axis=0) + eps_q
    if min(w.min(initial=0), s_w.min(initial=0), gleak.min(initial=0)) < 0:
        raise AssertionError("conductances are non-negative by construction")
    return {"w": w, "s_w": s_w, "gleak": gleak, "eps": eps_q, "g_max": int(g_sum.max())}


def _vmax_quantized(p: dict[str, np.ndarray], mask: np.ndarray, smask: np.ndarray, fv: int, bits: int) -> float:
    values = [
        quantize_value(p["vleak"], fv, bits),
        quantize_value(p["erev"] * mask, fv, bits),
        quantize_value(p["sensory_erev"] * smask, fv, bits),
    ]
    return max(float(np.abs(v).max(initial=0)) for v in values) / math.ldexp(1.0, fv)

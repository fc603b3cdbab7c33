"""Template context of the LTC step: synapse records in CSR order by destination, neurons in processing order
(those with internal synapses first, see :func:`processing_order`), parameters as C literals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lnn_edge.cells.ltc.layout import cm_per_dt, sigmoid_table, stored_source_bits
from lnn_edge.codegen.c_layout import sizeof, struct_bytes
from lnn_edge.codegen.c_literals import c_array, c_float, c_int
from lnn_edge.codegen.header import CellCode, HeaderContext, Memory
from lnn_edge.quant.fixedpoint import ClampedTable
from lnn_edge.quant.qmodel import QuantizedModel


def ltc_code(qmodel: QuantizedModel, header: HeaderContext, fixed_dt: bool) -> CellCode:
    """``c``, the typed context of ``ltc_fixed.c.j2`` (:class:`LtcFixedContext`) or ``ltc_float32.c.j2``
    (:class:`LtcFloatContext`), and the header's memory figures (and scratch, fixed point)."""
    fixed = qmodel.is_fixed
    context = _fixed_context(qmodel, header, fixed_dt) if fixed else _float_context(qmodel)
    value = 4 if not fixed else qmodel.bits // 8
    scratch = int(context.get("scratch_size", 0))
    memory = Memory(
        params=context["params_bytes"],
        state=value * (qmodel.model.state_size + scratch),
        stack=context["stack_bytes"],
    )
    # ncps's LTC reads its outputs from the first state entries (before the output mapping)
    state_doc = f"; outputs are read from entries 0..{qmodel.model.output_size - 1}"
    if fixed:
        dt_doc = f"dt below {header.dt_min_doc} is clamped."
    else:
        dt_doc = f"dt <= 0 or NaN returns {header.NAME}_ERR_ARG (state untouched)."
    return CellCode(c=context["c"], memory=memory, scratch_size=scratch, state_doc=state_doc, dt_doc=dt_doc)


def processing_order(mask: np.ndarray) -> np.ndarray:
    """Neurons with internal synapses first, then those without (ascending within each group)."""
    wired = mask.sum(axis=0) > 0
    return np.concatenate([np.nonzero(wired)[0], np.nonzero(~wired)[0]]).astype(np.int64)


def _wiring_fields(p: dict[str, np.ndarray], n: int, s: int) -> tuple[np.ndarray, dict[str, Any]]:
    """The neuron order and the wiring fields both LTC templates share: the wired neurons (index | synapse count
    << wired_shift), the leaves, the sensory synapse counts, the index type and the array sizes."""
    order = processing_order(p["mask"])
    n_wired = int((p["mask"].sum(axis=0) > 0).sum())
    s_count = p["s_mask"].sum(axis=0)[order].astype(np.int64)
    count = p["mask"].sum(axis=0)[order][:n_wired].astype(np.int64)
    largest = max(n, s, int(s_count.max(initial=0)), int(count.max(initial=0)))
    wired_shift = 8 if largest < 256 else 16
    return order, {
        "n_wired": n_wired,
        "n_wired_alloc": max(1, n_wired),
        "n_leaf_alloc": max(1, n - n_wired),
        "index_type": "uint8_t" if largest < 256 else "uint16_t",
        "wired": c_array(order[:n_wired] | (count << wired_shift)) if n_wired else "0",
        "wired_type": "uint16_t" if wired_shift == 8 else "uint32_t",
        "wired_shift": wired_shift,
        "wired_mask": (1 << wired_shift) - 1,
        "leaf": c_array(order[n_wired:]) if n_wired < n else "0",
        "s_count": c_array(s_count),
        "s_nnz_alloc": max(1, int(p["s_mask"].sum())),
        "nnz_alloc": max(1, int(p["mask"].sum())),
    }


@dataclass(frozen=True)
class LtcLayout:
    """The wiring fields both LTC templates write (``c`` in the template): sizes, the kernel's array
    allocations (at least 1 each: C has no empty arrays), and the neuron order as C literals (the wired neurons
    as index | internal synapse count << wired_shift, then the leaves; sensory synapse counts per neuron)."""

    state_size: int
    inputs: int
    outputs: int
    unfolds: int
    n_wired: int
    n_wired_alloc: int
    n_leaf_alloc: int
    s_nnz_alloc: int
    nnz_alloc: int
    wired_shift: int
    index_type: str
    wired_type: str
    s_count: str
    wired: str
    leaf: str


@dataclass(frozen=True)
class LtcFixedContext(LtcLayout):
    """What ``ltc_fixed.c.j2`` writes for a fixed16 / fixed32 LTC (``c`` in the template): the kernel's
    compile-time constants, the eligibility switches decided here (not in Jinja), and the parameter arrays as C
    literals in processing order."""

    kernel: str  # "q15" or "q31": lnn/lnn_ltc_<kernel>.h
    f: dict[str, int]  # the formats (fractional bits) of quantize_ltc
    value_type: str
    acc_type: str
    dt_min_q: int
    dt_default_q: int
    cm_shift: int
    z_shift: int
    s_z_shift: int
    sig_index_bits: int
    sig_segments: int
    sig_frac_shift: int
    sig_width: str
    src_type: str
    src_bits: int
    cm_type: str
    cm_t_max: int
    vmax_q: int
    fixed_dt: bool
    in_shift_positive: bool  # every input shift > 0: the rounding needs no negative-shift branch
    reciprocal_cm: bool  # enough neurons that a core without division inverts dt once (ARMv6-M)
    reciprocal_leaves: bool  # enough unfolds that it inverts each leaf's denominator once (ARMv6-M)
    smlawt_fits: bool  # the interpolation weight fits SMLAWT's 16 bits
    asm_armv7em_fits: bool  # both shifts fit the DSP loop's encodings and source indices 8 bits
    x_frac: str
    y_frac: str
    in_w: str
    in_shift: str
    in_b: str
    out_w: str
    out_shift: str
    out_b: str
    gleak_eps: str
    gleak_vleak: str
    cm_u: str
    cm_t_fixed: str
    s_syn: str
    s_erev: str
    syn: str
    erev: str
    sigmoid: str


def reciprocal_cm(state_size: int) -> bool:
    """Invert dt once for the cm / dt of every neuron (cores without division) from 4 neurons on (measured)."""
    return state_size >= 4


def reciprocal_leaves(unfolds: int) -> bool:
    """Invert each leaf neuron's denominator once from 4 unfolds on (measured)."""
    return unfolds >= 4


def armv7em_asm_fits(shifts: tuple[int, int], frac_shift: int, src_bits: int) -> bool:
    """The DSP synapse loop encodes shift + frac_shift as USAT's shift (1..31) and the weight's shift
    shift - (16 - frac_shift) as an AND's shifted operand (-31..31), and reads 8-bit source indices."""
    return src_bits == 8 and all(
        1 <= shift + frac_shift <= 31 and -31 <= shift - (16 - frac_shift) <= 31 for shift in shifts
    )


def _fixed_context(qmodel: QuantizedModel, header: HeaderContext, fixed_dt: bool) -> dict[str, Any]:
    """The fixed-point template's context and the header's memory figures."""
    p, bits = qmodel.params, qmodel.bits
    n, s, m = qmodel.model.state_size, qmodel.model.input_size, qmodel.model.output_size
    wide = 2 * bits
    table: ClampedTable = sigmoid_table(qmodel)
    order, wiring = _wiring_fields(p, n, s)
    n_wired = wiring["n_wired"]
    dt_q = int(header.dt_default_q or 0)
    cm_t_fixed = cm_per_dt(qmodel, np.array([dt_q]))[0][order]
    cm_t_max = int(max(qmodel.bounds["cm_t"] * 2.0 ** qmodel.formats["g"], cm_t_fixed.max(initial=0))) + 1
    cm_type = f"uint{bits}_t" if cm_t_max < 1 << bits else header.acc_type  # cm / delta >= 0
    s_records, s_erev = _records(p, "s_", order, bits, stored_source_bits(qmodel))
    records, erev = _records(p, "", order, bits, stored_source_bits(qmodel))
    values = np.array(table.values, dtype=np.int64)
    if bits == 16:
        slopes = values[1:] - values[:-1]
        items = [f"LNN_LTC_Q15_PAIR({int(t)}, {int(d)})" for t, d in zip(values[:-1], slopes, strict=True)]
        sigmoid = _wrap(items, 4)
    else:
        sigmoid = c_array(values, "int", 32, per_line=8)
    cm_bytes = bits // 8 if cm_type.startswith("uint") else wide // 8
    z_shift, s_z_shift = int(qmodel.constants["z_shift"]), int(qmodel.constants["s_z_shift"])
    src_bits = stored_source_bits(qmodel)
    unfolds = int(qmodel.constants["unfolds"])
    context = LtcFixedContext(
        kernel="q15" if bits == 16 else "q31",
        f={key: int(value) for key, value in qmodel.formats.items()},
        value_type=header.value_type,
        acc_type=header.acc_type,
        state_size=n,
        inputs=s,
        outputs=m,
        unfolds=unfolds,
        n_wired=n_wired,
        n_wired_alloc=wiring["n_wired_alloc"],
        n_leaf_alloc=wiring["n_leaf_alloc"],
        s_nnz_alloc=wiring["s_nnz_alloc"],
        nnz_alloc=wiring["nnz_alloc"],
        dt_min_q=int(qmodel.constants["dt_min_q"]),
        dt_default_q=dt_q,
        cm_shift=int(qmodel.constants.get("cm_shift", 0)),
        z_shift=z_shift,
        s_z_shift=s_z_shift,
        sig_index_bits=table.index_bits,
        sig_segments=1 << table.index_bits,
        sig_frac_shift=table.frac_shift,
        sig_width=f"{32 / (1 << table.index_bits):g}",
        wired_shift=wiring["wired_shift"],
        index_type=wiring["index_type"],
        wired_type=wiring["wired_type"],
        src_type="uint8_t" if src_bits == 8 else "uint16_t",
        src_bits=src_bits,
        cm_type=cm_type,
        cm_t_max=cm_t_max,
        vmax_q=int(max(np.abs(p["erev"]).max(initial=0), np.abs(p["s_erev"]).max(initial=0))),
        fixed_dt=fixed_dt,
        in_shift_positive=int(p["in_shift"].min(initial=1)) > 0,
        reciprocal_cm=reciprocal_cm(n),
        reciprocal_leaves=reciprocal_leaves(unfolds),
        smlawt_fits=table.frac_shift <= 16,
        asm_armv7em_fits=armv7em_asm_fits((s_z_shift, z_shift), table.frac_shift, src_bits),
        x_frac=header.x_frac,
        y_frac=header.y_frac,
        in_w=c_array(p["in_w"], "int", bits),
        in_shift=c_array(p["in_shift"]),
        in_b=c_array(p["in_b"], "int", bits),
        out_w=c_array(p["out_w"], "int", bits),
        out_shift=c_array(p["out_shift"]),
        out_b=c_array(p["out_b"], "int", bits),
        s_count=wiring["s_count"],
        wired=wiring["wired"],
        leaf=wiring["leaf"],
        gleak_eps=c_array(p["gleak_eps"][order], "int", bits),
        gleak_vleak=c_array(p["gleak_vleak"][order], "int", wide),
        cm_u=c_array(p["cm_u"][order], "int", bits),
        cm_t_fixed=c_array(cm_t_fixed, "int", wide) if fixed_dt else "0",
        s_syn=s_records,
        s_erev=s_erev,
        syn=records,
        erev=erev,
        sigmoid=sigmoid,
    )
    value, index = bits // 8, sizeof(wiring["index_type"])
    wired, cm = sizeof(wiring["wired_type"]), sizeof(cm_type)
    n_wired_alloc, n_leaf_alloc = wiring["n_wired_alloc"], wiring["n_leaf_alloc"]
    s_nnz, nnz = wiring["s_nnz_alloc"], wiring["nnz_alloc"]
    cm_alloc = n if fixed_dt else 1
    # The members of lnn_ltc_q15_model_t / lnn_ltc_q31_model_t in declaration order: (bytes, alignment, count).
    if bits == 16:
        members = [(8, 4, s_nnz), (8, 4, nnz), (4, 4, len(values) - 1), (4, 4, n), (wired, wired, n_wired_alloc)]
        members += [(cm, cm, cm_alloc)]
    else:
        members = [(16, 8, s_nnz), (16, 8, nnz), (8, 8, n), (cm, cm, cm_alloc), (4, 4, len(values))]
        members += [(wired, wired, n_wired_alloc)]
    members += [(value, value, count) for count in (s_nnz, nnz, n, n, s, s, m, m)]  # erev .. out_b
    members += [(1, 1, s), (1, 1, m), (index, index, n), (index, index, n_leaf_alloc)]  # shifts, s_count, leaf
    params_bytes = struct_bytes(members) + s + m  # and <name>_input_frac, <name>_output_frac
    return {
        "c": context,
        "scratch_size": max(n, s),
        "params_bytes": params_bytes,
        "stack_bytes": n * ((wide // 8) + cm_bytes + value),  # the per-step neuron constants
    }


def _wrap(items: list[str], per_line: int) -> str:
    """C initialiser items, ``per_line`` to a line."""
    if not items:
        return "0"
    lines = [", ".join(items[k : k + per_line]) for k in range(0, len(items), per_line)]
    return "\n" + ",\n".join("    " + line for line in lines) + "\n"


def _records(p: dict[str, np.ndarray], prefix: str, order: np.ndarray, bits: int, src_bits: int) -> tuple[str, str]:
    """Synapse records and reversal potentials in CSR order by destination, destinations in processing
    ``order``, sources ascending (``lnn_ltc_q15_syn_t`` / ``lnn_ltc_q31_syn_t``)."""
    mask = p[f"{prefix}mask" if prefix else "mask"].astype(bool)
    pairs = [(int(j), int(i)) for i in order for j in np.nonzero(mask[:, i])[0]]
    if not pairs:
        return "{ 0 }", "0"
    items, erevs = [], []
    for j, i in pairs:
        sigma, w, c = int(p[f"{prefix}sigma"][j, i]), int(p[f"{prefix}w"][j, i]), int(p[f"{prefix}c"][j, i])
        erevs.append(int(p[f"{prefix}erev"][j, i]))
        high, src = c >> src_bits, c & ((1 << src_bits) - 1)
        items.append(f"LNN_LTC_Q{bits - 1}_SYN({sigma}, {w}, {c_int(high, 2 * bits)}, {src})")
    return _wrap(items, 3), c_array(np.array(erevs), "int", bits)


@dataclass(frozen=True)
class LtcFloatContext(LtcLayout):
    """What ``ltc_float32.c.j2`` writes (``c`` in the template): the kernel's compile-time constants and the
    parameter arrays as C literals (floats as shortest round-trip decimal literals) in processing order."""

    eps: str
    index_bytes: int
    s_syn: str
    syn: str
    s_src: str
    src: str
    gleak: str
    cm: str
    leak: str
    out_w: str
    out_b: str


def _float_context(qmodel: QuantizedModel) -> dict[str, Any]:
    """The float32 template's context (neurons in processing order, synapse records) and the header's memory
    figures (the 2^t table of lnn/lnn_ltc_f32.h included)."""
    from lnn_edge.quant import f32math

    p = qmodel.params
    n, s, m = qmodel.model.state_size, qmodel.model.input_size, qmodel.model.output_size
    order, wiring = _wiring_fields(p, n, s)
    n_wired = wiring["n_wired"]
    s_records, s_src = _float_records(p, "s_", order)
    records, src = _float_records(p, "", order)
    index_bytes = sizeof(wiring["index_type"])
    context = LtcFloatContext(
        state_size=n,
        inputs=s,
        outputs=m,
        unfolds=int(qmodel.constants["unfolds"]),
        n_wired=n_wired,
        n_wired_alloc=wiring["n_wired_alloc"],
        n_leaf_alloc=wiring["n_leaf_alloc"],
        s_nnz_alloc=wiring["s_nnz_alloc"],
        nnz_alloc=wiring["nnz_alloc"],
        eps=c_float(float(qmodel.constants["epsilon"])),
        wired_shift=wiring["wired_shift"],
        index_type=wiring["index_type"],
        index_bytes=index_bytes,
        wired_type=wiring["wired_type"],
        s_syn=s_records,
        syn=records,
        s_src=s_src,
        src=src,
        gleak=c_array(p["gleak"][order], "float"),
        cm=c_array(p["cm"][order], "float"),
        leak=c_array(p["leak"][order], "float"),
        out_w=c_array(p["out_w"], "float"),
        out_b=c_array(p["out_b"], "float"),
        wired=wiring["wired"],
        s_count=wiring["s_count"],
        leaf=wiring["leaf"],
    )
    index, wired = index_bytes, sizeof(wiring["wired_type"])
    s_nnz, nnz = wiring["s_nnz_alloc"], wiring["nnz_alloc"]
    # The members of lnn_ltc_f32_model_t in declaration order: (bytes, alignment, count).
    members = [(16, 4, s_nnz), (16, 4, nnz), (4, 4, n), (4, 4, n), (4, 4, n), (4, 4, m), (4, 4, m)]
    members += [(wired, wired, wiring["n_wired_alloc"]), (index, index, s_nnz), (index, index, nnz)]
    members += [(index, index, n), (index, index, wiring["n_leaf_alloc"])]
    return {
        "c": context,
        "params_bytes": struct_bytes(members) + 4 * len(f32math.EXP2_TABLE),  # and lnn_ltc_f32.h's 2^t table
        "stack_bytes": 4 * (3 * max(1, n_wired) + 2 * max(1, n - n_wired)),
    }


def _float_records(p: dict[str, np.ndarray], prefix: str, order: np.ndarray) -> tuple[str, str]:
    """Float32 synapse records {a, b, w, erev} and presynaptic indices in CSR order by destination."""
    mask = p[f"{prefix}mask"].astype(bool)
    pairs = [(int(j), int(i)) for i in order for j in np.nonzero(mask[:, i])[0]]
    if not pairs:
        return "{ 0 }", "0"
    items = [
        "{ " + ", ".join(c_float(float(p[f"{prefix}{name}"][j, i])) for name in ("a", "b", "w", "erev")) + " }"
        for j, i in pairs
    ]
    lines = [", ".join(items[k : k + 2]) for k in range(0, len(items), 2)]
    return "\n" + ",\n".join("    " + line for line in lines) + "\n", c_array(np.array([j for j, _ in pairs]))

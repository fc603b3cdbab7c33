"""Template context of the LTC step: synapse records in CSR order by destination, neurons in processing order
(those with internal synapses first, see :func:`processing_order`), parameters as C literals."""

from __future__ import annotations

from typing import Any

import numpy as np

from lnn_edge.c_literals import c_array, c_float, c_int
from lnn_edge.emulate_ltc import LtcFixedStep
from lnn_edge.fixedpoint import ClampedTable
from lnn_edge.qmodel import QuantizedModel
from lnn_edge.quantize_ltc import source_bits


def ltc_context(qmodel: QuantizedModel, common: dict[str, Any], fixed_dt: bool) -> dict[str, Any]:
    """Everything ``ltc_fixed.c.j2`` / ``ltc_float32.c.j2`` need beyond the common header fields."""
    p = qmodel.params
    fixed = qmodel.is_fixed
    context: dict[str, Any] = {
        "unfolds": int(qmodel.constants["unfolds"]),
        "fixed_dt": fixed and fixed_dt,
        "out_w": c_array(p["out_w"], "int" if fixed else "float", qmodel.bits),
        "out_b": c_array(p["out_b"], "int" if fixed else "float", qmodel.bits),
    }
    if fixed:
        context["in_w"] = c_array(p["in_w"], "int", qmodel.bits)
        context["in_b"] = c_array(p["in_b"], "int", qmodel.bits)
        context.update(_fixed_context(qmodel, common, context["fixed_dt"]))
    else:
        context.update(_float_context(qmodel))
    value = 4 if not fixed else qmodel.bits // 8
    context["memory"] = {
        "params": context.pop("params_bytes"),
        "state": value * (qmodel.model.state_size + context.get("scratch_size", 0)),
        "stack": context.pop("stack_bytes"),
    }
    return context


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


def _fixed_context(qmodel: QuantizedModel, common: dict[str, Any], fixed_dt: bool) -> dict[str, Any]:
    """The fixed-point template's fields: neurons in processing order, synapse records, the sigmoid table."""
    p, bits = qmodel.params, qmodel.bits
    n, s, m = qmodel.model.state_size, qmodel.model.input_size, qmodel.model.output_size
    wide = 2 * bits
    step = LtcFixedStep(qmodel)
    table: ClampedTable = step.table
    order, wiring = _wiring_fields(p, n, s)
    n_wired = wiring["n_wired"]
    dt_q = int(common["dt_default_q"])
    cm_t_fixed = step.cm_t(np.array([dt_q]))[0][order]
    cm_t_max = int(max(qmodel.bounds["cm_t"] * 2.0 ** qmodel.formats["g"], cm_t_fixed.max(initial=0))) + 1
    cm_type = f"uint{bits}_t" if cm_t_max < 1 << bits else common["acc_type"]  # cm / delta >= 0
    s_records, s_erev = _records(p, "s_", order, bits)
    records, erev = _records(p, "", order, bits)
    values = np.array(table.values, dtype=np.int64)
    table_fields: dict[str, Any] = {
        "segments": 1 << table.index_bits,
        "index_bits": table.index_bits,
        "frac_shift": table.frac_shift,
        "mask": (1 << table.frac_shift) - 1,
        "width": f"{32 / (1 << table.index_bits):g}",
        "size": len(values),
    }
    if bits == 16:
        pairs = values[:-1] | ((values[1:] - values[:-1]) << 16)
        table_fields["pairs"] = c_array(pairs, "int", 32, per_line=8)
        table_bytes = 4 * len(pairs)
        record_bytes = 8 + 2
    else:
        table_fields["literal"] = c_array(values, "int", 64, per_line=8)
        table_bytes = 4 * len(values)
        record_bytes = 16 + 4
    synapses = max(1, int(p["s_mask"].sum())) + max(1, int(p["mask"].sum()))
    cm_bytes = bits // 8 if cm_type.startswith("uint") else wide // 8
    context: dict[str, Any] = {
        "f": qmodel.formats,
        "vmax_q": int(max(np.abs(p["erev"]).max(initial=0), np.abs(p["s_erev"]).max(initial=0))),
        "dt_min_q": int(qmodel.constants["dt_min_q"]),
        "z_shift": int(qmodel.constants["z_shift"]),
        "s_z_shift": int(qmodel.constants["s_z_shift"]),
        "table": table_fields,
        **wiring,
        "s_syn": s_records,
        "s_erev": s_erev,
        "syn": records,
        "erev": erev,
        "src_type": "uint8_t" if source_bits(qmodel.model) == 8 else "uint16_t",
        "src_bits": source_bits(qmodel.model),
        "scratch_size": max(n, s),
        "cm_type": cm_type,
        "cm_t_max": cm_t_max,
        "gleak_eps": c_array(p["gleak_eps"][order], "int", bits),
        "gleak_vleak": c_array(p["gleak_vleak"][order], "int", wide),
        "cm_u": c_array(p["cm_u"][order], "int", bits),
        "cm_shift": int(qmodel.constants.get("cm_shift", 0)),
        "cm_t_fixed": c_array(cm_t_fixed, "int", wide),
        "in_shift": c_array(p["in_shift"]),
        "in_shift_min": int(p["in_shift"].min(initial=1)),
        "out_shift": c_array(p["out_shift"]),
    }
    value = bits // 8
    index_bytes = 1 if wiring["index_type"] == "uint8_t" else 2
    context["params_bytes"] = (
        record_bytes * synapses
        + table_bytes
        + value * (2 * s + 2 * m + n)  # in_w, in_b, out_w, out_b, gleak_eps
        + (wide // 8) * n
        + value * n  # gleak_vleak, cm_u
        + (cm_bytes * n if fixed_dt else 0)
        + 2 * (s + m)  # shifts, input/output formats
        + index_bytes * (2 * n + n_wired)  # s_count, wired, leaf
    )
    context["stack_bytes"] = n * ((wide // 8) + cm_bytes + value)  # the per-step neuron constants
    return context


def _records(p: dict[str, np.ndarray], prefix: str, order: np.ndarray, bits: int) -> tuple[str, str]:
    """Synapse records and reversal potentials in CSR order by destination, destinations in processing
    ``order``, sources ascending (see ``syn_t`` in ``ltc_fixed.c.j2``)."""
    mask = p[f"{prefix}mask" if prefix else "mask"].astype(bool)
    pairs = [(int(j), int(i)) for i in order for j in np.nonzero(mask[:, i])[0]]
    if not pairs:
        return "{ 0 }", "0"
    items, erevs = [], []
    for j, i in pairs:
        sigma, w, c = int(p[f"{prefix}sigma"][j, i]), int(p[f"{prefix}w"][j, i]), int(p[f"{prefix}c"][j, i])
        erevs.append(int(p[f"{prefix}erev"][j, i]))
        if bits == 16:
            items.append(f"{{ {c_int((w << 16) | (sigma & 0xFFFF))}, {c_int(c)} }}")
        else:
            items.append(f"{{ {c_int(c, 64)}, {sigma}, {w} }}")
    per_line = 4 if bits == 16 else 3
    lines = [", ".join(items[k : k + per_line]) for k in range(0, len(items), per_line)]
    return "\n" + ",\n".join("    " + line for line in lines) + "\n", c_array(np.array(erevs), "int", bits)


def _float_context(qmodel: QuantizedModel) -> dict[str, Any]:
    """The float32 template's fields: neurons in processing order, synapse records, the 2^t table."""
    from lnn_edge import f32math

    p = qmodel.params
    n, s, m = qmodel.model.state_size, qmodel.model.input_size, qmodel.model.output_size
    order, wiring = _wiring_fields(p, n, s)
    n_wired = wiring["n_wired"]
    s_records, s_src = _float_records(p, "s_", order)
    records, src = _float_records(p, "", order)
    limit = f32math.EXP2_LIMIT
    exp2 = {
        "size": len(f32math.EXP2_TABLE),
        "table": c_array(np.array(f32math.EXP2_TABLE, dtype=np.int64), "int", 32, per_line=8),
        "magic": c_float(float(f32math.EXP2_MAGIC)),
        "low": f32math.EXP2_MAGIC_BITS - limit,
        "span": 2 * limit,
        "clamp": c_float(float(f32math.EXP2_CLAMP)),
        "mask": len(f32math.EXP2_TABLE) - 1,
        "shift": f32math.EXP2_SHIFT,
        "c0": c_float(float(f32math.EXP2_C0)),
        "c1": c_float(float(f32math.EXP2_C1)),
    }
    synapses = max(1, int(p["s_mask"].sum())) + max(1, int(p["mask"].sum()))
    index_bytes = 1 if wiring["index_type"] == "uint8_t" else 2
    return {
        "eps": c_float(float(qmodel.constants["epsilon"])),
        **wiring,
        "s_syn": s_records,
        "s_src": s_src,
        "syn": records,
        "src": src,
        "gleak": c_array(p["gleak"][order], "float"),
        "cm": c_array(p["cm"][order], "float"),
        "leak": c_array(p["leak"][order], "float"),
        "exp2": exp2,
        "params_bytes": (16 + index_bytes) * synapses
        + 4 * len(f32math.EXP2_TABLE)
        + 4 * (3 * n + 2 * m)
        + index_bytes * (2 * n + n_wired),
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

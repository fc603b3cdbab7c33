"""Template context of the LTC step: synapses in CSR order by destination, parameters as C literals."""

from __future__ import annotations

from typing import Any

import numpy as np

from lnn_edge.c_literals import c_array
from lnn_edge.codegen import csr_by_destination, sizeof
from lnn_edge.emulate_ltc import LtcFixedStep
from lnn_edge.fixedpoint import InterpTable
from lnn_edge.qmodel import QuantizedModel


def ltc_context(qmodel: QuantizedModel, common: dict[str, Any], fixed_dt: bool) -> dict[str, Any]:
    """Everything ``ltc_fixed.c.j2`` / ``ltc_float32.c.j2`` need beyond the common header fields."""
    p = qmodel.params
    s_row, s_src = csr_by_destination(p["s_mask"])
    row, src = csr_by_destination(p["mask"])
    s_dst = np.repeat(np.arange(len(s_row) - 1), np.diff(s_row))
    dst = np.repeat(np.arange(len(row) - 1), np.diff(row))
    fixed = qmodel.is_fixed
    bits = qmodel.bits
    kind = "int" if fixed else "float"
    wide = 2 * bits if fixed else 32

    def synapses(name: str, sources: np.ndarray, targets: np.ndarray) -> str:
        return c_array(p[name][sources, targets], kind, bits)

    largest = max(qmodel.model.state_size, qmodel.model.input_size, len(src), len(s_src))
    index_type = "uint8_t" if largest < 256 else "uint16_t"
    context: dict[str, Any] = {
        "unfolds": int(qmodel.constants["unfolds"]),
        "index_type": index_type,
        "s_row": c_array(s_row),
        "s_src": c_array(s_src),
        "s_nnz_alloc": max(1, len(s_src)),
        "row": c_array(row),
        "src": c_array(src),
        "nnz_alloc": max(1, len(src)),
        "in_w": c_array(p["in_w"], kind, bits),
        "in_b": c_array(p["in_b"], kind, bits),
        "out_w": c_array(p["out_w"], kind, bits),
        "out_b": c_array(p["out_b"], kind, bits),
        "gleak": c_array(p["gleak"], kind, bits),
        "fixed_dt": fixed and fixed_dt,
    }
    for name in ("mu", "sigma", "w", "erev"):
        context[f"s_{name}"] = synapses(f"s_{name}", s_src, s_dst)
        context[name] = synapses(name, src, dst)
    n, s, m = qmodel.model.state_size, qmodel.model.input_size, qmodel.model.output_size
    synapse_count = max(1, len(src)) + max(1, len(s_src))
    value = 4 if not fixed else bits // 8
    index_bytes = sizeof(index_type) * (2 * (n + 1) + synapse_count)
    if fixed:
        step = LtcFixedStep(qmodel)
        table: InterpTable = step.table
        dt_q = int(common["dt_default_q"])
        cm_t_fixed = step.cm_t(np.array([dt_q]))[0]
        context.update(
            f=qmodel.formats,
            vmax_q=int(max(np.abs(p["erev"]).max(initial=0), np.abs(p["s_erev"]).max(initial=0))),
            eps=int(qmodel.constants["eps"]),
            dt_min_q=int(qmodel.constants["dt_min_q"]),
            z_shift=int(qmodel.constants["z_shift"]),
            s_z_shift=int(qmodel.constants["s_z_shift"]),
            table={
                "limit": table.limit,
                "frac_shift": table.frac_shift,
                "last": len(table.values) - 1,
                "size": len(table.values),
                "literal": c_array(np.array(table.values), "int", bits, per_line=16),
            },
            in_shift=c_array(p["in_shift"]),
            out_shift=c_array(p["out_shift"]),
            gleak_vleak=c_array(p["gleak_vleak"], "int", wide),
            cm_u=c_array(p["cm_u"], "int", wide),
            cm_t_fixed=c_array(cm_t_fixed, "int", wide),
        )
        params_bytes = (
            value * (4 * synapse_count + 2 * s + 2 * m + n)
            + (2 * bits // 8) * n * (3 if context["fixed_dt"] else 2)
            + (s + m)  # shifts
            + len(table.values) * value
            + (s + m)  # input/output format tables
        )
        stack = (2 * bits // 8) * (s + 3 * n) + value * 2 * n
    else:
        context.update(
            eps=c_array(np.array([qmodel.constants["epsilon"]]), "float"),
            vleak=c_array(p["vleak"], "float"),
            cm=c_array(p["cm"], "float"),
        )
        params_bytes = 4 * (4 * synapse_count + 2 * s + 2 * m + 3 * n)
        stack = 4 * (s + 5 * n)
    context["memory"] = {"params": params_bytes + index_bytes, "state": value * n, "stack": stack}
    return context

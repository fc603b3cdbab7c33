"""Template context of the CfC step (dense and wired): array layouts, C literals, shifts, memory estimates.

The step is specified by :mod:`lnn_edge.emulate_cfc` (its docstring has the operation table); the arrays,
formats and shift constants are those of :mod:`lnn_edge.quantize_cfc`. Layouts:

* A dense Linear (backbone ``bbK``, the heads of a dense cell, ``time_a``/``time_b`` of a wired layer, ``fc``)
  is a row-major ``[rows * cols]`` weight array and one bias per row.
* The masked heads ``ff1``/``ff2`` of a wired layer are evaluated sparsely: one CSR layout per layer (row
  pointers ``row[r] .. row[r+1]-1``, column indices ``col[k]`` increasing within a row) shared by both heads,
  their weights in that order. Increasing columns keep the float32 sums in the emulator's order.

Fixed point: weights and per-neuron vectors hold B bits (``q_t``), biases W bits (``acc_t``: int64 literals in
fixed32), tables are unsigned B-bit; shifts are emitted as literal numbers beside their formats. Float32:
every array is ``float``. The generator also re-proves what the C's own helpers need (the interpolation
products of every table fit W bits) instead of trusting it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lnn_edge.c_literals import c_array, c_int
from lnn_edge.codegen import csr_by_destination, sizeof
from lnn_edge.errors import LnnEdgeError
from lnn_edge.fixedpoint import InterpTable
from lnn_edge.qmodel import QuantizedModel
from lnn_edge.quantize_cfc import PHI_SPAN_LOG2, CfcLayer, cfc_layers

MODE_DOC = {
    "default": "h' = tanh(ff1) (1 - g) + g tanh(ff2), g = sigmoid(time_a t + time_b)",
    "no_gate": "h' = tanh(ff1) + g tanh(ff2), g = sigmoid(time_a t + time_b)",
    "pure": "h' = A - A exp(-t (|w_tau| + |ff1|)) ff1",
}
HEAD_SCALARS = 8
"""Per-neuron scalars live during the head evaluation (t1, t2, ta, tb, g, begin, end ...): for the stack estimate."""


@dataclass
class _Arrays:
    """The ``static const`` arrays of the C file in declaration order, grouped under comments, with their bytes."""

    groups: list[dict[str, Any]] = field(default_factory=list)
    bytes: int = 0

    def group(self, title: str) -> list[dict[str, Any]]:
        arrays: list[dict[str, Any]] = []
        self.groups.append({"title": title, "arrays": arrays})
        return arrays

    def add(self, group: list[dict[str, Any]], name: str, values: np.ndarray, ctype: str, doc: str = "") -> str:
        """Declare ``static const ctype name[n] = {...}`` (literals as wide as ``ctype``); return its name."""
        flat = np.asarray(values).ravel()
        kind, bits = ("float", 32) if ctype == "float" else ("int", 64 if ctype == "int64_t" else 32)
        literal = c_array(flat, kind, bits)
        size = max(1, flat.size)
        group.append({"ctype": ctype, "name": name, "size": size, "literal": literal, "doc": doc})
        self.bytes += size * sizeof(ctype)
        return name


@dataclass
class _Types:
    value: str
    """B-bit values: weights, per-neuron vectors, state (``float`` in float32)."""
    bias: str
    """Biases: the W-bit accumulator type (``float`` in float32)."""
    index: str
    """CSR row pointers and column indices."""


def _index_type(largest: int) -> str:
    if largest < 256:
        return "uint8_t"
    return "uint16_t" if largest < 65536 else "uint32_t"


def cfc_context(qmodel: QuantizedModel, common: dict[str, Any], fixed_dt: bool) -> dict[str, Any]:
    """Everything ``cfc_fixed.c.j2`` / ``cfc_float32.c.j2`` need beyond the common header fields.

    ``fixed_dt`` changes nothing for a CfC: no part of its step depends on the elapsed time alone.
    """
    del fixed_dt
    model = qmodel.model
    cfc = model.cfc
    assert cfc is not None
    p = qmodel.params
    fixed = qmodel.is_fixed
    wired = model.cell == "wired_cfc"
    pure = cfc.mode == "pure"
    layers = cfc_layers(model)
    backbone = int(qmodel.constants["backbone_layers"])
    proj = cfc.proj_size is not None
    # CSR arrays hold synapse counts (row pointers) and column indices < inputs + size: the largest picks the type.
    largest = max(max(int(np.count_nonzero(p[f"{x.name}mask"])), x.inputs + x.size) for x in layers) if wired else 0
    types = _Types(common["value_type"], common["acc_type"] if fixed else "float", _index_type(largest))
    arrays = _Arrays()

    bb = [_backbone_layer(arrays, qmodel, types, k) for k in range(backbone)]
    units = max((entry["rows"] for entry in bb), default=0)
    heads_input = bb[-1]["output"] if bb else "z"
    layer_ctx = []
    for layer in layers:
        entry = _layer(arrays, qmodel, types, layer, layers, wired)
        entry["zh"] = heads_input
        entry["head_cols"] = int(p[f"{layer.name}ff1_w"].shape[1])
        layer_ctx.append(entry)
    z_max = max(layer.inputs + layer.size for layer in layers)
    readout = _readout(arrays, qmodel, types, layers[-1])

    context: dict[str, Any] = {
        "mode": cfc.mode,
        "mode_doc": MODE_DOC[cfc.mode],
        "wired": wired,
        "activation": cfc.activation,
        "backbone": bb,
        "backbone_units": units,
        "layers": layer_ctx,
        "z_max": z_max,
        "index_type": types.index,
        # dot() serves the dense Linears: every head of a dense cell, time_a/time_b (gated), fc.
        "uses_dense_dot": not (wired and pure) or proj,
        "readout": readout,
    }
    if fixed:
        context.update(_fixed_context(arrays, qmodel, backbone))
    context["param_groups"] = arrays.groups

    value = 4 if not fixed else qmodel.bits // 8
    acc = 4 if not fixed else 2 * value
    buffers = z_max + units * min(backbone, 2)
    stack = value * buffers + acc * HEAD_SCALARS + 4 * 2
    context["memory"] = {"params": arrays.bytes, "state": value * model.state_size, "stack": stack}
    clash = set(context) & set(common)
    assert not clash, f"the CfC context would replace the common fields {sorted(clash)}"
    return context


def _weight_doc(qmodel: QuantizedModel, name: str) -> str:
    return f"column c in Q({qmodel.formats[f'{name}_acc']} - in_frac[c])" if qmodel.is_fixed else ""


def _bias_doc(qmodel: QuantizedModel, name: str) -> str:
    return f"Q{qmodel.formats[f'{name}_acc']}" if qmodel.is_fixed else ""


def _format_doc(qmodel: QuantizedModel, what: str, name: str) -> str:
    return f"{what}, Q{qmodel.formats[name]}" if qmodel.is_fixed else what


def _linear(arrays: _Arrays, group: list[dict[str, Any]], qmodel: QuantizedModel, types: _Types, name: str) -> None:
    p = qmodel.params
    arrays.add(group, f"{name}_w", p[f"{name}_w"], types.value, _weight_doc(qmodel, name))
    arrays.add(group, f"{name}_b", p[f"{name}_b"], types.bias, _bias_doc(qmodel, name))


def _backbone_layer(arrays: _Arrays, qmodel: QuantizedModel, types: _Types, k: int) -> dict[str, Any]:
    """Backbone layer k of a dense cell: it reads ``z`` (k = 0) or the other buffer, writes bb_a / bb_b."""
    name = f"bb{k}"
    activation = qmodel.model.cfc.activation if qmodel.model.cfc else ""
    group = arrays.group(f"Backbone layer {k} ({activation})")
    _linear(arrays, group, qmodel, types, name)
    rows, cols = qmodel.params[f"{name}_w"].shape
    entry: dict[str, Any] = {
        "k": k,
        "rows": int(rows),
        "cols": int(cols),
        "w": f"{name}_w",
        "b": f"{name}_b",
        "input": "z" if k == 0 else ("bb_b" if k % 2 == 0 else "bb_a"),
        "output": "bb_a" if k % 2 == 0 else "bb_b",
    }
    if qmodel.is_fixed:
        c, f = qmodel.constants, qmodel.formats
        entry.update(acc=f[f"{name}_acc"], act=f[f"{name}_act"])
        entry.update({key: int(c[f"{name}_{key}"]) for key in ("sz", "sa", "so") if f"{name}_{key}" in c})
    return entry


def _layer(
    arrays: _Arrays, qmodel: QuantizedModel, types: _Types, layer: CfcLayer, layers: list[CfcLayer], wired: bool
) -> dict[str, Any]:
    """One cell of the step: where its input comes from, its head arrays and (fixed point) shifts and formats."""
    p = qmodel.params
    pure = qmodel.model.cfc is not None and qmodel.model.cfc.mode == "pure"
    pre = layer.name
    title = f"Layer {layer.index}: neurons {layer.start}..{layer.start + layer.size - 1}" if wired else "Heads"
    group = arrays.group(title)
    entry: dict[str, Any] = {
        "index": layer.index,
        "start": layer.start,
        "size": layer.size,
        "inputs": layer.inputs,
        # Layer 0 reads the inputs x, layer K > 0 the new state of layer K-1 (already written to s->state).
        "source_start": None if layer.index == 0 else layers[layer.index - 1].start,
        "sparse": wired,
    }
    masked: tuple[str, ...] = ("ff1",) if pure else ("ff1", "ff2")
    dense: tuple[str, ...] = () if pure else ("ta", "tb")
    if wired:
        mask = np.asarray(p[f"{pre}mask"]) != 0  # [rows, columns of z]
        row, col = csr_by_destination(mask.T)  # by destination = per neuron, its columns increasing
        neuron = np.repeat(np.arange(layer.size), np.diff(row))
        entry["row"] = arrays.add(group, f"{pre}row", row, types.index, "CSR row pointers of ff1/ff2")
        entry["col"] = arrays.add(group, f"{pre}col", col, types.index, "column in z = [u ; h] of each synapse")
        for head in masked:
            name = pre + head
            arrays.add(group, f"{name}_w", p[f"{name}_w"][neuron, col], types.value, _weight_doc(qmodel, name))
            arrays.add(group, f"{name}_b", p[f"{name}_b"], types.bias, _bias_doc(qmodel, name))
    else:
        dense = masked + dense
    for head in dense:
        _linear(arrays, group, qmodel, types, pre + head)
    for head in masked + dense:
        entry[f"{head}_w"], entry[f"{head}_b"] = f"{pre}{head}_w", f"{pre}{head}_b"
    if pure:
        entry["tau"] = arrays.add(
            group, f"{pre}tau", p[f"{pre}tau"], types.value, _format_doc(qmodel, "|w_tau|", f"{pre}f1")
        )
        entry["A"] = arrays.add(group, f"{pre}A", p[f"{pre}A"], types.value, _format_doc(qmodel, "A", f"{pre}A"))
        if qmodel.is_fixed:
            entry["A_h"] = arrays.add(group, f"{pre}A_h", p[f"{pre}A_h"], types.value, _format_doc(qmodel, "A", "h"))
    if qmodel.is_fixed:
        c = qmodel.constants
        keys = ("ff1_sp", "u_s", "A_s") if pure else ("ff1_sz", "ff2_sz", "ta_s", "tb_sz", "g_s")
        entry["shift"] = {key: int(c[f"{pre}{key}"]) for key in keys}
        entry["f"] = {key: qmodel.formats[f"{pre}{key}"] for key in (("f1", "A") if pure else ("ta",))}
    return entry


def _readout(arrays: _Arrays, qmodel: QuantizedModel, types: _Types, last: CfcLayer) -> dict[str, Any]:
    """Outputs from the last layer's new state: the projection fc and the affine output mapping, if any."""
    p = qmodel.params
    cfc = qmodel.model.cfc
    assert cfc is not None
    readout: dict[str, Any] = {
        "proj": cfc.proj_size is not None,
        "affine": cfc.output_mapping == "affine",
        "last_start": last.start,
        "last_size": last.size,
    }
    if not (readout["proj"] or readout["affine"]):
        return readout
    group = arrays.group("Outputs")
    if readout["proj"]:
        _linear(arrays, group, qmodel, types, "fc")
        if qmodel.is_fixed:
            arrays.add(group, "fc_shift", p["fc_shift"], "int8_t", "fc accumulator -> p_k")
    if readout["affine"]:
        arrays.add(group, "out_w", p["out_w"], types.value, "output mapping weight")
        if qmodel.is_fixed:
            arrays.add(group, "out_shift", p["out_shift"], "int8_t", "p_k out_w -> y_k")
        arrays.add(group, "out_b", p["out_b"], types.value, "output mapping bias, Q(output_frac)")
    return readout


def _check_table(table: InterpTable, bits: int) -> None:
    """(high - low) * position + its rounding offset must fit the W-bit interpolation (re-proved here)."""
    steps = np.abs(np.diff(np.asarray(table.values, dtype=np.int64)))
    worst = int(steps.max(initial=0)) * ((1 << table.frac_shift) - 1) + (1 << max(table.frac_shift - 1, 0))
    if worst >= 1 << (2 * bits - 1) or table.frac_shift > 2 * bits - 2:
        raise LnnEdgeError(f"the {table.name} table's interpolation does not fit {2 * bits} bits")


def _fixed_context(arrays: _Arrays, qmodel: QuantizedModel, backbone: int) -> dict[str, Any]:
    """Tables, their lookup constants and the scalar constants of the fixed-point step."""
    p, c, f = qmodel.params, qmodel.constants, qmodel.formats
    cfc = qmodel.model.cfc
    assert cfc is not None
    bits = qmodel.bits
    s = bits - 1
    table_type = "uint16_t" if bits == 16 else "uint32_t"
    tables: dict[str, dict[str, Any]] = {}
    group = arrays.group(f"Function tables: 2^k + 1 unsigned samples in Q{s}, linearly interpolated")
    specs = [  # key, array, constant holding its index bits, input format, log2 of its span
        ("sigmoid", "sigmoid_table", "sigmoid_index_bits", f["z"], 4),
        ("phi", "phi_table", "phi_index_bits", f["z"], PHI_SPAN_LOG2),
        ("exp", "exp_table", "exp_index_bits", f.get("e", 0), 0),
    ]
    for key, array, index_bits, in_frac, span_log2 in specs:
        if array not in p:
            continue
        values = tuple(int(v) for v in p[array])
        table = InterpTable(key, values, in_frac, s, span_log2, int(c[index_bits]))
        _check_table(table, bits)
        tables[key] = {
            "name": arrays.add(group, array, p[array], table_type),
            "limit": c_int(table.limit, 2 * bits),
            "frac_shift": table.frac_shift,
            "last": len(values) - 1,
            "in_frac": in_frac,
        }
    if "exp_factors" in p:
        factors = p["exp_factors"]
        arrays.add(group, "exp_factors", factors, table_type, "exp(-n), n = 0, 1, ...")
        tables["exp"]["factors"] = len(factors)
        if int(np.max(factors)) * (1 << s) >= 1 << (2 * bits - 1):
            raise LnnEdgeError("exp_neg: the product of its factors and its table does not fit the accumulator")
    gated = cfc.mode != "pure"
    tanh_backbone = backbone > 0 and cfc.activation in ("tanh", "lecun_tanh")
    return {
        "f": f,
        "s": s,
        "tables": tables,
        "interp": "lnn_interp_u16" if bits == 16 else "lnn_interp_u32",
        "h_s1": int(c.get("h_s1", 0)),
        "h_s2": int(c.get("h_s2", 0)),
        "lecun_in": int(c.get("lecun_in", 0)),
        "lecun_out": int(c.get("lecun_out", 0)),
        "lecun_shift": bits - 2,
        # Static helpers are emitted only where used (an unused static function is a warning).
        "uses": {
            "sigmoid": "sigmoid" in tables,
            "tanh": gated or tanh_backbone,
            "phi": "phi" in tables,
            "exp": "exp" in tables,
        },
    }

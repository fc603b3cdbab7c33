"""Template context of the CfC step (dense and wired): array layouts, C literals, shifts, memory estimates.

The step is specified by :mod:`lnn_edge.cells.cfc.emulate` (its docstring has the operation table); the arrays,
formats and shift constants are those of :mod:`lnn_edge.cells.cfc.quantize`. Layouts:

* Every row of a Linear is evaluated by one pass over its input vector ``z`` that feeds a GROUP of
  accumulators: the heads of one neuron (ff1, ff2, time_a, time_b of a layer: one pass for the four), or a
  block of consecutive rows of a backbone layer. A group's weights are interleaved so that the pass reads them
  in order: ``[row][column step][accumulator][lane]``. A column step is one column (fixed32, float32) or a
  pair of columns (fixed16, ``lane`` 0/1: the two 16-bit halves of one 32-bit word, for the 16x16 dual
  multiply-accumulate SMLAD of ARMv7E-M; other cores read the halves one by one). fixed16 inputs are padded
  to an even length with a zero (weights of padding columns and rows are 0).
* Biases are interleaved the same way, ``[row][accumulator]``. In fixed point each bias already holds the
  rounding offsets of the shifts that read its accumulator (``rshift_round(acc, k)`` becomes ``acc >> k``;
  for time_b also the offset of the gate shift, see :func:`_folded`): the quantizer proves the sums fit.
* The masked heads ff1/ff2 of a wired layer are either part of the dense pass (zero weights for absent
  synapses) or evaluated over their synapses only, as the quantized model records (``ff_dense_K``, decided by
  :func:`lnn_edge.cells.cfc.layout.ff_dense`): then one CSR
  layout per layer (row pointers ``row[r] .. row[r+1]-1``, column indices ``col[k]`` increasing within a row)
  with both heads' weights interleaved per synapse (a 32-bit word in fixed16: SMLABB/SMLATB).

Fixed point: weights hold B bits (fixed16: in ``union { int16_t h[]; int32_t w[]; }`` for word reads), biases
W bits (``acc_t``), the tanh table is signed B-bit. Float32: every array is ``float``. The generator re-proves
what the C's own helpers need (every table's interpolation product fits W bits).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lnn_edge.cells.cfc.layout import CFC_SCHEME, PHI_SPAN_LOG2, CfcLayer, cfc_layers, layer_ff_dense
from lnn_edge.codegen.c_layout import csr_by_destination, sizeof
from lnn_edge.codegen.c_literals import c_array, c_int
from lnn_edge.codegen.header import CellCode, HeaderContext, Memory
from lnn_edge.errors import LnnEdgeError
from lnn_edge.quant.fixedpoint import CfcTable, InterpTable
from lnn_edge.quant.qmodel import QuantizedModel

MODE_DOC = {
    "default": "h' = tanh(ff1) (1 - g) + g tanh(ff2), g = sigmoid(time_a t + time_b)",
    "no_gate": "h' = tanh(ff1) + g tanh(ff2), g = sigmoid(time_a t + time_b)",
    "pure": "h' = A - A exp(-t (|w_tau| + |ff1|)) ff1",
}
HEAD_SCALARS = 8
"""Per-neuron scalars live during the head evaluation (four accumulators, t1, t2, tg ...): for the stack estimate."""
ACC_NAMES = {"ff1": "a_ff1", "ff2": "a_ff2", "ta": "a_ta", "tb": "a_tb"}


@dataclass
class _Arrays:
    """The ``static const`` arrays of the C file in declaration order, grouped under comments, with their bytes."""

    groups: list[dict[str, Any]] = field(default_factory=list)
    bytes: int = 0

    def group(self, title: str) -> list[dict[str, Any]]:
        arrays: list[dict[str, Any]] = []
        self.groups.append({"title": title, "arrays": arrays})
        return arrays

    def add(
        self, group: list[dict[str, Any]], name: str, values: np.ndarray, ctype: str, doc: str = "", words: bool = False
    ) -> str:
        """Declare ``static const ctype name[n] = {...}`` (literals as wide as ``ctype``); return its name.

        ``words``: an int16_t array of even length declared as ``union { int16_t h[n]; int32_t w[n/2]; }``.
        """
        flat = np.asarray(values).ravel()
        kind, bits = ("float", 32) if ctype == "float" else ("int", 64 if ctype == "int64_t" else 32)
        literal = c_array(flat, kind, bits)
        size = max(1, flat.size)
        assert not words or (ctype == "int16_t" and size % 2 == 0)
        group.append({"ctype": ctype, "name": name, "size": size, "literal": literal, "doc": doc, "words": words})
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
    lanes: int
    """Columns per step of a pass: 2 in fixed16 (SMLAD pairs), else 1."""
    group_max: int
    """Accumulators per pass: 4 (fixed16, float32) or 2 (fixed32: 64-bit accumulators take two registers)."""


def _index_type(largest: int) -> str:
    if largest < 256:
        return "uint8_t"
    return "uint16_t" if largest < 65536 else "uint32_t"


def _fold(shift: int) -> int:
    """The rounding offset of rshift_round(., shift)."""
    return (1 << (shift - 1)) if shift > 0 else 0


def _pad(length: int, lanes: int) -> int:
    return -(-length // lanes) * lanes


def _tail(cols: int, count: int, lanes: int) -> bool:
    """Whether an odd last column is stored as a tail of ``count`` single weights after the pairs (fixed16, an
    even number of accumulators: rows stay word-aligned) instead of a pair padded with a zero weight."""
    return lanes == 2 and cols % 2 == 1 and count % 2 == 0


def _interleave(matrices: list[np.ndarray], lanes: int) -> np.ndarray:
    """[rows][column step][matrix][lane] of equally shaped [rows, columns] matrices, columns padded with 0 (or,
    see :func:`_tail`, an odd last column as [rows][... steps ..., tail: matrix])."""
    rows, cols = matrices[0].shape
    count = len(matrices)
    tail = _tail(cols, count, lanes)
    full = cols - 1 if tail else cols
    padded = _pad(full, lanes)
    stack = np.zeros((count, rows, padded), dtype=matrices[0].dtype)
    for index, matrix in enumerate(matrices):
        stack[index, :, :full] = matrix[:, :full]
    steps = stack.reshape(count, rows, padded // lanes, lanes).transpose(1, 2, 0, 3).reshape(rows, -1)
    if tail:
        last = np.stack([matrix[:, -1] for matrix in matrices], axis=1)
        steps = np.concatenate([steps, last], axis=1)
    return steps.ravel()


def cfc_code(qmodel: QuantizedModel, header: HeaderContext, fixed_dt: bool) -> CellCode:
    """``c``, the typed context of ``cfc_fixed.c.j2`` (:class:`CfcFixedContext`) or ``cfc_float32.c.j2``
    (:class:`CfcFloatContext`), and the header's memory figures.

    ``fixed_dt`` changes nothing for a CfC: no part of its step depends on the elapsed time alone.
    """
    del fixed_dt
    model = qmodel.model
    cfc = model.cfc
    assert cfc is not None
    p = qmodel.params
    fixed = qmodel.is_fixed
    if fixed and int(qmodel.constants.get("cfc_scheme", 1)) != CFC_SCHEME:
        raise LnnEdgeError("this quantized CfC was made by an older lnn-edge: quantize the float model again")
    wired = model.cell == "wired_cfc"
    layers = cfc_layers(model)
    backbone = int(qmodel.constants["backbone_layers"])
    proj = cfc.proj_size is not None
    # CSR arrays hold synapse counts (row pointers) and column indices < inputs + size: the largest picks the type.
    largest = max(max(int(np.count_nonzero(p[f"{x.name}mask"])), x.inputs + x.size) for x in layers) if wired else 0
    lanes = 2 if fixed and qmodel.bits == 16 else 1
    group_max = 2 if fixed and qmodel.bits == 32 else 4
    types = _Types(header.value_type, header.acc_type, _index_type(largest), lanes, group_max)
    arrays = _Arrays()

    bb = [_backbone_layer(arrays, qmodel, types, k) for k in range(backbone)]
    bb_buffer = max((_pad(entry["blocks"] * entry["block"], lanes) for entry in bb), default=0)
    layer_ctx = [_layer(arrays, qmodel, types, layer, layers, wired) for layer in layers]
    z_buffer = max(_pad(layer.inputs + layer.size, lanes) for layer in layers)
    readout = _readout(arrays, qmodel, types, layers[-1])

    context: dict[str, Any] = {
        "mode": cfc.mode,
        "mode_doc": MODE_DOC[cfc.mode],
        "wired": wired,
        "activation": cfc.activation,
        "backbone": bb,
        "bb_buffer": bb_buffer,
        "heads_input": ("bb_b" if len(bb) % 2 == 0 else "bb_a") if bb else "z",
        "layers": layer_ctx,
        "z_buffer": z_buffer,
        "index_type": types.index,
        "lanes": lanes,
        "uses_sparse": any(entry["sparse"] is not None for entry in layer_ctx),
        "uses_dense_dot": proj,
        "readout": readout,
    }
    context["param_groups"] = arrays.groups
    doc = CfcDoc(cfc.mode, MODE_DOC[cfc.mode], wired, cfc.activation, len(layer_ctx), len(bb))
    c: CfcFixedContext | CfcFloatContext
    if fixed:
        context.update(_fixed_context(arrays, qmodel, backbone))
        c = _kernel_context(context, header, doc, _param_groups(arrays.groups))
    else:
        c = cfc_float_context(context, qmodel, doc)

    value = 4 if not fixed else qmodel.bits // 8
    acc = 4 if not fixed else 2 * value
    # fixed point: every work buffer is one type (lnn_cfc_q15_buf_t / _q31_buf_t) of the larger size
    buffers = max(z_buffer, bb_buffer) * (1 + min(backbone, 2)) if fixed else z_buffer + bb_buffer * min(backbone, 2)
    stack = value * buffers + acc * HEAD_SCALARS + 4 * 4
    frac_bytes = model.input_size + model.output_size if fixed else 0  # <name>_input_frac, <name>_output_frac
    if fixed:
        dt_doc = f"dt below {header.dt_min_doc} is clamped."
    else:
        dt_doc = f"dt < 0 or NaN returns {header.NAME}_ERR_ARG (state untouched)."
    memory = Memory(arrays.bytes + frac_bytes, value * model.state_size, stack)
    return CellCode(c=c, memory=memory, dt_doc=dt_doc)


@dataclass(frozen=True)
class CfcDoc:
    """What the comments of a CfC's ``<name>.c`` say about it (``c.doc`` in both templates)."""

    mode: str  # ncps's mode name
    mode_doc: str  # what the mode computes
    wired: bool
    activation: str  # the backbone's activation, as ncps names it
    layers: int  # CfC layers (1 for a dense cell)
    backbone: int  # backbone layers (0 for a wired cell)


@dataclass(frozen=True)
class CfcParamArray:
    """One ``static const`` parameter array of ``cfc_params.c.j2``: ``ctype name[size] = { literal };``, or with
    ``words`` an int16_t array declared as ``union { int16_t h[size]; int32_t w[size / 2]; }`` (SMLAD pairs)."""

    ctype: str
    name: str
    size: int
    literal: str
    doc: str
    words: bool


@dataclass(frozen=True)
class CfcParamGroup:
    """Parameter arrays under one comment title, in declaration order."""

    title: str
    arrays: tuple[CfcParamArray, ...]


def _param_groups(groups: list[dict[str, Any]]) -> tuple[CfcParamGroup, ...]:
    return tuple(
        CfcParamGroup(group["title"], tuple(CfcParamArray(**array) for array in group["arrays"])) for group in groups
    )


@dataclass(frozen=True)
class CfcDescriptor:
    """One ``static const`` kernel descriptor of the generated file: ``static const <ctype> <name> = { fields };``
    with named fields (C initializers: numbers, array names, nested ``{ .x = ... }``)."""

    ctype: str
    name: str
    comment: str
    fields: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class CfcLayerCall:
    """The kernel calls of one CfC layer in ``<name>_step_dt``: gather z, run the backbone layers
    (``(descriptor, input buffer, output buffer)``), the heads."""

    name: str
    backbone: tuple[tuple[str, str, str], ...]
    heads_input: str


@dataclass(frozen=True)
class CfcFixedContext:
    """What ``cfc_fixed.c.j2`` writes for a fixed16 / fixed32 CfC (``c`` in the template): the kernel's
    compile-time constants (``LNN_CFC_*`` ``#define``s: name, value, comment), the descriptors of the tables, the
    layers, the backbone layers and the readout (fields decided here, not in Jinja), and the calls of the step."""

    kernel: str  # "q15" or "q31": lnn/lnn_cfc_<kernel>.h
    time_type: str  # the elapsed time in a step (the accumulator type: int32_t / int64_t)
    defines: tuple[tuple[str, str, str], ...]
    descriptors: tuple[CfcDescriptor, ...]
    layers: tuple[CfcLayerCall, ...]
    buffers: tuple[str, ...]  # the work buffers of the step: z, then bb_a, bb_b as the backbone needs them
    doc: CfcDoc
    param_groups: tuple[CfcParamGroup, ...]  # the parameter arrays (cfc_params.c.j2)


def _fields(values: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """Named descriptor fields as C initializers, in order (bools as 0/1, None as the null pointer 0, strings are
    C expressions already)."""
    return tuple((key, _initializer(value)) for key, value in values.items())


def _initializer(value: Any) -> str:
    if value is None:
        return "0"
    return str(int(value)) if isinstance(value, bool | int | np.integer) else str(value)


def _nested(values: dict[str, Any]) -> str:
    """A nested initializer ``{ .key = value, ... }``."""
    return "{ " + ", ".join(f".{key} = {value}" for key, value in _fields(values)) + " }"


def _pass_fields(group: dict[str, Any] | None, kernel: str, first: int) -> str:
    """A ``lnn_cfc_<kernel>_pass_t`` initializer (all zero for an unused slot)."""
    if group is None:
        return "{ 0 }"
    values: dict[str, Any] = {"w": group["w"]}
    if kernel == "q15":  # the weights are a union: h one by one, w one word per column pair
        values = {"h": f"{group['w']}.h", "w": f"{group['w']}.w"}
    values.update(count=group["count"], steps=group["steps"], stride=group["stride"])
    if kernel == "q15":
        values["tail"] = group["tail"]
    values["first"] = first
    return _nested(values)


def _kernel_context(
    context: dict[str, Any], header: HeaderContext, doc: CfcDoc, param_groups: tuple[CfcParamGroup, ...]
) -> CfcFixedContext:
    """The typed context of ``cfc_fixed.c.j2`` from the layouts :func:`cfc_code` computed."""
    kernel = "q15" if header.bits == 16 else "q31"
    prefix = f"lnn_cfc_{kernel}"
    defines = _defines(context, header)
    tables = CfcDescriptor(
        f"{prefix}_tables_t",
        "tables",
        "the function tables",
        _fields(
            {
                "tanh": context["tanh"]["name"] if context["tanh"] else None,
                "phi": context["tables"]["phi"]["name"] if "phi" in context["tables"] else None,
                "exp": context["tables"]["exp"]["name"] if "exp" in context["tables"] else None,
                "exp_factors": "exp_factors" if "exp" in context["tables"] else None,
            }
        ),
    )
    descriptors = [tables]
    descriptors += [_backbone_descriptor(entry, kernel, context["lanes"]) for entry in context["backbone"]]
    descriptors += [_layer_descriptor(entry, kernel) for entry in context["layers"]]
    descriptors.append(_readout_descriptor(context["readout"], kernel))
    calls = []
    for entry in context["layers"]:
        backbone = tuple((f"bb{b['k']}", b["input"], b["output"]) for b in context["backbone"])
        calls.append(CfcLayerCall(f"l{entry['index']}", backbone, context["heads_input"]))
    buffers = ("z", *("bb_a", "bb_b")[: min(len(context["backbone"]), 2)])
    return CfcFixedContext(
        kernel, header.acc_type, defines, tuple(descriptors), tuple(calls), buffers, doc, param_groups
    )


def _defines(context: dict[str, Any], header: HeaderContext) -> tuple[tuple[str, str, str], ...]:
    """The kernel's compile-time constants (see the header comment of lnn/lnn_cfc_q15.h)."""
    modes = {"default": "LNN_CFC_DEFAULT", "no_gate": "LNN_CFC_NO_GATE", "pure": "LNN_CFC_PURE"}
    activations = {
        "tanh": "LNN_CFC_TANH",
        "lecun_tanh": "LNN_CFC_TANH",
        "relu": "LNN_CFC_RELU",
        "silu": "LNN_CFC_SILU",
        "gelu": "LNN_CFC_GELU",
    }
    buffer = max(context["z_buffer"], context["bb_buffer"])
    defines: list[tuple[str, str, str]] = [
        ("LNN_CFC_N_NEURONS", str(header.state_size), ""),
        ("LNN_CFC_N_OUTPUTS", str(header.outputs), ""),
        ("LNN_CFC_BUF", str(buffer), "values of a work buffer (z, backbone activations)"),
        ("LNN_CFC_MODE", modes[context["mode"]], context["mode_doc"]),
        ("LNN_CFC_INDEX_T", context["index_type"], "CSR row pointers and columns"),
    ]
    if context["backbone"]:
        defines.append(("LNN_CFC_ACTIVATION", activations[context["activation"]], context["activation"]))
    tanh = context["tanh"]
    if tanh:
        defines += [
            ("LNN_CFC_TANH_BITS", str(tanh["in_bits"]), f"input Q{tanh['in_frac']} saturated to [-8, 8)"),
            ("LNN_CFC_TANH_FS", str(tanh["frac_shift"]), "segment width log2"),
            (
                "LNN_CFC_TANH_MIRRORED",
                str(int(tanh["mirrored"])),
                "the table holds [0, 8]" if tanh["mirrored"] else "the table holds [-8, 8]",
            ),
            ("LNN_CFC_TANH_MID", str(tanh["mid"]), "index of tanh(0)"),
        ]
    for key, doc in (("phi", "gelu's Phi on [0, 8)"), ("exp", "exp(-f) on [0, 1)")):
        if key not in context["tables"]:
            continue
        table = context["tables"][key]
        upper = key.upper()
        if key == "exp":
            defines.append(("LNN_CFC_EXP_FRAC", str(table["in_frac"]), "input format of exp_neg"))
        defines += [
            (f"LNN_CFC_{upper}_LIMIT", table["limit"], f"{doc}: inputs from here on read the last sample"),
            (f"LNN_CFC_{upper}_FS", str(table["frac_shift"]), ""),
            (f"LNN_CFC_{upper}_LAST", str(table["last"]), ""),
        ]
        if key == "exp":
            defines.append(("LNN_CFC_EXP_FACTORS", str(table["factors"]), "exp(-n) is 0 from n = this on"))
    if context["mode"] == "default":
        defines += [
            ("LNN_CFC_H_S", str(context["h_s"]), ""),
            ("LNN_CFC_H_ROUND", context["h_round"], "2^(h_s - 1) - 1: rounds half down"),
        ]
    if context["mode"] == "no_gate":
        defines += [("LNN_CFC_H_S1", str(context["h_s1"]), ""), ("LNN_CFC_H_S2", str(context["h_s2"]), "")]
    return tuple(defines)


def _backbone_descriptor(entry: dict[str, Any], kernel: str, lanes: int) -> CfcDescriptor:
    rows = entry["blocks"] * entry["block"]
    values = {
        "t": "&tables",
        "pass": _pass_fields(entry, kernel, 0),
        "bias": entry["b"],
        "blocks": entry["blocks"],
        "pad": rows if lanes == 2 and rows % 2 else -1,  # fixed16: z pads an odd length to a whole word
    }
    values.update({key: entry.get(key, 0) for key in ("sz", "sa", "sr", "sz_adjust")})
    comment = (
        f"backbone layer {entry['k']}: {entry['units']} units over {entry['cols']} inputs in blocks of "
        f"{entry['block']}, acc Q{entry['acc']} -> Q{entry['act']}"
    )
    return CfcDescriptor(f"lnn_cfc_{kernel}_backbone_t", f"bb{entry['k']}", comment, _fields(values))


def _layer_descriptor(entry: dict[str, Any], kernel: str) -> CfcDescriptor:
    heads = entry["heads"]
    groups = entry["groups"]
    passes = [_pass_fields(group, kernel, heads.index(_head_of(group["accs"][0]))) for group in groups]
    passes += ["{ 0 }"] * (2 - len(passes))
    source = entry["source_start"]
    values = {
        "t": "&tables",
        "start": entry["start"],
        "size": entry["size"],
        "inputs": entry["inputs"],
        "cols": entry["cols"],
        "zlen": entry["zlen"],
        "source": -1 if source is None else source,
        "heads": len(heads),
        "bias": entry["bias"],
        "passes": len(groups),
        "pass": "{ " + ", ".join(passes) + " }",
        "sparse": entry["sparse"] is not None,
        "csr": _csr_fields(entry["sparse"], kernel),
    }
    shifts = ("ff1_sz", "ff2_sz", "ta_s", "tb_s", "g_s", "ff1_sp", "u_s", "A_s")
    values.update({key: entry["shift"].get(key, 0) for key in shifts})
    values.update({key: entry.get(key) for key in ("tau", "A", "A_h")})
    comment = (
        f"layer {entry['index']}: neurons {entry['start']}..{entry['start'] + entry['size'] - 1}, "
        f"z = [u ; h] of {entry['inputs']} + {entry['size']} values, heads {', '.join(heads)}"
    )
    return CfcDescriptor(f"lnn_cfc_{kernel}_layer_t", f"l{entry['index']}", comment, _fields(values))


def _csr_fields(sparse: dict[str, Any] | None, kernel: str) -> str:
    """A ``lnn_cfc_<kernel>_csr_t`` initializer (all zero for a layer without one)."""
    if sparse is None:
        return "{ 0 }"
    values: dict[str, Any] = {"row": sparse["row"], "col": sparse["col"]}
    if kernel == "q31":
        values["w"] = sparse["w"]
    elif sparse["words"]:  # both heads per synapse: a union of pairs
        values.update(h=f"{sparse['w']}.h", w=f"{sparse['w']}.w")
    else:
        values["h"] = sparse["w"]
    values["heads"] = len(sparse["heads"])
    return _nested(values)


def _head_of(acc: str) -> str:
    return next(head for head, name in ACC_NAMES.items() if name == acc)


def _readout_descriptor(readout: dict[str, Any], kernel: str) -> CfcDescriptor:
    proj, affine = readout["proj"], readout["affine"]
    values = {"last_start": readout["last_start"], "last_size": readout["last_size"], "proj": proj}
    values.update({key: key if proj else None for key in ("fc_w", "fc_b", "fc_shift")})
    values["affine"] = affine
    values.update({key: key if affine else None for key in ("out_w", "out_shift", "out_b")})
    comment = "the outputs" + (", projected by fc" if proj else "") + (", affine output mapping" if affine else "")
    return CfcDescriptor(f"lnn_cfc_{kernel}_readout_t", "readout", comment, _fields(values))


def _weight_doc(qmodel: QuantizedModel, names: list[str]) -> str:
    if not qmodel.is_fixed:
        return ""
    formats = ", ".join(f"{name} Q({qmodel.formats[f'{name}_acc']} - in_frac[c])" for name in names)
    return f"column c of {formats}"


def _bias_doc(qmodel: QuantizedModel, names: list[str]) -> str:
    if not qmodel.is_fixed:
        return ""
    return "biases + rounding offsets, " + ", ".join(f"{name} Q{qmodel.formats[f'{name}_acc']}" for name in names)


def _folded(qmodel: QuantizedModel, name: str) -> int:
    """What the C adds to the bias of Linear ``name`` (fixed point): the rounding offsets of the shifts that
    read its accumulator, so that the step shifts with a plain ``>>`` (see the emulator's table)."""
    c = qmodel.constants
    cfc = qmodel.model.cfc
    assert cfc is not None
    head = name.rsplit("_", 1)[-1] if "_" in name else name
    if name.startswith("bb"):
        key = "sz" if cfc.activation in ("tanh", "lecun_tanh") else "sa"
        return _fold(int(c[f"{name}_{key}"]))
    if head in ("ff1", "ff2"):
        return _fold(int(c[f"{name}_sp" if cfc.mode == "pure" else f"{name}_sz"]))
    if head == "ta":
        return _fold(int(c[f"{name}_s"]))
    if head == "tb":
        pre = name[: -len("tb")]
        tb_shift = int(c[f"{name}_s"])
        return _fold(tb_shift) + (_fold(int(c[f"{pre}g_s"])) << tb_shift)
    raise AssertionError(name)


def _bias(qmodel: QuantizedModel, name: str) -> np.ndarray:
    bias = np.asarray(qmodel.params[f"{name}_b"])
    if not qmodel.is_fixed:
        return bias
    folded = bias + _folded(qmodel, name)
    if np.abs(folded).max(initial=0) >= 1 << (2 * qmodel.bits - 1):
        raise LnnEdgeError(f"the bias of {name} with its rounding offsets does not fit {2 * qmodel.bits} bits")
    return folded


def _group_arrays(
    arrays: _Arrays,
    group: list[dict[str, Any]],
    qmodel: QuantizedModel,
    types: _Types,
    name: str,
    matrices: list[np.ndarray],
    doc: str,
) -> dict[str, Any]:
    """One pass's interleaved weights; returns what the template needs to run it."""
    rows, cols = matrices[0].shape
    count = len(matrices)
    values = _interleave(matrices, types.lanes)
    words = types.lanes == 2
    arrays.add(group, name, values, types.value, doc, words=words)
    tail = _tail(cols, count, types.lanes)
    steps = (cols - 1) // 2 if tail else _pad(cols, types.lanes) // types.lanes
    stride = steps * count + (count // 2 if tail else 0)  # in words (fixed16) or values
    return {"w": name, "count": count, "steps": steps, "stride": stride, "rows": rows, "tail": tail}


def _backbone_layer(arrays: _Arrays, qmodel: QuantizedModel, types: _Types, k: int) -> dict[str, Any]:
    """Backbone layer k of a dense cell: it reads ``z`` (k = 0) or the other buffer, writes bb_a / bb_b. Its rows
    are evaluated in blocks of ``block`` (padding rows have zero weights and bias)."""
    name = f"bb{k}"
    activation = qmodel.model.cfc.activation if qmodel.model.cfc else ""
    group = arrays.group(f"Backbone layer {k} ({activation})")
    weight = np.asarray(qmodel.params[f"{name}_w"])
    rows, cols = weight.shape
    block = min(types.group_max, rows)
    blocks = -(-rows // block)
    padded = np.zeros((blocks * block, cols), dtype=weight.dtype)
    padded[:rows] = weight
    bias = np.zeros(blocks * block, dtype=weight.dtype)
    bias[:rows] = _bias(qmodel, name)
    matrices = [padded[i::block] for i in range(block)]
    entry = _group_arrays(arrays, group, qmodel, types, f"{name}_w", matrices, _weight_doc(qmodel, [name]))
    arrays.add(group, f"{name}_b", bias, types.bias, _bias_doc(qmodel, [name]))
    entry.update(
        {
            "k": k,
            "units": int(rows),
            "cols": int(cols),
            "block": block,
            "blocks": blocks,
            "b": f"{name}_b",
            "input": "z" if k == 0 else ("bb_b" if k % 2 == 0 else "bb_a"),
            "output": "bb_a" if k % 2 == 0 else "bb_b",
            "accs": [f"a{i}" for i in range(block)],
        }
    )
    if qmodel.is_fixed:
        c, f = qmodel.constants, qmodel.formats
        entry.update(acc=f[f"{name}_acc"], act=f[f"{name}_act"])
        entry.update({key: int(c[f"{name}_{key}"]) for key in ("sz", "sa") if f"{name}_{key}" in c})
        entry["sr"] = int(c.get(f"{name}_sr", 0))  # deep tanh backbones: activations Q s -> Q(s - sr)
        if "sa" in entry and "sz" in entry:  # the bias holds sa's rounding offset; sz's is added in the step
            entry["sz_adjust"] = _fold(entry["sz"]) - _fold(entry["sa"])
    return entry


def _layer(
    arrays: _Arrays, qmodel: QuantizedModel, types: _Types, layer: CfcLayer, layers: list[CfcLayer], wired: bool
) -> dict[str, Any]:
    """One cell of the step: where its input comes from, its passes and (fixed point) shifts and formats."""
    p = qmodel.params
    pure = qmodel.model.cfc is not None and qmodel.model.cfc.mode == "pure"
    pre = layer.name
    title = f"Layer {layer.index}: neurons {layer.start}..{layer.start + layer.size - 1}" if wired else "Heads"
    group = arrays.group(title)
    masked = ["ff1"] if pure else ["ff1", "ff2"]
    heads = masked + ([] if pure else ["ta", "tb"])
    cols = layer.inputs + layer.size
    entry: dict[str, Any] = {
        "index": layer.index,
        "start": layer.start,
        "size": layer.size,
        "inputs": layer.inputs,
        "cols": cols,
        "zlen": _pad(cols, types.lanes),
        # Layer 0 reads the inputs x, layer K > 0 the new state of layer K-1 (already written to s->state).
        "source_start": None if layer.index == 0 else layers[layer.index - 1].start,
        "heads": heads,
        "accs": [ACC_NAMES[h] for h in heads],
        "sparse": None,
    }
    dense_heads = list(heads)
    if wired and not layer_ff_dense(qmodel, layer):
        mask = np.asarray(p[f"{pre}mask"]) != 0  # [rows, columns of z]
        row, col = csr_by_destination(mask.T)  # by destination = per neuron, its columns increasing
        neuron = np.repeat(np.arange(layer.size), np.diff(row))
        weights = np.stack([np.asarray(p[f"{pre}{h}_w"])[neuron, col] for h in masked], axis=1).ravel()
        words = types.lanes == 2 and len(masked) == 2
        entry["sparse"] = {
            "row": arrays.add(group, f"{pre}row", row, types.index, "CSR row pointers of ff1/ff2"),
            "col": arrays.add(group, f"{pre}col", col, types.index, "column in z = [u ; h] of each synapse"),
            "w": arrays.add(
                group,
                f"{pre}syn_w",
                weights,
                types.value,
                "per synapse: " + _weight_doc(qmodel, [pre + h for h in masked]),
                words=words,
            ),
            "heads": masked,
            "accs": [ACC_NAMES[h] for h in masked],
            "words": words,
            "synapses": int(col.size),
        }
        dense_heads = [h for h in heads if h not in masked]
    entry["groups"] = []
    for start in range(0, len(dense_heads), types.group_max):
        chunk = dense_heads[start : start + types.group_max]
        names = [pre + h for h in chunk]
        matrices = [np.asarray(p[f"{name}_w"]) for name in names]
        pass_ = _group_arrays(
            arrays, group, qmodel, types, f"{pre}{'_'.join(chunk)}_w", matrices, _weight_doc(qmodel, names)
        )
        pass_["accs"] = [ACC_NAMES[h] for h in chunk]
        entry["groups"].append(pass_)
    bias = np.stack([_bias(qmodel, pre + h) for h in heads], axis=1)
    entry["bias"] = arrays.add(group, f"{pre}bias", bias, types.bias, _bias_doc(qmodel, [pre + h for h in heads]))
    if pure:
        entry["tau"] = arrays.add(
            group, f"{pre}tau", p[f"{pre}tau"], types.value, _format_doc(qmodel, "|w_tau|", f"{pre}f1")
        )
        entry["A"] = arrays.add(group, f"{pre}A", p[f"{pre}A"], types.value, _format_doc(qmodel, "A", f"{pre}A"))
        if qmodel.is_fixed:
            entry["A_h"] = arrays.add(group, f"{pre}A_h", p[f"{pre}A_h"], types.value, _format_doc(qmodel, "A", "h"))
    if qmodel.is_fixed:
        c = qmodel.constants
        keys = ("ff1_sp", "u_s", "A_s") if pure else ("ff1_sz", "ff2_sz", "ta_s", "tb_s", "g_s")
        entry["shift"] = {key: int(c[f"{pre}{key}"]) for key in keys}
        entry["f"] = {key: qmodel.formats[f"{pre}{key}"] for key in (("f1", "A") if pure else ("ta",))}
    return entry


def _format_doc(qmodel: QuantizedModel, what: str, name: str) -> str:
    return f"{what}, Q{qmodel.formats[name]}" if qmodel.is_fixed else what


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
        arrays.add(group, "fc_w", p["fc_w"], types.value, _weight_doc(qmodel, ["fc"]))
        arrays.add(group, "fc_b", p["fc_b"], types.bias, f"Q{qmodel.formats['fc_acc']}" if qmodel.is_fixed else "")
        if qmodel.is_fixed:
            arrays.add(group, "fc_shift", p["fc_shift"], "int8_t", "fc accumulator -> p_k")
    if readout["affine"]:
        arrays.add(group, "out_w", p["out_w"], types.value, "output mapping weight")
        if qmodel.is_fixed:
            arrays.add(group, "out_shift", p["out_shift"], "int8_t", "p_k out_w -> y_k")
        arrays.add(group, "out_b", p["out_b"], types.value, "output mapping bias, Q(output_frac)")
    return readout


def _check_table(table: InterpTable | CfcTable, bits: int) -> None:
    """(high - low) * position + its rounding offset must fit the W-bit interpolation (re-proved here)."""
    steps = np.abs(np.diff(np.asarray(table.values, dtype=np.int64)))
    worst = int(steps.max(initial=0)) * ((1 << table.frac_shift) - 1) + (1 << max(table.frac_shift - 1, 0))
    if worst >= 1 << (2 * bits - 1) or table.frac_shift > 2 * bits - 2:
        raise LnnEdgeError(f"the {table.name} table's interpolation does not fit {2 * bits} bits")
    if bits == 32 and (int(steps.max(initial=0)) >= 1 << 31 or table.frac_shift > 31):
        raise LnnEdgeError(f"the {table.name} table's interpolation does not fit a 32x32-bit product")


def _fixed_context(arrays: _Arrays, qmodel: QuantizedModel, backbone: int) -> dict[str, Any]:
    """Tables, their lookup constants and the scalar constants of the fixed-point step."""
    p, c, f = qmodel.params, qmodel.constants, qmodel.formats
    cfc = qmodel.model.cfc
    assert cfc is not None
    bits = qmodel.bits
    s = bits - 1
    table_type = "uint16_t" if bits == 16 else "uint32_t"
    tables: dict[str, dict[str, Any]] = {}
    group = arrays.group(f"Function tables: 2^k + 1 samples in Q{s}, linearly interpolated")
    tanh: dict[str, Any] | None = None
    if "tanh_table" in p:
        values = tuple(int(v) for v in p["tanh_table"])
        mirrored = bool(c.get("tanh_mirrored", 0))
        table = CfcTable("cfc_tanh", values, f["t"], s, 3, int(c["tanh_index_bits"]), mirrored)
        _check_table(table, bits)
        high = (1 << (table.in_bits - 1)) - 1
        low = -high if mirrored else -high - 1
        tanh = {
            "name": arrays.add(
                group,
                "tanh_table",
                p["tanh_table"],
                "int16_t" if bits == 16 else "int32_t",
                "tanh on [0, 8]" if mirrored else "tanh on [-8, 8]",
            ),
            "in_frac": table.in_frac,
            "in_bits": table.in_bits,
            "low": c_int(low, 2 * bits),
            "high": c_int(high, 2 * bits),
            "mid": 0 if mirrored else 1 << (table.index_bits - 1),
            "mirrored": mirrored,
            "frac_shift": table.frac_shift,
            "mask": c_int((1 << table.frac_shift) - 1, 2 * bits),
            "half": c_int(_fold(table.frac_shift), 2 * bits),
        }
    specs = [  # key, array, constant holding its index bits, input format, log2 of its span
        ("phi", "phi_table", "phi_index_bits", f["z"], PHI_SPAN_LOG2),
        ("exp", "exp_table", "exp_index_bits", f.get("e", 0), 0),
    ]
    for key, array, index_bits, in_frac, span_log2 in specs:
        if array not in p:
            continue
        values = tuple(int(v) for v in p[array])
        interp = InterpTable(key, values, in_frac, s, span_log2, int(c[index_bits]))
        _check_table(interp, bits)
        tables[key] = {
            "name": arrays.add(group, array, p[array], table_type),
            "limit": c_int(interp.limit, 2 * bits),
            "frac_shift": interp.frac_shift,
            "last": len(values) - 1,
            "in_frac": in_frac,
        }
    if "exp_factors" in p:
        factors = p["exp_factors"]
        arrays.add(group, "exp_factors", factors, table_type, "exp(-n), n = 0, 1, ...")
        tables["exp"]["factors"] = len(factors)
        if int(np.max(factors)) * (1 << s) >= 1 << (2 * bits - 1):
            raise LnnEdgeError("exp_neg: the product of its factors and its table does not fit the accumulator")
    h_s = int(c.get("h_s", 0))
    return {
        "f": f,
        "s": s,
        "tanh": tanh,
        "tables": tables,
        "interp": "lnn_interp_u16" if bits == 16 else "lnn_interp_u32",
        "h_s": h_s,
        "h_round": c_int(_fold(h_s) - 1 if h_s else 0, 2 * bits),
        "h_s1": int(c.get("h_s1", 0)),
        "h_s2": int(c.get("h_s2", 0)),
        "uses": {"phi": "phi" in tables, "exp": "exp" in tables},
    }


# --- float32: the context of cfc_float32.c.j2, data for the kernels of lnn/lnn_cfc_f32.h ------------------------

F32_MODES = {"default": "LNN_CFC_F32_DEFAULT", "no_gate": "LNN_CFC_F32_NO_GATE", "pure": "LNN_CFC_F32_PURE"}
F32_ACTIVATIONS = {
    "lecun_tanh": "LNN_CFC_F32_LECUN_TANH",
    "tanh": "LNN_CFC_F32_TANH",
    "relu": "LNN_CFC_F32_RELU",
    "silu": "LNN_CFC_F32_SILU",
    "gelu": "LNN_CFC_F32_GELU",
}
F32_HEAD_INDEX = {"ff1": 0, "ff2": 1, "ta": 2, "tb": 3}
"""The kernel's accumulator of each head (lnn_cfc_f32_heads: acc[0..3] = ff1, ff2, time_a, time_b)."""


@dataclass(frozen=True)
class CfcF32Array:
    """One ``static const`` array: C type, name, length, initialiser (C literals) and an optional comment."""

    ctype: str
    name: str
    size: int
    literal: str
    doc: str


@dataclass(frozen=True)
class CfcF32Backbone:
    """An ``lnn_cfc_f32_backbone_t`` (field values as C expressions) and the work buffers it reads and writes."""

    name: str
    w: str
    b: str
    blocks: int
    block: int
    cols: int
    input: str
    output: str


@dataclass(frozen=True)
class CfcF32Layer:
    """An ``lnn_cfc_f32_layer_t`` (pointers as array names or ``0``) and the work buffer its heads read."""

    name: str
    start: int
    size: int
    inputs: int
    source: int
    heads: int
    bias: str
    w: str
    cols: int
    dense_first: int
    dense_count: int
    row: str
    col: str
    syn_w: str
    sparse_count: int
    tau: str
    a: str
    heads_input: str


@dataclass(frozen=True)
class CfcF32Readout:
    """The ``lnn_cfc_f32_readout_t`` (absent arrays are ``0``)."""

    outputs: int
    last_start: int
    last_size: int
    fc_w: str
    fc_b: str
    out_w: str
    out_b: str


@dataclass(frozen=True)
class CfcFloatContext:
    """What ``cfc_float32.c.j2`` writes (``c`` in the template): the kernel's ``LNN_CFC_F32_*`` ``#define``s, the
    parameter arrays (floats as shortest round-trip decimal literals) under their group titles, and one
    ``static const`` descriptor per backbone layer, CfC layer and the readout, in the order the step runs them."""

    mode: str
    activation: str
    z_size: int
    bb_layers: int
    bb_size: int
    index_type: str
    groups: list[tuple[str, list[CfcF32Array]]]
    backbone: list[CfcF32Backbone]
    layers: list[CfcF32Layer]
    readout: CfcF32Readout
    doc: CfcDoc


def cfc_float_context(context: dict[str, Any], qmodel: QuantizedModel, doc: CfcDoc) -> CfcFloatContext:
    """The float32 template's context, from the layouts :func:`cfc_code` built (``context``: its backbone,
    layer and readout entries and ``param_groups``, all float32 arrays with one column per step)."""
    cfc = qmodel.model.cfc
    assert cfc is not None and not qmodel.is_fixed and context["lanes"] == 1
    groups = [
        (g["title"], [CfcF32Array(a["ctype"], a["name"], a["size"], a["literal"], a["doc"]) for a in g["arrays"]])
        for g in context["param_groups"]
    ]
    backbone = [
        CfcF32Backbone(f"bb{e['k']}", e["w"], e["b"], e["blocks"], e["block"], e["cols"], e["input"], e["output"])
        for e in context["backbone"]
    ]
    for entry in context["backbone"]:
        assert entry["stride"] == entry["cols"] * entry["block"] and not entry["tail"]
    layers = [_f32_layer(entry, context["heads_input"]) for entry in context["layers"]]
    readout = context["readout"]
    names = {a.name for _, arrays in groups for a in arrays}
    fc = readout["proj"] and "fc_w" in names
    affine = readout["affine"] and "out_w" in names
    assert fc == readout["proj"] and affine == readout["affine"]
    return CfcFloatContext(
        mode=F32_MODES[cfc.mode],
        activation=F32_ACTIVATIONS[cfc.activation],
        z_size=int(context["z_buffer"]),
        bb_layers=len(backbone),
        bb_size=max(1, int(context["bb_buffer"])),
        index_type=context["index_type"],
        groups=groups,
        backbone=backbone,
        layers=layers,
        readout=CfcF32Readout(
            outputs=qmodel.model.output_size,
            last_start=readout["last_start"],
            last_size=readout["last_size"],
            fc_w="fc_w" if fc else "0",
            fc_b="fc_b" if fc else "0",
            out_w="out_w" if affine else "0",
            out_b="out_b" if affine else "0",
        ),
        doc=doc,
    )


def _f32_layer(entry: dict[str, Any], heads_input: str) -> CfcF32Layer:
    """The descriptor of one layer: its dense pass (at most one in float32: four accumulators a pass) feeds
    consecutive accumulators, the sparse one ff1 (and ff2)."""
    groups = entry["groups"]
    assert len(groups) <= 1
    dense = groups[0] if groups else None
    first = 0
    if dense is not None:
        heads = [h for h in entry["heads"] if ACC_NAMES[h] in dense["accs"]]
        first = F32_HEAD_INDEX[heads[0]]
        assert [F32_HEAD_INDEX[h] for h in heads] == list(range(first, first + len(heads)))
        assert dense["stride"] == dense["steps"] * dense["count"] and not dense["tail"]
    source = entry["source_start"]
    # A wired layer K > 0 reads the new state of layer K-1, which directly precedes it: z is one run of the state.
    assert source is None or source + entry["inputs"] == entry["start"]
    sparse = entry["sparse"]
    if sparse is not None:
        assert [F32_HEAD_INDEX[h] for h in sparse["heads"]] == list(range(len(sparse["heads"])))
    return CfcF32Layer(
        name=f"layer{entry['index']}",
        start=entry["start"],
        size=entry["size"],
        inputs=entry["inputs"],
        source=-1 if source is None else int(source),
        heads=len(entry["heads"]),
        bias=entry["bias"],
        w=dense["w"] if dense else "0",
        cols=dense["steps"] if dense else 0,
        dense_first=first,
        dense_count=dense["count"] if dense else 0,
        row=sparse["row"] if sparse else "0",
        col=sparse["col"] if sparse else "0",
        syn_w=sparse["w"] if sparse else "0",
        sparse_count=len(sparse["heads"]) if sparse else 0,
        tau=entry.get("tau", "0"),
        a=entry.get("A", "0"),
        heads_input=heads_input,
    )

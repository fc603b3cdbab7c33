"""Quantized models in the ``.lnn`` container: the float model plus a ``quantized/`` section.

Members: ``quantized/manifest.json`` (precision, formats, constants, bounds, parameter index, quant hash)
and ``quantized/<name>.npy`` (float32 or int64 arrays). A file without that section is a plain float model.

Loading checks the section against the layout the quantizer writes for the float model's structure (the names
and shapes of the parameters, the names of formats, constants and bounds), so a file with a missing parameter
or a short table is refused with one sentence, not a ``KeyError`` or ``IndexError`` in the emulator later.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from lnn_edge.errors import ModelFileError
from lnn_edge.model.datafile import Sequences
from lnn_edge.model.limits import MAX_FORMAT_BITS, MAX_JSON_BYTES, MAX_SHIFT, parse_json, read_member
from lnn_edge.model.model import Model
from lnn_edge.model.modelfile import load_from_archive, npy_bytes, open_archive, read_array, save
from lnn_edge.model.schema import Fields, is_finite_number, is_int, shown
from lnn_edge.quant.calibration import CalibrationStats
from lnn_edge.quant.qformat import QuantizationError
from lnn_edge.quant.qmodel import PRECISIONS, STORAGE_BITS, QuantizedModel

SECTION = "quantized/"
MANIFEST = f"{SECTION}manifest.json"
SECTION_FIELDS = frozenset({"precision", "formats", "constants", "bounds", "sources", "params", "quant_hash"})
STRUCTURAL_CONSTANTS = frozenset(
    {"unfolds", "layers", "backbone_layers", "cfc_scheme", "tanh_mirrored", "source_bits"}
    | {f"{table}_index_bits" for table in ("sigmoid", "tanh", "phi", "exp")}
)
"""Constants fixed by the model's structure and the precision: they must equal what the quantizer writes."""
VALUE_CONSTANTS = frozenset({"dt_default_q", "dt_min_q", "eps", "one", "epsilon"})
"""Constants holding a number (an elapsed time, epsilon, 1.0); every other constant is a shift amount."""
LAYOUT_FLAG = re.compile(r"ff_dense_\d+")
"""Layout decisions the quantizer records (0 or 1): kept as stored, so a file keeps the C it was quantized for."""
SHIFT_NAME = re.compile(r".*(shift|_s[12azp]?)")


def save_quantized(qmodel: QuantizedModel, path: str | os.PathLike[str]) -> str:
    """Write the float model and its quantized section atomically; return the quant hash."""
    qmodel.validate()
    manifest = qmodel.to_manifest()
    extra = {MANIFEST: json.dumps(manifest, indent=2, sort_keys=True).encode()}
    for name, array in qmodel.params.items():
        dtype = "<f4" if qmodel.precision == "float32" else "<i8"
        extra[f"{SECTION}{name}.npy"] = npy_bytes(array, dtype)
    save(qmodel.model, path, extra=extra)
    return str(manifest["quant_hash"])


def load_any(path: str | os.PathLike[str]) -> Model | QuantizedModel:
    """Load a float or a quantized model file, fully validated; errors name the file and field."""
    path = Path(path)
    try:
        with open_archive(path) as archive:
            model = load_from_archive(archive)
            if MANIFEST not in archive.namelist():
                return model
            return _load_section(archive, model)
    except ModelFileError as error:
        raise ModelFileError(f"{path}: {error}") from None


def _load_section(archive: zipfile.ZipFile, model: Model) -> QuantizedModel:
    manifest = parse_json(read_member(archive, MANIFEST, MAX_JSON_BYTES, ModelFileError), MANIFEST, ModelFileError)
    precision = check_section_manifest(manifest)
    layout = expected_layout(model, precision)
    dtype = "float32" if precision == "float32" else "int64"
    params = {}
    for name in manifest["params"]:
        if name not in layout.params:
            raise ModelFileError(f"quantized parameter '{name}' is not part of a {precision} {model.cell} model")
        limit = int(layout.params[name].size)
        params[name] = read_array(archive, f"{SECTION}{name}.npy", dtype, max_values=limit)
    qmodel = QuantizedModel(
        model=model,
        precision=precision,
        params=params,
        # Both may be left out (the schema's defaults); check_layout then names the first one missing.
        formats=dict(manifest.get("formats", {})),
        constants=dict(manifest.get("constants", {})),
        bounds={name: float(value) for name, value in manifest.get("bounds", {}).items()},
        sources=dict(manifest.get("sources", {})),
    )
    check_layout(qmodel, layout)
    qmodel.validate()
    if manifest.get("quant_hash") != qmodel.quant_hash():
        raise ModelFileError("quantized section hash mismatch: the file was altered")
    return qmodel


def check_section_manifest(manifest: Any) -> str:
    """Check the types of the quantized manifest's fields; return its precision."""
    top = Fields(manifest, "quantized manifest", ModelFileError)
    top.only(SECTION_FIELDS)
    precision = top.string("precision", PRECISIONS)
    formats = top.obj("formats", {})
    for name in formats.data:
        formats.integer(name, -MAX_FORMAT_BITS, MAX_FORMAT_BITS)
    constants = top.obj("constants", {})
    for name, value in constants.data.items():
        if not (is_int(value) and abs(value) < 1 << 63) and not (name == "epsilon" and is_finite_number(value)):
            raise constants.fail(name, value, "an integer of at most 64 bits")
    bounds = top.obj("bounds", {})
    for name in bounds.data:
        bounds.number(name)
    sources = top.obj("sources", {})
    for name in sources.data:
        sources.string(name)
    params = top.obj("params")
    for name in params.data:
        params.obj(name)
    top.string("quant_hash", default="")
    return precision


def check_layout(qmodel: QuantizedModel, layout: QuantizedModel) -> None:
    """Refuse a quantized section that differs from what the quantizer writes for this model: another set
    of parameters, formats, constants or bounds, a parameter of another shape, a structural constant of
    another value, or a value constant or shift beyond its range."""
    for part in ("params", "formats", "constants", "bounds"):
        stored, expected = getattr(qmodel, part), getattr(layout, part)
        missing = sorted(set(expected) - set(stored))
        if missing:
            raise ModelFileError(f"quantized section lacks {part[:-1]} '{missing[0]}': re-run lnn-edge quantize")
        extra = sorted(set(stored) - set(expected))
        if extra:
            raise ModelFileError(f"quantized section has an unknown {part[:-1]} '{extra[0]}': re-run lnn-edge quantize")
    for name, array in qmodel.params.items():
        if array.shape != layout.params[name].shape:
            raise ModelFileError(
                f"quantized parameter '{name}' has shape {array.shape}; expected {layout.params[name].shape}"
            )
    for name, value in qmodel.constants.items():
        _check_constant(name, value, layout.constants[name], qmodel.precision)


def _check_constant(name: str, value: int | float, expected: int | float, precision: str) -> None:
    if name in STRUCTURAL_CONSTANTS and value != expected:
        raise ModelFileError(f"quantized constant '{name}' is {shown(value)}; this model needs {expected}")
    if LAYOUT_FLAG.fullmatch(name):
        if value not in (0, 1):
            raise ModelFileError(f"quantized layout flag '{name}' is {shown(value)}; expected 0 or 1")
    elif name in VALUE_CONSTANTS:
        width = 2 * STORAGE_BITS.get(precision, 32)
        if name != "epsilon" and not abs(value) < 1 << width:
            raise ModelFileError(f"quantized constant '{name}' is {shown(value)}; expected at most {width} bits")
    elif not -MAX_SHIFT <= value <= MAX_SHIFT:
        raise ModelFileError(f"quantized shift '{name}' is {shown(value)}; expected -{MAX_SHIFT} to {MAX_SHIFT}")


def expected_layout(model: Model, precision: str) -> QuantizedModel:
    """What the quantizer writes for ``model`` in ``precision``, up to the values: parameter names and shapes,
    format, constant and bound names, and the structural constants.

    These depend on the model's structure only, so they are found by quantizing a stand-in of the same structure
    (same sizes, options and masks) whose parameters are plain values every format holds, with a plain
    calibration. One source of truth: a new parameter in the quantizer is checked here with no second list.
    """
    from lnn_edge.quant.quantize import quantize  # the quantizers and their tables load only when a section is read

    arrays = {
        name: array.copy() if name.endswith("sparsity_mask") else np.full(array.shape, 0.25)
        for name, array in model.arrays.items()
    }
    stand_in = replace(model, arrays=arrays, calibration=None)
    sequences = Sequences(x=np.full((1, 1, model.input_size), 0.5), dt=np.ones((1, 1)))
    calibration = CalibrationStats(sequences, np.ones(model.input_size), 1.0, 1.0, "stand-in")
    try:
        return quantize(stand_in, precision, calibration)
    except QuantizationError as error:  # e.g. fixed16 for more than 256 neurons: no such section is valid
        raise ModelFileError(f"a {precision} section cannot exist for this model ({error})") from None

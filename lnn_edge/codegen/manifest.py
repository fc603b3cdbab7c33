"""The schema of an export folder's ``manifest.json``, checked when an export is loaded.

Two checks, because the second needs the quantized model the first lets us load safely:

* :func:`read_export_manifest`: the file is bounded JSON, an object of the right format whose fields have their
  types; ``name`` is a C prefix (:func:`lnn_edge.codegen.render.check_name`), so ``verify`` and ``build`` only ever
  compile ``<name>.c`` inside the folder; every listed file is a plain name (no ``/``, no ``..``, no leading
  dot), or ``lnn/`` and a plain name (the runtime library), with a SHA-256.
* :func:`check_matches_model`: precision, cell, sizes, value type and memory agree with the quantized model, so
  a manifest cannot claim a precision (or sizes) that host verify would then ignore.

Fields this lnn-edge does not know are allowed (a newer export may add some); the known ones are checked.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from lnn_edge.atomic import SAFE_PATH
from lnn_edge.codegen.render import check_name
from lnn_edge.errors import LnnEdgeError
from lnn_edge.model import kinds
from lnn_edge.model.limits import MAX_FILE_NAMES, MAX_INPUTS, MAX_JSON_BYTES, MAX_NEURONS, MAX_OUTPUTS, parse_json
from lnn_edge.model.schema import Fields
from lnn_edge.quant.qmodel import PRECISIONS, QuantizedModel

VERSION = 1
VALUE_TYPES = {"float32": "float", "fixed16": "int16_t", "fixed32": "int32_t"}
"""The C type of state and I/O values for each precision (what ``value_type`` must say)."""
MEMORY_FIELDS = frozenset({"params", "state", "stack"})
MAX_MEMORY_BYTES = 1 << 31
SHA256 = re.compile(r"[0-9a-f]{64}")


def read_export_manifest(path: Path, export_format: str) -> dict[str, Any]:
    """Read and check ``path`` (an export's manifest.json of format ``export_format``); return it."""
    where = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise LnnEdgeError(f"{where} is {size} bytes, more than the limit of {MAX_JSON_BYTES} bytes")
        raw = path.read_bytes()
    except OSError as error:
        raise LnnEdgeError(f"{where} cannot be read ({error})") from None
    manifest = parse_json(raw, where, LnnEdgeError)
    if not isinstance(manifest, dict) or manifest.get("format") != export_format:
        raise LnnEdgeError(f"{where} is not an lnn-edge export manifest")
    check_fields(Fields(manifest, where, LnnEdgeError))
    return manifest


def check_fields(top: Fields) -> None:
    """The types and ranges of every known field, and the names of the listed files."""
    top.integer("version", VERSION, VERSION)
    top.string("lnn_edge_version")
    name = top.string("name")
    try:
        check_name(name)
    except LnnEdgeError:
        raise top.fail("name", name, "a C prefix (lowercase letters, digits, '_'): re-run lnn-edge export") from None
    top.string("precision", PRECISIONS)
    top.string("cell", kinds.names())
    top.integer("inputs", 1, MAX_INPUTS)
    top.integer("outputs", 1, MAX_OUTPUTS)
    top.integer("state_size", 1, MAX_NEURONS)
    top.string("model_hash")
    if top.number("dt_default") <= 0:
        raise top.fail("dt_default", top.data["dt_default"], "a time step > 0")
    top.boolean("fixed_dt")
    top.string("value_type", tuple(VALUE_TYPES.values()))
    memory = top.obj("memory")
    memory.only(MEMORY_FIELDS)
    for key in sorted(MEMORY_FIELDS):
        memory.integer(key, 0, MAX_MEMORY_BYTES)
    _check_files(top.obj("files"), name)


def _check_files(files: Fields, name: str) -> None:
    if len(files.data) > MAX_FILE_NAMES:
        raise files.error(f"{files.where} lists {len(files.data)} files; the limit is {MAX_FILE_NAMES}")
    for filename, digest in files.data.items():
        if not SAFE_PATH.fullmatch(filename):  # a plain name, at the top or in atomic.SUBDIRS
            raise files.error(
                f"{files.where} lists file {filename!r:.80}, which is not a plain file name in the folder or in "
                "one of the folders an export holds (lnn/, and for a --layout zephyr/, src/, src/lnn/, "
                "examples/<name>/; no '..', no leading dot): re-run lnn-edge export"
            )
        if not isinstance(digest, str) or not SHA256.fullmatch(digest):
            raise files.fail(filename, digest, "a SHA-256 in hex")
    for needed in (f"{name}.c", f"{name}.h"):
        if needed not in files.data:
            raise files.error(f"{files.where} does not list {needed}, the model's C: re-run lnn-edge export")


def check_matches_model(manifest: dict[str, Any], qmodel: QuantizedModel, where: str) -> None:
    """Precision, cell, sizes, value type and state memory must be those of the export's quantized model."""
    model = qmodel.model
    implied = {
        "precision": qmodel.precision,
        "cell": model.cell,
        "inputs": model.input_size,
        "outputs": model.output_size,
        "state_size": model.state_size,
        "value_type": VALUE_TYPES[qmodel.precision],
    }
    for key, value in implied.items():
        if manifest[key] != value:
            raise LnnEdgeError(
                f"{where} field '{key}' is {manifest[key]!r} but the export's model has {value!r}: "
                "re-run lnn-edge export"
            )
    value_bytes = 4 if qmodel.precision == "float32" else qmodel.bits // 8
    state = manifest["memory"]["state"]
    if state < value_bytes * model.state_size or state % value_bytes:
        raise LnnEdgeError(
            f"{where} field 'memory.state' is {state} bytes, which cannot hold {model.state_size} "
            f"{VALUE_TYPES[qmodel.precision]} values: re-run lnn-edge export"
        )

"""The ``.lnn`` model file: one zip archive with ``manifest.json`` and one ``.npy`` per array.

Layout (schema version 1, documented in ``docs/model-file.md``)::

    manifest.json            cell kind, options, sizes, wiring, names, dt, array index, content hash
    arrays/<name>.npy        float64 parameters (names as in lnn_edge.model.model)
    calibration/x.npy        optional sample of training inputs [B, T, S]
    calibration/dt.npy       optional elapsed times [B, T]
    calibration/y.npy        optional class labels of the sample, int64 [B] or [B, T]

Reading needs NumPy only (``allow_pickle=False``). The content hash is SHA-256 over the canonical JSON of
everything that defines the computation (cell, options, sizes, dt, wiring) and over every array's name,
shape and little-endian bytes; names, provenance and calibration data do not change it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from lnn_edge.atomic import atomic_file
from lnn_edge.errors import ModelFileError
from lnn_edge.model import kinds
from lnn_edge.model.limits import (
    MAX_ARCHIVE_BYTES,
    MAX_BACKBONE_LAYERS,
    MAX_BACKBONE_UNITS,
    MAX_CALIBRATION_VALUES,
    MAX_INPUTS,
    MAX_JSON_BYTES,
    MAX_LAYERS,
    MAX_NEURONS,
    MAX_ODE_UNFOLDS,
    MAX_OUTPUTS,
    MAX_ROLES,
    check_archive_size,
    parse_json,
    read_member,
    read_npy,
)
from lnn_edge.model.model import (
    Calibration,
    CfcOptions,
    InputStats,
    LtcOptions,
    Model,
    WiringInfo,
    expected_shapes,
    validate,
    validate_structure,
)
from lnn_edge.model.schema import Fields
from lnn_edge.outputs import is_model_file

FORMAT = "lnn-edge-model"
SCHEMA_VERSION = 1
MANIFEST_FIELDS = frozenset(
    {
        "format", "schema_version", "cell", "input_size", "output_size", "state_size", "dt", "ltc", "cfc", "wiring",
        "input_names", "output_names", "output_state_indices", "task", "provenance", "arrays", "calibration",
        "content_hash", "input_ranges", "output_ranges",
    }
)  # fmt: skip


def content_hash(model: Model) -> str:
    """SHA-256 (hex) of what defines the model's computation: options, sizes, topology and every array."""
    digest = hashlib.sha256()
    digest.update(json.dumps(_computation_manifest(model), sort_keys=True).encode())
    for name in sorted(model.arrays):
        array = np.ascontiguousarray(model.arrays[name], dtype="<f8")
        digest.update(f"{name}:{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _computation_manifest(model: Model) -> dict[str, Any]:
    return {
        "cell": model.cell,
        "input_size": model.input_size,
        "output_size": model.output_size,
        "state_size": model.state_size,
        "dt": float(model.dt),
        "ltc": asdict(model.ltc) if model.ltc else None,
        "cfc": asdict(model.cfc) if model.cfc else None,
    }


def to_manifest(model: Model) -> dict[str, Any]:
    """The JSON manifest of a model (arrays are listed, not embedded)."""
    manifest = {"format": FORMAT, "schema_version": SCHEMA_VERSION, **_computation_manifest(model)}
    manifest.update(
        {
            "wiring": asdict(model.wiring),
            "input_names": list(model.input_names),
            "output_names": list(model.output_names),
            "output_state_indices": model.output_state_indices,
            "task": model.task,
            "provenance": model.provenance,
            "arrays": {
                name: {"shape": list(array.shape), "dtype": "float64"} for name, array in sorted(model.arrays.items())
            },
            "calibration": _calibration_manifest(model.calibration),
            "input_ranges": {name: [float(lo), float(hi)] for name, (lo, hi) in sorted(model.input_ranges.items())},
            "output_ranges": {name: [float(lo), float(hi)] for name, (lo, hi) in sorted(model.output_ranges.items())},
            "content_hash": content_hash(model),
        }
    )
    return manifest


def _calibration_manifest(calibration: Calibration | None) -> dict[str, Any] | None:
    """The calibration entry: the sample's shape, whether it has ``dt``, and the whole-split statistics (small,
    [S] per field, so they live in the JSON where a reader can see them)."""
    if calibration is None:
        return None
    entry: dict[str, Any] = {"x": list(calibration.x.shape), "dt": calibration.dt is not None}
    if calibration.y is not None:
        entry["y"] = True
    if calibration.stats is not None:
        stats = calibration.stats
        entry["stats"] = {
            "minimum": [float(v) for v in stats.minimum],
            "maximum": [float(v) for v in stats.maximum],
            "abs_p999": [float(v) for v in stats.abs_p999],
            "count": int(stats.count),
        }
    return entry


def save(model: Model, path: str | os.PathLike[str], extra: dict[str, bytes] | None = None) -> str:
    """Validate ``model`` and write it to ``path`` atomically; return its content hash.

    ``extra`` adds archive members (the quantized section, see :mod:`lnn_edge.quant.qmodelfile`).
    """
    validate(model)
    manifest = to_manifest(model)
    with (
        atomic_file(path, kind="model file", is_own=is_model_file) as tmp,
        zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive,
    ):
        archive.writestr("manifest.json", json.dumps(manifest, indent=2, sort_keys=True))
        for name, array in sorted(model.arrays.items()):
            archive.writestr(f"arrays/{name}.npy", npy_bytes(array))
        if model.calibration is not None:
            archive.writestr("calibration/x.npy", npy_bytes(model.calibration.x))
            if model.calibration.dt is not None:
                archive.writestr("calibration/dt.npy", npy_bytes(model.calibration.dt))
            if model.calibration.y is not None:
                archive.writestr("calibration/y.npy", npy_bytes(model.calibration.y, "<i8"))
        for member, data in (extra or {}).items():
            archive.writestr(member, data)
    return str(manifest["content_hash"])


def npy_bytes(array: np.ndarray, dtype: str = "<f8") -> bytes:
    """``array`` as the bytes of a .npy file of ``dtype`` (little-endian)."""
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ascontiguousarray(array, dtype=dtype), allow_pickle=False)
    return buffer.getvalue()


def load(path: str | os.PathLike[str]) -> Model:
    """Read and fully validate a ``.lnn`` file; any problem is a :class:`ModelFileError` naming file and field."""
    path = Path(path)
    try:
        return _load(path)
    except ModelFileError as error:
        raise ModelFileError(f"{path}: {error}") from None


def open_archive(path: Path) -> zipfile.ZipFile:
    """Open a model archive; a missing or non-zip file is a ModelFileError (without the path)."""
    if path.is_dir():
        hint = f" (an export? its model is {path / 'model.lnn'})" if (path / "model.lnn").is_file() else ""
        raise ModelFileError(f"is a folder, not a model file{hint}")
    if not path.is_file():
        raise ModelFileError("no such file")
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise ModelFileError(f"not an lnn-edge model file (truncated or corrupt: {error})") from None


def _load(path: Path) -> Model:
    with open_archive(path) as archive:
        return load_from_archive(archive)


def load_from_archive(archive: zipfile.ZipFile) -> Model:
    """Read and validate the float model of an open archive.

    The manifest is checked first (types, and sizes within :mod:`lnn_edge.model.limits`), so every array is read
    with a known bound on its size: nothing a file declares makes loading allocate more than the limits allow.
    """
    check_archive_size(archive, MAX_ARCHIVE_BYTES, ModelFileError)
    manifest = read_manifest(archive)
    skeleton = from_manifest(manifest, {})
    validate_structure(skeleton)
    expected = expected_shapes(skeleton)
    arrays = {}
    for name in manifest["arrays"]:
        if name not in expected:
            raise ModelFileError(f"array '{name}' is not part of a {skeleton.cell} model with these options")
        arrays[name] = read_array(archive, f"arrays/{name}.npy", max_values=int(np.prod(expected[name])))
    calibration = None
    if manifest.get("calibration"):
        x = read_array(archive, "calibration/x.npy", max_values=MAX_CALIBRATION_VALUES)
        dt = None
        if manifest["calibration"].get("dt"):
            dt = read_array(archive, "calibration/dt.npy", max_values=MAX_CALIBRATION_VALUES)
        y = None
        if manifest["calibration"].get("y"):
            y = read_array(archive, "calibration/y.npy", "int64", max_values=MAX_CALIBRATION_VALUES)
        stats = _stats_from_manifest(manifest["calibration"].get("stats"))
        calibration = Calibration(x=x, dt=dt, stats=stats, y=y)
    model = from_manifest(manifest, arrays, calibration)
    validate(model)
    stored = manifest.get("content_hash")
    actual = content_hash(model)
    if stored != actual:
        raise ModelFileError(f"content hash mismatch (stored {stored}, computed {actual}): the file was altered")
    return model


def _stats_from_manifest(entry: dict[str, Any] | None) -> InputStats | None:
    """Whole-split input statistics from a checked manifest entry (absent in files before issue 15)."""
    if entry is None:
        return None
    return InputStats(
        minimum=np.array(entry["minimum"], dtype=np.float64),
        maximum=np.array(entry["maximum"], dtype=np.float64),
        abs_p999=np.array(entry["abs_p999"], dtype=np.float64),
        count=int(entry["count"]),
    )


def read_manifest(archive: zipfile.ZipFile) -> dict[str, Any]:
    """The top-level manifest of an open model archive, checked against the schema (:func:`check_manifest`)."""
    if "manifest.json" not in archive.namelist():
        raise ModelFileError("manifest.json is missing: not an lnn-edge model file")
    raw = read_member(archive, "manifest.json", MAX_JSON_BYTES, ModelFileError)
    manifest = parse_json(raw, "manifest.json", ModelFileError)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ModelFileError(f"manifest field 'format' is not {FORMAT!r}: not an lnn-edge model file")
    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ModelFileError(
            f"manifest field 'schema_version' is {version!r}; this lnn-edge reads version {SCHEMA_VERSION}"
        )
    check_manifest(manifest)
    return manifest


def check_manifest(manifest: Any) -> None:
    """Check every field's type, and every size against :mod:`lnn_edge.model.limits` (the values themselves are
    checked by :func:`lnn_edge.model.model.validate`); raise :class:`ModelFileError` naming the field."""
    top = Fields(manifest, "manifest", ModelFileError)
    top.only(MANIFEST_FIELDS)
    top.string("cell", kinds.names())
    top.integer("input_size", 1, MAX_INPUTS)
    top.integer("output_size", 1, MAX_OUTPUTS)
    top.integer("state_size", 1, MAX_NEURONS)
    top.number("dt", 1.0)
    ltc = top.optional_obj("ltc")
    if ltc is not None:
        _check_ltc_options(ltc)
    cfc = top.optional_obj("cfc")
    if cfc is not None:
        _check_cfc_options(cfc)
    _check_wiring(top.obj("wiring", {}))
    top.strings("input_names", MAX_INPUTS, [])
    top.strings("output_names", MAX_OUTPUTS, [])
    top.integers("output_state_indices", MAX_NEURONS, 0, MAX_NEURONS, [])
    top.obj("task", {})
    verified = top.obj("provenance", {}).optional_obj("verified")
    if verified is not None:
        check_verified(verified)
    top.obj("arrays")
    calibration = top.optional_obj("calibration")
    if calibration is not None:
        _check_calibration(calibration)
    top.ranges("input_ranges", top.strings("input_names", MAX_INPUTS, []), MAX_INPUTS)
    top.ranges("output_ranges", top.strings("output_names", MAX_OUTPUTS, []), MAX_OUTPUTS)
    top.string("content_hash", default="")


VERIFIED_FIELDS = frozenset({"file", "sha256", "error", "threshold", "options"})
VERIFIED_OPTIONS = frozenset({"implicit_constraints", "ode_unfolds", "epsilon", "output_size", "mode", "activation"})


def check_verified(verified: Fields) -> None:
    """``provenance.verified``, written by ``import --expect`` (absent in other files): which IO.npz the model
    reproduced, to what error, and with which options."""
    verified.only(VERIFIED_FIELDS)
    verified.string("file")
    digest = verified.string("sha256")
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise verified.fail("sha256", digest, "64 lowercase hex digits")
    if verified.number("error") < 0:
        raise verified.fail("error", verified.raw("error"), "a number >= 0")
    if verified.number("threshold") <= 0:
        raise verified.fail("threshold", verified.raw("threshold"), "a number > 0")
    options = verified.obj("options")
    options.only(VERIFIED_OPTIONS)
    for name in options.data:
        if name == "implicit_constraints":
            options.boolean(name)
        elif name in ("ode_unfolds", "output_size"):
            options.integer(name, 1, MAX_ODE_UNFOLDS if name == "ode_unfolds" else MAX_OUTPUTS)
        elif name == "epsilon":
            options.number(name)
        else:
            options.string(name)


def _check_calibration(calibration: Fields) -> None:
    calibration.only({"x", "dt", "stats", "y"})
    shape = calibration.integers("x", 3, 1, MAX_CALIBRATION_VALUES)
    if len(shape) != 3 or int(np.prod(shape, dtype=object)) > MAX_CALIBRATION_VALUES:
        raise calibration.fail("x", shape, f"a shape [B, T, S] of at most {MAX_CALIBRATION_VALUES} values")
    calibration.boolean("dt")
    calibration.boolean("y", False)
    stats = calibration.optional_obj("stats")
    if stats is None:
        return
    stats.only({"minimum", "maximum", "abs_p999", "count"})
    for key in ("minimum", "maximum", "abs_p999"):
        values = stats.numbers(key, MAX_INPUTS)
        if len(values) != shape[2]:
            raise stats.fail(key, values, f"{shape[2]} numbers, one per input")
    stats.integer("count", 1, 2**62)


def _check_ltc_options(ltc: Fields) -> None:
    ltc.only({"ode_unfolds", "epsilon", "input_mapping", "output_mapping", "implicit_constraints"})
    ltc.integer("ode_unfolds", 1, MAX_ODE_UNFOLDS, 6)
    ltc.number("epsilon", 1e-8)
    ltc.string("input_mapping", default="affine")
    ltc.string("output_mapping", default="affine")
    ltc.boolean("implicit_constraints", True)


def _check_cfc_options(cfc: Fields) -> None:
    cfc.only({"mode", "activation", "backbone_units", "backbone_layers", "proj_size", "layer_sizes", "output_mapping"})
    cfc.string("mode", default="default")
    cfc.string("activation", default="lecun_tanh")
    cfc.integer("backbone_units", 0, MAX_BACKBONE_UNITS, 0)
    cfc.integer("backbone_layers", 0, MAX_BACKBONE_LAYERS, 0)
    if cfc.raw("proj_size", None) is not None:
        cfc.integer("proj_size", 1, MAX_OUTPUTS)
    cfc.integers("layer_sizes", MAX_LAYERS, 1, MAX_NEURONS, [])
    cfc.string("output_mapping", default="none")


def _check_wiring(wiring: Fields) -> None:
    wiring.only({"kind", "config", "roles"})
    wiring.string("kind", default="custom")
    wiring.obj("config", {})
    roles = wiring.obj("roles", {})
    if len(roles.data) > MAX_ROLES:
        raise ModelFileError(f"manifest field 'wiring.roles' has {len(roles.data)} roles; the limit is {MAX_ROLES}")
    for role in roles.data:
        roles.integers(role, MAX_NEURONS, 0, MAX_NEURONS - 1)


def read_array(archive: zipfile.ZipFile, member: str, dtype: str = "float64", *, max_values: int) -> np.ndarray:
    """Read one .npy member of ``dtype`` holding at most ``max_values`` values (checked in its header before
    anything is allocated); a missing, oversized or corrupt member is a ModelFileError."""
    if member not in archive.namelist():
        raise ModelFileError(f"{member} is listed in the manifest but missing from the archive")
    return read_npy(archive, member, dtype, max_values, ModelFileError)


def from_manifest(
    manifest: dict[str, Any], arrays: dict[str, np.ndarray], calibration: Calibration | None = None
) -> Model:
    """Build a :class:`Model` from a manifest. It is checked first (:func:`check_manifest`), so every field
    has its type and every size is within the limits before anything is built from it."""
    check_manifest(manifest)
    ltc = LtcOptions(**manifest["ltc"]) if manifest.get("ltc") else None
    cfc = CfcOptions(**manifest["cfc"]) if manifest.get("cfc") else None
    wiring = manifest.get("wiring", {})
    return Model(
        cell=manifest["cell"],
        input_size=manifest["input_size"],
        output_size=manifest["output_size"],
        state_size=manifest["state_size"],
        arrays=arrays,
        ltc=ltc,
        cfc=cfc,
        wiring=WiringInfo(
            kind=wiring.get("kind", "custom"),
            config=dict(wiring.get("config", {})),
            roles=dict(wiring.get("roles", {})),
        ),
        input_names=list(manifest.get("input_names") or []),
        output_names=list(manifest.get("output_names") or []),
        dt=manifest.get("dt", 1.0),
        calibration=calibration,
        input_ranges=_ranges_from_manifest(manifest.get("input_ranges")),
        output_ranges=_ranges_from_manifest(manifest.get("output_ranges")),
        task=dict(manifest.get("task") or {}),
        provenance=dict(manifest.get("provenance") or {}),
    )


def _ranges_from_manifest(entry: dict[str, list[float]] | None) -> dict[str, tuple[float, float]]:
    return {name: (float(low), float(high)) for name, (low, high) in (entry or {}).items()}

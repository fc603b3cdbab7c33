"""The ``.lnn`` model file: one zip archive with ``manifest.json`` and one ``.npy`` per array.

Layout (schema version 1, documented in ``docs/model-file.md``)::

    manifest.json            cell kind, options, sizes, wiring, names, dt, array index, content hash
    arrays/<name>.npy        float64 parameters (names as in lnn_edge.model)
    calibration/x.npy        optional sample of training inputs [B, T, S]
    calibration/dt.npy       optional elapsed times [B, T]

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
from lnn_edge.model import Calibration, CfcOptions, LtcOptions, Model, WiringInfo, validate

FORMAT = "lnn-edge-model"
SCHEMA_VERSION = 1
MAX_ARRAY_BYTES = 256 * 1024 * 1024


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
            "calibration": None
            if model.calibration is None
            else {"x": list(model.calibration.x.shape), "dt": model.calibration.dt is not None},
            "content_hash": content_hash(model),
        }
    )
    return manifest


def save(model: Model, path: str | os.PathLike[str], extra: dict[str, bytes] | None = None) -> str:
    """Validate ``model`` and write it to ``path`` atomically; return its content hash.

    ``extra`` adds archive members (the quantized section, see :mod:`lnn_edge.qmodelfile`).
    """
    validate(model)
    manifest = to_manifest(model)
    with atomic_file(path) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest, indent=2, sort_keys=True))
        for name, array in sorted(model.arrays.items()):
            archive.writestr(f"arrays/{name}.npy", npy_bytes(array))
        if model.calibration is not None:
            archive.writestr("calibration/x.npy", npy_bytes(model.calibration.x))
            if model.calibration.dt is not None:
                archive.writestr("calibration/dt.npy", npy_bytes(model.calibration.dt))
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
    """Read and validate the float model of an open archive."""
    manifest = read_manifest(archive)
    arrays = {name: read_array(archive, f"arrays/{name}.npy") for name in manifest["arrays"]}
    calibration = None
    if manifest.get("calibration"):
        x = read_array(archive, "calibration/x.npy")
        dt = read_array(archive, "calibration/dt.npy") if manifest["calibration"].get("dt") else None
        calibration = Calibration(x=x, dt=dt)
    model = from_manifest(manifest, arrays, calibration)
    validate(model)
    stored = manifest.get("content_hash")
    actual = content_hash(model)
    if stored != actual:
        raise ModelFileError(f"content hash mismatch (stored {stored}, computed {actual}): the file was altered")
    return model


def read_manifest(archive: zipfile.ZipFile) -> dict[str, Any]:
    """The validated top-level manifest of an open model archive."""
    try:
        raw = archive.read("manifest.json")
    except KeyError:
        raise ModelFileError("manifest.json is missing: not an lnn-edge model file") from None
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise ModelFileError(f"manifest.json is corrupt ({error})") from None
    try:
        manifest = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelFileError(f"manifest.json is not valid JSON ({error})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ModelFileError(f"manifest field 'format' is not {FORMAT!r}: not an lnn-edge model file")
    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ModelFileError(
            f"manifest field 'schema_version' is {version!r}; this lnn-edge reads version {SCHEMA_VERSION}"
        )
    if not isinstance(manifest.get("arrays"), dict):
        raise ModelFileError("manifest field 'arrays' is missing or not an object")
    return manifest


def read_array(archive: zipfile.ZipFile, member: str, dtype: str = "float64") -> np.ndarray:
    """Read one .npy member of ``dtype``; a missing, oversized or corrupt member is a ModelFileError."""
    try:
        info = archive.getinfo(member)
    except KeyError:
        raise ModelFileError(f"{member} is listed in the manifest but missing from the archive") from None
    if info.file_size > MAX_ARRAY_BYTES:
        raise ModelFileError(f"{member} is {info.file_size} bytes, larger than any model lnn-edge handles")
    try:
        with archive.open(info) as handle:
            array = np.lib.format.read_array(io.BytesIO(handle.read()), allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise ModelFileError(f"{member} is corrupt ({error})") from None
    if array.dtype != np.dtype(dtype):
        raise ModelFileError(f"{member} has dtype {array.dtype}; expected {dtype}")
    return np.asarray(array)


def from_manifest(
    manifest: dict[str, Any], arrays: dict[str, np.ndarray], calibration: Calibration | None = None
) -> Model:
    """Build a :class:`Model` from a parsed manifest; type errors name the manifest field."""
    try:
        ltc = LtcOptions(**manifest["ltc"]) if manifest.get("ltc") else None
        cfc = CfcOptions(**manifest["cfc"]) if manifest.get("cfc") else None
        wiring = WiringInfo(**manifest.get("wiring", {}))
        return Model(
            cell=manifest["cell"],
            input_size=manifest["input_size"],
            output_size=manifest["output_size"],
            state_size=manifest["state_size"],
            arrays=arrays,
            ltc=ltc,
            cfc=cfc,
            wiring=wiring,
            input_names=list(manifest.get("input_names") or []),
            output_names=list(manifest.get("output_names") or []),
            dt=manifest.get("dt", 1.0),
            calibration=calibration,
            task=dict(manifest.get("task") or {}),
            provenance=dict(manifest.get("provenance") or {}),
        )
    except KeyError as error:
        raise ModelFileError(f"manifest field {error} is missing") from None
    except TypeError as error:
        raise ModelFileError(f"manifest has an unknown or malformed field ({error})") from None

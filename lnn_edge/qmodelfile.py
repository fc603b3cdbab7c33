"""Quantized models in the ``.lnn`` container: the float model plus a ``quantized/`` section.

Members: ``quantized/manifest.json`` (precision, formats, constants, bounds, parameter index, quant hash)
and ``quantized/<name>.npy`` (float32 or int64 arrays). A file without that section is a plain float model.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from lnn_edge.errors import ModelFileError
from lnn_edge.model import Model
from lnn_edge.modelfile import load_from_archive, npy_bytes, open_archive, read_array, save
from lnn_edge.qmodel import QuantizedModel

SECTION = "quantized/"


def save_quantized(qmodel: QuantizedModel, path: str | os.PathLike[str]) -> str:
    """Write the float model and its quantized section atomically; return the quant hash."""
    qmodel.validate()
    manifest = qmodel.to_manifest()
    extra = {f"{SECTION}manifest.json": json.dumps(manifest, indent=2, sort_keys=True).encode()}
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
            if f"{SECTION}manifest.json" not in archive.namelist():
                return model
            try:
                manifest = json.loads(archive.read(f"{SECTION}manifest.json"))
                precision = manifest["precision"]
                dtype = "float32" if precision == "float32" else "int64"
                params = {name: read_array(archive, f"{SECTION}{name}.npy", dtype) for name in manifest["params"]}
                qmodel = QuantizedModel(
                    model=model,
                    precision=precision,
                    params=params,
                    formats={k: int(v) for k, v in manifest["formats"].items()},
                    constants=dict(manifest["constants"]),
                    bounds=dict(manifest.get("bounds", {})),
                    sources=dict(manifest.get("sources", {})),
                )
            except (KeyError, TypeError, ValueError, AttributeError) as error:
                raise ModelFileError(f"quantized manifest is malformed ({error})") from None
            qmodel.validate()
            if manifest.get("quant_hash") != qmodel.quant_hash():
                raise ModelFileError("quantized section hash mismatch: the file was altered")
            return qmodel
    except ModelFileError as error:
        raise ModelFileError(f"{path}: {error}") from None

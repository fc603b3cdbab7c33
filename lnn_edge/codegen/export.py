"""``lnn-edge export``: a model -> a folder of C sources, the quantized model, its report and a manifest.

The folder is written atomically (see :mod:`lnn_edge.atomic`): a failed export never leaves a folder that
looks complete, and an existing folder is replaced only if it holds an export manifest, and then only the
files that manifest lists. ``manifest.json`` lists every file with its SHA-256: later
stages (verify, build) refuse sources that no longer match.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lnn_edge import __version__
from lnn_edge.atomic import SUBDIR as RUNTIME_DIR
from lnn_edge.atomic import check_dir_target, file_sha256, owned_dir
from lnn_edge.codegen.layouts import check_layout, layout_files, package_context
from lnn_edge.codegen.manifest import check_matches_model, read_export_manifest
from lnn_edge.codegen.render import check_name, render
from lnn_edge.errors import LnnEdgeError
from lnn_edge.model.model import Model
from lnn_edge.quant.calibration import calibration_for
from lnn_edge.quant.qmodel import QuantizedModel
from lnn_edge.quant.qmodelfile import load_any, save_quantized
from lnn_edge.quant.quantize import quantize
from lnn_edge.quant.report import Policy, quantization_report

EXPORT_FORMAT = "lnn-edge-export"
MODEL_FILE = "model.lnn"
REPORT_FILE = "quantization.json"
MANIFEST_FILE = "manifest.json"
FIRMWARE_DIR = "fw"
"""Where ``lnn-edge build`` keeps an export's firmware builds (``fw/<board>/``)."""
BENCH_DIR = "bench"
"""Where ``lnn-edge bench`` keeps an export's bench images (``bench/``)."""


@dataclass
class Export:
    """A loaded export folder: its manifest, quantized model and paths."""

    directory: Path
    manifest: dict[str, Any]
    qmodel: QuantizedModel

    @property
    def name(self) -> str:
        return str(self.manifest["name"])


def load_model_source(source: str | os.PathLike[str], **import_options: Any) -> Model | QuantizedModel:
    """A ``.lnn`` (float or quantized), a trainer checkpoint or an ncps state_dict. ``import_options`` are the
    import flags the user gave (as for ``lnn-edge import``: one the cell does not have is an error, and so is any
    for a ``.lnn``, which holds its options already)."""
    path = Path(source)
    if not path.is_file():
        raise LnnEdgeError(f"{path}: no such file")
    if path.suffix == ".lnn" or _is_lnn_archive(path):
        if import_options:
            flags = ", ".join("--" + key.replace("_", "-") for key in sorted(import_options))
            raise LnnEdgeError(f"{path} is an lnn-edge model file, which holds its options: {flags} apply only "
                               "to an ncps state_dict; leave them out")  # fmt: skip
        return load_any(path)
    from lnn_edge.model.importers import load_torch_file

    return load_torch_file(path, **import_options)


def _is_lnn_archive(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return "manifest.json" in archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def export(
    source: Model | QuantizedModel,
    directory: str | os.PathLike[str],
    precision: str,
    name: str = "lnn_model",
    calib: str | os.PathLike[str] | None = None,
    dt: float | str | None = None,
    policy: Policy | None = None,
    labelled: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None,
    layout: str = "cmake",
) -> Export:
    """Quantize (if needed), render and write the export folder; return it loaded. ``policy`` sets the verdict
    written to quantization.json: the error bar, --strict and the task metric loss; ``labelled`` (x, dt, y) is
    test data to measure the error and the task metric on. ``layout`` adds a build system's files to the CMake
    package every export holds (:mod:`lnn_edge.codegen.layouts`)."""
    check_name(name)
    check_layout(layout)
    target = Path(directory)
    check_dir_target(target, MANIFEST_FILE, EXPORT_FORMAT, "export")  # before the work, not after it
    model = source.model if isinstance(source, QuantizedModel) else source
    if isinstance(source, QuantizedModel) and source.precision == precision and calib is None:
        qmodel = source
        stats = calibration_for(model) if (qmodel.is_fixed or model.calibration is not None) else None
    else:
        stats = calibration_for(model, calib) if (precision != "float32" or calib or model.calibration) else None
        qmodel = quantize(model, precision, stats)
    fixed_dt = dt != "variable"
    dt_default = model.dt if dt is None or isinstance(dt, str) else float(dt)
    if not dt_default > 0:
        raise LnnEdgeError(f"--dt {dt} must be a time step > 0 or 'variable'")
    sources = render(qmodel, name, dt_default=dt_default, fixed_dt=fixed_dt)
    runtime = {path: text for path, text in sources.files.items() if path.startswith(f"{RUNTIME_DIR}/")}
    build_files = layout_files(package_context(sources.header, runtime, layout), layout, sources.files)
    files = {**sources.files, **build_files}
    report = quantization_report(
        qmodel, stats, policy=policy, labelled=labelled, parameter_bytes=sources.code.memory.params
    )
    with owned_dir(target, MANIFEST_FILE, EXPORT_FORMAT, "export") as tmp:
        for filename, text in files.items():
            (tmp / filename).parent.mkdir(parents=True, exist_ok=True)  # lnn/, and a layout's folders
            (tmp / filename).write_bytes(text.encode())
        save_quantized(qmodel, tmp / MODEL_FILE)
        (tmp / REPORT_FILE).write_text(json.dumps(report, indent=2, sort_keys=True))
        written = [*files, MODEL_FILE, REPORT_FILE]
        files = {filename: file_sha256(tmp / filename) for filename in sorted(written)}
        manifest = {
            "format": EXPORT_FORMAT,
            "version": 1,
            "lnn_edge_version": __version__,
            "name": name,
            "precision": precision,
            "cell": model.cell,
            "inputs": model.input_size,
            "outputs": model.output_size,
            "state_size": model.state_size,
            "model_hash": qmodel.quant_hash(),
            "dt_default": dt_default,
            "fixed_dt": fixed_dt,
            "layout": layout,
            "value_type": sources.header.value_type,
            "memory": asdict(sources.code.memory),
            "files": files,
        }
        (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return Export(target, manifest, qmodel)


EDITED = (
    "{path} differs from the export manifest (edited?): move it out of the folder to keep your changes (or delete "
    "it), then re-run lnn-edge export, which will not overwrite an edited file"
)


def load_export(directory: str | os.PathLike[str]) -> Export:
    """Open an export folder and check that every file still matches its manifest."""
    directory = Path(directory)
    manifest_path = directory / MANIFEST_FILE
    if not manifest_path.is_file():
        raise LnnEdgeError(f"{directory} is not an lnn-edge export (no {MANIFEST_FILE}): run lnn-edge export first")
    manifest = read_export_manifest(manifest_path, EXPORT_FORMAT)  # bounded, typed, names checked
    for filename, digest in manifest["files"].items():
        path = directory / filename
        if not path.is_file():
            raise LnnEdgeError(f"{path} is missing from the export: re-run lnn-edge export")
        if file_sha256(path) != digest:
            raise LnnEdgeError(EDITED.format(path=path))
    loaded = load_any(directory / MODEL_FILE)
    if not isinstance(loaded, QuantizedModel) or loaded.quant_hash() != manifest.get("model_hash"):
        raise LnnEdgeError(f"{directory / MODEL_FILE} does not match the export's model hash: re-run lnn-edge export")
    check_matches_model(manifest, loaded, str(manifest_path))
    return Export(directory, manifest, loaded)


def model_sources(export: Export) -> dict[str, bytes]:
    """The C an export compiles (``<name>.c`` and the listed headers at the top and in ``lnn/``), read once and checked
    against the manifest's hashes. Builds compile private copies of exactly these bytes, so a file the manifest does not
    list (a stray ``stdint.h``, say) can never be compiled, and a cache keyed on them keys what is compiled."""
    wanted = [name for name in export.manifest["files"] if _is_model_source(name, export.name)]
    sources = {}
    for filename in sorted(wanted):
        path = export.directory / filename
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != export.manifest["files"][filename]:
            raise LnnEdgeError(EDITED.format(path=path))
        sources[filename] = data
    return sources


def _is_model_source(filename: str, name: str) -> bool:
    """``<name>.c`` and the headers at the top and in ``lnn/``: a layout's copies (the Arduino library's
    ``src/``) hold the same bytes and are never what lnn-edge compiles."""
    folder, _, base = filename.rpartition("/")
    return folder in ("", RUNTIME_DIR) and (base.endswith(".h") or filename == f"{name}.c")


def unlisted_files(export: Export) -> list[str]:
    """What the export folder holds beyond its manifest (lnn-edge's own build folders ``fw/`` and ``bench/`` aside):
    never compiled, since builds copy only the listed files, but worth a word, since a user may think it is part of
    the export."""
    listed = export.manifest["files"]
    known = {MANIFEST_FILE, FIRMWARE_DIR, BENCH_DIR, *listed}
    folders = {RUNTIME_DIR} | {"/".join(n.split("/")[:d]) for n in listed for d in range(1, n.count("/") + 1)}
    found: list[str] = []
    pending = [""]
    while pending:  # the listed files' folders only (lnn/, a layout's), never through a link
        folder = pending.pop()
        for entry in (export.directory / folder).iterdir():
            relative = f"{folder}/{entry.name}" if folder else entry.name
            if relative in folders and entry.is_dir() and not entry.is_symlink():
                pending.append(relative)
            elif relative not in known:
                found.append(relative)
    return sorted(found)

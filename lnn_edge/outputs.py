"""How lnn-edge recognises the files it wrote, so that it replaces only those (see :mod:`lnn_edge.atomic`).

Each recogniser reads at most a few kilobytes and never unpickles or executes anything. A file that cannot be
read, or does not carry the mark, is not lnn-edge's, and an output that would replace it is refused.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

MODEL_FORMAT = "lnn-edge-model"  # modelfile.FORMAT: the manifest of every .lnn archive
CHECKPOINT_FORMAT = "lnn-edge-checkpoint"  # the trainer's torch checkpoint
NPZ_COMMENT = b"lnn-edge output"  # the zip comment of every .npz that `lnn-edge run` writes
REPORT_FORMAT = "lnn-edge-quantization-report"
TRAINING_FORMAT = "lnn-edge-training-history"
PNG_SOFTWARE = "lnn-edge"  # the Software text chunk of every plot
MAX_MARKED_JSON = 8 << 20
PORT_URL = re.compile(r"[a-z0-9+]+://[\x21-\x7e]{1,200}\n?")


def _zip_member(path: Path, name: str, limit: int) -> bytes | None:
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
        if info.file_size > limit:
            return None
        return archive.read(info)


def is_model_file(path: Path) -> bool:
    """An ``.lnn`` archive: a zip whose ``manifest.json`` has the model format."""
    raw = _zip_member(path, "manifest.json", MAX_MARKED_JSON)
    return raw is not None and json.loads(raw).get("format") == MODEL_FORMAT


def is_checkpoint(path: Path) -> bool:
    """A trainer checkpoint: a torch zip archive whose pickle holds the checkpoint format string."""
    with zipfile.ZipFile(path) as archive:
        pickles = [info for info in archive.infolist() if info.filename.endswith("/data.pkl")]
        if len(pickles) != 1 or pickles[0].file_size > MAX_MARKED_JSON:
            return False
        return CHECKPOINT_FORMAT.encode() in archive.read(pickles[0])


def is_output_npz(path: Path) -> bool:
    """An ``.npz`` that ``lnn-edge run`` wrote (its zip comment carries the mark)."""
    with zipfile.ZipFile(path) as archive:
        return archive.comment == NPZ_COMMENT


def _json_format(path: Path) -> object:
    if path.stat().st_size > MAX_MARKED_JSON:
        return None
    data = json.loads(path.read_text())
    return data.get("format") if isinstance(data, dict) else None


def is_quantization_report(path: Path) -> bool:
    return _json_format(path) == REPORT_FORMAT


def is_training_history(path: Path) -> bool:
    return _json_format(path) == TRAINING_FORMAT


def is_plot(path: Path) -> bool:
    """A PNG that lnn-edge drew (its Software text chunk names lnn-edge)."""
    with open(path, "rb") as handle:
        head = handle.read(4096)
    return head.startswith(b"\x89PNG\r\n\x1a\n") and b"Software\x00" + PNG_SOFTWARE.encode() in head


def is_port_file(path: Path) -> bool:
    """A ``flash --port-file``: one pyserial URL on one line."""
    return path.stat().st_size <= 256 and PORT_URL.fullmatch(path.read_text()) is not None

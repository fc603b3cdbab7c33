"""Input and output data files of ``lnn-edge run`` (and later ``verify``): ``.npz`` with ``x`` and ``dt``.

Inputs: ``x`` [T,F] or [B,T,F], optional ``dt`` [T] or [B,T] (elapsed time of each step, > 0). Outputs:
``y`` [B,T,outputs] and ``state`` [B,T,state] for every step, starting from a zero state.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lnn_edge.atomic import atomic_file
from lnn_edge.errors import DataFileError
from lnn_edge.model.limits import MAX_DATA_BYTES, MAX_DATA_VALUES, check_archive_size, read_npy
from lnn_edge.outputs import NPZ_COMMENT, is_output_npz

MAX_NAMES = 1 << 16
"""Most input names a data file's ``input_names`` may declare (read before x's width is known)."""


@dataclass
class Sequences:
    """A batch of input sequences: ``x`` [B,T,F] float64 and ``dt`` [B,T] float64; ``input_names``: the file's
    names of the F inputs, when it has them."""

    x: np.ndarray
    dt: np.ndarray
    input_names: list[str] | None = None


def as_sequences(
    x: np.ndarray, dt: np.ndarray | None, features: int, default_dt: float, where: str = "data"
) -> Sequences:
    """Check shapes and values and bring ``x``/``dt`` to [B,T,F]/[B,T]; errors name ``where`` and the field."""
    x = np.asarray(x)
    if x.dtype.kind not in "fiu":
        raise DataFileError(f"{where}: field 'x' has dtype {x.dtype}; expected numbers")
    given_shape = x.shape
    x = x.astype(np.float64)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[2] != features or x.shape[1] < 1 or x.shape[0] < 1:
        raise DataFileError(
            f"{where}: field 'x' has shape {given_shape}; expected [T, {features}] or [B, T, {features}]"
        )
    if not np.all(np.isfinite(x)):
        raise DataFileError(f"{where}: field 'x' contains NaN or Inf")
    batch, steps = x.shape[:2]
    if dt is None:
        return Sequences(x=x, dt=np.full((batch, steps), float(default_dt)))
    dt = np.asarray(dt)
    if dt.dtype.kind not in "fiu":
        raise DataFileError(f"{where}: field 'dt' has dtype {dt.dtype}; expected numbers")
    dt = dt.astype(np.float64)
    if dt.ndim == 1:
        dt = np.broadcast_to(dt, (batch, dt.shape[0])).copy()
    if dt.shape != (batch, steps):
        raise DataFileError(
            f"{where}: field 'dt' has shape {tuple(np.shape(dt))}; expected [{steps}] or [{batch}, {steps}]"
        )
    bad = np.argwhere(~np.isfinite(dt) | (dt <= 0))
    if bad.size:
        sequence, step = (int(k) for k in bad[0])
        raise DataFileError(f"{where}: field 'dt' must hold finite elapsed times > 0; sequence {sequence}, step "
                            f"{step} holds {float(dt[sequence, step])!r} ({len(bad)} such values)")  # fmt: skip
    return Sequences(x=x, dt=dt)


def load_inputs(
    path: str | os.PathLike[str], features: int, default_dt: float, names: list[str] | None = None
) -> Sequences:
    """Read an input ``.npz`` (``x``, optional ``dt`` and ``input_names``) for a model with ``features`` inputs
    called ``names``: a file whose ``input_names`` are those in another order is refused (x would be read by
    position, each column as another input).

    Sizes are checked before anything is read: the members' declared sizes (at most
    :data:`~lnn_edge.model.limits.MAX_DATA_BYTES` in all) and each array's header (at most
    :data:`~lnn_edge.model.limits.MAX_DATA_VALUES` values), so a small file cannot unpack to gigabytes.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{path}: no such file")
    if path.suffix.lower() == ".csv":
        raise DataFileError(f"{path}: a CSV file; this option reads .npz ('x' [B,T,F], optional 'dt' [B,T]; only "
                            "`lnn-edge train --data` reads CSV): np.savez('data.npz', x=x, dt=dt)")  # fmt: skip
    try:
        with zipfile.ZipFile(path) as archive:
            check_archive_size(archive, MAX_DATA_BYTES, DataFileError)
            fields = [name.removesuffix(".npy") for name in archive.namelist()]
            if "x" not in fields:
                raise DataFileError(f"has no field 'x' (fields: {', '.join(fields) or 'none'})")
            x = read_npy(archive, "x.npy", None, MAX_DATA_VALUES, DataFileError)
            dt = read_npy(archive, "dt.npy", None, MAX_DATA_VALUES, DataFileError) if "dt" in fields else None
            file_names = _read_names(archive) if "input_names" in fields else None
    except DataFileError as error:
        raise DataFileError(f"{path}: {error}") from None
    except (OSError, zipfile.BadZipFile, EOFError, ValueError) as error:
        raise DataFileError(f"{path}: not a readable .npz file ({error})") from None
    sequences = as_sequences(x, dt, features, default_dt, where=str(path))
    if file_names is not None and len(file_names) != features:
        raise DataFileError(f"{path}: field 'input_names' holds {len(file_names)} names for x's {features} inputs")
    if file_names is not None and names is not None and file_names != list(names) and set(file_names) == set(names):
        raise DataFileError(
            f"{path}: its inputs are named {', '.join(file_names)}, the model's {', '.join(names)}: the same in "
            "another order, and x is read by position; reorder x's last axis (and input_names) to the model's order"
        )
    sequences.input_names = file_names
    return sequences


def _read_names(archive: zipfile.ZipFile) -> list[str]:
    """The ``input_names`` member: strings."""
    try:
        names = read_npy(archive, "input_names.npy", None, MAX_NAMES, DataFileError)
    except DataFileError as error:
        raise DataFileError(f"field 'input_names' cannot be read ({error}): store the names as a string array, "
                            "np.array(names, dtype=str)") from None  # fmt: skip
    if names.dtype.kind not in "US":
        raise DataFileError(f"field 'input_names' has dtype {names.dtype}; expected strings, "
                            "np.array(names, dtype=str)")  # fmt: skip
    return [str(name) for name in names.reshape(-1)]


def save_outputs(path: str | os.PathLike[str], **arrays: np.ndarray) -> None:
    """Write an output ``.npz`` atomically."""
    with atomic_file(path, suffix=".npz", kind="run output", is_own=is_output_npz) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)  # type: ignore[arg-type]
        with zipfile.ZipFile(tmp, "a") as archive:
            archive.comment = NPZ_COMMENT  # the mark that lets a later run replace this file

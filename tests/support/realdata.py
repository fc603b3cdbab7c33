"""Real, public sensor recordings for the tests, read out of the aeon wheel fetched from PyPI.

The aeon wheel (pure Python, 6.4 MB) carries UEA/UCR data sets under ``aeon/datasets/data/``. The tests never install
aeon (its dependencies are heavy): ``pip download`` fetches the wheel into a cache folder the tests own, and this
module reads the files out of the wheel (a zip) with the standard library. Nothing is written to the working copy.

- ``BasicMotions``: a smartwatch's 3-axis accelerometer and 3-axis gyroscope at 10 Hz, four activities (standing,
  walking, running, badminton), 40 training and 40 test sequences of 100 steps, in the ``.ts`` format.
- ``Daphnet_S06R02E0``: 110 s of a 64 Hz recording of three 3-axis accelerometers (ankle, thigh, trunk) from the
  Daphnet freezing-of-gait study, as CSV.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

AEON_VERSION = "1.6.0"
WHEEL_NAME = f"aeon-{AEON_VERSION}-py3-none-any.whl"
DATA_ROOT = "aeon/datasets/data"
BASIC_MOTIONS_CHANNELS = ("acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z")
DAPHNET_MEMBER = f"{DATA_ROOT}/Daphnet_S06R02E0/S06R02E0.csv"
DAPHNET_PERIOD = 1.0 / 64.0  # seconds between samples (64 Hz)
EPOCH = datetime(1970, 1, 1)


def cache_from_environment() -> Path | None:
    """``$LNN_EDGE_CACHE/datasets`` when the variable is set (a cache that outlives one test session), else None."""
    root = os.environ.get("LNN_EDGE_CACHE")
    return Path(root) / "datasets" if root else None


def fetch_aeon_wheel(cache_dir: Path) -> Path:
    """The aeon wheel in ``cache_dir``, downloaded from the package registry with pip on first use (no install)."""
    folder = Path(cache_dir)
    wheel = folder / WHEEL_NAME
    if wheel.is_file() and zipfile.is_zipfile(wheel):
        return wheel
    folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    command += ["--disable-pip-version-check", "-q", "-d", str(folder), f"aeon=={AEON_VERSION}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if result.returncode != 0 or not wheel.is_file():
        raise RuntimeError(f"pip could not download aeon=={AEON_VERSION} into {folder}:\n{result.stderr}")
    return wheel


def read_member(wheel: Path, member: str) -> str:
    """One text file of the wheel."""
    with zipfile.ZipFile(wheel) as archive:
        return archive.read(member).decode("utf-8")


@dataclass(frozen=True)
class TsData:
    """A classification set in the ``.ts`` format: x [N,T,F], labels [N] (strings), class names in header order."""

    x: np.ndarray
    labels: list[str]
    classes: tuple[str, ...]


def parse_ts(text: str) -> TsData:
    """Parse an equal-length ``.ts`` file: ``#`` comments, ``@`` header lines up to ``@data``, then one case per line
    with the dimensions separated by ':' and the values by ',', the class label last."""
    classes: tuple[str, ...] = ()
    cases: list[list[list[float]]] = []
    labels: list[str] = []
    in_data = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            words = line.split()
            if words[0].lower() == "@classlabel" and len(words) > 2:
                classes = tuple(words[2:])
            in_data = words[0].lower() == "@data"
            continue
        *dims, label = line.split(":")
        cases.append([[float(v) for v in dim.split(",")] for dim in dims])
        labels.append(label.strip())
    x = np.asarray(cases, dtype=np.float64).transpose(0, 2, 1)  # [N,F,T] -> [N,T,F]
    return TsData(x=x, labels=labels, classes=classes)


def class_ids(labels: list[str], classes: tuple[str, ...]) -> np.ndarray:
    """Integer labels in the order the header declares the classes."""
    index = {name: i for i, name in enumerate(classes)}
    return np.array([index[label] for label in labels], dtype=np.int64)


@dataclass(frozen=True)
class BasicMotions:
    """BasicMotions as arrays: x [N,100,6] floats, y [N] class ids (``classes[y]`` names them)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    channels: tuple[str, ...]
    classes: tuple[str, ...]


def basic_motions(cache_dir: Path) -> BasicMotions:
    """The BasicMotions train and test splits from the aeon wheel (fetched into ``cache_dir`` when missing).

    The class ids follow the order of the training file's ``@classLabel`` header."""
    wheel = fetch_aeon_wheel(cache_dir)
    train = parse_ts(read_member(wheel, f"{DATA_ROOT}/BasicMotions/BasicMotions_TRAIN.ts"))
    test = parse_ts(read_member(wheel, f"{DATA_ROOT}/BasicMotions/BasicMotions_TEST.ts"))
    return BasicMotions(
        x_train=train.x,
        y_train=class_ids(train.labels, train.classes),
        x_test=test.x,
        y_test=class_ids(test.labels, train.classes),
        channels=BASIC_MOTIONS_CHANNELS,
        classes=train.classes,
    )


def save_npz(path: Path, x: np.ndarray, y: np.ndarray, channels: tuple[str, ...]) -> Path:
    """A ``--data`` file for ``lnn-edge train`` / ``quantize``: x [N,T,F], y [N] and the input names."""
    np.savez(path, x=x, y=y, input_names=np.array(channels))
    return path


def daphnet_csv(path: Path, cache_dir: Path, rows: int | None = None) -> Path:
    """Write the Daphnet recording as a trainer CSV and return its path.

    Columns: ``time`` (seconds from the first row), ``dt`` (seconds since the previous row, for ``--dt-column``; the
    first row gets the nominal 1/64 s) and the nine accelerometer channels (raw sensor counts). The wheel's
    ``is_anomaly`` column (freezing of gait) is left out: it is 0 throughout this 110 s excerpt. ``rows`` keeps only
    the first rows."""
    text = read_member(fetch_aeon_wheel(cache_dir), DAPHNET_MEMBER)
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    body = list(itertools.islice(reader, rows))
    times = np.array([_seconds(row[0]) for row in body])
    times -= times[0]
    elapsed = np.diff(times, prepend=-DAPHNET_PERIOD)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["time", "dt", *header[1:-1]])
    for row, time, dt in zip(body, times, elapsed, strict=True):
        writer.writerow([f"{time:.3f}", f"{dt:.3f}", *row[1:-1]])
    Path(path).write_text(out.getvalue())
    return Path(path)


def _seconds(stamp: str) -> float:
    """A ``1970-01-01 00:04:40.015`` time stamp as seconds since the epoch."""
    return (datetime.fromisoformat(stamp) - EPOCH).total_seconds()

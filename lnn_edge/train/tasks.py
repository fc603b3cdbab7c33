"""Datasets for the trainer: built-in generated tasks and user data files (npz or csv).

Every dataset is a :class:`Dataset` of float64 NumPy arrays in raw units. The trainer normalizes them itself
(and the importer folds that normalization into the model), so the arrays here stay in the units a
deployed model reads and writes.

Built-in tasks (``make_task``), all generated from a seeded NumPy ``Generator`` so that a seed gives the
same data on every machine:

* ``pendulum`` (default, 2 inputs, 2 outputs, irregular sampling): a damped, driven pendulum observed
  through a noisy angle sensor at random intervals. The model gets the torque and the noisy angle and must
  estimate the true angle and angular velocity: a learned state estimator that has to use the elapsed
  time between samples.
* ``sines`` (1 in, 1 out): noisy sums of three sines; predict the next clean value.
* ``lorenz`` (3 in, 3 out): one-step prediction of the chaotic Lorenz-63 system (RK4 integrated).
* ``sineclass`` (1 in, 4 classes): whether a noisy wave of random amplitude, phase and offset is slow
  (period 16-28 steps) or fast (5-10), and a sine or a square wave.
"""

from __future__ import annotations

import csv
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from lnn_edge.errors import DataFileError, LnnEdgeError

KINDS = ("regression", "classification")
MAX_CLASSES = 256
"""Class ids above this are almost surely a float target read as classes (one output per class)."""
CLOCK = re.compile(r"\d{1,2}:\d{2}(:\d{2}([.,]\d+)?)?")
"""A clock time in a CSV field (``12:00``, ``12:00:03.25``): a time stamp to write as a number."""
TIME_STAMP_ROWS = 8
"""A --dt-column that increases at every one of at least this many rows holds time stamps, not elapsed times."""


@dataclass
class Dataset:
    """Sequences in raw units.

    ``x`` is [N, T, S] float64. ``y`` is [N, T, M] float64 for regression (a target at every step) or
    int64 class labels for classification, one output per class: [N] (one label per sequence, read from
    the outputs at the last step) or [N, T] (a label at every step, what a streaming detector needs).
    ``dt`` is [N, T] float64 elapsed time before each step, or None when sampling is regular with step
    ``nominal_dt``; it is what the cell receives as elapsed time.
    """

    name: str
    kind: str
    x: np.ndarray
    y: np.ndarray
    dt: np.ndarray | None
    input_names: list[str]
    output_names: list[str]
    nominal_dt: float = 1.0
    description: str = ""

    @property
    def samples(self) -> int:
        return int(self.x.shape[0])

    @property
    def seq_len(self) -> int:
        return int(self.x.shape[1])

    @property
    def input_size(self) -> int:
        return int(self.x.shape[2])

    @property
    def output_size(self) -> int:
        return len(self.output_names)

    @property
    def per_step(self) -> bool:
        """Whether every step has a target (regression, per-step labels) or only the last (sequence labels)."""
        return self.kind == "regression" or self.y.ndim == 2

    def subset(self, index: np.ndarray) -> Dataset:
        """The sequences at ``index`` (a train or validation split)."""
        return Dataset(
            name=self.name,
            kind=self.kind,
            x=self.x[index],
            y=self.y[index],
            dt=None if self.dt is None else self.dt[index],
            input_names=self.input_names,
            output_names=self.output_names,
            nominal_dt=self.nominal_dt,
            description=self.description,
        )

    def elapsed(self) -> np.ndarray:
        """Elapsed time before every step, [N, T]: ``dt`` or the nominal step everywhere."""
        if self.dt is not None:
            return self.dt
        return np.full(self.x.shape[:2], self.nominal_dt)


@dataclass(frozen=True)
class TaskInfo:
    """A built-in task: its generator and the sizes it uses when the caller gives none."""

    generate: Callable[[int, int, np.random.Generator], Dataset]
    description: str
    samples: int
    seq_len: int


# --------------------------------------------------------------------------------------------------------
# Generators


def _sines(samples: int, seq_len: int, rng: np.random.Generator) -> Dataset:
    components = 3
    period = rng.uniform(6.0, 40.0, size=(samples, 1, components))
    amplitude = rng.uniform(0.2, 1.0, size=(samples, 1, components))
    phase = rng.uniform(0.0, 2 * np.pi, size=(samples, 1, components))
    t = np.arange(seq_len + 1, dtype=np.float64)[None, :, None]
    clean = np.sum(amplitude * np.sin(2 * np.pi * t / period + phase), axis=2)
    noisy = clean[:, :seq_len] + rng.normal(0.0, 0.1, size=(samples, seq_len))
    return Dataset(
        name="sines",
        kind="regression",
        x=noisy[:, :, None],
        y=clean[:, 1:, None],
        dt=None,
        input_names=["signal"],
        output_names=["next_signal"],
        nominal_dt=1.0,
        description=TASKS["sines"].description,
    )


def _lorenz_rate(state: np.ndarray) -> np.ndarray:
    sigma, rho, beta = 10.0, 28.0, 8.0 / 3.0
    x, y, z = state[..., 0], state[..., 1], state[..., 2]
    return np.stack([sigma * (y - x), x * (rho - z) - y, x * y - beta * z], axis=-1)


def _rk4(rate: Callable[[np.ndarray], np.ndarray], state: np.ndarray, h: float | np.ndarray) -> np.ndarray:
    k1 = rate(state)
    k2 = rate(state + 0.5 * h * k1)
    k3 = rate(state + 0.5 * h * k2)
    k4 = rate(state + h * k3)
    return state + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)


def _lorenz(samples: int, seq_len: int, rng: np.random.Generator) -> Dataset:
    h, stride, burn_in = 0.01, 2, 600
    state = rng.normal(0.0, 5.0, size=(samples, 3)) + np.array([0.0, 0.0, 25.0])
    for _ in range(burn_in):  # land on the attractor from a random start
        state = _rk4(_lorenz_rate, state, h)
    trajectory = np.empty((samples, seq_len + 1, 3))
    for step in range(seq_len + 1):
        trajectory[:, step] = state
        for _ in range(stride):
            state = _rk4(_lorenz_rate, state, h)
    return Dataset(
        name="lorenz",
        kind="regression",
        x=trajectory[:, :-1],
        y=trajectory[:, 1:],
        dt=None,
        input_names=["x", "y", "z"],
        output_names=["x_next", "y_next", "z_next"],
        nominal_dt=1.0,
        description=TASKS["lorenz"].description,
    )


PENDULUM_OMEGA0 = 0.5
PENDULUM_DAMPING = 0.15
PENDULUM_NOISE = 0.05


def _pendulum(samples: int, seq_len: int, rng: np.random.Generator) -> Dataset:
    dt = rng.uniform(0.5, 1.5, size=(samples, seq_len))
    times = np.cumsum(dt, axis=1) - dt  # start of each interval; the torque is held over the interval
    amplitude = rng.uniform(0.0, 0.06, size=(samples, 1, 2))
    frequency = rng.uniform(0.1, 0.6, size=(samples, 1, 2))
    phase = rng.uniform(0.0, 2 * np.pi, size=(samples, 1, 2))
    torque = np.sum(amplitude * np.sin(frequency * times[:, :, None] + phase), axis=2)

    state = np.stack([rng.uniform(-1.5, 1.5, samples), np.zeros(samples)], axis=1)  # released from rest
    truth = np.empty((samples, seq_len, 2))
    substeps = 8
    for k in range(seq_len):
        u = torque[:, k]

        def rate(s: np.ndarray, u: np.ndarray = u) -> np.ndarray:
            angle, velocity = s[:, 0], s[:, 1]
            accel = -(PENDULUM_OMEGA0**2) * np.sin(angle) - PENDULUM_DAMPING * velocity + u
            return np.stack([velocity, accel], axis=1)

        h = (dt[:, k] / substeps)[:, None]
        for _ in range(substeps):
            state = _rk4(rate, state, h)
        truth[:, k] = state
    measured = truth[:, :, 0] + rng.normal(0.0, PENDULUM_NOISE, size=(samples, seq_len))
    return Dataset(
        name="pendulum",
        kind="regression",
        x=np.stack([torque, measured], axis=2),
        y=truth,
        dt=dt,
        input_names=["torque", "angle_measured"],
        output_names=["angle", "angular_velocity"],
        nominal_dt=1.0,
        description=TASKS["pendulum"].description,
    )


SINECLASS_NAMES = ["slow_sine", "fast_sine", "slow_square", "fast_square"]


def _sineclass(samples: int, seq_len: int, rng: np.random.Generator) -> Dataset:
    labels = rng.integers(0, len(SINECLASS_NAMES), size=samples)
    fast = (labels % 2 == 1)[:, None]
    period = np.where(fast, rng.uniform(5.0, 10.0, size=(samples, 1)), rng.uniform(16.0, 28.0, size=(samples, 1)))
    phase = rng.uniform(0.0, 2 * np.pi, size=(samples, 1))
    amplitude = rng.uniform(0.5, 1.5, size=(samples, 1))
    offset = rng.normal(0.0, 0.2, size=(samples, 1))
    wave = np.sin(2 * np.pi * np.arange(seq_len, dtype=np.float64)[None, :] / period + phase)
    wave = np.where((labels >= 2)[:, None], np.where(wave >= 0, 1.0, -1.0), wave)
    x = amplitude * wave + offset + rng.normal(0.0, 0.2, size=(samples, seq_len))
    return Dataset(
        name="sineclass",
        kind="classification",
        x=x[:, :, None],
        y=labels.astype(np.int64),
        dt=None,
        input_names=["signal"],
        output_names=list(SINECLASS_NAMES),
        nominal_dt=1.0,
        description=TASKS["sineclass"].description,
    )


TASKS: dict[str, TaskInfo] = {
    "pendulum": TaskInfo(
        _pendulum,
        "damped driven pendulum sampled at random intervals (0.5-1.5 s): from the torque and a noisy angle "
        "sensor, estimate angle and angular velocity",
        samples=2048,
        seq_len=48,
    ),
    "sines": TaskInfo(_sines, "noisy sums of three sines: predict the next clean value", 1024, 64),
    "lorenz": TaskInfo(_lorenz, "Lorenz-63 (RK4, 0.02 per sample): predict the next state", 1024, 64),
    "sineclass": TaskInfo(
        _sineclass,
        "classify a noisy wave of random amplitude, phase and offset: slow or fast, sine or square",
        1024,
        48,
    ),
}


def make_task(name: str, samples: int | None = None, seq_len: int | None = None, seed: int = 0) -> Dataset:
    """Generate the built-in task ``name`` (see the module docstring); same seed, same data."""
    info = TASKS.get(name)
    if info is None:
        raise LnnEdgeError(f"unknown task '{name}'; expected one of {', '.join(TASKS)} (or --data FILE)")
    samples = info.samples if samples is None else samples
    seq_len = info.seq_len if seq_len is None else seq_len
    if samples < 2:
        raise LnnEdgeError(f"--samples is {samples}; a task needs at least 2 sequences (train and validation)")
    if seq_len < 1:
        raise LnnEdgeError(f"--seq-len is {seq_len}; expected at least 1 step")
    return info.generate(samples, seq_len, np.random.default_rng(seed))


# --------------------------------------------------------------------------------------------------------
# User data


def load_data(
    path: str | Path,
    *,
    dt: float = 1.0,
    target_columns: list[str] | None = None,
    input_columns: list[str] | None = None,
    dt_column: str | None = None,
    seq_len: int | None = None,
    classify: bool = False,
    time_column: str | None = None,
) -> Dataset:
    """Load a user data file: ``.npz`` (see :func:`load_npz`) or ``.csv`` (see :func:`load_csv`)."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"data file '{path}' does not exist")
    if path.suffix.lower() == ".npz":
        return load_npz(path, dt=dt)
    if path.suffix.lower() == ".csv":
        if not target_columns:
            raise DataFileError(f"data file '{path}' is a CSV: name its target columns with --target-columns")
        return load_csv(
            path,
            target_columns=target_columns,
            input_columns=input_columns,
            dt_column=dt_column,
            seq_len=64 if seq_len is None else seq_len,
            dt=dt,
            classify=classify,
            time_column=time_column,
        )
    raise DataFileError(f"data file '{path}' must end in .npz or .csv")


def load_npz(path: str | Path, dt: float = 1.0) -> Dataset:
    """Load ``x`` [N,T,F] float, ``y`` [N,T,O] float (regression) or [N] / [N,T] int (classification, one
    label per sequence or per step), optional ``dt`` [N,T] (> 0) and optional string arrays ``input_names`` /
    ``output_names``."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise DataFileError(f"data file '{path}' is not a readable .npz archive ({error})") from None
    for key in ("x", "y"):
        if key not in arrays:
            raise DataFileError(f"data file '{path}' has no array '{key}' (it holds: {', '.join(arrays) or 'nothing'})")
    x = _float_array(path, "x", arrays["x"])
    if x.ndim != 3 or min(x.shape) < 1:
        raise DataFileError(f"array 'x' in '{path}' has shape {x.shape}; expected [N, T, F]")
    n, t = x.shape[:2]
    raw_y = arrays["y"]
    if raw_y.ndim in (1, 2) and raw_y.dtype.kind in "iub":
        kind = "classification"
        y = _labels(path, raw_y, (n,) if raw_y.ndim == 1 else (n, t))
        default_outputs = _class_names(path, "array 'y'", y)
    else:
        kind = "regression"
        y = _float_array(path, "y", raw_y)
        if y.ndim != 3 or y.shape[:2] != (n, t) or y.shape[2] < 1:
            raise DataFileError(
                f"array 'y' in '{path}' has shape {y.shape}; expected [{n}, {t}, O] floats (regression), "
                f"or [{n}] or [{n}, {t}] integer labels (classification per sequence or per step)"
            )
        outputs = y.shape[2]
        default_outputs = [f"y{k}" for k in range(outputs)]
    elapsed = None
    if "dt" in arrays:
        elapsed = _float_array(path, "dt", arrays["dt"])
        if elapsed.shape != (n, t):
            raise DataFileError(f"array 'dt' in '{path}' has shape {elapsed.shape}; expected [{n}, {t}]")
        if np.any(elapsed <= 0):
            raise DataFileError(f"array 'dt' in '{path}' holds elapsed times <= 0")
    input_names = _names(path, arrays, "input_names", [f"x{k}" for k in range(x.shape[2])])
    output_names = _names(path, arrays, "output_names", default_outputs)
    nominal = float(np.median(elapsed)) if elapsed is not None else dt
    return Dataset(
        name=path.stem,
        kind=kind,
        x=x,
        y=y,
        dt=elapsed,
        input_names=input_names,
        output_names=output_names,
        nominal_dt=_check_dt(nominal),
        description=f"user data from {path.name}",
    )


def _float_array(path: Path, key: str, array: np.ndarray) -> np.ndarray:
    if array.dtype.kind not in "fiub":
        raise DataFileError(f"array '{key}' in '{path}' has dtype {array.dtype}; expected numbers")
    result = np.asarray(array, dtype=np.float64)
    if not np.all(np.isfinite(result)):
        raise DataFileError(f"array '{key}' in '{path}' contains NaN or Inf")
    return result


def _labels(path: Path, raw: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    if raw.shape != shape:
        expected = ", ".join(str(size) for size in shape)
        raise DataFileError(f"array 'y' in '{path}' has shape {raw.shape}; expected [{expected}] class labels")
    if raw.size and raw.min() < 0:
        raise DataFileError(f"array 'y' in '{path}' holds negative class labels")
    return raw.astype(np.int64)


def _class_names(path: Path, what: str, labels: np.ndarray) -> list[str]:
    """``class0`` .. ``class<max>``: one output per class id up to the largest label."""
    classes = int(labels.max()) + 1 if labels.size else 0
    if classes < 2:
        raise DataFileError(f"{what} in '{path}' holds fewer than 2 classes")
    if classes > MAX_CLASSES:
        raise DataFileError(f"{what} in '{path}' holds class id {classes - 1}; expected ids below {MAX_CLASSES}")
    return [f"class{k}" for k in range(classes)]


def _names(path: Path, arrays: dict[str, np.ndarray], key: str, default: list[str]) -> list[str]:
    if key not in arrays:
        return default
    names = [str(name) for name in np.asarray(arrays[key]).reshape(-1)]
    if len(names) != len(default):
        raise DataFileError(f"array '{key}' in '{path}' has {len(names)} names; expected {len(default)}")
    return names


def _check_dt(dt: float) -> float:
    if not (np.isfinite(dt) and dt > 0):
        raise LnnEdgeError(f"--dt is {dt}; expected a time step > 0")
    return float(dt)


def load_csv(
    path: str | Path,
    *,
    target_columns: list[str],
    input_columns: list[str] | None = None,
    dt_column: str | None = None,
    seq_len: int = 64,
    dt: float = 1.0,
    classify: bool = False,
    time_column: str | None = None,
) -> Dataset:
    """Load one long time series: a header row, then one row per time step, numbers only.

    Targets are the ``target_columns`` of the same row (shift them in the file to forecast). Inputs are
    ``input_columns`` or every other column; ``dt_column`` (optional) is the elapsed time before the row, or
    ``time_column`` (optional) a time stamp that increases at every row, whose differences are the elapsed
    times (the first row gets the median difference: nothing comes before it).
    With ``classify`` the one target column holds class ids (integers from 0): a label at every step.
    The series is cut into non-overlapping windows of ``seq_len`` rows (the rest is dropped), so a random
    train/validation split of windows does not leak.
    """
    path = Path(path)
    if dt_column and time_column:
        raise DataFileError(f"data file '{path}': give --dt-column (elapsed times) or --time-column (time stamps), "
                            "not both")  # fmt: skip
    header, rows = _read_csv(path)
    index = {name: k for k, name in enumerate(header)}
    clock = [name for name in (dt_column, time_column) if name]
    for name in [*target_columns, *(input_columns or []), *clock]:
        if name not in index:
            raise DataFileError(f"data file '{path}' has no column '{name}' (columns: {', '.join(header)})")
    for option, names in (("--target-columns", target_columns), ("--input-columns", input_columns or [])):
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise DataFileError(f"data file '{path}': {option} names {', '.join(map(repr, twice))} more than once; "
                                "name each column once")  # fmt: skip
    # A target (or the elapsed time) fed back as an input would let the model read its answer.
    leaked = [name for name in (input_columns or []) if name in target_columns or name in clock]
    if leaked:
        raise DataFileError(f"data file '{path}': --input-columns names {', '.join(map(repr, leaked))}, which is also "
                            "a target or the --dt-column / --time-column: a column is an input, a target or the "
                            "time, not two of them")  # fmt: skip
    if input_columns is None:
        input_columns = [name for name in header if name not in target_columns and name not in clock]
    if not input_columns:
        raise DataFileError(f"data file '{path}' has no input columns left besides the targets")
    if seq_len < 1:
        raise LnnEdgeError(f"--seq-len is {seq_len}; expected at least 1 step")
    windows = rows.shape[0] // seq_len
    if windows < 2:
        raise DataFileError(f"data file '{path}' has {rows.shape[0]} rows: fewer than 2 windows of --seq-len {seq_len}")
    # The elapsed time before each row, over the whole file: from time stamps, a window's first row gets the
    # difference from the row before it (the previous window's last).
    per_row = None
    if time_column:
        per_row = _elapsed_from_times(path, time_column, rows[:, index[time_column]])
    elif dt_column:
        per_row = rows[:, index[dt_column]]
        _refuse_time_stamps(path, dt_column, per_row)
    table = rows[: windows * seq_len].reshape(windows, seq_len, len(header))
    elapsed = None
    if per_row is not None:
        elapsed = per_row[: windows * seq_len].reshape(windows, seq_len)
        if np.any(elapsed <= 0):
            raise DataFileError(f"column '{dt_column}' in '{path}' holds elapsed times <= 0")
    targets = table[:, :, [index[name] for name in target_columns]]
    if classify:
        y = _csv_labels(path, target_columns, targets)
        output_names = _class_names(path, f"column '{target_columns[0]}'", y)
    else:
        y, output_names = targets, list(target_columns)
    return Dataset(
        name=path.stem,
        kind="classification" if classify else "regression",
        x=table[:, :, [index[name] for name in input_columns]],
        y=y,
        dt=elapsed,
        input_names=list(input_columns),
        output_names=output_names,
        nominal_dt=_check_dt(float(np.median(elapsed)) if elapsed is not None else dt),
        description=f"user data from {path.name}",
    )


def _elapsed_from_times(path: Path, name: str, times: np.ndarray) -> np.ndarray:
    """The elapsed time before each row from a column of time stamps, which must increase at every row."""
    steps = np.diff(times)  # at least one: the file has two windows or more
    stalled = np.flatnonzero(~(steps > 0))
    if stalled.size:
        row = int(stalled[0]) + 1
        raise DataFileError(f"column '{name}' in '{path}' does not increase at line {row + 2} ({times[row]:.10g} after "
                            f"{times[row - 1]:.10g}): --time-column takes time stamps that increase at every row; "
                            "sort the file, or drop repeated rows")  # fmt: skip
    return np.concatenate([[np.median(steps)], steps])


def _refuse_time_stamps(path: Path, name: str, column: np.ndarray) -> None:
    """Elapsed times that grow at every row of a whole recording are time stamps: refuse them, naming the fix."""
    if column.size >= TIME_STAMP_ROWS and np.all(np.diff(column) > 0):
        raise DataFileError(f"column '{name}' in '{path}' increases at every row ({column[0]:.10g} to "
                            f"{column[-1]:.10g}): those are time stamps, not elapsed times; pass --time-column "
                            f"{name} instead (lnn-edge takes the differences between rows)")  # fmt: skip


def _csv_labels(path: Path, target_columns: list[str], targets: np.ndarray) -> np.ndarray:
    """The class id at every step [N, T] from the one target column of a ``--classify`` CSV."""
    if len(target_columns) != 1:
        raise DataFileError(
            f"--classify reads class ids from one target column; got {len(target_columns)} "
            f"({', '.join(target_columns)}) for '{path}'"
        )
    values = targets[:, :, 0]
    if np.any(values < 0) or np.any(values != np.round(values)):
        raise DataFileError(
            f"column '{target_columns[0]}' in '{path}' holds values that are not class ids (integers from 0); "
            "drop --classify to fit it as a regression target"
        )
    return values.astype(np.int64)


def _not_a_number(path: Path, number: int, header: list[str], row: list[str]) -> str:
    """Which field of a CSV line is not a number, and the likely cause."""
    column, field = next((name, text) for name, text in zip(header, row, strict=True) if not _is_number(text))
    message = f"data file '{path}' line {number}, column '{column}': {field!r} is not a number"
    if not field.strip():
        return message + " (an empty field: fill it or drop the line)"
    if ";" in field or "\t" in field:
        return message + " (the file looks ';'- or tab-separated: lnn-edge reads comma-separated CSV)"
    if _is_date_or_clock(field):
        return message + (" (a date or clock time: write time stamps as numbers, e.g. seconds since the first row, "
                          "and name that column with --time-column)")  # fmt: skip
    return message


def _is_date_or_clock(text: str) -> bool:
    """``2024-05-01 12:00:03.5``, ``2024-05-01T12:00:03Z`` or ``12:00:03``: a time stamp, not a number."""
    text = text.strip()
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return CLOCK.fullmatch(text) is not None
    return True


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_csv(path: Path) -> tuple[list[str], np.ndarray]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:  # -sig: Excel's "CSV UTF-8" starts with a BOM
            reader = csv.reader(handle)
            header = [name.strip() for name in next(reader, [])]
            lines = [row for row in reader if row]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DataFileError(f"data file '{path}' cannot be read as CSV ({error})") from None
    if not header:
        raise DataFileError(f"data file '{path}' is empty; expected a header row of column names")
    if len(set(header)) != len(header):
        raise DataFileError(f"data file '{path}' has duplicate column names in its header")
    values = np.empty((len(lines), len(header)))
    for number, row in enumerate(lines, start=2):
        if len(row) != len(header):
            raise DataFileError(f"data file '{path}' line {number} has {len(row)} fields; expected {len(header)}")
        try:
            values[number - 2] = [float(field) for field in row]
        except ValueError:
            raise DataFileError(_not_a_number(path, number, header, row)) from None
    if not np.all(np.isfinite(values)):
        line = int(np.argwhere(~np.isfinite(values))[0][0]) + 2
        raise DataFileError(f"data file '{path}' line {line} holds NaN or Inf")
    return header, values

"""Calibration data: the inputs that set input formats, and the elapsed-time range a model is used with."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from lnn_edge.errors import DataFileError
from lnn_edge.model.datafile import Sequences, as_sequences, load_inputs
from lnn_edge.model.model import Calibration, InputStats, Model

HEADROOM = 2.5
"""Margin over a calibrated max |x| (stored statistics or sample) before input formats are chosen from it: held-out
data from the same source exceeds the calibrated range a little. Formats are powers of two, so the margin costs
one or two bits of the input's resolution. Measured in docs/number-formats.md (calibration). Declared ranges get
no margin: a sensor's full scale is exact. (2.5 is the 2 the statistics were tuned with times the 1.25 the
quantizers applied on their own before 0.2, so every calibrated format stayed the same.)"""


@dataclass
class CalibrationStats:
    """Ranges for choosing input formats: per-input bound on |x| (``x_absmax``, margin included), where each bound
    came from (``x_sources``: declared, statistics or sample), the sequences to measure error on, and the
    smallest and largest elapsed time."""

    sequences: Sequences
    x_absmax: np.ndarray
    dt_min: float
    dt_max: float
    source: str
    x_sources: list[str] = field(default_factory=list)
    labels: np.ndarray | None = None
    """Class labels of ``sequences`` (the model's stored ones), for the task metric; None when unknown."""


def calibration_for(
    model: Model, path: str | os.PathLike[str] | None = None, margin: float = HEADROOM
) -> CalibrationStats:
    """Calibration from ``path`` (npz with ``x`` and optional ``dt``), else the sample stored in the model.

    The bound per input is, in order: the declared range (``model.input_ranges``), no margin; else whole-data
    statistics (all of ``path``, or the model's stored ``calibration.stats``) times ``margin``; else the sample's
    max |x| times ``margin``. With ``path``, error is measured on a representative subset of it.
    """
    stats: InputStats | None
    labels = None
    if path is not None:
        every = load_inputs(path, model.input_size, model.dt, model.input_names)
        stats = input_stats(every.x)
        x, dt = representative_sample(every.x, every.dt)
        assert dt is not None
        sequences = Sequences(x=x, dt=dt)
        dt_min, dt_max = float(every.dt.min()), float(every.dt.max())
        source = str(path)
    elif model.calibration is not None:
        sequences = as_sequences(model.calibration.x, model.calibration.dt, model.input_size, model.dt, "model")
        stats = model.calibration.stats
        labels = model.calibration.y
        dt_min, dt_max = float(sequences.dt.min()), float(sequences.dt.max())
        source = "the model's stored training sample" + (" and statistics" if stats is not None else "")
    elif set(model.input_names) <= set(model.input_ranges):
        sequences = declared_range_sequences(model)
        stats, dt_min, dt_max = None, float(model.dt), float(model.dt)
        source = "inputs drawn uniformly from the declared ranges"
    else:
        raise DataFileError(
            "fixed-point formats for the inputs need calibration data: pass --calib IN.npz (with 'x' [B,T,"
            f"{model.input_size}] and optional 'dt'), declare every input's range (--input-range NAME=LO:HI), "
            "or import/train the model with a stored sample"
        )
    bound, origin = input_bounds(model, stats, sequences.x, margin)
    return CalibrationStats(sequences, bound, dt_min, dt_max, source, origin, labels)


def stored_calibration(path: str | os.PathLike[str], model: Model) -> Calibration:
    """What a model stores from a calibration file (``import --calib``): statistics over all of it and a
    representative sample (as the trainer stores from its training split). A model that has only the default
    input names (x0, x1, ...) takes the file's ``input_names``, if it has them."""
    every = load_inputs(path, model.input_size, model.dt, model.input_names)
    if every.input_names is not None and model.input_names == [f"x{k}" for k in range(model.input_size)]:
        model.input_names = list(every.input_names)
    x, dt = representative_sample(every.x, every.dt)
    return Calibration(x=x, dt=dt, stats=input_stats(every.x))


def declared_range_sequences(model: Model, batch: int = 4, steps: int = 200, seed: int = 0) -> Sequences:
    """Inputs drawn uniformly within every input's declared range, to measure error when nothing else is known."""
    low = np.array([model.input_ranges[name][0] for name in model.input_names])
    high = np.array([model.input_ranges[name][1] for name in model.input_names])
    x = np.random.default_rng(seed).uniform(low, high, size=(batch, steps, model.input_size))
    return Sequences(x=x, dt=np.full((batch, steps), float(model.dt)))


def input_bounds(
    model: Model, stats: InputStats | None, sample: np.ndarray, margin: float = HEADROOM
) -> tuple[np.ndarray, list[str]]:
    """Per-input bound on |x| and its origin (``declared``, ``statistics``, ``sample``), by precedence."""
    if stats is not None:
        measured = np.maximum(np.abs(stats.minimum), np.abs(stats.maximum)) * margin
        origin = "statistics"
    else:
        measured = np.max(np.abs(sample), axis=(0, 1)) * margin
        origin = "sample"
    bounds = np.array(measured, dtype=np.float64)
    origins = [origin] * model.input_size
    for k, name in enumerate(model.input_names):
        if name in model.input_ranges:
            low, high = model.input_ranges[name]
            bounds[k], origins[k] = max(abs(low), abs(high)), "declared"
    return bounds, origins


DEFAULT_SAMPLE_VALUES = 1 << 16
"""Values (sequences x steps x inputs) a stored calibration sample holds by default: 512 KiB of float64."""


def input_stats(x: np.ndarray) -> InputStats:
    """Per-input minimum, maximum and 99.9th percentile of |x| over every value of ``x`` ([..., S])."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 1 or x.size == 0:
        raise DataFileError(f"input statistics need values; got an array of shape {x.shape}")
    flat = x.reshape(-1, x.shape[-1])
    if not np.all(np.isfinite(flat)):
        raise DataFileError("input statistics: field 'x' contains NaN or Inf")
    return InputStats(
        minimum=flat.min(axis=0),
        maximum=flat.max(axis=0),
        abs_p999=np.percentile(np.abs(flat), 99.9, axis=0),
        count=int(flat.shape[0]),
    )


def representative_sample(
    x: np.ndarray,
    dt: np.ndarray | None,
    labels: np.ndarray | None = None,
    max_values: int = DEFAULT_SAMPLE_VALUES,
) -> tuple[np.ndarray, np.ndarray | None]:
    """A calibration sample of at most ``max_values`` values from sequences ``x`` [B,T,S] (``dt`` [B,T] or None).

    The first few sequences of a recording are rarely typical, so the sample takes, in order: the sequences that
    hold each input's minimum and maximum, then sequences spread evenly over each class of ``labels`` ([B] or
    [B,T] class ids, round robin across classes) or, without labels, evenly over the split. Sequences too long for
    the budget are cut into windows first (each window then starts from a zero state, which is what calibration
    and error measurement need). Returns ``(x_sample, dt_sample)`` in their original order.
    """
    x_sample, dt_sample, _ = labelled_sample(x, dt, labels, max_values)
    return x_sample, dt_sample


def labelled_sample(
    x: np.ndarray,
    dt: np.ndarray | None,
    labels: np.ndarray | None = None,
    max_values: int = DEFAULT_SAMPLE_VALUES,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """:func:`representative_sample`, and the class labels of the sequences it chose: int64 [b] or [b,T] as
    ``labels`` has them, else None (no labels, regression targets, or one label per sequence once sequences were
    cut into windows: a window of a sequence is not scored like the whole sequence)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.size == 0:
        raise DataFileError(f"calibration sample: field 'x' has shape {x.shape}; expected [B, T, S]")
    if dt is not None:
        dt = np.broadcast_to(np.asarray(dt, dtype=np.float64), x.shape[:2])
    sequence_labels = _sequence_labels(labels, x.shape[0])
    kept = None if sequence_labels is None else np.asarray(labels).astype(np.int64)  # class ids, as given
    if x.shape[1] * x.shape[2] > max_values:
        length = max(1, max_values // (4 * x.shape[2]))
        if kept is not None and kept.ndim == 2:
            kept = _windows(kept[..., None].astype(np.float64), None, None, length)[0][..., 0].astype(np.int64)
        else:
            kept = None
        x, dt, sequence_labels = _windows(x, dt, sequence_labels, length)
    count = max(1, max_values // (x.shape[1] * x.shape[2]))
    chosen = np.arange(x.shape[0]) if x.shape[0] <= count else _choose_sequences(x, sequence_labels, count)
    return x[chosen].copy(), None if dt is None else dt[chosen].copy(), None if kept is None else kept[chosen].copy()


def _sequence_labels(labels: np.ndarray | None, batch: int) -> np.ndarray | None:
    """One class per sequence: the label itself, or the most frequent per-step label."""
    if labels is None:
        return None
    labels = np.asarray(labels)
    if labels.shape[:1] != (batch,) or labels.dtype.kind not in "iub" or labels.ndim > 2:
        return None  # regression targets or odd shapes: spread evenly instead of by class
    if labels.ndim == 1:
        return labels.astype(np.int64)
    return np.array([np.bincount(row - row.min()).argmax() + row.min() for row in labels.astype(np.int64)])


def _windows(
    x: np.ndarray, dt: np.ndarray | None, labels: np.ndarray | None, length: int
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Cut every sequence into windows of ``length`` steps; the last one is aligned to the end so no step is lost."""
    steps = x.shape[1]
    starts = list(range(0, steps - length + 1, length))
    if starts[-1] + length < steps:
        starts.append(steps - length)
    xs = np.concatenate([x[:, s : s + length] for s in starts])
    dts = None if dt is None else np.concatenate([dt[:, s : s + length] for s in starts])
    window_labels = None if labels is None else np.tile(labels, len(starts))
    return xs, dts, window_labels


def _choose_sequences(x: np.ndarray, labels: np.ndarray | None, count: int) -> np.ndarray:
    """Indices of ``count`` sequences: the extremes' holders first, then spread across classes or the split."""
    chosen: list[int] = []
    for extreme in (x.max(axis=1), -x.min(axis=1)):  # [B, S]: where each input peaks
        for holder in np.argmax(extreme, axis=0):
            if int(holder) not in chosen and len(chosen) < count:
                chosen.append(int(holder))
    groups = [np.arange(x.shape[0])] if labels is None else [np.flatnonzero(labels == c) for c in np.unique(labels)]
    orders = [_evenly_spaced_order([int(i) for i in g]) for g in groups]
    while len(chosen) < count and any(orders):
        for order in orders:
            while order:
                candidate = order.pop(0)
                if candidate not in chosen:
                    chosen.append(candidate)
                    break
            if len(chosen) >= count:
                break
    return np.array(sorted(chosen), dtype=np.int64)


def _evenly_spaced_order(indices: list[int]) -> list[int]:
    """``indices`` reordered so that every prefix is spread over the whole list (0, n/2, n/4, 3n/4, ...)."""
    n = len(indices)
    order: list[int] = []
    seen: set[int] = set()
    step = 1.0
    while len(order) < n:
        for k in range(int(step)):
            position = min(n - 1, int(k * n / step))
            if position not in seen:
                seen.add(position)
                order.append(int(indices[position]))
        step *= 2
    return order

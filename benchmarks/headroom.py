"""Held-out input saturation against the calibration headroom margin (docs/number-formats.md, calibration).

Forty synthetic IMU-like recordings (9 channels, AR(1) with Student-t innovations of 3 degrees of freedom, bursts
of activity, per-channel units): 200 sequences of 100 steps each, shuffled, calibrated on 3/4 and checked on the
rest. For each margin, the fixed16 input format is chosen from max |x| x margin (``calibration.HEADROOM`` is 2.5),
and the held-out values beyond that format are counted. Modes: ``stats`` (whole-split statistics, what
the trainer stores), ``sample8`` (the first 8 sequences, the old stored sample), ``repsample``
(``representative_sample``). Run: ``.venv/bin/python benchmarks/headroom.py [MARGIN ...]``.

``--real CACHE_DIR`` measures two real recordings instead, from the aeon wheel that tests/support/realdata.py
fetches with pip into CACHE_DIR (a new folder): BasicMotions (calibrated on its train split, checked on its test
split) and the Daphnet recording in 1 s windows (first 3/4 of the time, checked on the last 1/4).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from lnn_edge.quant.calibration import input_stats, representative_sample
from lnn_edge.quant.qformat import frac_bits_for


def recording(rng: np.random.Generator, steps: int = 20000, channels: int = 9) -> np.ndarray:
    scale = rng.uniform(0.5, 20, channels)
    innovations = rng.standard_t(3, size=(steps, channels))
    activity = np.repeat(rng.uniform(0.3, 3, steps // 500 + 1), 500)[:steps, None]
    x = np.zeros((steps, channels))
    for t in range(1, steps):
        x[t] = 0.95 * x[t - 1] + innovations[t] * activity[t]
    return x * scale / 10


def calibrated_absmax(train: np.ndarray, mode: str) -> np.ndarray:
    if mode == "stats":
        stats = input_stats(train)
        return np.maximum(np.abs(stats.minimum), np.abs(stats.maximum))
    if mode == "sample8":
        return np.abs(train[:8]).max(axis=(0, 1))
    return np.abs(representative_sample(train, None)[0]).max(axis=(0, 1))


def held_out_saturation(train: np.ndarray, test: np.ndarray, margin: float, mode: str) -> tuple[int, list[int]]:
    """Held-out values beyond the fixed16 input formats, and the channels they are in."""
    bound = calibrated_absmax(train, mode) * margin
    top = 32767 / np.exp2([frac_bits_for(float(b), 16) for b in bound])
    over = np.abs(test) > top
    return int(over.sum()), sorted({int(k) for k in np.nonzero(over.reshape(-1, test.shape[-1]))[1]})


def main_real(cache: Path, margins: list[float]) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from support.realdata import basic_motions, daphnet_csv

    motions = basic_motions(cache)
    daphnet = np.genfromtxt(daphnet_csv(cache / "daphnet.csv", cache), delimiter=",", skip_header=1)[:, 2:]
    windows = daphnet[: len(daphnet) // 64 * 64].reshape(-1, 64, daphnet.shape[1])
    cut = len(windows) * 3 // 4
    for margin in margins:
        for mode in ("stats", "sample8", "repsample"):
            a = held_out_saturation(motions.x_train, motions.x_test, margin, mode)
            b = held_out_saturation(windows[:cut], windows[cut:], margin, mode)
            print(f"margin {margin:<5} {mode:<9} BasicMotions {a[0]:>5} of {motions.x_test.size} (channels {a[1]}); "
                  f"Daphnet {b[0]:>5} of {windows[cut:].size} (channels {b[1]})")  # fmt: skip


def main(margins: list[float]) -> None:
    for margin in margins:
        for mode in ("stats", "sample8", "repsample"):
            saturated = values = recordings_hit = 0
            for seed in range(40):
                rng = np.random.default_rng(seed)
                x = recording(rng).reshape(-1, 100, 9)[rng.permutation(200)]
                train, test = x[:150], x[150:]
                bound = calibrated_absmax(train, mode) * margin
                top = 32767 / np.exp2([frac_bits_for(float(b), 16) for b in bound])
                over = np.abs(test) > top
                saturated += int(over.sum())
                values += over.size
                recordings_hit += bool(over.any())
            print(f"margin {margin:<5} {mode:<9} held-out values saturated {saturated:>5} of {values} "
                  f"({saturated / values:.1e}); recordings with any: {recordings_hit}/40")  # fmt: skip


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--real"]:
        main_real(Path(args[1]), [float(m) for m in args[2:]] or [1.25, 1.5625, 1.875, 2.5])
    else:
        main([float(m) for m in args] or [1.25, 1.5625, 1.875, 2.5])

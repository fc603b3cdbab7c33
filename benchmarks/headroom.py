"""Held-out input saturation against the calibration headroom margin (docs/number-formats.md, calibration).

Forty synthetic IMU-like recordings (9 channels, AR(1) with Student-t innovations of 3 degrees of freedom, bursts
of activity, per-channel units): 200 sequences of 100 steps each, shuffled, calibrated on 3/4 and checked on the
rest. For each margin, the fixed16 input format is chosen from max |x| x margin x 1.25 (the quantizers' own
factor), and the held-out values beyond that format are counted. Modes: ``stats`` (whole-split statistics, what
the trainer stores), ``sample8`` (the first 8 sequences, the old stored sample), ``repsample``
(``representative_sample``). Run: ``.venv/bin/python benchmarks/headroom.py [MARGIN ...]``.
"""

from __future__ import annotations

import sys

import numpy as np

from lnn_edge.calibration import input_stats, representative_sample
from lnn_edge.qformat import frac_bits_for


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


def main(margins: list[float]) -> None:
    for margin in margins:
        for mode in ("stats", "sample8", "repsample"):
            saturated = values = recordings_hit = 0
            for seed in range(40):
                rng = np.random.default_rng(seed)
                x = recording(rng).reshape(-1, 100, 9)[rng.permutation(200)]
                train, test = x[:150], x[150:]
                bound = calibrated_absmax(train, mode) * margin * 1.25
                top = 32767 / np.exp2([frac_bits_for(float(b), 16) for b in bound])
                over = np.abs(test) > top
                saturated += int(over.sum())
                values += over.size
                recordings_hit += bool(over.any())
            print(f"margin {margin:<5} {mode:<9} held-out values saturated {saturated:>5} of {values} "
                  f"({saturated / values:.1e}); recordings with any: {recordings_hit}/40")  # fmt: skip


if __name__ == "__main__":
    main([float(m) for m in sys.argv[1:]] or [1.0, 1.25, 1.5, 2.0])

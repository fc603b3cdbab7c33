"""Which sigmoid can the fixed16 LTC afford? The output error each candidate table causes on its own.

The float64 reference of the trained pendulum LTC (the model of benchmarks/quant_accuracy.py, trained there or
here when missing) runs with its synapse sigmoid replaced by a table over [-16, 16):

- the shipped one: 128 linearly interpolated segments (512 B of {sample, slope} pairs), read at 2^-16 steps;
- tables read without interpolation (the nearest of N samples, 2 B each), 2-4 instructions a synapse cheaper.

Everything else stays float64, so each error is the table's alone. fixed16 must keep the whole error (this plus
every other rounding) within 1e-2 of the output range (lnn_edge.quant.report.DEFAULT_THRESHOLDS), and parameters plus
step code within the 3 KB flash target of issue 6.

Usage: python benchmarks/sigmoid_tables.py [--models DIR] [--out FILE.md]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np
from quant_accuracy import MODELS, trained

from lnn_edge.metrics import compare
from lnn_edge.model.model import Model
from lnn_edge.quant.fixedpoint import sigmoid_clamped_table
from lnn_edge.reference import Reference, sigmoid
from lnn_edge.train.tasks import make_task

Sigmoid = Callable[[np.ndarray], np.ndarray]
SPAN = 16.0  # the tables cover [-SPAN, SPAN)
SAMPLE_FRAC = 15  # fixed16 stores sigmoid samples in Q15
POSITION_FRAC = 16  # where the shipped table is read (finer than any fixed16 position: the table's error alone)


def shipped_table() -> Sigmoid:
    """The fixed16 LTC's table (lnn_edge.quant.fixedpoint.sigmoid_clamped_table, 128 segments), in float."""
    table = sigmoid_clamped_table(index_bits=7, in_frac=POSITION_FRAC, out_frac=SAMPLE_FRAC)

    def read(x: np.ndarray) -> np.ndarray:
        position = np.floor((np.clip(x, -2 * SPAN, 2 * SPAN) + SPAN) * 2.0**POSITION_FRAC).astype(np.int64)
        return np.asarray(table(position), dtype=np.float64) / 2.0**SAMPLE_FRAC

    return read


def nearest_table(samples: int) -> Sigmoid:
    """``samples`` Q15 samples of the sigmoid on [-16, 16), read at the nearest one (no interpolation)."""
    step = 2 * SPAN / samples
    values = np.round(sigmoid(-SPAN + step * np.arange(samples)) * 2.0**SAMPLE_FRAC) / 2.0**SAMPLE_FRAC

    def read(x: np.ndarray) -> np.ndarray:
        index = np.floor((np.clip(x, -2 * SPAN, 2 * SPAN) + SPAN) / step + 0.5)
        return values[np.clip(index, 0, samples - 1).astype(np.int64)]

    return read


CANDIDATES: list[tuple[str, int, Sigmoid]] = [
    ("128 segments, interpolated (shipped)", 128 * 4, shipped_table()),
    *((f"{n} samples, nearest", 2 * n, nearest_table(n)) for n in (256, 512, 1024, 2048, 4096)),
]


def table_rows(model: Model) -> list[str]:
    test = make_task("pendulum", samples=32, seq_len=64, seed=12345)
    long = make_task("pendulum", samples=2, seq_len=1000, seed=777)
    exact_test = Reference(model).run(test.x, test.elapsed())[0]
    exact_long = Reference(model).run(long.x, long.elapsed())[0]
    task_rmse = float(np.sqrt(np.mean((exact_test - test.y) ** 2)))
    rows = [
        "| sigmoid table | table bytes | max abs err / output range (held-out) | at 1 000 steps | task RMSE "
        f"(float64 {task_rmse:.5f}) |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, table_bytes, table in CANDIDATES:
        reference = Reference(model, synapse_sigmoid=table)
        y_test = reference.run(test.x, test.elapsed())[0]
        y_long = reference.run(long.x, long.elapsed())[0]
        held_out = compare(y_test, exact_test).max_abs_rel_range
        long_run = compare(y_long, exact_long).max_abs_rel_range
        rmse = float(np.sqrt(np.mean((y_test - test.y) ** 2)))
        rows.append(f"| {label} | {table_bytes:,} | {held_out:.2e} | {long_run:.2e} | {rmse:.5f} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=Path, default=Path(".bench-models"))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    args.models.mkdir(parents=True, exist_ok=True)
    text = "\n".join(table_rows(trained(MODELS["LTC AutoNCP(19,2)"], args.models))) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()

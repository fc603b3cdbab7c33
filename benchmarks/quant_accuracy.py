"""Quantization accuracy on trained models: emulator (== the generated C, bit for bit) vs the float64 reference.

Trains (or reuses from --models) the default LTC AutoNCP(19,2) and a wired CfC on the same wiring, each without
and with mixed memory (ncps's LSTM in front of the cell), all on the built-in pendulum task, then for float32,
fixed32 and fixed16 measures on held-out sequences: max abs output error as a fraction of the output range, the task
metric (RMSE against the true targets) against float64's, saturations (by tensor, e.g. a mixed model's LSTM
state ``c``), and the error at 1 000 and 10 000 steps (growth check).

Usage: python benchmarks/quant_accuracy.py [--models DIR] [--out FILE.md] [--model LABEL ...]
  e.g. --model "LTC AutoNCP(19,2) mixed memory" (repeatable) measures only the models named.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from lnn_edge.codegen.render import memory
from lnn_edge.metrics import compare
from lnn_edge.model.model import Model
from lnn_edge.model.modelfile import load
from lnn_edge.quant.emulator import Emulator
from lnn_edge.quant.quantize import quantize
from lnn_edge.reference import Reference
from lnn_edge.train.tasks import make_task
from lnn_edge.train.trainer import TrainConfig, train

MODELS = {
    "LTC AutoNCP(19,2)": TrainConfig(cell="ltc", task="pendulum", output="ltc_pendulum.lnn"),
    "wired CfC AutoNCP(19,2)": TrainConfig(cell="cfc", task="pendulum", output="cfc_pendulum.lnn"),
    "LTC AutoNCP(19,2) mixed memory": TrainConfig(
        cell="ltc", task="pendulum", mixed_memory=True, output="ltc_mixed_pendulum.lnn"
    ),
    "wired CfC AutoNCP(19,2) mixed memory": TrainConfig(
        cell="cfc", task="pendulum", mixed_memory=True, output="cfc_mixed_pendulum.lnn"
    ),
}
PRECISIONS = ("float32", "fixed32", "fixed16")


def trained(config: TrainConfig, directory: Path) -> Model:
    path = directory / config.output
    if not path.is_file():
        config.output = str(path)
        train(config)
    return load(path)


def rmse(prediction: np.ndarray, target: np.ndarray) -> float:
    return float(np.sqrt(np.mean((prediction - target) ** 2)))


def evaluate(model: Model, lines: list[str], results: dict[str, dict[str, Any]], label: str) -> None:
    test = make_task("pendulum", samples=32, seq_len=64, seed=12345)
    dt = test.elapsed()
    y_ref, _ = Reference(model).run(test.x, dt)
    metric_ref = rmse(y_ref, test.y)
    long_runs = {steps: make_task("pendulum", samples=2, seq_len=steps, seed=777) for steps in (1000, 10000)}
    long_refs = {steps: Reference(model).run(data.x, data.elapsed())[0] for steps, data in long_runs.items()}
    for precision in PRECISIONS:
        qmodel = quantize(model, precision)
        result = Emulator(qmodel).run(test.x, dt)
        error = compare(result.y, y_ref)
        metric = rmse(result.y, test.y)
        growth = {}
        for steps, data in long_runs.items():
            emulated = Emulator(qmodel).run(data.x, data.elapsed())
            growth[steps] = compare(emulated.y, long_refs[steps]).max_abs_rel_range
        # The held-out sequences' and the longest run's saturations (``emulated`` is the 10 000-step run).
        by_tensor = dict(result.saturations.counts)
        for tensor, count in emulated.saturations.counts.items():
            by_tensor[tensor] = by_tensor.get(tensor, 0) + count
        row: dict[str, Any] = {
            "max_abs_rel_range": error.max_abs_rel_range,
            "rmse_vs_reference": error.rmse,
            "task_rmse": metric,
            "task_rmse_float64": metric_ref,
            "task_rel_change": abs(metric - metric_ref) / metric_ref,
            "saturations": sum(by_tensor.values()),
            "saturations_by_tensor": by_tensor,
            "err_1000": growth[1000],
            "err_10000": growth[10000],
            "param_bytes": memory(qmodel).params,
        }
        results[f"{label} {precision}"] = row
        lines.append(
            f"| {label} | {precision} | {row['max_abs_rel_range']:.2e} | {metric:.5f} ({metric_ref:.5f}) "
            f"| {100 * row['task_rel_change']:.3f}% | {row['err_1000']:.2e} | {row['err_10000']:.2e} "
            f"| {_saturations(by_tensor)} | {row['param_bytes']} |"
        )


def _saturations(by_tensor: dict[str, int]) -> str:
    """The total, and which tensors saturated (``12 (c: 12)``), so a saturating LSTM state shows by name."""
    total = sum(by_tensor.values())
    named = ", ".join(f"{tensor}: {count}" for tensor, count in sorted(by_tensor.items()) if count)
    return f"{total} ({named})" if named else str(total)


def selected(labels: list[str]) -> dict[str, TrainConfig]:
    """The models ``--model`` names (all of them when none is named); an unknown label is an error."""
    unknown = [label for label in labels if label not in MODELS]
    if unknown:
        raise SystemExit(f"--model: {'; '.join(unknown)} not among {'; '.join(MODELS)}")
    return {label: config for label, config in MODELS.items() if not labels or label in labels}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=Path, default=Path(".bench-models"))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--model", action="append", default=[], help="measure only this model (its label; repeatable)")
    args = parser.parse_args()
    models = selected(args.model)
    args.models.mkdir(parents=True, exist_ok=True)
    lines = [
        "| model | precision | max abs err / output range (held-out) | task RMSE (float64) | task metric change "
        "| err/range at 1 000 steps | at 10 000 steps | saturations | parameter bytes |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    results: dict[str, dict[str, Any]] = {}
    start = time.time()
    for label, config in models.items():
        evaluate(trained(config, args.models), lines, results, label)
    text = "\n".join(lines) + f"\n\n(measured in {time.time() - start:.0f} s)\n"
    print(text)
    if args.out:
        args.out.write_text(text)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

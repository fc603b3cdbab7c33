"""Host speed: per-step time of the generated C (via cffi, batch 1) against ncps torch (batch 1), as ratios
measured in one run. Usage: python benchmarks/host_speed.py [--steps N] [--out docs/bench-host.md]

Both sides step one sequence of N steps from a zero state; torch runs the ncps cell step by step under
no_grad in eval mode (its natural deployment), float32, one thread. Timings are medians of 5 repetitions;
only the ratios are meaningful across machines.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ncps import wirings
from ncps.torch import LTC, CfC

from lnn_edge.codegen.export import export
from lnn_edge.host.verify import compile_export, raw_inputs
from lnn_edge.model.datafile import Sequences
from lnn_edge.model.importers import from_module
from lnn_edge.model.model import Calibration
from lnn_edge.quant.emulator import Emulator


def torch_seconds_per_step(module: torch.nn.Module, x: np.ndarray) -> float:
    module = module.float().eval()
    steps = x.shape[1]
    inputs = torch.from_numpy(x.astype(np.float32))
    elapsed = torch.ones(1, 1)
    cell: Any = module.rnn_cell  # torch types nn.Module attributes as Tensor | Module
    state_size: int = getattr(module, "state_size")  # noqa: B009 - the same

    def run() -> float:
        h = torch.zeros(1, state_size)
        start = time.perf_counter()
        with torch.no_grad():
            for t in range(steps):
                _, h = cell(inputs[:, t], h, elapsed)
        return (time.perf_counter() - start) / steps

    run()
    return statistics.median(run() for _ in range(5))


def c_seconds_per_step(module: torch.nn.Module, x: np.ndarray, precision: str, workdir: Path) -> float:
    model = from_module(module)
    model.calibration = Calibration(x=x, dt=np.ones(x.shape[:2]))
    exported = export(model, workdir / precision, precision, name="bench")
    compiled = compile_export(exported)
    x_raw, dt_raw = raw_inputs(Emulator(exported.qmodel), Sequences(x=x, dt=np.ones(x.shape[:2])))

    def run() -> float:
        start = time.perf_counter()
        compiled.run_raw(x_raw, dt_raw)
        return (time.perf_counter() - start) / x.shape[1]

    run()
    return statistics.median(run() for _ in range(5))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    x = np.random.default_rng(0).normal(size=(1, args.steps, 20))
    models = {
        "LTC AutoNCP(19,2), 20 inputs": LTC(20, wirings.AutoNCP(19, 2)),
        "CfC wired AutoNCP(19,2), 20 inputs": CfC(20, wirings.AutoNCP(19, 2)),
    }
    lines = [
        "| model | torch us/step | float32 C us/step | fixed16 C us/step | fixed32 C us/step | speed-up (torch / C) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for label, module in models.items():
            try:
                c_times = {
                    p: c_seconds_per_step(module, x, p, Path(tmp) / label[:3])
                    for p in ("float32", "fixed16", "fixed32")
                }
            except Exception as error:  # e.g. a cell whose export is not supported yet
                lines.append(f"| {label} | - | - | - | - | not measured: {error} |")
                continue
            torch_time = torch_seconds_per_step(module, x)
            ratios = ", ".join(f"{p} {torch_time / t:.0f}x" for p, t in c_times.items())
            lines.append(
                f"| {label} | {torch_time * 1e6:.1f} | {c_times['float32'] * 1e6:.2f} | {c_times['fixed16'] * 1e6:.2f} "
                f"| {c_times['fixed32'] * 1e6:.2f} | {ratios} |"
            )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()

"""The benchmark matrix: instructions per step, flash, RAM and stack for cores x precisions x models.

Models (20 inputs, ncps default initialisation, seed 0): LTC on AutoNCP with 8, 19, 32 and 64 neurons and on
FullyConnected(19, 2); a dense CfC (19 hidden, backbone 32), a wired CfC on AutoNCP(19, 2), and the LTC and the
wired CfC on AutoNCP(19, 2) with mixed memory (an LSTM in front, state [h | c]: "neurons" counts h). Each export is
counted in Unicorn on every core, Cortex-M and RV32 (exact instructions per basic block; outputs checked bit for
bit against the emulator). Writes a JSON file of rows for benchmarks/report.py.

Usage: python benchmarks/matrix.py --out build/bench/matrix.json
       python benchmarks/matrix.py --cores rv32imc,rv32imac --update build/bench/matrix.json
         (re-measure some cores only, replacing their rows in an existing matrix: after a change that only those
         cores compile, such as an architecture file of the runtime)
       python benchmarks/matrix.py --model "LTC AutoNCP(19,2) mixed memory" --cores cortex-m4f --out mixed.json
         (some models only, with the same initialisation and calibration data as in the full matrix)
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ncps import wirings
from ncps.torch import LTC, CfC

from lnn_edge.bench.run import bench_export
from lnn_edge.codegen.export import export
from lnn_edge.host.verify import default_sequences
from lnn_edge.model.importers import from_module
from lnn_edge.model.model import Calibration, Model

CORES = ("cortex-m0", "cortex-m3", "cortex-m4f", "cortex-m7", "cortex-m33", "rv32imc", "rv32imac")
PRECISIONS = ("float32", "fixed16", "fixed32")
INPUTS = 20
FIRMWARE_BOARDS = {"cortex-m4f": "qemu-mps2-an386", "rv32imac": "qemu-sifive-e"}
"""Cores whose rows also measure the whole firmware (start-up, UART, protocol, model) on an emulated board."""


def models() -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    return {
        "LTC AutoNCP(8,2)": LTC(INPUTS, wirings.AutoNCP(8, 2)),
        "LTC AutoNCP(19,2)": LTC(INPUTS, wirings.AutoNCP(19, 2)),
        "LTC AutoNCP(32,2)": LTC(INPUTS, wirings.AutoNCP(32, 2)),
        "LTC AutoNCP(64,2)": LTC(INPUTS, wirings.AutoNCP(64, 2)),
        "LTC FullyConnected(19,2)": LTC(INPUTS, wirings.FullyConnected(19, 2)),
        "CfC dense 19 (backbone 32)": CfC(INPUTS, 19, proj_size=2, backbone_units=32),
        "CfC wired AutoNCP(19,2)": CfC(INPUTS, wirings.AutoNCP(19, 2)),
        # Last, so that the models above keep their initialisation: an LSTM in front of the LTC (issue 16).
        "LTC AutoNCP(19,2) mixed memory": LTC(INPUTS, wirings.AutoNCP(19, 2), mixed_memory=True),
        "CfC wired AutoNCP(19,2) mixed memory": CfC(INPUTS, wirings.AutoNCP(19, 2), mixed_memory=True),
    }


def prepared_models(only: tuple[str, ...] = ()) -> Iterator[tuple[str, Model]]:
    """(label, imported model with its calibration data) of the matrix's models, or of those named in ``only``.
    The calibration data of every model is drawn in turn, so a model gets the same data whichever are chosen."""
    rng = np.random.default_rng(0)
    for label, module in models().items():
        model = from_module(module)
        model.calibration = Calibration(x=rng.normal(size=(4, 50, INPUTS)), dt=rng.uniform(0.5, 1.5, size=(4, 50)))
        if not only or label in only:
            yield label, model


def run(
    out: Path, steps: int, cores: tuple[str, ...] = CORES, update: bool = False, only: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, model in prepared_models(only):
            sensory, internal = model.synapse_counts()
            for precision in PRECISIONS:
                exported = export(model, Path(tmp) / f"{len(rows)}", precision, name="bench")
                sequences = default_sequences(exported, steps)
                for core in cores:
                    start = time.time()
                    result = bench_export(exported, core, sequences)
                    row = {
                        "model": label,
                        "cell": model.cell,
                        "neurons": model.neurons,
                        "synapses": sensory + internal,
                        "parameters": model.parameter_count(),
                        **result.as_dict(),
                    }
                    if core in FIRMWARE_BOARDS:  # the whole firmware (startup, UART, protocol, model) on its board
                        from lnn_edge.target.build import build_firmware

                        board = FIRMWARE_BOARDS[core]
                        row["flash_total_bytes"] = build_firmware(exported.directory, board).size.flash_used
                    rows.append(row)
                    print(
                        f"{label:28s} {precision:8s} {core:11s} {row['instructions_per_step']:>10.0f} instr/step "
                        f"flash {row['flash_model_bytes']:>6d} B stack {row['stack_peak_bytes']:>5d} B "
                        f"exact {row['bit_exact']} ({time.time() - start:.1f} s)",
                        flush=True,
                    )
                    if not row["bit_exact"]:
                        raise SystemExit(f"{label} {precision} {core}: the cross-compiled step is not bit-exact")
    if update:  # keep the other cores' rows, in the matrix's order
        measured = {(r["model"], r["precision"], r["core"]): r for r in rows}
        old = json.loads(out.read_text())
        rows = [measured.pop((r["model"], r["precision"], r["core"]), r) for r in old] + list(measured.values())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=1))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("build/bench/matrix.json"))
    parser.add_argument("--steps", type=int, default=20, help="steps counted per benchmark (the mean is reported)")
    parser.add_argument("--cores", default=",".join(CORES), help=f"cores to measure (default: {','.join(CORES)})")
    parser.add_argument("--update", type=Path, help="replace the measured cores' rows in this matrix (also the output)")
    parser.add_argument("--model", action="append", default=[], help="measure only this model (its label; repeatable)")
    args = parser.parse_args()
    cores = tuple(core.strip() for core in args.cores.split(",") if core.strip())
    unknown = [core for core in cores if core not in CORES]
    if unknown:
        parser.error(f"--cores: {', '.join(unknown)} not among {', '.join(CORES)}")
    if args.update is not None and not args.update.is_file():
        parser.error(f"--update {args.update}: no such matrix (run without --update first)")
    torch.set_num_threads(1)
    only = tuple(args.model)
    unknown_models = [label for label in only if label not in models()]
    if unknown_models:
        parser.error(f"--model: {'; '.join(unknown_models)} not among {'; '.join(models())}")
    run(args.update or args.out, args.steps, cores, update=args.update is not None, only=only)


if __name__ == "__main__":
    main()

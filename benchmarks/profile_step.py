"""Where the instructions of one benchmark-matrix step go: per-instruction counts, hottest stretches first.

Exports one model of benchmarks/matrix.py (same initialisation and calibration data), runs its step on one core in
Unicorn as the matrix does, and prints the stretches of code that ran equally often (a loop body: its length, how
many times a step it ran) and, with --listing, every executed instruction with its count per step. The total is
the matrix's instructions per step, exactly.

Usage: python benchmarks/profile_step.py --model "LTC AutoNCP(19,2)" --precision fixed16 --core rv32imc
       python benchmarks/profile_step.py --model "CfC wired AutoNCP(19,2)" --core cortex-m4f --listing
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from matrix import CORES, PRECISIONS, prepared_models

from lnn_edge.bench.profile import profile_export
from lnn_edge.codegen.export import export
from lnn_edge.host.verify import default_sequences


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="LTC AutoNCP(19,2)", help="a model label of benchmarks/matrix.py")
    parser.add_argument("--precision", default="fixed16", choices=PRECISIONS)
    parser.add_argument("--core", default="rv32imc", choices=CORES)
    parser.add_argument("--steps", type=int, default=20, help="steps counted (the mean is reported)")
    parser.add_argument("--top", type=int, default=15, help="stretches shown")
    parser.add_argument("--listing", action="store_true", help="also list every executed instruction")
    args = parser.parse_args()
    torch.set_num_threads(1)
    found = dict(prepared_models(only=(args.model,)))
    if args.model not in found:
        parser.error(f"--model: {args.model!r} is not a matrix model")
    with tempfile.TemporaryDirectory() as tmp:
        exported = export(found[args.model], Path(tmp) / "export", args.precision, name="bench")
        profile = profile_export(exported, args.core, default_sequences(exported, args.steps))
    print(f"{args.model}, {args.precision}: ", end="")
    print(profile.format(args.top, args.listing))


if __name__ == "__main__":
    main()

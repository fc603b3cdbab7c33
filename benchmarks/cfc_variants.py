"""Instructions per step and model flash of CfC variants beyond benchmarks/matrix.py's two rows, on every core:
the matrix's dense and wired CfC plus a pure-mode relu backbone of two layers, a no_gate gelu cell, a silu
backbone and a pure-mode wired NCP, so that a change to the CfC kernels is measured on every mode and activation.
Exits 1 if a row is not bit-exact against the emulator.

Usage: python benchmarks/cfc_variants.py [fixed16 fixed32 float32] > variants.txt
(columns: model, precision, core, instructions per step, model flash in bytes, bit-exact)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from ncps import wirings
from ncps.torch import CfC

from lnn_edge import bench_export, export, from_module
from lnn_edge.host.verify import default_sequences
from lnn_edge.model.model import Calibration

CORES = ("cortex-m0", "cortex-m3", "cortex-m4f", "cortex-m7", "cortex-m33")
INPUTS = 20


def models() -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    return {  # the first two are benchmarks/matrix.py's CfC rows, built the same way
        "dense19-bb32": CfC(INPUTS, 19, proj_size=2, backbone_units=32),
        "wired-AutoNCP19": CfC(INPUTS, wirings.AutoNCP(19, 2)),
        "dense12-pure-relu-bb2x16": CfC(
            5, 12, proj_size=3, backbone_units=16, backbone_layers=2, mode="pure", activation="relu"
        ),
        "dense10-nogate-gelu": CfC(4, 10, backbone_units=8, mode="no_gate", activation="gelu"),
        "dense9-silu-bb1": CfC(3, 9, backbone_units=12, activation="silu"),
        "wired-NCP-pure": CfC(6, wirings.NCP(5, 4, 2, 3, 2, 2, 3), mode="pure"),
    }


def main(precisions: list[str]) -> int:
    rng = np.random.default_rng(0)
    inexact = 0
    with tempfile.TemporaryDirectory() as tmp:
        for label, module in models().items():
            model = from_module(module)
            model.calibration = Calibration(
                x=rng.normal(size=(4, 50, model.input_size)), dt=rng.uniform(0.5, 1.5, size=(4, 50))
            )
            for precision in precisions:
                exported = export(model, Path(tmp) / f"{label}-{precision}", precision, name="bench")
                sequences = default_sequences(exported, 20)
                for core in CORES:
                    result = bench_export(exported, core, sequences)
                    inexact += not result.bit_exact
                    print(f"{label:26s} {precision:8s} {core:11s} {result.instructions_per_step:>10.1f} "
                          f"{result.flash_model_bytes:>6d} {result.bit_exact}", flush=True)  # fmt: skip
    return 1 if inexact else 0


if __name__ == "__main__":
    torch.set_num_threads(1)
    raise SystemExit(main(sys.argv[1:] or ["fixed16", "fixed32", "float32"]))

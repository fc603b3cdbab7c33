"""Time of ``import --expect``'s option search for ncps LTCs: 2 constraints x 32 unfolds x 5 epsilons.

Each case saves a float64 IO.npz (4 sequences of 50 steps, 8 inputs) from a real ncps ``LTC`` with the options in
its row, then times :func:`lnn_edge.expect.verified_import` (the search and the confirmation; torch's file loading
excluded). The last case has 40 unfolds, outside the search: the staged search fails, every combination is tried,
and the time is that of the error a user would get. Run: ``.venv/bin/python benchmarks/expect_search.py``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from ncps import wirings
from ncps.torch import LTC

from lnn_edge.errors import LnnEdgeError
from lnn_edge.expect import verified_import
from lnn_edge.model.importers import load_torch_file

CASES = [  # units, ode_unfolds, epsilon, implicit constraints
    (19, 6, 1e-8, True),
    (19, 23, 1e-3, False),
    (64, 6, 1e-8, True),
    (19, 40, 1e-8, True),
]


def measure(folder: Path, units: int, unfolds: int, epsilon: float, implicit: bool) -> str:
    torch.manual_seed(0)
    module = LTC(
        8, wirings.AutoNCP(units, 2), ode_unfolds=unfolds, epsilon=epsilon, implicit_param_constraints=implicit
    )
    module = module.double().eval()
    torch.save(module.state_dict(), folder / "m.pt")
    x = torch.randn(4, 50, 8, dtype=torch.float64)
    with torch.no_grad():
        y = module(x)[0]
    np.savez(folder / "io.npz", x=x.numpy(), y=y.numpy())
    model = load_torch_file(folder / "m.pt")
    start = time.perf_counter()
    try:
        _, lines = verified_import(
            folder / "m.pt", model, folder / "io.npz", {}, dt=1.0, prefix="", echo=lambda _: None
        )
        verified = next(line for line in lines if line.startswith("verified"))
        verdict = "found" if f"ode_unfolds={unfolds} " in verified else "WRONG"
    except LnnEdgeError:
        verdict = "no match (expected)" if unfolds > 32 else "MISSED"
    return f"| AutoNCP({units}, 2) | {unfolds} | {epsilon:g} | {implicit} | {time.perf_counter() - start:.1f} s | {verdict} |"


def main() -> None:
    print("| wiring | unfolds | epsilon | constraints | search time | result |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for case in CASES:
            print(measure(Path(folder), *case))


if __name__ == "__main__":
    main()

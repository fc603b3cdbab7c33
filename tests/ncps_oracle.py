"""Drive ncps torch modules step by step in double precision: the oracle the reference is checked against.

The wrappers' batched ``timespans`` are broken upstream (ncps issues #81-#83), so the cell is stepped by hand
with the elapsed time shaped (B, 1), exactly as the wrappers would if they were right.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def randomize_parameters(module: torch.nn.Module, rng: np.random.Generator, scale: float = 1.0) -> None:
    """Overwrite every trainable parameter with random values (masks are left alone: they are the topology)."""
    with torch.no_grad():
        for param in module.parameters():
            if not param.requires_grad:
                continue
            values = rng.normal(0.0, scale, size=tuple(param.shape))
            param.copy_(torch.from_numpy(values))


def run_ncps(module: torch.nn.Module, x: np.ndarray, dt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Outputs [B,T,M] and states [B,T,N] of an ncps LTC/CfC wrapper in double precision, from a zero state."""
    module = module.double().eval()
    cell: Any = module.rnn_cell  # an ncps cell (torch types nn.Module attributes as Tensor | Module)
    state_size: int = getattr(module, "state_size")  # noqa: B009 - the same: typed as Tensor | Module
    batch, steps, _ = x.shape
    h = torch.zeros(batch, state_size, dtype=torch.float64)
    ys, states = [], []
    with torch.no_grad():
        for t in range(steps):
            elapsed = torch.from_numpy(dt[:, t : t + 1].copy())
            out, h = cell(torch.from_numpy(x[:, t].copy()), h, elapsed)
            fc = getattr(module, "fc", None)
            if fc is not None:
                out = fc(out)
            ys.append(out.numpy().copy())
            states.append(h.numpy().copy())
    return np.stack(ys, axis=1), np.stack(states, axis=1)

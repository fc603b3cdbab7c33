"""The float64 functions of the reference: ncps's activations as torch evaluates them, and the step loop.

Shared by the cells' float64 steps (``lnn_edge/cells/*/reference.py``), the CfC quantizer (which runs its
cell's reference over the calibration data) and :class:`lnn_edge.reference.Reference`, which dispatches to
the cells: keeping these below the cells is what lets the reference import the cell registry without a cycle.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol

import numpy as np

Array = np.ndarray


def sigmoid(x: Array) -> Array:
    """Logistic function, evaluated without overflow for large |x|."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def softplus(x: Array) -> Array:
    """torch.nn.Softplus() with beta 1 and threshold 20: x itself above 20."""
    return np.where(x > 20.0, x, np.log1p(np.exp(np.minimum(x, 20.0))))


def lecun_tanh(x: Array) -> Array:
    """ncps's LeCun activation: 1.7159 * tanh(0.666 x)."""
    return 1.7159 * np.tanh(0.666 * x)


_erf = np.vectorize(math.erf, otypes=[np.float64])


def gelu(x: Array) -> Array:
    """torch.nn.GELU() (exact, erf-based)."""
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "lecun_tanh": lecun_tanh,
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0.0),
    "silu": lambda x: x * sigmoid(x),
    "gelu": gelu,
}


class FloatStep(Protocol):
    """One cell's float64 step: ``x`` [B,S], ``state`` [B,N], ``elapsed`` [B,1] -> (outputs [B,M], state [B,N])."""

    def __call__(self, x: Array, state: Array, elapsed: Array, /) -> tuple[Array, Array]: ...


def run_steps(step: FloatStep, x: Array, dt: Array, state: Array, outputs: int) -> tuple[Array, Array]:
    """Run ``step`` over sequences ``x`` [B,T,S] with elapsed times ``dt`` [B,T] from ``state`` [B,N].

    Returns the ``outputs`` outputs [B,T,M] and the state after every step [B,T,N]."""
    batch, steps, _ = x.shape
    ys = np.empty((batch, steps, outputs))
    states = np.empty((batch, steps, state.shape[1]))
    h = state
    for t in range(steps):
        ys[:, t], h = step(np.asarray(x[:, t], dtype=np.float64), h, elapsed_column(dt[:, t], batch))
        states[:, t] = h
    return ys, states


def elapsed_column(dt: Array | float, batch: int) -> Array:
    """One elapsed time per sequence as a float64 column [B,1] (a scalar applies to the whole batch)."""
    return np.broadcast_to(np.asarray(dt, dtype=np.float64), (batch,))[:, None]

"""The float64 reference: a NumPy simulator that computes exactly what ncps computes (the oracle).

It follows the equations of ncps's LTC and CfC cells term by term, in the same order as
``ncps.torch``, and matches ``model.double()`` to about 1e-15. Every later precision and backend (float32 and
fixed-point C, the boards) is measured against it. Batched, one elapsed time per sequence and step. The step of
each cell lives in its folder (``lnn_edge/cells/<cell>/reference.py``), reached through the cell registry.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lnn_edge import cells
from lnn_edge.floatmath import ACTIVATIONS, elapsed_column, gelu, lecun_tanh, run_steps, sigmoid, softplus
from lnn_edge.model.model import Model

# The activations stay importable from here, where the oracle tests and the benchmarks have always found them.
__all__ = ["ACTIVATIONS", "Reference", "gelu", "lecun_tanh", "sigmoid", "softplus"]

Array = np.ndarray


class Reference:
    """Float64 simulator of one model. ``step`` advances a batch by one RNN step; ``run`` a whole sequence.

    ``synapse_sigmoid`` replaces the logistic function of the LTC synapses (everything else stays float64 and
    exact): it measures the error a cheaper sigmoid would cause on its own (``benchmarks/sigmoid_tables.py``)."""

    def __init__(self, model: Model, synapse_sigmoid: Callable[[Array], Array] = sigmoid) -> None:
        self.model = model
        self.state_size = model.state_size
        self.output_size = model.output_size
        self._step = cells.get(model.cell).reference_step(model, synapse_sigmoid)

    def initial_state(self, batch: int) -> Array:
        """The zero state ncps starts from."""
        return np.zeros((batch, self.state_size))

    def step(self, x: Array, state: Array, dt: Array | float = 1.0) -> tuple[Array, Array]:
        """One step: ``x`` [B,S], ``state`` [B,N], ``dt`` scalar or [B] -> (outputs [B,M], new state [B,N])."""
        x = np.asarray(x, dtype=np.float64)
        return self._step(x, state, elapsed_column(dt, x.shape[0]))

    def run(self, x: Array, dt: Array | None = None, state: Array | None = None) -> tuple[Array, Array]:
        """Run sequences ``x`` [B,T,S] with elapsed times ``dt`` [B,T] (default: the model's time step).

        Returns outputs [B,T,M] and the state after every step [B,T,N], starting from ``state`` (default zero).
        """
        batch, steps, _ = x.shape
        if dt is None:
            dt = np.full((batch, steps), float(self.model.dt))
        h = self.initial_state(batch) if state is None else np.array(state, dtype=np.float64)
        return run_steps(self._step, x, dt, h, self.output_size)

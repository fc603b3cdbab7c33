"""The float64 step of a mixed-memory cell: ncps's ``LSTMCell`` on ``(h, c)``, then the liquid cell on the new
``h``, term by term as ``ncps.torch`` computes them (tested against ncps in ``tests/test_mixed_memory.py``)."""

from __future__ import annotations

import numpy as np

from lnn_edge.cells.mixed.kind import lstm_arrays
from lnn_edge.floatmath import FloatStep, sigmoid
from lnn_edge.model.model import Model

Array = np.ndarray


def lstm_step(p: dict[str, Array], x: Array, h: Array, c: Array) -> tuple[Array, Array]:
    """ncps's ``LSTMCell.forward``: z = input_map(x) + recurrent_map(h), split into (i, ig, fg, og);
    c' = c sigmoid(fg + 1) + tanh(i) sigmoid(ig), h' = tanh(c') sigmoid(og)."""
    z = (x @ p["lstm_input_w"].T + p["lstm_input_b"]) + h @ p["lstm_recurrent_w"].T
    i, ig, fg, og = np.split(z, 4, axis=1)
    c_new = c * sigmoid(fg + 1.0) + np.tanh(i) * sigmoid(ig)
    return np.tanh(c_new) * sigmoid(og), c_new


class MixedReference:
    """The float64 step of one mixed model on the state [h | c], over the inner cell's float64 step."""

    def __init__(self, model: Model, inner: FloatStep) -> None:
        self.units = model.state_size // 2
        self._p = {name: np.asarray(a, dtype=np.float64) for name, a in lstm_arrays(model).items()}
        self._inner = inner

    def __call__(self, x: Array, state: Array, elapsed: Array) -> tuple[Array, Array]:
        h, c = lstm_step(self._p, x, state[:, : self.units], state[:, self.units :])
        y, h = self._inner(x, h, elapsed)
        return y, np.concatenate([h, c], axis=1)

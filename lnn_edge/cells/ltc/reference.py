"""The LTC's float64 step, term by term as ``ncps.torch`` computes it (the oracle's LTC half).

Tested against ncps in double precision (``tests/test_reference_oracle.py``); :class:`lnn_edge.reference.Reference`
drives it through the cell registry.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lnn_edge.floatmath import sigmoid, softplus
from lnn_edge.model.model import Model

Array = np.ndarray


class LtcReference:
    """The float64 LTC step of one model; ``synapse_sigmoid`` replaces the synapses' logistic function."""

    def __init__(self, model: Model, synapse_sigmoid: Callable[[Array], Array] = sigmoid) -> None:
        assert model.ltc is not None
        self.opts = model.ltc
        self.output_size = model.output_size
        self._synapse_sigmoid = synapse_sigmoid
        self._p = {name: np.asarray(array, dtype=np.float64) for name, array in model.arrays.items()}
        positive = softplus if self.opts.implicit_constraints else (lambda a: a)
        for name in ("gleak", "cm", "w", "sensory_w"):
            self._p[name] = positive(self._p[name])

    def __call__(self, x: Array, v: Array, elapsed: Array) -> tuple[Array, Array]:
        p, opts = self._p, self.opts
        if opts.input_mapping in ("affine", "linear"):
            x = x * p["input_w"]
        if opts.input_mapping == "affine":
            x = x + p["input_b"]
        # Sensory synapses are evaluated once per step and held over the unfolds: [B, S, N].
        sensory = p["sensory_w"] * self._synapse_sigmoid(p["sensory_sigma"] * (x[:, :, None] - p["sensory_mu"]))
        sensory = sensory * p["sensory_sparsity_mask"]
        numerator_sensory = np.sum(sensory * p["sensory_erev"], axis=1)
        denominator_sensory = np.sum(sensory, axis=1)
        cm_t = p["cm"] / (elapsed / opts.ode_unfolds)
        for _ in range(opts.ode_unfolds):
            act = p["w"] * self._synapse_sigmoid(p["sigma"] * (v[:, :, None] - p["mu"]))
            act = act * p["sparsity_mask"]
            numerator = np.sum(act * p["erev"], axis=1) + numerator_sensory
            denominator = np.sum(act, axis=1) + denominator_sensory
            v = (cm_t * v + p["gleak"] * p["vleak"] + numerator) / (cm_t + p["gleak"] + denominator + opts.epsilon)
        y = v[:, : self.output_size]
        if opts.output_mapping in ("affine", "linear"):
            y = y * p["output_w"]
        if opts.output_mapping == "affine":
            y = y + p["output_b"]
        return y, v

"""The CfC's float64 step (dense and wired), term by term as ``ncps.torch`` computes it (the oracle's CfC half).

Tested against ncps in double precision (``tests/test_reference_oracle.py``); :class:`lnn_edge.reference.Reference`
drives it through the cell registry, and the CfC quantizer runs it over the calibration data.
"""

from __future__ import annotations

import numpy as np

from lnn_edge.floatmath import ACTIVATIONS, sigmoid
from lnn_edge.model.model import Model

Array = np.ndarray


class CfcReference:
    """The float64 step of one dense (``cfc``) or wired (``wired_cfc``) CfC model."""

    def __init__(self, model: Model) -> None:
        assert model.cfc is not None
        self.cfc = model.cfc
        self.wired = model.cell == "wired_cfc"
        self._p = {name: np.asarray(array, dtype=np.float64) for name, array in model.arrays.items()}

    def __call__(self, x: Array, state: Array, elapsed: Array) -> tuple[Array, Array]:
        if not self.wired:
            new_state = self._layer("", x, state, elapsed)
            return self._outputs(new_state), new_state
        layers, start, inputs = [], 0, x
        for index, size in enumerate(self.cfc.layer_sizes):
            h = self._layer(f"layer_{index}.", inputs, state[:, start : start + size], elapsed)
            layers.append(h)
            inputs, start = h, start + size
        return self._outputs(inputs), np.concatenate(layers, axis=1)

    def _linear(self, name: str, z: Array) -> Array:
        weight = self._p[f"{name}.weight"]
        return z @ weight.T + self._p[f"{name}.bias"]

    def _layer(self, prefix: str, x: Array, h: Array, elapsed: Array) -> Array:
        """One CfC cell (dense or one wired layer): new hidden state from input ``x`` and state ``h``."""
        cfc = self.cfc
        z = np.concatenate([x, h], axis=1)
        activation = ACTIVATIONS[cfc.activation]
        for k in range(cfc.backbone_layers):
            z = activation(self._linear(f"backbone.{k}", z))
        mask = self._p.get(f"{prefix}sparsity_mask")

        def head(name: str, masked: bool) -> Array:
            weight = self._p[f"{prefix}{name}.weight"]
            if masked and mask is not None:
                weight = weight * mask
            return z @ weight.T + self._p[f"{prefix}{name}.bias"]

        ff1 = head("ff1", masked=True)
        if cfc.mode == "pure":
            a, w_tau = self._p[f"{prefix}A"], self._p[f"{prefix}w_tau"]
            return -a * np.exp(-elapsed * (np.abs(w_tau) + np.abs(ff1))) * ff1 + a
        ff1 = np.tanh(ff1)
        ff2 = np.tanh(head("ff2", masked=True))
        gate = sigmoid(head("time_a", masked=False) * elapsed + head("time_b", masked=False))
        if cfc.mode == "no_gate":
            return ff1 + gate * ff2
        return ff1 * (1.0 - gate) + gate * ff2

    def _outputs(self, last_layer: Array) -> Array:
        y = self._linear("fc", last_layer) if self.cfc.proj_size is not None else last_layer
        if self.cfc.output_mapping == "affine":
            y = y * self._p["output_w"] + self._p["output_b"]
        return y

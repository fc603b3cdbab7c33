"""The float64 reference: a NumPy simulator that computes exactly what ncps computes (the oracle).

It follows the equations in ``shared/reference/ltc-cfc-math.md`` term by term, in the same order as
``ncps.torch``, and matches ``model.double()`` to about 1e-15. Every later precision and backend (float32 and
fixed-point C, the boards) is measured against it. Batched, one elapsed time per sequence and step.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from lnn_edge.model.model import Model

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


class Reference:
    """Float64 simulator of one model. ``step`` advances a batch by one RNN step; ``run`` a whole sequence.

    ``synapse_sigmoid`` replaces the logistic function of the LTC synapses (everything else stays float64 and
    exact): it measures the error a cheaper sigmoid would cause on its own (``benchmarks/sigmoid_tables.py``)."""

    def __init__(self, model: Model, synapse_sigmoid: Callable[[Array], Array] = sigmoid) -> None:
        self.model = model
        self._synapse_sigmoid = synapse_sigmoid
        self.state_size = model.state_size
        self.output_size = model.output_size
        self._p = {name: np.asarray(array, dtype=np.float64) for name, array in model.arrays.items()}
        if model.cell == "ltc":
            assert model.ltc is not None
            positive = softplus if model.ltc.implicit_constraints else (lambda a: a)
            for name in ("gleak", "cm", "w", "sensory_w"):
                self._p[name] = positive(self._p[name])

    def initial_state(self, batch: int) -> Array:
        """The zero state ncps starts from."""
        return np.zeros((batch, self.state_size))

    def step(self, x: Array, state: Array, dt: Array | float = 1.0) -> tuple[Array, Array]:
        """One step: ``x`` [B,S], ``state`` [B,N], ``dt`` scalar or [B] -> (outputs [B,M], new state [B,N])."""
        x = np.asarray(x, dtype=np.float64)
        elapsed = np.broadcast_to(np.asarray(dt, dtype=np.float64), (x.shape[0],))[:, None]
        if self.model.cell == "ltc":
            return self._ltc_step(x, state, elapsed)
        if self.model.cell == "cfc":
            new_state = self._cfc_layer("", x, state, elapsed)
            return self._cfc_outputs(new_state), new_state
        return self._wired_cfc_step(x, state, elapsed)

    def run(self, x: Array, dt: Array | None = None, state: Array | None = None) -> tuple[Array, Array]:
        """Run sequences ``x`` [B,T,S] with elapsed times ``dt`` [B,T] (default: the model's time step).

        Returns outputs [B,T,M] and the state after every step [B,T,N], starting from ``state`` (default zero).
        """
        batch, steps, _ = x.shape
        if dt is None:
            dt = np.full((batch, steps), float(self.model.dt))
        h = self.initial_state(batch) if state is None else np.array(state, dtype=np.float64)
        ys = np.empty((batch, steps, self.output_size))
        states = np.empty((batch, steps, self.state_size))
        for t in range(steps):
            ys[:, t], h = self.step(x[:, t], h, dt[:, t])
            states[:, t] = h
        return ys, states

    # --- LTC -------------------------------------------------------------------------------------------
    def _ltc_step(self, x: Array, v: Array, elapsed: Array) -> tuple[Array, Array]:
        p, opts = self._p, self.model.ltc
        assert opts is not None
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

    # --- CfC -------------------------------------------------------------------------------------------
    def _linear(self, name: str, z: Array) -> Array:
        weight = self._p[f"{name}.weight"]
        return z @ weight.T + self._p[f"{name}.bias"]

    def _cfc_layer(self, prefix: str, x: Array, h: Array, elapsed: Array) -> Array:
        """One CfC cell (dense or one wired layer): new hidden state from input ``x`` and state ``h``."""
        cfc = self.model.cfc
        assert cfc is not None
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

    def _wired_cfc_step(self, x: Array, state: Array, elapsed: Array) -> tuple[Array, Array]:
        cfc = self.model.cfc
        assert cfc is not None
        layers, start, inputs = [], 0, x
        for index, size in enumerate(cfc.layer_sizes):
            h = self._cfc_layer(f"layer_{index}.", inputs, state[:, start : start + size], elapsed)
            layers.append(h)
            inputs, start = h, start + size
        return self._cfc_outputs(inputs), np.concatenate(layers, axis=1)

    def _cfc_outputs(self, last_layer: Array) -> Array:
        cfc = self.model.cfc
        assert cfc is not None
        y = self._linear("fc", last_layer) if cfc.proj_size is not None else last_layer
        if cfc.output_mapping == "affine":
            y = y * self._p["output_w"] + self._p["output_b"]
        return y

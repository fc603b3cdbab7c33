"""The layout decisions of the CfC step that its quantizer, emulator and code generator share: the cells of a
step (:func:`cfc_layers`), which wired layers run dense (:func:`ff_dense`), the Phi table's span and the version of
the fixed-point scheme. Functions of the model and its precision only, so every stage derives the same answer and
none of them has to import another stage to get it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lnn_edge.model.model import Model
from lnn_edge.quant.qmodel import QuantizedModel

PHI_SPAN_LOG2 = 3
"""The Phi table (gelu) covers [0, 8): Phi(8) = 1 - 6e-16."""
CFC_SCHEME = 2
"""Version of the fixed-point CfC step these parameters are for (stored in ``constants``): 2 = one signed
tanh table for every tanh and sigmoid, rounding folded into the biases of the C."""


@dataclass(frozen=True)
class CfcLayer:
    """One CfC cell of the step: the whole dense cell, or one layer of a wired cell."""

    index: int
    source: str
    """Prefix of the model arrays: ``""`` (dense) or ``layer_K.``."""
    name: str
    """Prefix of the deployable arrays and formats: ``""`` (dense) or ``lK_``."""
    start: int
    """Offset of this layer's neurons in the state vector."""
    size: int
    inputs: int
    """Width of the input segment: S for the first layer, the previous layer's size otherwise."""


def cfc_layers(model: Model) -> list[CfcLayer]:
    """The cells of one step, in evaluation order."""
    assert model.cfc is not None
    if model.cell == "cfc":
        return [CfcLayer(0, "", "", 0, model.state_size, model.input_size)]
    layers, start, inputs = [], 0, model.input_size
    for index, size in enumerate(model.cfc.layer_sizes):
        layers.append(CfcLayer(index, f"layer_{index}.", f"l{index}_", start, size, inputs))
        start, inputs = start + size, size
    return layers


DENSE_FF_DENSITY = {"fixed16": 0.3, "fixed32": 0.75, "float32": 0.4}
"""A wired layer whose ff1/ff2 mask has at least this fraction of its synapses present evaluates them as dense
rows (absent synapses are exact zero weights), fused with time_a/time_b in one pass over z; sparser layers
evaluate ff1/ff2 over their synapses only (CSR). The break-even points on Cortex-M4F, measured on a wired
AutoNCP(19, 2) with 45-58 % dense layers: fixed16's 16x16 dual multiply-accumulates make a dense column ~1.4
instructions per head against ~3 per synapse and head (3 784 instructions per step dense, 5 700 sparse);
fixed32 (64-bit accumulators, no dual MAC) is even there and sparse saves 1 KB of flash; float32 dense is 13 %
faster and 850 B larger."""


def ff_dense(mask: np.ndarray, precision: str) -> bool:
    """Whether a wired layer's ff1/ff2 (mask [size, columns] of 0/1) are evaluated densely in ``precision``
    (see :data:`DENSE_FF_DENSITY`); the float32 step then adds the absent synapses' zero products too."""
    mask = np.asarray(mask)
    return bool(mask.size) and float(np.count_nonzero(mask)) >= DENSE_FF_DENSITY[precision] * mask.size


def ff_dense_constants(params: dict[str, np.ndarray], model: Model, precision: str) -> dict[str, int]:
    """The quantizer's record of :func:`ff_dense` for each wired layer (``ff_dense_K``: 1 dense, 0 sparse), stored
    in the quantized model's constants so that its emulator and C keep the layout they were quantized with."""
    layers = [layer for layer in cfc_layers(model) if f"{layer.name}mask" in params]
    return {f"ff_dense_{layer.index}": int(ff_dense(params[f"{layer.name}mask"], precision)) for layer in layers}


def layer_ff_dense(qmodel: QuantizedModel, layer: CfcLayer) -> bool:
    """Whether ``layer``'s ff1/ff2 are evaluated densely: the quantized model's record (a quantized file older than
    the record gets the decision its version made, which is :func:`ff_dense` of today)."""
    recorded = qmodel.constants.get(f"ff_dense_{layer.index}")
    if recorded is not None:
        return bool(recorded)
    return ff_dense(qmodel.params[f"{layer.name}mask"], qmodel.precision)

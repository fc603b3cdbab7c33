"""Mixed-memory cells in the pipeline (a :class:`lnn_edge.cells.Cell` each): an LSTM step in front of the inner
liquid cell's step, in the reference, the quantizer, the emulator and the generated C.

The inner cell is found in the registry by name (``lnn_edge.cells.get``), never imported: this folder reuses the
LTC's (or CfC's) quantizer, emulator, code generator and reference through their :class:`~lnn_edge.cells.Cell`
interface, on the inner model (:func:`lnn_edge.cells.mixed.kind.inner_model`) and the inner quantized model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from lnn_edge import cells
from lnn_edge.cells.mixed import quantize
from lnn_edge.cells.mixed.codegen import mixed_code
from lnn_edge.cells.mixed.emulate import LstmFixedStep, LstmFloat32Step
from lnn_edge.cells.mixed.kind import SUFFIX, inner_model
from lnn_edge.cells.mixed.reference import MixedReference
from lnn_edge.codegen.header import CellCode, HeaderContext
from lnn_edge.floatmath import sigmoid
from lnn_edge.model.model import Model
from lnn_edge.quant.calibration import CalibrationStats
from lnn_edge.quant.qmodel import QuantizedModel

LSTM_PARAMS = ("lstm_w_in", "lstm_w_rec", "lstm_b", "lstm_sigmoid")


def inner_qmodel(qmodel: QuantizedModel) -> QuantizedModel:
    """The inner cell's quantized model: its own parameters, on the inner model."""
    params = {name: array for name, array in qmodel.params.items() if name not in LSTM_PARAMS}
    return replace(qmodel, model=inner_model(qmodel.model), params=params)


class MixedCell:
    """An ncps LTC or CfC with ``mixed_memory=True``: state [h | c], the LSTM then the inner cell."""

    def __init__(self, inner: str, label: str) -> None:
        self._inner_name = inner
        self.name = inner + SUFFIX
        self.label = f"{label} with mixed memory (LSTM)"

    @property
    def inner(self) -> cells.Cell:
        return cells.get(self._inner_name)

    @property
    def state_format(self) -> str:
        return self.inner.state_format  # h and c share it (see quantize.py)

    def quantize_float32(self, model: Model) -> QuantizedModel:
        return quantize.quantize_float32(model, self.inner.quantize_float32(inner_model(model)))

    def quantize_fixed(
        self, model: Model, precision: str, stats: CalibrationStats, overrides: dict[str, int] | None
    ) -> QuantizedModel:
        inner = self.inner
        return quantize.quantize_fixed(
            model,
            precision,
            stats,
            overrides,
            inner.state_format,
            lambda m, o: inner.quantize_fixed(m, precision, stats, o),
            inner.reference_step(inner_model(model), sigmoid),
        )

    def fixed_step(self, qmodel: QuantizedModel) -> LstmFixedStep:
        return LstmFixedStep(qmodel, self.inner.fixed_step(inner_qmodel(qmodel)))

    def float32_step(self, qmodel: QuantizedModel) -> LstmFloat32Step:
        return LstmFloat32Step(qmodel, self.inner.float32_step(inner_qmodel(qmodel)))

    def template(self, fixed: bool) -> str:
        # The inner template's family with "_mixed": ltc_fixed.c.j2 -> ltc_mixed_fixed.c.j2 (which extends it).
        return self.inner.template(fixed).replace("_", "_mixed_", 1)

    def codegen(self, qmodel: QuantizedModel, header: HeaderContext, fixed_dt: bool) -> CellCode:
        inner = self.inner.codegen(inner_qmodel(qmodel), header, fixed_dt)
        return mixed_code(qmodel, header, inner, self.inner.template(qmodel.is_fixed))

    def table_error_bounds(self, qmodel: QuantizedModel) -> dict[str, float]:
        bounds = self.inner.table_error_bounds(inner_qmodel(qmodel))
        if qmodel.is_fixed:
            step = 16.0 / (len(qmodel.params["lstm_sigmoid"]) - 1)  # the segment width on [0, 16)
            # Interpolation h^2/8 max|sigmoid''| (<= 0.0963) plus the samples' and the interpolation's rounding.
            bounds["lstm_sigmoid_abs"] = step * step / 8 * 0.0963 + 2.0 ** -(qmodel.bits - 1)
        return bounds

    def reference_step(self, model: Model, synapse_sigmoid: Callable[[np.ndarray], np.ndarray]) -> MixedReference:
        return MixedReference(model, self.inner.reference_step(inner_model(model), synapse_sigmoid))


CELLS = (MixedCell("ltc", "LTC"), MixedCell("cfc", "CfC"), MixedCell("wired_cfc", "wired CfC"))

"""The CfC cell, dense (``cfc``) and wired (``wired_cfc``): its quantizer, its bit-exact emulator steps, its
code-generator context and its float64 step."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lnn_edge.cells.cfc.codegen import cfc_code
from lnn_edge.cells.cfc.emulate import CfcFixedStep, CfcFloat32Step
from lnn_edge.cells.cfc.quantize import quantize_cfc_fixed, quantize_cfc_float32
from lnn_edge.cells.cfc.reference import CfcReference
from lnn_edge.codegen.header import CellCode, HeaderContext
from lnn_edge.model.model import Model
from lnn_edge.quant.calibration import CalibrationStats
from lnn_edge.quant.qmodel import QuantizedModel


class CfcCell:
    """The closed-form continuous-time cell of ``ncps.torch.CfC`` (a :class:`lnn_edge.cells.Cell`).

    One class for both kinds: the model's ``cell`` string and wiring tell the modules of this folder which."""

    state_format = "h"

    def __init__(self, name: str, label: str) -> None:
        self.name = name
        self.label = label

    def quantize_float32(self, model: Model) -> QuantizedModel:
        return quantize_cfc_float32(model)

    def quantize_fixed(
        self, model: Model, precision: str, stats: CalibrationStats, overrides: dict[str, int] | None
    ) -> QuantizedModel:
        return quantize_cfc_fixed(model, precision, stats, overrides)

    def fixed_step(self, qmodel: QuantizedModel) -> CfcFixedStep:
        return CfcFixedStep(qmodel)

    def float32_step(self, qmodel: QuantizedModel) -> CfcFloat32Step:
        return CfcFloat32Step(qmodel)

    def template(self, fixed: bool) -> str:
        return "cfc_fixed.c.j2" if fixed else "cfc_float32.c.j2"

    def codegen(self, qmodel: QuantizedModel, header: HeaderContext, fixed_dt: bool) -> CellCode:
        return cfc_code(qmodel, header, fixed_dt)

    def table_error_bounds(self, qmodel: QuantizedModel) -> dict[str, float]:
        # The CfC tanh table (proven in tests/test_fixedpoint_cfc.py): 7 LSB of Q15 exhaustively for fixed16,
        # 2.9e-6 for fixed32; sigmoid = (1 + tanh(x/2)) / 2 has half that error.
        tanh_abs = 7 * 2.0**-15 if qmodel.bits == 16 else 2.9e-6
        return {"tanh_abs": tanh_abs, "sigmoid_abs": tanh_abs / 2}

    def reference_step(self, model: Model, synapse_sigmoid: Callable[[np.ndarray], np.ndarray]) -> CfcReference:
        return CfcReference(model)  # no synapse sigmoid to replace: the CfC gate is not a synapse


CELLS = (CfcCell("cfc", "CfC"), CfcCell("wired_cfc", "wired CfC"))

"""The LTC cell in the pipeline (a :class:`lnn_edge.cells.Cell`): its quantizer, its bit-exact emulator steps,
its code-generator context and its float64 step."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lnn_edge.cells.ltc.codegen import ltc_code
from lnn_edge.cells.ltc.emulate import LtcFixedStep, LtcFloat32Step
from lnn_edge.cells.ltc.quantize import quantize_ltc_fixed, quantize_ltc_float32
from lnn_edge.cells.ltc.reference import LtcReference
from lnn_edge.codegen.header import CellCode, HeaderContext
from lnn_edge.model.model import Model
from lnn_edge.quant.calibration import CalibrationStats
from lnn_edge.quant.qmodel import QuantizedModel


class LtcCell:
    """The liquid time-constant cell of ``ncps.torch.LTC`` (a :class:`lnn_edge.cells.Cell`)."""

    name = "ltc"
    label = "LTC"
    state_format = "v"

    def quantize_float32(self, model: Model) -> QuantizedModel:
        return quantize_ltc_float32(model)

    def quantize_fixed(
        self, model: Model, precision: str, stats: CalibrationStats, overrides: dict[str, int] | None
    ) -> QuantizedModel:
        return quantize_ltc_fixed(model, precision, stats, overrides)

    def fixed_step(self, qmodel: QuantizedModel) -> LtcFixedStep:
        return LtcFixedStep(qmodel)

    def float32_step(self, qmodel: QuantizedModel) -> LtcFloat32Step:
        return LtcFloat32Step(qmodel)

    def template(self, fixed: bool) -> str:
        return "ltc_fixed.c.j2" if fixed else "ltc_float32.c.j2"

    def codegen(self, qmodel: QuantizedModel, header: HeaderContext, fixed_dt: bool) -> CellCode:
        return ltc_code(qmodel, header, fixed_dt)

    def table_error_bounds(self, qmodel: QuantizedModel) -> dict[str, float]:
        index_bits = int(qmodel.constants.get("sigmoid_index_bits", 8))
        step = 16.0 / (1 << index_bits)
        # Linear interpolation error h^2/8 max|f''| (sigmoid'' <= 0.0963) plus table and interpolation rounding.
        return {"sigmoid_abs": step * step / 8 * 0.0963 + 2.0 ** -(qmodel.bits - 1)}

    def reference_step(self, model: Model, synapse_sigmoid: Callable[[np.ndarray], np.ndarray]) -> LtcReference:
        return LtcReference(model, synapse_sigmoid)


CELLS = (LtcCell(),)

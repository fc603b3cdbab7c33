"""Cells: every kind of recurrent cell the pipeline knows, behind one interface (:class:`Cell`) and one registry.

A cell's folder holds everything that differs between cells after the model is loaded: the step's layout decisions
that the next three share (``layout.py``), its quantizer (``quantize.py``), its bit-exact emulator steps
(``emulate.py``), its code-generator context (``codegen.py``), its float64 reference step (``reference.py``) and, in
its ``__init__.py``, the object that ties them together.
:data:`REGISTRY` maps the model file's ``cell`` string to that object; the pipeline stages (the quantizer driver
``quant/quantize.py``, the emulator ``quant/emulator.py``, the report ``quant/report.py``, the code generator
``codegen/render.py`` and the reference ``reference.py``) ask :func:`get` and never compare the string themselves.

Adding a cell (the mixed-memory CfC of a later issue) in these stages takes one new folder ``cells/<name>/`` and one
entry in :data:`REGISTRY`, plus the templates its ``template`` names in ``templates/``. The model layer sits below
the cells and cannot ask them: ``model/model.py`` (``CELLS``, the cell's options and parameter shapes), the importer
from ncps (``model/importers.py``), ``model/normalization.py``, ``model/summary.py`` and the trainer still say what
each cell's parameters are, and need the new cell's entries there too.

The cells import the model, the quantization primitives (``quant/``: formats, tables, the quantized model) and
``codegen/c_literals.py`` and ``codegen/c_layout.py``, never the drivers that dispatch to them, and never each other;
inside a cell, the code generator and the emulator read ``layout.py``, not the quantizer, and the code generator does
not run the emulator (``pyproject.toml``'s import contracts).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from lnn_edge.cells.cfc import CFC, WIRED_CFC
from lnn_edge.cells.ltc import LTC
from lnn_edge.codegen.header import CellCode, HeaderContext
from lnn_edge.errors import LnnEdgeError
from lnn_edge.floatmath import FloatStep
from lnn_edge.model.model import Model
from lnn_edge.quant.calibration import CalibrationStats
from lnn_edge.quant.emulate_common import SaturationLog
from lnn_edge.quant.qmodel import QuantizedModel

Array = np.ndarray


class FixedStep(Protocol):
    """A fixed-point emulator step: raw inputs [B,S], state [B,N], raw elapsed times [B] -> (outputs, state)."""

    def step(
        self, x_q: Array, state: Array, dt_q: Array, log: SaturationLog | None = None, /
    ) -> tuple[Array, Array]: ...


class Float32Step(Protocol):
    """A float32 emulator step: inputs [B,S], state [B,N], elapsed times [B] (float32) -> (outputs, state)."""

    def step(self, x: Array, state: Array, dt: Array, /) -> tuple[Array, Array]: ...


class Cell(Protocol):
    """What the pipeline needs of one kind of cell."""

    @property
    def label(self) -> str:
        """How the generated header names the network: ``LTC``, ``CfC``, ``wired CfC``."""
        ...

    @property
    def state_format(self) -> str:
        """The name of the state's Q format in ``QuantizedModel.formats``: ``v`` (LTC) or ``h`` (CfC)."""
        ...

    def quantize_float32(self, model: Model) -> QuantizedModel:
        """The float32 parameters, arranged as the float32 C and emulator read them."""
        ...

    def quantize_fixed(
        self, model: Model, precision: str, stats: CalibrationStats, overrides: dict[str, int] | None
    ) -> QuantizedModel:
        """Fixed16 or fixed32 parameters and formats, chosen from the calibration ranges."""
        ...

    def fixed_step(self, qmodel: QuantizedModel) -> FixedStep:
        """The bit-exact emulator step of a fixed-point model."""
        ...

    def float32_step(self, qmodel: QuantizedModel) -> Float32Step:
        """The bit-exact emulator step of a float32 model."""
        ...

    def template(self, fixed: bool) -> str:
        """The Jinja template (in ``templates/``) of the model's ``.c`` file."""
        ...

    def codegen(self, qmodel: QuantizedModel, header: HeaderContext, fixed_dt: bool) -> CellCode:
        """The context of this cell's step template (``c``) and the header's memory figures, given the fields
        every cell shares (``h``)."""
        ...

    def table_error_bounds(self, qmodel: QuantizedModel) -> dict[str, float]:
        """Error bounds of the fixed-point function tables (sigmoid, tanh), as documented in number-formats.md."""
        ...

    def reference_step(self, model: Model, synapse_sigmoid: Callable[[Array], Array]) -> FloatStep:
        """The float64 step of the oracle; ``synapse_sigmoid`` replaces the LTC synapses' logistic function."""
        ...


# The model file's "cell" string -> the cell. A new cell: one folder and one line here.
REGISTRY: dict[str, Cell] = {"ltc": LTC, "cfc": CFC, "wired_cfc": WIRED_CFC}


def get(kind: str) -> Cell:
    """The cell of a model's ``cell`` string."""
    try:
        return REGISTRY[kind]
    except KeyError:
        raise LnnEdgeError(f"cell '{kind}' is not one of {', '.join(REGISTRY)}") from None

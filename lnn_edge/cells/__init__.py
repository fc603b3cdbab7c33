"""Cells: every kind of recurrent cell the pipeline knows, behind one interface (:class:`Cell`) and one registry.

A cell is a folder ``cells/<name>/`` holding everything that differs between cells:

* ``kind.py``: the model level (``KINDS``, :class:`lnn_edge.model.kinds.CellKind`): options, arrays and their
  shapes, the ncps importer, normalization folding, what ``inspect`` and ``import --expect`` need;
* ``cell.py``: the pipeline (``CELLS``, :class:`Cell`): the quantizer (``quantize.py``), the bit-exact emulator
  steps (``emulate.py``), the code-generator context (``codegen.py``), the float64 reference step
  (``reference.py``), and the step's layout decisions these share (``layout.py``);
* and the templates its ``template`` names in ``templates/``.

Both registries find the folders by themselves (:func:`lnn_edge.plugins.cell_modules`): adding a cell (the
mixed-memory cell of a later issue) is adding a folder and its templates, with no edit elsewhere. The pipeline
stages (the quantizer driver ``quant/quantize.py``, the emulator ``quant/emulator.py``, the report
``quant/report.py``, the code generator ``codegen/render.py`` and the reference ``reference.py``) ask :func:`get`;
the model layer asks :func:`lnn_edge.model.kinds.get`; neither compares the cell string itself. The trainer is
the exception: it trains the LTC and the CfC it knows (``train/trainer.py``), and a new cell need not be trainable.

The cells import the model, the quantization primitives (``quant/``: formats, tables, the quantized model) and
``codegen/c_literals.py``, ``codegen/c_layout.py`` and ``codegen/header.py``, never the drivers that dispatch to
them, and never each other; a cell's ``kind.py`` imports the model layer only; inside a cell, the code generator
and the emulator read ``layout.py``, not the quantizer, and the code generator does not run the emulator
(``pyproject.toml``'s import contracts).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Protocol

import numpy as np

from lnn_edge.errors import LnnEdgeError
from lnn_edge.plugins import collect

if TYPE_CHECKING:  # the registry loads the cells' modules at the first lookup, not with this package
    from lnn_edge.codegen.header import CellCode, HeaderContext
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
    def name(self) -> str:
        """The model file's ``cell`` string it serves: ``ltc``, ``cfc``, ``wired_cfc``."""
        ...

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


@cache
def registry() -> dict[str, Cell]:
    """The model file's ``cell`` string -> the cell, from every cell folder's ``cell.py``."""
    return collect("cell", "CELLS")


def get(kind: str) -> Cell:
    """The cell of a model's ``cell`` string."""
    try:
        return registry()[kind]
    except KeyError:
        raise LnnEdgeError(f"cell '{kind}' is not one of {', '.join(registry())}") from None

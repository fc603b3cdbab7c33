"""The typed contexts that every template shares: the model-wide fields (:class:`HeaderContext`, ``h`` in every
template) and what a cell's code generator returns (:class:`CellCode`: its own template's context ``c``, and the
memory figures and state notes the header prints).

A primitive of the code generator: the cells build a :class:`CellCode` from a :class:`HeaderContext`, and
:mod:`lnn_edge.codegen.render` builds the header context and renders; neither is imported from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Memory:
    """The export's memory figures: the one accounting that the header, the manifest and quantization.json print."""

    params: int
    """Bytes of the ``static const`` objects ``<name>.c`` compiles to (the runtime's tables included): flash."""
    state: int
    """Bytes of the caller-owned ``<name>_state_t`` (with the step's scratch, where it has one)."""
    stack: int
    """Bytes of arrays on the stack in a step."""


@dataclass(frozen=True)
class HeaderContext:
    """The model-wide fields every template reads as ``h``: names, sizes, C types, formats and the default step.

    Fixed-point-only fields are ``None`` (or empty) for float32, which the templates test with ``h.fixed``.
    """

    name: str
    """The C prefix of every symbol (``<name>_step``)."""
    NAME: str  # the prefix of the macros, upper case as the templates write it
    version: str
    precision: str
    fixed: bool
    bits: int
    """16 or 32 for fixed point, 32 for float32."""
    cell: str
    description: str
    """One line for the file comments: ``LTC network, 20 inputs, 19 neurons, 2 outputs``."""
    inputs: int
    outputs: int
    state_size: int
    model_hash: str
    value_type: str
    """The C type of inputs, outputs and state: ``int16_t``, ``int32_t`` or ``float``."""
    time_type: str
    acc_type: str
    """The accumulator type: ``int32_t`` (fixed16), ``int64_t`` (fixed32), ``float``."""
    dt_default: str
    """The default elapsed time as a C literal (raw Q value in fixed point)."""
    dt_default_doc: str
    dt_min_doc: str
    format_doc: tuple[str, ...]
    """Lines of the header comment that say the number formats."""
    state_frac: int | None = None
    dt_frac: int | None = None
    dt_default_q: int | None = None
    x_frac: str = ""
    """Fractional bits per input, as C initializer items."""
    y_frac: str = ""
    q_max: str = ""
    q_high_test: str = ""
    """The float compare at which ``<name>_to_q`` saturates high (the first float at or beyond 2^(B-1))."""
    q_low_test: str = ""


@dataclass(frozen=True)
class CellCode:
    """What a cell's code generator gives the renderer: its step template's context and the header's figures."""

    c: Any
    """The typed context of the cell's ``.c`` template (``c`` there): a frozen dataclass of the cell."""
    memory: Memory
    scratch_size: int = 0
    """Values of scratch in ``<name>_state_t`` (0: none)."""
    state_doc: str = ""
    """Appended to the header's comment on the state vector, e.g. where the outputs are read from."""
    dt_doc: str = ""
    """The header's sentence on the elapsed time's domain: what is clamped, what returns ``<NAME>_ERR_ARG``."""

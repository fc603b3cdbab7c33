"""Choosing power-of-two (Q) formats from ranges, and the errors when no format fits."""

from __future__ import annotations

import math
import sys

import numpy as np

from lnn_edge.errors import LnnEdgeError
from lnn_edge.quant.qmodel import STORAGE_BITS


class QuantizationError(LnnEdgeError):
    """A model cannot be quantized as asked; the message names the tensor and what to do."""


def frac_bits_for(bound: float, bits: int, headroom: int = 0) -> int:
    """The most fractional bits ``f`` such that ``bound`` (>= 0) fits in a signed ``bits``-bit integer with
    ``headroom`` spare bits: ``round(bound * 2**f) <= 2**(bits - 1 - headroom) - 1``.

    A zero bound gets ``bits - 1 - headroom`` (values in [-1, 1)), and so does a subnormal one (below 2.2e-308):
    such values quantize to 0 in any format a float can scale to.
    """
    limit = (1 << (bits - 1 - headroom)) - 1
    if not math.isfinite(bound) or bound < 0:
        raise ValueError(f"bound must be finite and >= 0, got {bound}")
    if bound < sys.float_info.min:  # zero, or subnormal: its format would need 2**f beyond the float range
        return bits - 1 - headroom
    frac = bits - 1 - headroom - math.ceil(math.log2(bound))
    # ldexp(bound, f), not bound * 2**f: for a tiny bound, 2**f alone would overflow the float range.
    while math.floor(math.ldexp(bound, frac) + 0.5) > limit:
        frac -= 1
    while math.floor(math.ldexp(bound, frac + 1) + 0.5) <= limit:
        frac += 1
    return frac


def max_product_shift(bits: int) -> int:
    """The largest right shift a product of two ``bits``-bit values may take: it has at most ``2 * bits - 1``
    significant bits in its ``2 * bits``-bit type, so a larger shift is undefined in C and leaves nothing anyway."""
    return 2 * bits - 2


def require_resolution(name: str, frac: int, bound: float, precision: str, minimum: int = 0) -> None:
    """Refuse a format with fewer than ``minimum`` fractional bits: the tensor's range swamps its precision."""
    if frac < minimum:
        raise QuantizationError(
            f"tensor '{name}' reaches {bound:.4g}, which {precision} can only hold with {frac} fractional bits "
            f"(needs >= {minimum}): use fixed32 or float32, or retrain with smaller values"
        )


def max_abs(array: np.ndarray, where: np.ndarray | None = None) -> float:
    """max |array| over the entries where ``where`` is true (0 when there are none)."""
    values = np.abs(array if where is None else array[where.astype(bool)])
    return float(values.max()) if values.size else 0.0


class FormatChooser:
    """The number formats of one fixed-point quantization, shared by the LTC and CfC quantizers: each tensor's
    fractional bits (``formats``), the bound it must hold (``bounds``) and where that bound came from
    (``sources``), with the user's ``--format NAME=BITS`` overrides applied where they are safe."""

    def __init__(self, precision: str, overrides: dict[str, int] | None) -> None:
        self.precision = precision
        self.bits = STORAGE_BITS[precision]
        self.overrides = {str(k): int(v) for k, v in (overrides or {}).items()}
        """The overrides not used yet: what is left at the end names no format of the model."""
        self.formats: dict[str, int] = {}
        self.bounds: dict[str, float] = {}
        self.sources: dict[str, str] = {}
        self.known: set[str] = set()
        """Every name an override was asked for: the formats a user may override, for the error message."""

    def note(self, name: str, bound: float, source: str) -> None:
        """Record a bound (and its source) that is reported but sets no format by itself."""
        self.bounds[name], self.sources[name] = float(bound), source

    def override(self, name: str) -> int | None:
        """The user's override of ``name``, taken (so it counts as used), or None."""
        self.known.add(name)
        return self.overrides.pop(name) if name in self.overrides else None

    def choose(self, name: str, bound: float, source: str, headroom: int = 0, minimum: int | None = None) -> int:
        """The finest format holding ``bound`` with ``headroom`` spare bits, or the user's override if it is safe;
        with ``minimum``, refuse fewer fractional bits than that."""
        if name in self.formats:
            raise AssertionError(f"format {name} chosen twice")
        self.note(name, bound, source)
        safe = frac_bits_for(bound, self.bits, headroom)
        frac = self.override(name)
        overridden = frac is not None
        if frac is None:
            frac = safe
        elif frac > safe:
            raise QuantizationError(
                f"format override {name}={frac} overflows: tensor '{name}' reaches {bound:.4g}, "
                f"the largest safe format is {safe}"
            )
        elif frac < min(0, safe):  # coarser than integers, where the tensor does not need it: shifts go negative
            raise QuantizationError(
                f"format override {name}={frac}: fewer than 0 fractional bits for tensor '{name}', which fits "
                f"{safe}; give a value from 0 to {safe}"
            )
        if minimum is not None:
            try:
                require_resolution(name, frac, bound, self.precision, minimum)
            except QuantizationError:
                if overridden:  # the user's override is what is too coarse, not the model
                    raise QuantizationError(
                        f"format override {name}={frac} is too coarse for tensor '{name}' (it needs at least "
                        f"{minimum} fractional bits; {safe} fit): give a value from {minimum} to {safe}"
                    ) from None
                raise
        self.formats[name] = frac
        return frac

    def refuse_unknown_overrides(self, cell: str) -> None:
        """Fail if an override named no format of this model (a typo must not pass silently)."""
        if self.overrides:
            raise QuantizationError(
                f"unknown format override(s) {', '.join(sorted(self.overrides))}; the formats of this {cell} are: "
                f"{', '.join(sorted(self.known))}"
            )

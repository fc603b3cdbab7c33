"""Choosing power-of-two (Q) formats from ranges, and the errors when no format fits."""

from __future__ import annotations

import math
import sys

import numpy as np

from lnn_edge.errors import LnnEdgeError


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

"""Declared ranges from the command line: ``--input-range NAME=LO:HI`` and ``--output-range NAME=LO:HI``.

A declared input range is the sensor's full scale (``acc_x=-16:16`` for a +-16 g accelerometer): input formats are
chosen to hold it, with no margin, and it wins over calibration. NAME is an input (output) name or its index.
"""

from __future__ import annotations

import math

from lnn_edge.errors import LnnEdgeError
from lnn_edge.model.model import Model


class RangeError(LnnEdgeError):
    """A ``--input-range``/``--output-range`` value is malformed or names no such input or output."""


def parse_range(text: str, names: list[str], option: str = "--input-range") -> tuple[str, tuple[float, float]]:
    """``NAME=LO:HI`` (NAME a name from ``names`` or an index into it) -> (name, (lo, hi))."""
    example = f"expected NAME=LO:HI, e.g. {option} {names[0] if names else 'x0'}=-16:16"
    key, equals, bounds = text.partition("=")
    key = key.strip()
    if not equals or not key:
        raise RangeError(f"{option} {text!r}: {example}")
    name = _resolve_name(key, names, option)
    low_text, colon, high_text = bounds.partition(":")
    if not colon:
        raise RangeError(f"{option} {text!r}: no ':' between LO and HI; {example}")
    try:
        low, high = float(low_text), float(high_text)
    except ValueError:
        raise RangeError(f"{option} {text!r}: LO and HI must be numbers; {example}") from None
    if not (math.isfinite(low) and math.isfinite(high)):
        raise RangeError(f"{option} {text!r}: LO and HI must be finite")
    if not low < high:
        raise RangeError(f"{option} {text!r}: LO ({low:g}) must be below HI ({high:g})")
    return name, (low, high)


def _resolve_name(key: str, names: list[str], option: str) -> str:
    if key in names:
        return key
    if key.isdigit() and int(key) < len(names):
        return names[int(key)]
    shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
    raise RangeError(f"{option}: {key!r} is neither a name nor an index (0 to {len(names) - 1}) of: {shown}")


def parse_ranges(items: tuple[str, ...] | list[str], names: list[str], option: str) -> dict[str, tuple[float, float]]:
    """Every ``NAME=LO:HI`` of a repeated option; a later one for the same name wins."""
    return dict(parse_range(item, names, option) for item in items)


def declare_ranges(model: Model, input_ranges: tuple[str, ...], output_ranges: tuple[str, ...]) -> None:
    """Parse the command line's ranges and store them in ``model`` (over any it already declares)."""
    model.input_ranges.update(parse_ranges(input_ranges, model.input_names, "--input-range"))
    model.output_ranges.update(parse_ranges(output_ranges, model.output_names, "--output-range"))

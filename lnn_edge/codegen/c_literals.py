"""Formatting NumPy arrays and numbers as C99 literals (the codegen's only string-building), and the C sizes and
sparse layouts the cells' code-generator contexts share."""

from __future__ import annotations

import numpy as np


def c_float(value: float) -> str:
    """A float32 literal that parses back to exactly ``np.float32(value)`` (shortest round-trip form)."""
    text = np.format_float_scientific(np.float32(value), unique=True, trim="-", exp_digits=1)
    mantissa, _, exponent = text.partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    exponent_value = int(exponent) if exponent else 0
    return f"{mantissa}e{exponent_value}f" if exponent_value else f"{mantissa}f"


def c_int(value: int, bits: int = 32) -> str:
    """An integer literal of a ``bits``-bit signed type (INT64_C for 64-bit; INT32_MIN written safely)."""
    value = int(value)
    if bits > 32:
        return f"INT64_C({value})" if value != -(1 << 63) else "INT64_MIN"
    if value == -(1 << 31):
        return "(-2147483647 - 1)"
    return str(value)


def c_array(values: np.ndarray, kind: str = "int", bits: int = 32, per_line: int = 12, indent: int = 4) -> str:
    """Comma-separated literals, wrapped; an empty array renders as a single ``0`` placeholder."""
    flat = np.asarray(values).ravel()
    if flat.size == 0:
        return "0"
    items = [c_float(v) for v in flat] if kind == "float" else [c_int(int(v), bits) for v in flat]
    if len(items) <= per_line:
        return ", ".join(items)
    lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
    pad = " " * indent
    return "\n" + ",\n".join(pad + line for line in lines) + "\n"

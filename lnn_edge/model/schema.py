"""Typed access to the JSON objects of lnn-edge's files: each getter checks one field and names it on failure.

The schemas themselves live beside their formats (``modelfile``, ``qmodelfile``, ``codegen.manifest``,
``importers``); this module only gives them a common vocabulary, so that a wrong type anywhere in a file is one
sentence naming the file's part and the field (``manifest field 'ltc.ode_unfolds' is '6'; expected an integer
from 1 to 256``), never a ``TypeError`` from deep inside the code that uses it.
"""

from __future__ import annotations

import math
from typing import Any

from lnn_edge.errors import LnnEdgeError
from lnn_edge.model.limits import MAX_NAME_CHARS

MISSING: Any = object()
"""Default of the getters: the field is required."""


def shown(value: Any, limit: int = 60) -> str:
    """A short repr of a value for an error message (a hostile value may be megabytes long)."""
    if isinstance(value, int) and abs(value) >= 10**30:  # repr() of a 5,000-digit integer raises ValueError
        return f"an integer of {value.bit_length()} bits"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Fields:
    """One JSON object of a file. ``where`` names the file's part (``manifest``), ``path`` the object in it."""

    def __init__(self, data: Any, where: str, error: type[LnnEdgeError], path: str = "") -> None:
        if not isinstance(data, dict):
            what = f"field '{path}'" if path else "top level"
            raise error(f"{where} {what} is {shown(data)}; expected a JSON object")
        self.data: dict[str, Any] = data
        self.where = where
        self.error = error
        self.path = path

    def name(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, value: Any, expected: str) -> LnnEdgeError:
        return self.error(f"{self.where} field '{self.name(key)}' is {shown(value)}; expected {expected}")

    def raw(self, key: str, default: Any = MISSING) -> Any:
        """The value as stored; a missing required field is an error."""
        if key in self.data:
            return self.data[key]
        if default is MISSING:
            raise self.error(f"{self.where} field '{self.name(key)}' is missing")
        return default

    def only(self, allowed: set[str] | frozenset[str]) -> None:
        """Refuse fields this format does not have (a typo would otherwise be ignored silently)."""
        unknown = sorted(set(self.data) - set(allowed))
        if unknown:
            raise self.error(
                f"{self.where} has an unknown or malformed field '{self.name(unknown[0])}' (this lnn-edge has no such "
                "field: a typo, or a file from a newer lnn-edge?)"
            )

    def obj(self, key: str, default: Any = MISSING) -> Fields:
        """A nested object (``None`` stored or a missing optional field give ``default``)."""
        return Fields(self.raw(key, default), self.where, self.error, self.name(key))

    def optional_obj(self, key: str) -> Fields | None:
        value = self.raw(key, None)
        return None if value is None else Fields(value, self.where, self.error, self.name(key))

    def integer(self, key: str, low: int, high: int, default: Any = MISSING) -> int:
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(key, value, f"an integer from {low} to {high}")
        return value

    def number(self, key: str, default: Any = MISSING) -> float:
        """A finite real number (integers accepted, booleans not)."""
        value = self.raw(key, default)
        if not is_finite_number(value):
            raise self.fail(key, value, "a finite number")
        return float(value)

    def string(self, key: str, choices: tuple[str, ...] | None = None, default: Any = MISSING) -> str:
        value = self.raw(key, default)
        if choices is not None and value not in choices:
            raise self.fail(key, value, f"one of {', '.join(choices)}")
        if not isinstance(value, str) or len(value) > MAX_NAME_CHARS:
            raise self.fail(key, value, f"a string of at most {MAX_NAME_CHARS} characters")
        return value

    def boolean(self, key: str, default: Any = MISSING) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            raise self.fail(key, value, "true or false")
        return value

    def strings(self, key: str, max_items: int, default: Any = MISSING) -> list[str]:
        """A list of at most ``max_items`` strings of at most :data:`MAX_NAME_CHARS` characters each."""
        value = self.raw(key, default)
        valid = isinstance(value, list) and len(value) <= max_items
        if not valid or not all(isinstance(item, str) and len(item) <= MAX_NAME_CHARS for item in value):
            raise self.fail(key, value, f"a list of at most {max_items} strings of at most {MAX_NAME_CHARS} characters")
        return list(value)

    def integers(self, key: str, max_items: int, low: int, high: int, default: Any = MISSING) -> list[int]:
        """A list of at most ``max_items`` integers from ``low`` to ``high``."""
        value = self.raw(key, default)
        valid = isinstance(value, list) and len(value) <= max_items
        if not valid or not all(is_int(item) and low <= item <= high for item in value):
            raise self.fail(key, value, f"a list of at most {max_items} integers from {low} to {high}")
        return list(value)

    def numbers(self, key: str, max_items: int, default: Any = MISSING) -> list[float]:
        """A list of at most ``max_items`` finite numbers."""
        value = self.raw(key, default)
        valid = isinstance(value, list) and len(value) <= max_items
        if not valid or not all(is_finite_number(item) for item in value):
            raise self.fail(key, value, f"a list of at most {max_items} finite numbers")
        return [float(item) for item in value]

    def ranges(self, key: str, names: list[str], max_items: int) -> dict[str, tuple[float, float]]:
        """An object mapping names (from ``names`` when given) to ``[low, high]`` with finite low < high."""
        ranges = self.obj(key, {})
        if len(ranges.data) > max_items:
            raise self.fail(key, f"{len(ranges.data)} entries", f"at most {max_items} entries")
        result = {}
        for name in ranges.data:
            if names and name not in names:
                raise ranges.fail(
                    name, name, f"one of the names {', '.join(names[:8])}{', ...' if len(names) > 8 else ''}"
                )
            bounds = ranges.numbers(name, 2)
            if len(bounds) != 2 or not bounds[0] < bounds[1]:
                raise ranges.fail(name, ranges.data[name], "[low, high] with low < high")
            result[name] = (bounds[0], bounds[1])
        return result


def is_int(value: Any) -> bool:
    """An integer that is not a boolean."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_finite_number(value: Any) -> bool:
    """A finite int or float (not a boolean, not an integer too large for a float)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False

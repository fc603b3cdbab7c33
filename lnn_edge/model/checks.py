"""Field checks shared by the model's validation and the cells' own (``cells/<name>/kind.py``): each raises
:class:`~lnn_edge.errors.ModelFileError` naming the field and what it expected."""

from __future__ import annotations

from typing import Any

import numpy as np

from lnn_edge.errors import ModelFileError


def require(value: Any, what: str) -> Any:
    """``value``, or an error saying the model has no ``what``."""
    if value is None:
        raise ModelFileError(f"the model has no {what}")
    return value


def check_choice(field_name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ModelFileError(f"field '{field_name}' is {value!r}; expected one of {', '.join(choices)}")


def check_positive_int(field_name: str, value: Any, minimum: int = 1, maximum: int | None = None) -> None:
    """An integer >= ``minimum`` and, when given, <= ``maximum`` (a limit of :mod:`lnn_edge.model.limits`)."""
    too_large = maximum is not None and isinstance(value, int) and value > maximum
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum or too_large:
        expected = f"an integer >= {minimum}" if maximum is None else f"an integer from {minimum} to {maximum}"
        raise ModelFileError(f"field '{field_name}' is {value!r}; expected {expected} (see docs/model-file.md, limits)")


def finite(value: float | int) -> bool:
    """Whether a number is finite (an integer beyond the float range is not)."""
    try:
        return bool(np.isfinite(float(value)))
    except OverflowError:
        return False

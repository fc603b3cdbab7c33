"""A quantized model: the float model it came from plus the numbers the generated C will use.

``precision`` is ``float32``, ``fixed16`` or ``fixed32``. ``params`` holds the deployable arrays (float32, or
integers as int64 holding values of ``bits`` bits), named as in the generated C. ``formats`` gives the
fractional bits of every fixed-point quantity (a value ``q`` in format ``f`` means ``q / 2**f``);
``constants`` holds scalar integers (epsilon, time-step limits, table geometry). The ``.lnn`` container
stores them under ``quantized/`` beside the float model (see :mod:`lnn_edge.model.modelfile`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lnn_edge.errors import ModelFileError
from lnn_edge.model.model import Model
from lnn_edge.model.modelfile import content_hash

PRECISIONS = ("float32", "fixed16", "fixed32")
STORAGE_BITS = {"fixed16": 16, "fixed32": 32}


@dataclass
class QuantizedModel:
    """The float model plus its deployable parameters in one precision."""

    model: Model
    precision: str
    params: dict[str, np.ndarray]
    formats: dict[str, int] = field(default_factory=dict)
    constants: dict[str, int | float] = field(default_factory=dict)
    bounds: dict[str, float] = field(default_factory=dict)
    """Real-valued ranges the formats were chosen from (provable or calibrated; see ``sources``)."""
    sources: dict[str, str] = field(default_factory=dict)
    """For each bound, where it comes from: ``proof``, ``parameters``, ``calibration`` or ``override``."""

    @property
    def bits(self) -> int:
        """Storage width of parameters and state (32 for float32)."""
        return STORAGE_BITS.get(self.precision, 32)

    @property
    def is_fixed(self) -> bool:
        return self.precision != "float32"

    def quant_hash(self) -> str:
        """SHA-256 over the float model's hash and every deployable number: what the firmware checks."""
        digest = hashlib.sha256(content_hash(self.model).encode())
        meta = {"precision": self.precision, "formats": self.formats, "constants": self.constants}
        digest.update(json.dumps(meta, sort_keys=True).encode())
        for name in sorted(self.params):
            array = np.ascontiguousarray(self.params[name])
            digest.update(f"{name}:{array.dtype.str}:{array.shape}".encode())
            digest.update(array.tobytes())
        return digest.hexdigest()

    def validate(self) -> None:
        """Check the precision, dtypes and integer ranges; raise :class:`ModelFileError` naming the field."""
        if self.precision not in PRECISIONS:
            raise ModelFileError(f"quantized field 'precision' is {self.precision!r}; expected {PRECISIONS}")
        for name, array in self.params.items():
            if self.precision == "float32":
                if array.dtype != np.float32 or not np.all(np.isfinite(array)):
                    raise ModelFileError(f"quantized array '{name}' must be finite float32")
            else:
                if array.dtype != np.int64:
                    raise ModelFileError(f"quantized array '{name}' has dtype {array.dtype}; expected int64")
                limit = 1 << (2 * self.bits - 1)
                if array.size and (array.min() < -limit or array.max() >= limit):
                    raise ModelFileError(f"quantized array '{name}' holds values beyond {2 * self.bits} bits")

    def to_manifest(self) -> dict[str, Any]:
        return {
            "precision": self.precision,
            "formats": self.formats,
            "constants": self.constants,
            "bounds": self.bounds,
            "sources": self.sources,
            "params": {
                name: {"shape": list(a.shape), "dtype": a.dtype.name} for name, a in sorted(self.params.items())
            },
            "quant_hash": self.quant_hash(),
        }

"""Shared emulator plumbing: the saturation log of the checking mode.

Saturation of the inputs (``x``, ``dt``) is a clamp at the edge of the sensor's range, which hardware does too;
saturation of anything else (state, accumulators) breaks a proof and is always a failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class SaturationEvent:
    """One saturated (or clamped) value: which tensor, which element, which step and sequence."""

    tensor: str
    index: int
    step: int
    sequence: int

    def __str__(self) -> str:
        return f"{self.tensor}[{self.index}] saturated at step {self.step} of sequence {self.sequence}"


@dataclass
class SaturationLog:
    """Collects saturation events while the emulator runs (``record`` is called with a [B, K] mask)."""

    step: int = 0
    events: list[SaturationEvent] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    limit: int = 1000
    index_counts: dict[str, np.ndarray] = field(default_factory=dict)
    """Per tensor, saturations per element (summed over sequences and steps)."""

    def record(self, tensor: str, saturated: np.ndarray) -> None:
        hits = np.argwhere(saturated)
        if not hits.size:
            return
        self.counts[tensor] = self.counts.get(tensor, 0) + len(hits)
        per_index = np.asarray(saturated).sum(axis=0).astype(np.int64)
        if tensor in self.index_counts:
            self.index_counts[tensor] = self.index_counts[tensor] + per_index
        else:
            self.index_counts[tensor] = per_index
        for sequence, index in hits[: max(0, self.limit - len(self.events))]:
            self.events.append(SaturationEvent(tensor, int(index), self.step, int(sequence)))

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def internal_total(self) -> int:
        """Saturations of internal values (state, accumulators): these are failures."""
        return sum(count for tensor, count in self.counts.items() if tensor not in INPUT_TENSORS)

    def input_counts(self, input_names: list[str]) -> dict[str, int]:
        """Clamped input values per input name (and ``dt``), only those that were clamped."""
        counts: dict[str, int] = {}
        per_input = np.zeros(len(input_names), dtype=np.int64)
        for tensor in ("x", "xm"):
            if tensor in self.index_counts:
                per_input += self.index_counts[tensor]
        for k, count in enumerate(per_input):
            if count:
                counts[input_names[k]] = int(count)
        if self.counts.get("dt"):
            counts["dt"] = self.counts["dt"]
        return counts

    def input_events(self, input_names: list[str], limit: int = 10) -> list[str]:
        """The first clamped inputs, by name, with sequence and step."""
        events = [e for e in self.events if e.tensor in INPUT_TENSORS][:limit]
        return [
            f"input '{'dt' if e.tensor == 'dt' else input_names[e.index]}' clamped"
            f"{' after the input mapping' if e.tensor == 'xm' else ''} at step {e.step} of sequence {e.sequence}"
            for e in events
        ]

    def internal_events(self, limit: int = 10) -> list[str]:
        return [str(e) for e in self.events if e.tensor not in INPUT_TENSORS][:limit]


INPUT_TENSORS = ("x", "dt", "xm")
"""Tensors whose saturation is a clamp at the input's range (a policy), not a broken bound: the inputs, the
elapsed time, and the LTC's mapped input (``xm = x * input_w + input_b``, one per input, formatted from the
calibrated input range: clamping it is clamping that input at a narrower range)."""

"""Shared emulator plumbing: the saturation log of the checking mode."""

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

    def record(self, tensor: str, saturated: np.ndarray) -> None:
        hits = np.argwhere(saturated)
        if not hits.size:
            return
        self.counts[tensor] = self.counts.get(tensor, 0) + len(hits)
        for sequence, index in hits[: max(0, self.limit - len(self.events))]:
            self.events.append(SaturationEvent(tensor, int(index), self.step, int(sequence)))

    @property
    def total(self) -> int:
        return sum(self.counts.values())

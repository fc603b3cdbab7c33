"""Error metrics between a candidate (emulator, C, board) and the float64 reference."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class ErrorMetrics:
    """Max abs, RMSE, MAE, relative L2 and cosine similarity of ``candidate`` against ``reference``;
    ``max_abs_rel_range`` is the max abs error as a fraction of the reference's range (max - min)."""

    max_abs: float
    rmse: float
    mae: float
    rel_l2: float
    cosine: float
    range: float
    max_abs_rel_range: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def compare(candidate: np.ndarray, reference: np.ndarray) -> ErrorMetrics:
    """Metrics over all elements (any shape; shapes must match)."""
    if candidate.shape != reference.shape:
        raise ValueError(f"shape mismatch: {candidate.shape} vs {reference.shape}")
    a = np.asarray(candidate, dtype=np.float64).ravel()
    b = np.asarray(reference, dtype=np.float64).ravel()
    diff = a - b
    norm_b = float(np.linalg.norm(b))
    norm_a = float(np.linalg.norm(a))
    value_range = float(b.max() - b.min()) if b.size else 0.0
    max_abs = float(np.abs(diff).max()) if diff.size else 0.0
    return ErrorMetrics(
        max_abs=max_abs,
        rmse=float(np.sqrt(np.mean(diff**2))) if diff.size else 0.0,
        mae=float(np.mean(np.abs(diff))) if diff.size else 0.0,
        rel_l2=float(np.linalg.norm(diff) / norm_b) if norm_b > 0 else float(np.linalg.norm(diff)),
        cosine=float(a @ b / (norm_a * norm_b)) if norm_a > 0 and norm_b > 0 else float(norm_a == norm_b),
        range=value_range,
        max_abs_rel_range=max_abs / value_range if value_range > 0 else max_abs,
    )

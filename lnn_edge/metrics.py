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


@dataclass
class TaskMetrics:
    """The task metric of the float64 reference and of a candidate on labelled data, side by side. Unlike the
    output error, it is end to end: the reference sees the inputs as recorded, the candidate its clamped inputs.

    Classification: ``accuracy`` (fraction of correct class ids). Regression: ``rmse`` and ``r2``. ``loss`` is
    what the candidate gives up: accuracy points lost (0.01 = one point), or the relative RMSE increase.
    """

    kind: str
    reference: dict[str, float]
    candidate: dict[str, float]
    loss: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def task_kind(task: dict[str, object], y: np.ndarray) -> str:
    """``classification`` or ``regression``: the model's stored task kind, else integer labels mean classes."""
    kind = task.get("kind")
    if kind in ("classification", "regression"):
        return str(kind)
    return "classification" if y.dtype.kind in "iub" else "regression"


def task_metrics(kind: str, y: np.ndarray, reference: np.ndarray, candidate: np.ndarray) -> TaskMetrics:
    """Compare ``reference`` and ``candidate`` outputs [N,T,O] on labels ``y``: class ids [N] (scored at the
    last step) or [N,T] (every step), or regression targets [N,T,O]."""
    if kind == "classification":
        ref, cand = _accuracy(y, reference), _accuracy(y, candidate)
        return TaskMetrics(kind, {"accuracy": ref}, {"accuracy": cand}, ref - cand)
    ref_scores, cand_scores = _regression(y, reference), _regression(y, candidate)
    base = ref_scores["rmse"]
    loss = (cand_scores["rmse"] - base) / base if base > 0 else cand_scores["rmse"]
    return TaskMetrics(kind, ref_scores, cand_scores, loss)


def _accuracy(y: np.ndarray, outputs: np.ndarray) -> float:
    predicted = np.argmax(outputs, axis=-1)  # [N, T]
    if y.ndim == 1:
        predicted = predicted[:, -1]
    return float(np.mean(predicted == y))


def _regression(y: np.ndarray, outputs: np.ndarray) -> dict[str, float]:
    diff = outputs - y
    rmse = float(np.sqrt(np.mean(diff**2)))
    spread = float(np.sum((y - y.mean(axis=(0, 1))) ** 2))
    r2 = 1.0 - float(np.sum(diff**2)) / spread if spread > 0 else float("nan")
    return {"rmse": rmse, "r2": r2}

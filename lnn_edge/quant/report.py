"""What quantization costs, and the verdict: the quantized model's emulator against the float64 reference on
calibration, held-out and labelled data, under the user's :class:`Policy` (``--max-error``, ``--strict``,
``--max-metric-loss``). Kept apart from :mod:`lnn_edge.quant.quantize` so the quantizer does not import the emulator
and the reference that judge it."""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from lnn_edge import cells
from lnn_edge.errors import DataFileError
from lnn_edge.metrics import ErrorMetrics, TaskMetrics, compare, task_kind, task_metrics
from lnn_edge.model.datafile import Sequences, load_inputs
from lnn_edge.model.limits import MAX_DATA_VALUES, read_npy
from lnn_edge.model.model import Model
from lnn_edge.quant.calibration import CalibrationStats
from lnn_edge.quant.emulate_common import INPUT_TENSORS, SaturationLog
from lnn_edge.quant.emulator import Emulator
from lnn_edge.quant.qmodel import QuantizedModel
from lnn_edge.reference import Reference

# Pass thresholds on the max abs output error, as a fraction of the reference output range (--max-error).
# float32 stays at 1e-5, not 1e-6: the trained pendulum LTC reaches 1.05e-6 at 1000 steps (docs/number-formats.md),
# while the test suite's untrained models stay below 4.7e-7.
DEFAULT_THRESHOLDS = {"float32": 1e-5, "fixed32": 1e-4, "fixed16": 1e-2}

DEFAULT_ACCURACY_LOSS = 0.01
"""With class labels and neither --max-error nor --max-metric-loss, the verdict allows this much accuracy lost (1
point). A classifier's logits can move by more than the error bar while every decision stays the same
(docs/real-data.md); the output error is then reported, and judged only when --max-error asks for it."""

ERROR_BASIS = "inputs clamped to the input formats (the error is the quantization's, not the clamp's)"
"""What the output error is measured on: the float64 reference sees the clamped inputs the quantized model sees."""


@dataclass
class Evaluation:
    """Error of a quantized model against the reference on one set of sequences.

    The reference runs on the inputs as the quantized model sees them, clamped to the input formats, so
    ``outputs`` is the quantization's error, not the clamp's; the clamps are counted in ``input_saturations``.
    """

    name: str
    sequences: int
    steps: int
    outputs: ErrorMetrics
    state: ErrorMetrics
    saturations: int
    """Internal saturations (state, accumulators): a broken bound, always a failure."""
    saturation_counts: dict[str, int]
    first_saturations: list[str]
    input_saturations: dict[str, int] = field(default_factory=dict)
    """Clamped input values per input name (and ``dt``)."""
    first_input_saturations: list[str] = field(default_factory=list)
    task: TaskMetrics | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sequences": self.sequences,
            "steps": self.steps,
            "outputs": self.outputs.as_dict(),
            "state": self.state.as_dict(),
            "saturations": self.saturations,
            "saturation_counts": self.saturation_counts,
            "first_saturations": self.first_saturations,
            "input_saturations": self.input_saturations,
            "first_input_saturations": self.first_input_saturations,
            "task": None if self.task is None else self.task.as_dict(),
        }


@dataclass
class Policy:
    """What makes a verdict: the error bar (``max_error``, a fraction of the output range; None: the precision's
    default), whether clamped inputs fail it (``strict``), and the task metric a user may lose (``max_metric_loss``:
    accuracy points as a fraction, or relative RMSE increase; None: not part of the verdict)."""

    max_error: float | None = None
    strict: bool = False
    max_metric_loss: float | None = None
    metric_by_default: bool = False
    """True when ``max_metric_loss`` is :data:`DEFAULT_ACCURACY_LOSS`, set because the data had class labels."""

    def for_classes(self, classes: bool) -> Policy:
        """The policy for a run whose data has class labels (``classes``): with neither an error bar nor a metric
        loss given, accuracy decides, at most :data:`DEFAULT_ACCURACY_LOSS` lost."""
        if not classes or self.max_error is not None or self.max_metric_loss is not None:
            return self
        return replace(self, max_metric_loss=DEFAULT_ACCURACY_LOSS, metric_by_default=True)

    def threshold(self, precision: str) -> float:
        return DEFAULT_THRESHOLDS[precision] if self.max_error is None else self.max_error

    @property
    def judges_error(self) -> bool:
        """Whether the output error decides: always, unless the verdict is task-aware (``max_metric_loss``) and the
        user set no ``max_error``; then the error is reported beside the task metric, which decides."""
        return self.max_error is not None or self.max_metric_loss is None


def evaluate(
    qmodel: QuantizedModel, x: np.ndarray, dt: np.ndarray, name: str, labels: np.ndarray | None = None
) -> Evaluation:
    """Run the emulator, and the reference on the same (clamped) inputs, and compare outputs and state; with
    ``labels``, also the task metric of both."""
    emulator = Emulator(qmodel)
    result = emulator.run(x, dt, check=True)
    clamped_x, clamped_dt = emulator.clamp_inputs(x, dt)
    y_ref, s_ref = Reference(qmodel.model).run(clamped_x, clamped_dt)
    log = result.saturations
    names = qmodel.model.input_names
    task = None
    if labels is not None:
        # The task metric is end to end: float64 on the inputs as recorded against the deployed model, clamps and all.
        y_float, _ = Reference(qmodel.model).run(x, dt) if log.input_counts(names) else (y_ref, None)
        task = task_metrics(task_kind(qmodel.model.task, labels), labels, y_float, result.y)
    return judged_run(name, x, compare(result.y, y_ref), compare(result.state, s_ref), log, names, task)


def judged_run(
    name: str,
    x: np.ndarray,
    outputs: ErrorMetrics,
    state: ErrorMetrics,
    log: SaturationLog,
    input_names: list[str],
    task: TaskMetrics | None,
) -> Evaluation:
    """The :class:`Evaluation` of one run on inputs ``x`` [B,T,F]: its errors, the saturations of its log (internal
    ones apart from clamped inputs) and its task metric. Shared by the emulator's evaluation and the host C's."""
    return Evaluation(
        name=name,
        sequences=int(x.shape[0]),
        steps=int(x.shape[1]),
        outputs=outputs,
        state=state,
        saturations=log.internal_total,
        saturation_counts={k: v for k, v in log.counts.items() if k not in INPUT_TENSORS},
        first_saturations=log.internal_events(),
        input_saturations=log.input_counts(input_names),
        first_input_saturations=log.input_events(input_names),
        task=task,
    )


def verdict(evaluations: list[Evaluation], threshold: float, policy: Policy) -> tuple[bool, list[str]]:
    """Pass or fail, and why it failed (one line per reason)."""
    reasons = []
    for e in evaluations:
        if policy.judges_error and e.outputs.max_abs_rel_range > threshold:
            reasons.append(f"{e.name}: output error {e.outputs.max_abs_rel_range:.2e} of range > {threshold:g}")
        if e.saturations:
            reasons.append(f"{e.name}: {e.saturations} internal values saturated (a bound the formats rely on broke)")
        if policy.strict and e.input_saturations:
            reasons.append(f"{e.name}: inputs clamped with --strict ({_counts_text(e.input_saturations)})")
        if policy.max_metric_loss is not None and e.task is not None and e.task.loss > policy.max_metric_loss:
            reasons.append(f"{e.name}: task metric loss {e.task.loss:.4g} > {policy.max_metric_loss:g}")
    return not reasons, reasons


def _counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in counts.items())


def quantization_report(
    qmodel: QuantizedModel,
    calib: CalibrationStats | None,
    held_out: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None,
    policy: Policy | None = None,
    labelled: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None,
    parameter_bytes: int | None = None,
) -> dict[str, Any]:
    """Formats and ranges per tensor, parameter bytes, and measured error on calibration, held-out and labelled
    (``x``, ``dt``, ``y``) data, with the verdict under ``policy`` (task-aware by default where the data has class
    labels: :meth:`Policy.for_classes`). ``parameter_bytes`` is the code generator's figure
    (``codegen.memory``), the same the export's header and manifest print; quantization cannot know it."""
    evaluations = []
    if calib is not None:
        evaluations.append(evaluate(qmodel, calib.sequences.x, calib.sequences.dt, "calibration", calib.labels))
    if held_out is not None:
        evaluations.append(evaluate(qmodel, held_out[0], held_out[1], "held-out", held_out[2]))
    if labelled is not None:
        evaluations.append(evaluate(qmodel, labelled[0], labelled[1], "data", labels=labelled[2]))
    classes = any(e.task is not None and e.task.kind == "classification" for e in evaluations)
    policy = (policy or Policy()).for_classes(classes)
    threshold = policy.threshold(qmodel.precision)
    if policy.max_metric_loss is not None and not any(e.task is not None for e in evaluations):
        raise DataFileError("--max-metric-loss needs labelled test data: pass --data FILE.npz holding 'x' and 'y'")
    passed, reasons = verdict(evaluations, threshold, policy)
    return {
        "precision": qmodel.precision,
        "model_hash": qmodel.quant_hash(),
        "formats": [
            {
                "name": name,
                "frac_bits": frac,
                "bound": qmodel.bounds.get(name),
                "source": qmodel.sources.get(name, "fixed"),
                "lsb": 2.0**-frac,
            }
            for name, frac in sorted(qmodel.formats.items())
        ],
        "per_feature": {name: qmodel.params[name].tolist() for name in ("x_frac", "y_frac") if name in qmodel.params},
        "input_ranges": input_range_rows(qmodel, calib),
        "bounds": qmodel.bounds,
        "parameter_bytes": parameter_bytes,
        "error_bounds": error_bounds(qmodel),
        "evaluations": [e.as_dict() for e in evaluations],
        "threshold_max_abs_rel_range": threshold,
        "strict": policy.strict,
        "max_metric_loss": policy.max_metric_loss,
        "metric_by_default": policy.metric_by_default,
        "error_judged": policy.judges_error,
        "error_measured_on": ERROR_BASIS,
        "failures": reasons,
        "passed": passed,
    }


def input_range_rows(qmodel: QuantizedModel, calib: CalibrationStats | None) -> list[dict[str, Any]]:
    """Per input: the bound formats were chosen from, where it came from, and the range the format holds."""
    if not qmodel.is_fixed or calib is None:
        return []
    low, high = -(1 << (qmodel.bits - 1)), (1 << (qmodel.bits - 1)) - 1
    rows = []
    for k, name in enumerate(qmodel.model.input_names):
        frac = int(qmodel.params["x_frac"][k])
        rows.append(
            {
                "name": name,
                "bound": float(calib.x_absmax[k]),
                "source": calib.x_sources[k] if calib.x_sources else "sample",
                "declared": list(qmodel.model.input_ranges.get(name, ())) or None,
                "representable": [low / 2.0**frac, high / 2.0**frac],
            }
        )
    return rows


def load_labelled(path: str | os.PathLike[str], model: Model) -> tuple[Sequences, np.ndarray | None]:
    """Test data for a task-aware verdict: ``x``/``dt`` as for ``run``, and ``y`` if present: class ids [N] or
    [N,T] (integers below the output count), or regression targets [N,T,outputs]."""
    sequences = load_inputs(path, model.input_size, model.dt, model.input_names)
    with zipfile.ZipFile(path) as archive:
        if "y.npy" not in archive.namelist():
            return sequences, None
        y = read_npy(archive, "y.npy", None, MAX_DATA_VALUES, DataFileError)
    batch, steps = sequences.x.shape[:2]
    kind = task_kind(model.task, y)
    if kind == "classification":
        valid = y.shape in ((batch,), (batch, steps)) and y.dtype.kind in "iu"
        if not valid or np.any(y < 0) or np.any(y >= model.output_size):
            raise DataFileError(
                f"{path}: field 'y' has shape {y.shape} ({y.dtype}); expected class ids 0..{model.output_size - 1} "
                f"of shape [{batch}] or [{batch}, {steps}]"
            )
        return sequences, y.astype(np.int64)
    if y.shape != (batch, steps, model.output_size) or y.dtype.kind not in "fiu" or not np.all(np.isfinite(y)):
        raise DataFileError(
            f"{path}: field 'y' has shape {y.shape}; expected finite targets [{batch}, {steps}, {model.output_size}]"
        )
    return sequences, y.astype(np.float64)


def labelled_arrays(
    labelled: tuple[Sequences, np.ndarray | None] | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None:
    """``load_labelled``'s result as the ``(x, dt, y)`` that :func:`quantization_report` takes."""
    if labelled is None:
        return None
    return labelled[0].x, labelled[0].dt, labelled[1]


def error_bounds(qmodel: QuantizedModel) -> dict[str, float]:
    """Per-operation error bounds that follow from the formats (documented in docs/number-formats.md)."""
    if not qmodel.is_fixed:
        # f32math: the LTC sigmoid from the 2^t table (measured 2.4e-7), the CfC rational tanh (3.3e-7).
        return {"float32_sigmoid_abs": 2.5e-7, "float32_tanh_abs": 3.3e-7}
    bounds = cells.get(qmodel.model.cell).table_error_bounds(qmodel)
    for name in ("v", "h", "g", "xm"):
        if name in qmodel.formats:
            bounds[f"lsb_{name}"] = 2.0 ** -qmodel.formats[name]
    return bounds

"""Verification on the host: the compiled C against the emulator (bit for bit) and the float64 reference.

Both candidates see the same raw inputs: float inputs are converted once, the way the emulator converts
them (what the host sends to a board too), and the C runs them through ``<name>_step_dt``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from lnn_edge.codegen.export import Export, model_sources
from lnn_edge.errors import DataFileError
from lnn_edge.host.harness import CompiledModel, compile_model
from lnn_edge.metrics import ErrorMetrics, TaskMetrics, compare, task_kind, task_metrics
from lnn_edge.model.datafile import Sequences
from lnn_edge.quant.emulator import Emulator, EmulatorResult
from lnn_edge.quant.report import ERROR_BASIS, Policy, judged_run, verdict
from lnn_edge.reference import Reference


@dataclass
class Mismatch:
    """The first step where two backends that must agree bit for bit do not."""

    sequence: int
    step: int
    what: str
    index: int
    expected: float
    got: float

    def __str__(self) -> str:
        return (
            f"{self.what}[{self.index}] differs at step {self.step} of sequence {self.sequence}: "
            f"emulator {self.expected!r}, C {self.got!r}"
        )


@dataclass
class HostVerification:
    """Result of ``lnn-edge verify`` on the host."""

    passed: bool
    bit_exact: bool
    steps: int
    sequences: int
    precision: str
    outputs: ErrorMetrics
    state: ErrorMetrics
    threshold: float
    saturations: int
    """Internal saturations (state, accumulators): always a failure."""
    mismatch: Mismatch | None
    traces: dict[str, np.ndarray] = field(repr=False, default_factory=dict)
    raw: dict[str, np.ndarray] = field(repr=False, default_factory=dict)
    """The arrays behind the verdict, for a board leg to reuse: inputs ``x``/``dt`` in the C's types, ``c_y``,
    ``c_state``, ``emulator_y``, ``emulator_state`` (raw) and ``reference_state`` (float64)."""
    input_saturations: dict[str, int] = field(default_factory=dict)
    """Input values clamped at their format's range, per input name (and ``dt``): a failure only with ``strict``."""
    first_input_saturations: list[str] = field(default_factory=list)
    task: TaskMetrics | None = None
    strict: bool = False
    max_metric_loss: float | None = None
    metric_by_default: bool = False
    """True when the accuracy bar is the default for class labels (:meth:`Policy.for_classes`)."""
    failures: list[str] = field(default_factory=list)
    error_judged: bool = True
    """False when the verdict is task-aware (``max_metric_loss`` without an explicit error bar)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "bit_exact": self.bit_exact,
            "max_abs_err": self.outputs.max_abs,
            "steps": self.steps,
            "sequences": self.sequences,
            "precision": self.precision,
            "outputs": self.outputs.as_dict(),
            "state": self.state.as_dict(),
            "threshold_max_abs_rel_range": self.threshold,
            "saturations": self.saturations,
            "input_saturations": self.input_saturations,
            "first_input_saturations": self.first_input_saturations,
            "task": None if self.task is None else self.task.as_dict(),
            "strict": self.strict,
            "max_metric_loss": self.max_metric_loss,
            "metric_by_default": self.metric_by_default,
            "error_measured_on": ERROR_BASIS,
            "failures": self.failures,
            "error_judged": self.error_judged,
            "first_mismatch": None if self.mismatch is None else str(self.mismatch),
        }


def raw_inputs(emulator: Emulator, sequences: Sequences) -> tuple[np.ndarray, np.ndarray]:
    """Convert float sequences to what the C takes (Q formats, or float32)."""
    if not emulator.qmodel.is_fixed:
        return sequences.x.astype(np.float32), sequences.dt.astype(np.float32)
    steps = sequences.x.shape[1]
    x = np.stack([emulator.input_to_raw(sequences.x[:, t]) for t in range(steps)], axis=1)
    dt = np.stack([emulator.dt_to_raw(sequences.dt[:, t]) for t in range(steps)], axis=1)
    return x, dt


def first_mismatch(expected: np.ndarray, got: np.ndarray, what: str) -> Mismatch | None:
    """Compare bit patterns (float32 via their integer view) and report the earliest difference."""
    a = expected.view(np.uint32) if expected.dtype == np.float32 else expected.astype(np.int64)
    b = got.view(np.uint32) if got.dtype == np.float32 else got.astype(np.int64)
    differs = a != b
    if not differs.any():
        return None
    hits = np.argwhere(differs)
    order = np.lexsort((hits[:, 0], hits[:, 1]))  # earliest step first
    sequence, step, index = (int(v) for v in hits[order[0]])
    return Mismatch(
        sequence, step, what, index, expected[sequence, step, index].item(), got[sequence, step, index].item()
    )


def emulator_raw(result: EmulatorResult, fixed: bool) -> tuple[np.ndarray, np.ndarray]:
    if fixed:
        assert result.y_raw is not None and result.state_raw is not None
        return result.y_raw, result.state_raw
    return result.y.astype(np.float32), result.state.astype(np.float32)


def compile_export(export: Export) -> CompiledModel:
    """The export's C compiled for the host (cached by source hash, see :mod:`lnn_edge.host.harness`)."""
    manifest = export.manifest
    return compile_model(
        model_sources(export),
        export.name,
        manifest["value_type"],
        manifest["inputs"],
        manifest["outputs"],
        manifest["state_size"],
    )


def raw_to_float(emulator: Emulator, y_raw: np.ndarray, state_raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Outputs and state in the C's types as float64 (dequantized for fixed point)."""
    if emulator.qmodel.is_fixed:
        return emulator.output_to_float(y_raw.astype(np.int64)), emulator.state_to_float(state_raw.astype(np.int64))
    return y_raw.astype(np.float64), state_raw.astype(np.float64)


def verify_host(
    export: Export,
    sequences: Sequences,
    threshold: float | None = None,
    policy: Policy | None = None,
    labels: np.ndarray | None = None,
) -> HostVerification:
    """Compile the export's C, run it, the emulator and the reference on ``sequences``, and compare.

    The reference runs on the inputs clamped to their formats (what the C sees), so the error is the
    quantization's; clamps are counted per input. ``policy`` adds --strict and the task metric loss (with
    ``labels``); ``threshold`` (or ``policy.max_error``) is the error bar, default the precision's."""
    qmodel = export.qmodel
    model = qmodel.model
    emulator = Emulator(qmodel)
    x_raw, dt_raw = raw_inputs(emulator, sequences)
    y_c, state_c = compile_export(export).run_raw(x_raw, dt_raw)
    emulated = emulator.run(sequences.x, sequences.dt, check=True)
    y_e, state_e = emulator_raw(emulated, qmodel.is_fixed)
    mismatch = first_mismatch(y_e, y_c, "output") or first_mismatch(state_e, state_c, "state")
    y_c_float, state_c_float = raw_to_float(emulator, y_c, state_c)
    y_ref, state_ref = Reference(model).run(*emulator.clamp_inputs(sequences.x, sequences.dt))
    policy = policy or Policy()
    if threshold is not None:  # an explicit error bar is judged, as --max-error is
        policy = replace(policy, max_error=threshold)
    bit_exact = mismatch is None
    log = emulated.saturations
    names = model.input_names
    task = None
    if labels is not None:  # end to end: float64 on the inputs as recorded, against the C with its clamps
        y_float = Reference(model).run(sequences.x, sequences.dt)[0] if log.input_counts(names) else y_ref
        task = task_metrics(task_kind(model.task, labels), labels, y_float, y_c_float)
    if policy.max_metric_loss is not None and labels is None:
        raise DataFileError("--max-metric-loss needs labelled test data: pass --data FILE.npz holding 'x' and 'y'")
    policy = policy.for_classes(task is not None and task.kind == "classification")
    limit = policy.threshold(qmodel.precision)
    outputs, state = compare(y_c_float, y_ref), compare(state_c_float, state_ref)
    evaluation = judged_run("host C", sequences.x, outputs, state, log, names, task)  # the C's outputs vs float64
    failures = ([] if bit_exact else [f"C != emulator: {mismatch}"]) + verdict([evaluation], limit, policy)[1]
    return HostVerification(
        passed=not failures,
        bit_exact=bit_exact,
        steps=evaluation.steps,
        sequences=evaluation.sequences,
        precision=qmodel.precision,
        outputs=evaluation.outputs,
        state=evaluation.state,
        threshold=limit,
        saturations=evaluation.saturations,
        mismatch=mismatch,
        traces={"reference": y_ref, "host C": y_c_float, "emulator": emulated.y, "dt": sequences.dt},
        raw={
            "x": x_raw,
            "dt": dt_raw,
            "c_y": y_c,
            "c_state": state_c,
            "emulator_y": y_e,
            "emulator_state": state_e,
            "reference_state": state_ref,
        },
        input_saturations=evaluation.input_saturations,
        first_input_saturations=evaluation.first_input_saturations,
        task=task,
        strict=policy.strict,
        max_metric_loss=policy.max_metric_loss,
        metric_by_default=policy.metric_by_default,
        failures=failures,
        error_judged=policy.judges_error,
    )


def default_sequences(export: Export, steps: int | None, seed: int = 0) -> Sequences:
    """Default verification data: the model's calibration sample, else standard-normal inputs; resized to
    ``steps`` by repeating or truncating along time."""
    model = export.qmodel.model
    if model.calibration is not None:
        x = model.calibration.x
        dt = model.calibration.dt if model.calibration.dt is not None else np.full(x.shape[:2], model.dt)
    else:
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(4, steps or 200, model.input_size))
        dt = np.full(x.shape[:2], model.dt)
    return resize(Sequences(x=x, dt=dt), steps)


def default_labels(export: Export, steps: int | None) -> np.ndarray | None:
    """The class labels the model stores for its calibration sample (what :func:`default_sequences` runs), or
    None: none stored, or ``steps`` resizes the sequences so the labels no longer describe them."""
    calibration = export.qmodel.model.calibration
    if calibration is None or calibration.y is None:
        return None
    if steps is not None and steps != calibration.x.shape[1]:
        return None
    return calibration.y


def resize(sequences: Sequences, steps: int | None) -> Sequences:
    """Truncate or repeat sequences along time to exactly ``steps`` (None keeps them)."""
    if steps is None or steps == sequences.x.shape[1]:
        return sequences
    repeats = -(-steps // sequences.x.shape[1])
    x = np.concatenate([sequences.x] * repeats, axis=1)[:, :steps]
    dt = np.concatenate([sequences.dt] * repeats, axis=1)[:, :steps]
    return Sequences(x=x, dt=dt)

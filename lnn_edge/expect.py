"""``import --expect IO.npz``: check that an imported model reproduces the user's own torch outputs, and find
the options a state_dict cannot tell (CfC mode and activation; LTC constraints, unfolds, epsilon) by search.

IO.npz holds ``x`` [B,T,F], optional ``dt`` [B,T] and ``y`` [B,T,O], the outputs of the torch model with
``return_sequences=True``. The float64 reference run on ``x`` must reproduce ``y`` to within a fraction of the
output range that depends on ``y``'s precision: float32 outputs carry about 1e-7 relative rounding per step,
float64 outputs none worth the name. The check is stored in the model file (``provenance.verified``).
"""

from __future__ import annotations

import itertools
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lnn_edge.atomic import file_sha256
from lnn_edge.errors import DataFileError, LnnEdgeError
from lnn_edge.model import kinds
from lnn_edge.model.datafile import as_sequences
from lnn_edge.model.importers import load_torch_file, validate_imported
from lnn_edge.model.limits import MAX_DATA_BYTES, MAX_DATA_VALUES, check_archive_size, read_npy
from lnn_edge.model.model import Model, validate
from lnn_edge.reference import Reference

THRESHOLDS = {"float32": 1e-5, "float64": 1e-9}
"""Largest error allowed, as a fraction of y's range, by y's dtype."""
PREFIX_SEQUENCES, PREFIX_STEPS = 4, 3
"""Every candidate runs on this corner of x first; only the best few run on all of it."""
KEEP_COARSE, CONFIRM = 4, 5
"""Coarse combinations kept for the epsilon sweep; candidates confirmed on the whole file."""
Progress = Callable[[str, int, int], None]
"""Called with the search stage, combinations tried and combinations in the stage."""


@dataclass
class Expectation:
    """The contents of IO.npz, checked: ``x`` [B,T,F], ``dt`` [B,T] and ``y`` [B,T,O] in float64."""

    path: Path
    sha256: str
    x: np.ndarray
    dt: np.ndarray | None
    y: np.ndarray
    threshold: float

    def error(self, model: Model, sequences: int | None = None, steps: int | None = None) -> float:
        """Max |reference - y| over the first ``sequences`` x ``steps`` (default all), divided by y's range."""
        x = self.x[:sequences, :steps]
        dt = None if self.dt is None else self.dt[:sequences, :steps]
        with np.errstate(all="ignore"):  # a wrong candidate may overflow: its error is then inf, not a warning
            y, _ = Reference(model).run(x, dt)
        error = float(np.max(np.abs(y - self.y[:sequences, :steps])))
        return error / self.scale if np.isfinite(error) else float("inf")

    @property
    def scale(self) -> float:
        """y's range (max - min), or its magnitude (or 1) when y is constant."""
        spread = float(np.max(self.y) - np.min(self.y))
        return spread or float(np.max(np.abs(self.y))) or 1.0


def load_expectation(path: Path, features: int) -> Expectation:
    """Read IO.npz for a model with ``features`` inputs; a missing or malformed array is a DataFileError."""
    if not path.is_file():
        raise DataFileError(f"{path}: no such file")
    try:
        with zipfile.ZipFile(path) as archive:
            check_archive_size(archive, MAX_DATA_BYTES, DataFileError)
            fields = {name.removesuffix(".npy") for name in archive.namelist()}
            for required in ("x", "y"):
                if required not in fields:
                    raise DataFileError(
                        f"has no array '{required}' (arrays: {', '.join(sorted(fields)) or 'none'}); --expect needs x "
                        "[B,T,F] and y [B,T,O], the torch model's outputs on x"
                    )
            arrays: dict[str, np.ndarray] = {
                name: read_npy(archive, f"{name}.npy", None, MAX_DATA_VALUES, DataFileError)
                for name in ("x", "y", "dt")
                if name in fields
            }
    except DataFileError as error:
        raise DataFileError(f"{path}: {error}") from None
    except (OSError, zipfile.BadZipFile, EOFError, ValueError) as error:
        raise DataFileError(f"{path}: not a readable .npz file ({error})") from None
    return _checked(path, arrays, features)


def _checked(path: Path, arrays: dict[str, np.ndarray], features: int) -> Expectation:
    x = arrays["x"]
    if x.ndim != 3:
        raise DataFileError(f"{path}: array 'x' has shape {x.shape}; expected [B, T, {features}]")
    sequences = as_sequences(x, arrays.get("dt"), features, 1.0, where=str(path))
    y = arrays["y"]
    if y.dtype.name not in THRESHOLDS:
        raise DataFileError(f"{path}: array 'y' has dtype {y.dtype}; expected float32 or float64 (torch's outputs)")
    if y.ndim != 3 or y.shape[:2] != x.shape[:2]:
        batch, steps = x.shape[:2]
        raise DataFileError(f"{path}: array 'y' has shape {y.shape}; expected [{batch}, {steps}, outputs] like x")
    if not np.all(np.isfinite(y)):
        raise DataFileError(f"{path}: array 'y' contains NaN or Inf")
    return Expectation(
        path=path,
        sha256=file_sha256(path),
        x=sequences.x,
        dt=sequences.dt if "dt" in arrays else None,
        y=y.astype(np.float64),
        threshold=THRESHOLDS[y.dtype.name],
    )


def check_output_shape(expectation: Expectation, model: Model) -> None:
    """y must have one column per model output."""
    y = expectation.y
    if y.shape[2] != model.output_size:
        raise DataFileError(
            f"{expectation.path}: array 'y' has shape {y.shape}; expected {(*y.shape[:2], model.output_size)}: the "
            f"model has {model.output_size} outputs"
        )


def verified_import(
    source: Path,
    model: Model,
    expect: Path,
    given: dict[str, Any],
    *,
    dt: float,
    prefix: str,
    echo: Callable[[str], None],
) -> tuple[Model, list[str]]:
    """The model of ``source`` that reproduces IO.npz's y (options not in ``given`` found by search), with the
    check in ``provenance["verified"]``, and the lines that tell the user; no match is an LnnEdgeError.

    ``model`` may be unvalidated (``load_torch_file(validated=False)``): every candidate is validated, and when
    none is valid the error is the one validating ``model`` gives."""

    def reload(options: dict[str, Any], validated: bool = True) -> Model:
        return load_torch_file(source, dt=dt, prefix=prefix, validated=validated, **options)

    expectation = load_expectation(expect, model.input_size)
    outputs = expectation.y.shape[2]
    unmapped = model.ltc is not None and model.ltc.output_mapping == "none" and "output_size" not in given
    if unmapped and outputs != model.output_size and 1 <= outputs <= model.state_size:  # y tells the motor count
        given = {**given, "output_size": outputs}
        model = reload(given, validated=False)
    check_output_shape(expectation, model)
    trainer = model.provenance.get("source") == "lnn-edge trainer"  # its checkpoint holds every option
    space = {} if trainer else search_space(model, given)
    found = search(model, space, expectation, progress_printer(echo))
    total = int(np.prod([len(values) for values in space.values()]))
    if not found:
        validate_imported(model)  # no combination is a valid model: say what is wrong with the file's own
    if not found or found[0].error > expectation.threshold:
        raise no_match_error(expectation, found, searched=total > 1)
    rivals = [c for c in found[1:] if c.error <= expectation.threshold and material_difference(found[0], c)]
    if rivals and not trainer:
        raise ambiguous_error(expectation, [found[0], *rivals])
    if found[0].options and not trainer:
        model = reload({**given, **found[0].options})
    chosen = Candidate(cell_options(model), found[0].error)
    model.provenance["verified"] = record(expectation, chosen)
    return model, _report(model, expectation, chosen, found[1:], total)


def _report(
    model: Model, expectation: Expectation, chosen: Candidate, others: list[Candidate], total: int
) -> list[str]:
    """What import prints: its assumptions, the check, and any other combination that passes as well."""
    lines = [f"note: {note}" for note in model.provenance.get("notes", [])]
    how = f", found among {total} combinations" if total > 1 else ""
    lines.append(
        f"verified against {expectation.path.name}: error {chosen.error:.2g} of y's range (threshold "
        f"{expectation.threshold:g}) with {describe(chosen.options)}{how}"
    )
    also = [c for c in others if c.error <= expectation.threshold]
    if also:  # epsilons only (another option would have been refused): too close to matter, but said
        float32 = expectation.threshold == THRESHOLDS["float32"]
        remedy = "; float64 outputs in IO.npz would tell them apart" if float32 else ""

        def differing(c: Candidate) -> str:
            return describe({k: v for k, v in c.options.items() if chosen.options.get(k) != v})

        if len(also) == 1:
            alternatives = f"{differing(also[0])} also reproduces y (error {also[0].error:.2g})"
        else:
            alternatives = ", ".join(f"{differing(c)} (error {c.error:.2g})" for c in also) + " also reproduce y"
        lines.append(f"note: {alternatives}: this data cannot tell them apart{remedy}")
    return lines


def material_difference(chosen: Candidate, other: Candidate) -> bool:
    """Whether two candidates differ in more than the epsilon (whose effect is tiny): a mode, an activation, the
    constraints or the unfolds that the data cannot tell apart may still give a different model on other inputs."""
    return any(value != chosen.options.get(name) for name, value in other.options.items() if name != "epsilon")


def option_flag(name: str, value: Any) -> str:
    """The import flag that gives an option: ``--activation silu``, ``--no-implicit-constraints``."""
    if name == "implicit_constraints":
        return "--implicit-constraints" if value else "--no-implicit-constraints"
    return f"--{name.replace('_', '-')} {value}"


def ambiguous_error(expectation: Expectation, passing: list[Candidate]) -> LnnEdgeError:
    """Several options reproduce y: the data cannot tell which model the file is, so none is chosen."""
    differing = [name for name in passing[0].options if name != "epsilon" and
                 len({repr(c.options.get(name)) for c in passing}) > 1]  # fmt: skip
    listed = "; ".join(
        f"{' '.join(option_flag(name, c.options[name]) for name in differing)} (error {c.error:.2g})" for c in passing
    )
    return LnnEdgeError(
        f"{expectation.path}: y is reproduced within {expectation.threshold:g} of its range by more than one model, "
        f"which may differ on other inputs: {listed}. Give the option you trained with, or an IO.npz whose x "
        "exercises the model more (inputs on the scale it was trained on, more sequences)"
    )


def cell_options(model: Model) -> dict[str, Any]:
    """The options a state_dict cannot tell, as the model has them."""
    return kinds.get(model.cell).options_of(model)


def search_space(model: Model, given: dict[str, Any]) -> dict[str, list[Any]]:
    """The values to try for each option the file cannot tell and the user did not give: the model's own
    (given, or the defaults of the class that saved the file) first."""
    space = kinds.get(model.cell).option_space(model)
    for name, value in given.items():
        if name in space:
            space[name] = [value]
    return space


def with_options(model: Model, options: dict[str, Any]) -> Model | None:
    """``model`` with other cell options, or None when its parameters do not fit them (for example negative
    weights without implicit constraints: that model cannot have written them)."""
    candidate = kinds.get(model.cell).with_options(model, options)
    try:
        validate(candidate)
    except LnnEdgeError:
        return None
    return candidate


@dataclass
class Candidate:
    options: dict[str, Any]
    error: float


def search(model: Model, space: dict[str, list[Any]], expectation: Expectation, progress: Progress) -> list[Candidate]:
    """Candidates confirmed on the whole of IO.npz, best first.

    Cheap first: every combination but the epsilon runs on a corner of x; the best few are swept over the
    epsilons (whose effect is small); those that reproduce the corner run on everything. Only when none does
    is every combination tried on the corner, so an unusual model costs time, never a wrong answer.
    """
    seen: dict[tuple[Any, ...], Candidate | None] = {}

    def rank(combos: list[dict[str, Any]], stage: str) -> list[Candidate]:
        return _rank(model, combos, expectation, seen, lambda done, total: progress(stage, done, total))

    coarse = {name: values if name != "epsilon" else values[:1] for name, values in space.items()}
    ranked = rank(_combinations(coarse), "options")
    if len(space.get("epsilon", [])) > 1:
        ranked = rank([{**c.options, "epsilon": e} for c in ranked[:KEEP_COARSE] for e in space["epsilon"]], "epsilons")
        if not ranked or ranked[0].error > expectation.threshold:
            ranked = rank(_combinations(space), "all combinations")
    return _confirm(model, ranked, expectation)


def _rank(
    model: Model,
    combos: list[dict[str, Any]],
    expectation: Expectation,
    seen: dict[tuple[Any, ...], Candidate | None],
    progress: Callable[[int, int], None],
) -> list[Candidate]:
    """Each combination's error on the corner of x, computed once (``seen`` keeps them, None for options the
    parameters do not fit); returns every valid one tried so far, best first (ties: defaults first)."""
    for done, options in enumerate(combos, 1):
        key = tuple(sorted(options.items()))
        if key not in seen:
            candidate = with_options(model, options)
            seen[key] = None
            if candidate is not None:
                seen[key] = Candidate(options, expectation.error(candidate, PREFIX_SEQUENCES, PREFIX_STEPS))
        progress(done, len(combos))
    return sorted((c for c in seen.values() if c is not None), key=lambda c: c.error)


def _confirm(model: Model, ranked: list[Candidate], expectation: Expectation) -> list[Candidate]:
    """Full-length errors of the candidates that reproduce the corner of x (the error on a part is at most
    the error on the whole, so no other can pass), or of the best few when none does, for the report."""
    passing = [c for c in ranked if c.error <= expectation.threshold]
    confirmed = []
    for corner in (passing or ranked)[:CONFIRM]:
        candidate = with_options(model, corner.options)
        assert candidate is not None  # it passed validation when ranked
        confirmed.append(Candidate(corner.options, expectation.error(candidate)))
    return sorted(confirmed, key=lambda c: c.error)


def _combinations(space: dict[str, list[Any]]) -> list[dict[str, Any]]:
    names = list(space)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*space.values())]


def progress_printer(echo: Callable[[str], None], after: float = 2.0) -> Progress:
    """A progress callback that stays silent for ``after`` seconds, then prints at most once a second."""
    start = time.monotonic()
    last = [start - 1.0]  # the first line comes as soon as `after` has passed

    def report(stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - start >= after and (now - last[0] >= 1.0 or done == total):
            last[0] = now
            echo(f"searching {stage}: {done}/{total} tried ({now - start:.0f} s)")

    return report


def describe(options: dict[str, Any]) -> str:
    """``mode=no_gate activation=relu`` for messages."""
    return " ".join(f"{name}={value}" for name, value in options.items()) or "(no options to choose)"


def record(expectation: Expectation, best: Candidate) -> dict[str, Any]:
    """The check as stored in the model file's ``provenance.verified``."""
    return {
        "file": expectation.path.name,
        "sha256": expectation.sha256,
        "error": best.error,
        "threshold": expectation.threshold,
        "options": dict(best.options),
    }


def no_match_error(expectation: Expectation, candidates: list[Candidate], searched: bool) -> LnnEdgeError:
    """One line: the threshold and the closest candidates with their errors."""
    closest = "; ".join(f"{describe(c.options)}: {c.error:.3g}" for c in candidates[:CONFIRM]) or "none valid"
    what = "no combination of the options the file cannot tell" if searched else "the model"
    return LnnEdgeError(
        f"{expectation.path}: {what} reproduces y within {expectation.threshold:g} of y's range (errors as a "
        f"fraction of it; closest: {closest}): check the flags, the file's x/dt/y, and that y was computed by this "
        "state_dict's model with return_sequences=True"
    )

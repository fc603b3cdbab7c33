"""Every ncps configuration in ncps's own tests, README, docs and examples (tests/ncps_catalogue.py) goes through
the user's path: a state_dict and the model's own outputs, ``lnn-edge import --expect`` (the search finds the
options the file cannot tell), ``lnn-edge export`` in fixed16, fixed32 and float32, and ``lnn-edge verify``:
the host C equals the emulator bit for bit on outputs and state at every step. The representative set runs on
emulated boards too.

Each run also yields its row of docs/ncps-models.md, and the test compares it with the committed page.
Regenerate the page (about 4 minutes) with:

    PYTHONPATH=. python tests/test_ncps_catalogue.py --write
"""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from ncps_catalogue import BOARDS, CATALOGUE, DOES_NOT_FIT_ERROR, PRECISIONS, Entry
from ncps_oracle import randomize_parameters
from support.cli import invoke

from lnn_edge.model.modelfile import load

DOCS = Path(__file__).resolve().parent.parent / "docs" / "ncps-models.md"
REGENERATE = "PYTHONPATH=. python tests/test_ncps_catalogue.py --write"
SEED = 16
SCALE = 0.1
"""Random parameters ~N(0, 0.1): trained-looking magnitudes, so that fixed16's error says something."""
SEQUENCES, STEPS = 2, 16
ORACLE_BOUND = 1e-12
"""The float64 reference equals ncps in double to this (DESIGN, Numbers; docs/architecture.md), over y's range."""
NONE = "—"
BY_ID = {entry.id: entry for entry in CATALOGUE}
ON_BOARDS = [
    (entry, board, precision)
    for entry in CATALOGUE
    for board, precisions in entry.boards.items()
    for precision in precisions
]


def reference_text(error: float) -> str:
    """The oracle's error: below the design's 1e-12 it is rounding noise that differs between BLAS builds, so
    only the bound is shown."""
    return f"≤ {ORACLE_BOUND:.0e}" if error <= ORACLE_BOUND else significant(error)


def significant(value: float) -> str:
    """Two significant digits: stable across platforms, enough to compare precisions."""
    return "0" if value == 0 else f"{value:.1e}"


# --- one entry through the pipeline ----------------------------------------------------------------------


def make_module(entry: Entry) -> torch.nn.Module:
    """The entry's torch module with seeded random parameters (a bare LTCCell's constraints applied, as
    training would: it has no implicit ones)."""
    torch.manual_seed(SEED)
    module = entry.build()
    randomize_parameters(module, np.random.default_rng(SEED), SCALE)
    constrain = getattr(module, "apply_weight_constraints", None)
    if constrain is not None and not getattr(module, "_implicit_param_constraints", True):
        constrain()
    return module.double().eval()


def torch_outputs(module: torch.nn.Module, x: np.ndarray, dt: np.ndarray) -> np.ndarray:
    """Outputs [B,T,O] of an ncps wrapper or bare cell in float64 (return_sequences=True), stepped by hand as
    ncps's wrappers step (see ncps_oracle.py for why): the mixed-memory LSTM first, then the cell, then the
    projection."""
    cell: Any = getattr(module, "rnn_cell", module)
    head: Any = getattr(module, "fc", None)
    lstm: Any = getattr(module, "lstm", None) if getattr(module, "use_mixed", False) else None
    shape = (x.shape[0], int(getattr(module, "state_size")))  # noqa: B009 - typed as Tensor | Module
    h, c = torch.zeros(shape, dtype=torch.float64), torch.zeros(shape, dtype=torch.float64)
    ys = []
    with torch.no_grad():
        for t in range(x.shape[1]):
            inputs = torch.from_numpy(x[:, t].copy())
            if lstm is not None:
                h, c = lstm(inputs, (h, c))
            out, h = cell(inputs, h, torch.from_numpy(dt[:, t : t + 1].copy()))
            ys.append((out if head is None else head(out)).numpy().copy())
    return np.stack(ys, axis=1)


def write_files(entry: Entry, folder: Path) -> None:
    """What a user saves: the state_dict, IO.npz (x, dt and the model's outputs y in float64) and the
    inputs alone (data.npz) for calibration and verification."""
    module = make_module(entry)
    rng = np.random.default_rng(SEED)
    x = rng.normal(size=(SEQUENCES, STEPS, entry.inputs))
    dt = rng.uniform(0.5, 1.5, size=(SEQUENCES, STEPS))
    torch.save(module.state_dict(), folder / "sd.pt")
    np.savez(folder / "io.npz", x=x, dt=dt, y=torch_outputs(module, x, dt))
    np.savez(folder / "data.npz", x=x, dt=dt)


@dataclass
class HostResult:
    """What the host run of one entry measured."""

    options: dict[str, Any]
    reference_error: float
    errors: dict[str, float]
    bit_exact: dict[str, bool]
    passed: dict[str, bool]


def import_with_expect(folder: Path) -> tuple[dict[str, Any], float]:
    """``lnn-edge import sd.pt --expect io.npz`` with no option flags: the options found and the error."""
    code, _, err = invoke("import", folder / "sd.pt", "-o", folder / "m.lnn", "--expect", folder / "io.npz")
    assert code == 0, err
    verified = load(folder / "m.lnn").provenance["verified"]
    return dict(verified["options"]), float(verified["error"])


def bar_flags(bar: float | None) -> list[str]:
    """``--max-error`` for a raised error bar (export and verify judge by the same one)."""
    return ["--max-error", str(bar)] if bar is not None else []


def export_precision(folder: Path, precision: str, bar: float | None = None) -> Path:
    """``lnn-edge export m.lnn`` in ``precision``, calibrated on the inputs, elapsed time variable; it exits 0
    only when the error is within the precision's default bar (fixed16 1e-2, fixed32 1e-4, float32 1e-5) or
    ``bar``."""
    out = folder / precision
    code, _, err = invoke(
        "export", folder / "m.lnn", "-o", out, "--precision", precision, "--calib", folder / "data.npz",
        "--dt", "variable", *bar_flags(bar),
    )  # fmt: skip
    assert code == 0, err
    return out


def export_and_verify(folder: Path, precision: str, bar: float | None) -> dict[str, Any]:
    """Export, then host ``lnn-edge verify --json``: the C against the emulator and the float64 reference."""
    out = export_precision(folder, precision, bar)
    code, stdout, err = invoke("verify", out, "--data", folder / "data.npz", "--json", *bar_flags(bar))
    assert code in (0, 1), err  # 1 is a failed verdict, judged by the caller from the JSON
    result: dict[str, Any] = json.loads(stdout)
    return result


def run_host(entry: Entry, folder: Path) -> HostResult:
    write_files(entry, folder)
    options, reference_error = import_with_expect(folder)
    verdicts = {p: export_and_verify(folder, p, entry.error_bars.get(p)) for p in PRECISIONS}
    return HostResult(
        options=options,
        reference_error=reference_error,
        errors={p: float(v["outputs"]["max_abs_rel_range"]) for p, v in verdicts.items()},
        bit_exact={p: bool(v["bit_exact"]) for p, v in verdicts.items()},
        passed={p: bool(v["passed"]) for p, v in verdicts.items()},
    )


# --- the table ---------------------------------------------------------------------------------------------

HEADER = (
    "| configuration | source in ncps | import (options found by --expect) | reference error | fixed16 | fixed32 "
    "| float32 | host C = emulator | qemu-mps2-an386 | qemu-microbit |\n"
    "|---|---|---|---|---|---|---|---|---|---|"
)


def options_text(options: dict[str, Any]) -> str:
    return ", ".join(f"{name}={value}" for name, value in sorted(options.items()))


def board_text(entry: Entry, board: str) -> str:
    """The board column: what the representative set verifies there (every run must pass), else a dash."""
    precisions = entry.boards.get(board, ())
    if not precisions:
        return NONE
    refusals = entry.board_refusals.get(board, {})
    verified = [p for p in precisions if p not in refusals]
    parts = [f"bit-exact: {', '.join(verified)}"] if verified else []
    parts += [f"{p} refused: {refusals[p]}" for p in precisions if p in refusals]
    return "; ".join(parts)


def entry_cells(entry: Entry) -> list[str]:
    sources = "<br>".join(f"`{source}`" for source in entry.sources)
    return [f"`{entry.config}`", sources]


def host_row(entry: Entry, result: HostResult) -> str:
    exact = "yes" if all(result.bit_exact.values()) else "NO"
    cells = [
        *entry_cells(entry),
        options_text(result.options),
        reference_text(result.reference_error),
        *(error_text(entry, p, result.errors[p]) for p in PRECISIONS),
        exact,
        *(board_text(entry, board) for board in BOARDS),
    ]
    return "| " + " | ".join(cells) + " |"


def error_text(entry: Entry, precision: str, error: float) -> str:
    """A precision's error, and its bar where the entry raises it."""
    bar = entry.error_bars.get(precision)
    return significant(error) + (f" (bar {bar:g})" if bar is not None else "")


def page(rows: list[str]) -> str:
    return "\n".join(
        [
            "# ncps models: every configuration ncps builds, through lnn-edge",
            "",
            f"Every distinct PyTorch model configuration constructed in ncps's own tests, README, docs and examples "
            f"({len(CATALOGUE)}), as listed with its sources in "
            "`tests/ncps_catalogue.py`. Each one is built with seeded random parameters "
            f"(N(0, {SCALE})), saved as a state_dict with its float64 outputs on {SEQUENCES} random sequences of "
            f"{STEPS} steps (elapsed times in [0.5, 1.5]), imported with `lnn-edge import sd.pt -o m.lnn --expect "
            "io.npz` and no option flags, exported in each precision (`--calib` on the same inputs, `--dt variable`; "
            "the export must meet the precision's default error bar, or the one shown beside the error) and verified "
            "with `lnn-edge verify --json`.",
            "",
            "- *reference error*: the float64 reference against ncps (in double), max abs error over y's range "
            f"(below {ORACLE_BOUND:.0e}, rounding noise, only the bound is shown).",
            "- *fixed16, fixed32, float32*: the generated C's max abs output error against the float64 reference, "
            "over the output range (`outputs.max_abs_rel_range` of `lnn-edge verify --json`).",
            "- *host C = emulator*: outputs and state bit for bit, every step, in all three precisions.",
            "- *boards*: `lnn-edge verify --board B --json` for the representative set (board = host C = emulator, "
            f"bit for bit); {NONE} when the entry is not in that set.",
            "",
            "Not listed: the Keras/TensorFlow and Paddle code (ncps's `test_keras.py`, `test_tf.py`, the TF tabs and "
            "examples), a different implementation; the commented-out constructor in `test_torch.py`. Two examples "
            "predate ncps (`kerasncp.torch`): their models are given as the ncps class that replaced them.",
            "",
            "Line numbers refer to mlech26l/ncps at commit 695ec22 (1.0.1). The page is generated by "
            "`tests/test_ncps_catalogue.py`, which fails when a run disagrees with it; regenerate it with",
            "",
            "```",
            REGENERATE,
            "```",
            "",
            HEADER,
            *rows,
            "",
        ]
    )


def committed_row(entry: Entry) -> str:
    """The committed page's row for ``entry`` (found by its configuration cell)."""
    start = f"| `{entry.config}` |"
    rows = [line for line in DOCS.read_text().splitlines() if line.startswith(start)]
    assert len(rows) == 1, f"{DOCS} has {len(rows)} rows for {entry.config}; regenerate it: {REGENERATE}"
    return rows[0]


def cells(row: str) -> list[str]:
    return row.removeprefix("| ").removesuffix(" |").split(" | ")


# --- the tests ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", CATALOGUE, ids=lambda entry: entry.id)
def test_entry_imports_and_is_bit_exact_on_the_host(tmp_path: Path, entry: Entry) -> None:
    result = run_host(entry, tmp_path)
    assert result.reference_error <= ORACLE_BOUND, result.reference_error
    for precision in PRECISIONS:
        assert result.bit_exact[precision], precision
        assert result.passed[precision], (precision, result.errors[precision])
    assert host_row(entry, result) == committed_row(entry), f"{DOCS} is stale: {REGENERATE}"


def test_page_lists_the_catalogue_in_order() -> None:
    """The page's text and row order are the catalogue's (the rows' measured cells are checked per entry)."""
    text = DOCS.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert [row.split(" | ")[0] for row in rows] == [f"| `{entry.config}`" for entry in CATALOGUE]
    assert text == page(rows), f"{DOCS} is stale: {REGENERATE}"


@pytest.mark.qemu
@pytest.mark.parametrize(
    ("entry", "board", "precision"),
    ON_BOARDS,
    ids=[f"{entry.id}-{board.removeprefix('qemu-')}-{precision}" for entry, board, precision in ON_BOARDS],
)
def test_representative_entry_on_emulated_board(tmp_path: Path, entry: Entry, board: str, precision: str) -> None:
    """Board, host C and emulator agree bit for bit; what a board refuses today is refused with that reason."""
    write_files(entry, tmp_path)
    import_with_expect(tmp_path)
    out = export_precision(tmp_path, precision, entry.error_bars.get(precision))
    bar = entry.error_bars.get(precision)
    code, stdout, err = invoke(
        "verify", out, "--board", board, "--data", tmp_path / "data.npz", "--json", *bar_flags(bar)
    )
    if precision in entry.board_refusals.get(board, {}):
        assert code == 1 and DOES_NOT_FIT_ERROR in err, (stdout, err)
        return
    assert code == 0, err
    result = json.loads(stdout)
    assert result["passed"] and result["bit_exact"] and result["host_bit_exact"], result
    assert result["board"] == board and result["steps_done"] == SEQUENCES * STEPS
    assert board_text(entry, board) == cells(committed_row(entry))[BOARDS.index(board) - len(BOARDS)]


# --- regeneration ------------------------------------------------------------------------------------------


def write_page() -> None:
    """Run every entry on the host and write the page (the board columns follow from the catalogue: their
    tests must pass)."""
    rows = []
    for entry in CATALOGUE:
        print(entry.id, file=sys.stderr)
        with tempfile.TemporaryDirectory() as folder:
            rows.append(host_row(entry, run_host(entry, Path(folder))))
    DOCS.write_text(page(rows))
    print(f"wrote {DOCS}", file=sys.stderr)


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit(f"usage: {REGENERATE}")
    torch.set_num_threads(1)
    write_page()

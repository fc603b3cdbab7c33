"""The whole story on one command (``lnn-edge demo``, ``make demo``): train, export, verify, run on boards, bench.

Trains the default model (an LTC on AutoNCP(19,2), the pendulum task), exports it in fixed16 and float32,
verifies both on the host, builds and runs them on emulated boards (M4F: both precisions; M0 and RISC-V's
FE310, RV32IMAC: fixed16), verifies them over the serial line, counts instructions per step on every core, and
writes a report folder (Markdown and PNG plots) ending in one summary table. Rerunning reuses the trained model
and every cached build.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lnn_edge.atomic import atomic_file, check_dir_target, owned_dir, read_owned_files
from lnn_edge.bench.run import bench_export
from lnn_edge.codegen.export import Export, export
from lnn_edge.host.verify import default_sequences, verify_host
from lnn_edge.model.datafile import Sequences
from lnn_edge.model.model import Model
from lnn_edge.model.modelfile import load
from lnn_edge.outputs import TRAINING_FORMAT, is_training_history
from lnn_edge.plots import pyplot
from lnn_edge.reference import Reference
from lnn_edge.train.tasks import make_task

TASK = "pendulum"
DEMO_MANIFEST = "demo.json"
DEMO_FORMAT = "lnn-edge-demo"
REPORT_MANIFEST = "report.json"
REPORT_FORMAT = "lnn-edge-demo-report"
BOARDS = (
    ("qemu-mps2-an386", "fixed16"),
    ("qemu-mps2-an386", "float32"),
    ("qemu-microbit", "fixed16"),
    ("qemu-sifive-e", "fixed16"),
)
BENCH_CORES = ("cortex-m0", "cortex-m3", "cortex-m4f", "cortex-m7", "rv32imac")
PRECISIONS = ("fixed16", "float32")

Say = Callable[[str], None]


@dataclass
class DemoRow:
    """One line of the summary table."""

    target: str
    precision: str
    task_rmse: float | None
    bit_exact: bool | None
    max_abs_err: float | None
    instructions_per_step: float | None
    flash_bytes: int | None
    ram_bytes: int | None
    passed: bool


@dataclass
class DemoResult:
    directory: Path
    rows: list[DemoRow]
    train_seconds: float
    seconds: float
    images: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(row.passed for row in self.rows)


def _rmse(prediction: np.ndarray, target: np.ndarray) -> float:
    return float(np.sqrt(np.mean((prediction - target) ** 2)))


def trained_model(directory: Path, epochs: int, say: Say, progress: bool) -> tuple[Model, dict[str, Any]]:
    """Train the default model, or reuse the one a previous run wrote (same configuration)."""
    from lnn_edge.train.trainer import TrainConfig, train

    path = directory / "model.lnn"
    history_path = directory / "training.json"
    config = TrainConfig(cell="ltc", task=TASK, epochs=epochs, output=str(path))
    if path.is_file() and history_path.is_file():
        history = json.loads(history_path.read_text())
        if history.get("epochs") == epochs:
            say(f"reusing the trained model {path}")
            return load(path), history

    say(f"training an LTC on AutoNCP(19,2) for the '{TASK}' task ({epochs} epochs, about 5 minutes on 2 cores)")

    def report(epoch: Any) -> None:
        if progress:
            say(f"  epoch {epoch.epoch:>3}/{epoch.epochs}  train loss {epoch.train_loss:.4f}  "
                f"validation loss {epoch.val_loss:.4f}  {epoch.metric} {epoch.value:.4f}")  # fmt: skip

    result = train(config, progress=report)
    history = {
        "epochs": epochs,
        "train_losses": result.train_losses,
        "val_losses": result.val_losses,
        "metric": result.metric,
        "value": result.value,
        "r2": result.r2,
        "seconds": result.seconds,
    }
    with atomic_file(history_path, kind="training history", is_own=is_training_history) as tmp:
        tmp.write_text(json.dumps({"format": TRAINING_FORMAT, **history}, indent=2))
    return result.model, history


def claim_demo_dir(directory: Path) -> None:
    """Make ``directory`` the demo's: a new or empty folder, or one an earlier demo wrote (``demo.json``).
    Anything else is refused before any work, so that ``demo -o ~`` cannot touch a user's files."""
    check_dir_target(directory, DEMO_MANIFEST, DEMO_FORMAT, "demo")
    directory.mkdir(parents=True, exist_ok=True)
    with atomic_file(directory / DEMO_MANIFEST, kind="demo manifest", is_own=_is_demo_manifest) as tmp:
        tmp.write_text(json.dumps({"format": DEMO_FORMAT, "files": _demo_files()}, indent=2))


def _demo_files() -> list[str]:
    """What the demo writes in its folder; the exports (with their firmware folders) and the report are
    owned folders with manifests of their own."""
    return ["model.lnn", "model.ckpt.pt", "training.json", *(f"export-{p}" for p in PRECISIONS), "report"]


def _is_demo_manifest(path: Path) -> bool:
    return read_owned_files(path.parent, path.name, DEMO_FORMAT) is not None


def held_out_data(seed: int = 4242, sequences: int = 4, steps: int = 64) -> tuple[Sequences, np.ndarray]:
    """Held-out pendulum sequences (raw units) and their true targets."""
    data = make_task(TASK, samples=sequences, seq_len=steps, seed=seed)
    return Sequences(x=data.x, dt=data.elapsed()), data.y


def run_demo(directory: Path, epochs: int = 40, say: Say = print, progress: bool = True) -> DemoResult:
    """Run every stage; return the summary rows (also written to ``directory/report``)."""
    started = time.monotonic()
    claim_demo_dir(directory)
    model, history = trained_model(directory, epochs, say, progress)
    sequences, targets = held_out_data()
    y_ref, _ = Reference(model).run(sequences.x, sequences.dt)
    rows = [DemoRow("Python float64 reference", "float64", _rmse(y_ref, targets), None, None, None, None, None, True)]
    exports: dict[str, Export] = {}
    traces: dict[str, np.ndarray] = {"reference": y_ref, "dt": sequences.dt, "target": targets}
    for precision in PRECISIONS:
        say(f"exporting {precision} C")
        exports[precision] = export(model, directory / f"export-{precision}", precision, name="pendulum")
        host = verify_host(exports[precision], sequences)
        traces[f"host C {precision}"] = host.traces["host C"]
        memory = exports[precision].manifest["memory"]
        rows.append(DemoRow(
            f"host C (gcc), {precision}", precision, _rmse(host.traces["host C"], targets), host.bit_exact,
            host.outputs.max_abs, None, memory["params"], memory["state"], host.passed,
        ))  # fmt: skip
        say(f"  host: C == emulator bit for bit: {host.bit_exact}; max abs error vs float64 {host.outputs.max_abs:.2e}")
    benches: dict[tuple[str, str], Any] = {}
    for precision in PRECISIONS:
        for core in BENCH_CORES:
            benches[(precision, core)] = bench_export(
                exports[precision], core, default_sequences(exports[precision], 10)
            )
    for board, precision in BOARDS:
        row, trace = board_row(exports[precision], board, sequences, targets, benches, say)
        rows.append(row)
        traces[f"board {board} {precision}"] = trace
    result = DemoResult(directory, rows, float(history.get("seconds", 0.0)), time.monotonic() - started)
    result.images = write_report(directory / "report", result, history, traces, benches)
    return result


def board_row(
    exported: Export,
    board: str,
    sequences: Sequences,
    targets: np.ndarray,
    benches: dict[tuple[str, str], Any],
    say: Say = print,
) -> tuple[DemoRow, np.ndarray]:
    """Run ``exported`` on the emulated ``board`` (QEMU), verify it over the serial line, and make its summary row:
    the task error of the board's outputs, the exact instructions per step of its core (from ``benches`` when
    the demo counted that core already) and the whole firmware's flash and RAM. Returns the row and the board's
    output trace."""
    from lnn_edge.target.boards import load_board
    from lnn_edge.target.build import build_firmware
    from lnn_edge.target.verify import verify_on_board

    precision = exported.qmodel.precision
    say(f"running {precision} on {board} (QEMU) and verifying over the serial line")
    checked = verify_on_board(exported, sequences, board)
    size = build_firmware(exported.directory, load_board(board)).size
    core = load_board(board).core
    bench = benches.get((precision, core)) or bench_export(exported, core, default_sequences(exported, 10))
    row = DemoRow(
        f"{board} ({core}), {precision}", precision, _rmse(checked.traces["board"], targets), checked.bit_exact,
        checked.outputs.max_abs, bench.instructions_per_step, size.flash_used, size.ram_used, checked.passed,
    )  # fmt: skip
    say(f"  board == host C == emulator: {checked.bit_exact}; {checked.cycles_per_step:,.0f} "
        f"{checked.cycles_kind} ticks per step")  # fmt: skip
    return row, checked.traces["board"]


def summary_table(rows: list[DemoRow]) -> str:
    """The closing table (Markdown, also readable on a terminal)."""

    def fmt(value: Any, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    lines = [
        "| where | task RMSE | bit-exact | max abs err vs float64 | instructions/step | flash (B) | RAM (B) "
        "| verdict |",
        "|---|---:|---|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        exact = "-" if row.bit_exact is None else ("yes" if row.bit_exact else "NO")
        lines.append(
            f"| {row.target} | {fmt(row.task_rmse, '.5f')} | {exact} | {fmt(row.max_abs_err, '.2e')} "
            f"| {fmt(row.instructions_per_step, ',.0f')} | {fmt(row.flash_bytes, ',')} | {fmt(row.ram_bytes, ',')} "
            f"| {'PASS' if row.passed else 'FAIL'} |"
        )
    return "\n".join(lines)


def write_report(
    folder: Path, result: DemoResult, history: dict[str, Any], traces: dict[str, np.ndarray], benches: dict[Any, Any]
) -> list[str]:
    """Markdown report and PNG plots: training loss, traces, error over time, instructions per step per core.

    The folder is lnn-edge's own (``report.json`` lists its files): it is written as a whole, never over a
    folder of the user's."""
    with owned_dir(folder, REPORT_MANIFEST, REPORT_FORMAT, "demo report") as staging:
        images = _write_report_files(staging, result, history, traces, benches)
        files = sorted([*images, "README.md"])
        (staging / REPORT_MANIFEST).write_text(json.dumps({"format": REPORT_FORMAT, "files": files}, indent=2))
    return images


def _write_report_files(
    folder: Path, result: DemoResult, history: dict[str, Any], traces: dict[str, np.ndarray], benches: dict[Any, Any]
) -> list[str]:
    plt = pyplot()

    images = []
    figure, axis = plt.subplots(figsize=(7, 3.5))
    axis.plot(history["train_losses"], label="training")
    axis.plot(history["val_losses"], label="validation")
    axis.set_xlabel("epoch")
    axis.set_ylabel("loss (normalized MSE)")
    axis.set_yscale("log")
    axis.legend()
    figure.tight_layout()
    figure.savefig(folder / "training-loss.png", dpi=90)
    plt.close(figure)
    images.append("training-loss.png")

    time_axis = np.cumsum(traces["dt"][0])
    candidates = {name: values for name, values in traces.items() if name not in ("reference", "dt", "target")}
    figure, axes = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    for k, axis in enumerate(axes):
        axis.plot(time_axis, traces["target"][0, :, k], color="0.6", linewidth=4.0, label="true pendulum")
        axis.plot(time_axis, traces["reference"][0, :, k], color="black", linewidth=2.0, label="Python float64")
        for name, values in candidates.items():
            axis.plot(time_axis, values[0, :, k], linestyle="--", linewidth=1.0, label=name)
        axis.set_ylabel(["angle (rad)", "angular velocity (rad/s)"][k])
    axes[0].legend(fontsize="small")
    axes[-1].set_xlabel("time (s)")
    figure.tight_layout()
    figure.savefig(folder / "traces.png", dpi=90)
    plt.close(figure)
    images.append("traces.png")

    figure, axis = plt.subplots(figsize=(9, 3.5))
    for name, values in candidates.items():
        error = np.abs(values[0] - traces["reference"][0]).max(axis=1)
        axis.semilogy(time_axis, np.maximum(error, 1e-12), label=name)
    axis.set_xlabel("time (s)")
    axis.set_ylabel("max abs error vs float64")
    axis.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(folder / "error.png", dpi=90)
    plt.close(figure)
    images.append("error.png")

    figure, axis = plt.subplots(figsize=(7, 3.5))
    width = 0.38
    for offset, precision in enumerate(PRECISIONS):
        counts = [benches[(precision, core)].instructions_per_step for core in BENCH_CORES]
        axis.bar(np.arange(len(BENCH_CORES)) + (offset - 0.5) * width, counts, width, label=precision)
    axis.set_xticks(range(len(BENCH_CORES)), [c.replace("cortex-", "").upper() for c in BENCH_CORES])
    axis.set_yscale("log")
    axis.set_ylabel("instructions per step")
    axis.legend()
    figure.tight_layout()
    figure.savefig(folder / "instructions.png", dpi=90)
    plt.close(figure)
    images.append("instructions.png")

    bench_lines = ["| core | " + " | ".join(PRECISIONS) + " |", "|---|" + "---:|" * len(PRECISIONS)]
    for core in BENCH_CORES:
        cells = " | ".join(f"{benches[(p, core)].instructions_per_step:,.0f}" for p in PRECISIONS)
        bench_lines.append(f"| {core} | {cells} |")
    text = [
        "# lnn-edge demo report",
        "",
        f"Model: LTC on AutoNCP(19,2), task '{TASK}' (angle and angular velocity of a damped driven pendulum from its "
        f"torque and a noisy angle sensor, irregular sampling). Training: {history['metric']} {history['value']:.4f} "
        f"(R^2 {history.get('r2') or 0:.3f}) in {history.get('seconds', 0):.0f} s. Whole demo: {result.seconds:.0f} s.",
        "",
        "## Summary",
        "",
        summary_table(result.rows),
        "",
        "Task RMSE is measured on 4 held-out sequences of 64 steps against the true targets, in raw units.",
        "",
        "## Instructions per step (exact, Unicorn; the step image of each core)",
        "",
        "\n".join(bench_lines),
        "",
        *[f"![{name}]({name})" for name in images],
        "",
    ]
    (folder / "README.md").write_text("\n".join(text))
    return images

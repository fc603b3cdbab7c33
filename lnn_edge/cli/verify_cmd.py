"""``lnn-edge verify``: prove the generated C computes what Python computes, on the host or on a board."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import numpy as np

from lnn_edge.cli.common import note_unlisted, print_json
from lnn_edge.codegen.export import Export, load_export
from lnn_edge.errors import LnnEdgeError
from lnn_edge.host.verify import HostVerification, default_labels, default_sequences, resize, verify_host
from lnn_edge.model.datafile import Sequences
from lnn_edge.plots import plot_traces
from lnn_edge.quant.report import Policy, load_labelled
from lnn_edge.target.boards import load_board
from lnn_edge.target.serial_host import DEFAULT_RETRIES, DEFAULT_TIMEOUT
from lnn_edge.target.verify import BoardVerification, verify_on_board, verify_on_port


def format_verification(result: HostVerification) -> str:
    o, s = result.outputs, result.state
    rows = [
        ("backend", "host C (gcc, cffi)"),
        ("precision", result.precision),
        ("data", f"{result.sequences} sequences x {result.steps} steps"),
        ("C == emulator",
         "bit-exact (outputs and state, every step)" if result.bit_exact else f"NO: {result.mismatch}"),
        ("outputs vs float64", f"max abs {o.max_abs:.3g} ({o.max_abs_rel_range:.2e} of range), RMSE {o.rmse:.3g}, "
                               f"MAE {o.mae:.3g}, rel L2 {o.rel_l2:.3g}, cosine {o.cosine:.8f}"),
        ("state vs float64", f"max abs {s.max_abs:.3g}, RMSE {s.rmse:.3g}"),
        ("max error", f"max abs / range <= {result.threshold:g}: "
                      f"{'met' if o.max_abs_rel_range <= result.threshold else 'MISSED'}"
                      f"{'' if result.error_judged else ' (reported only: the task metric decides)'}"),
        ("internal saturations", str(result.saturations)),
        ("inputs clamped", _clamped_text(result) + (" (fails: --strict)" if result.strict else " (reported only)")),
    ]  # fmt: skip
    if result.task is not None:
        rows.append(_task_row(result, "host C"))
    width = max(len(label) for label, _ in rows)
    lines = [f"{label:<{width}}  {value}" for label, value in rows]
    lines.extend(f"  {event}" for event in result.first_input_saturations[:3])
    lines.append("output error measured against float64 on the same inputs clamped to their formats")
    lines.append("PASS" if result.passed else "FAIL: " + "; ".join(result.failures))
    return "\n".join(lines)


def _task_row(result: HostVerification, who: str) -> tuple[str, str]:
    """The task metric of float64 and of ``who`` side by side, its loss and the bar it is judged against."""
    assert result.task is not None
    ref, cand = result.task.reference, result.task.candidate
    shown = ", ".join(f"{k} float64 {ref[k]:.4g} / {who} {cand[k]:.4g}" for k in ref)
    default = ", the default with class labels" if result.metric_by_default else ""
    limit = "" if result.max_metric_loss is None else f" (max {result.max_metric_loss:g}{default})"
    return f"task ({result.task.kind})", f"{shown}; loss {result.task.loss:.4g}{limit}"


def _clamped_text(result: HostVerification) -> str:
    counts = result.input_saturations
    return ", ".join(f"{name} {count}" for name, count in counts.items()) if counts else "none"


def _board_agreement(result: BoardVerification) -> str:
    if result.mismatch is not None:
        return f"NO: {result.mismatch}"
    if result.failure is not None:
        return f"bit-exact over the {result.steps_done} steps it answered"
    return "bit-exact (outputs and state, every step)"


def format_board_verification(result: BoardVerification) -> str:
    host = result.host
    o = result.outputs
    link = result.link
    ran = result.ran_cycles
    low, high = (int(ran.min()), int(ran.max())) if ran.size else (0, 0)
    cycles = f"{result.cycles_per_step:.0f} per step (min {low}, max {high}; {result.cycles_kind}"
    if result.instructions_per_tick is not None:
        cycles += f", ~{result.cycles_per_step * result.instructions_per_tick:.0f} instructions"
    rows = [
        ("board", f"{result.board} ({result.core}, {result.device.clock_hz / 1e6:g} MHz) at {result.url}"),
        ("precision", host.precision),
        ("data", f"{host.sequences} sequences x {host.steps} steps"),
        ("host C == emulator", "bit-exact" if host.bit_exact else f"NO: {host.mismatch}"),
        ("board == host C == emulator", _board_agreement(result)),
        ("board outputs vs float64",
         f"max abs {o.max_abs:.3g} ({o.max_abs_rel_range:.2e} of range), RMSE {o.rmse:.3g}"),
        ("threshold", f"max abs / range <= {host.threshold:g}"
                      f"{'' if host.error_judged else ' (reported only: the task metric decides)'}"),
        ("inputs clamped", _clamped_text(host) + (" (fails: --strict)" if host.strict else " (reported only)")),
        ("cycles", cycles + ")"),
        ("link", f"{link.requests} requests, {link.retries} retries, {link.corrupted} corrupted frames, "
                 f"{link.timeouts} time-outs, {link.reboots} restarts, {result.seconds:.1f} s"),
    ]  # fmt: skip
    if host.task is not None:
        # The host C's figures are the board's only when every step matched bit for bit.
        rows.append(_task_row(host, "board (= host C)" if result.bit_exact and result.failure is None else "host C"))
    if result.failure is not None:
        rows.append(("board misbehaved", result.failure))
    width = max(len(label) for label, _ in rows)
    lines = [f"{label:<{width}}  {value}" for label, value in rows]
    lines.append("PASS" if result.passed else "FAIL" + (": " + "; ".join(host.failures) if host.failures else ""))
    return "\n".join(lines)


@click.command("verify")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    default=None,
    help="Test .npz ('x', optional 'dt', optional labels 'y' for the task metric), e.g. --data test.npz.",
)
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Steps per sequence (repeat or cut the data).")
@click.option(
    "--max-error",
    "max_error",
    type=click.FloatRange(min=0),
    default=None,
    metavar="REL",
    help="Max abs output error as a fraction of the output range (default fixed16 1e-2, fixed32 1e-4, float32 "
    "1e-5), e.g. --max-error 0.02.",
)
@click.option("--threshold", "threshold_alias", type=click.FloatRange(min=0), default=None, hidden=True)  # old name
@click.option("--strict", is_flag=True, help="Also fail when an input is clamped at its range, e.g. --strict.")
@click.option(
    "--max-metric-loss",
    type=click.FloatRange(min=0),
    default=None,
    metavar="X",
    help="With --data holding 'y': fail if the task metric drops by more than X (0.01 = 1 accuracy point, or "
    "relative RMSE); the output error is then judged only if --max-error is given, e.g. --max-metric-loss 0.01.",
)
@click.option(
    "--plot", "plot_path", type=click.Path(path_type=Path), default=None, help="Write a PNG of traces and error."
)
@click.option(
    "--port", default=None, help="Verify on the board at this pyserial URL (/dev/ttyACM0, socket://host:port)."
)
@click.option(
    "--board",
    default=None,
    help="Verify on this board: emulated boards are built and run in QEMU; with --port, the expected board.",
)
@click.option("--baud", type=int, default=115200, show_default=True, help="Baud rate for --port serial devices.")
@click.option("--timeout", type=click.FloatRange(min=0.01), default=DEFAULT_TIMEOUT, show_default=True,
              help="Seconds to wait for each answer before retrying.")  # fmt: skip
@click.option("--retries", type=click.IntRange(min=0), default=DEFAULT_RETRIES, show_default=True,
              help="Retries per request (time-outs, corrupted frames) before giving up.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def command(
    directory: Path, data: Path | None, steps: int | None, max_error: float | None, threshold_alias: float | None,
    strict: bool,
    max_metric_loss: float | None, plot_path: Path | None, port: str | None, board: str | None, baud: int,
    timeout: float, retries: int, as_json: bool,
) -> None:  # fmt: skip
    """Verify the export in DIRECTORY: C vs emulator bit for bit, C vs the float64 reference.

    With --port or --board the model also runs on a board, step by step over the serial protocol, and the
    board, the host C and the emulator must agree bit for bit on outputs and state at every step. Without
    --data the model's calibration sample is used (or random inputs), with its class labels when the trainer
    stored them. The output error is measured against float64 on the same inputs clamped to their formats;
    clamped inputs are reported per input and fail only with --strict; internal saturation always fails. With
    class labels and neither --max-error nor --max-metric-loss, accuracy decides (at most 1 point lost) and the
    output error is reported. On a board the verdict is the host's plus board == host C bit for bit. Exit code 1
    on failure.

    \b
    Examples:
      lnn-edge verify out/pendulum
      lnn-edge verify out/pendulum --data test.npz --steps 1000 --plot verify.png --json
      lnn-edge verify out/imu --data test.npz --max-error 0.02 --max-metric-loss 0.01 --strict
      lnn-edge verify out/pendulum --board qemu-mps2-an386 --json
      lnn-edge verify out/imu --board qemu-mps2-an386 --data test.npz --max-metric-loss 0.01 --strict
      lnn-edge verify out/pendulum --port /dev/ttyACM0 --board nucleo-f401re
    """
    export = load_export(directory)
    note_unlisted(export)
    model = export.qmodel.model
    labels = None
    if data is not None:
        loaded, labels = load_labelled(data, model)
        if labels is not None and steps is not None:
            raise LnnEdgeError(f"--steps cannot resize {data}: it holds labels 'y' for its own length")
        sequences = resize(loaded, steps)
    else:
        sequences = default_sequences(export, steps)
        labels = default_labels(export, steps)
    threshold = max_error if max_error is not None else threshold_alias
    policy = Policy(max_error=threshold, strict=strict, max_metric_loss=max_metric_loss)
    if port is None and board is None:
        result = verify_host(export, sequences, threshold, policy, labels)
        title = f"{export.name} ({result.precision}): host C vs float64 reference"
        _finish(result, format_verification(result), plot_path, title, ("reference", "host C", "dt"), as_json)
        return
    _verify_board(export, sequences, threshold, policy, labels, plot_path, port, board, baud, timeout, retries, as_json)


def _verify_board(
    export: Export, sequences: Sequences, threshold: float | None, policy: Policy, labels: np.ndarray | None,
    plot_path: Path | None, port: str | None, board_name: str | None, baud: int, timeout: float, retries: int,
    as_json: bool,
) -> None:  # fmt: skip
    board = load_board(board_name) if board_name is not None else None
    if port is None and board is not None and not board.emulated:
        raise LnnEdgeError(f"board {board.name} is real hardware: flash it (lnn-edge flash {export.directory} "
                           f"--board {board.name}) and pass its serial device with --port")  # fmt: skip
    total = int(sequences.x.shape[0] * sequences.x.shape[1])
    show = sys.stderr.isatty()
    with click.progressbar(length=total, label="steps on the board", file=sys.stderr, hidden=not show) as bar:
        last = [0]

        def advance(done: int) -> None:
            bar.update(done - last[0])
            last[0] = done

        if port is not None:
            result = verify_on_port(export, sequences, port, threshold, board=board, baud=baud,
                                    timeout=timeout, retries=retries, on_step=advance, policy=policy,
                                    labels=labels)  # fmt: skip
        else:
            assert board is not None
            result = verify_on_board(export, sequences, board, threshold, timeout=timeout,
                                     retries=retries, on_step=advance, policy=policy, labels=labels)  # fmt: skip
    title = f"{export.name} ({result.host.precision}) on {result.board} vs float64 reference"
    keep = ("reference", "host C", "board", "dt")
    _finish(result, format_board_verification(result), plot_path, title, keep, as_json)


def _finish(
    result: HostVerification | BoardVerification, text: str, plot_path: Path | None, title: str,
    traces: tuple[str, ...], as_json: bool,
) -> None:  # fmt: skip
    """Plot the chosen traces, print the table or the JSON, and exit 1 unless the verification passed."""
    if plot_path is not None:
        plot_traces(plot_path, {k: v for k, v in result.traces.items() if k in traces}, title)
    if as_json:
        print_json(result.as_dict())
    else:
        click.echo(text)
    if not result.passed:
        raise SystemExit(1)

"""``lnn-edge verify``: prove the generated C computes what Python computes (host; boards join later)."""

from __future__ import annotations

from pathlib import Path

import click

from lnn_edge.cli.common import print_json
from lnn_edge.datafile import load_inputs
from lnn_edge.export import load_export
from lnn_edge.plots import plot_traces
from lnn_edge.verify_host import HostVerification, default_sequences, resize, verify_host


def format_verification(result: HostVerification) -> str:
    o, s = result.outputs, result.state
    rows = [
        ("backend", "host C (gcc, cffi)"),
        ("precision", result.precision),
        ("data", f"{result.sequences} sequences x {result.steps} steps"),
        ("C == emulator", "bit-exact (outputs and state, every step)" if result.bit_exact else f"NO: {result.mismatch}"),
        ("outputs vs float64", f"max abs {o.max_abs:.3g} ({o.max_abs_rel_range:.2e} of range), RMSE {o.rmse:.3g}, "
                               f"MAE {o.mae:.3g}, rel L2 {o.rel_l2:.3g}, cosine {o.cosine:.8f}"),
        ("state vs float64", f"max abs {s.max_abs:.3g}, RMSE {s.rmse:.3g}"),
        ("threshold", f"max abs / range <= {result.threshold:g}"),
        ("saturations", str(result.saturations)),
    ]  # fmt: skip
    width = max(len(label) for label, _ in rows)
    lines = [f"{label:<{width}}  {value}" for label, value in rows]
    lines.append("PASS" if result.passed else "FAIL")
    return "\n".join(lines)


@click.command("verify")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--data", type=click.Path(path_type=Path), default=None, help="Test inputs .npz ('x', optional 'dt').")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Steps per sequence (repeat or cut the data).")
@click.option("--threshold", type=float, default=None, help="Max abs output error as a fraction of the output range.")
@click.option("--plot", "plot_path", type=click.Path(path_type=Path), default=None, help="Write a PNG of traces and error.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def command(
    directory: Path, data: Path | None, steps: int | None, threshold: float | None, plot_path: Path | None, as_json: bool
) -> None:
    """Verify the export in DIRECTORY on the host: C vs emulator bit for bit, C vs the float64 reference.

    Without --data the model's calibration sample is used (or random inputs). Exit code 1 on failure.

    \b
    Examples:
      lnn-edge verify out/pendulum
      lnn-edge verify out/pendulum --data test.npz --steps 1000 --plot verify.png --json
    """
    export = load_export(directory)
    model = export.qmodel.model
    if data is not None:
        sequences = resize(load_inputs(data, model.input_size, model.dt), steps)
    else:
        sequences = default_sequences(export, steps)
    result = verify_host(export, sequences, threshold)
    if plot_path is not None:
        plot_traces(plot_path, {k: v for k, v in result.traces.items() if k != "emulator"},
                    f"{export.name} ({result.precision}): host C vs float64 reference")  # fmt: skip
    if as_json:
        print_json(result.as_dict())
    else:
        click.echo(format_verification(result))
    if not result.passed:
        raise SystemExit(1)

"""``lnn-edge quantize``: a float model -> a quantized model file and a report of what it costs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import numpy as np

from lnn_edge.atomic import atomic_file, check_file_target
from lnn_edge.cli.common import print_json
from lnn_edge.codegen.render import memory
from lnn_edge.errors import LnnEdgeError
from lnn_edge.model.datafile import Sequences
from lnn_edge.model.modelfile import load
from lnn_edge.model.ranges import declare_ranges
from lnn_edge.outputs import REPORT_FORMAT, is_model_file, is_quantization_report
from lnn_edge.quant.calibration import HEADROOM, CalibrationStats, calibration_for
from lnn_edge.quant.qmodel import PRECISIONS
from lnn_edge.quant.qmodelfile import save_quantized
from lnn_edge.quant.quantize import quantize
from lnn_edge.quant.report import Policy, labelled_arrays, load_labelled, quantization_report


def _parse_overrides(items: tuple[str, ...]) -> dict[str, int]:
    overrides = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            overrides[name.strip()] = int(value)
        except ValueError:
            raise LnnEdgeError(f"--format {item!r}: expected NAME=FRACTIONAL_BITS, e.g. --format g=10") from None
    return overrides


def split_calibration(
    calib: CalibrationStats,
) -> tuple[CalibrationStats, tuple[np.ndarray, np.ndarray, np.ndarray | None] | None]:
    """Hold out the last quarter of the sequences (when there are at least 4) to measure error honestly.

    Bounds that came from the sample alone are recomputed from the rest, so the held-out part tests them;
    declared ranges and whole-data statistics already cover every sequence and are kept. The held-out part is
    ``(x, dt, labels)``, labels None when the calibration has none."""
    x, dt = calib.sequences.x, calib.sequences.dt
    if x.shape[0] < 4:
        return calib, None
    cut = x.shape[0] - x.shape[0] // 4
    head = Sequences(x=x[:cut], dt=dt[:cut])
    from_head = abs(head.x).max(axis=(0, 1)) * HEADROOM
    sources = calib.x_sources or ["sample"] * x.shape[2]
    bound = np.where([source == "sample" for source in sources], from_head, calib.x_absmax)
    fitted = CalibrationStats(
        sequences=head,
        x_absmax=bound,
        dt_min=min(calib.dt_min, float(head.dt.min())),
        dt_max=max(calib.dt_max, float(head.dt.max())) if calib.x_sources else float(head.dt.max()),
        source=calib.source,
        x_sources=sources,
        labels=None if calib.labels is None else calib.labels[:cut],
    )
    return fitted, (x[cut:], dt[cut:], None if calib.labels is None else calib.labels[cut:])


def format_report(report: dict[str, Any]) -> str:
    """The report as a terminal table."""
    lines = [f"precision {report['precision']}, parameters {report['parameter_bytes']} B (flash, as exported)"]
    if report["formats"]:
        lines.append(f"{'format':<8} {'Q':>4} {'bound':>11} {'source':<12} {'lsb':>10}")
        for row in report["formats"]:
            bound = "-" if row["bound"] is None else f"{row['bound']:.4g}"
            lines.append(f"{row['name']:<8} {row['frac_bits']:>4} {bound:>11} {row['source']:<12} {row['lsb']:>10.3g}")
    for name, values in report["per_feature"].items():
        lines.append(f"{name}: {values}")
    for row in report.get("input_ranges", []):
        low, high = row["representable"]
        lines.append(f"input {row['name']}: |x| <= {row['bound']:.4g} ({row['source']}), holds {low:.4g}..{high:.4g}")
    lines.append(
        f"{'data':<12} {'seqs':>5} {'steps':>6} {'max abs':>10} {'/range':>9} {'rmse':>10} {'cosine':>10} {'sat':>5}"
    )
    for e in report["evaluations"]:
        lines.extend(_evaluation_lines(e))
    lines.append(f"output error measured against float64 on the same {report['error_measured_on']}")
    lines.append(verdict_line(report))
    return "\n".join(lines)


def _evaluation_lines(e: dict[str, Any]) -> list[str]:
    o = e["outputs"]
    lines = [
        f"{e['name']:<12} {e['sequences']:>5} {e['steps']:>6} {o['max_abs']:>10.3g} {o['max_abs_rel_range']:>9.2e} "
        f"{o['rmse']:>10.3g} {o['cosine']:>10.7f} {e['saturations']:>5}"
    ]
    lines.extend(f"  internal saturation: {event}" for event in e["first_saturations"][:3])
    if e["input_saturations"]:
        counts = ", ".join(f"{name} {count}" for name, count in e["input_saturations"].items())
        lines.append(f"  inputs clamped at their range: {counts}")
        lines.extend(f"    {event}" for event in e["first_input_saturations"][:3])
    task = e.get("task")
    if task is not None:
        ref, cand = task["reference"], task["candidate"]
        shown = "  ".join(f"{k} float64 {ref[k]:.4g} quantized {cand[k]:.4g}" for k in ref)
        lines.append(f"  task ({task['kind']}): {shown} (loss {task['loss']:.4g})")
    return lines


def verdict_line(report: dict[str, Any]) -> str:
    if report.get("error_judged", True):
        rule = f"max abs output error / range <= {report['threshold_max_abs_rel_range']:g}, no internal saturation"
    else:
        rule = "no internal saturation (output error reported, not judged: the task metric decides)"
    if report["strict"]:
        rule += ", no clamped input (--strict)"
    if report["max_metric_loss"] is not None:
        rule += f", task metric loss <= {report['max_metric_loss']:g}"
        if report.get("metric_by_default"):
            rule += " (default with class labels; --max-error judges the output error too)"
    if report["passed"]:
        return f"PASS: {rule}"
    return f"FAIL: {rule}\n" + "\n".join(f"  {reason}" for reason in report["failures"])


def range_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--input-range`` and ``--output-range``, repeatable."""
    command = click.option(
        "--output-range", "output_ranges", multiple=True, metavar="NAME=LO:HI",
        help="Declare an output's range (name or index), stored in the model, e.g. --output-range y0=-1:1.",
    )(command)  # fmt: skip
    return click.option(
        "--input-range", "input_ranges", multiple=True, metavar="NAME=LO:HI",
        help="Declare a sensor's full scale (name or index; repeatable), stored in the model; wins over "
        "calibration, e.g. --input-range acc_x=-16:16 --input-range 3=-2000:2000.",
    )(command)  # fmt: skip


def data_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--data``: labelled test data for the error and the task metric."""
    return click.option(
        "--data", type=click.Path(path_type=Path), default=None,
        help="Test .npz ('x', optional 'dt', optional 'y': class ids [N] or [N,T], or targets [N,T,O]) to measure "
        "error and the task metric on, e.g. --data test.npz.",
    )(command)  # fmt: skip


def policy_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--max-error``, ``--strict``, ``--data`` and ``--max-metric-loss``: what makes the verdict."""
    command = click.option(
        "--max-metric-loss", type=click.FloatRange(min=0), default=None, metavar="X",
        help="With labelled data: fail if the quantized model loses more than X of the task metric "
        "(accuracy fraction, or relative RMSE increase); the output error is then judged only if --max-error is "
        "given. Default for a classifier with labels (stored with its sample, or y in --data) and no --max-error: "
        "0.01. E.g. --max-metric-loss 0.02.",
    )(command)  # fmt: skip
    command = click.option(
        "--strict", is_flag=True,
        help="Also fail when an input is clamped at its range (default: report it), e.g. --strict.",
    )(command)  # fmt: skip
    return click.option(
        "--max-error", type=click.FloatRange(min=0), default=None, metavar="REL",
        help="Max abs output error as a fraction of the output range (default fixed16 1e-2, fixed32 1e-4, "
        "float32 1e-5), e.g. --max-error 0.02.",
    )(command)  # fmt: skip


@click.command("quantize")
@click.argument("model", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="Quantized model file to write.")
@click.option("--precision", type=click.Choice(PRECISIONS), required=True, help="Number format of the deployed model.")
@click.option(
    "--calib",
    type=click.Path(path_type=Path),
    default=None,
    help="Calibration .npz ('x', optional 'dt'); default: the sample stored in MODEL.",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Also write the report as JSON.",
)
@click.option("--format", "formats", multiple=True, metavar="NAME=BITS", help="Override a format's fractional bits.")
@data_option
@range_options
@policy_options
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of a table.")
def command(
    model: Path, output: Path, precision: str, calib: Path | None, report_path: Path | None,
    formats: tuple[str, ...], data: Path | None, input_ranges: tuple[str, ...], output_ranges: tuple[str, ...],
    max_error: float | None, strict: bool, max_metric_loss: float | None, as_json: bool,
) -> None:  # fmt: skip
    """Quantize MODEL to float32, fixed16 or fixed32 and report the error against the float64 reference.

    Formats come from provable bounds (the LTC state never leaves max|vleak|, |erev|), the parameters, and
    calibration: a declared range (--input-range) wins, else the model's stored statistics (or all of --calib),
    else the stored sample, with a headroom margin. The last quarter of the calibration sequences (4 or more) is
    held out to measure the error, against float64 run on the same inputs clamped to their formats. Exit code 1
    when the error exceeds --max-error, internal values saturate, the task metric drops by more than
    --max-metric-loss, or (with --strict) an input was clamped. Clamped inputs are otherwise only reported. A
    classifier with labels (the trainer stores its sample's; or y in --data) is judged by accuracy unless
    --max-error is given: at most 1 point lost, the output error reported beside it.

    \b
    Examples:
      lnn-edge quantize pendulum.lnn -o pendulum-q16.lnn --precision fixed16
      lnn-edge quantize my.lnn -o my-q32.lnn --precision fixed32 --calib inputs.npz --report q.json
      lnn-edge quantize my.lnn -o my-q16.lnn --precision fixed16 --format g=10
      lnn-edge quantize imu.lnn -o imu-q16.lnn --precision fixed16 --input-range acc_x=-16:16 --input-range 3=-2000:2000
      lnn-edge quantize imu.lnn -o imu-q16.lnn --precision fixed16 --data test.npz --max-metric-loss 0.01
      lnn-edge quantize imu.lnn -o imu-q16.lnn --precision fixed16 --max-error 0.02 --strict
    """
    check_file_target(output, "model file", is_model_file)  # before the work, not after it
    if report_path is not None:
        check_file_target(report_path, "quantization report", is_quantization_report)
    net = load(model)
    declare_ranges(net, input_ranges, output_ranges)
    labelled = load_labelled(data, net) if data is not None else None
    stats, held_out = None, None
    if precision != "float32" or calib is not None or net.calibration is not None:
        stats, held_out = split_calibration(calibration_for(net, calib))
    qmodel = quantize(net, precision, stats, _parse_overrides(formats))
    policy = Policy(max_error=max_error, strict=strict, max_metric_loss=max_metric_loss)
    parameter_bytes = memory(qmodel).params  # what an export of it declares, as its header will say
    report = quantization_report(qmodel, stats, held_out, policy, labelled_arrays(labelled), parameter_bytes)
    save_quantized(qmodel, output)
    if report_path is not None:
        with atomic_file(report_path, kind="quantization report", is_own=is_quantization_report) as tmp:
            tmp.write_text(json.dumps({"format": REPORT_FORMAT, **report}, indent=2, sort_keys=True))
    if as_json:
        print_json({"output": str(output), **report})
    else:
        click.echo(format_report(report))
        click.echo(f"wrote {output}")
    if not report["passed"]:
        click.echo(
            f"error: the {precision} model fails the verdict ({'; '.join(report['failures'])}); "
            f"{output} was written for inspection",
            err=True,
        )
        raise SystemExit(1)

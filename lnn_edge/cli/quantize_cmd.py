"""``lnn-edge quantize``: a float model -> a quantized model file and a report of what it costs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from lnn_edge.atomic import atomic_file, check_file_target
from lnn_edge.calibration import CalibrationStats, calibration_for
from lnn_edge.cli.common import print_json
from lnn_edge.datafile import Sequences
from lnn_edge.errors import LnnEdgeError
from lnn_edge.modelfile import load
from lnn_edge.outputs import REPORT_FORMAT, is_model_file, is_quantization_report
from lnn_edge.qmodel import PRECISIONS
from lnn_edge.qmodelfile import save_quantized
from lnn_edge.quantize import quantization_report, quantize


def _parse_overrides(items: tuple[str, ...]) -> dict[str, int]:
    overrides = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            overrides[name.strip()] = int(value)
        except ValueError:
            raise LnnEdgeError(f"--format {item!r}: expected NAME=FRACTIONAL_BITS, e.g. --format g=10") from None
    return overrides


def split_calibration(calib: CalibrationStats) -> tuple[CalibrationStats, Sequences | None]:
    """Hold out the last quarter of the sequences (when there are at least 4) to measure error honestly."""
    x, dt = calib.sequences.x, calib.sequences.dt
    if x.shape[0] < 4:
        return calib, None
    cut = x.shape[0] - x.shape[0] // 4
    head = Sequences(x=x[:cut], dt=dt[:cut])
    fitted = CalibrationStats(
        sequences=head,
        x_absmax=abs(head.x).max(axis=(0, 1)),
        dt_min=float(head.dt.min()),
        dt_max=float(head.dt.max()),
        source=calib.source,
    )
    return fitted, Sequences(x=x[cut:], dt=dt[cut:])


def format_report(report: dict[str, Any]) -> str:
    """The report as a terminal table."""
    lines = [f"precision {report['precision']}, parameters {report['parameter_bytes']} B"]
    if report["formats"]:
        lines.append(f"{'format':<8} {'Q':>4} {'bound':>11} {'source':<12} {'lsb':>10}")
        for row in report["formats"]:
            bound = "-" if row["bound"] is None else f"{row['bound']:.4g}"
            lines.append(f"{row['name']:<8} {row['frac_bits']:>4} {bound:>11} {row['source']:<12} {row['lsb']:>10.3g}")
    for name, values in report["per_feature"].items():
        lines.append(f"{name}: {values}")
    lines.append(
        f"{'data':<12} {'seqs':>5} {'steps':>6} {'max abs':>10} {'/range':>9} {'rmse':>10} {'cosine':>10} {'sat':>5}"
    )
    for e in report["evaluations"]:
        o = e["outputs"]
        lines.append(
            f"{e['name']:<12} {e['sequences']:>5} {e['steps']:>6} {o['max_abs']:>10.3g} {o['max_abs_rel_range']:>9.2e} "
            f"{o['rmse']:>10.3g} {o['cosine']:>10.7f} {e['saturations']:>5}"
        )
        for event in e["first_saturations"][:3]:
            lines.append(f"  {event}")
    verdict = "PASS" if report["passed"] else "FAIL"
    lines.append(f"{verdict}: max abs output error / range <= {report['threshold_max_abs_rel_range']:g}, no saturation")
    return "\n".join(lines)


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
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of a table.")
def command(
    model: Path, output: Path, precision: str, calib: Path | None, report_path: Path | None,
    formats: tuple[str, ...], as_json: bool,
) -> None:  # fmt: skip
    """Quantize MODEL to float32, fixed16 or fixed32 and report the error against the float64 reference.

    Formats come from provable bounds (the LTC state never leaves max|vleak|, |erev|), the parameters, and
    calibration inputs. The last quarter of the calibration sequences (when there are 4 or more) is held
    out to measure the error. Exit code 1 when the error exceeds the threshold or values saturate.

    \b
    Examples:
      lnn-edge quantize pendulum.lnn -o pendulum-q16.lnn --precision fixed16
      lnn-edge quantize my.lnn -o my-q32.lnn --precision fixed32 --calib inputs.npz --report q.json
      lnn-edge quantize my.lnn -o my-q16.lnn --precision fixed16 --format g=10
    """
    check_file_target(output, "model file", is_model_file)  # before the work, not after it
    if report_path is not None:
        check_file_target(report_path, "quantization report", is_quantization_report)
    net = load(model)
    stats, held_out = None, None
    if precision != "float32" or calib is not None or net.calibration is not None:
        stats, held_out = split_calibration(calibration_for(net, calib))
    qmodel = quantize(net, precision, stats, _parse_overrides(formats))
    report = quantization_report(qmodel, stats, None if held_out is None else (held_out.x, held_out.dt))
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
            f"error: the {precision} model misses the error threshold or saturates (see the table above); "
            f"{output} was written for inspection",
            err=True,
        )
        raise SystemExit(1)

"""``lnn-edge export``: a model -> C sources, quantized model, report and manifest in one folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from lnn_edge.cli.common import print_json
from lnn_edge.cli.quantize_cmd import data_option, policy_options, range_options, verdict_line
from lnn_edge.codegen.export import REPORT_FILE, export, load_model_source
from lnn_edge.codegen.layouts import LAYOUTS
from lnn_edge.errors import LnnEdgeError
from lnn_edge.model.importers import given_options
from lnn_edge.model.model import ACTIVATIONS, CFC_MODES
from lnn_edge.model.ranges import declare_ranges
from lnn_edge.quant.qmodel import PRECISIONS, QuantizedModel
from lnn_edge.quant.report import Policy, labelled_arrays, load_labelled


def _parse_dt(text: str | None) -> float | str | None:
    if text is None or text == "variable":
        return text
    try:
        value = float(text)
    except ValueError:
        raise LnnEdgeError(f"--dt {text!r}: give seconds (e.g. 0.01) or 'variable'") from None
    if not value > 0:
        raise LnnEdgeError(f"--dt {text!r} must be > 0")
    return value


@click.command("export")
@click.argument("model", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="Folder to write.")
@click.option("--precision", type=click.Choice(PRECISIONS), default="fixed16", show_default=True)
@click.option("--calib", type=click.Path(path_type=Path), default=None, help="Calibration .npz for fixed point.")
@click.option("--name", default="lnn_model", show_default=True, help="C symbol prefix (lowercase, digits, _).")
@click.option(
    "--dt",
    "dt_text",
    default=None,
    metavar="SECONDS|variable",
    help="Elapsed time of <name>_step (default: the model's); 'variable' precomputes nothing for it.",
)
@click.option(
    "--implicit-constraints/--no-implicit-constraints",
    default=None,
    help="state_dict import flag, as for import. [default: on for an LTC wrapper's, off for a bare LTCCell's]",
)
@click.option("--ode-unfolds", type=click.IntRange(min=1), default=None, help="LTC state_dict flag. [default: 6]")
@click.option("--epsilon", type=float, default=None, help="LTC state_dict flag. [default: 1e-8]")
@click.option("--mode", type=click.Choice(CFC_MODES), default=None, help="CfC state_dict flag. [default: default]")
@click.option(
    "--activation", type=click.Choice(ACTIVATIONS), default=None, help="CfC state_dict flag. [default: lecun_tanh]"
)
@click.option(
    "--layout",
    type=click.Choice(LAYOUTS),
    default="cmake",
    show_default=True,
    help="Build system files to add; every export is a CMake package (docs/integration.md).",
)
@data_option
@range_options
@policy_options
@click.option("--json", "as_json", is_flag=True, help="Print the export manifest as JSON.")
def command(
    model: Path, output: Path, precision: str, calib: Path | None, name: str, dt_text: str | None,
    implicit_constraints: bool | None, ode_unfolds: int | None, epsilon: float | None, mode: str | None,
    activation: str | None, layout: str,
    data: Path | None, input_ranges: tuple[str, ...], output_ranges: tuple[str, ...], max_error: float | None,
    strict: bool, max_metric_loss: float | None, as_json: bool,
) -> None:  # fmt: skip
    """Generate C for MODEL (.lnn, trainer checkpoint or ncps state_dict) into the folder -o.

    The folder gets <name>.h, <name>.c, lnn/ (runtime library), example_main.c, CMakeLists.txt (the CMake
    package lnn::<name>), model.lnn (quantized), quantization.json and manifest.json (file hashes). It is
    written atomically. --layout adds a Zephyr module (zephyr/), a PlatformIO library (library.json), an
    Arduino library (library.properties, src/, examples/) or an ESP-IDF component (idf_component.yml).

    \b
    Examples:
      lnn-edge export pendulum.lnn -o out/pendulum --precision fixed16 --name pendulum
      lnn-edge export ltc_state_dict.pt -o out/ltc --precision float32 --dt variable
      lnn-edge export imu.lnn -o out/imu --precision fixed16 --input-range acc_x=-16:16 --max-error 0.02
      lnn-edge export pendulum.lnn -o components/pendulum --name pendulum --layout espidf
      lnn-edge export pendulum.lnn -o lib/pendulum --name pendulum --layout platformio

    The folder is written whatever the verdict; exit code 1 when it fails (error above --max-error, internal
    saturation, or with --strict an input clamped at its range).
    """
    given = given_options(
        implicit_constraints=implicit_constraints, ode_unfolds=ode_unfolds, epsilon=epsilon, mode=mode,
        activation=activation,
    )  # fmt: skip
    source = load_model_source(model, **given)
    if input_ranges or output_ranges:
        source = source.model if isinstance(source, QuantizedModel) else source  # new ranges: quantize again
        declare_ranges(source, input_ranges, output_ranges)
    policy = Policy(max_error=max_error, strict=strict, max_metric_loss=max_metric_loss)
    net = source.model if isinstance(source, QuantizedModel) else source
    labelled = labelled_arrays(load_labelled(data, net)) if data is not None else None
    result = export(
        source, output, precision, name=name, calib=calib, dt=_parse_dt(dt_text), policy=policy, labelled=labelled,
        layout=layout,
    )  # fmt: skip
    report = json.loads((output / REPORT_FILE).read_text())
    if as_json:
        print_json({"directory": str(output), **result.manifest, "verdict": _verdict(report)})
        _exit_on_failure(report, output)
        return
    memory = result.manifest["memory"]
    click.echo(
        f"exported {result.manifest['cell']} {precision} as '{name}' to {output}: parameters {memory['params']} B, "
        f"state {memory['state']} B, stack ~{memory['stack']} B"
    )
    for filename in sorted(result.manifest["files"]):
        click.echo(f"  {output / filename}")
    click.echo(verdict_line(report))
    _exit_on_failure(report, output)


def _verdict(report: dict[str, Any]) -> dict[str, Any]:
    """The verdict part of the quantization report, for --json."""
    keys = ("passed", "failures", "threshold_max_abs_rel_range", "strict", "max_metric_loss")
    return {key: report[key] for key in keys}


def _exit_on_failure(report: dict[str, Any], output: Path) -> None:
    if not report["passed"]:
        click.echo(f"error: the export fails its verdict ({'; '.join(report['failures'])}); {output} was written "
                   f"for inspection (see {output / REPORT_FILE})", err=True)  # fmt: skip
        raise SystemExit(1)

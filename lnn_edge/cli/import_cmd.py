"""``lnn-edge import``: an ncps state_dict or trainer checkpoint -> a ``.lnn`` model file."""

from __future__ import annotations

from pathlib import Path

import click

from lnn_edge.cli.common import print_json
from lnn_edge.cli.quantize_cmd import range_options
from lnn_edge.errors import LnnEdgeError
from lnn_edge.expect import verified_import
from lnn_edge.model.importers import given_options, load_torch_file
from lnn_edge.model.model import ACTIVATIONS, CFC_MODES
from lnn_edge.model.modelfile import save
from lnn_edge.model.ranges import declare_ranges
from lnn_edge.model.summary import format_summary, summarize
from lnn_edge.quant.calibration import stored_calibration


def _names(text: str | None, count: int, what: str) -> list[str] | None:
    if text is None:
        return None
    names = [name.strip() for name in text.split(",")]
    if len(names) != count or not all(names):
        raise LnnEdgeError(f"--{what}-names gives {len(names)} names; the model has {count} {what}s")
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:  # --input-range NAME=... would then set several inputs at once
        raise LnnEdgeError(f"--{what}-names names {', '.join(map(repr, twice))} more than once; give each {what} "
                           "its own name")  # fmt: skip
    return names


@click.command("import")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="The .lnn file to write.")
@click.option(
    "--expect",
    type=click.Path(path_type=Path),
    default=None,
    help="A .npz with x [B,T,F], optional dt [B,T] and y [B,T,O] (your torch model's outputs on x): import checks "
    "the model reproduces y, searches the options not given as flags, and stores the check in the model file.",
)
@click.option(
    "--prefix",
    default="",
    help="Import the ncps layer under this key prefix of a larger model's state_dict, e.g. --prefix rnn.",
)
@click.option(
    "--implicit-constraints/--no-implicit-constraints",
    default=None,
    help="LTC: whether gleak, cm, w, sensory_w pass through softplus (implicit_param_constraints). "
    "[default: on for an LTC wrapper's state_dict, off for a bare LTCCell's]",
)
@click.option("--ode-unfolds", type=click.IntRange(min=1), default=None, help="LTC solver unfolds. [default: 6]")
@click.option("--epsilon", type=float, default=None, help="LTC denominator epsilon. [default: 1e-8]")
@click.option("--mode", type=click.Choice(CFC_MODES), default=None, help="CfC mode. [default: default]")
@click.option("--activation", type=click.Choice(ACTIVATIONS), default=None, help="CfC backbone. [default: lecun_tanh]")
@click.option(
    "--output-size",
    type=click.IntRange(min=1),
    default=None,
    help="LTC without output mapping only: number of motor neurons (default: an NCP's motors, else all neurons).",
)
@click.option("--dt", type=float, default=1.0, show_default=True, help="Default elapsed time per step.")
@click.option("--input-names", default=None, help="Comma-separated input names.")
@click.option("--output-names", default=None, help="Comma-separated output names.")
@click.option(
    "--calib",
    type=click.Path(path_type=Path),
    default=None,
    help="A .npz with 'x' (and 'dt') of typical inputs: the model stores per-input statistics over all of it "
    "and a representative sample, to calibrate number formats, e.g. --calib train.npz.",
)
@range_options
@click.option("--json", "as_json", is_flag=True, help="Print the model summary as JSON.")
def command(
    source: Path,
    output: Path,
    expect: Path | None,
    prefix: str,
    implicit_constraints: bool | None,
    ode_unfolds: int | None,
    epsilon: float | None,
    mode: str | None,
    activation: str | None,
    output_size: int | None,
    dt: float,
    input_names: str | None,
    output_names: str | None,
    calib: Path | None,
    input_ranges: tuple[str, ...],
    output_ranges: tuple[str, ...],
    as_json: bool,
) -> None:
    """Import SOURCE, an ncps state_dict saved with torch.save (or an lnn-edge checkpoint), into a .lnn file.

    Cell kind, wiring, mappings, backbone and sizes are read from the keys and shapes, the topology from the
    masks. What a state_dict cannot tell comes from the flags; a flag left out takes the default of the ncps
    class that saved the file, or, with --expect, is found by search.

    \b
    Examples:
      torch.save(model.state_dict(), "ltc.pt")          # in your training script
      lnn-edge import ltc.pt -o ltc.lnn --expect io.npz
      lnn-edge import cfc.pt -o cfc.lnn --mode no_gate --activation silu
      lnn-edge import raw_ltc.pt -o raw.lnn --no-implicit-constraints --ode-unfolds 4
      lnn-edge import atari.pt -o atari.lnn --prefix rnn.
      lnn-edge import imu.pt -o imu.lnn --calib train.npz --input-names ax,ay,az --input-range ax=-16:16
    """
    if not (dt > 0 and dt < float("inf")):
        raise LnnEdgeError(f"--dt {dt} must be a finite time step > 0")
    given = given_options(
        implicit_constraints=implicit_constraints, ode_unfolds=ode_unfolds, epsilon=epsilon, mode=mode,
        activation=activation, output_size=output_size,
    )  # fmt: skip
    # With --expect the search validates each combination: the defaults may be the very thing the file rules out.
    model = load_torch_file(source, dt=dt, prefix=prefix, validated=expect is None, **given)
    lines = [f"note: {note}" for note in model.provenance.get("notes", [])]
    if expect is not None:
        model, lines = verified_import(source, model, expect, given, dt=dt, prefix=prefix, echo=_err)
    model.input_names = _names(input_names, model.input_size, "input") or model.input_names
    model.output_names = _names(output_names, model.output_size, "output") or model.output_names
    if calib is not None:
        model.calibration = stored_calibration(calib, model)
    declare_ranges(model, input_ranges, output_ranges)
    save(model, output)
    info = summarize(model)
    if as_json:
        verified = model.provenance.get("verified")
        print_json({"output": str(output), **info, **({"verified": verified} if verified else {})})
    else:
        click.echo(format_summary(info))
        for line in lines:
            click.echo(line)
        click.echo(f"wrote {output}")


def _err(text: str) -> None:
    click.echo(text, err=True)

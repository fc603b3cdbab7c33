"""``lnn-edge train``: train an LTC or CfC network (optionally with ncps's mixed memory) and write a checkpoint
plus a ``.lnn`` model file."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lnn_edge.cli.common import print_json
from lnn_edge.model.model import ACTIVATIONS, CFC_MODES
from lnn_edge.train.tasks import TASKS
from lnn_edge.train.trainer import (
    DEFAULT_PATIENCE,
    DEFAULT_STEPS,
    DEFAULT_TASK,
    EpochReport,
    TrainConfig,
    TrainResult,
    train,
)

TASK_HELP = "; ".join(f"{name}: {info.description}" for name, info in TASKS.items())


def _columns(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [name.strip() for name in text.split(",") if name.strip()]


def _print_epoch(report: EpochReport) -> None:
    click.echo(
        f"epoch {report.epoch:>{len(str(report.epochs))}}/{report.epochs}  "
        f"step {report.step:>{len(str(report.steps))}}/{report.steps}  loss {report.train_loss:.4f}  "
        f"val {report.val_loss:.4f}  {report.metric} {report.value:.4g}  {report.seconds:.1f} s"
        + ("  *" if report.best else ""),
        err=True,
    )


@click.command("train")
@click.option("--cell", type=click.Choice(["ltc", "cfc"]), default="ltc", show_default=True, help="Cell type.")
@click.option(
    "--wiring",
    "wiring",
    metavar="SPEC",
    default=None,
    help="autoncp:UNITS,OUTPUTS[,SPARSITY] | ncp:INTER,COMMAND,MOTOR,SENSORY_FANOUT,INTER_FANOUT,"
    "RECURRENT_COMMAND_SYNAPSES,MOTOR_FANIN | fc:UNITS | random:UNITS,SPARSITY | dense:UNITS (CfC only). "
    "fc and random wirings get the task's number of outputs; ncp/autoncp motor neurons must equal it. "
    "[default: autoncp:19,OUTPUTS]",
)
@click.option("--task", default=None, metavar="NAME", help=f"Built-in task [default: {DEFAULT_TASK}]. {TASK_HELP}.")
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    default=None,
    help="User data instead of a task: FILE.npz with x [N,T,F], y [N,T,O] floats (regression), [N] integer "
    "labels (classification, read at the last step) or [N,T] integer labels (classification at every step), "
    "optional dt [N,T] elapsed times and input_names / output_names; or FILE.csv (see below).",
)
@click.option("--target-columns", default=None, metavar="A,B", help="CSV: the target columns (required for CSV).")
@click.option("--input-columns", default=None, metavar="C,D", help="CSV: the input columns [default: all others].")
@click.option("--dt-column", default=None, metavar="NAME", help="CSV: a column of elapsed time before each row.")
@click.option(
    "--time-column",
    default=None,
    metavar="NAME",
    help="CSV: a column of time stamps (numbers that increase at every row, e.g. seconds); the elapsed times are "
    "their differences. Instead of --dt-column.",
)
@click.option(
    "--classify",
    is_flag=True,
    help="CSV: the one target column holds class ids (0, 1, ...): classify every step, e.g. "
    "--target-columns freeze --classify.",
)
@click.option(
    "--dt",
    "data_dt",
    type=float,
    default=1.0,
    show_default=True,
    help="User data without dt: the time step the cell sees (LTC time constants start near 1 unit).",
)
@click.option("--samples", type=click.IntRange(min=2), default=None, help="Sequences to generate (task default).")
@click.option("--seq-len", type=click.IntRange(min=1), default=None, help="Steps per sequence (task default; CSV: 64).")
@click.option(
    "--steps",
    type=click.IntRange(min=1),
    default=None,
    help=f"Budget in optimizer steps (batches), with early stopping [default: {DEFAULT_STEPS}], e.g. --steps 3000.",
)
@click.option(
    "--patience",
    type=click.IntRange(min=0),
    default=None,
    help="Stop after this many steps without a better validation loss; 0 never stops early "
    f"[default: {DEFAULT_PATIENCE} with the step budget, never with --epochs], e.g. --patience 500.",
)
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    default=None,
    help="Train exactly this many epochs instead of the step budget, e.g. --epochs 40.",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=TrainConfig.batch_size, show_default=True)
@click.option("--lr", type=float, default=None, help="Adam learning rate, decayed by a cosine [ltc: 0.03, cfc: 0.005].")
@click.option("--val-fraction", type=float, default=TrainConfig.val_fraction, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds data, initialization and shuffling.")
@click.option("--mode", type=click.Choice(CFC_MODES), default="default", show_default=True, help="CfC mode.")
@click.option("--activation", type=click.Choice(ACTIVATIONS), default=None, help="Dense CfC backbone [lecun_tanh].")
@click.option("--backbone-units", type=click.IntRange(min=1), default=None, help="Dense CfC backbone width [64].")
@click.option("--backbone-layers", type=click.IntRange(min=0), default=None, help="Dense CfC backbone depth [1].")
@click.option("--ode-unfolds", type=click.IntRange(min=1), default=6, show_default=True, help="LTC solver unfolds.")
@click.option(
    "--mixed-memory",
    is_flag=True,
    help="Add ncps's LSTM in front of the cell (ncps mixed_memory=True): cell ltc_mixed, cfc_mixed or "
    "wired_cfc_mixed, state [h | c], twice the neurons' values; e.g. --mixed-memory --task lorenz.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("model.lnn"),
    show_default=True,
    help="The .lnn file to write.",
)
@click.option(
    "--checkpoint",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The torch checkpoint to write [default: OUTPUT with .ckpt.pt instead of .lnn].",
)
@click.option("-q", "--quiet", is_flag=True, help="No per-epoch progress lines on stderr.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the result.")
def command(
    cell: str,
    wiring: str | None,
    task: str | None,
    data: Path | None,
    target_columns: str | None,
    input_columns: str | None,
    dt_column: str | None,
    time_column: str | None,
    classify: bool,
    data_dt: float,
    samples: int | None,
    seq_len: int | None,
    steps: int | None,
    patience: int | None,
    epochs: int | None,
    batch_size: int,
    lr: float | None,
    val_fraction: float,
    seed: int,
    mode: str,
    activation: str | None,
    backbone_units: int | None,
    backbone_layers: int | None,
    ode_unfolds: int,
    mixed_memory: bool,
    output: Path,
    checkpoint: Path | None,
    quiet: bool,
    as_json: bool,
) -> None:
    """Train a liquid network and write MODEL.lnn (raw units in and out) and its torch checkpoint.

    Inputs and regression targets are normalized with the training split's statistics; the normalization is
    folded into the .lnn model. Regression: MSE loss at every step, metric RMSE in raw units (and R^2).
    Classification: cross-entropy on the outputs of the last step (or of every step, for per-step labels),
    metric accuracy. Training runs --steps optimizer steps and stops early when the validation loss has not
    improved for --patience steps; the weights of the best validation loss are kept. The result is printed
    beside a trivial baseline on the same validation split: persistence (when a target is an input's next
    value), the mean, or the majority class. Each sequence starts from a zero state; the cell gets each step's
    elapsed time. The model stores statistics of every training input and a representative sample, for
    choosing fixed-point formats.

    \b
    CSV layout (--data FILE.csv): a header row of column names, then one row per time step, numbers only.
    The targets of a row are its --target-columns (shift them in the file to forecast); the inputs are
    --input-columns or all other columns; --dt-column optionally holds the elapsed time before the row, or
    --time-column a time stamp per row (lnn-edge takes the differences). Name a time column with one of them:
    otherwise it is an input.
    The series is cut into non-overlapping windows of --seq-len rows, split at random into train/validation.

    \b
    Examples:
      lnn-edge train                                   # LTC, autoncp:19,2, pendulum -> model.lnn (~1.5 min)
      lnn-edge train --task lorenz --wiring autoncp:24,3 -o lorenz.lnn
      lnn-edge train --cell cfc --wiring dense:32 --task sineclass -o classes.lnn --json
      lnn-edge train --cell cfc --wiring autoncp:19,2 --mixed-memory -o mixed.lnn   # LSTM + wired CfC
      lnn-edge train --data log.csv --target-columns speed --dt-column dt --wiring fc:12 -o speed.lnn
      lnn-edge train --data log.csv --target-columns speed --time-column t -o speed.lnn   # t: seconds
      lnn-edge train --data imu.csv --target-columns next_ankle_vert -o forecast.lnn   # forecasting
      lnn-edge train --data gait.csv --target-columns freeze --classify --steps 3000 -o freeze.lnn
    """
    config = TrainConfig(
        cell=cell,
        wiring=wiring,
        task=task,
        data=None if data is None else str(data),
        target_columns=_columns(target_columns),
        input_columns=_columns(input_columns),
        dt_column=dt_column,
        time_column=time_column,
        classify=classify,
        data_dt=data_dt,
        samples=samples,
        seq_len=seq_len,
        epochs=epochs,
        steps=steps,
        patience=patience,
        batch_size=batch_size,
        lr=lr,
        val_fraction=val_fraction,
        seed=seed,
        mode=mode,
        activation=activation,
        backbone_units=backbone_units,
        backbone_layers=backbone_layers,
        ode_unfolds=ode_unfolds,
        mixed_memory=mixed_memory,
        output=str(output),
        checkpoint=None if checkpoint is None else str(checkpoint),
    )
    result = train(config, progress=None if quiet else _print_epoch)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        print_json(_payload(config, result))
    else:
        _print_summary(config, result)


def _payload(config: TrainConfig, result: TrainResult) -> dict[str, object]:
    task = dict(result.task)
    return {
        "metric": result.metric,
        "value": result.value,
        "r2": result.r2,
        "baseline": result.baseline,
        "task": task.pop("name"),
        "task_details": task,
        "cell": config.cell,
        "mixed_memory": config.mixed_memory,
        "wiring": result.model.provenance.get("config", {}).get("resolved_wiring", config.wiring),
        "lnn": result.lnn_path,
        "checkpoint": result.checkpoint_path,
        "content_hash": result.content_hash,
        "parameters": result.model.parameter_count(),
        "seconds": round(result.seconds, 3),
        "epochs": result.epochs,
        "steps": result.steps,
        "best_epoch": result.best_epoch,
        "stopped_early": result.stopped_early,
        "train_losses": result.train_losses,
        "val_losses": result.val_losses,
        "reference_max_abs_error": result.check_error,
        "warning": result.warning,
        "warnings": result.warnings,
    }


def _score(metric: str, value: float, r2: float | None) -> str:
    return f"{metric} {value:.4g}" + ("" if r2 is None else f" (R^2 {r2:.3f})")


def _print_summary(config: TrainConfig, result: TrainResult) -> None:
    baseline = result.baseline
    click.echo(
        f"{result.task['name']}: validation {_score(result.metric, result.value, result.r2)}; "
        f"{baseline['name']} baseline {_score(baseline['metric'], baseline['value'], baseline['r2'])}"
    )
    stopped = f" ({result.stopped_early})" if result.stopped_early else ""
    click.echo(f"best epoch {result.best_epoch}/{result.epochs}, {result.steps} steps{stopped}, {result.seconds:.1f} s")
    wiring = result.model.provenance.get("config", {}).get("resolved_wiring", config.wiring)
    memory = " with mixed memory" if config.mixed_memory else ""
    click.echo(
        f"wrote {result.lnn_path} ({config.cell.upper()} {wiring}{memory}, {result.model.neurons} neurons, "
        f"{result.model.parameter_count()} parameters) and {result.checkpoint_path}"
    )
    if result.check_error is not None:
        click.echo(f"the .lnn model reproduces the torch model to {result.check_error:.1e} (float64 reference)")
    sys.stdout.flush()

"""Train an LTC or CfC network (ncps, torch) on a built-in task or user data; write a checkpoint and a .lnn.

The trainer drives the ncps cell itself, one step at a time, with the elapsed time of shape (B, 1): the
wrappers' batched ``timespans`` are broken for batch > 1 (ncps issues #81-#83), and stepping the cell is
exactly what the reference simulator and the generated C do, so training and deployment compute the same
function. With ``mixed_memory`` the network is ncps's own wrapper built with ``mixed_memory=True`` (so the
state_dict has ncps's ``lstm.*`` keys and imports like any ncps mixed model), and each step runs ncps's LSTM
first, as the wrapper does: ``h, c = lstm(x, (h, c))``, then the cell on ``(x, h)``.

Inputs and regression targets are normalized with the training split's mean and std; the checkpoint records
them and :func:`lnn_edge.model.importers.from_checkpoint` folds them into the model (a mixed model's LSTM
included), so the ``.lnn`` file takes and gives raw units.

The budget is counted in optimizer steps (:data:`DEFAULT_STEPS`), not epochs, with early stopping on the
validation loss: a small recording of a hundred windows then gets as many updates as a large generated task,
and a large set stops when it stops improving. The result is printed beside a trivial baseline on the same
validation split (persistence, the mean, or the majority class), since an R^2 alone does not say whether the
model learned anything.

Typical use::

    result = train(TrainConfig(cell="ltc", wiring="autoncp:19,2", task="pendulum", output="pendulum.lnn"))
    print(result.metric, result.value, result.lnn_path)
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lnn_edge.atomic import atomic_file, check_file_target
from lnn_edge.errors import LnnEdgeError, MissingDependencyError
from lnn_edge.model.limits import MAX_NEURONS
from lnn_edge.model.model import ACTIVATIONS, CFC_MODES, InputStats, Model
from lnn_edge.model.wiring_spec import (
    WiringSpec,
    build_wiring,
    check_compatible,
    parse_wiring,
    projects_outputs,
    wiring_config,
    wiring_roles,
)
from lnn_edge.outputs import is_checkpoint, is_model_file
from lnn_edge.quant.calibration import input_stats, labelled_sample
from lnn_edge.train.tasks import Dataset, load_data, make_task

CHECKPOINT_FORMAT = "lnn-edge-checkpoint"
CHECKPOINT_VERSION = 1
CELLS = ("ltc", "cfc")
DEFAULT_TASK = "pendulum"
DEFAULT_UNITS = 19
CALIBRATION_SEQUENCES = 16
"""Sequences' worth of values in the stored calibration sample. Verification runs the whole sample (on a board,
over a serial line), so it stays small; the extremes are carried by the whole-split statistics instead."""
STD_FLOOR = 1e-8
DEFAULT_STEPS = 1000
"""Optimizer steps when no --epochs are given: about what the pendulum task's 40 epochs of 26 batches took."""
DEFAULT_PATIENCE = 250
"""Steps without a better validation loss before training stops (with the default step budget)."""
EVAL_STEPS = 20
"""Validate after whole epochs, but not more often than every this many steps (tiny sets have 1-step epochs)."""
DEFAULT_LR = {"ltc": 0.03, "cfc": 0.005}
"""LTC parameters live on a scale of ~1 and tolerate a large step; CfC's linear layers want a smaller one."""


@dataclass
class TrainConfig:
    """Everything a training run depends on (all of it is stored in the checkpoint).

    ``task`` names a built-in task (see :mod:`lnn_edge.train.tasks`); ``data`` a user file instead. ``wiring``
    None means ``autoncp:19,<outputs>``. ``samples`` and ``seq_len`` None mean the task's defaults.
    Backbone options and ``activation`` apply to dense CfCs only (None: 64 units, 1 layer, lecun_tanh).
    ``checkpoint`` None means ``<output without .lnn>.ckpt.pt``; ``lr`` None means :data:`DEFAULT_LR`.
    The budget is ``steps`` optimizer steps (None: :data:`DEFAULT_STEPS`) with early stopping after
    ``patience`` steps without a better validation loss (None: :data:`DEFAULT_PATIENCE`; 0: never), or
    exactly ``epochs`` epochs when given (no early stopping unless ``patience`` is given too).
    ``classify`` reads a CSV's one target column as class ids at every step. ``mixed_memory`` adds ncps's LSTM
    in front of the cell (``mixed_memory=True``; the model's cell becomes ``ltc_mixed``, ``cfc_mixed`` or
    ``wired_cfc_mixed``, its state ``[h | c]``).
    """

    cell: str = "ltc"
    wiring: str | None = None
    task: str | None = None
    data: str | None = None
    target_columns: list[str] | None = None
    input_columns: list[str] | None = None
    dt_column: str | None = None
    time_column: str | None = None
    data_dt: float = 1.0
    samples: int | None = None
    seq_len: int | None = None
    classify: bool = False
    epochs: int | None = None
    steps: int | None = None
    patience: int | None = None
    batch_size: int = 64
    lr: float | None = None
    min_lr_fraction: float = 0.05
    grad_clip: float = 1.0
    val_fraction: float = 0.2
    seed: int = 0
    mode: str = "default"
    activation: str | None = None
    backbone_units: int | None = None
    backbone_layers: int | None = None
    ode_unfolds: int = 6
    epsilon: float = 1e-8
    mixed_memory: bool = False
    threads: int = 2
    output: str = "model.lnn"
    checkpoint: str | None = None

    def learning_rate(self) -> float:
        """``lr``, or the cell's default: LTC and CfC parameters want different step sizes."""
        return DEFAULT_LR.get(self.cell, 0.01) if self.lr is None else self.lr

    def checkpoint_path(self) -> Path:
        """Where the checkpoint goes: beside the .lnn file unless ``checkpoint`` says otherwise."""
        out = Path(self.output)
        if self.checkpoint:
            if Path(self.checkpoint).resolve() == out.resolve():
                raise LnnEdgeError(f"--checkpoint and --output are the same file '{out}'")
            return Path(self.checkpoint)
        stem = out.name[: -len(".lnn")] if out.name.endswith(".lnn") else out.name
        return out.with_name(f"{stem}.ckpt.pt")


@dataclass
class EpochReport:
    """Handed to the progress callback after every validation (losses on normalized data): after every epoch,
    or every few epochs when an epoch is shorter than :data:`EVAL_STEPS` steps. ``epochs`` and ``steps`` are
    the budget's; training may stop earlier."""

    epoch: int
    epochs: int
    train_loss: float
    val_loss: float
    metric: str
    value: float
    seconds: float
    best: bool
    step: int = 0
    steps: int = 0


@dataclass
class TrainResult:
    """What a run produced. ``value`` is the validation ``metric`` (rmse in raw units, or accuracy) of the
    best epoch, which is the one saved; ``check_error`` is the max abs difference between the torch model
    and the .lnn run through the float64 reference on validation sequences (None if not checked).
    ``baseline`` is the trivial baseline on the same validation split (see :func:`baseline_of`);
    ``warnings`` all the run's warnings (``warning`` is the divergence one alone, kept for callers)."""

    model: Model
    lnn_path: str
    checkpoint_path: str
    metric: str
    value: float
    r2: float | None
    train_losses: list[float]
    val_losses: list[float]
    best_epoch: int
    seconds: float
    task: dict[str, Any]
    check_error: float | None = None
    content_hash: str = ""
    warning: str | None = None
    baseline: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    epochs: int = 0
    steps: int = 0
    stopped_early: str | None = None


ProgressCallback = Callable[[EpochReport], None]


# --------------------------------------------------------------------------------------------------------
# Optional dependencies


def require_torch() -> Any:
    """Import torch and ncps.torch, or say how to install them."""
    try:
        import ncps.torch  # noqa: F401
        import torch
    except ImportError as error:
        raise MissingDependencyError(
            f"training needs torch and ncps ({error.name} is missing): pip install 'lnn-edge[train]'"
        ) from None
    return torch


# --------------------------------------------------------------------------------------------------------
# Data


def load_dataset(config: TrainConfig) -> Dataset:
    """The dataset a config names: a built-in task, or the user's file."""
    if config.data and config.task:
        raise LnnEdgeError("give either --task or --data, not both")
    csv_only = [
        config.target_columns,
        config.input_columns,
        config.dt_column,
        config.time_column,
        config.classify or None,
    ]
    is_csv = str(config.data or "").lower().endswith(".csv")
    if any(value is not None for value in csv_only) and not is_csv:
        raise LnnEdgeError(
            "--target-columns, --input-columns, --dt-column, --time-column and --classify apply to CSV data only "
            "(an npz's integer 'y' is read as class labels by itself)"
        )
    if config.data and config.samples is not None:
        raise LnnEdgeError("--samples applies to built-in tasks only; user data is used as it is")
    if config.data and config.seq_len is not None and not config.data.lower().endswith(".csv"):
        raise LnnEdgeError("--seq-len applies to built-in tasks and CSV files; npz sequences are used as stored")
    if config.data:
        return load_data(
            config.data,
            dt=config.data_dt,
            target_columns=config.target_columns,
            input_columns=config.input_columns,
            dt_column=config.dt_column,
            seq_len=config.seq_len,
            classify=config.classify,
            time_column=config.time_column,
        )
    return make_task(config.task or DEFAULT_TASK, config.samples, config.seq_len, config.seed)


def split(dataset: Dataset, val_fraction: float, seed: int) -> tuple[Dataset, Dataset]:
    """A seeded random train/validation split of whole sequences."""
    if not 0.0 < val_fraction < 1.0:
        raise LnnEdgeError(f"--val-fraction is {val_fraction}; expected a number between 0 and 1")
    n = dataset.samples
    if n < 2:
        raise LnnEdgeError(f"the data has {n} sequence(s); training needs at least 2 (train and validation)")
    n_val = min(n - 1, max(1, round(n * val_fraction)))
    order = np.random.default_rng(seed + 1).permutation(n)
    return dataset.subset(np.sort(order[n_val:])), dataset.subset(np.sort(order[:n_val]))


@dataclass
class Normalization:
    """Per-feature mean and std of the training split; y fields are None for classification."""

    x_mean: np.ndarray
    x_std: np.ndarray
    y_mean: np.ndarray | None
    y_std: np.ndarray | None

    @classmethod
    def fit(cls, data: Dataset) -> Normalization:
        x_mean, x_std = _moments(data.x)
        if data.kind == "classification":
            return cls(x_mean, x_std, None, None)
        y_mean, y_std = _moments(data.y)
        return cls(x_mean, x_std, y_mean, y_std)

    def as_dict(self) -> dict[str, Any]:
        def listed(values: np.ndarray | None) -> list[float] | None:
            return None if values is None else [float(v) for v in values]

        return {
            "x_mean": listed(self.x_mean),
            "x_std": listed(self.x_std),
            "y_mean": listed(self.y_mean),
            "y_std": listed(self.y_std),
        }


def _moments(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    flat = values.reshape(-1, values.shape[-1])
    std = flat.std(axis=0)
    # A constant feature carries no information; std 1 keeps it finite instead of dividing by ~0.
    return flat.mean(axis=0), np.where(std > STD_FLOOR, std, 1.0)


# --------------------------------------------------------------------------------------------------------
# The network


@dataclass
class Network:
    """The ncps module with what the trainer and the checkpoint need to know about it."""

    module: Any
    cell: str
    spec: WiringSpec
    import_options: dict[str, Any]
    wiring: dict[str, Any]
    mixed_memory: bool = False


def resolve_wiring(config: TrainConfig, outputs: int, task: str) -> WiringSpec:
    """Parse ``config.wiring`` (default ``autoncp:19,<outputs>``) and check it fits the cell and task."""
    if config.cell not in CELLS:
        raise LnnEdgeError(f"--cell is '{config.cell}'; expected one of {', '.join(CELLS)}")
    spec = parse_wiring(config.wiring or f"autoncp:{DEFAULT_UNITS},{outputs}")
    check_compatible(spec, config.cell, outputs, task)
    _check_cell_options(config, spec)
    return spec


def _check_cell_options(config: TrainConfig, spec: WiringSpec) -> None:
    dense = config.cell == "cfc" and spec.kind == "dense"
    given = [
        flag
        for flag, value in (
            ("--backbone-units", config.backbone_units),
            ("--backbone-layers", config.backbone_layers),
            ("--activation", config.activation),
        )
        if value is not None
    ]
    if given and not dense:
        raise LnnEdgeError(f"{', '.join(given)} apply to a dense CfC only (--cell cfc --wiring dense:UNITS)")
    if config.cell == "ltc" and config.mode != "default":
        raise LnnEdgeError("--mode applies to CfC only")
    if config.mode not in CFC_MODES:
        raise LnnEdgeError(f"--mode is '{config.mode}'; expected one of {', '.join(CFC_MODES)}")
    if config.activation is not None and config.activation not in ACTIVATIONS:
        raise LnnEdgeError(f"--activation is '{config.activation}'; expected one of {', '.join(ACTIVATIONS)}")
    if config.ode_unfolds < 1:
        raise LnnEdgeError(f"--ode-unfolds is {config.ode_unfolds}; expected at least 1")
    if config.mixed_memory and 2 * spec.units > MAX_NEURONS:
        # Refused now rather than when the trained model is validated, minutes later.
        raise LnnEdgeError(
            f"--mixed-memory doubles the state ([h | c]): wiring '{spec}' has {spec.units} neurons, a state of "
            f"{2 * spec.units} values; a model holds at most {MAX_NEURONS} ({MAX_NEURONS // 2} neurons)"
        )


def build_network(config: TrainConfig, spec: WiringSpec, inputs: int, outputs: int) -> Network:
    """Build the ncps module (seeded by the caller). LTC uses affine input and output mappings, which is
    where the importer folds the normalization. ``mixed_memory`` goes to ncps's wrapper, which adds its LSTM
    (built after the cell, so a run without it initializes exactly as before)."""
    require_torch()
    from ncps.torch import LTC, CfC

    wiring = build_wiring(spec, config.cell, outputs)
    activation = config.activation or "lecun_tanh"
    options = {
        "implicit_constraints": True,
        "ode_unfolds": config.ode_unfolds,
        "epsilon": config.epsilon,
        "mode": config.mode,
        "activation": activation,
        "output_size": outputs,
    }
    if config.cell == "ltc":
        module = LTC(
            inputs,
            wiring,
            input_mapping="affine",
            output_mapping="affine",
            ode_unfolds=config.ode_unfolds,
            epsilon=config.epsilon,
            implicit_param_constraints=True,
            mixed_memory=config.mixed_memory,
        )
    elif wiring is None:
        module = CfC(
            inputs,
            spec.units,
            proj_size=outputs,
            mode=config.mode,
            activation=activation,
            backbone_units=64 if config.backbone_units is None else config.backbone_units,
            backbone_layers=1 if config.backbone_layers is None else config.backbone_layers,
            backbone_dropout=0.0,
            mixed_memory=config.mixed_memory,
        )
    else:
        proj = outputs if projects_outputs(spec, config.cell) else None
        module = CfC(inputs, wiring, proj_size=proj, mode=config.mode, mixed_memory=config.mixed_memory)
    info = {
        "kind": spec.kind,
        "config": wiring_config(spec, wiring),
        "roles": wiring_roles(spec, config.cell, wiring, outputs),
    }
    return Network(module, config.cell, spec, options, info, config.mixed_memory)


def network_from_checkpoint(checkpoint: dict[str, Any]) -> tuple[Network, Normalization]:
    """Rebuild the trained torch network and its normalization from a checkpoint dict (to predict or
    fine-tune in torch). The topology comes from the saved masks, which overwrite the fresh wiring's."""
    config_fields = {name for name in TrainConfig.__dataclass_fields__}
    saved = checkpoint["config"]
    config = TrainConfig(**{key: value for key, value in saved.items() if key in config_fields})
    config.wiring = saved.get("resolved_wiring", config.wiring)
    outputs = int(checkpoint["import_options"]["output_size"])
    spec = resolve_wiring(config, outputs, str(checkpoint["task"].get("name", "")))
    net = build_network(config, spec, len(checkpoint["input_names"]), outputs)
    net.module.load_state_dict(checkpoint["state_dict"])
    norm = checkpoint["normalization"]

    def vector(key: str) -> np.ndarray | None:
        return None if norm[key] is None else np.asarray(norm[key], dtype=np.float64)

    x_mean, x_std = vector("x_mean"), vector("x_std")
    assert x_mean is not None and x_std is not None
    return net, Normalization(x_mean, x_std, vector("y_mean"), vector("y_std"))


def run_network(net: Network, x: Any, elapsed: Any) -> Any:
    """Outputs [B, T, M] for inputs [B, T, S] and elapsed times [B, T], stepping the cell from a zero state.

    The elapsed time goes in with shape (B, 1) so that each sequence gets its own (see the module docstring).
    With mixed memory, ncps's LSTM steps first on (h, c), from zero too, as the wrapper's forward does.
    """
    torch = require_torch()
    batch, steps, _ = x.shape
    state = x.new_zeros(batch, net.module.state_size)
    memory = x.new_zeros(batch, net.module.state_size) if net.mixed_memory else None
    outputs = []
    for t in range(steps):
        if memory is not None:
            state, memory = net.module.lstm(x[:, t], (state, memory))
        out, state = net.module.rnn_cell(x[:, t], state, elapsed[:, t : t + 1])
        if net.cell == "cfc":
            out = net.module.fc(out)
        outputs.append(out)
    return torch.stack(outputs, dim=1)


# --------------------------------------------------------------------------------------------------------
# Training


@dataclass
class Tensors:
    """One split as float32 tensors, normalized (``y`` stays int64 labels for classification)."""

    x: Any
    y: Any
    elapsed: Any

    @classmethod
    def of(cls, data: Dataset, norm: Normalization) -> Tensors:
        torch = require_torch()
        x = (data.x - norm.x_mean) / norm.x_std
        if data.kind == "classification":
            y = torch.as_tensor(data.y, dtype=torch.int64)
        else:
            assert norm.y_mean is not None and norm.y_std is not None
            y = torch.as_tensor((data.y - norm.y_mean) / norm.y_std, dtype=torch.float32)
        return cls(
            torch.as_tensor(x, dtype=torch.float32),
            y,
            torch.as_tensor(data.elapsed(), dtype=torch.float32),
        )


def loss_of(kind: str, prediction: Any, target: Any) -> Any:
    """MSE on normalized targets at every step; cross-entropy for classes, on the last step's outputs for
    labels [B] or over every step for per-step labels [B, T]."""
    torch = require_torch()
    if kind == "classification":
        if target.ndim == 2:
            return torch.nn.functional.cross_entropy(prediction.reshape(-1, prediction.shape[-1]), target.reshape(-1))
        return torch.nn.functional.cross_entropy(prediction[:, -1], target)
    return torch.nn.functional.mse_loss(prediction, target)


def train(config: TrainConfig, progress: ProgressCallback | None = None) -> TrainResult:
    """Train, keep the epoch with the best validation loss, write the checkpoint and the .lnn file."""
    torch = require_torch()
    started = time.monotonic()
    dataset = load_dataset(config)
    task_name = config.task or (Path(config.data).name if config.data else DEFAULT_TASK)
    spec = resolve_wiring(config, dataset.output_size, task_name)
    _check_training_options(config)
    ckpt_path = config.checkpoint_path()
    # Refuse outputs that would replace a user's file before minutes of training, not after.
    check_file_target(config.output, "model file", is_model_file)
    check_file_target(ckpt_path, "checkpoint", is_checkpoint)
    train_data, val_data = split(dataset, config.val_fraction, config.seed)
    norm = Normalization.fit(train_data)

    with _torch_settings(torch, config):
        net = build_network(config, spec, dataset.input_size, dataset.output_size)
        train_t, val_t = Tensors.of(train_data, norm), Tensors.of(val_data, norm)
        history = _fit(net, config, dataset.kind, train_t, val_t, val_data, norm, progress, started)
        metrics = evaluate(net, val_data, norm)

    baseline = baseline_of(train_data, val_data)
    constant = constant_targets(dataset)
    warnings = [*([history.warning] if history.warning else []), *constant, *clock_like_inputs(dataset)]
    if not constant and not beats(metrics, baseline):
        warnings.append(_baseline_warning(metrics, baseline))
    task = _task_record(dataset, config, metrics, len(train_data.x), len(val_data.x))
    task["baseline"] = baseline
    task["steps"] = history.steps
    checkpoint = make_checkpoint(net, dataset, train_data, norm, task, config)
    from lnn_edge.model import importers, modelfile

    model = importers.from_checkpoint(checkpoint)  # before writing anything: it validates the result
    with atomic_file(ckpt_path, kind="checkpoint", is_own=is_checkpoint) as tmp:
        torch.save(checkpoint, tmp)
    content_hash = modelfile.save(model, config.output)
    check = reference_error(model, net, val_data, norm)
    return TrainResult(
        model=model,
        lnn_path=str(config.output),
        checkpoint_path=str(ckpt_path),
        metric=task["metric"],
        value=task["value"],
        r2=task.get("r2"),
        train_losses=history.train,
        val_losses=history.val,
        best_epoch=history.best_epoch,
        seconds=time.monotonic() - started,
        task=task,
        check_error=check,
        content_hash=content_hash,
        warning=history.warning,
        baseline=baseline,
        warnings=warnings,
        epochs=history.epochs,
        steps=history.steps,
        stopped_early=history.stopped_early,
    )


@contextlib.contextmanager
def _torch_settings(torch: Any, config: TrainConfig) -> Iterator[None]:
    """Seed torch and cap its threads for the run, then restore both, so that a notebook's own torch
    state is left as it was (ncps initializes parameters from torch's global generator)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, min(config.threads, os.cpu_count() or 1)))
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            yield
    finally:
        torch.set_num_threads(threads)


def _check_training_options(config: TrainConfig) -> None:
    if config.epochs is not None and config.steps is not None:
        raise LnnEdgeError("give --epochs or --steps, not both (--steps counts optimizer steps, i.e. batches)")
    for flag, value, least in (
        ("--epochs", config.epochs, 1),
        ("--steps", config.steps, 1),
        ("--patience", config.patience, 0),
        ("--batch-size", config.batch_size, 1),
    ):
        if value is not None and value < least:
            raise LnnEdgeError(f"{flag} is {value}; expected at least {least}")
    lr = config.learning_rate()
    if not (math.isfinite(lr) and lr > 0):
        raise LnnEdgeError(f"--lr is {lr}; expected a learning rate > 0")


@dataclass
class Budget:
    """How long to train: ``steps`` optimizer steps (the cosine schedule spans them) in at most ``epochs``
    epochs, validating every ``eval_every`` epochs; stop after ``patience`` steps without a better
    validation loss (None: never)."""

    steps: int
    epochs: int
    eval_every: int
    patience: int | None


def plan_budget(config: TrainConfig, batches: int) -> Budget:
    """The budget for ``batches`` batches per epoch: exactly ``config.epochs`` epochs when given (validated
    after each, as before), else ``config.steps`` (default :data:`DEFAULT_STEPS`) with early stopping."""
    if config.epochs is not None:
        return Budget(config.epochs * batches, config.epochs, 1, config.patience or None)
    steps = DEFAULT_STEPS if config.steps is None else config.steps
    patience = DEFAULT_PATIENCE if config.patience is None else config.patience
    return Budget(steps, math.ceil(steps / batches), max(1, EVAL_STEPS // batches), patience or None)


@dataclass
class History:
    """Losses at each validation; ``warning`` says why training stopped early if it diverged,
    ``stopped_early`` if it stopped for lack of progress."""

    train: list[float] = field(default_factory=list)
    val: list[float] = field(default_factory=list)
    best_epoch: int = 0
    best_step: int = 0
    epochs: int = 0
    steps: int = 0
    warning: str | None = None
    stopped_early: str | None = None


def _fit(
    net: Network,
    config: TrainConfig,
    kind: str,
    train_t: Tensors,
    val_t: Tensors,
    val_data: Dataset,
    norm: Normalization,
    progress: ProgressCallback | None,
    started: float,
) -> History:
    """Adam with a cosine learning-rate decay over the step budget and gradient clipping; restores the
    weights of the best validation.

    Shuffling uses its own seeded generator, so the same config gives the same model.
    """
    torch = require_torch()
    module = net.module
    params = [p for p in module.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=config.learning_rate())
    n = train_t.x.shape[0]
    batches = math.ceil(n / config.batch_size)
    budget = plan_budget(config, batches)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: _cosine(step, budget.steps, config.min_lr_fraction)
    )
    rng = np.random.default_rng(config.seed + 2)
    history = History()
    best_loss, best_state = math.inf, copy.deepcopy(module.state_dict())
    running, seen = 0.0, 0
    for epoch in range(1, budget.epochs + 1):
        module.train()
        order = torch.as_tensor(rng.permutation(n))
        for b in range(min(batches, budget.steps - history.steps)):
            index = order[b * config.batch_size : (b + 1) * config.batch_size]
            loss = loss_of(kind, run_network(net, train_t.x[index], train_t.elapsed[index]), train_t.y[index])
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
            optimizer.step()
            schedule.step()
            history.steps += 1
            running, seen = running + float(loss.detach()) * len(index), seen + len(index)
        history.epochs = epoch
        if epoch % budget.eval_every and epoch < budget.epochs:
            continue
        train_loss, running, seen = running / max(seen, 1), 0.0, 0
        val_loss, metrics = _validate(net, kind, val_t, val_data, norm)
        if not (math.isfinite(train_loss) and math.isfinite(val_loss)):
            if not history.best_epoch:
                raise LnnEdgeError(f"training diverged in epoch {epoch} (loss {train_loss:.3g}); try a smaller --lr")
            history.warning = (
                f"training diverged in epoch {epoch} (loss {train_loss:.3g}): stopped and kept epoch "
                f"{history.best_epoch}; a smaller --lr may help"
            )
            break
        best = val_loss < best_loss
        if best:
            best_loss, best_state = val_loss, copy.deepcopy(module.state_dict())
            history.best_epoch, history.best_step = epoch, history.steps
        history.train.append(train_loss)
        history.val.append(val_loss)
        if progress is not None:
            seconds = time.monotonic() - started
            report = EpochReport(
                epoch, budget.epochs, train_loss, val_loss, metrics["metric"], metrics["value"], seconds, best,
                history.steps, budget.steps,
            )  # fmt: skip
            progress(report)
        if budget.patience is not None and history.steps - history.best_step >= budget.patience:
            history.stopped_early = (
                f"stopped at step {history.steps}: no better validation loss for {budget.patience} steps"
            )
            break
    module.load_state_dict(best_state)
    return history


def _cosine(step: int, total: int, floor: float) -> float:
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * min(step, total) / max(total, 1)))


def _validate(
    net: Network, kind: str, val_t: Tensors, val_data: Dataset, norm: Normalization
) -> tuple[float, dict[str, Any]]:
    """Validation loss (normalized) and raw-unit metrics from one forward pass."""
    torch = require_torch()
    net.module.eval()
    with torch.no_grad():
        out = run_network(net, val_t.x, val_t.elapsed)
        loss = float(loss_of(kind, out, val_t.y))
    return loss, metrics_of(_denormalize(out.double().numpy(), norm), val_data)


# --------------------------------------------------------------------------------------------------------
# Evaluation in raw units


def predict(net: Network, data: Dataset, norm: Normalization) -> np.ndarray:
    """Raw-unit outputs [N, T, M] (logits for classification) of the torch model, in float64."""
    torch = require_torch()
    tensors = Tensors.of(data, norm)
    net.module.eval()
    with torch.no_grad():
        out = run_network(net, tensors.x, tensors.elapsed).double().numpy()
    return _denormalize(out, norm)


def _denormalize(out: np.ndarray, norm: Normalization) -> np.ndarray:
    if norm.y_mean is None or norm.y_std is None:
        return out
    return out * norm.y_std + norm.y_mean


def evaluate(net: Network, data: Dataset, norm: Normalization) -> dict[str, Any]:
    """The metrics of the torch model on ``data`` in raw units (see :func:`metrics_of`)."""
    return metrics_of(predict(net, data, norm), data)


def metrics_of(out: np.ndarray, data: Dataset) -> dict[str, Any]:
    """Raw-unit metrics of predictions ``out``: rmse (with per-output rmse and R^2), or accuracy (at the
    last step for labels [N], over every step for per-step labels [N, T]).

    R^2 is None for an output that is constant on ``data``: it has no variance to explain (dividing by
    zero made it print 1.000 before).
    """
    if data.kind == "classification":
        predicted = out.argmax(axis=2)
        return {
            "metric": "accuracy",
            "value": float(np.mean((predicted if data.per_step else predicted[:, -1]) == data.y)),
        }
    error = out - data.y
    per_output = np.sqrt(np.mean(error**2, axis=(0, 1)))
    flat = data.y.reshape(-1, data.y.shape[-1])
    variance = np.var(flat, axis=0)
    varies = ~_constant(flat)
    r2 = 1.0 - np.mean(error**2, axis=(0, 1)) / np.where(varies, variance, 1.0)
    r2_listed = [float(v) if ok else None for v, ok in zip(r2, varies, strict=True)]
    return {
        "metric": "rmse",
        "value": float(np.sqrt(np.mean(error**2))),
        "rmse_per_output": [float(v) for v in per_output],
        "target_std": [float(v) for v in np.sqrt(variance)],
        "r2_per_output": r2_listed,
        "r2": float(np.mean(r2[varies])) if np.any(varies) else None,
    }


def _constant(flat: np.ndarray) -> np.ndarray:
    """Per column of ``flat`` [K, M]: whether it is constant (up to float rounding of its magnitude)."""
    spread = flat.max(axis=0) - flat.min(axis=0)
    return spread <= STD_FLOOR * np.maximum(1.0, np.abs(flat).max(axis=0))


# --------------------------------------------------------------------------------------------------------
# Baselines and data warnings


def baseline_of(train_data: Dataset, val_data: Dataset) -> dict[str, Any]:
    """The trivial baseline's metrics on the validation split, with its ``name``: the majority class of the
    training split (classification); persistence, i.e. predicting the current value of the input column a
    target is the next value of (forecasting); else the training split's mean of each target."""
    if val_data.kind == "classification":
        classes = val_data.output_size
        majority = int(np.bincount(train_data.y.reshape(-1), minlength=classes).argmax())
        out = np.zeros((*val_data.x.shape[:2], classes))
        out[:, :, majority] = 1.0
        name = f"majority class ({val_data.output_names[majority]})"
    else:
        columns = persistence_columns(train_data)
        if columns is not None:
            out, name = val_data.x[:, :, columns], "persistence"
        else:
            mean = train_data.y.reshape(-1, train_data.y.shape[-1]).mean(axis=0)
            out, name = np.broadcast_to(mean, val_data.y.shape), "mean"
    metrics = metrics_of(out, val_data)
    return {"name": name, "metric": metrics["metric"], "value": metrics["value"], "r2": metrics.get("r2")}


def persistence_columns(data: Dataset) -> list[int] | None:
    """For forecasting data, the input column each target is the next value of (the target at step t is the
    input at step t+1 in every sequence), else None."""
    if data.kind != "regression" or data.seq_len < 2:
        return None
    columns = []
    for k in range(data.output_size):
        target = data.y[:, :-1, k]
        match = [j for j in range(data.input_size) if np.array_equal(target, data.x[:, 1:, j])]
        if not match:
            return None
        columns.append(match[0])
    return columns


def beats(metrics: dict[str, Any], baseline: dict[str, Any]) -> bool:
    """Whether the model's validation metric is strictly better than the baseline's."""
    if metrics["metric"] == "accuracy":
        return bool(metrics["value"] > baseline["value"])
    return bool(metrics["value"] < baseline["value"])


def _baseline_warning(metrics: dict[str, Any], baseline: dict[str, Any]) -> str:
    return (
        f"the model does not beat the {baseline['name']} baseline on the validation split ({metrics['metric']} "
        f"{metrics['value']:.4g} vs {baseline['value']:.4g}): train longer (--steps), try a larger --wiring or "
        "another --lr, or check that the inputs carry information about the target"
    )


def constant_targets(dataset: Dataset) -> list[str]:
    """Warnings for targets with nothing to learn: a regression target constant over the whole data, or
    labels that all name one class."""
    if dataset.kind == "classification":
        present = np.unique(dataset.y)
        if len(present) > 1:
            return []
        name = dataset.output_names[int(present[0])]
        return [f"every label in the data is class '{name}': there is nothing to learn (accuracy is trivially 1)"]
    flat = dataset.y.reshape(-1, dataset.output_size)
    return [
        f"target '{name}' is constant ({flat[0, k]:.6g}) in the data: there is nothing to learn and R^2 is "
        "undefined; check --target-columns"
        for k, name in enumerate(dataset.output_names)
        if _constant(flat[:, [k]])[0]
    ]


def clock_like_inputs(dataset: Dataset, min_steps: int = 8) -> list[str]:
    """Warnings for inputs that increase at every step of every sequence: a time stamp or a row counter read as
    a sensor. The model learns from values that never come back, and on the board they run past the range its
    fixed-point formats were chosen for."""
    if dataset.seq_len < min_steps:
        return []
    return [
        f"input '{name}' increases at every step of every sequence: if it is a time stamp or a counter, leave it "
        f"out of the inputs (CSV: --time-column {name} makes it the elapsed time; .npz: give the elapsed times as "
        "'dt'); as an input it runs past its trained range on the board"
        for k, name in enumerate(dataset.input_names)
        if np.all(np.diff(dataset.x[:, :, k], axis=1) > 0)
    ]


def reference_error(model: Model, net: Network, data: Dataset, norm: Normalization, count: int = 8) -> float | None:
    """Max abs difference between the torch model and the .lnn model run by the float64 reference, in raw
    units, on the first validation sequences: proof that the normalization was folded correctly."""
    try:
        from lnn_edge.reference import Reference
    except ImportError:
        return None
    sample = data.subset(np.arange(min(count, data.samples)))
    torch_out = predict(net, sample, norm)
    ref_out, _ = Reference(model).run(sample.x, sample.elapsed())
    return float(np.max(np.abs(np.asarray(ref_out) - torch_out)))


# --------------------------------------------------------------------------------------------------------
# Checkpoint


def _task_record(
    dataset: Dataset, config: TrainConfig, metrics: dict[str, Any], n_train: int, n_val: int
) -> dict[str, Any]:
    """What the model was trained for, stored in the model: ``metric`` and ``per_step`` (whether the metric
    covers every step or, for sequence labels, the last step only) let other tools compute the same metric."""
    return {
        "name": dataset.name,
        "kind": dataset.kind,
        "per_step": dataset.per_step,
        **metrics,
        "description": dataset.description,
        "source": "file" if config.data else "generated",
        "train_sequences": n_train,
        "val_sequences": n_val,
        "seq_len": dataset.seq_len,
        "irregular": dataset.dt is not None,
    }


def make_checkpoint(
    net: Network,
    dataset: Dataset,
    train_data: Dataset,
    norm: Normalization,
    task: dict[str, Any],
    config: TrainConfig,
) -> dict[str, Any]:
    """The checkpoint dict (see the package contract): loadable with ``torch.load(weights_only=True)``.

    Calibration: statistics of every training input value (``calibration_stats``) and a representative
    sample of the training split (the extremes' sequences, then spread across classes or the recording),
    since the first few sequences miss the extremes of real data.
    """
    torch = require_torch()
    labels = train_data.y if train_data.kind == "classification" else None
    budget = CALIBRATION_SEQUENCES * train_data.seq_len * train_data.input_size
    sample_x, sample_dt, sample_y = labelled_sample(train_data.x, train_data.dt, labels, max_values=budget)
    return {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "state_dict": {key: value.detach().clone() for key, value in net.module.state_dict().items()},
        "import_options": dict(net.import_options),
        "wiring": net.wiring,
        "normalization": norm.as_dict(),
        "input_names": list(dataset.input_names),
        "output_names": list(dataset.output_names),
        "dt": float(dataset.nominal_dt),
        "task": task,
        "calibration_x": torch.as_tensor(sample_x, dtype=torch.float64),
        "calibration_dt": None if sample_dt is None else torch.as_tensor(sample_dt, dtype=torch.float64),
        "calibration_stats": stats_tensors(input_stats(train_data.x)),
        "calibration_y": None if sample_y is None else torch.as_tensor(sample_y, dtype=torch.int64),
        "config": {**asdict(config), "resolved_wiring": str(net.spec)},
    }


def stats_tensors(stats: InputStats) -> dict[str, Any]:
    """The checkpoint's ``calibration_stats``: each field of ``stats`` as a float64 tensor (``count`` 0-d)."""
    torch = require_torch()
    return {
        "minimum": torch.as_tensor(stats.minimum, dtype=torch.float64),
        "maximum": torch.as_tensor(stats.maximum, dtype=torch.float64),
        "abs_p999": torch.as_tensor(stats.abs_p999, dtype=torch.float64),
        "count": torch.tensor(float(stats.count), dtype=torch.float64),
    }

"""Train an LTC or CfC network (ncps, torch) on a built-in task or user data; write a checkpoint and a .lnn.

The trainer drives the ncps cell itself, one step at a time, with the elapsed time of shape (B, 1): the
wrappers' batched ``timespans`` are broken for batch > 1 (ncps issues #81-#83), and stepping the cell is
exactly what the reference simulator and the generated C do, so training and deployment compute the same
function. Inputs and regression targets are normalized with the training split's mean and std; the
checkpoint records them and :func:`lnn_edge.importers.from_checkpoint` folds them into the model, so the
``.lnn`` file takes and gives raw units.

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
from lnn_edge.model import ACTIVATIONS, CFC_MODES, Model
from lnn_edge.outputs import is_checkpoint, is_model_file
from lnn_edge.tasks import Dataset, load_data, make_task
from lnn_edge.wiring_spec import (
    WiringSpec,
    build_wiring,
    check_compatible,
    parse_wiring,
    projects_outputs,
    wiring_config,
    wiring_roles,
)

CHECKPOINT_FORMAT = "lnn-edge-checkpoint"
CHECKPOINT_VERSION = 1
CELLS = ("ltc", "cfc")
DEFAULT_TASK = "pendulum"
DEFAULT_UNITS = 19
CALIBRATION_SEQUENCES = 8
STD_FLOOR = 1e-8
DEFAULT_LR = {"ltc": 0.03, "cfc": 0.005}
"""LTC parameters live on a scale of ~1 and tolerate a large step; CfC's linear layers want a smaller one."""


@dataclass
class TrainConfig:
    """Everything a training run depends on (all of it is stored in the checkpoint).

    ``task`` names a built-in task (see :mod:`lnn_edge.tasks`); ``data`` a user file instead. ``wiring``
    None means ``autoncp:19,<outputs>``. ``samples`` and ``seq_len`` None mean the task's defaults.
    Backbone options and ``activation`` apply to dense CfCs only (None: 64 units, 1 layer, lecun_tanh).
    ``checkpoint`` None means ``<output without .lnn>.ckpt.pt``; ``lr`` None means :data:`DEFAULT_LR`.
    """

    cell: str = "ltc"
    wiring: str | None = None
    task: str | None = None
    data: str | None = None
    target_columns: list[str] | None = None
    input_columns: list[str] | None = None
    dt_column: str | None = None
    data_dt: float = 1.0
    samples: int | None = None
    seq_len: int | None = None
    epochs: int = 40
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
    """Handed to the progress callback after every epoch (losses on normalized data)."""

    epoch: int
    epochs: int
    train_loss: float
    val_loss: float
    metric: str
    value: float
    seconds: float
    best: bool


@dataclass
class TrainResult:
    """What a run produced. ``value`` is the validation ``metric`` (rmse in raw units, or accuracy) of the
    best epoch, which is the one saved; ``check_error`` is the max abs difference between the torch model
    and the .lnn run through the float64 reference on validation sequences (None if not checked)."""

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
    csv_only = [config.target_columns, config.input_columns, config.dt_column]
    if any(value is not None for value in csv_only) and not str(config.data or "").lower().endswith(".csv"):
        raise LnnEdgeError("--target-columns, --input-columns and --dt-column apply to CSV data only")
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


def build_network(config: TrainConfig, spec: WiringSpec, inputs: int, outputs: int) -> Network:
    """Build the ncps module (seeded by the caller). LTC uses affine input and output mappings, which is
    where the importer folds the normalization."""
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
        )
    else:
        proj = outputs if projects_outputs(spec, config.cell) else None
        module = CfC(inputs, wiring, proj_size=proj, mode=config.mode)
    info = {
        "kind": spec.kind,
        "config": wiring_config(spec, wiring),
        "roles": wiring_roles(spec, config.cell, wiring, outputs),
    }
    return Network(module, config.cell, spec, options, info)


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
    """
    torch = require_torch()
    batch, steps, _ = x.shape
    state = x.new_zeros(batch, net.module.state_size)
    outputs = []
    for t in range(steps):
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
    """MSE on normalized targets at every step; cross-entropy on the last step's outputs for classes."""
    torch = require_torch()
    if kind == "classification":
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

    task = _task_record(dataset, config, metrics, len(train_data.x), len(val_data.x))
    checkpoint = make_checkpoint(net, dataset, train_data, norm, task, config)
    from lnn_edge import importers, modelfile

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
    for flag, value in (("--epochs", config.epochs), ("--batch-size", config.batch_size)):
        if value < 1:
            raise LnnEdgeError(f"{flag} is {value}; expected at least 1")
    lr = config.learning_rate()
    if not (math.isfinite(lr) and lr > 0):
        raise LnnEdgeError(f"--lr is {lr}; expected a learning rate > 0")


@dataclass
class History:
    """Per-epoch losses; ``warning`` says why training stopped early, if it did."""

    train: list[float] = field(default_factory=list)
    val: list[float] = field(default_factory=list)
    best_epoch: int = 0
    warning: str | None = None


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
    """Adam with a cosine learning-rate decay and gradient clipping; restores the best epoch's weights.

    Shuffling uses its own seeded generator, so the same config gives the same model.
    """
    torch = require_torch()
    module = net.module
    params = [p for p in module.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=config.learning_rate())
    n = train_t.x.shape[0]
    batches = math.ceil(n / config.batch_size)
    total = config.epochs * batches
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: _cosine(step, total, config.min_lr_fraction))
    rng = np.random.default_rng(config.seed + 2)
    history = History()
    best_loss, best_state = math.inf, copy.deepcopy(module.state_dict())
    for epoch in range(1, config.epochs + 1):
        module.train()
        order = torch.as_tensor(rng.permutation(n))
        running = 0.0
        for b in range(batches):
            index = order[b * config.batch_size : (b + 1) * config.batch_size]
            loss = loss_of(kind, run_network(net, train_t.x[index], train_t.elapsed[index]), train_t.y[index])
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
            optimizer.step()
            schedule.step()
            running += float(loss.detach()) * len(index)
        train_loss = running / n
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
            best_loss, best_state, history.best_epoch = val_loss, copy.deepcopy(module.state_dict()), epoch
        history.train.append(train_loss)
        history.val.append(val_loss)
        if progress is not None:
            seconds = time.monotonic() - started
            report = EpochReport(
                epoch, config.epochs, train_loss, val_loss, metrics["metric"], metrics["value"], seconds, best
            )
            progress(report)
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
    """Raw-unit metrics of predictions ``out``: rmse (with per-output rmse and R^2), or accuracy."""
    if data.kind == "classification":
        return {"metric": "accuracy", "value": float(np.mean(out[:, -1].argmax(axis=1) == data.y))}
    error = out - data.y
    per_output = np.sqrt(np.mean(error**2, axis=(0, 1)))
    variance = np.var(data.y.reshape(-1, data.y.shape[-1]), axis=0)
    r2 = 1.0 - np.mean(error**2, axis=(0, 1)) / np.where(variance > 0, variance, 1.0)
    return {
        "metric": "rmse",
        "value": float(np.sqrt(np.mean(error**2))),
        "rmse_per_output": [float(v) for v in per_output],
        "target_std": [float(v) for v in np.sqrt(variance)],
        "r2_per_output": [float(v) for v in r2],
        "r2": float(np.mean(r2)),
    }


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
    return {
        "name": dataset.name,
        "kind": dataset.kind,
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
    """The checkpoint dict (see the package contract): loadable with ``torch.load(weights_only=True)``."""
    torch = require_torch()
    sample = train_data.subset(np.arange(min(CALIBRATION_SEQUENCES, train_data.samples)))
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
        "calibration_x": torch.as_tensor(sample.x, dtype=torch.float64),
        "calibration_dt": None if sample.dt is None else torch.as_tensor(sample.dt, dtype=torch.float64),
        "config": {**asdict(config), "resolved_wiring": str(net.spec)},
    }

"""The trainer, end to end with real torch and ncps: tiny models, one or two epochs.

The central check: the .lnn file, run by the float64 reference, reproduces the trained torch model's
predictions in raw units. That proves the checkpoint is complete and the normalization is folded right.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner, Result

from lnn_edge.cli import cli
from lnn_edge.model import modelfile
from lnn_edge.reference import Reference
from lnn_edge.train.tasks import Dataset, load_data, make_task
from lnn_edge.train.trainer import (
    DEFAULT_TASK,
    TrainConfig,
    load_dataset,
    network_from_checkpoint,
    predict,
    resolve_wiring,
    split,
    train,
)

CHECKPOINT_KEYS = {
    "format",
    "version",
    "state_dict",
    "import_options",
    "wiring",
    "normalization",
    "input_names",
    "output_names",
    "dt",
    "task",
    "calibration_x",
    "calibration_dt",
    "calibration_stats",
    "calibration_y",
    "config",
}


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["train", *args], catch_exceptions=False)


def _train_cli(tmp_path: Path, *args: str) -> tuple[Result, Path, Path]:
    lnn = tmp_path / "m.lnn"
    result = _run(*args, "--epochs", "1", "-o", str(lnn))
    assert result.exit_code == 0, result.output
    return result, lnn, tmp_path / "m.ckpt.pt"


def _validation(checkpoint: dict[str, Any]) -> Dataset:
    """Rebuild the run's validation split from the config stored in the checkpoint."""
    config = TrainConfig(**{k: v for k, v in checkpoint["config"].items() if k in TrainConfig.__dataclass_fields__})
    return split(load_dataset(config), config.val_fraction, config.seed)[1]


def _assert_lnn_reproduces_torch(lnn: Path, ckpt: Path, atol: float = 1e-5) -> dict[str, Any]:
    checkpoint = torch.load(ckpt, weights_only=True)
    assert set(checkpoint) == CHECKPOINT_KEYS
    net, norm = network_from_checkpoint(checkpoint)
    val = _validation(checkpoint)
    expected = predict(net, val, norm)  # float32 torch, un-normalized to raw units
    model = modelfile.load(lnn)
    got, _ = Reference(model).run(val.x, val.dt)  # dt None: the model's default step
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(got, expected, rtol=0, atol=atol * scale)
    return checkpoint


@pytest.mark.slow
def test_ltc_autoncp_irregular_regression(tmp_path: Path) -> None:
    result, lnn, ckpt = _train_cli(
        tmp_path, "--task", "pendulum", "--wiring", "autoncp:8,2", "--samples", "24", "--seq-len", "12"
    )
    assert "validation rmse" in result.stdout and "epoch 1/1" in result.stderr
    checkpoint = _assert_lnn_reproduces_torch(lnn, ckpt)
    assert checkpoint["format"] == "lnn-edge-checkpoint" and checkpoint["version"] == 1
    assert checkpoint["wiring"]["kind"] == "autoncp"
    assert checkpoint["wiring"]["roles"]["motor"] == [0, 1]
    assert checkpoint["calibration_x"].shape[1:] == (12, 2) and checkpoint["calibration_dt"] is not None
    assert checkpoint["task"]["metric"] == "rmse" and checkpoint["task"]["kind"] == "regression"
    assert checkpoint["normalization"]["y_std"] is not None
    model = modelfile.load(lnn)
    assert model.cell == "ltc" and model.output_names == ["angle", "angular_velocity"]
    assert model.task["name"] == "pendulum" and model.calibration is not None


def test_cfc_dense_classification_json(tmp_path: Path) -> None:
    result, lnn, ckpt = _train_cli(
        tmp_path,
        *("--cell", "cfc", "--wiring", "dense:6", "--backbone-units", "5", "--task", "sineclass"),
        *("--samples", "20", "--seq-len", "10", "--json", "--quiet"),
    )
    assert "epoch" not in result.stderr  # --quiet: no progress lines (a 1-epoch model may get a baseline warning)
    payload = json.loads(result.stdout)
    assert payload["metric"] == "accuracy" and 0.0 <= payload["value"] <= 1.0
    assert payload["lnn"] == str(lnn) and payload["checkpoint"] == str(ckpt) and payload["seconds"] > 0
    assert payload["reference_max_abs_error"] < 1e-4
    checkpoint = _assert_lnn_reproduces_torch(lnn, ckpt)
    assert checkpoint["normalization"]["y_mean"] is None and checkpoint["calibration_dt"] is None
    assert modelfile.load(lnn).output_names == ["slow_sine", "fast_sine", "slow_square", "fast_square"]


@pytest.mark.parametrize(
    "args",
    [
        ("--cell", "cfc", "--wiring", "ncp:4,3,3,2,2,2,2", "--task", "lorenz", "--mode", "no_gate"),
        ("--cell", "cfc", "--wiring", "fc:5", "--task", "pendulum", "--mode", "pure"),
        ("--cell", "ltc", "--wiring", "random:6,0.3", "--task", "sines", "--ode-unfolds", "3"),
    ],
)
def test_other_cells_and_wirings_fold_exactly(tmp_path: Path, args: tuple[str, ...]) -> None:
    _, lnn, ckpt = _train_cli(tmp_path, *args, "--samples", "16", "--seq-len", "8", "--quiet")
    _assert_lnn_reproduces_torch(lnn, ckpt)


def test_user_npz_and_csv_data(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, size=(12, 6, 2))
    np.savez(tmp_path / "d.npz", x=x, y=np.cumsum(x[..., :1], axis=1), dt=rng.uniform(0.5, 2.0, size=(12, 6)))
    _, lnn, ckpt = _train_cli(tmp_path, "--data", str(tmp_path / "d.npz"), "--wiring", "fc:4", "--quiet")
    _assert_lnn_reproduces_torch(lnn, ckpt)

    rows = "\n".join(f"{np.sin(i / 3):.6f},{i % 5},{np.cos(i / 3):.6f}" for i in range(60))
    (tmp_path / "s.csv").write_text("a,b,target\n" + rows + "\n")
    csv_args = (
        "--data",
        str(tmp_path / "s.csv"),
        "--target-columns",
        "target",
        "--seq-len",
        "10",
        "--dt",
        "0.5",
    )
    _, lnn, ckpt = _train_cli(tmp_path, *csv_args, "--wiring", "autoncp:6,1", "--quiet")
    checkpoint = _assert_lnn_reproduces_torch(lnn, ckpt)
    assert checkpoint["dt"] == 0.5 and modelfile.load(lnn).input_names == ["a", "b"]
    assert load_data(tmp_path / "s.csv", target_columns=["target"], seq_len=10).samples == 6


@pytest.mark.slow
def test_loss_decreases_on_an_easy_task(tmp_path: Path) -> None:
    config = TrainConfig(
        cell="cfc",
        wiring="dense:8",
        backbone_units=8,
        task="sines",
        samples=64,
        seq_len=16,
        epochs=5,
        lr=0.02,
    )
    config.output = str(tmp_path / "s.lnn")
    reports: list[Any] = []
    result = train(config, progress=reports.append)
    assert [r.epoch for r in reports] == [1, 2, 3, 4, 5]
    assert result.train_losses[-1] < 0.7 * result.train_losses[0]
    assert result.val_losses[-1] < result.val_losses[0]
    assert result.best_epoch == int(np.argmin(result.val_losses)) + 1
    assert result.r2 is not None and result.metric == "rmse"
    assert Path(result.lnn_path).is_file() and Path(result.checkpoint_path) == tmp_path / "s.ckpt.pt"


def test_same_seed_same_model(tmp_path: Path) -> None:
    def state(seed: int, name: str) -> dict[str, torch.Tensor]:
        args = ["--wiring", "autoncp:6,2", "--samples", "12", "--seq-len", "5", "--seed", str(seed), "-q"]
        _train_cli(tmp_path / name, *args)
        return torch.load(tmp_path / name / "m.ckpt.pt", weights_only=True)["state_dict"]

    first, again, other = state(1, "a"), state(1, "b"), state(2, "c")
    assert all(torch.equal(first[key], again[key]) for key in first)
    assert not all(torch.equal(first[key], other[key]) for key in first)


def test_checkpoint_option_and_default_demo_setup(tmp_path: Path) -> None:
    config = TrainConfig()
    assert (config.cell, config.output, DEFAULT_TASK) == ("ltc", "model.lnn", "pendulum")
    assert config.checkpoint_path() == Path("model.ckpt.pt")
    data = make_task(DEFAULT_TASK, samples=4, seq_len=3)
    assert str(resolve_wiring(config, data.output_size, DEFAULT_TASK)) == "autoncp:19,2"
    ckpt = tmp_path / "elsewhere" / "c.pt"
    args = ["--wiring", "fc:3", "--samples", "8", "--seq-len", "4", "--epochs", "1", "-q"]
    result = _run(*args, "-o", str(tmp_path / "x.lnn"), "--checkpoint", str(ckpt))
    assert result.exit_code == 0, result.output
    assert ckpt.is_file() and (tmp_path / "x.lnn").is_file()


def _npz(path: Path, **arrays: np.ndarray) -> str:
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return str(path)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--task", "nope"), "unknown task 'nope'"),
        (("--wiring", "autoncp:19"), "wiring spec 'autoncp:19' is not valid"),
        (
            ("--task", "lorenz", "--wiring", "autoncp:19,2"),
            "has 2 motor neurons but task 'lorenz' has 3 outputs",
        ),
        (("--wiring", "dense:8"), "is a plain CfC"),
        (("--wiring", "fc:4", "--backbone-units", "8"), "--backbone-units apply to a dense CfC only"),
        (("--mode", "pure"), "--mode applies to CfC only"),
        (("--val-fraction", "1.5"), "--val-fraction is 1.5"),
        (("--lr", "0"), "--lr is 0.0"),
        (("--task", "sines", "--data", "x.npz"), "either --task or --data"),
        (("--target-columns", "a"), "apply to CSV data only"),
        (("--lr", "1e30", "--cell", "cfc", "--wiring", "dense:4"), "training diverged in epoch 1"),
    ],
)
def test_bad_options_exit_1_with_one_line(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    result = _run(*args, "--samples", "4", "--seq-len", "2", "--epochs", "1", "-o", str(tmp_path / "m.lnn"))
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert message in result.stderr
    assert not (tmp_path / "m.lnn").exists()


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"x": np.zeros((4, 3, 1))}, "has no array 'y'"),
        ({"x": np.zeros((4, 3, 1)), "y": np.zeros((4, 2, 1))}, "array 'y' in"),
        ({"x": np.zeros((4, 3, 1)), "y": np.full((4, 3, 1), np.inf)}, "contains NaN or Inf"),
    ],
)
def test_bad_npz_exits_1_naming_file_and_field(tmp_path: Path, arrays: dict, message: str) -> None:
    path = _npz(tmp_path / "bad.npz", **arrays)
    result = _run("--data", path, "--epochs", "1", "-o", str(tmp_path / "m.lnn"))
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert message in result.stderr and "bad.npz" in result.stderr


def test_npz_rejects_task_sizes_and_same_paths(tmp_path: Path) -> None:
    path = _npz(tmp_path / "d.npz", x=np.zeros((4, 3, 1)), y=np.zeros((4, 3, 1)))
    for args, message in [
        (("--samples", "8"), "--samples applies to built-in tasks only"),
        (("--seq-len", "8"), "npz sequences are used as stored"),
        (("--checkpoint", str(tmp_path / "m.lnn")), "are the same file"),
    ]:
        result = _run("--data", path, *args, "-o", str(tmp_path / "m.lnn"))
        assert result.exit_code == 1 and message in result.stderr, result.output


def test_missing_torch_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ncps.torch", None)  # makes ``import ncps.torch`` fail
    result = _run("--epochs", "1", "-o", str(tmp_path / "m.lnn"))
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert "pip install 'lnn-edge[train]'" in result.stderr


def test_csv_without_targets_exits_1(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("a,b\n1,2\n")
    result = _run("--data", str(tmp_path / "d.csv"), "-o", str(tmp_path / "m.lnn"))
    assert result.exit_code == 1 and "--target-columns" in result.stderr and "d.csv" in result.stderr

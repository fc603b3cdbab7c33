"""The trainer with mixed memory (``--mixed-memory``: ncps's LSTM stepped in front of the cell), with real torch
and ncps: tiny tasks, a few dozen optimizer steps.

The central checks: the trained network's checkpoint imports as ncps's own mixed cell (``ltc_mixed``,
``wired_cfc_mixed``, ``cfc_mixed``); the ``.lnn`` file, run by the float64 reference on raw inputs, is the torch
network (in double, on normalized inputs, de-normalized) to 1e-9, so the LSTM is stepped as ncps steps it and the
normalization folds into it exactly; and its fixed16 export passes ``lnn-edge verify`` bit for bit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from support.cli import invoke

from lnn_edge.model import modelfile
from lnn_edge.model.model import Model
from lnn_edge.reference import Reference
from lnn_edge.train.tasks import Dataset
from lnn_edge.train.trainer import (
    Network,
    Normalization,
    TrainConfig,
    build_network,
    load_dataset,
    network_from_checkpoint,
    resolve_wiring,
    run_network,
    split,
    train,
)


def _tiny_config(cell: str, wiring: str, output: Path) -> TrainConfig:
    """The pendulum (irregular time steps, two outputs), 24 sequences of 12 steps, 30 optimizer steps."""
    return TrainConfig(
        cell=cell,
        wiring=wiring,
        task="pendulum",
        samples=24,
        seq_len=12,
        steps=30,
        mixed_memory=True,
        output=str(output),
    )


def _validation(checkpoint: dict[str, Any]) -> Dataset:
    """The run's validation split, rebuilt from the config stored in the checkpoint."""
    config = TrainConfig(**{k: v for k, v in checkpoint["config"].items() if k in TrainConfig.__dataclass_fields__})
    return split(load_dataset(config), config.val_fraction, config.seed)[1]


def _torch_in_double(net: Network, data: Dataset, norm: Normalization) -> np.ndarray:
    """The trained network's raw-unit outputs, stepped by the trainer's own loop in float64."""
    net.module.double().eval()
    x = torch.from_numpy((data.x - norm.x_mean) / norm.x_std)
    with torch.no_grad():
        out = run_network(net, x, torch.from_numpy(data.elapsed())).numpy()
    assert norm.y_mean is not None and norm.y_std is not None
    return out * norm.y_std + norm.y_mean


def _assert_lnn_is_the_torch_network(lnn: Path, ckpt: Path) -> tuple[Model, dict[str, Any]]:
    checkpoint = torch.load(ckpt, weights_only=True)
    assert {"lstm.input_map.weight", "lstm.input_map.bias", "lstm.recurrent_map.weight"} <= set(
        checkpoint["state_dict"]
    )  # ncps's own keys: the checkpoint imports like any ncps mixed model
    net, norm = network_from_checkpoint(checkpoint)
    assert net.mixed_memory and checkpoint["config"]["mixed_memory"] is True
    val = _validation(checkpoint)
    expected = _torch_in_double(net, val, norm)
    model = modelfile.load(lnn)
    got, state = Reference(model).run(val.x, val.elapsed())
    assert np.abs(got - expected).max() <= 1e-9 * max(1.0, float(np.abs(expected).max()))
    assert np.abs(state[:, :, model.neurons :]).max() > 0.01  # the LSTM's c moved: the check covers it
    return model, checkpoint


def _assert_fixed16_verifies(lnn: Path, out: Path) -> None:
    code, _, err = invoke("export", lnn, "-o", out, "--precision", "fixed16")
    assert code == 0, err
    code, stdout, err = invoke("verify", out, "--json", "--steps", "40")
    assert code == 0, err
    report = json.loads(stdout)
    assert report["passed"] is True and report["bit_exact"] is True


@pytest.mark.parametrize(
    ("cell", "wiring", "kind"),
    [("ltc", "autoncp:8,2", "ltc_mixed"), ("cfc", "autoncp:8,2", "wired_cfc_mixed"), ("cfc", "dense:6", "cfc_mixed")],
)
def test_python_api_trains_a_mixed_model_that_the_lnn_reproduces(
    tmp_path: Path, cell: str, wiring: str, kind: str
) -> None:
    config = _tiny_config(cell, wiring, tmp_path / "m.lnn")
    result = train(config)
    assert result.model.cell == kind and result.steps == 30
    assert result.check_error is not None and result.check_error < 1e-4  # float32 torch against the .lnn
    model, checkpoint = _assert_lnn_is_the_torch_network(tmp_path / "m.lnn", tmp_path / "m.ckpt.pt")
    assert model.cell == kind and model.state_size == 2 * model.neurons
    assert model.calibration is not None and model.output_names == ["angle", "angular_velocity"]
    # The LSTM was trained, not only stepped: its weights moved away from ncps's initialization.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        fresh = build_network(config, resolve_wiring(config, 2, "pendulum"), 2, 2).module.state_dict()
    trained = checkpoint["state_dict"]
    assert not torch.equal(fresh["lstm.input_map.weight"], trained["lstm.input_map.weight"])
    assert not torch.equal(fresh["lstm.recurrent_map.weight"], trained["lstm.recurrent_map.weight"])
    if kind != "cfc_mixed":  # the deployable pair: LTC and wired CfC with mixed memory, bit-exact in fixed16
        _assert_fixed16_verifies(tmp_path / "m.lnn", tmp_path / "out")


def test_cli_trains_with_mixed_memory_then_export_and_verify(tmp_path: Path) -> None:
    lnn = tmp_path / "m.lnn"
    args = ("--wiring", "autoncp:8,2", "--samples", "24", "--seq-len", "12", "--steps", "30")
    code, stdout, err = invoke("train", "--mixed-memory", *args, "-o", lnn, "--json", "--quiet")
    assert code == 0, err
    payload = json.loads(stdout)
    assert payload["mixed_memory"] is True and payload["cell"] == "ltc"
    assert payload["reference_max_abs_error"] < 1e-4
    model, _ = _assert_lnn_is_the_torch_network(lnn, tmp_path / "m.ckpt.pt")
    assert model.cell == "ltc_mixed"
    _assert_fixed16_verifies(lnn, tmp_path / "out")

    code, stdout, _ = invoke("train", "--mixed-memory", *args[:-1], "2", "-o", tmp_path / "again.lnn", "--quiet")
    assert code == 0
    assert "with mixed memory, 8 neurons" in stdout  # neurons, not the state's 16 values


def test_help_shows_the_flag_with_an_example() -> None:
    code, stdout, _ = invoke("train", "--help")
    assert code == 0 and "--mixed-memory" in stdout and "--mixed-memory -o" in stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--wiring", "fc:600"), "--mixed-memory doubles the state ([h | c]): wiring 'fc:600' has 600 neurons"),
        (("--mode", "no_gate"), "--mode applies to CfC only"),
        (("--wiring", "dense:6"), "is a plain CfC; use --cell cfc"),
    ],
)
def test_bad_combinations_exit_1_before_training(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    code, _, err = invoke(
        "train", "--mixed-memory", *args, "--samples", "4", "--seq-len", "2", "-o", tmp_path / "m.lnn"
    )
    assert code == 1 and err.startswith("error: ") and err.count("\n") == 1
    assert message in err
    assert not (tmp_path / "m.lnn").exists() and not (tmp_path / "m.ckpt.pt").exists()


def test_without_mixed_memory_the_network_is_unchanged() -> None:
    """The default builds the same ncps module as before the option existed: no LSTM, the same initial weights."""
    config = TrainConfig(wiring="autoncp:8,2")
    assert config.mixed_memory is False
    spec = resolve_wiring(config, 2, "pendulum")
    states = []
    for mixed in (False, True):
        config.mixed_memory = mixed
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            states.append(build_network(config, spec, 2, 2).module.state_dict())
    plain, mixed_state = states
    assert not any(key.startswith("lstm.") for key in plain)
    assert all(torch.equal(plain[key], mixed_state[key]) for key in plain)  # the LSTM is built after the cell

"""`lnn-edge import` (a contract other tools drive), `inspect` and `run`, through the real command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from ncps import wirings
from ncps.torch import LTC, CfC
from ncps_oracle import run_ncps
from support.cli import invoke

from lnn_edge.model.modelfile import load
from lnn_edge.reference import Reference


def _save_state_dict(module: torch.nn.Module, path: Path) -> Path:
    torch.save(module.state_dict(), path)
    return path


def test_import_ltc_state_dict_then_run_matches_ncps(tmp_path: Path) -> None:
    torch.manual_seed(3)
    module = LTC(20, wirings.AutoNCP(19, 2))
    source = _save_state_dict(module, tmp_path / "ltc.pt")
    code, out, err = invoke("import", str(source), "-o", str(tmp_path / "ltc.lnn"))
    assert code == 0, err
    assert "100 sensory, 45 internal" in out
    model = load(tmp_path / "ltc.lnn")
    assert model.ltc is not None and model.ltc.implicit_constraints and model.ltc.ode_unfolds == 6
    assert {role: len(ids) for role, ids in model.wiring.roles.items()} == {
        "motor": 2,
        "command": 6,
        "inter": 11,
    }

    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 40, 20))
    dt = rng.uniform(0.2, 2.0, size=(3, 40))
    np.savez(tmp_path / "in.npz", x=x, dt=dt)
    code, _, err = invoke(
        "run", str(tmp_path / "ltc.lnn"), "--data", str(tmp_path / "in.npz"), "-o", str(tmp_path / "out.npz")
    )
    assert code == 0, err
    with np.load(tmp_path / "out.npz") as result:
        y, state = result["y"], result["state"]
    y_ncps, s_ncps = run_ncps(module, x, dt)
    assert y.shape == (3, 40, 2) and state.shape == (3, 40, 19)
    assert np.max(np.abs(y - y_ncps)) <= 1e-12 and np.max(np.abs(state - s_ncps)) <= 1e-12


def test_run_accepts_single_sequence_and_default_dt(tmp_path: Path) -> None:
    torch.manual_seed(1)
    module = CfC(3, 6)
    invoke(
        "import",
        str(_save_state_dict(module, tmp_path / "c.pt")),
        "-o",
        str(tmp_path / "c.lnn"),
        "--dt",
        "0.5",
    )
    x = np.random.default_rng(1).normal(size=(25, 3))
    np.savez(tmp_path / "in.npz", x=x)
    code, _, err = invoke(
        "run", str(tmp_path / "c.lnn"), "--data", str(tmp_path / "in.npz"), "-o", str(tmp_path / "o.npz")
    )
    assert code == 0, err
    with np.load(tmp_path / "o.npz") as result:
        y = result["y"]
    y_ncps, _ = run_ncps(module, x[None], np.full((1, 25), 0.5))
    assert y.shape == (1, 25, 6) and np.max(np.abs(y - y_ncps)) <= 1e-12


@pytest.mark.parametrize(
    ("flags", "check"),
    [
        (
            ["--no-implicit-constraints", "--ode-unfolds", "3", "--epsilon", "1e-6"],
            lambda m: (m.ltc.implicit_constraints, m.ltc.ode_unfolds, m.ltc.epsilon) == (False, 3, 1e-6),
        ),
        ([], lambda m: (m.ltc.implicit_constraints, m.ltc.ode_unfolds, m.ltc.epsilon) == (True, 6, 1e-8)),
    ],
)
def test_import_flags_fill_what_the_state_dict_cannot_tell(tmp_path: Path, flags: list[str], check) -> None:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    module = LTC(4, 6, ode_unfolds=3, epsilon=1e-6, implicit_param_constraints=False)
    source = _save_state_dict(module, tmp_path / "m.pt")
    code, _, err = invoke("import", str(source), "-o", str(tmp_path / "m.lnn"), *flags)
    assert code == 0, err
    model = load(tmp_path / "m.lnn")
    assert check(model)
    if flags:  # with the right flags the import computes exactly what ncps computes
        x = np.random.default_rng(0).normal(size=(2, 30, 4))
        dt = np.ones((2, 30))
        y_ref, _ = Reference(model).run(x, dt)
        y_ncps, _ = run_ncps(module, x, dt)
        assert np.max(np.abs(y_ref - y_ncps)) <= 1e-12


def test_import_cfc_mode_and_activation_flags(tmp_path: Path) -> None:
    torch.manual_seed(0)
    module = CfC(3, 5, mode="no_gate", activation="relu", backbone_layers=2, backbone_units=7, backbone_dropout=0.1)
    source = _save_state_dict(module, tmp_path / "c.pt")
    code, out, err = invoke(
        "import",
        str(source),
        "-o",
        str(tmp_path / "c.lnn"),
        "--mode",
        "no_gate",
        "--activation",
        "relu",
        "--json",
    )
    assert code == 0, err
    info = json.loads(out)
    assert info["options"]["mode"] == "no_gate" and info["options"]["backbone_layers"] == 2
    model = load(tmp_path / "c.lnn")
    x = np.random.default_rng(2).normal(size=(2, 30, 3))
    y_ref, _ = Reference(model).run(x, np.ones((2, 30)))
    y_ncps, _ = run_ncps(module, x, np.ones((2, 30)))
    assert np.max(np.abs(y_ref - y_ncps)) <= 1e-12


def test_inspect_prints_roles_and_json(tmp_path: Path) -> None:
    torch.manual_seed(0)
    source = _save_state_dict(CfC(20, wirings.AutoNCP(19, 2)), tmp_path / "w.pt")
    invoke("import", str(source), "-o", str(tmp_path / "w.lnn"))
    code, out, _ = invoke("inspect", str(tmp_path / "w.lnn"))
    assert code == 0 and "CfC (wired)" in out and "11 inter, 6 command, 2 motor" in out
    code, out, _ = invoke("inspect", str(tmp_path / "w.lnn"), "--json")
    info = json.loads(out)
    assert info["output_state_indices"] == [17, 18] and info["neurons"] == 19


# --- bad input: one line naming the file and field, exit 1, no traceback ------------------------------


def _assert_user_error(code: int, err: str, *fragments: str) -> None:
    assert code == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def test_import_rejects_truncated_file(tmp_path: Path) -> None:
    source = _save_state_dict(LTC(3, 4), tmp_path / "m.pt")
    data = source.read_bytes()
    source.write_bytes(data[: len(data) // 3])
    code, _, err = invoke("import", str(source), "-o", str(tmp_path / "m.lnn"))
    _assert_user_error(code, err, "m.pt", "truncated or corrupt")
    assert not (tmp_path / "m.lnn").exists()


def test_import_rejects_unknown_keys(tmp_path: Path) -> None:
    state = LTC(3, 4).state_dict()
    state["rnn_cell.bogus"] = torch.zeros(3)
    torch.save(state, tmp_path / "m.pt")
    code, _, err = invoke("import", str(tmp_path / "m.pt"), "-o", str(tmp_path / "m.lnn"))
    _assert_user_error(code, err, "m.pt", "unknown keys", "bogus")


def test_import_rejects_nan(tmp_path: Path) -> None:
    state = LTC(3, 4).state_dict()
    state["rnn_cell.vleak"][1] = float("nan")
    torch.save(state, tmp_path / "m.pt")
    code, _, err = invoke("import", str(tmp_path / "m.pt"), "-o", str(tmp_path / "m.lnn"))
    _assert_user_error(code, err, "m.pt", "'vleak' contains NaN")


def test_import_rejects_wrong_shapes(tmp_path: Path) -> None:
    state = LTC(3, 4).state_dict()
    state["rnn_cell.sigma"] = torch.zeros(4, 5)
    torch.save(state, tmp_path / "m.pt")
    code, _, err = invoke("import", str(tmp_path / "m.pt"), "-o", str(tmp_path / "m.lnn"))
    _assert_user_error(code, err, "m.pt", "'sigma' has shape (4, 5)")


@pytest.mark.parametrize(
    ("module", "cell"),
    [
        (lambda: LTC(3, 4, mixed_memory=True), "ltc_mixed"),
        (lambda: CfC(3, 4, mixed_memory=True), "cfc_mixed"),
        (lambda: CfC(3, wirings.AutoNCP(6, 2), mixed_memory=True), "wired_cfc_mixed"),
    ],
)
def test_import_takes_mixed_memory(tmp_path: Path, module, cell: str) -> None:  # type: ignore[no-untyped-def]
    """mixed_memory=True imports as the inner cell's mixed kind (tests/test_mixed_memory.py: end to end)."""
    torch.save(module().state_dict(), tmp_path / "m.pt")
    code, _, err = invoke("import", str(tmp_path / "m.pt"), "-o", str(tmp_path / "m.lnn"))
    assert code == 0, err
    assert load(tmp_path / "m.lnn").cell == cell


def test_import_rejects_unsupported_modules(tmp_path: Path) -> None:
    torch.save(torch.nn.LSTM(3, 4).state_dict(), tmp_path / "lstm.pt")
    code, _, err = invoke("import", str(tmp_path / "lstm.pt"), "-o", str(tmp_path / "m.lnn"))
    _assert_user_error(code, err, "lstm.pt", "no LTC or CfC parameters")
    torch.save(LTC(3, 4), tmp_path / "whole.pt")  # a pickled module, not a state_dict
    code, _, err = invoke("import", str(tmp_path / "whole.pt"), "-o", str(tmp_path / "m.lnn"))
    _assert_user_error(code, err, "whole.pt", "state_dict()")


def test_import_rejects_contradicting_mode(tmp_path: Path) -> None:
    torch.save(CfC(3, 4).state_dict(), tmp_path / "c.pt")
    code, _, err = invoke("import", str(tmp_path / "c.pt"), "-o", str(tmp_path / "c.lnn"), "--mode", "pure")
    _assert_user_error(code, err, "c.pt", "--mode pure", "w_tau")


def test_import_refuses_an_input_named_twice(tmp_path: Path) -> None:
    """--input-range a=... would otherwise set both inputs called a."""
    torch.save(CfC(3, 4).state_dict(), tmp_path / "c.pt")
    code, _, err = invoke("import", str(tmp_path / "c.pt"), "-o", str(tmp_path / "c.lnn"), "--input-names", "a,a,b")
    assert code == 1 and "--input-names names 'a' more than once" in err and not (tmp_path / "c.lnn").exists()


def test_import_reads_a_training_checkpoints_one_state_dict(tmp_path: Path) -> None:
    """{'epoch', 'model': state_dict, 'optimizer'}: the model's state_dict is found and said; Lightning's
    'state_dict' with prefixed keys takes --prefix as usual; two candidates are named, not guessed."""
    torch.manual_seed(0)
    module = CfC(2, 8)
    optimizer = torch.optim.Adam(module.parameters()).state_dict()
    torch.save({"epoch": 3, "model": module.state_dict(), "optimizer": optimizer}, tmp_path / "ckpt.pt")
    code, out, err = invoke("import", str(tmp_path / "ckpt.pt"), "-o", str(tmp_path / "a.lnn"))
    assert code == 0 and "state_dict under the checkpoint's key 'model'" in out, err
    direct = tmp_path / "direct.pt"
    torch.save(module.state_dict(), direct)
    assert invoke("import", str(direct), "-o", str(tmp_path / "b.lnn"))[0] == 0
    assert all(
        np.array_equal(v, load(tmp_path / "b.lnn").arrays[k]) for k, v in load(tmp_path / "a.lnn").arrays.items()
    )
    lightning = {"epoch": 1, "state_dict": {f"model.{k}": v for k, v in module.state_dict().items()}}
    torch.save(lightning, tmp_path / "light.pt")
    code, _, err = invoke("import", str(tmp_path / "light.pt"), "-o", str(tmp_path / "c.lnn"), "--prefix", "model.")
    assert code == 0, err
    torch.save({"a": module.state_dict(), "b": module.state_dict()}, tmp_path / "two.pt")
    code, _, err = invoke("import", str(tmp_path / "two.pt"), "-o", str(tmp_path / "d.lnn"))
    assert code == 1 and "several state_dicts (under keys 'a', 'b')" in err


def test_import_missing_file(tmp_path: Path) -> None:
    code, _, err = invoke("import", str(tmp_path / "absent.pt"), "-o", str(tmp_path / "m.lnn"))
    _assert_user_error(code, err, "absent.pt", "no such file")


@pytest.mark.parametrize(
    ("arrays", "fragment"),
    [
        ({"x": np.zeros((5, 4))}, "field 'x' has shape (5, 4)"),
        ({"inputs": np.zeros((5, 3))}, "has no field 'x'"),
        ({"x": np.full((5, 3), np.nan)}, "field 'x' contains NaN"),
        ({"x": np.zeros((5, 3)), "dt": np.zeros(5)}, "field 'dt' must hold finite elapsed times > 0"),
        ({"x": np.zeros((2, 5, 3)), "dt": np.ones((3, 5))}, "field 'dt' has shape (3, 5)"),
        (
            {"x": np.zeros((2, 5, 3)), "dt": np.array([[1.0] * 5, [1, 1, 1, -2, 0]])},
            "sequence 1, step 3 holds -2.0 (2 such",
        ),
    ],
)
def test_run_rejects_bad_data_files(tmp_path: Path, arrays: dict[str, np.ndarray], fragment: str) -> None:
    torch.save(LTC(3, 4).state_dict(), tmp_path / "m.pt")
    invoke("import", str(tmp_path / "m.pt"), "-o", str(tmp_path / "m.lnn"))
    np.savez(tmp_path / "bad.npz", **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds like allow_pickle
    code, _, err = invoke(
        "run", str(tmp_path / "m.lnn"), "--data", str(tmp_path / "bad.npz"), "-o", str(tmp_path / "o.npz")
    )
    _assert_user_error(code, err, "bad.npz", fragment)
    assert not (tmp_path / "o.npz").exists()


def test_a_csv_or_a_folder_where_a_file_is_expected_is_said_so(tmp_path: Path) -> None:
    torch.save(LTC(3, 4).state_dict(), tmp_path / "m.pt")
    invoke("import", str(tmp_path / "m.pt"), "-o", str(tmp_path / "m.lnn"))
    (tmp_path / "rec.csv").write_text("a,b,c\n1,2,3\n")
    code, _, err = invoke(
        "run", str(tmp_path / "m.lnn"), "--data", str(tmp_path / "rec.csv"), "-o", str(tmp_path / "o.npz")
    )
    _assert_user_error(code, err, "rec.csv", "a CSV file; this option reads .npz")
    code, _, err = invoke("export", str(tmp_path / "m.lnn"), "-o", str(tmp_path / "ex"), "--precision", "float32")
    assert code == 0, err
    code, _, err = invoke("inspect", str(tmp_path / "ex"))
    _assert_user_error(code, err, "is a folder, not a model file", f"its model is {tmp_path / 'ex' / 'model.lnn'}")


def test_run_rejects_corrupt_model(tmp_path: Path) -> None:
    (tmp_path / "m.lnn").write_bytes(b"PK\x03\x04 not really a zip")
    np.savez(tmp_path / "in.npz", x=np.zeros((3, 2)))
    code, _, err = invoke(
        "run", str(tmp_path / "m.lnn"), "--data", str(tmp_path / "in.npz"), "-o", str(tmp_path / "o.npz")
    )
    _assert_user_error(code, err, "m.lnn", "truncated or corrupt")

"""`lnn-edge import` infers what a state_dict tells and, with `--expect IO.npz`, checks the model against the user's
own torch outputs and finds the options it cannot tell. ncps and torch are the oracle: every IO.npz here is what
a user's script writes, `np.savez(..., x=x, y=model(x)[0])`."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from ncps import wirings
from ncps.torch import LTC, CfC, LTCCell
from ncps_oracle import randomize_parameters, run_ncps
from support.cli import invoke

from lnn_edge.errors import ImportModelError, ModelFileError
from lnn_edge.expect import progress_printer
from lnn_edge.model.importers import from_module, from_state_dict
from lnn_edge.model.modelfile import load
from lnn_edge.quant.qmodel import QuantizedModel
from lnn_edge.quant.qmodelfile import load_any
from lnn_edge.reference import Reference


def save_io(module: torch.nn.Module, path: Path, dtype: torch.dtype, shape: tuple[int, int, int]) -> None:
    """What the README asks a user to save: inputs and the model's own outputs (return_sequences=True)."""
    module = module.to(dtype).eval()
    x = torch.from_numpy(np.random.default_rng(7).normal(size=shape)).to(dtype)
    with torch.no_grad():
        y = module(x)[0]
    np.savez(path, x=x.numpy(), y=y.numpy())


def import_expect(module: torch.nn.Module, tmp_path: Path, dtype: torch.dtype, *flags: str) -> tuple[int, str, str]:
    torch.save(module.state_dict(), tmp_path / "m.pt")
    save_io(module, tmp_path / "io.npz", dtype, (2, 10, 3))
    return invoke("import", tmp_path / "m.pt", "-o", tmp_path / "m.lnn", "--expect", tmp_path / "io.npz", *flags)


# --- the search finds every option a state_dict cannot tell -------------------------------------------


@pytest.mark.parametrize("mode", ["default", "no_gate", "pure"])
@pytest.mark.parametrize("activation", ["lecun_tanh", "tanh", "relu", "silu", "gelu"])
def test_expect_finds_cfc_mode_and_activation(tmp_path: Path, mode: str, activation: str) -> None:
    torch.manual_seed(1)
    module = CfC(3, 5, mode=mode, activation=activation, backbone_units=8)
    code, out, err = import_expect(module, tmp_path, torch.float32)
    assert code == 0, err
    model = load(tmp_path / "m.lnn")
    assert model.cfc is not None and (model.cfc.mode, model.cfc.activation) == (mode, activation)
    record = model.provenance["verified"]
    assert record["options"] == {"mode": mode, "activation": activation}
    assert record["threshold"] == 1e-5 and record["error"] <= 1e-5 and record["file"] == "io.npz"
    assert f"mode={mode} activation={activation}" in out and "verified against io.npz" in out


@pytest.mark.parametrize(
    ("implicit", "unfolds", "epsilon"),
    [(True, 1, 1e-3), (False, 6, 1e-8), (True, 17, 1e-5), (False, 32, 1e-4), (True, 6, 1e-6), (False, 3, 1e-3)],
)
def test_expect_finds_ltc_constraints_unfolds_and_epsilon(
    tmp_path: Path, implicit: bool, unfolds: int, epsilon: float
) -> None:
    torch.manual_seed(2)
    module = LTC(3, wirings.AutoNCP(8, 2), ode_unfolds=unfolds, epsilon=epsilon, implicit_param_constraints=implicit)
    code, out, err = import_expect(module, tmp_path, torch.float64)
    assert code == 0, err
    model = load(tmp_path / "m.lnn")
    assert model.ltc is not None
    assert (model.ltc.implicit_constraints, model.ltc.ode_unfolds, model.ltc.epsilon) == (implicit, unfolds, epsilon)
    assert model.provenance["verified"]["error"] <= 1e-9 and "found among 320 combinations" in out


def test_expect_keeps_given_flags_fixed(tmp_path: Path) -> None:
    """A flag the user gave is not searched: a wrong one is reported, not silently replaced."""
    torch.manual_seed(3)
    module = LTC(3, wirings.AutoNCP(8, 2), ode_unfolds=4)
    code, _, err = import_expect(module, tmp_path, torch.float64, "--ode-unfolds", "5")
    assert code == 1 and "ode_unfolds=5" in err and "ode_unfolds=4" not in err
    assert not (tmp_path / "m.lnn").exists()
    code, out, err = invoke(
        "import", tmp_path / "m.pt", "-o", tmp_path / "m.lnn", "--expect", tmp_path / "io.npz", "--ode-unfolds", "4"
    )
    assert code == 0, err
    assert "found among 10 combinations" in out  # 2 constraints x 5 epsilons: the unfolds are fixed
    assert load(tmp_path / "m.lnn").ltc.ode_unfolds == 4  # type: ignore[union-attr]


def test_expect_float32_ltc_with_ncps_defaults(tmp_path: Path) -> None:
    """The common case: an LTC wrapper trained in float32, all defaults, verified within 1e-5 of y's range."""
    torch.manual_seed(4)
    code, out, err = import_expect(LTC(3, wirings.AutoNCP(10, 3)), tmp_path, torch.float32)
    assert code == 0, err
    assert "verified against io.npz" in out
    # float32 outputs cannot tell epsilon 1e-8 from 1e-6 here (a 1.9e-6 error): the defaults win, and it is said
    assert "epsilon=1e-06 also reproduces y" in out and "float64 outputs in IO.npz would" in out
    model = load(tmp_path / "m.lnn")
    assert model.provenance["verified"]["options"] == {
        "implicit_constraints": True,
        "ode_unfolds": 6,
        "epsilon": 1e-8,
        "output_size": 3,
    }


# --- what the file tells: bare cells, NCP motors --------------------------------------------------------


def run_cell(cell: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    """Outputs [B,T,M] of a bare ncps cell stepped by hand in double precision, elapsed time 1."""
    cell = cell.double().eval()
    state_size: int = getattr(cell, "state_size")  # noqa: B009 - torch types module attributes as Tensor | Module
    h = torch.zeros(x.shape[0], state_size, dtype=torch.float64)
    ys = []
    with torch.no_grad():
        for t in range(x.shape[1]):
            out, h = cell(torch.from_numpy(x[:, t].copy()), h, torch.ones(x.shape[0], 1, dtype=torch.float64))
            ys.append(out.numpy().copy())
    return np.stack(ys, axis=1)


def test_bare_ltc_cell_uses_the_cells_defaults_and_says_so(tmp_path: Path) -> None:
    torch.manual_seed(5)
    wiring = wirings.AutoNCP(10, 3)
    cell = LTCCell(wiring, 4)
    torch.save(cell.state_dict(), tmp_path / "cell.pt")
    code, out, err = invoke("import", tmp_path / "cell.pt", "-o", tmp_path / "cell.lnn")
    assert code == 0, err
    assert "bare LTCCell" in out and "implicit_param_constraints=False" in out
    model = load(tmp_path / "cell.lnn")
    assert model.ltc is not None and not model.ltc.implicit_constraints and model.output_size == 3
    x = np.random.default_rng(5).normal(size=(2, 15, 4))
    y_ref, _ = Reference(model).run(x, np.ones((2, 15)))
    assert np.max(np.abs(y_ref - run_cell(cell, x))) <= 1e-12


def _implicit_ltc_cell(tmp_path: Path) -> LTCCell:
    """A bare LTCCell trained with implicit constraints (ncps's examples/pt_implicit.py): raw parameters of both
    signs, which its class's default (no constraints) rules out. Saved with inputs and outputs in tmp_path."""
    torch.manual_seed(3)
    cell = LTCCell(wirings.FullyConnected(6, 2), 3, implicit_param_constraints=True)
    randomize_parameters(cell, np.random.default_rng(3), scale=0.5)
    assert float(cell.gleak.detach().min()) < 0  # what the default would reject
    torch.save(cell.state_dict(), tmp_path / "cell.pt")
    x = np.random.default_rng(4).normal(size=(2, 12, 3))
    np.savez(tmp_path / "io.npz", x=x, y=run_cell(cell, x))
    return cell


def test_expect_searches_past_a_default_the_parameters_rule_out(tmp_path: Path) -> None:
    _implicit_ltc_cell(tmp_path)
    code, out, err = invoke(
        "import", tmp_path / "cell.pt", "-o", tmp_path / "cell.lnn", "--expect", tmp_path / "io.npz"
    )
    assert code == 0, err
    assert "implicit_constraints=True" in out
    model = load(tmp_path / "cell.lnn")
    assert model.ltc is not None and model.ltc.implicit_constraints


def test_expect_with_no_valid_combination_gives_the_validation_error(tmp_path: Path) -> None:
    _implicit_ltc_cell(tmp_path)
    code, _, err = invoke("import", tmp_path / "cell.pt", "-o", tmp_path / "cell.lnn", "--expect",
                          tmp_path / "io.npz", "--no-implicit-constraints")  # fmt: skip
    assert code == 1 and "negative entries" in err and "--implicit-constraints" in err, err
    assert not (tmp_path / "cell.lnn").exists()


def test_export_reads_a_state_dict_as_import_does(tmp_path: Path) -> None:
    """export straight from a state_dict infers the same options as import (a bare LTCCell: no implicit
    constraints), refuses a flag the cell does not have, and refuses import flags for a .lnn, which has its own."""
    torch.manual_seed(5)
    cell = LTCCell(wirings.AutoNCP(10, 3), 4)
    torch.save(cell.state_dict(), tmp_path / "cell.pt")
    code, _, err = invoke("export", tmp_path / "cell.pt", "-o", tmp_path / "out", "--precision", "float32")
    assert code == 0, err
    model = load_any(tmp_path / "out" / "model.lnn")
    assert isinstance(model, QuantizedModel) and model.model.ltc is not None
    assert not model.model.ltc.implicit_constraints
    code, _, err = invoke("export", tmp_path / "cell.pt", "-o", tmp_path / "out2", "--mode", "pure")
    assert code != 0 and "--mode" in err and not (tmp_path / "out2").exists()
    invoke("import", tmp_path / "cell.pt", "-o", tmp_path / "cell.lnn")
    code, _, err = invoke("export", tmp_path / "cell.lnn", "-o", tmp_path / "out3", "--ode-unfolds", "3")
    assert code != 0 and "--ode-unfolds apply only to an ncps state_dict" in err and not (tmp_path / "out3").exists()


@pytest.mark.parametrize("wiring", [wirings.AutoNCP(16, 4), wirings.NCP(5, 4, 3, 4, 3, 2, 3)])
def test_ncp_without_output_mapping_has_its_motor_outputs(tmp_path: Path, wiring: Any) -> None:
    torch.manual_seed(6)
    module = LTC(5, wiring, output_mapping="none")
    torch.save(module.state_dict(), tmp_path / "m.pt")
    code, out, err = invoke("import", tmp_path / "m.pt", "-o", tmp_path / "m.lnn")
    assert code == 0, err
    motors = wiring.output_dim
    assert f"output size {motors}" in out
    model = load(tmp_path / "m.lnn")
    assert model.output_size == motors
    x = np.random.default_rng(6).normal(size=(2, 12, 5))
    y_ref, _ = Reference(model).run(x, np.ones((2, 12)))
    y_ncps, _ = run_ncps(module, x, np.ones((2, 12)))
    assert y_ncps.shape[2] == motors and np.max(np.abs(y_ref - y_ncps)) <= 1e-12


def test_motor_count_of_many_autoncp_wirings() -> None:
    """Motors = neurons without outgoing synapses, over sizes, sparsities and seeds; random wirings untouched."""
    for seed in range(3):
        for units, outputs in [(8, 1), (10, 3), (19, 2), (32, 1), (48, 6), (64, 10)]:
            for sparsity in (0.5, 0.9):
                wiring = wirings.AutoNCP(units, outputs, sparsity_level=sparsity, seed=seed)
                model = from_state_dict(LTC(4, wiring, output_mapping="none").state_dict())
                assert model.output_size == outputs, (units, outputs, sparsity, seed)
        random = wirings.Random(12, sparsity_level=0.5, random_seed=seed)
        assert from_state_dict(LTC(4, random, output_mapping="none").state_dict()).output_size == 12


def test_fully_connected_without_output_mapping_keeps_all_neurons(tmp_path: Path) -> None:
    """ncps gives FullyConnected(6, 2) two outputs, but its masks cannot tell: all neurons, said; y tells."""
    torch.manual_seed(13)
    module = LTC(3, wirings.FullyConnected(6, 2), output_mapping="none")
    torch.save(module.state_dict(), tmp_path / "m.pt")
    code, out, err = invoke("import", tmp_path / "m.pt", "-o", tmp_path / "m.lnn")
    assert code == 0, err
    assert load(tmp_path / "m.lnn").output_size == 6 and "output size 6, every neuron" in out
    code, out, err = import_expect(module, tmp_path, torch.float64)
    assert code == 0, err
    assert load(tmp_path / "m.lnn").output_size == 2 and "output_size=2" in out


@pytest.mark.parametrize(
    ("module", "flag", "cell"),
    [
        (CfC(3, 4), ["--ode-unfolds", "3"], "a CfC"),
        (CfC(3, 4), ["--epsilon", "1e-6"], "a CfC"),
        (CfC(3, 4), ["--no-implicit-constraints"], "a CfC"),
        (CfC(3, 4), ["--output-size", "2"], "a CfC"),
        (LTC(3, 4), ["--mode", "no_gate"], "an LTC"),
        (LTC(3, 4), ["--activation", "relu"], "an LTC"),
        (CfC(3, wirings.AutoNCP(8, 2)), ["--activation", "relu"], "a wired CfC"),
        (CfC(3, 4, backbone_layers=0), ["--activation", "relu"], "a CfC without backbone layers"),
    ],
)
def test_flags_that_do_not_apply_are_errors(tmp_path: Path, module: Any, flag: list[str], cell: str) -> None:
    torch.save(module.state_dict(), tmp_path / "m.pt")
    code, _, err = invoke("import", tmp_path / "m.pt", "-o", tmp_path / "m.lnn", *flag)
    assert code == 1 and f"{flag[0]} does not apply to {cell}" in err, err
    assert not (tmp_path / "m.lnn").exists()


# --- wrapped modules ------------------------------------------------------------------------------------


class ConvCfC(torch.nn.Module):
    """The shape of the Atari model in ncps's docs: a conv block, then a CfC under the attribute ``rnn``."""

    def __init__(self) -> None:
        super().__init__()
        self.conv_block = torch.nn.Sequential(torch.nn.Conv1d(1, 2, 3), torch.nn.ReLU())
        self.rnn = CfC(3, 6, batch_first=True, proj_size=2)


def test_wrapped_module_error_names_the_prefix(tmp_path: Path) -> None:
    torch.save(ConvCfC().state_dict(), tmp_path / "atari.pt")
    code, _, err = invoke("import", tmp_path / "atari.pt", "-o", tmp_path / "m.lnn")
    assert code == 1 and "prefix 'rnn.'" in err and "model.rnn.state_dict()" in err and "--prefix rnn." in err
    assert "conv_block.*" in err
    torch.save(torch.nn.Sequential(LTC(3, 4)).state_dict(), tmp_path / "seq.pt")
    code, _, err = invoke("import", tmp_path / "seq.pt", "-o", tmp_path / "m.lnn")
    assert code == 1 and "model[0].state_dict()" in err and "--prefix 0." in err
    code, _, err = invoke("import", tmp_path / "seq.pt", "-o", tmp_path / "m.lnn", "--prefix", "rnn.")
    assert code == 1 and "--prefix 'rnn.' matches no key" in err and "'0.'" in err


def test_from_module_points_at_the_wrapped_layer() -> None:
    with pytest.raises(ImportModelError, match=r"ConvCfC is not an ncps .* pass model\.rnn, the ncps layer"):
        from_module(ConvCfC())
    with pytest.raises(ImportModelError, match=r"pass model\[0\], the ncps layer"):
        from_module(torch.nn.Sequential(LTC(3, 4)))


def test_prefix_imports_the_wrapped_layer(tmp_path: Path) -> None:
    torch.manual_seed(8)
    whole = ConvCfC()
    torch.save(whole.state_dict(), tmp_path / "atari.pt")
    save_io(whole.rnn, tmp_path / "io.npz", torch.float64, (2, 10, 3))
    code, out, err = invoke(
        "import", tmp_path / "atari.pt", "-o", tmp_path / "m.lnn", "--prefix", "rnn.", "--expect", tmp_path / "io.npz"
    )
    assert code == 0, err
    assert load(tmp_path / "m.lnn").output_size == 2 and "verified against io.npz" in out
    torch.manual_seed(9)
    sequential = torch.nn.Sequential(LTC(3, 4))
    torch.save(sequential.state_dict(), tmp_path / "seq.pt")
    code, _, err = invoke("import", tmp_path / "seq.pt", "-o", tmp_path / "s.lnn", "--prefix", "0")
    assert code == 0, err
    x = np.random.default_rng(9).normal(size=(1, 8, 3))
    y_ref, _ = Reference(load(tmp_path / "s.lnn")).run(x, np.ones((1, 8)))
    assert np.max(np.abs(y_ref - run_ncps(sequential[0], x, np.ones((1, 8)))[0])) <= 1e-12


# --- no match, bad IO files, the stored record -----------------------------------------------------------


def test_no_match_exits_non_zero_with_the_closest_candidates(tmp_path: Path) -> None:
    torch.manual_seed(10)
    module = CfC(3, 5, backbone_units=8)
    torch.save(module.state_dict(), tmp_path / "m.pt")
    save_io(module, tmp_path / "io.npz", torch.float32, (2, 10, 3))
    with np.load(tmp_path / "io.npz") as io:
        np.savez(tmp_path / "io.npz", x=io["x"], y=io["y"] * 1.05)  # not what this model computes
    code, _, err = invoke("import", tmp_path / "m.pt", "-o", tmp_path / "m.lnn", "--expect", tmp_path / "io.npz")
    assert code == 1 and "no combination" in err and "closest: mode=default activation=lecun_tanh: " in err
    assert err.count("mode=") == 5  # the five best, each with its error
    assert not (tmp_path / "m.lnn").exists()


@pytest.mark.parametrize(
    ("arrays", "fragment"),
    [
        ({"x": np.zeros((2, 5, 3))}, "has no array 'y'"),
        ({"y": np.zeros((2, 5, 4), np.float32)}, "has no array 'x'"),
        ({"x": np.zeros((2, 5, 3)), "y": np.zeros((2, 5, 3), np.float32)}, "array 'y' has shape (2, 5, 3); expected (2, 5, 4)"),
        ({"x": np.zeros((2, 5, 3)), "y": np.zeros((2, 4, 4), np.float32)}, "array 'y' has shape (2, 4, 4); expected [2, 5, outputs]"),
        ({"x": np.zeros((2, 5, 2)), "y": np.zeros((2, 5, 4), np.float32)}, "field 'x' has shape (2, 5, 2)"),
        ({"x": np.zeros((5, 3)), "y": np.zeros((5, 4), np.float32)}, "array 'x' has shape (5, 3); expected [B, T, 3]"),
        ({"x": np.zeros((2, 5, 3)), "y": np.full((2, 5, 4), np.nan, np.float32)}, "array 'y' contains NaN or Inf"),
        ({"x": np.zeros((2, 5, 3)), "y": np.zeros((2, 5, 4), np.int64)}, "array 'y' has dtype int64"),
        ({"x": np.zeros((2, 5, 3)), "dt": np.zeros((2, 5)), "y": np.zeros((2, 5, 4))}, "field 'dt' must hold"),
    ],
)  # fmt: skip
def test_bad_expect_files_are_named(tmp_path: Path, arrays: dict[str, np.ndarray], fragment: str) -> None:
    torch.save(LTC(3, 4).state_dict(), tmp_path / "m.pt")
    np.savez(tmp_path / "io.npz", **arrays)  # type: ignore[arg-type]
    code, _, err = invoke("import", tmp_path / "m.pt", "-o", tmp_path / "m.lnn", "--expect", tmp_path / "io.npz")
    assert code == 1 and "io.npz" in err and fragment in err, err
    assert not (tmp_path / "m.lnn").exists()


def test_inspect_shows_the_stored_check(tmp_path: Path) -> None:
    torch.manual_seed(11)
    code, _, err = import_expect(CfC(3, 4, mode="no_gate"), tmp_path, torch.float64)
    assert code == 0, err
    code, out, _ = invoke("inspect", tmp_path / "m.lnn")
    assert code == 0 and "verified against io.npz (sha256 " in out and "mode=no_gate" in out
    code, out, _ = invoke("inspect", tmp_path / "m.lnn", "--json")
    record = json.loads(out)["verified"]
    assert record["options"]["mode"] == "no_gate" and record["threshold"] == 1e-9 and record["error"] <= 1e-9


def _with_manifest(source: Path, target: Path, change: Any) -> None:
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            data = old.read(item.filename)
            if item.filename == "manifest.json":
                manifest = json.loads(data)
                change(manifest["provenance"]["verified"])
                data = json.dumps(manifest).encode()
            new.writestr(item, data)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda r: r.update(sha256="abc"), "'provenance.verified.sha256' is 'abc'; expected 64 lowercase hex"),
        (lambda r: r.update(error=-1), "'provenance.verified.error' is -1"),
        (lambda r: r.pop("threshold"), "'provenance.verified.threshold' is missing"),
        (lambda r: r["options"].update(ode_unfolds="6"), "'provenance.verified.options.ode_unfolds' is '6'"),
        (lambda r: r.update(extra=1), "unknown or malformed field 'provenance.verified.extra'"),
    ],
)
def test_damaged_record_is_a_clear_error(tmp_path: Path, change: Any, fragment: str) -> None:
    torch.manual_seed(12)
    code, _, err = import_expect(LTC(3, 4), tmp_path, torch.float64)
    assert code == 0, err
    _with_manifest(tmp_path / "m.lnn", tmp_path / "bad.lnn", change)
    with pytest.raises(ModelFileError, match="bad.lnn") as error:
        load(tmp_path / "bad.lnn")
    assert fragment in str(error.value)


def test_progress_is_printed_once_the_search_takes_long() -> None:
    lines: list[str] = []
    quiet = progress_printer(lines.append, after=3600.0)
    quiet("options", 64, 64)
    assert lines == []
    report = progress_printer(lines.append, after=0.0)
    report("options", 10, 64)
    report("options", 11, 64)  # within a second of the last line: not repeated
    report("options", 64, 64)  # the end of a stage is always shown
    assert lines[0].startswith("searching options: 10/64 tried") and lines[-1].startswith("searching options: 64/64")
    assert len(lines) == 2


# --- data that cannot tell the options apart ---------------------------------------------------------------


def test_expect_refuses_to_choose_between_options_the_data_cannot_tell(tmp_path: Path) -> None:
    """Raw sensor units (one channel near 1e4) saturate the backbone, so relu, silu and gelu all reproduce y: no
    model is written (a wrong activation would be off by a third of the range on other inputs), every passing
    candidate is named with its flag, and the flag the user trained with settles it."""
    torch.manual_seed(0)
    module = CfC(3, 8, activation="silu").eval()
    x = np.random.default_rng(0).normal(size=(4, 30, 3))
    x[..., 0] = 1e4 + 3e3 * x[..., 0]
    with torch.no_grad():
        y = module(torch.tensor(x, dtype=torch.float32))[0].numpy()
    torch.save(module.state_dict(), tmp_path / "m.pt")
    np.savez(tmp_path / "io.npz", x=x, y=y)
    code, _, err = invoke("import", tmp_path / "m.pt", "-o", tmp_path / "m.lnn", "--expect", tmp_path / "io.npz")
    assert code == 1 and not (tmp_path / "m.lnn").exists()
    assert "by more than one model" in err and "Traceback" not in err
    for activation in ("silu", "relu", "gelu"):
        assert f"--activation {activation} (error" in err
    code, _, err = invoke("import", tmp_path / "m.pt", "-o", tmp_path / "m.lnn", "--expect", tmp_path / "io.npz",
                            "--activation", "silu")  # fmt: skip
    assert code == 0, err
    model = load(tmp_path / "m.lnn")
    assert model.cfc is not None and model.cfc.activation == "silu"

"""Mixed memory (ncps ``mixed_memory=True``: an LSTM stepped in front of the liquid cell), end to end.

ncps in double precision is the oracle of the float64 reference (stepped by hand as ``ncps_oracle.run_ncps``
does, with the LSTM first, as ``LTC.forward`` does); the NumPy emulator is the oracle of the generated C, bit for
bit on outputs and the whole state [h | c], on the host (cffi harness, and gcc under ASan/UBSan with the portable
C), in Unicorn on Cortex-M4F and on QEMU boards (``qemu`` marker).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from codegen_helpers import assert_host_build_matches_emulator, export_model, random_sequences
from ncps import wirings
from ncps.torch import LTC, CfC
from support.cli import invoke
from test_firmware_helpers import short_sequences

from lnn_edge.bench.run import bench_export
from lnn_edge.errors import ModelFileError
from lnn_edge.model.importers import from_module, from_state_dict
from lnn_edge.model.model import Calibration, Model, validate
from lnn_edge.model.modelfile import load, save
from lnn_edge.model.normalization import Normalization, fold_normalization
from lnn_edge.quant.emulator import Emulator
from lnn_edge.quant.quantize import quantize
from lnn_edge.reference import Reference
from lnn_edge.target.verify import verify_on_board


def run_ncps_mixed(module: torch.nn.Module, x: np.ndarray, dt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Outputs [B,T,M] and states [B,T,2N] ([h | c]) of an ncps wrapper with mixed memory, in double precision:
    per step ``h, c = lstm(x, (h, c))`` then ``y, h = rnn_cell(x, h, dt)``, from zero states."""
    module = module.double().eval()
    cell: Any = module.rnn_cell
    lstm: Any = module.lstm
    units: int = getattr(module, "state_size")  # noqa: B009 - typed as Tensor | Module
    batch, steps, _ = x.shape
    h = torch.zeros(batch, units, dtype=torch.float64)
    c = torch.zeros(batch, units, dtype=torch.float64)
    ys, states = [], []
    with torch.no_grad():
        for t in range(steps):
            inputs = torch.from_numpy(x[:, t].copy())
            h, c = lstm(inputs, (h, c))
            out, h = cell(inputs, h, torch.from_numpy(dt[:, t : t + 1].copy()))
            fc = getattr(module, "fc", None)  # a CfC's proj_size
            if fc is not None:
                out = fc(out)
            ys.append(out.numpy().copy())
            states.append(torch.cat([h, c], dim=1).numpy().copy())
    return np.stack(ys, axis=1), np.stack(states, axis=1)


def mixed_ltc(units: int = 12, motors: int = 2, inputs: int = 3, seed: int = 0, **options: Any) -> torch.nn.Module:
    torch.manual_seed(seed)
    return LTC(inputs, wirings.AutoNCP(units, motors, seed=seed), mixed_memory=True, **options)


def with_calibration(model: Model, seed: int = 0) -> Model:
    rng = np.random.default_rng(seed)
    model.calibration = Calibration(
        x=rng.normal(size=(2, 40, model.input_size)), dt=rng.uniform(0.2, 2.0, size=(2, 40))
    )
    return model


# --- import and the float64 reference -------------------------------------------------------------------


@pytest.mark.parametrize("source", ["module", "state_dict"])
@pytest.mark.parametrize("options", [{}, {"ode_unfolds": 3, "epsilon": 1e-5}, {"implicit_param_constraints": False}])
def test_reference_equals_ncps_on_outputs_h_and_c(source: str, options: dict[str, Any]) -> None:
    module = mixed_ltc(seed=4, **options)
    if source == "module":
        model = from_module(module)
    else:
        model = from_state_dict(
            module.state_dict(),
            ode_unfolds=options.get("ode_unfolds"),
            epsilon=options.get("epsilon"),
            implicit_constraints=options.get("implicit_param_constraints"),
        )
    assert model.cell == "ltc_mixed" and model.state_size == 24 and model.output_state_indices == [0, 1]
    rng = np.random.default_rng(1)
    x, dt = rng.normal(scale=2.0, size=(3, 25, 3)), rng.uniform(0.1, 2.0, size=(3, 25))
    y_ncps, state_ncps = run_ncps_mixed(module, x, dt)
    y, state = Reference(model).run(x, dt)
    assert np.abs(y - y_ncps).max() <= 1e-12
    assert np.abs(state - state_ncps).max() <= 1e-12
    assert np.abs(state_ncps[:, :, 12:]).max() > 0.1  # c really moved: the comparison covers it


def test_reference_equals_the_ncps_wrapper_itself() -> None:
    """The wrapper's own forward (with explicit double initial states): the same outputs and final (h, c)."""
    module = mixed_ltc(units=6, motors=1, seed=2).double()
    model = from_module(module)
    x = np.random.default_rng(3).normal(size=(2, 12, 3))
    zeros = torch.zeros(2, 6, dtype=torch.float64)
    with torch.no_grad():
        out, (h, c) = module(torch.from_numpy(x), (zeros, zeros.clone()))
    y, state = Reference(model).run(x, np.ones((2, 12)))
    assert np.abs(y - out.numpy()).max() <= 1e-12
    assert np.abs(state[:, -1] - np.concatenate([h.numpy(), c.numpy()], axis=1)).max() <= 1e-12


CFC_CASES = {
    "dense": lambda: CfC(3, 8, mixed_memory=True),
    "proj, no backbone": lambda: CfC(3, 8, proj_size=2, backbone_layers=0, mixed_memory=True),
    "no_gate": lambda: CfC(3, 8, mode="no_gate", mixed_memory=True),
    "pure": lambda: CfC(3, 8, mode="pure", mixed_memory=True),
    "wired": lambda: CfC(3, wirings.AutoNCP(12, 2, seed=1), mixed_memory=True),
}


def mixed_cfc(case: str, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return CFC_CASES[case]()


@pytest.mark.parametrize("source", ["module", "state_dict"])
@pytest.mark.parametrize("case", list(CFC_CASES))
def test_cfc_reference_equals_ncps_on_outputs_h_and_c(source: str, case: str) -> None:
    module = mixed_cfc(case, seed=3)
    if source == "module":
        model = from_module(module)
    else:
        mode = getattr(module.rnn_cell, "mode", None) or ("pure" if case == "pure" else None)
        model = from_state_dict(module.state_dict(), mode="no_gate" if case == "no_gate" else mode)
    assert model.cell == ("wired_cfc_mixed" if case == "wired" else "cfc_mixed")
    rng = np.random.default_rng(2)
    x, dt = rng.normal(scale=2.0, size=(3, 20, 3)), rng.uniform(0.1, 2.0, size=(3, 20))
    y_ncps, state_ncps = run_ncps_mixed(module, x, dt)
    y, state = Reference(model).run(x, dt)
    assert np.abs(y - y_ncps).max() <= 1e-12
    assert np.abs(state - state_ncps).max() <= 1e-12


FOLD_CASES = {
    "ltc_mixed": lambda: mixed_ltc(units=8, seed=4),
    "cfc_mixed": lambda: mixed_cfc("proj, no backbone", seed=4),
    "wired_cfc_mixed": lambda: mixed_cfc("wired", seed=4),
}


@pytest.mark.parametrize("targets", [True, False], ids=["targets", "inputs only"])
@pytest.mark.parametrize("cell", list(FOLD_CASES))
def test_normalization_folds_exactly_into_the_lstm_and_the_cell(cell: str, targets: bool) -> None:
    """The trainer's normalization folds into both readers of x (the LSTM's input weights and the liquid cell's
    input mapping) and the targets into the output mapping: the folded model on raw x is the model on
    normalized x, outputs denormalized, h and c alike."""
    model = from_module(FOLD_CASES[cell]())
    assert model.cell == cell
    rng = np.random.default_rng(5)
    norm = Normalization(x_mean=rng.normal(size=3) * 5, x_std=rng.uniform(0.1, 10, size=3))
    if targets:
        norm.y_mean, norm.y_std = rng.normal(size=2), rng.uniform(0.5, 3, size=2)
    x_raw = rng.normal(size=(2, 25, 3)) * norm.x_std + norm.x_mean
    dt = rng.uniform(0.5, 1.5, size=(2, 25))
    y_norm, s_norm = Reference(model).run((x_raw - norm.x_mean) / norm.x_std, dt)
    folded = fold_normalization(model, norm)
    validate(folded)
    y_raw, s_raw = Reference(folded).run(x_raw, dt)
    y_expected = y_norm * norm.y_std + norm.y_mean if targets else y_norm
    assert np.abs(y_raw - y_expected).max() <= 1e-12 * max(1.0, np.abs(y_expected).max())
    assert np.abs(s_raw - s_norm).max() <= 1e-12
    assert np.abs(s_norm[:, :, model.state_size // 2 :]).max() > 0.05  # c moved: the LSTM's fold is covered
    assert not np.array_equal(folded.arrays["lstm_input_w"], model.arrays["lstm_input_w"])


def test_cli_import_of_a_mixed_state_dict_then_run(tmp_path: Path) -> None:
    module = mixed_ltc(seed=5)
    torch.save(module.state_dict(), tmp_path / "m.pt")
    code, _, err = invoke("import", tmp_path / "m.pt", "-o", tmp_path / "m.lnn")
    assert code == 0, err
    model = load(tmp_path / "m.lnn")
    assert model.cell == "ltc_mixed" and model.arrays["lstm_recurrent_w"].shape == (48, 12)
    code, out, _ = invoke("inspect", tmp_path / "m.lnn")
    assert code == 0 and "mixed memory" in out
    assert re.search(r"neurons\s+12 \(", out)  # not the 24 state values: h and c
    x = np.random.default_rng(0).normal(size=(1, 10, 3))
    y_ncps, _ = run_ncps_mixed(module, x, np.ones((1, 10)))
    assert np.abs(Reference(model).run(x)[0] - y_ncps).max() <= 1e-12


def test_import_expect_searches_the_inner_cells_options(tmp_path: Path) -> None:
    """``--expect``: the options a state_dict cannot tell (here the unfolds and epsilon) are searched as for a
    plain LTC, the LSTM kept as it is."""
    module = mixed_ltc(units=8, seed=6, ode_unfolds=4, epsilon=1e-5).double().eval()
    torch.save(module.state_dict(), tmp_path / "m.pt")
    x = np.random.default_rng(7).normal(size=(2, 10, 3))
    zeros = torch.zeros(2, 8, dtype=torch.float64)
    with torch.no_grad():
        y = module(torch.from_numpy(x), (zeros, zeros.clone()))[0].numpy()
    np.savez(tmp_path / "io.npz", x=x, y=y)
    code, _, err = invoke("import", tmp_path / "m.pt", "-o", tmp_path / "m.lnn", "--expect", tmp_path / "io.npz")
    assert code == 0, err
    model = load(tmp_path / "m.lnn")
    assert model.cell == "ltc_mixed" and model.ltc is not None
    assert (model.ltc.ode_unfolds, model.ltc.epsilon) == (4, 1e-5)
    assert model.provenance["verified"]["error"] <= 1e-9


def test_import_expect_finds_a_mixed_cfcs_mode(tmp_path: Path) -> None:
    """The same search for a mixed CfC: its mode and activation, from the module's own float32 outputs."""
    torch.manual_seed(8)
    module = CfC(3, 6, mode="no_gate", activation="relu", mixed_memory=True).eval()
    torch.save(module.state_dict(), tmp_path / "m.pt")
    x = np.random.default_rng(7).normal(size=(2, 10, 3)).astype(np.float32)
    with torch.no_grad():
        y = module(torch.from_numpy(x))[0].numpy()
    np.savez(tmp_path / "io.npz", x=x, y=y)
    code, _, err = invoke("import", tmp_path / "m.pt", "-o", tmp_path / "m.lnn", "--expect", tmp_path / "io.npz")
    assert code == 0, err
    model = load(tmp_path / "m.lnn")
    assert model.cell == "cfc_mixed" and model.cfc is not None
    assert (model.cfc.mode, model.cfc.activation) == ("no_gate", "relu")


def test_odd_state_size_is_refused() -> None:
    model = from_module(mixed_ltc(units=6, motors=1))
    model.state_size = 13
    with pytest.raises(ModelFileError, match="state_size"):
        validate(model)


# --- quantization, emulator and generated C -------------------------------------------------------------


@pytest.mark.parametrize("precision", ["float32", "fixed16", "fixed32"])
def test_host_c_equals_the_emulator_bit_for_bit(tmp_path: Path, precision: str) -> None:
    model = with_calibration(from_module(mixed_ltc(seed=7)))
    exported = export_model(model, tmp_path, precision, dt="variable")
    assert_host_build_matches_emulator(exported, 1, ())
    assert_host_build_matches_emulator(exported, 2, ("-DLNN_NO_ASM",))  # portable C under ASan/UBSan
    emulated = Emulator(exported.qmodel).run(*_sequences(model), check=True)
    reference = Reference(model).run(*_sequences(model))
    tolerance = {"float32": 1e-4, "fixed16": 0.05, "fixed32": 1e-3}[precision]
    assert np.abs(emulated.y - reference[0]).max() < tolerance
    assert np.abs(emulated.state - reference[1]).max() < tolerance


@pytest.mark.parametrize("precision", ["float32", "fixed16", "fixed32"])
@pytest.mark.parametrize("case", list(CFC_CASES))
def test_cfc_host_c_equals_the_emulator_bit_for_bit(tmp_path: Path, precision: str, case: str) -> None:
    model = with_calibration(from_module(mixed_cfc(case, seed=5)))
    exported = export_model(model, tmp_path, precision, dt="variable")
    assert_host_build_matches_emulator(exported, 1, ())
    assert_host_build_matches_emulator(exported, 2, ("-DLNN_NO_ASM",))
    if precision != "fixed32":
        sequences = random_sequences(np.random.default_rng(4), 1, 8, model.input_size, scale=2.0)
        assert bench_export(exported, "cortex-m4f", sequences, ()).bit_exact


def _sequences(model: Model) -> tuple[np.ndarray, np.ndarray]:
    sequences = random_sequences(np.random.default_rng(9), 2, 30, model.input_size)
    return sequences.x, sequences.dt


@pytest.mark.parametrize("precision", ["fixed16", "fixed32"])
def test_state_format_holds_h_and_the_calibrated_c(precision: str) -> None:
    """h' in (-1, 1) is proven; c's bound is calibrated with headroom; both share the state format."""
    model = with_calibration(from_module(mixed_ltc(seed=8)))
    qmodel = quantize(model, precision)
    bits = qmodel.bits
    assert qmodel.formats["c"] == qmodel.formats["v"]
    assert qmodel.sources["c"].startswith("calibration") and qmodel.sources["lstm_h"].startswith("proof")
    _, states = Reference(model).run(model.calibration.x, model.calibration.dt)  # type: ignore[union-attr]
    c_max = np.abs(states[:, :, 12:]).max()
    assert qmodel.bounds["c"] >= 2 * c_max  # headroom
    top = ((1 << (bits - 1)) - 1) / 2.0 ** qmodel.formats["c"]
    assert top >= max(1.0, qmodel.bounds["c"])


def test_c_saturation_is_reported_and_the_c_still_agrees(tmp_path: Path) -> None:
    """c is not bounded by a convex combination: with a forget gate near 1 and a saturated input gate it grows by
    about 1 a step. Calibrated on 3 steps, run for 30, it leaves its format: the emulator's check mode reports
    tensor 'c' (a failure of the quantization verdict), and the generated C saturates exactly as the emulator."""
    module = mixed_ltc(seed=9)
    state = module.state_dict()
    bias = state["lstm.input_map.bias"]
    bias[:12], bias[12:24], bias[24:36] = 4.0, 4.0, 8.0  # tanh(i) ~ 1, input gate ~ 1, forget gate ~ 1
    model = from_state_dict(state)
    rng = np.random.default_rng(0)
    model.calibration = Calibration(x=rng.normal(size=(2, 3, 3)), dt=np.ones((2, 3)))
    qmodel = quantize(model, "fixed16")
    top = 32767 / 2.0 ** qmodel.formats["c"]
    assert qmodel.bounds["c"] < top < 30
    emulated = Emulator(qmodel).run(*_sequences(model), check=True)
    assert emulated.saturations.counts.get("c", 0) > 0 and emulated.saturations.internal_total > 0
    assert np.abs(emulated.state[:, -1, 12:]).max() == pytest.approx(top, abs=1e-3)
    exported = export_model(qmodel, tmp_path, "fixed16")
    assert_host_build_matches_emulator(exported, 3, ())


def test_c_format_override_is_taken_or_refused() -> None:
    """``--format c=F``: a coarser state format is taken; one the inner cell cannot hold is refused by name."""
    model = with_calibration(from_module(mixed_ltc(seed=9)))
    assert quantize(model, "fixed16", overrides={"c": 9}).formats["c"] == 9
    with pytest.raises(Exception, match="override"):
        quantize(model, "fixed16", overrides={"c": 15})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda q: q.constants.update(lstm_p=q.constants["lstm_t"]), "LSTM formats"),
        (lambda q: q.params["lstm_w_rec"].__setitem__(0, 32767), "overflow its accumulator"),  # a full-scale row
    ],
)
def test_a_quantized_model_that_breaks_the_proofs_is_refused(tmp_path: Path, change: Any, message: str) -> None:
    """A quantized section read from a file is data: its formats and weights are checked against what the
    quantizer proved (a right shift into the table, gate sums within the 32-bit accumulator) before any
    emulation or C is made of them."""
    qmodel = quantize(with_calibration(from_module(mixed_ltc(seed=14))), "fixed16")
    change(qmodel)
    with pytest.raises(ModelFileError, match=message):
        Emulator(qmodel)
    with pytest.raises(ModelFileError, match=message):
        export_model(qmodel, tmp_path, "fixed16")


@pytest.mark.parametrize("precision", ["float32", "fixed16", "fixed32"])
def test_generated_source_is_data_and_wrappers(tmp_path: Path, precision: str) -> None:
    model = with_calibration(from_module(mixed_ltc(seed=10)))
    exported = export_model(model, tmp_path, precision)
    source = (exported.directory / f"{exported.name}.c").read_text()
    code = re.sub(r"/\*.*?\*/", "", source, flags=re.S)
    assert not re.search(r"\b(for|while|do)\b", code)
    kernel = {"float32": "f32", "fixed16": "q15", "fixed32": "q31"}[precision]
    assert f'#include "lnn/lnn_lstm_{kernel}.h"' in code and f'#include "lnn/lnn_ltc_{kernel}.h"' in code
    header = (exported.directory / f"{exported.name}.h").read_text()
    assert "#define M_STATE_SIZE 24" in header and "3 inputs, 12 neurons, 2 outputs" in header
    assert exported.manifest["state_size"] == 24


CORE_CASES = [
    ("float32", "cortex-m4f", ()),
    ("fixed16", "cortex-m4f", ()),  # the LSTM's SMLAD gate sums
    ("fixed16", "cortex-m4f", ("-DLNN_NO_ASM",)),  # their portable C on the same core
    ("fixed16", "cortex-m33", ()),
    ("fixed16", "cortex-m0", ()),  # no DSP extension: the portable C
]


@pytest.mark.parametrize(("precision", "core", "flags"), CORE_CASES)
@pytest.mark.parametrize(("inputs", "units"), [(3, 11), (4, 12)])  # odd and even column counts (x, then h)
def test_cross_compiled_build_equals_the_emulator(
    tmp_path: Path, precision: str, core: str, flags: tuple[str, ...], inputs: int, units: int
) -> None:
    """The export built for a Cortex-M core, counted in Unicorn, against the emulator bit for bit."""
    model = with_calibration(from_module(mixed_ltc(units=units, inputs=inputs, seed=11)))
    exported = export_model(model, tmp_path, precision, dt="variable")
    sequences = random_sequences(np.random.default_rng(4), 1, 8, model.input_size, scale=2.0)
    assert bench_export(exported, core, sequences, flags).bit_exact


# --- boards ---------------------------------------------------------------------------------------------


BOARD_CASES = [
    ("ltc", "qemu-mps2-an386", "fixed16"),
    ("ltc", "qemu-mps2-an386", "float32"),
    ("ltc", "qemu-mps2-an386", "fixed32"),
    ("ltc", "qemu-microbit", "fixed16"),
    ("cfc", "qemu-microbit", "fixed16"),
    ("cfc", "qemu-mps2-an386", "fixed16"),
    ("cfc", "qemu-mps2-an386", "float32"),
    ("cfc", "qemu-mps2-an386", "fixed32"),
    ("wired_cfc", "qemu-mps2-an386", "fixed16"),
    ("wired_cfc", "qemu-mps2-an386", "float32"),
]


@pytest.mark.qemu
@pytest.mark.parametrize(("cell", "board", "precision"), BOARD_CASES)
def test_mixed_bit_exact_on_emulated_board(tmp_path: Path, cell: str, board: str, precision: str) -> None:
    """``lnn-edge verify --board``'s path: the board, the host C and the emulator agree on outputs and [h | c]."""
    if cell == "ltc":
        module = mixed_ltc(units=19, motors=2, inputs=2, seed=12)
    else:
        module = mixed_cfc("wired" if cell == "wired_cfc" else "dense", seed=12)
    model = with_calibration(from_module(module))
    exported = export_model(model, tmp_path, precision)
    result = verify_on_board(exported, short_sequences(exported, batch=2, steps=20), board)
    assert result.bit_exact, str(result.mismatch)
    assert result.passed and result.host.bit_exact


@pytest.mark.qemu
@pytest.mark.parametrize("cell", ["ltc", "cfc"])
def test_cli_export_and_verify_on_board(tmp_path: Path, cell: str) -> None:
    """The verbs as a user runs them: `lnn-edge export` of a mixed model file, then `lnn-edge verify --board`."""
    module = mixed_ltc(units=19, motors=2, inputs=2, seed=13) if cell == "ltc" else mixed_cfc("wired", seed=13)
    save(with_calibration(from_module(module)), tmp_path / "m.lnn")
    code, _, err = invoke("export", tmp_path / "m.lnn", "-o", tmp_path / "out", "--precision", "fixed16")
    assert code == 0, err
    code, out, err = invoke("verify", tmp_path / "out", "--board", "qemu-mps2-an386", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["passed"] and report["bit_exact"] and report["host_bit_exact"]
    assert report["board"] == "qemu-mps2-an386"

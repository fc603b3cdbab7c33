"""Real sensor recordings through the whole flow (issue 15): train, quantize with the stored calibration, export,
verify on an emulated board, and the task metric at each level.

The data is BasicMotions (a smartwatch's accelerometer and gyroscope, four activities) read out of the aeon wheel,
which the session fetches from PyPI into a cache the tests own (``tests/support/realdata.py``). The flow tests train
one small LTC on the training split and check it on the test split, as ``docs/real-data.md`` does at full size.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support.realdata import (
    BASIC_MOTIONS_CHANNELS,
    BasicMotions,
    basic_motions,
    cache_from_environment,
    daphnet_csv,
    fetch_aeon_wheel,
    parse_ts,
    save_npz,
)

from lnn_edge.model.model import Model
from lnn_edge.model.modelfile import load
from lnn_edge.quant.emulator import Emulator
from lnn_edge.quant.qmodel import QuantizedModel
from lnn_edge.quant.qmodelfile import load_any
from lnn_edge.reference import Reference

LNN_EDGE = [str(Path(sys.executable).parent / "lnn-edge")]
# The small slice: every second step of each sequence (50 steps of 0.2 s, the whole 10 s of motion), and a budget of
# 30 optimizer steps (one batch holds the training split) with 3 solver unfolds: about 20 s on 2 idle cores, and
# the model tells the four activities apart well above chance (test accuracy about 55%; chance is 25%).
SUBSAMPLE = 2
TRAIN_OPTIONS = ["--cell", "ltc", "--wiring", "autoncp:16,4", "--ode-unfolds", "3", "--epochs", "30", "--seed", "0"]
BOARD = "qemu-mps2-an386"


@pytest.fixture(scope="session")
def data_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``$LNN_EDGE_CACHE/datasets`` when set, else a folder of this test session."""
    return cache_from_environment() or tmp_path_factory.mktemp("datasets")


@pytest.fixture(scope="session")
def motions(data_cache: Path) -> BasicMotions:
    return basic_motions(data_cache)


# ---------------------------------------------------------------------------------------------------------------
# The data helpers


def test_basic_motions_shapes_classes_and_values(motions: BasicMotions) -> None:
    assert motions.x_train.shape == (40, 100, 6) and motions.x_test.shape == (40, 100, 6)
    assert motions.classes == ("Standing", "Running", "Walking", "Badminton")
    assert motions.channels == BASIC_MOTIONS_CHANNELS
    for y in (motions.y_train, motions.y_test):
        assert y.dtype == np.int64 and np.bincount(y).tolist() == [10, 10, 10, 10]
    # Values as printed in the wheel's .ts files: the first case's first step over the six channels, its third step
    # on the first channel, and the last case's last step (train and test).
    np.testing.assert_array_equal(motions.x_train[0, 0], [0.079106, 0.394032, 0.551444, 0.351565, 0.02397, 0.633883])
    assert motions.x_train[0, 2, 0] == -0.903497
    np.testing.assert_array_equal(
        motions.x_train[-1, -1], [3.16927, 0.826934, -0.362036, -0.298298, 0.250357, 0.428803]
    )
    np.testing.assert_array_equal(
        motions.x_test[-1, -1], [-2.074749, -6.892377, 4.848379, -1.35033, -1.203844, -1.77647]
    )
    # Running moves the watch much more than standing does.
    running, standing = motions.classes.index("Running"), motions.classes.index("Standing")
    assert (
        np.abs(motions.x_train[motions.y_train == running]).mean()
        > 5 * np.abs(motions.x_train[motions.y_train == standing]).mean()
    )


def test_parse_ts_puts_dimensions_last() -> None:
    text = "#a comment\n@problemName Toy\n@classLabel true b a\n@data\n1,2,3:4,5,6:a\n7,8,9:10,11,12:b\n"
    parsed = parse_ts(text)
    assert parsed.classes == ("b", "a") and parsed.labels == ["a", "b"]
    np.testing.assert_array_equal(parsed.x[0], [[1, 4], [2, 5], [3, 6]])
    np.testing.assert_array_equal(parsed.x[1, :, 1], [10, 11, 12])


def test_fetch_reuses_the_cached_wheel(data_cache: Path, motions: BasicMotions) -> None:
    wheel = fetch_aeon_wheel(data_cache)
    before = wheel.stat().st_mtime_ns
    assert fetch_aeon_wheel(data_cache) == wheel and wheel.stat().st_mtime_ns == before


def test_daphnet_csv_has_named_columns_and_elapsed_time(tmp_path: Path, data_cache: Path) -> None:
    path = daphnet_csv(tmp_path / "daphnet.csv", data_cache, rows=640)
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    assert header[:2] == ["time", "dt"] and len(header) == 11 and "ankle_vert" in header
    assert lines[1].split(",")[2:] == ["101", "1000", "297", "-9", "953", "303", "330", "942", "-145"]
    table = np.loadtxt(path, delimiter=",", skiprows=1)
    assert table.shape == (640, 11)
    assert np.allclose(table[:, 1], 1 / 64, atol=1.5e-3)  # 64 Hz, time stamps in whole milliseconds
    assert table[-1, 0] == pytest.approx(639 / 64, abs=2e-3)


@pytest.mark.slow
def test_daphnet_csv_trains_through_the_csv_path(tmp_path: Path, data_cache: Path) -> None:
    """The CSV the helper writes is one the trainer reads: forecast the ankle's vertical acceleration."""
    csv_path = daphnet_csv(tmp_path / "daphnet.csv", data_cache, rows=1024)
    inputs = "ankle_horiz_fwd,ankle_vert,ankle_horiz_lateral,trunk_vert"
    result = run_cli(
        "train", "--data", str(csv_path), "--target-columns", "leg_vert", "--input-columns", inputs,
        "--dt-column", "dt", "--wiring", "fc:6", "--epochs", "1", "--seq-len", "64", "--json", "-q",
        "-o", str(tmp_path / "out" / "daphnet.lnn"),
    )  # fmt: skip
    model = load(tmp_path / "out" / "daphnet.lnn")
    assert model.input_size == 4 and model.output_names == ["leg_vert"], result.stdout


@pytest.mark.slow
def test_daphnet_time_stamps_become_elapsed_times_not_an_input(tmp_path: Path, data_cache: Path) -> None:
    """The recording's `time` column (seconds): --time-column makes it the elapsed time (1/64 s at 64 Hz, like the
    file's own `dt` column); given as --dt-column it is refused with that fix; left among the inputs (the
    default: every other column) the trainer warns that it only grows."""
    csv_path = daphnet_csv(tmp_path / "daphnet.csv", data_cache, rows=1024)
    common = ("--data", str(csv_path), "--target-columns", "leg_vert", "--wiring", "fc:6", "--epochs", "1",
              "--seq-len", "64", "-q")  # fmt: skip
    timed = run_cli("train", *common, "--input-columns", "ankle_vert,trunk_vert", "--time-column", "time",
                    "-o", str(tmp_path / "timed.lnn"))  # fmt: skip
    model = load(tmp_path / "timed.lnn")
    assert model.input_names == ["ankle_vert", "trunk_vert"] and model.dt == pytest.approx(1 / 64, abs=1.5e-3)
    assert "increases at every step" not in timed.stderr
    refused = run_cli("train", *common, "--dt-column", "time", "-o", str(tmp_path / "no.lnn"), check=False)
    assert refused.returncode == 1 and "those are time stamps, not elapsed times; pass --time-column time" in (
        refused.stderr
    )
    assert "Traceback" not in refused.stderr and not (tmp_path / "no.lnn").exists()
    untimed = run_cli("train", *common, "-o", str(tmp_path / "untimed.lnn"))
    assert "warning: input 'time' increases at every step of every sequence" in untimed.stderr
    assert "input 'dt'" not in untimed.stderr  # 1/64 s give or take a millisecond: not growing


# ---------------------------------------------------------------------------------------------------------------
# The flow on BasicMotions


def run_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*LNN_EDGE, *args], capture_output=True, text=True, timeout=600)
    if check:
        assert result.returncode == 0, (
            f"lnn-edge {' '.join(args)} -> {result.returncode}\n{result.stdout}\n{result.stderr}"
        )
    return result


@dataclass(frozen=True)
class Trained:
    """The model trained on the slice of BasicMotions' training split, and the npz files of both slices."""

    folder: Path
    model_path: Path
    train_npz: Path
    test_npz: Path
    x_test: np.ndarray
    y_test: np.ndarray


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, motions: BasicMotions) -> Iterator[Trained]:
    folder = tmp_path_factory.mktemp("basicmotions")
    x_train, x_test = motions.x_train[:, ::SUBSAMPLE], motions.x_test[:, ::SUBSAMPLE]
    train_npz = save_npz(folder / "basicmotions_train.npz", x_train, motions.y_train, motions.channels)
    test_npz = save_npz(folder / "basicmotions_test.npz", x_test, motions.y_test, motions.channels)
    model_path = folder / "model" / "bm.lnn"
    run_cli("train", "--data", str(train_npz), *TRAIN_OPTIONS, "-o", str(model_path), "-q")
    yield Trained(folder, model_path, train_npz, test_npz, x_test, motions.y_test)


def accuracy(outputs: np.ndarray, labels: np.ndarray) -> float:
    """Classification accuracy in percent, read at the last step (as the trainer's metric)."""
    return float(100.0 * np.mean(outputs[:, -1].argmax(axis=-1) == labels))


def float64_accuracy(model: Model, x: np.ndarray, labels: np.ndarray) -> float:
    outputs, _ = Reference(model).run(x)
    return accuracy(outputs, labels)


def quantized_accuracy(qmodel: QuantizedModel, x: np.ndarray, labels: np.ndarray) -> float:
    dt = np.full(x.shape[:2], qmodel.model.dt)
    return accuracy(Emulator(qmodel).run(x, dt).y, labels)


@pytest.mark.slow
def test_fixed16_with_the_stored_calibration_exits_0(trained: Trained) -> None:
    """No --calib and no flags: the calibration the trainer stored is enough for fixed16."""
    out = trained.folder / "q-default"
    result = run_cli(
        "quantize", str(trained.model_path), "--precision", "fixed16", "-o", str(out / "bm16.lnn"), check=False
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert "FAIL" not in result.stdout and (out / "bm16.lnn").is_file()


@pytest.mark.slow
def test_fixed16_test_accuracy_within_one_point_of_float64(trained: Trained) -> None:
    out = trained.folder / "q-accuracy" / "bm16.lnn"
    run_cli("quantize", str(trained.model_path), "--precision", "fixed16", "-o", str(out), check=False)
    model, qmodel = load(trained.model_path), load_any(out)
    assert isinstance(qmodel, QuantizedModel)
    x, y = trained.x_test, trained.y_test
    reference = float64_accuracy(model, x, y)
    assert reference >= 40.0, f"the small model should beat chance (25%) clearly on the test split: {reference}"
    assert abs(quantized_accuracy(qmodel, x, y) - reference) <= 1.0


@pytest.mark.slow
def test_quantize_reports_accuracy_for_float64_and_fixed16(trained: Trained) -> None:
    """With labelled --data, quantize reports the task metric of both levels: the float64 model's accuracy on the
    data as given and the fixed16 emulator's, the figures our own runs measure."""
    code, report = quantize_json(trained, "q-metric", "--data", str(trained.test_npz), "--max-metric-loss", "0.01")
    assert code == 0 and report["passed"] is True, report.get("failures")
    task = evaluation(report, "data")["task"]
    assert task["kind"] == "classification"
    qmodel = load_any(trained.folder / "q-metric" / "bm16.lnn")
    assert isinstance(qmodel, QuantizedModel)
    x, y = trained.x_test, trained.y_test
    assert 100 * task["reference"]["accuracy"] == pytest.approx(float64_accuracy(load(trained.model_path), x, y))
    assert 100 * task["candidate"]["accuracy"] == pytest.approx(quantized_accuracy(qmodel, x, y))


@pytest.mark.qemu
@pytest.mark.slow
def test_export_verifies_bit_exact_on_the_host_and_an_emulated_board(trained: Trained) -> None:
    """The exported C computes the emulator's bits, on the host (with its test accuracy) and on the board."""
    export_dir = trained.folder / "export"
    run_cli("export", str(trained.model_path), "-o", str(export_dir), "--precision", "fixed16", "--name", "bm")
    host = json.loads(run_cli("verify", str(export_dir), "--data", str(trained.test_npz), "--json").stdout)
    assert host["passed"] is True and host["bit_exact"] is True, host
    qmodel = load_any(export_dir / "model.lnn")
    assert isinstance(qmodel, QuantizedModel)
    assert 100 * host["task"]["candidate"]["accuracy"] == pytest.approx(
        quantized_accuracy(qmodel, trained.x_test, trained.y_test)
    )
    # Four test sequences, one per class, keep the board run short; all 50 steps of each.
    few = trained.folder / "verify.npz"
    pick = [int(np.flatnonzero(trained.y_test == c)[0]) for c in range(4)]
    np.savez(few, x=trained.x_test[pick], y=trained.y_test[pick])
    board = json.loads(run_cli("verify", str(export_dir), "--board", BOARD, "--data", str(few), "--json").stdout)
    assert board["bit_exact"] is True and board["metric_by_default"] is True, board
    expected = quantized_accuracy(qmodel, trained.x_test[pick], trained.y_test[pick])
    assert 100 * board["task"]["candidate"]["accuracy"] == pytest.approx(expected)
    assert board["passed"] is (board["task"]["loss"] <= 0.01), board


@pytest.mark.slow
def test_the_trainer_stores_the_labels_of_its_sample_and_verify_uses_them(trained: Trained) -> None:
    """The calibration sample carries each sequence's class, so quantize, export and verify judge accuracy by
    default; verify with no --data runs the sample and reports it."""
    model = load(trained.model_path)
    assert model.calibration is not None and model.calibration.y is not None
    with np.load(trained.train_npz) as data:
        x_train, y_train = data["x"], data["y"]
    rows = [next(i for i in range(len(x_train)) if np.allclose(x_train[i], s)) for s in model.calibration.x]
    np.testing.assert_array_equal(model.calibration.y, y_train[rows])
    assert set(model.calibration.y) == {0, 1, 2, 3}  # stratified: every class
    export_dir = trained.folder / "export-default"
    run_cli("export", str(trained.model_path), "-o", str(export_dir), "--precision", "fixed16", "--name", "bm")
    host = json.loads(run_cli("verify", str(export_dir), "--json", check=False).stdout)
    assert host["bit_exact"] is True and host["metric_by_default"] is True and host["error_judged"] is False
    assert host["task"]["kind"] == "classification" and host["sequences"] == len(rows)
    assert host["passed"] is (host["task"]["loss"] <= 0.01), host


def quantize_json(trained: Trained, name: str, *flags: str) -> tuple[int, dict[str, Any]]:
    """Run quantize on the trained model with ``flags``; its exit code and JSON report."""
    out = trained.folder / name
    report = out / "report.json"
    args = ["quantize", str(trained.model_path), "--precision", "fixed16", "-o", str(out / "bm16.lnn")]
    result = run_cli(*args, "--report", str(report), *flags, check=False)
    assert report.is_file(), f"no report ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result.returncode, json.loads(report.read_text())


def clamped_per_input(x: np.ndarray, x_frac: list[int], names: list[str]) -> dict[str, int]:
    """Our own count of the values that a 16-bit input format with ``x_frac`` fractional bits cannot hold."""
    scaled = x.astype(np.float32).astype(np.float64) * np.exp2(np.asarray(x_frac, dtype=np.float64))
    outside = (scaled >= 32767.5) | (scaled < -32768.5)  # beyond int16 after rounding to the nearest integer
    counts = outside.reshape(-1, x.shape[-1]).sum(axis=0)
    return {name: int(count) for name, count in zip(names, counts, strict=True) if count}


def evaluation(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(entry for entry in report["evaluations"] if entry["name"] == name)


@pytest.mark.slow
def test_the_other_split_quantizes_and_reports_what_saturated(trained: Trained) -> None:
    """Checked on the test split (never seen in training), input clamping is reported per input, not a failure."""
    code, report = quantize_json(trained, "q-other-split", "--data", str(trained.test_npz))
    assert code == 0 and report["passed"] is True, report.get("failures")
    checked = evaluation(report, "data")
    assert checked["sequences"] == len(trained.y_test) and checked["saturations"] == 0  # nothing internal
    expected = clamped_per_input(trained.x_test, report["per_feature"]["x_frac"], list(BASIC_MOTIONS_CHANNELS))
    assert checked["input_saturations"] == expected


@pytest.mark.slow
def test_a_declared_sensor_range_clamps_reports_and_fails_only_when_strict(trained: Trained) -> None:
    """A full scale narrower than the recording (acc_x at +-2) clamps many test values: the report names the input
    and counts them, the verdict stays PASS, the range is stored in the model, and --strict turns it into FAIL."""
    flags = ["--data", str(trained.test_npz), "--input-range", "acc_x=-2:2"]
    code, report = quantize_json(trained, "q-declared", *flags)
    assert code == 0 and report["passed"] is True, report.get("failures")
    checked = evaluation(report, "data")
    expected = clamped_per_input(trained.x_test, report["per_feature"]["x_frac"], list(BASIC_MOTIONS_CHANNELS))
    assert expected["acc_x"] > 100 and checked["input_saturations"] == expected
    assert any("acc_x" in line for line in checked["first_input_saturations"])
    qmodel = load_any(trained.folder / "q-declared" / "bm16.lnn")
    assert isinstance(qmodel, QuantizedModel) and qmodel.model.input_ranges["acc_x"] == (-2.0, 2.0)
    strict_code, strict = quantize_json(trained, "q-strict", *flags, "--strict")
    assert strict_code == 1 and strict["passed"] is False

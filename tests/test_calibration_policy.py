"""Issue 15: input bounds from declared ranges and stored statistics, saturation as a policy, verdicts a user sets.

Real models (ncps modules imported with lnn_edge.model.importers, or through ``lnn-edge import``), the real CLI.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from ncps import wirings
from ncps.torch import LTC, CfC
from support.cli import invoke

from lnn_edge.errors import ModelFileError
from lnn_edge.model.modelfile import load, save
from lnn_edge.model.ranges import RangeError, parse_range
from lnn_edge.quant.calibration import HEADROOM, calibration_for, input_stats, labelled_sample, representative_sample

NAMES = "acc_x,acc_y,gyro_z"


def _recording(rng: np.random.Generator, batch: int, steps: int = 30) -> np.ndarray:
    """Three sensor channels in different units, as a wearable gives them."""
    return rng.normal(size=(batch, steps, 3)) * np.array([2.0, 0.5, 8.0])


@pytest.fixture(scope="module")
def ltc_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An imported LTC (3 inputs, 2 outputs) with a stored calibration sample whose max |x| per input is known."""
    folder = tmp_path_factory.mktemp("ltc")
    torch.manual_seed(0)
    torch.save(LTC(3, wirings.AutoNCP(8, 2)).state_dict(), folder / "ltc.pt")
    x = _recording(np.random.default_rng(0), 8)
    np.savez(folder / "calib.npz", x=x)
    code, _, err = invoke(
        "import", str(folder / "ltc.pt"), "-o", str(folder / "ltc.lnn"), "--input-names", NAMES, "--calib",
        str(folder / "calib.npz"),
    )  # fmt: skip
    assert code == 0, err
    return folder / "ltc.lnn"


def _quantize(model: Path, out: Path, *extra: str) -> tuple[int, dict, str]:
    code, stdout, err = invoke("quantize", str(model), "-o", str(out), "--precision", "fixed16", "--json", *extra)
    return code, json.loads(stdout), err


# --- the helpers the trainer calls ------------------------------------------------------------------------


def test_input_stats_cover_every_value() -> None:
    x = _recording(np.random.default_rng(1), 20)
    x[7, 3, 2] = -900.0
    stats = input_stats(x)
    assert stats.count == 20 * 30
    np.testing.assert_array_equal(stats.minimum, x.min(axis=(0, 1)))
    np.testing.assert_array_equal(stats.maximum, x.max(axis=(0, 1)))
    assert stats.minimum[2] == -900.0 and 0 < stats.abs_p999[2] <= 900.0


def test_the_representative_sample_holds_the_extremes_and_every_class() -> None:
    rng = np.random.default_rng(2)
    x = _recording(rng, 200)
    x[150, 10, 1] = 40.0  # one late sequence holds the extreme: the first 8 sequences would miss it
    labels = np.repeat(np.arange(4), 50)  # classes in blocks, as a recording sorted by activity is
    sample, dt = representative_sample(x, np.ones(x.shape[:2]), labels, max_values=16 * 30 * 3)
    assert sample.shape == (16, 30, 3) and dt is not None and dt.shape == (16, 30)
    assert np.abs(sample[:, :, 1]).max() == 40.0
    kept = [i for i in range(200) if any(np.array_equal(x[i], s) for s in sample)]
    assert set(labels[kept]) == {0, 1, 2, 3}


def test_a_long_recording_is_cut_into_windows_within_the_budget() -> None:
    x = np.random.default_rng(3).normal(size=(1, 5000, 9))
    sample, dt = representative_sample(x, None, max_values=9000)
    assert dt is None and sample.size <= 9000 and sample.shape[0] > 1


def _rows(sample: np.ndarray, x: np.ndarray) -> list[int]:
    """The index in ``x`` of every sequence of ``sample`` (each is a copy of one)."""
    return [next(i for i in range(len(x)) if np.array_equal(x[i], s)) for s in sample]


def test_the_labelled_sample_carries_the_labels_of_the_sequences_it_chose() -> None:
    x = _recording(np.random.default_rng(5), 120)
    labels = np.repeat(np.arange(4), 30)
    sample, _, kept = labelled_sample(x, None, labels, max_values=10 * 30 * 3)
    assert kept is not None and kept.dtype == np.int64 and kept.shape == (10,)
    np.testing.assert_array_equal(kept, labels[_rows(sample, x)])
    per_step = np.tile(labels[:, None], (1, 30))
    per_step[:, :10] = 3  # a different class early in every sequence: the labels stay per step
    sample, _, kept = labelled_sample(x, None, per_step, max_values=10 * 30 * 3)
    assert kept is not None and kept.shape == (10, 30)
    np.testing.assert_array_equal(kept, per_step[_rows(sample, x)])


def test_labels_are_dropped_where_they_would_no_longer_describe_the_sample() -> None:
    x = np.random.default_rng(6).normal(size=(4, 400, 3))
    # Cut into windows: a per-sequence label (scored at the last step) says nothing about a window...
    assert labelled_sample(x, None, np.arange(4), max_values=600)[2] is None
    # ...while per-step labels are cut with their windows, step for step.
    per_step = np.repeat(np.arange(4)[:, None], 400, axis=1)
    per_step[:, 200:] = 0
    sample, _, kept = labelled_sample(x, None, per_step, max_values=600)
    assert kept is not None and kept.shape == sample.shape[:2]
    for window, window_labels in zip(sample, kept, strict=True):
        row = next(i for i in range(4) if any(np.array_equal(x[i, s : s + len(window)], window) for s in range(400)))
        start = next(s for s in range(400) if np.array_equal(x[row, s : s + len(window)], window))
        np.testing.assert_array_equal(window_labels, per_step[row, start : start + len(window)])
    # Regression targets are not class labels.
    assert labelled_sample(x, None, np.zeros((4, 400, 2)), max_values=600)[2] is None


# --- persistence ----------------------------------------------------------------------------------------


def test_stats_and_ranges_are_stored_and_loaded(ltc_file: Path, tmp_path: Path) -> None:
    model = load(ltc_file)
    assert model.calibration is not None and model.calibration.stats is not None
    stored_x = np.load(ltc_file.parent / "calib.npz")["x"]
    np.testing.assert_array_equal(model.calibration.stats.maximum, stored_x.max(axis=(0, 1)))
    model.input_ranges["gyro_z"] = (-2000.0, 2000.0)
    model.output_ranges["y1"] = (-1.0, 1.0)
    save(model, tmp_path / "ranged.lnn")
    again = load(tmp_path / "ranged.lnn")
    assert again.input_ranges == {"gyro_z": (-2000.0, 2000.0)} and again.output_ranges == {"y1": (-1.0, 1.0)}
    assert again.calibration is not None and again.calibration.stats is not None
    assert again.calibration.stats.count == model.calibration.stats.count


def _rewrite_manifest(source: Path, target: Path, edit: object) -> None:
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            data = old.read(item.filename)
            if item.filename == "manifest.json":
                manifest = json.loads(data)
                edit(manifest)  # type: ignore[operator]
                data = json.dumps(manifest).encode()
            new.writestr(item, data)


def test_stored_class_labels_round_trip_and_bad_ones_are_refused(ltc_file: Path, tmp_path: Path) -> None:
    model = load(ltc_file)
    assert model.calibration is not None and model.calibration.y is None  # import --calib has no labels
    batch = model.calibration.x.shape[0]
    model.calibration.y = np.arange(batch, dtype=np.int64) % 2
    save(model, tmp_path / "labelled.lnn")
    again = load(tmp_path / "labelled.lnn")
    assert again.calibration is not None and again.calibration.y is not None
    np.testing.assert_array_equal(again.calibration.y, model.calibration.y)
    for bad, message in ((np.full(batch, 2), "outside 0..1"), (np.zeros(batch + 1, dtype=np.int64), "shape")):
        model.calibration.y = bad.astype(np.int64)
        with pytest.raises(ModelFileError, match=message):
            save(model, tmp_path / "bad.lnn")


def test_files_from_before_issue_15_still_load(ltc_file: Path, tmp_path: Path) -> None:
    def strip(manifest: dict) -> None:
        del manifest["input_ranges"], manifest["output_ranges"], manifest["calibration"]["stats"]

    _rewrite_manifest(ltc_file, tmp_path / "old.lnn", strip)
    model = load(tmp_path / "old.lnn")
    assert model.calibration is not None and model.calibration.stats is None and model.input_ranges == {}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("input_ranges", {"nope": [0, 1]}, "input_ranges.nope"),
        ("input_ranges", {"acc_x": [1, 0]}, "low < high"),
        ("input_ranges", {"acc_x": [0, "1"]}, "finite numbers"),
        ("output_ranges", {"y0": [0, 1, 2]}, "output_ranges.y0"),
        ("stats", {"minimum": [0], "maximum": [0], "abs_p999": [0], "count": 1}, "one per input"),
        ("y", "yes", "calibration.y"),
    ],
)
def test_a_bad_stored_range_or_statistic_is_one_clear_error(
    ltc_file: Path, tmp_path: Path, field: str, value: object, message: str
) -> None:
    def edit(manifest: dict) -> None:
        if field in ("stats", "y"):
            manifest["calibration"][field] = value
        else:
            manifest[field] = value

    _rewrite_manifest(ltc_file, tmp_path / "bad.lnn", edit)
    with pytest.raises(ModelFileError, match=message):
        load(tmp_path / "bad.lnn")


# --- bounds by precedence --------------------------------------------------------------------------------


def test_bounds_come_from_stats_with_headroom_and_a_declared_range_wins(ltc_file: Path) -> None:
    model = load(ltc_file)
    assert model.calibration is not None and model.calibration.stats is not None
    stats = model.calibration.stats
    model.calibration.x = model.calibration.x[:2]  # a sample that misses the extremes: the statistics do not
    model.calibration.dt = None if model.calibration.dt is None else model.calibration.dt[:2]
    model.input_ranges["gyro_z"] = (-2000.0, 1000.0)
    calib = calibration_for(model)
    expected = np.maximum(np.abs(stats.minimum), np.abs(stats.maximum)) * HEADROOM
    np.testing.assert_array_equal(calib.x_absmax[:2], expected[:2])
    assert calib.x_absmax[2] == 2000.0 and calib.x_sources == ["statistics", "statistics", "declared"]


def test_declared_input_range_sets_the_format_and_is_kept_in_the_quantized_file(ltc_file: Path, tmp_path: Path) -> None:
    code, report, err = _quantize(ltc_file, tmp_path / "q.lnn", "--input-range", "2=-40:40")
    assert code == 0, err
    rows = {row["name"]: row for row in report["input_ranges"]}
    assert rows["gyro_z"]["source"] == "declared" and rows["gyro_z"]["bound"] == 40.0
    assert rows["gyro_z"]["representable"][1] >= 40.0 and rows["acc_x"]["source"] == "statistics"
    from lnn_edge.quant.qmodelfile import load_any

    assert load_any(tmp_path / "q.lnn").model.input_ranges == {"gyro_z": (-40.0, 40.0)}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("wrist=-1:1", "neither a name nor an index"),
        ("7=-1:1", "neither a name nor an index"),
        ("acc_x=2:1", "must be below HI"),
        ("acc_x=1:1", "must be below HI"),
        ("acc_x=-inf:1", "must be finite"),
        ("acc_x=nan:1", "must be finite"),
        ("acc_x=-1", "no ':'"),
        ("acc_x", "expected NAME=LO:HI"),
        ("acc_x=a:b", "must be numbers"),
    ],
)
def test_bad_input_ranges_are_one_line_errors(ltc_file: Path, tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(RangeError, match=message):
        parse_range(text, NAMES.split(","))
    code, _, err = invoke("quantize", str(ltc_file), "-o", str(tmp_path / "q.lnn"), "--precision", "fixed16",
                          "--input-range", text)  # fmt: skip
    assert code == 1 and err.startswith("error: --input-range") and err.count("\n") == 1 and message in err
    assert not (tmp_path / "q.lnn").exists()


# --- saturation is a policy --------------------------------------------------------------------------------


def _test_data(folder: Path, scale: float, model: Path) -> Path:
    """Held-out data whose acc_y reaches ``scale`` times the largest value stored for it."""
    stats = load(model).calibration.stats  # type: ignore[union-attr]
    assert stats is not None
    x = _recording(np.random.default_rng(5), 4)
    x[1, 7, 1] = scale * stats.maximum[1]
    x[3, 20, 1] = -scale * abs(stats.minimum[1])
    path = folder / f"held_out_{scale}.npz"
    np.savez(path, x=x, y=np.array([0, 1, 0, 1]))
    return path


def test_held_out_data_20_percent_beyond_calibration_does_not_saturate(ltc_file: Path, tmp_path: Path) -> None:
    data = _test_data(tmp_path, 1.2, ltc_file)
    code, report, err = _quantize(ltc_file, tmp_path / "q.lnn", "--data", str(data))
    assert code == 0, err
    held = next(e for e in report["evaluations"] if e["name"] == "data")
    assert held["input_saturations"] == {} and held["saturations"] == 0 and report["passed"] is True


@pytest.mark.slow
def test_clamped_inputs_are_reported_by_name_and_fail_only_with_strict(ltc_file: Path, tmp_path: Path) -> None:
    data = _test_data(tmp_path, 12.0, ltc_file)
    code, report, err = _quantize(ltc_file, tmp_path / "q.lnn", "--data", str(data))
    assert code == 0, err
    held = next(e for e in report["evaluations"] if e["name"] == "data")
    assert set(held["input_saturations"]) == {"acc_y"} and held["input_saturations"]["acc_y"] >= 2
    assert any("sequence 1" in event and "step 7" in event for event in held["first_input_saturations"])
    assert held["saturations"] == 0  # nothing internal saturated
    assert "clamped" in report["error_measured_on"]
    # The error is measured on the clamped inputs: it stays the quantization's (a clamp of 12x would dominate).
    assert held["outputs"]["max_abs_rel_range"] <= 1e-2
    code, text, _ = invoke("quantize", str(ltc_file), "-o", str(tmp_path / "q2.lnn"), "--precision", "fixed16",
                           "--data", str(data))  # fmt: skip
    assert "inputs clamped at their range: acc_y" in text and "PASS" in text
    code, report, err = _quantize(ltc_file, tmp_path / "q3.lnn", "--data", str(data), "--strict")
    assert code == 1 and report["passed"] is False and "--strict" in err
    assert any("acc_y" in reason for reason in report["failures"])


def test_internal_saturation_still_fails(tmp_path: Path) -> None:
    """Backbone formats forced 3 bits finer than calibration asks: the backbone saturates, a hard failure."""
    torch.manual_seed(3)
    module = CfC(3, 8, mode="default", activation="relu", backbone_layers=2, backbone_units=16)
    torch.save(module.state_dict(), tmp_path / "cfc.pt")
    np.savez(tmp_path / "calib.npz", x=np.random.default_rng(0).normal(size=(8, 30, 3)))
    code, _, err = invoke("import", str(tmp_path / "cfc.pt"), "-o", str(tmp_path / "cfc.lnn"), "--activation", "relu",
                          "--calib", str(tmp_path / "calib.npz"))  # fmt: skip
    assert code == 0, err
    code, natural, err = _quantize(tmp_path / "cfc.lnn", tmp_path / "q.lnn")
    assert code == 0 and natural["passed"], err
    fine = {row["name"]: row["frac_bits"] + 3 for row in natural["formats"] if row["name"] in ("bb0_act", "bb1_act")}
    assert fine, natural["formats"]
    overrides = [arg for name, bits in fine.items() for arg in ("--format", f"{name}={bits}")]
    # An error bar nothing can miss: the internal saturation alone fails the verdict.
    code, report, err = _quantize(tmp_path / "cfc.lnn", tmp_path / "q2.lnn", *overrides, "--max-error", "1")
    assert code == 1 and report["passed"] is False
    assert all("internal values saturated" in reason for reason in report["failures"]) and report["failures"]
    assert any(e["saturations"] > 0 and e["input_saturations"] == {} for e in report["evaluations"])


# --- thresholds and task metrics ---------------------------------------------------------------------------


@pytest.mark.slow
def test_max_error_decides_both_ways(ltc_file: Path, tmp_path: Path) -> None:
    code, report, _ = _quantize(ltc_file, tmp_path / "q.lnn")
    error = max(e["outputs"]["max_abs_rel_range"] for e in report["evaluations"])
    assert code == 0 and report["threshold_max_abs_rel_range"] == 1e-2 and 0 < error <= 1e-2
    code, report, _ = _quantize(ltc_file, tmp_path / "q2.lnn", "--max-error", f"{error / 2:g}")
    assert code == 1 and report["passed"] is False and "output error" in report["failures"][0]
    code, report, _ = _quantize(ltc_file, tmp_path / "q3.lnn", "--max-error", f"{error * 2:g}")
    assert code == 0 and report["threshold_max_abs_rel_range"] == float(f"{error * 2:g}")


def _labelled(folder: Path, model: Path, flip: int) -> Path:
    """Test data whose labels are the float64 model's own predictions, ``flip`` of them changed."""
    from lnn_edge.reference import Reference

    net = load(model)
    x = _recording(np.random.default_rng(6), 40)
    y_ref, _ = Reference(net).run(x, np.full(x.shape[:2], net.dt))
    labels = np.argmax(y_ref[:, -1], axis=-1)
    labels[:flip] = 1 - labels[:flip]
    path = folder / f"labelled_{flip}.npz"
    np.savez(path, x=x, y=labels)
    return path


@pytest.mark.slow
def test_task_metric_side_by_side_and_max_metric_loss(ltc_file: Path, tmp_path: Path) -> None:
    data = _labelled(tmp_path, ltc_file, flip=4)
    code, report, err = _quantize(ltc_file, tmp_path / "q.lnn", "--data", str(data), "--max-metric-loss", "0.01")
    assert code == 0, err
    task = next(e for e in report["evaluations"] if e["name"] == "data")["task"]
    assert task["kind"] == "classification" and task["reference"]["accuracy"] == pytest.approx(36 / 40)
    assert abs(task["loss"]) <= 0.01
    assert report["max_metric_loss"] == 0.01 and report["passed"] is True
    assert report["error_judged"] is False  # task-aware: the output error is reported, the task metric decides
    # An explicit error bar is judged beside the task metric.
    code, report, _ = _quantize(ltc_file, tmp_path / "q2.lnn", "--data", str(data), "--max-metric-loss", "0.01",
                                "--max-error", "1e-9")  # fmt: skip
    assert code == 1 and report["error_judged"] is True and "output error" in report["failures"][0]
    # A task-aware verdict without labels is a one-line error, not a silent pass.
    code, _, err = invoke("quantize", str(ltc_file), "-o", str(tmp_path / "q3.lnn"), "--precision", "fixed16",
                          "--max-metric-loss", "0.01")  # fmt: skip
    assert code == 1 and "--max-metric-loss needs labelled test data" in err and err.count("\n") == 1


def _with_stored_labels(model_path: Path, target: Path) -> np.ndarray:
    """The model with class labels for its stored sample (float64's own decisions, so its accuracy is 1)."""
    from lnn_edge.reference import Reference

    net = load(model_path)
    assert net.calibration is not None
    y_ref, _ = Reference(net).run(net.calibration.x, np.full(net.calibration.x.shape[:2], net.dt))
    net.calibration.y = np.argmax(y_ref[:, -1], axis=-1).astype(np.int64)
    net.task = {"kind": "classification"}
    save(net, target)
    return net.calibration.y


def test_stored_class_labels_make_accuracy_the_default_verdict(ltc_file: Path, tmp_path: Path) -> None:
    """A classifier that stores its sample's labels is judged by accuracy when the user sets no bar: the verdict
    follows the accuracy our own emulator run measures, and the output error is reported beside it."""
    from lnn_edge.quant.emulator import Emulator
    from lnn_edge.quant.qmodel import QuantizedModel
    from lnn_edge.quant.qmodelfile import load_any

    labelled = tmp_path / "labelled.lnn"
    labels = _with_stored_labels(ltc_file, labelled)
    verdicts = set()
    for name, formats in (("plain", ()), ("coarse", ("--format", "v=4"))):
        code, report, err = _quantize(labelled, tmp_path / f"{name}.lnn", *formats)
        assert report["metric_by_default"] is True and report["max_metric_loss"] == 0.01, report
        assert report["error_judged"] is False
        qmodel = load_any(tmp_path / f"{name}.lnn")
        assert isinstance(qmodel, QuantizedModel) and qmodel.model.calibration is not None
        x = qmodel.model.calibration.x
        decisions = np.argmax(Emulator(qmodel).run(x, np.full(x.shape[:2], qmodel.model.dt)).y[:, -1], axis=-1)
        cut = len(x) - len(x) // 4  # quantize holds out the last quarter
        losses = [1 - np.mean(decisions[part] == labels[part]) for part in (slice(0, cut), slice(cut, None))]
        assert [e["task"]["loss"] for e in report["evaluations"]] == pytest.approx(losses)
        assert report["passed"] is bool(max(losses) <= 0.01) and code == (0 if report["passed"] else 1), err
        verdicts.add(report["passed"])
    assert verdicts == {True, False}, "one format keeps every decision, the coarse one loses some"
    # --max-error brings the error bar back (the default task bar then no longer applies).
    code, report, _ = _quantize(labelled, tmp_path / "bar.lnn", "--max-error", "1e-9")
    assert code == 1 and report["error_judged"] is True and report["metric_by_default"] is False


def test_regression_metrics_and_a_failing_metric_bar(tmp_path: Path) -> None:
    """A regression CfC: RMSE and R^2 for float64 and fixed16 side by side; --max-metric-loss decides both ways."""
    torch.manual_seed(4)
    torch.save(CfC(3, 6, mode="no_gate").state_dict(), tmp_path / "cfc.pt")
    np.savez(tmp_path / "calib.npz", x=np.random.default_rng(0).normal(size=(8, 30, 3)))
    invoke("import", str(tmp_path / "cfc.pt"), "-o", str(tmp_path / "cfc.lnn"), "--mode", "no_gate", "--calib",
           str(tmp_path / "calib.npz"))  # fmt: skip
    from lnn_edge.reference import Reference

    net = load(tmp_path / "cfc.lnn")
    x = np.random.default_rng(7).normal(size=(6, 30, 3))
    y_ref, _ = Reference(net).run(x, np.full(x.shape[:2], net.dt))
    y = y_ref + np.random.default_rng(8).normal(scale=0.05, size=y_ref.shape)
    np.savez(tmp_path / "test.npz", x=x, y=y)
    code, report, err = _quantize(tmp_path / "cfc.lnn", tmp_path / "q.lnn", "--data", str(tmp_path / "test.npz"),
                                  "--max-metric-loss", "0.05")  # fmt: skip
    assert code == 0, err
    task = next(e for e in report["evaluations"] if e["name"] == "data")["task"]
    assert task["kind"] == "regression" and set(task["reference"]) == {"rmse", "r2"}
    assert task["candidate"]["rmse"] == pytest.approx(task["reference"]["rmse"], rel=0.05)
    # Sensor ranges declared far too narrow: inputs clamp and the deployed model's RMSE grows end to end (the
    # float64 side of the task metric sees the inputs as recorded). Reported without a bar; fails with one.
    narrow = [arg for k in range(3) for arg in ("--input-range", f"{k}=-0.01:0.01")]
    args = ("--data", str(tmp_path / "test.npz"), *narrow, "--max-error", "1")
    code, report, _ = _quantize(tmp_path / "cfc.lnn", tmp_path / "q2.lnn", *args)
    task = next(e for e in report["evaluations"] if e["name"] == "data")["task"]
    assert code == 0 and task["loss"] > 0.05
    code, report, _ = _quantize(tmp_path / "cfc.lnn", tmp_path / "q3.lnn", *args, "--max-metric-loss", "0.05")
    assert code == 1 and report["failures"] == [f"data: task metric loss {task['loss']:.4g} > 0.05"]


def test_verify_reports_against_max_error_and_the_old_threshold_alias(ltc_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, _, err = invoke("export", str(ltc_file), "-o", str(out), "--precision", "fixed16", "--input-range",
                          "gyro_z=-30:30", "--max-error", "0.05")  # fmt: skip
    assert code == 0, err
    from lnn_edge.quant.qmodelfile import load_any

    assert load_any(out / "model.lnn").model.input_ranges == {"gyro_z": (-30.0, 30.0)}  # type: ignore[union-attr]
    data = _labelled(tmp_path, ltc_file, flip=0)
    code, stdout, err = invoke("verify", str(out), "--data", str(data), "--max-metric-loss", "0.01", "--json")
    report = json.loads(stdout)
    assert code == 0 and report["passed"] and report["task"]["reference"]["accuracy"] == 1.0, err
    assert report["task"]["loss"] <= 0.01
    for option in ("--max-error", "--threshold"):
        code, stdout, _ = invoke("verify", str(out), option, "1e-9", "--json")
        assert code == 1 and json.loads(stdout)["threshold_max_abs_rel_range"] == 1e-9
    code, stdout, _ = invoke("verify", "--help")
    assert "--max-error" in stdout and "--threshold" not in stdout


def test_a_time_step_below_the_ltcs_floor_is_a_reported_clamp_not_an_error(tmp_path: Path) -> None:
    """Calibrated on elapsed times of 0.5-1.5, the fixed16 LTC steps at least 0.25 (it divides by dt). A held-out
    sequence with one 0.05 step is clamped like an input out of range: reported by name, and the float64
    reference sees the clamped dt too, so the error stays the quantization's and the verdict passes."""
    torch.manual_seed(0)
    torch.save(LTC(3, wirings.AutoNCP(8, 2)).state_dict(), tmp_path / "ltc.pt")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "calib.npz", x=_recording(rng, 8), dt=rng.uniform(0.5, 1.5, size=(8, 30)))
    code, _, err = invoke("import", str(tmp_path / "ltc.pt"), "-o", str(tmp_path / "ltc.lnn"), "--calib",
                          str(tmp_path / "calib.npz"))  # fmt: skip
    assert code == 0, err
    x, dt = _recording(rng, 4), rng.uniform(0.5, 1.5, size=(4, 30))
    np.savez(tmp_path / "plain.npz", x=x, dt=dt)
    dt[0, 5] = 0.05
    np.savez(tmp_path / "held.npz", x=x, dt=dt)
    errors = {}
    for name in ("plain", "held"):
        code, report, err = _quantize(
            tmp_path / "ltc.lnn", tmp_path / f"{name}.lnn", "--data", str(tmp_path / f"{name}.npz")
        )
        held = next(e for e in report["evaluations"] if e["name"] == "data")
        assert held["input_saturations"] == ({"dt": 1} if name == "held" else {}), held["input_saturations"]
        assert code == 0 and report["passed"] is True, (err, report["failures"])
        errors[name] = held["outputs"]["max_abs_rel_range"]
    # measured on the clamped dt, the short step costs no error of its own (against the unclamped dt it did)
    assert errors["held"] <= 1.05 * errors["plain"], errors


def test_a_data_files_input_names_are_used_and_checked(tmp_path: Path) -> None:
    """import --calib takes the names of a recording (so --input-range can use them); a held-out file whose
    names are the model's in another order is refused (x is read by position); names saved as an object array
    (pandas' df.columns.values) get an instruction instead of a pickle error."""
    torch.manual_seed(0)
    torch.save(CfC(2, 8).state_dict(), tmp_path / "cfc.pt")
    x = np.random.default_rng(0).normal(size=(8, 20, 2)) * np.array([100.0, 1.0])
    np.savez(tmp_path / "rec.npz", x=x, input_names=np.array(["temp_c", "humidity"]))
    code, _, err = invoke("import", str(tmp_path / "cfc.pt"), "-o", str(tmp_path / "m.lnn"), "--calib",
                            str(tmp_path / "rec.npz"), "--input-range", "temp_c=-400:400")  # fmt: skip
    assert code == 0, err
    model = load(tmp_path / "m.lnn")
    assert model.input_names == ["temp_c", "humidity"] and "temp_c" in model.input_ranges
    np.savez(tmp_path / "swapped.npz", x=x[..., ::-1], input_names=np.array(["humidity", "temp_c"]))
    code, _, err = invoke("quantize", str(tmp_path / "m.lnn"), "-o", str(tmp_path / "q.lnn"), "--precision",
                          "fixed16", "--data", str(tmp_path / "swapped.npz"))  # fmt: skip
    assert code == 1 and "the same in another order" in err and not (tmp_path / "q.lnn").exists()
    np.savez(tmp_path / "objects.npz", x=x, input_names=np.array(["temp_c", "humidity"], dtype=object))
    code, _, err = invoke("import", str(tmp_path / "cfc.pt"), "-o", str(tmp_path / "o.lnn"), "--calib",
                          str(tmp_path / "objects.npz"))  # fmt: skip
    assert code == 1 and "np.array(names, dtype=str)" in err

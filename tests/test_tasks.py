"""Built-in generated tasks and user data files: shapes, determinism, finiteness, and clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lnn_edge.errors import DataFileError, LnnEdgeError
from lnn_edge.train.tasks import TASKS, load_csv, load_data, make_task

SIZES = {"pendulum": (2, 2), "sines": (1, 1), "lorenz": (3, 3), "sineclass": (1, 4)}


@pytest.mark.parametrize("name", sorted(TASKS))
def test_task_shapes_and_values(name: str) -> None:
    data = make_task(name, samples=6, seq_len=9, seed=3)
    inputs, outputs = SIZES[name]
    assert data.x.shape == (6, 9, inputs) and data.x.dtype == np.float64
    assert np.all(np.isfinite(data.x))
    assert len(data.input_names) == inputs and len(data.output_names) == outputs
    if data.kind == "classification":
        assert data.y.shape == (6,) and data.y.dtype == np.int64
        assert data.y.min() >= 0 and data.y.max() < outputs
    else:
        assert data.y.shape == (6, 9, outputs) and np.all(np.isfinite(data.y))
    assert data.elapsed().shape == (6, 9) and np.all(data.elapsed() > 0)
    assert data.nominal_dt > 0


@pytest.mark.parametrize("name", sorted(TASKS))
def test_task_is_deterministic(name: str) -> None:
    first, again, other = (make_task(name, 5, 7, seed) for seed in (1, 1, 2))
    np.testing.assert_array_equal(first.x, again.x)
    np.testing.assert_array_equal(first.y, again.y)
    assert not np.array_equal(first.x, other.x)


def test_task_defaults_and_irregular_pendulum() -> None:
    data = make_task("pendulum", seed=0)
    assert (data.samples, data.seq_len) == (TASKS["pendulum"].samples, TASKS["pendulum"].seq_len)
    assert data.dt is not None and data.dt.min() >= 0.5 and data.dt.max() <= 1.5
    # The pendulum is a state estimation problem: the angle stays near the noisy measurement.
    assert np.std(data.x[:, :, 1] - data.y[:, :, 0]) == pytest.approx(0.05, rel=0.1)


def test_lorenz_targets_are_the_next_inputs() -> None:
    data = make_task("lorenz", samples=3, seq_len=10, seed=0)
    np.testing.assert_array_equal(data.x[:, 1:], data.y[:, :-1])
    # On the attractor: |x|, |y| < 30 and 0 < z < 55, whatever the random start.
    assert np.abs(data.x[..., :2]).max() < 30 and data.x[..., 2].min() > 0 and data.x[..., 2].max() < 55


def test_sineclass_classes_are_balanced_enough() -> None:
    data = make_task("sineclass", samples=400, seq_len=8, seed=0)
    counts = np.bincount(data.y, minlength=4)
    assert counts.min() > 60


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "nope"}, "unknown task 'nope'"),
        ({"name": "sines", "samples": 1}, "--samples is 1"),
        ({"name": "sines", "seq_len": 0}, "--seq-len is 0"),
    ],
)
def test_task_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(LnnEdgeError, match=message):
        make_task(**kwargs)


# --------------------------------------------------------------------------------------------------------
# npz


def _npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return path


def test_npz_regression_with_dt_and_names(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    path = _npz(
        tmp_path / "d.npz",
        x=rng.normal(size=(4, 5, 2)).astype(np.float32),
        y=rng.normal(size=(4, 5, 1)),
        dt=np.full((4, 5), 0.5),
        input_names=np.array(["a", "b"]),
        output_names=np.array(["out"]),
    )
    data = load_data(path)
    assert data.kind == "regression" and data.x.dtype == np.float64
    assert data.input_names == ["a", "b"] and data.output_names == ["out"]
    assert data.nominal_dt == 0.5 and data.dt is not None


def test_npz_classification(tmp_path: Path) -> None:
    path = _npz(tmp_path / "c.npz", x=np.zeros((6, 3, 1)), y=np.array([0, 1, 2, 0, 1, 2]))
    data = load_data(path, dt=0.25)
    assert data.kind == "classification" and data.output_names == ["class0", "class1", "class2"]
    assert data.dt is None and data.nominal_dt == 0.25


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"y": np.zeros((2, 3, 1))}, "has no array 'x'"),
        (
            {"x": np.zeros((2, 3)), "y": np.zeros((2, 3, 1))},
            "array 'x' .* has shape \\(2, 3\\); expected \\[N, T, F\\]",
        ),
        ({"x": np.zeros((2, 3, 1)), "y": np.zeros((2, 4, 1))}, "array 'y' .* has shape \\(2, 4, 1\\)"),
        ({"x": np.full((2, 3, 1), np.nan), "y": np.zeros((2, 3, 1))}, "array 'x' .* contains NaN"),
        ({"x": np.zeros((2, 3, 1)), "y": np.zeros((2, 3, 1)), "dt": np.zeros((2, 3))}, "array 'dt' .* <= 0"),
        ({"x": np.zeros((2, 3, 1)), "y": np.zeros((2, 3, 1)), "dt": np.ones((3, 2))}, "array 'dt' .* shape"),
        ({"x": np.zeros((2, 3, 1)), "y": np.array([0, -1])}, "negative class labels"),
        ({"x": np.zeros((2, 3, 1)), "y": np.array([0, 0])}, "fewer than 2 classes"),
        ({"x": np.array([["a"]]), "y": np.zeros((1, 1, 1))}, "array 'x' .* dtype"),
    ],
)
def test_npz_errors_name_file_and_field(tmp_path: Path, arrays: dict, message: str) -> None:
    path = _npz(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataFileError, match=message) as caught:
        load_data(path)
    assert "bad.npz" in str(caught.value) and "\n" not in str(caught.value)


def test_unreadable_and_missing_files(tmp_path: Path) -> None:
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(DataFileError, match=r"junk\.npz' is not a readable \.npz"):
        load_data(junk)
    with pytest.raises(DataFileError, match="does not exist"):
        load_data(tmp_path / "missing.npz")
    other = tmp_path / "data.txt"
    other.write_text("1")
    with pytest.raises(DataFileError, match=r"must end in \.npz or \.csv"):
        load_data(other)


# --------------------------------------------------------------------------------------------------------
# csv


def _csv(path: Path, header: str, rows: list[list[float]]) -> Path:
    path.write_text(header + "\n" + "\n".join(",".join(str(v) for v in row) for row in rows) + "\n")
    return path


def test_csv_windows_inputs_targets_and_dt(tmp_path: Path) -> None:
    rows = [[i, 10 * i, 0.5, -i] for i in range(23)]
    path = _csv(tmp_path / "log.csv", "a,b,dt,target", rows)
    data = load_data(path, target_columns=["target"], dt_column="dt", seq_len=5)
    assert data.x.shape == (4, 5, 2) and data.y.shape == (4, 5, 1)  # 3 rows dropped
    assert data.input_names == ["a", "b"] and data.output_names == ["target"]
    np.testing.assert_array_equal(data.x[1, :, 0], [5, 6, 7, 8, 9])
    np.testing.assert_array_equal(data.y[1, :, 0], [-5, -6, -7, -8, -9])
    assert data.dt is not None and np.all(data.dt == 0.5) and data.nominal_dt == 0.5


@pytest.mark.slow
@given(rows=st.integers(10, 60), seq_len=st.integers(1, 5))
def test_csv_windowing_preserves_row_order(tmp_path_factory: pytest.TempPathFactory, rows: int, seq_len: int) -> None:
    path = _csv(tmp_path_factory.mktemp("csv") / "s.csv", "t,y", [[i, i + 0.5] for i in range(rows)])
    data = load_csv(path, target_columns=["y"], seq_len=seq_len)
    windows = rows // seq_len
    assert data.x.shape == (windows, seq_len, 1)
    np.testing.assert_array_equal(data.x.reshape(-1), np.arange(windows * seq_len))
    np.testing.assert_array_equal(data.y.reshape(-1), np.arange(windows * seq_len) + 0.5)


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        ("a,b\n1,2\n", {}, "name its target columns with --target-columns"),
        ("a,b\n1,2\n3,4\n", {"target_columns": ["c"]}, "has no column 'c'"),
        ("a,b\n1,2\n3,x\n", {"target_columns": ["b"]}, "line 3, column 'b': 'x' is not a number$"),
        ("a,b\n1,2\n3,\n", {"target_columns": ["b"]}, r"line 3, column 'b': '' is not a number \(an empty field"),
        ("a;b\n1;2\n3;4\n", {"target_columns": ["b"]}, "'1;2' is not a number .*looks ';'- or tab-separated"),
        ("a,b\n1,2\n3\n", {"target_columns": ["b"]}, "line 3 has 1 fields; expected 2"),
        ("a,b\n1,2\nnan,4\n", {"target_columns": ["b"]}, "line 3 holds NaN"),
        ("a,b\n1,2\n3,4\n", {"target_columns": ["b"], "seq_len": 2}, "fewer than 2 windows"),
        ("b\n1\n2\n", {"target_columns": ["b"]}, "no input columns"),
        ("a,b,c\n1,2,3\n", {"target_columns": ["c", "c"]}, "--target-columns names 'c' more than once"),
        ("a,b,c\n1,2,3\n", {"target_columns": ["c"], "input_columns": ["a", "a"]}, "names 'a' more than once"),
        ("a,b,c\n1,2,3\n", {"target_columns": ["c"], "input_columns": ["a", "c"]}, "'c', which is also a target"),
        ("", {"target_columns": ["b"]}, "is empty"),
        ("t,b\n2024-05-01 12:00:00,2\n", {"target_columns": ["b"]}, r"a date or clock time: .*--time-column"),
        ("t,b\n12:00:03.5,2\n", {"target_columns": ["b"]}, r"a date or clock time"),
        ("t,a,b\n" + "".join(f"{i},1,{i}\n" for i in range(8)), {"target_columns": ["b"], "dt_column": "t"},
         r"column 't' .* increases at every row \(0 to 7\): those are time stamps, not elapsed times; pass "
         r"--time-column t instead"),
        ("t,a,b\n0,1,1\n1,1,2\n1,1,3\n", {"target_columns": ["b"], "time_column": "t"},
         r"column 't' .* does not increase at line 4 \(1 after 1\)"),
        ("t,d,b\n0,1,1\n1,1,2\n", {"target_columns": ["b"], "time_column": "t", "dt_column": "d"}, "not both"),
        ("t,a,b\n0,1,1\n1,1,2\n", {"target_columns": ["b"], "time_column": "t", "input_columns": ["a", "t"]},
         "'t', which is also a target or the --dt-column / --time-column"),
        ("t,b\n0,1\n1,2\n", {"target_columns": ["b"], "time_column": "x"}, "has no column 'x'"),
    ],
)  # fmt: skip
def test_csv_errors(tmp_path: Path, text: str, kwargs: dict, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataFileError, match=message) as caught:
        load_data(path, **{"seq_len": 1, **kwargs})
    assert "bad.csv" in str(caught.value)


def test_csv_time_column_gives_the_elapsed_times_between_rows(tmp_path: Path) -> None:
    """Time stamps at an irregular rate: each row's elapsed time is the difference from the row before, across
    window boundaries; the first row, with none before it, gets the median. The time column is no input."""
    times = np.cumsum(np.where(np.arange(12) % 3 == 0, 0.75, 0.25)) + 1000.0  # a clock that does not start at 0
    rows = [[t, i, 2 * i] for i, t in enumerate(times)]
    data = load_data(_csv(tmp_path / "log.csv", "t,a,target", rows), target_columns=["target"], time_column="t",
                     seq_len=4)  # fmt: skip
    expected = np.concatenate([[np.median(np.diff(times))], np.diff(times)]).reshape(3, 4)
    assert data.dt is not None and np.array_equal(data.dt, expected)
    assert data.dt[1, 0] == times[4] - times[3]  # a window's first row: the difference from the window before
    assert data.input_names == ["a"] and data.nominal_dt == float(np.median(expected))


def test_inputs_that_only_grow_are_warned_about(tmp_path: Path) -> None:
    """A time stamp left among the inputs (no --time-column) is named, with the fix; a sensor that goes up
    and down is not, nor are short sequences."""
    from lnn_edge.train.trainer import clock_like_inputs

    rows = [[0.01 * i, np.sin(i), np.cos(i)] for i in range(40)]
    data = load_data(_csv(tmp_path / "log.csv", "time,acc,target", rows), target_columns=["target"], seq_len=8)
    assert data.input_names == ["time", "acc"]
    (warning,) = clock_like_inputs(data)
    assert (
        warning.startswith("input 'time' increases at every step of every sequence") and "--time-column time" in warning
    )
    assert clock_like_inputs(load_data(tmp_path / "log.csv", target_columns=["target"], seq_len=4)) == []
    timed = load_data(tmp_path / "log.csv", target_columns=["target"], time_column="time", seq_len=8)
    assert timed.input_names == ["acc"] and clock_like_inputs(timed) == []


def test_csv_with_a_byte_order_mark_keeps_its_first_column_name(tmp_path: Path) -> None:
    """Excel's "CSV UTF-8" starts with a BOM, which must not become part of the first column's name."""
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufefftime,b\n0,1\n1,2\n2,3\n".encode())
    data = load_data(path, target_columns=["b"], input_columns=["time"], seq_len=1)
    assert data.input_names == ["time"]

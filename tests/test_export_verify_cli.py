"""`lnn-edge export` and host `lnn-edge verify` through the command line: files, JSON, failures, atomicity."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from ncps import wirings
from ncps.torch import LTC, CfC
from support.cli import invoke

import lnn_edge
from lnn_edge.codegen.export import export
from lnn_edge.model.importers import from_module
from lnn_edge.model.model import Calibration


@pytest.fixture
def state_dicts(tmp_path: Path) -> dict[str, Path]:
    torch.manual_seed(0)
    paths = {"ltc": tmp_path / "ltc.pt", "cfc": tmp_path / "cfc.pt"}
    torch.save(LTC(6, wirings.AutoNCP(10, 2)).state_dict(), paths["ltc"])
    torch.save(CfC(6, wirings.AutoNCP(10, 2), mode="no_gate").state_dict(), paths["cfc"])
    np.savez(tmp_path / "calib.npz", x=np.random.default_rng(0).normal(size=(4, 40, 6)))
    return paths


@pytest.mark.slow
@pytest.mark.parametrize("cell", ["ltc", "cfc"])
@pytest.mark.parametrize("precision", ["float32", "fixed16", "fixed32"])
def test_export_then_verify_from_a_relative_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, state_dicts: dict[str, Path], cell: str, precision: str
) -> None:
    monkeypatch.chdir(tmp_path)
    extra = ["--mode", "no_gate"] if cell == "cfc" else []
    code, out, err = invoke(
        "export", state_dicts[cell].name, "-o", "out", "--precision", precision, "--name", "net", "--calib",
        "calib.npz", *extra,
    )  # fmt: skip
    assert code == 0, err
    files = {p.name for p in Path("out").iterdir()}
    assert {
        "net.h",
        "net.c",
        "lnn",
        "example_main.c",
        "model.lnn",
        "quantization.json",
        "manifest.json",
    } <= files
    manifest = json.loads(Path("out/manifest.json").read_text())
    assert manifest["precision"] == precision and manifest["model_hash"] in Path("out/net.h").read_text()
    code, out, err = invoke("verify", "out", "--json", "--steps", "60")
    assert code == 0, err
    report = json.loads(out)
    assert report["passed"] is True and report["bit_exact"] is True and report["steps"] == 60
    assert isinstance(report["max_abs_err"], float)


@pytest.mark.slow
def test_verify_fails_with_exit_1_when_the_threshold_is_missed(tmp_path: Path, state_dicts: dict[str, Path]) -> None:
    invoke("export", str(state_dicts["ltc"]), "-o", str(tmp_path / "out"), "--precision", "fixed16", "--calib",
           str(tmp_path / "calib.npz"))  # fmt: skip
    code, out, _ = invoke("verify", str(tmp_path / "out"), "--threshold", "1e-9", "--json")
    assert code == 1
    report = json.loads(out)
    assert report["bit_exact"] is True and report["passed"] is False


def test_verify_refuses_edited_sources(tmp_path: Path, state_dicts: dict[str, Path]) -> None:
    invoke("export", str(state_dicts["ltc"]), "-o", str(tmp_path / "out"), "--precision", "float32", "--name", "m")
    source = tmp_path / "out" / "m.c"
    source.write_text(source.read_text() + "/* edited */\n")
    code, _, err = invoke("verify", str(tmp_path / "out"))
    assert code == 1 and "differs from the export manifest" in err and "m.c" in err


@pytest.mark.slow
def test_verify_writes_a_plot(tmp_path: Path, state_dicts: dict[str, Path]) -> None:
    invoke(
        "export", str(state_dicts["cfc"]), "-o", str(tmp_path / "out"), "--precision", "float32", "--mode", "no_gate"
    )
    code, _, err = invoke("verify", str(tmp_path / "out"), "--plot", str(tmp_path / "v.png"), "--steps", "20")
    assert code == 0, err
    assert (tmp_path / "v.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_failed_export_leaves_no_folder(tmp_path: Path, state_dicts: dict[str, Path]) -> None:
    code, _, err = invoke("export", str(state_dicts["ltc"]), "-o", str(tmp_path / "out"), "--precision", "fixed16")
    assert code == 1 and "calibration data" in err  # a bare state_dict has no calibration sample
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []
    code, _, err = invoke("export", str(state_dicts["ltc"]), "-o", str(tmp_path / "out"), "--name", "9bad")
    assert code == 1 and "not a usable C prefix" in err and not (tmp_path / "out").exists()
    # names the runtime and firmware use (their headers and symbols would collide), and C keywords
    for name, says in (("lnn", "clashes with lnn-edge's own"), ("lnn_status", "clashes"), ("lnn_fw", "clashes"),
                       ("int", "keyword")):  # fmt: skip
        code, _, err = invoke("export", str(state_dicts["ltc"]), "-o", str(tmp_path / "out"), "--name", name)
        assert code == 1 and says in err and not (tmp_path / "out").exists(), err


def test_export_replaces_an_existing_export_atomically(tmp_path: Path, state_dicts: dict[str, Path]) -> None:
    out = tmp_path / "out"
    assert invoke("export", str(state_dicts["ltc"]), "-o", str(out), "--precision", "float32")[0] == 0
    first = json.loads((out / "manifest.json").read_text())["model_hash"]
    assert (
        invoke("export", str(state_dicts["cfc"]), "-o", str(out), "--precision", "float32", "--mode", "no_gate")[0] == 0
    )
    second = json.loads((out / "manifest.json").read_text())
    assert second["model_hash"] != first and second["cell"] == "wired_cfc"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["float32", "fixed16", "fixed32"])
def test_run_export_with_c_and_emulator_backends_gives_the_same_bits(
    tmp_path: Path, state_dicts: dict[str, Path], precision: str
) -> None:
    out = tmp_path / "out"
    invoke(
        "export",
        str(state_dicts["ltc"]),
        "-o",
        str(out),
        "--precision",
        precision,
        "--calib",
        str(tmp_path / "calib.npz"),
    )
    x = np.random.default_rng(5).normal(size=(2, 25, 6))
    np.savez(tmp_path / "in.npz", x=x, dt=np.random.default_rng(6).uniform(0.5, 1.5, size=(2, 25)))
    results = {}
    for backend in ("c", "emulator", "reference"):
        code, _, err = invoke("run", str(out), "--data", str(tmp_path / "in.npz"), "-o", str(tmp_path / f"{backend}.npz"),
                              "--backend", backend)  # fmt: skip
        assert code == 0, err
        with np.load(tmp_path / f"{backend}.npz") as data:
            results[backend] = {name: data[name] for name in data.files}
    assert results["c"].keys() == results["emulator"].keys()
    for name in results["c"]:
        assert np.array_equal(results["c"][name], results["emulator"][name]), name
    assert results["c"]["y"].shape == results["reference"]["y"].shape == (2, 25, 2)


def test_run_backend_c_needs_an_export(tmp_path: Path, state_dicts: dict[str, Path]) -> None:
    invoke("import", str(state_dicts["ltc"]), "-o", str(tmp_path / "m.lnn"))
    np.savez(tmp_path / "in.npz", x=np.zeros((5, 6)))
    code, _, err = invoke("run", str(tmp_path / "m.lnn"), "--data", str(tmp_path / "in.npz"), "-o", str(tmp_path / "o.npz"),
                          "--backend", "c")  # fmt: skip
    assert code == 1 and "export" in err


def test_lnn_is_the_same_for_every_model(tmp_path: Path) -> None:
    """DIR/lnn/ is the runtime library byte for byte, whatever the model: vendor it once for many models."""
    folders = []
    for seed, units in ((0, 6), (1, 11)):
        torch.manual_seed(seed)
        model = from_module(LTC(3, wirings.AutoNCP(units, 2)))
        rng = np.random.default_rng(seed)
        model.calibration = Calibration(x=rng.normal(size=(2, 20, 3)), dt=rng.uniform(0.5, 1.5, size=(2, 20)))
        for precision in ("float32", "fixed16", "fixed32"):
            folders.append(export(model, tmp_path / f"{seed}-{precision}", precision, name=f"m{seed}").directory)
    runtime = Path(lnn_edge.__file__).parent / "runtime"
    expected = {f"lnn/{p.name}": p.read_bytes() for p in sorted(runtime.glob("*.h"))}
    assert "lnn/lnn_status.h" in expected
    for folder in folders:
        found = {f"lnn/{p.name}": p.read_bytes() for p in sorted((folder / "lnn").iterdir())}
        assert found == expected


def test_build_and_flash_warn_about_an_export_that_failed_its_verdict(
    tmp_path: Path, state_dicts: dict[str, Path]
) -> None:
    """A failed export is written for inspection and may be built, but never without saying that it failed."""
    out = tmp_path / "out"
    calib = str(tmp_path / "calib.npz")
    code, _, err = invoke("export", str(state_dicts["ltc"]), "-o", str(out), "--precision", "fixed16", "--calib",
                          calib, "--max-error", "1e-9")  # fmt: skip
    assert code == 1 and "fails its verdict" in err
    code, _, err = invoke("build", str(out), "--board", "qemu-mps2-an385")
    assert code == 0 and f"warning: {out} failed its quantization verdict" in err, err
    code, _, err = invoke("flash", str(out), "--board", "qemu-mps2-an385", "--dry-run")
    assert code == 0 and "failed its quantization verdict" in err, err
    code, _, err = invoke("export", str(state_dicts["ltc"]), "-o", str(out), "--precision", "fixed16", "--calib",
                          calib)  # fmt: skip
    assert code == 0, err
    code, _, err = invoke("build", str(out), "--board", "qemu-mps2-an385")
    assert code == 0 and "verdict" not in err, err

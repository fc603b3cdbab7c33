"""The .lnn file: round trips exactly, and every malformed file fails with one sentence naming the field."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from ncps import wirings
from ncps.torch import LTC, CfC

from lnn_edge.errors import ModelFileError
from lnn_edge.model.importers import from_module
from lnn_edge.model.model import Calibration, Model, validate
from lnn_edge.model.modelfile import content_hash, load, save


def _models() -> dict[str, Model]:
    torch.manual_seed(0)
    return {
        "ltc_autoncp": from_module(LTC(6, wirings.AutoNCP(10, 2))),
        "ltc_fc_raw": from_module(LTC(3, 5, implicit_param_constraints=False, input_mapping="linear")),
        "cfc_dense": from_module(CfC(4, 8, proj_size=2, backbone_layers=2, backbone_units=6, activation="silu")),
        "cfc_pure": from_module(CfC(4, 8, mode="pure")),
        "cfc_wired": from_module(CfC(5, wirings.NCP(4, 3, 2, 2, 2, 1, 2), mode="no_gate")),
    }


@pytest.mark.parametrize("name", list(_models()))
def test_round_trip_is_exact(tmp_path: Path, name: str) -> None:
    model = _models()[name]
    model.calibration = Calibration(x=np.random.default_rng(0).normal(size=(2, 5, model.input_size)))
    path = tmp_path / f"{name}.lnn"
    digest = save(model, path)
    loaded = load(path)
    assert digest == content_hash(loaded) == content_hash(model)
    assert loaded.arrays.keys() == model.arrays.keys()
    for key, array in model.arrays.items():
        assert np.array_equal(loaded.arrays[key], array), key
        assert loaded.arrays[key].dtype == np.float64
    assert loaded.ltc == model.ltc and loaded.cfc == model.cfc and loaded.wiring == model.wiring
    assert loaded.calibration is not None and np.array_equal(loaded.calibration.x, model.calibration.x)
    assert (loaded.cell, loaded.input_size, loaded.output_size, loaded.state_size) == (
        model.cell,
        model.input_size,
        model.output_size,
        model.state_size,
    )


def test_hash_changes_with_any_parameter() -> None:
    model = _models()["ltc_autoncp"]
    before = content_hash(model)
    model.arrays["vleak"][3] += 1e-15 * max(1.0, abs(model.arrays["vleak"][3]))
    assert content_hash(model) != before


def test_loads_without_torch(tmp_path: Path) -> None:
    """The model file needs NumPy only: load it in a fresh interpreter where importing torch fails."""
    import subprocess
    import sys

    path = tmp_path / "m.lnn"
    save(_models()["cfc_wired"], path)
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from lnn_edge.model.modelfile import load\nfrom lnn_edge.reference import Reference\nimport numpy as np\n"
        f"m = load({str(path)!r}); y, s = Reference(m).run(np.zeros((1, 3, m.input_size)))\nprint(y.shape)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "(1, 3, 2)"


def _rewrite(src: Path, dst: Path, edit_manifest=None, edit_arrays=None, drop: str | None = None) -> None:  # type: ignore[no-untyped-def]
    with zipfile.ZipFile(src) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(members["manifest.json"])
    if edit_manifest:
        edit_manifest(manifest)
    members["manifest.json"] = json.dumps(manifest).encode()
    if edit_arrays:
        edit_arrays(members)
    if drop:
        del members[drop]
    with zipfile.ZipFile(dst, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _npy(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.fixture
def good_file(tmp_path: Path) -> Path:
    path = tmp_path / "good.lnn"
    save(_models()["ltc_autoncp"], path)
    return path


def _set(key: str, value: object):  # type: ignore[no-untyped-def]
    def edit(manifest: dict) -> None:
        target = manifest
        *parents, last = key.split(".")
        for parent in parents:
            target = target[parent]
        target[last] = value

    return edit


def _array(name: str, value: np.ndarray):  # type: ignore[no-untyped-def]
    def edit(members: dict) -> None:
        members[f"arrays/{name}.npy"] = _npy(value)

    return edit


BAD_MANIFESTS = {
    "format": (_set("format", "something-else"), "format"),
    "schema": (_set("schema_version", 99), "schema_version"),
    "cell": (_set("cell", "lstm"), "cell"),
    "unfolds": (_set("ltc.ode_unfolds", 0), "ltc.ode_unfolds"),
    "epsilon": (_set("ltc.epsilon", -1.0), "ltc.epsilon"),
    "mapping": (_set("ltc.input_mapping", "quadratic"), "ltc.input_mapping"),
    "dt": (_set("dt", -0.5), "dt"),
    "unknown_field": (_set("ltc.solver_magic", 3), "unknown or malformed field"),
    "missing_field": (lambda m: m.pop("state_size"), "state_size"),
    "names": (_set("input_names", ["a"]), "input_names"),
    "outputs_too_many": (_set("output_size", 50), "output_size"),
}


@pytest.mark.parametrize("case", list(BAD_MANIFESTS))
def test_bad_manifest_names_the_field(tmp_path: Path, good_file: Path, case: str) -> None:
    edit, field = BAD_MANIFESTS[case]
    bad = tmp_path / "bad.lnn"
    _rewrite(good_file, bad, edit_manifest=edit)
    with pytest.raises(ModelFileError) as error:
        load(bad)
    message = str(error.value)
    assert str(bad) in message and field in message
    assert "\n" not in message


BAD_ARRAYS = {
    "nan": (_array("gleak", np.full(10, np.nan)), "'gleak' contains NaN"),
    "inf": (_array("sigma", np.full((10, 10), np.inf)), "'sigma' contains NaN or Inf"),
    "shape": (_array("erev", np.zeros((10, 9))), "'erev' has shape (10, 9)"),
    "dtype": (_array("cm", np.zeros(10, dtype=np.float32)), "dtype float32"),
    "mask": (_array("sparsity_mask", np.full((10, 10), 0.5)), "'sparsity_mask' is a mask"),
    "object": (
        lambda members: members.__setitem__("arrays/vleak.npy", b"\x93NUMPY garbage"),
        "vleak.npy is corrupt",
    ),
}


@pytest.mark.parametrize("case", list(BAD_ARRAYS))
def test_bad_array_names_the_array(tmp_path: Path, good_file: Path, case: str) -> None:
    edit, expected = BAD_ARRAYS[case]
    bad = tmp_path / "bad.lnn"
    _rewrite(good_file, bad, edit_arrays=edit)
    with pytest.raises(ModelFileError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        load(bad)


def test_unknown_array_and_missing_array(tmp_path: Path, good_file: Path) -> None:
    def add(manifest: dict) -> None:
        manifest["arrays"]["bogus"] = {"shape": [1], "dtype": "float64"}

    bad = tmp_path / "unknown.lnn"
    _rewrite(good_file, bad, edit_manifest=add, edit_arrays=_array("bogus", np.zeros(1)))
    with pytest.raises(ModelFileError, match="array 'bogus' is not part of"):
        load(bad)
    missing = tmp_path / "missing.lnn"
    _rewrite(good_file, missing, drop="arrays/mu.npy")
    with pytest.raises(ModelFileError, match="arrays/mu.npy is listed in the manifest but missing"):
        load(missing)


def test_tampered_values_fail_the_hash(tmp_path: Path, good_file: Path) -> None:
    model = load(good_file)
    bad = tmp_path / "tampered.lnn"
    _rewrite(good_file, bad, edit_arrays=_array("vleak", model.arrays["vleak"] + 1.0))
    with pytest.raises(ModelFileError, match="content hash mismatch"):
        load(bad)


def test_truncated_and_foreign_files(tmp_path: Path, good_file: Path) -> None:
    data = good_file.read_bytes()
    truncated = tmp_path / "truncated.lnn"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="truncated or corrupt"):
        load(truncated)
    text = tmp_path / "text.lnn"
    text.write_text("hello")
    with pytest.raises(ModelFileError, match="not an lnn-edge model file"):
        load(text)
    with pytest.raises(ModelFileError, match="no such file"):
        load(tmp_path / "absent.lnn")


def test_raw_parameters_must_be_positive_without_constraints() -> None:
    model = _models()["ltc_fc_raw"]
    model.arrays["w"][0, 0] = -0.5
    with pytest.raises(ModelFileError, match="'w' has negative entries.*apply_weight_constraints"):
        validate(model)


def test_save_is_atomic(tmp_path: Path, good_file: Path) -> None:
    """A model that fails validation writes nothing and leaves an existing file untouched."""
    before = good_file.read_bytes()
    model = _models()["ltc_autoncp"]
    model.arrays["gleak"][0] = np.nan
    with pytest.raises(ModelFileError):
        save(model, good_file)
    assert good_file.read_bytes() == before
    assert sorted(p.name for p in good_file.parent.iterdir()) == ["good.lnn"]

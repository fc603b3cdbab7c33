"""Files from users are validated and bounded (issue 13): a hostile .lnn, quantized section, export manifest,
checkpoint or input .npz gets one LnnEdgeError naming the file and the limit, never a traceback, minutes of work
or gigabytes of memory. Huge sizes are only *declared* (zip headers, .npy headers): nothing here allocates them."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from ncps import wirings
from ncps.torch import LTC, CfC
from support.file_strategies import (
    ARRAY_EDITS,
    DEEP,
    HUGE_INT,
    declare_size,
    dumps,
    edited_array,
    mutated,
    npy,
    npy_header_only,
    read_members,
    write_members,
)

from lnn_edge.cli import cli
from lnn_edge.codegen.export import export, load_export
from lnn_edge.errors import DataFileError, ImportModelError, LnnEdgeError, ModelFileError
from lnn_edge.model import limits
from lnn_edge.model.datafile import load_inputs
from lnn_edge.model.importers import from_module, load_torch_file
from lnn_edge.model.model import Calibration, Model
from lnn_edge.model.modelfile import content_hash, load, save
from lnn_edge.quant.qmodel import QuantizedModel
from lnn_edge.quant.qmodelfile import load_any, save_quantized
from lnn_edge.quant.quantize import quantize


def _ltc() -> Model:
    torch.manual_seed(0)
    model = from_module(LTC(3, wirings.AutoNCP(8, 2)))
    model.calibration = Calibration(x=np.random.default_rng(0).normal(size=(2, 6, 3)))
    return model


def _cfc() -> Model:
    torch.manual_seed(1)
    model = from_module(CfC(3, 6, proj_size=2, backbone_layers=1, backbone_units=5))
    model.calibration = Calibration(x=np.random.default_rng(1).normal(size=(2, 6, 3)))
    return model


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Valid files of every format, written once per module."""
    root = tmp_path_factory.mktemp("valid")
    ltc = _ltc()
    save(ltc, root / "ltc.lnn")
    save(_cfc(), root / "cfc.lnn")
    save_quantized(quantize(ltc, "fixed16"), root / "ltc16.lnn")
    export(ltc, root / "export", "fixed16", name="net")
    np.savez(root / "inputs.npz", x=np.zeros((2, 4, 3)))
    return {
        "ltc": root / "ltc.lnn",
        "cfc": root / "cfc.lnn",
        "ltc16": root / "ltc16.lnn",
        "export": root / "export",
        "inputs": root / "inputs.npz",
        "checkpoint": _checkpoint(root / "ckpt.pt"),
    }


def _checkpoint(path: Path) -> Path:
    """A trainer checkpoint in the trainer's format (lnn_edge.train.trainer.make_checkpoint), small and real."""
    torch.manual_seed(2)
    module = LTC(3, wirings.AutoNCP(8, 2))
    payload = {
        "format": "lnn-edge-checkpoint",
        "version": 1,
        "state_dict": {key: value.detach().clone() for key, value in module.state_dict().items()},
        "import_options": {
            "implicit_constraints": True, "ode_unfolds": 6, "epsilon": 1e-8, "mode": "default",
            "activation": "lecun_tanh", "output_size": 2,
        },
        "wiring": {"kind": "autoncp", "config": {"units": 8}, "roles": {"motor": [0, 1]}},
        "normalization": {"x_mean": [0.0] * 3, "x_std": [1.0] * 3, "y_mean": [0.0] * 2, "y_std": [1.0] * 2},
        "input_names": ["a", "b", "c"],
        "output_names": ["p", "q"],
        "dt": 0.1,
        "task": {"name": "t"},
        "calibration_x": torch.zeros(2, 5, 3, dtype=torch.float64),
        "calibration_dt": None,
        "config": {"seed": 0},
    }  # fmt: skip
    torch.save(payload, path)
    return path


def _edit_manifest(src: Path, dst: Path, edit: Any, member: str = "manifest.json") -> Path:
    members = read_members(src)
    document = json.loads(members[member])
    edit(document)
    members[member] = dumps(document)
    write_members(dst, members)
    return dst


def _set(path: str, value: Any) -> Any:
    def edit(document: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for key in parents:
            document = document[key]
        document[last] = value

    return edit


def _message(error: pytest.ExceptionInfo[LnnEdgeError]) -> str:
    text = str(error.value)
    assert "\n" not in text
    return text


# --- ode_unfolds and the other sizes a file declares are bounded --------------------------------------------


def _slow_model(src: Path, dst: Path) -> Path:
    """The model at ``src`` with 100,000 unfolds and a content hash recomputed to match (it is only SHA-256)."""
    model = load(src)
    assert model.ltc is not None
    model.ltc.ode_unfolds = 100_000
    forged = content_hash(model)

    def edit(manifest: dict[str, Any]) -> None:
        manifest["ltc"]["ode_unfolds"] = 100_000
        manifest["content_hash"] = forged

    return _edit_manifest(src, dst, edit)


def test_huge_ode_unfolds_is_refused_at_once(tmp_path: Path, files: dict[str, Path]) -> None:
    bad = _slow_model(files["ltc"], tmp_path / "slow.lnn")
    started = time.monotonic()
    with pytest.raises(ModelFileError) as error:
        load(bad)
    assert time.monotonic() - started < 5
    assert "ltc.ode_unfolds" in _message(error) and str(limits.MAX_ODE_UNFOLDS) in _message(error)
    assert str(bad) in _message(error)


def test_the_limit_itself_is_accepted(tmp_path: Path) -> None:
    model = _ltc()
    assert model.ltc is not None
    model.ltc.ode_unfolds = limits.MAX_ODE_UNFOLDS
    save(model, tmp_path / "m.lnn")
    assert load(tmp_path / "m.lnn").ltc.ode_unfolds == limits.MAX_ODE_UNFOLDS  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("state_size", limits.MAX_NEURONS + 1),
        ("cfc.backbone_units", limits.MAX_BACKBONE_UNITS + 1),
        ("cfc.backbone_layers", limits.MAX_BACKBONE_LAYERS + 1),
        ("cfc.layer_sizes", [1] * (limits.MAX_LAYERS + 1)),
    ],
)
def test_declared_sizes_beyond_the_limits_are_refused(
    tmp_path: Path, files: dict[str, Path], field: str, value: Any
) -> None:
    bad = _edit_manifest(files["cfc"], tmp_path / "big.lnn", _set(field, value))
    with pytest.raises(ModelFileError) as error:
        load(bad)
    assert field in _message(error)


def test_checkpoint_and_import_flag_unfolds_are_bounded(tmp_path: Path, files: dict[str, Path]) -> None:
    payload = torch.load(files["checkpoint"], weights_only=True)
    payload["import_options"]["ode_unfolds"] = 100_000
    torch.save(payload, tmp_path / "slow.pt")
    with pytest.raises(ImportModelError, match="ode_unfolds"):
        load_torch_file(tmp_path / "slow.pt")
    torch.save(payload["state_dict"], tmp_path / "sd.pt")
    with pytest.raises(LnnEdgeError, match=f"ode_unfolds.*{limits.MAX_ODE_UNFOLDS}"):
        load_torch_file(tmp_path / "sd.pt", ode_unfolds=100_000)


def test_quantized_unfolds_must_be_the_models(tmp_path: Path, files: dict[str, Path]) -> None:
    bad = _requantized(files["ltc16"], tmp_path / "q.lnn", lambda q: q["constants"].__setitem__("unfolds", 100_000))
    with pytest.raises(ModelFileError, match="'unfolds' is 100000; this model needs 6"):
        load_any(bad)


def test_quantized_layout_records_are_checked(tmp_path: Path, files: dict[str, Path]) -> None:
    """source_bits follows from the model's sizes; a layout flag may take the other value (the file keeps the C it
    was quantized for) but nothing else."""
    bad = _requantized(files["ltc16"], tmp_path / "q.lnn", lambda q: q["constants"].__setitem__("source_bits", 40))
    with pytest.raises(ModelFileError, match="'source_bits' is 40; this model needs 8"):
        load_any(bad)
    torch.manual_seed(2)
    wired = from_module(CfC(3, wirings.AutoNCP(8, 2)))
    wired.calibration = Calibration(x=np.random.default_rng(2).normal(size=(2, 6, 3)))
    save_quantized(quantize(wired, "fixed16"), tmp_path / "wired.lnn")
    flipped = _requantized(
        tmp_path / "wired.lnn",
        tmp_path / "flipped.lnn",
        lambda q: q["constants"].update(ff_dense_0=1 - q["constants"]["ff_dense_0"]),
    )
    assert isinstance(load_any(flipped), QuantizedModel)
    bad = _requantized(
        tmp_path / "wired.lnn", tmp_path / "bad.lnn", lambda q: q["constants"].__setitem__("ff_dense_0", 2)
    )
    with pytest.raises(ModelFileError, match="layout flag 'ff_dense_0' is 2; expected 0 or 1"):
        load_any(bad)


# --- memory is bounded by the limits, not by what a file declares ------------------------------------------


def _peak_rss_mb(code: str) -> float:
    """Peak resident memory (MB) of a fresh interpreter running ``code`` (which may raise LnnEdgeError).

    VmHWM, not ru_maxrss: a child's ru_maxrss starts at its parent's (pytest with torch loaded)."""
    script = (
        "from lnn_edge.errors import LnnEdgeError\n"
        f"try:\n    {code}\nexcept LnnEdgeError:\n    pass\n"
        "peak = [line for line in open('/proc/self/status') if line.startswith('VmHWM:')][0]\n"
        "print(int(peak.split()[1]) / 1024)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True)
    return float(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_arrays_just_under_the_old_member_limit_are_not_read(tmp_path: Path, files: dict[str, Path]) -> None:
    """Two deflated arrays of 255 MB each (about 0.5 MB on disk) in a valid model: refused from their headers."""
    bad = tmp_path / "heavy.lnn"
    members = read_members(files["ltc"])
    with zipfile.ZipFile(bad, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            if name in ("arrays/sigma.npy", "arrays/w.npy"):
                _write_zeros_npy(archive, name, (255 * 1024 * 1024) // 8 - 16)
            else:
                archive.writestr(name, data)
    assert bad.stat().st_size < 4 * 1024 * 1024
    with pytest.raises(
        ModelFileError, match=r"arrays/(sigma|w)\.npy declares shape \(\d+,\): more than the limit of 64 values"
    ):
        load(bad)
    baseline = _peak_rss_mb(f"from lnn_edge.model.modelfile import load; load({str(files['ltc'])!r})")
    peak = _peak_rss_mb(f"from lnn_edge.model.modelfile import load; load({str(bad)!r})")
    assert peak - baseline < 64, (baseline, peak)


def _write_zeros_npy(archive: zipfile.ZipFile, name: str, count: int) -> None:
    """A real deflated .npy of ``count`` float64 zeros, streamed in 1 MB chunks (never held in memory)."""
    header = npy_header_only((count,))[:-8]
    with archive.open(name, "w", force_zip64=True) as handle:
        handle.write(header)
        chunk = bytes(1 << 20)
        left = count * 8
        while left:
            handle.write(chunk[: min(left, len(chunk))])
            left -= min(left, len(chunk))


def test_a_600_mb_manifest_is_refused_from_its_declared_size(tmp_path: Path, files: dict[str, Path]) -> None:
    bad = tmp_path / "big_manifest.lnn"
    shutil.copy(files["ltc"], bad)
    declare_size(bad, "manifest.json", 600 * 1024 * 1024)
    with pytest.raises(ModelFileError) as error:
        load(bad)
    assert "manifest.json is 629145600 bytes" in _message(error) and str(limits.MAX_JSON_BYTES) in _message(error)


def test_a_member_cannot_unpack_beyond_its_limit(tmp_path: Path) -> None:
    """A member whose header understates its size still stops at the limit (the read is bounded too)."""
    path = tmp_path / "a.zip"
    write_members(path, {"m.json": b" " * 5000})
    with zipfile.ZipFile(path) as archive:
        archive.getinfo("m.json").file_size = 10  # what a lying header would say
        with pytest.raises(ModelFileError, match="m.json (is corrupt|unpacks to more than the limit of 100 bytes)"):
            limits.read_member(archive, "m.json", 100, ModelFileError)


def test_generated_names_of_a_huge_input_size_are_never_made(tmp_path: Path, files: dict[str, Path]) -> None:
    def edit(manifest: dict[str, Any]) -> None:
        manifest["input_size"] = 2_000_000
        manifest.pop("input_names")

    bad = _edit_manifest(files["ltc"], tmp_path / "names.lnn", edit)
    with pytest.raises(ModelFileError) as error:
        load(bad)
    assert "input_size" in _message(error) and str(limits.MAX_INPUTS) in _message(error)


def test_npy_headers_declaring_2_to_the_40_values_allocate_nothing(tmp_path: Path, files: dict[str, Path]) -> None:
    members = read_members(files["ltc"])
    members["arrays/gleak.npy"] = npy_header_only((1 << 40,))
    write_members(tmp_path / "m.lnn", members)
    with pytest.raises(ModelFileError, match=r"arrays/gleak.npy declares shape \(1099511627776,\)"):
        load(tmp_path / "m.lnn")
    write_members(tmp_path / "x.npz", {"x.npy": npy_header_only((1 << 31, 1 << 9))})
    with pytest.raises(DataFileError, match=r"x.npy declares shape \(2147483648, 512\)"):
        load_inputs(tmp_path / "x.npz", 3, 1.0)


def test_an_npz_declaring_2_gb_is_refused_before_reading(tmp_path: Path, files: dict[str, Path]) -> None:
    bad = tmp_path / "bomb.npz"
    shutil.copy(files["inputs"], bad)
    declare_size(bad, "x.npy", 2 * 1024**3)
    with pytest.raises(DataFileError) as error:
        load_inputs(bad, 3, 1.0)
    assert str(bad) in _message(error) and str(limits.MAX_DATA_BYTES) in _message(error)


# --- wrong types give one line, not a traceback ------------------------------------------------------------

MANIFEST_CASES = {
    "calibration_string": (_set("calibration", "yes"), "calibration"),
    "roles_int": (_set("wiring.roles", 5), "wiring.roles"),
    "roles_entry_int": (_set("wiring.roles.motor", 5), "wiring.roles.motor"),
    "deep_nesting": (_set("task", DEEP), "nests deeper"),
    "huge_int": (_set("state_size", HUGE_INT), "not valid JSON"),
    "huge_int_dt": (_set("dt", 10**400), "'dt'"),
    "names_not_strings": (_set("input_names", [1, 2, 3]), "input_names"),
    "options_list": (_set("ltc", [1, 2]), "ltc"),
}


@pytest.mark.parametrize("case", list(MANIFEST_CASES))
def test_wrong_types_in_the_manifest_name_the_field(tmp_path: Path, files: dict[str, Path], case: str) -> None:
    edit, fragment = MANIFEST_CASES[case]
    bad = _edit_manifest(files["ltc"], tmp_path / "bad.lnn", edit)
    with pytest.raises(ModelFileError) as error:
        load(bad)
    assert fragment in _message(error) and str(bad) in _message(error)


def _requantized(src: Path, dst: Path, edit: Any, arrays: dict[str, bytes] | None = None) -> Path:
    """A quantized file edited as a hostile user would, with its quant hash recomputed, so that only the
    structure checks can refuse it."""
    members = read_members(src)
    manifest = json.loads(members["quantized/manifest.json"])
    edit(manifest)
    members.update(arrays or {})
    manifest["quant_hash"] = _forged_hash(members, manifest)
    members["quantized/manifest.json"] = json.dumps(manifest).encode()
    write_members(dst, members)
    return dst


def _forged_hash(members: dict[str, bytes], manifest: dict[str, Any]) -> str:
    """The quant hash over the section as stored (what lnn_edge.quant.qmodel.QuantizedModel.quant_hash computes)."""
    float_hash = json.loads(members["manifest.json"])["content_hash"]
    digest = hashlib.sha256(float_hash.encode())
    meta = {"precision": manifest["precision"], "formats": manifest["formats"], "constants": manifest["constants"]}
    digest.update(json.dumps(meta, sort_keys=True).encode())
    for name in sorted(manifest["params"]):
        array = np.load(io.BytesIO(members[f"quantized/{name}.npy"]), allow_pickle=False)
        digest.update(f"{name}:{array.dtype.str}:{array.shape}".encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def test_a_missing_quantized_parameter_is_refused(tmp_path: Path, files: dict[str, Path]) -> None:
    bad = _requantized(files["ltc16"], tmp_path / "q.lnn", lambda q: q["params"].pop("gleak_eps"))
    with pytest.raises(ModelFileError) as error:
        load_any(bad)
    assert "lacks param 'gleak_eps'" in _message(error) and str(bad) in _message(error)


def test_a_short_sigmoid_table_is_refused(tmp_path: Path, files: dict[str, Path]) -> None:
    table = np.load(io.BytesIO(read_members(files["ltc16"])["quantized/sigmoid_table.npy"]))
    short = {"quantized/sigmoid_table.npy": npy(table[:10])}
    bad = _requantized(files["ltc16"], tmp_path / "q.lnn", lambda q: None, short)
    with pytest.raises(ModelFileError, match=r"'sigmoid_table' has shape \(10,\); expected \(129,\)"):
        load_any(bad)


def test_an_export_manifest_that_is_a_list_is_refused(tmp_path: Path, files: dict[str, Path]) -> None:
    folder = tmp_path / "export"
    shutil.copytree(files["export"], folder)
    (folder / "manifest.json").write_text("[1, 2, 3]")
    with pytest.raises(LnnEdgeError, match="is not an lnn-edge export manifest"):
        load_export(folder)


def test_a_subnormal_input_weight_quantizes(files: dict[str, Path]) -> None:
    model = load(files["ltc"])
    model.arrays["input_w"][0] = 1e-310
    for precision in ("fixed16", "fixed32"):
        qmodel = quantize(model, precision)
        assert qmodel.params["in_w"][0] == 0  # a weight below any format's resolution is zero


def test_checkpoint_import_options_of_the_wrong_type(tmp_path: Path, files: dict[str, Path]) -> None:
    for options in (5, "x", [1], {"ode_unfolds": "6"}, {"epsilon": "tiny"}, {"output_size": 2.5}, {"bogus": 1}):
        payload = torch.load(files["checkpoint"], weights_only=True)
        payload["import_options"] = options
        torch.save(payload, tmp_path / "bad.pt")
        with pytest.raises(ImportModelError) as error:
            load_torch_file(tmp_path / "bad.pt")
        assert "import_options" in _message(error) and "bad.pt" in _message(error)


# --- the export manifest: name, precision, sizes and file names ----------------------------------------------


def _edited_export(src: Path, dst: Path, edit: Any) -> Path:
    shutil.copytree(src, dst)
    manifest = json.loads((dst / "manifest.json").read_text())
    edit(manifest)
    (dst / "manifest.json").write_text(json.dumps(manifest))
    return dst


EXPORT_CASES = {
    "name_escapes": (_set("name", "../../x"), "'name' is '../../x'"),
    "precision_false": (_set("precision", "fixed32"), "'precision' is 'fixed32' but the export's model has 'fixed16'"),
    "inputs": (_set("inputs", 7), "'inputs' is 7"),
    "value_type": (_set("value_type", "float"), "'value_type'"),
    "memory_type": (_set("memory.state", "lots"), "'memory.state'"),
    "memory_small": (_set("memory.state", 2), "'memory.state' is 2 bytes"),
    "file_escapes": (lambda m: m["files"].__setitem__("../net.c", "0" * 64), "not a plain file name"),
    "hidden_file": (lambda m: m["files"].__setitem__(".env", "0" * 64), "not a plain file name"),
    "dt_default": (_set("dt_default", -1), "'dt_default'"),
}


@pytest.mark.parametrize("case", list(EXPORT_CASES))
def test_edited_export_manifests_are_refused(tmp_path: Path, files: dict[str, Path], case: str) -> None:
    edit, fragment = EXPORT_CASES[case]
    folder = _edited_export(files["export"], tmp_path / "export", edit)
    with pytest.raises(LnnEdgeError) as error:
        load_export(folder)
    assert fragment in _message(error) and "manifest.json" in _message(error)


def test_the_valid_export_still_loads(files: dict[str, Path]) -> None:
    loaded = load_export(files["export"])
    assert loaded.name == "net" and loaded.qmodel.precision == "fixed16"


# --- property test: structural mutations of every format raise LnnEdgeError or nothing --------------------

PROPERTY = settings(max_examples=40)


def _loads_or_refuses(load_it: Any, *args: Any) -> None:
    """Call a loader: a refusal must be an LnnEdgeError; anything else propagates and fails the test."""
    with contextlib.suppress(LnnEdgeError):
        load_it(*args)


@pytest.mark.slow
@PROPERTY
@given(data=st.data(), kind=st.sampled_from(["ltc", "cfc"]))
def test_mutated_model_manifests(
    tmp_path_factory: pytest.TempPathFactory, files: dict[str, Path], data: Any, kind: str
) -> None:
    members = read_members(files[kind])
    document = data.draw(mutated(json.loads(members["manifest.json"])))
    members["manifest.json"] = dumps(document)
    path = tmp_path_factory.mktemp("m") / "m.lnn"
    write_members(path, members)
    _loads_or_refuses(load_any, path)


@PROPERTY
@given(data=st.data(), edit=st.sampled_from(ARRAY_EDITS))
def test_mutated_arrays(tmp_path_factory: pytest.TempPathFactory, files: dict[str, Path], data: Any, edit: str) -> None:
    members = read_members(files["ltc16"])
    name = data.draw(st.sampled_from(sorted(name for name in members if name.endswith(".npy"))))
    members[name] = edited_array(members[name], edit)
    path = tmp_path_factory.mktemp("a") / "a.lnn"
    write_members(path, members)
    _loads_or_refuses(load_any, path)


@pytest.mark.slow
@PROPERTY
@given(data=st.data())
def test_mutated_quantized_sections(
    tmp_path_factory: pytest.TempPathFactory, files: dict[str, Path], data: Any
) -> None:
    document = json.loads(read_members(files["ltc16"])["quantized/manifest.json"])
    mutation = data.draw(mutated(document, keep_hostile=False))
    path = tmp_path_factory.mktemp("q") / "q.lnn"
    try:
        _requantized(
            files["ltc16"], path, lambda q: (q.clear(), q.update(mutation)) if isinstance(mutation, dict) else None
        )
    except (KeyError, TypeError, AttributeError, ValueError, LnnEdgeError):  # the forger itself cannot hash it
        members = read_members(files["ltc16"])
        members["quantized/manifest.json"] = dumps(mutation)
        write_members(path, members)
    _loads_or_refuses(load_any, path)


@pytest.mark.slow
@PROPERTY
@given(data=st.data())
def test_mutated_export_manifests(tmp_path_factory: pytest.TempPathFactory, files: dict[str, Path], data: Any) -> None:
    document = json.loads((files["export"] / "manifest.json").read_text())
    mutation = data.draw(mutated(document))
    folder = tmp_path_factory.mktemp("e") / "export"
    shutil.copytree(files["export"], folder)
    (folder / "manifest.json").write_bytes(dumps(mutation))
    _loads_or_refuses(load_export, folder)


def _materialized(value: Any) -> Any:
    """The stand-ins made real for a checkpoint (pickle writes any integer; nesting is capped for the writer)."""
    if value == HUGE_INT:
        return 10**5000
    if value == DEEP:
        deep: Any = []
        for _ in range(200):
            deep = [deep]
        return deep
    if isinstance(value, dict):
        return {key: _materialized(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_materialized(item) for item in value]
    return value


@pytest.mark.slow
@PROPERTY
@given(data=st.data())
def test_mutated_checkpoints(tmp_path_factory: pytest.TempPathFactory, files: dict[str, Path], data: Any) -> None:
    payload = torch.load(files["checkpoint"], weights_only=True)
    tensors = {"state_dict": payload.pop("state_dict"), "calibration_x": payload.pop("calibration_x")}
    mutation = data.draw(mutated(payload))
    if isinstance(mutation, dict):
        tensor_edit = data.draw(st.sampled_from(["keep", "shape", "nan", "int", "drop", "string_key"]))
        state_dict = dict(tensors["state_dict"])
        key = data.draw(st.sampled_from(sorted(state_dict)))
        if tensor_edit == "shape":
            state_dict[key] = torch.zeros(*state_dict[key].shape, 2)
        elif tensor_edit == "nan":
            state_dict[key] = torch.full_like(state_dict[key], float("nan"))
        elif tensor_edit == "int":
            state_dict[key] = state_dict[key].long()
        elif tensor_edit == "drop":
            del state_dict[key]
        elif tensor_edit == "string_key":
            state_dict[7] = state_dict.pop(key)
        mutation = {**_materialized(mutation), "state_dict": state_dict, "calibration_x": tensors["calibration_x"]}
    path = tmp_path_factory.mktemp("c") / "c.pt"
    torch.save(_materialized(mutation), path)
    _loads_or_refuses(load_torch_file, path)


# --- the command line prints no traceback on hostile files ----------------------------------------------------


def _hostile_files(root: Path, files: dict[str, Path]) -> dict[str, Path]:
    hostile = {
        "unfolds": _slow_model(files["ltc"], root / "unfolds.lnn"),
        "calibration": _edit_manifest(files["ltc"], root / "calibration.lnn", _set("calibration", "yes")),
        "roles": _edit_manifest(files["ltc"], root / "roles.lnn", _set("wiring.roles", 5)),
        "deep": _edit_manifest(files["ltc"], root / "deep.lnn", _set("task", DEEP)),
        "huge_int": _edit_manifest(files["ltc"], root / "huge.lnn", _set("input_size", HUGE_INT)),
        "missing_param": _requantized(files["ltc16"], root / "q.lnn", lambda q: q["params"].pop("gleak_eps")),
    }
    members = read_members(files["ltc"])
    members["arrays/gleak.npy"] = npy_header_only((1 << 40,))
    write_members(root / "header.lnn", members)
    hostile["header"] = root / "header.lnn"
    return hostile


@pytest.mark.parametrize("verb", ["inspect", "run", "quantize", "export"])
def test_cli_verbs_print_no_traceback(tmp_path: Path, files: dict[str, Path], verb: str) -> None:
    for name, path in _hostile_files(tmp_path, files).items():
        out = tmp_path / f"out_{verb}_{name}"
        args = {
            "inspect": ["inspect", str(path)],
            "run": ["run", str(path), "--data", str(files["inputs"]), "-o", f"{out}.npz"],
            "quantize": ["quantize", str(path), "-o", f"{out}.lnn", "--precision", "fixed16"],
            "export": ["export", str(path), "-o", str(out)],
        }[verb]
        result = CliRunner().invoke(cli, args)
        assert result.exception is None or isinstance(result.exception, SystemExit), (name, result.exception)
        assert "Traceback" not in result.output, (name, result.output)
        if name != "missing_param" or verb in ("run", "export"):  # inspect and quantize read the float part only
            assert result.exit_code == 1 and "error: " in result.output, (name, result.output)


def test_the_export_cli_on_an_edited_manifest(tmp_path: Path, files: dict[str, Path]) -> None:
    folder = _edited_export(files["export"], tmp_path / "export", _set("name", "../../x"))
    result = CliRunner().invoke(
        cli, ["run", str(folder), "--data", str(files["inputs"]), "-o", str(tmp_path / "o.npz")]
    )
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "'name' is '../../x'" in result.output and "Traceback" not in result.output


def test_peak_rss_helper_measures(files: dict[str, Path]) -> None:
    """The memory test's yardstick works: allocating 200 MB shows up."""
    quiet = _peak_rss_mb("pass")
    heavy = _peak_rss_mb("import numpy; a = numpy.ones(25_000_000)")
    assert heavy - quiet > 150


@pytest.mark.slow
def test_run_refuses_outputs_beyond_memory_before_allocating(tmp_path: Path) -> None:
    """Inputs are bounded, but outputs and states grow with the model: 400k steps of one feature through 200
    neurons would be 80M values (640 MB) and minutes of stepping; run refuses at once, naming the file."""
    torch.manual_seed(0)
    model = from_module(LTC(1, wirings.FullyConnected(200, 1)))
    save(model, tmp_path / "big.lnn")
    np.savez(tmp_path / "long.npz", x=np.zeros((1, 400_000, 1)))
    result = CliRunner().invoke(cli, ["run", str(tmp_path / "big.lnn"), "--data", str(tmp_path / "long.npz"),
                                      "-o", str(tmp_path / "y.npz")])  # fmt: skip
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{tmp_path / 'long.npz'}: 1 sequences x 400000 steps would produce 80,400,000" in result.stderr
    assert "split the data into smaller files" in result.stderr
    assert not (tmp_path / "y.npz").exists()


@pytest.mark.parametrize("field", ["formats", "constants"])
def test_a_quantized_section_without_formats_or_constants_is_refused_by_name(
    tmp_path: Path, files: dict[str, Path], field: str
) -> None:
    """The schema lets both default to {} (found by test_mutated_quantized_sections): the loader must then name what
    is missing, not raise KeyError."""
    members = read_members(files["ltc16"])
    manifest = json.loads(members["quantized/manifest.json"])
    del manifest[field]
    members["quantized/manifest.json"] = dumps(manifest)
    write_members(tmp_path / "q.lnn", members)
    with pytest.raises(ModelFileError, match=f"quantized section lacks {field[:-1]} '"):
        load_any(tmp_path / "q.lnn")

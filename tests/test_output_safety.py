"""lnn-edge never deletes or overwrites what it did not write (issue 13, "Data loss").

Every test here writes only inside its own tmp_path. The user's files are checked byte for byte afterwards.
The kill test forks a child that dies at each point of an export and checks that the folder is never missing.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from ncps import wirings
from ncps.torch import LTC

from lnn_edge.atomic import STAGING_MARKER, OutputError, owned_dir
from lnn_edge.cli import cli
from lnn_edge.codegen.export import export, load_export
from lnn_edge.errors import LnnEdgeError
from lnn_edge.model.importers import load_torch_file
from lnn_edge.model.modelfile import save

USER_BYTES = b"my notes: do not lose\n\x00\xff"
LNN_EDGE = [str(Path(sys.executable).parent / "lnn-edge")]


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stderr


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("model")
    torch.manual_seed(1)
    torch.save(LTC(3, wirings.AutoNCP(6, 1)).state_dict(), folder / "ltc.pt")
    path = folder / "ltc.lnn"
    save(load_torch_file(folder / "ltc.pt"), path)
    return path


def user_folder(path: Path) -> Path:
    """A folder of the user's: one file they care about."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "notes.txt").write_bytes(USER_BYTES)
    return path


def assert_untouched(folder: Path) -> None:
    assert (folder / "notes.txt").read_bytes() == USER_BYTES
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]


# --- export -o ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_export_refuses_a_folder_of_the_users_and_leaves_it_byte_for_byte(tmp_path: Path, model_file: Path) -> None:
    folder = user_folder(tmp_path / "mine")
    result = subprocess.run([*LNN_EDGE, "export", str(model_file), "-o", str(folder), "--precision", "float32"],
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 1
    assert "is not empty and holds no manifest.json that lnn-edge wrote" in result.stderr
    assert str(folder) in result.stderr and "Traceback" not in result.stderr
    assert_untouched(folder)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]


@pytest.mark.slow
def test_export_dash_o_dot_refuses_the_current_folder(tmp_path: Path, model_file: Path) -> None:
    folder = user_folder(tmp_path / "cwd")
    result = subprocess.run([*LNN_EDGE, "export", str(model_file), "-o", ".", "--precision", "float32"],
                            capture_output=True, text=True, check=False, cwd=folder)  # fmt: skip
    assert result.returncode == 1 and "(the current folder)" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert_untouched(folder)


@pytest.mark.slow
def test_export_dash_o_dot_into_an_empty_current_folder_works(tmp_path: Path, model_file: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    result = subprocess.run([*LNN_EDGE, "export", str(model_file), "-o", ".", "--precision", "float32"],
                            capture_output=True, text=True, check=False, cwd=folder)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert load_export(folder).manifest["precision"] == "float32"
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []


def test_export_refuses_an_existing_file(tmp_path: Path, model_file: Path) -> None:
    target = tmp_path / "out"
    target.write_bytes(USER_BYTES)
    code, err = invoke("export", str(model_file), "-o", str(target), "--precision", "float32")
    assert code == 1 and "is a file, not a folder" in err
    assert target.read_bytes() == USER_BYTES
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_reexport_replaces_only_the_files_its_manifest_lists(tmp_path: Path, model_file: Path) -> None:
    out = tmp_path / "out"
    first = export(load_torch_or_lnn(model_file), out, "float32", name="first")
    (out / "notes.txt").write_bytes(USER_BYTES)  # the user keeps notes in the export folder
    (out / "fw").mkdir()  # and lnn-edge's own firmware folder (not in the export manifest) is left as it is
    (out / "fw" / "keep.bin").write_bytes(USER_BYTES)
    second = export(load_torch_or_lnn(model_file), out, "float32", name="second", dt=0.5)
    names = {p.name for p in out.iterdir()}
    assert {"second.c", "second.h", "notes.txt", "fw"} <= names
    assert not {"first.c", "first.h"} & names  # listed by the old manifest, not by the new one: removed
    assert (out / "notes.txt").read_bytes() == USER_BYTES and (out / "fw" / "keep.bin").read_bytes() == USER_BYTES
    reloaded = load_export(out)
    assert reloaded.name == "second" and reloaded.manifest["dt_default"] == 0.5 != first.manifest["dt_default"]
    assert reloaded.manifest["files"] == second.manifest["files"]
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []


def test_reexport_refuses_to_overwrite_a_user_file_with_one_of_its_names(tmp_path: Path, model_file: Path) -> None:
    out = tmp_path / "out"
    export(load_torch_or_lnn(model_file), out, "float32", name="first")
    (out / "second.c").write_bytes(USER_BYTES)  # not in the manifest: the user's, whatever its name
    before = snapshot(out)
    with pytest.raises(OutputError, match=r"holds second\.c, which lnn-edge did not write"):
        export(load_torch_or_lnn(model_file), out, "float32", name="second")
    assert snapshot(out) == before


@pytest.mark.parametrize(
    ("edited", "second_name"),
    [("example_main.c", "first"), ("lnn/lnn_status.h", "first"), ("first.c", "second")],
    ids=["replaced-example", "replaced-runtime-header", "removed-by-a-rename"],
)
def test_reexport_refuses_to_replace_or_remove_a_generated_file_the_user_edited(
    tmp_path: Path, model_file: Path, edited: str, second_name: str
) -> None:
    """The example (or a runtime header, or the model's C a new --name would remove) adapted in place: the next
    export would lose those edits, so it refuses, names the file and touches nothing; with the file moved out it
    goes ahead and the moved copy is as the user left it."""
    out = tmp_path / "out"
    export(load_torch_or_lnn(model_file), out, "float32", name="first")
    mine = (out / edited).read_bytes() + b"\n/* my change */\n"
    (out / edited).write_bytes(mine)
    before = snapshot(out)
    with pytest.raises(OutputError, match=rf"{edited.split('/')[-1]} changed since lnn-edge wrote it \(your edits\?\)"):
        export(load_torch_or_lnn(model_file), out, "float32", name=second_name)
    assert snapshot(out) == before
    code, err = invoke("export", str(model_file), "-o", str(out), "--precision", "float32", "--name", second_name)
    assert code == 1 and f"{edited} changed since lnn-edge wrote it" in err and "move it out of the folder" in err
    assert "Traceback" not in err and snapshot(out) == before
    kept = tmp_path / "kept.c"
    (out / edited).rename(kept)
    export(load_torch_or_lnn(model_file), out, "float32", name=second_name)
    assert load_export(out).name == second_name and kept.read_bytes() == mine


def test_an_unedited_export_is_replaced_as_before(tmp_path: Path, model_file: Path) -> None:
    """Only bytes that differ from the manifest's record count as edits: re-exporting an untouched folder, or
    one whose generated file the user deleted, goes ahead."""
    out = tmp_path / "out"
    export(load_torch_or_lnn(model_file), out, "float32", name="first")
    export(load_torch_or_lnn(model_file), out, "float32", name="first", dt=0.5)
    (out / "example_main.c").unlink()
    export(load_torch_or_lnn(model_file), out, "float32", name="first", dt=0.25)
    assert load_export(out).manifest["dt_default"] == 0.25 and (out / "example_main.c").is_file()


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (lnn/ included), by relative path."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("listed", ["lnn/../victim/notes.txt", "/abs/notes.txt", "a/b/c", "lnn/x/y", "other/notes.txt",
                                    "lnn/.hidden", "lnn/", "./lnn/x"])  # fmt: skip
def test_a_manifest_may_name_one_level_of_lnn_and_nothing_else(tmp_path: Path, model_file: Path, listed: str) -> None:
    out = tmp_path / "out"
    export(load_torch_or_lnn(model_file), out, "float32", name="first")
    victim = user_folder(tmp_path / "victim")
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["files"][listed] = "0" * 64
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(LnnEdgeError, match="not a plain file name"):
        load_export(out)
    before = snapshot(out)
    with pytest.raises(OutputError, match="holds no manifest.json that lnn-edge wrote"):
        export(load_torch_or_lnn(model_file), out, "float32", name="second")
    assert snapshot(out) == before
    assert_untouched(victim)


def test_reexport_replaces_the_runtime_files_and_keeps_a_users_file_in_lnn(tmp_path: Path, model_file: Path) -> None:
    out = tmp_path / "out"
    export(load_torch_or_lnn(model_file), out, "float32", name="first")
    assert (out / "lnn" / "lnn_fixed.h").is_file() and "lnn/lnn_fixed.h" in load_export(out).manifest["files"]
    (out / "lnn" / "mine.h").write_bytes(USER_BYTES)
    export(load_torch_or_lnn(model_file), out, "float32", name="second")
    assert (out / "lnn" / "mine.h").read_bytes() == USER_BYTES
    assert load_export(out).name == "second"


def test_reexport_never_writes_or_deletes_through_a_linked_lnn(tmp_path: Path, model_file: Path) -> None:
    out = tmp_path / "out"
    export(load_torch_or_lnn(model_file), out, "float32", name="first")
    victim = user_folder(tmp_path / "victim")
    for entry in (out / "lnn").iterdir():
        entry.unlink()
    (out / "lnn").rmdir()
    (out / "lnn").symlink_to(victim)
    (victim / "lnn_fixed.h").unlink(missing_ok=True)
    with pytest.raises(OutputError, match="is a link or a file"):
        export(load_torch_or_lnn(model_file), out, "float32", name="second")
    assert_untouched(victim)


def test_a_manifest_naming_paths_outside_the_folder_is_not_trusted(tmp_path: Path, model_file: Path) -> None:
    out = tmp_path / "out"
    export(load_torch_or_lnn(model_file), out, "float32", name="first")
    victim = user_folder(tmp_path / "victim")
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["files"]["../victim/notes.txt"] = "0" * 64
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(OutputError, match="holds no manifest.json that lnn-edge wrote"):
        export(load_torch_or_lnn(model_file), out, "float32", name="second")
    assert_untouched(victim)


def load_torch_or_lnn(path: Path) -> Any:
    from lnn_edge.quant.qmodelfile import load_any

    return load_any(path)


# --- a run killed at any point -----------------------------------------------------------------------------


def _export_and_die_at(call: int, model_file: Path, out: Path, name: str) -> None:
    """In a child: export, dying (as a kill would) at the ``call``-th rename or unlink."""
    import lnn_edge.atomic as atomic_module

    count = [0]

    def dying(real: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            count[0] += 1
            if count[0] == call:
                os._exit(9)
            return real(*args, **kwargs)

        return wrapper

    atomic_module.os.replace = dying(os.replace)
    atomic_module.os.rename = dying(os.rename)
    Path.unlink = dying(Path.unlink)  # type: ignore[method-assign]
    export(load_torch_or_lnn(model_file), out, "float32", name=name)
    os._exit(0)


@pytest.mark.slow
@pytest.mark.parametrize("existing", [False, True], ids=["new-folder", "replace-export"])
def test_a_kill_at_any_point_never_leaves_the_folder_missing(tmp_path: Path, model_file: Path, existing: bool) -> None:
    context = multiprocessing.get_context("fork")
    for call in range(1, 40):
        out = tmp_path / f"out{call}"
        if existing:
            export(load_torch_or_lnn(model_file), out, "float32", name="old")
            (out / "notes.txt").write_bytes(USER_BYTES)
        child = context.Process(target=_export_and_die_at, args=(call, model_file, out, "new"))
        child.start()
        child.join(60)
        finished = child.exitcode == 0
        if existing:
            assert out.is_dir() and (out / "manifest.json").is_file(), f"killed at call {call}: folder gone"
            assert (out / "notes.txt").read_bytes() == USER_BYTES
        # The next run cleans up what the killed one staged (only that) and writes a complete export.
        decoy = user_folder(tmp_path / f".out{call}.lnn-edge-decoy.tmp")  # looks like staging, has no marker
        export(load_torch_or_lnn(model_file), out, "float32", name="new")
        assert load_export(out).name == "new"
        assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(f".out{call}.")] == [decoy.name]
        assert_untouched(decoy)
        if existing:
            assert (out / "notes.txt").read_bytes() == USER_BYTES
        if finished:
            break
    else:
        pytest.fail("the export never finished: raise the number of kill points")
    assert call > 3  # every rename and unlink of a whole export was a kill point


def test_owned_dir_leaves_no_staging_after_a_failure(tmp_path: Path) -> None:
    with pytest.raises(ValueError), owned_dir(tmp_path / "out", "m.json", "fmt") as staging:
        assert (staging / STAGING_MARKER).is_file()
        raise ValueError("the block failed")
    assert list(tmp_path.iterdir()) == []


# --- file outputs ------------------------------------------------------------------------------------------


@pytest.fixture
def quantize_args(model_file: Path) -> Callable[[Path], list[str]]:
    return lambda out: ["quantize", str(model_file), "-o", str(out), "--precision", "float32"]


def test_quantize_refuses_a_folder_and_a_file_of_the_users(
    tmp_path: Path, quantize_args: Callable[[Path], list[str]]
) -> None:
    folder = user_folder(tmp_path / "dir")
    code, err = invoke(*quantize_args(folder))
    assert code == 1 and "is a folder: give a file name" in err
    assert_untouched(folder)
    target = tmp_path / "notes.lnn"
    target.write_bytes(USER_BYTES)
    code, err = invoke(*quantize_args(target))
    assert code == 1 and "already exists and is not a model file that lnn-edge wrote" in err
    assert target.read_bytes() == USER_BYTES
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "notes.lnn"]


def test_quantize_replaces_its_own_model_file_and_report(
    tmp_path: Path, quantize_args: Callable[[Path], list[str]]
) -> None:
    out, report = tmp_path / "q.lnn", tmp_path / "q.json"
    for _ in range(2):
        code, err = invoke(*quantize_args(out), "--report", str(report))
        assert code == 0, err
    assert json.loads(report.read_text())["format"] == "lnn-edge-quantization-report"
    report.write_text('{"mine": true}')
    code, err = invoke(*quantize_args(out), "--report", str(report))
    assert code == 1 and "not a quantization report that lnn-edge wrote" in err
    assert report.read_text() == '{"mine": true}'


def test_run_replaces_only_its_own_npz(tmp_path: Path, model_file: Path) -> None:
    np.savez(tmp_path / "in.npz", x=np.zeros((1, 4, 3)))
    out = tmp_path / "y.npz"
    for _ in range(2):
        code, err = invoke("run", str(model_file), "--data", str(tmp_path / "in.npz"), "-o", str(out))
        assert code == 0, err
    assert set(np.load(out).files) == {"y", "state"}
    np.savez(out, mine=np.ones(3))
    before = out.read_bytes()
    code, err = invoke("run", str(model_file), "--data", str(tmp_path / "in.npz"), "-o", str(out))
    assert code == 1 and "not a run output that lnn-edge wrote" in err and out.read_bytes() == before


def test_train_refuses_before_training(tmp_path: Path) -> None:
    target = tmp_path / "model.lnn"
    target.write_bytes(USER_BYTES)
    code, err = invoke("train", "--task", "sines", "--epochs", "1", "-o", str(target))
    assert code == 1 and "not a model file that lnn-edge wrote" in err
    assert target.read_bytes() == USER_BYTES
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.lnn"]  # no checkpoint either


def test_demo_refuses_a_folder_of_the_users_before_any_work(tmp_path: Path) -> None:
    folder = user_folder(tmp_path / "home")
    code, err = invoke("demo", "-o", str(folder), "--epochs", "1", "--quiet")
    assert code == 1 and "holds no demo.json that lnn-edge wrote" in err
    assert_untouched(folder)


def test_build_refuses_a_firmware_folder_of_the_users(tmp_path: Path, model_file: Path) -> None:
    from lnn_edge.target.build import build_firmware

    out = tmp_path / "out"
    export(load_torch_or_lnn(model_file), out, "float32", name="net")
    mine = user_folder(out / "fw" / "qemu-mps2-an385")
    with pytest.raises(LnnEdgeError, match="holds files and no build.json that lnn-edge wrote.*move your files out"):
        build_firmware(out, "qemu-mps2-an385")
    assert_untouched(mine)


@pytest.mark.parametrize("linked", ["fw", "fw/qemu-mps2-an385"])
def test_build_never_writes_through_a_linked_firmware_folder(tmp_path: Path, model_file: Path, linked: str) -> None:
    """DIR/fw (or DIR/fw/<board>) as a link to a folder of the user's: refused, nothing written there."""
    from lnn_edge.target.build import build_firmware

    out = tmp_path / "out"
    export(load_torch_or_lnn(model_file), out, "float32", name="net")
    elsewhere = user_folder(tmp_path / "elsewhere")
    (out / linked).parent.mkdir(parents=True, exist_ok=True)
    (out / linked).symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(LnnEdgeError, match="is a link: lnn-edge builds firmware only in a real folder"):
        build_firmware(out, "qemu-mps2-an385")
    assert_untouched(elsewhere)


# --- an output path through a file -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["export", "{model}", "-o", "{file}/sub/export", "--precision", "float32"],
        ["quantize", "{model}", "-o", "{file}/q.lnn", "--precision", "fixed16"],
        ["import", "{pt}", "-o", "{file}/m.lnn"],
        ["run", "{model}", "--data", "{data}", "-o", "{file}/y.npz"],
        ["train", "--task", "sines", "--epochs", "1", "-o", "{file}/t.lnn"],
    ],
    ids=["export", "quantize", "import", "run", "train"],
)
def test_an_output_inside_a_file_is_refused_in_one_sentence(
    tmp_path: Path, model_file: Path, command: list[str]
) -> None:
    """Part of the output's path is a user's file: one clear error before any work (train included), no
    traceback, the file untouched and nothing else written."""
    mine = tmp_path / "notes"
    mine.write_bytes(USER_BYTES)
    np.savez(tmp_path / "in.npz", x=np.zeros((1, 4, 3)))
    names = {"model": model_file, "pt": model_file.with_suffix(".pt"), "file": mine, "data": tmp_path / "in.npz"}
    code, err = invoke(*(part.format(**names) for part in command))
    assert code == 1 and f"{mine} is a file, not a folder" in err and "Traceback" not in err
    assert mine.read_bytes() == USER_BYTES
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.npz", "notes"]


def test_build_refuses_when_the_exports_fw_is_a_file(tmp_path: Path, model_file: Path) -> None:
    from lnn_edge.target.build import build_firmware

    out = tmp_path / "out"
    export(load_torch_or_lnn(model_file), out, "float32", name="net")
    (out / "fw").write_bytes(USER_BYTES)
    with pytest.raises(LnnEdgeError, match="is a file, not a folder"):
        build_firmware(out, "qemu-mps2-an385")
    assert (out / "fw").read_bytes() == USER_BYTES

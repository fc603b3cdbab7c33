"""The wheel carries every module of every subpackage, templates/, firmware/ and boards/ (as lnn_edge/data/), and
the runtime headers, and an installed copy finds them."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_ships_package_data(tmp_path: Path) -> None:
    # Built from a clean copy of the shipped sources: setuptools reuses a build/lib/ left in the checkout, which would
    # hide a subpackage missing from [tool.setuptools] packages.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for name in ("lnn_edge", "templates", "firmware", "boards"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(source),
        ],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    wheel = next(tmp_path.glob("lnn_edge-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "lnn_edge/py.typed",
        "lnn_edge/runtime/lnn_fixed.h",
        "lnn_edge/runtime/lnn_status.h",
        "lnn_edge/data/templates/ltc_fixed.c.j2",
        "lnn_edge/data/templates/cfc_fixed.c.j2",
        "lnn_edge/data/firmware/protocol/lnn_fw_frame.c",
        "lnn_edge/data/firmware/tools/lnn_icount_plugin.c",
        "lnn_edge/data/boards/qemu-mps2-an386.toml",
    ):
        assert expected in names, expected
    # [tool.setuptools] packages lists the subpackages by hand: a module missing from the wheel is one left out there.
    sources = {path.relative_to(REPO).as_posix() for path in (REPO / "lnn_edge").rglob("*.py")}
    assert sources - names == set()
    target = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
    code = (
        "from lnn_edge.resources import data_dir; d = data_dir(); print(d); assert (d / 'boards').is_dir()\n"
        # codegen/render.py finds lnn_edge/runtime/ one folder up from itself.
        "from lnn_edge.codegen.render import runtime_files; assert 'lnn/lnn_fixed.h' in runtime_files()"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(target)},
                            capture_output=True, text=True, check=True)  # fmt: skip
    assert result.stdout.strip() == str(target / "lnn_edge" / "data")

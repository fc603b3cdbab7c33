"""The wheel carries templates/, firmware/ and boards/ (as lnn_edge/data/), and an installed copy finds them."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_ships_package_data(tmp_path: Path) -> None:
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
            str(REPO),
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
    target = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
    code = "from lnn_edge.resources import data_dir; d = data_dir(); print(d); assert (d / 'boards').is_dir()"
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(target)},
                            capture_output=True, text=True, check=True)  # fmt: skip
    assert result.stdout.strip() == str(target / "lnn_edge" / "data")

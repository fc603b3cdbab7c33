"""RISC-V hardware boards: the Longan Nano (GD32VF103, RV32IMAC) and the ESP32-C3-DevKitM-1 (RV32IMC).

Neither has a QEMU twin in QEMU 7.2, so they are built and linked only: every precision must fit the part's
memory, the image must put the reset code where the part starts it, the cycle counter must be the one the core
has (the ESP32-C3 has no mcycle: reading it would trap), and `lnn-edge flash --dry-run` must print the
commands (dfu-util; esptool's elf2image then write_flash).
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from click.testing import CliRunner
from test_firmware_helpers import shared_export

from lnn_edge.cli import cli
from lnn_edge.target.boards import load_board
from lnn_edge.target.build import build_firmware
from lnn_edge.target.elf import defined_symbols
from lnn_edge.target.flash import flash_plan
from lnn_edge.target.toolchain import CORES, require_tool

BOARDS = ("longan-nano", "esp32-c3-devkitm-1")


def disassembly(board: str, elf: object) -> str:
    objdump = require_tool(CORES[load_board(board).core].tool("objdump"))
    return subprocess.run([objdump, "-d", str(elf)], capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("precision", ["fixed16", "fixed32", "float32"])
@pytest.mark.parametrize("cell", ["ltc", "cfc"])
@pytest.mark.parametrize("board", BOARDS)
def test_builds_within_memory(tmp_path_factory: pytest.TempPathFactory, board: str, cell: str, precision: str) -> None:
    exported = shared_export(tmp_path_factory, precision, cell=cell)
    built = build_firmware(exported.directory, board)
    target = load_board(board)
    assert 0 < built.size.flash_used <= target.flash.size and 0 < built.size.ram_used <= target.ram.size
    assert built.size.data == 0  # nothing to copy at start: the ESP32-C3's ROM loads sections at their addresses
    # The reset code is the first thing in the image: where the part (or its ROM loader's entry) starts.
    assert defined_symbols(built.elf)["lnn_fw_reset_handler"][0] == target.flash.origin
    info = json.loads((built.directory / "build.json").read_text())
    assert CORES[target.core].flags[0] in info["compile_flags"]


@pytest.mark.parametrize(("board", "counter", "absent"), [
    ("longan-nano", r"csrr\s+\w+,mcycle", r"csrr\s+\w+,0x7e2"),
    ("esp32-c3-devkitm-1", r"csrr\s+\w+,0x7e2", r"csrr\s+\w+,mcycle"),
])  # fmt: skip
def test_the_cycle_counter_is_the_cores(tmp_path_factory: pytest.TempPathFactory, board: str, counter: str,
                                        absent: str) -> None:  # fmt: skip
    exported = shared_export(tmp_path_factory, "fixed16")
    listing = disassembly(board, build_firmware(exported.directory, board).elf)
    assert re.search(counter, listing) and not re.search(absent, listing)
    if board == "longan-nano":
        assert re.search(r"csrw\s+mcountinhibit,zero", listing)  # cleared: mcycle and minstret run
    else:  # built for RV32IMC: no atomic instruction, which the ESP32-C3 would not run
        assert not re.search(r"\s(lr|sc|amo\w+)\.w\s", listing)


@pytest.mark.parametrize(("board", "expected"), [
    ("longan-nano", ["dfu-util -d 28e9:0189 -a 0 -s 0x08000000:leave -D", "longan-nano/firmware.bin"]),
    ("esp32-c3-devkitm-1", ["esptool.py --chip esp32c3 elf2image --output", "firmware.esp.bin",
                            "&& esptool.py --chip esp32c3 write_flash 0x0"]),
])  # fmt: skip
def test_flash_dry_run_prints_the_commands(tmp_path_factory: pytest.TempPathFactory, board: str,
                                           expected: list[str]) -> None:  # fmt: skip
    exported = shared_export(tmp_path_factory, "fixed16")
    built = build_firmware(exported.directory, board)
    plan = flash_plan(load_board(board), built)
    shown = CliRunner().invoke(cli, ["flash", str(exported.directory), "--board", board, "--dry-run"])
    assert shown.exit_code == 0, shown.output
    assert shown.output.strip() == plan.shell()
    for part in expected:
        assert part in plan.shell()
    as_json = CliRunner().invoke(cli, ["flash", str(exported.directory), "--board", board, "--dry-run", "--json"])
    assert json.loads(as_json.stdout)["shell"] == plan.shell()


def test_flash_dry_run_emulated_sifive_e(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The emulated RISC-V board starts in qemu-system-riscv32 (the family's QEMU), with mcycle counting
    instructions (-icount shift=0) and semihosting for the fault exit."""
    exported = shared_export(tmp_path_factory, "fixed16")
    result = CliRunner().invoke(cli, ["flash", str(exported.directory), "--board", "qemu-sifive-e", "--dry-run",
                                      "--tcp-port", "4568"])  # fmt: skip
    assert result.exit_code == 0, result.output
    command = result.output.split()
    assert command[0].endswith("qemu-system-riscv32") and command[command.index("-M") + 1] == "sifive_e"
    assert "shift=0" in command and "enable=on,target=native" in command
    assert any("port=4568" in part and "server=on" in part for part in command)

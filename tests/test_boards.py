"""Board files, `lnn-edge boards`, builds for real boards (they must link within their memory), the build
cache, the too-big error, and the flash commands (dry runs; no hardware is attached here)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_firmware_helpers import shared_export

from lnn_edge.cli import cli
from lnn_edge.errors import MissingDependencyError
from lnn_edge.target.boards import DEFAULT_BOARD, BoardError, board_names, boards_dir, list_boards, load_board
from lnn_edge.target.build import BuildError, build_firmware, fit_hints
from lnn_edge.target.flash import flash_plan, run_plan
from lnn_edge.target.toolchain import CORE_FLAGS

EMULATED = {"qemu-microbit", "qemu-mps2-an385", "qemu-mps2-an386", "qemu-mps2-an500", "qemu-mps2-an505",
            "qemu-netduinoplus2", "qemu-sifive-e"}  # fmt: skip
REAL = {"nucleo-f401re", "stm32f4-discovery", "nrf52840-dk", "bluepill-f103c8", "longan-nano", "esp32-c3-devkitm-1"}


def test_shipped_boards() -> None:
    boards = {board.name: board for board in list_boards()}
    assert set(boards) >= EMULATED | REAL
    assert DEFAULT_BOARD in boards and boards[DEFAULT_BOARD].core == "cortex-m4f"
    for name, board in boards.items():
        assert board.core in CORE_FLAGS
        assert board.emulated == (name in EMULATED)
        if board.emulated:
            assert board.cycles == ("mcycle" if board.arch == "riscv" else "systick")
            assert board.qemu_machine and board.flash_method == "qemu"
        else:
            assert board.cycles == ("mcycle" if board.arch == "riscv" else "dwt")
            assert board.flash_method in ("pyocd", "openocd", "picotool", "esptool", "dfu-util")
    assert boards["qemu-microbit"].core == "cortex-m0" and boards["qemu-microbit"].uart.driver == "nrf51_uart"
    assert boards["qemu-netduinoplus2"].uart.driver == "stm32_usart"
    assert boards["nrf52840-dk"].uart.driver == "nrf52_uarte"
    assert boards["nucleo-f401re"].qemu_twin == "netduinoplus2"
    assert boards["qemu-sifive-e"].core == "rv32imac" and boards["qemu-sifive-e"].uart.driver == "sifive_uart"
    assert boards["qemu-sifive-e"].cycles_kind == "mcycle-icount"


def test_unknown_board() -> None:
    with pytest.raises(BoardError, match="unknown board 'nope'; known boards: .*qemu-mps2-an386"):
        load_board("nope")


@pytest.mark.parametrize(
    ("old", "new", "field", "problem"),
    [
        ('core = "cortex-m4f"', 'core = "cortex-m99"', "core", "must be one of"),
        ("clock_hz = 25_000_000", 'clock_hz = "fast"', "clock_hz", "must be an integer"),
        ('driver = "cmsdk"', 'driver = "pl011"', "uart.driver", "must be one of cmsdk, stm32_usart"),
        ("base = 0x40004000", "", "uart.base", "is missing"),
        ('cycles = "systick"', 'cycles = "dwt"', "cycles", "QEMU does not model the DWT"),
        ("baud = 115200", "baud = 115200\nparity = true", "uart.parity", "is not a known field"),
        ('method = "qemu"', 'method = "openocd"', "flash.method", "must be 'qemu'"),
        (
            "ram = { origin = 0x20000000, size = 0x400000 }",
            "ram = { origin = 0xFFFF0000, size = 0x400000 }",
            "memory.ram.size",
            "past the 4 GiB",
        ),
        ("emulated = true", "emulated = yes", "", "not valid TOML"),
    ],
)
def test_board_validation_errors_name_file_and_field(
    tmp_path: Path, old: str, new: str, field: str, problem: str
) -> None:
    text = (boards_dir() / "qemu-mps2-an386.toml").read_text()
    assert old in text
    path = tmp_path / "qemu-mps2-an386.toml"
    path.write_text(text.replace(old, new))
    with pytest.raises(BoardError) as caught:
        load_board(str(path))
    message = str(caught.value)
    assert str(path) in message and problem in message
    if field:
        assert f"field {field} " in message


def test_board_name_must_match_file(tmp_path: Path) -> None:
    path = tmp_path / "other.toml"
    shutil.copy(boards_dir() / "qemu-mps2-an386.toml", path)
    with pytest.raises(BoardError, match="field name 'qemu-mps2-an386' must match the file name 'other'"):
        load_board(str(path))


def test_nrf_baud_must_be_supported(tmp_path: Path) -> None:
    path = tmp_path / "qemu-microbit.toml"
    path.write_text((boards_dir() / "qemu-microbit.toml").read_text().replace("baud = 115200", "baud = 123456"))
    with pytest.raises(BoardError, match=r"field uart.baud 123456 is not a rate the nrf51_uart supports"):
        load_board(str(path))


def test_dwt_needs_a_core_with_one(tmp_path: Path) -> None:
    path = tmp_path / "bluepill-f103c8.toml"
    text = (boards_dir() / "bluepill-f103c8.toml").read_text().replace('core = "cortex-m3"', 'core = "cortex-m0"')
    path.write_text(text)
    with pytest.raises(BoardError, match="'dwt' needs a core with a DWT cycle counter"):
        load_board(str(path))


@pytest.mark.parametrize(("board", "old", "new", "problem"), [
    ("qemu-sifive-e", 'cycles = "mcycle"', 'cycles = "systick"', "'systick' is not a counter of rv32imac"),
    ("qemu-mps2-an386", 'cycles = "systick"', 'cycles = "mcycle"', "'mcycle' is not a counter of cortex-m4f"),
])  # fmt: skip
def test_cycle_counter_must_belong_to_the_core(tmp_path: Path, board: str, old: str, new: str, problem: str) -> None:
    path = tmp_path / f"{board}.toml"
    path.write_text((boards_dir() / f"{board}.toml").read_text().replace(old, new))
    with pytest.raises(BoardError, match=f"field cycles {problem}"):
        load_board(str(path))


def test_boards_command() -> None:
    runner = CliRunner()
    listed = runner.invoke(cli, ["boards"])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines[0].split()[:5] == ["name", "core", "clock", "flash", "RAM"]
    assert any(line.startswith(f"{DEFAULT_BOARD} *") for line in lines)
    assert any("nucleo-f401re" in line and "openocd" in line and "no" in line for line in lines)
    as_json = runner.invoke(cli, ["boards", "--json"])
    assert as_json.exit_code == 0
    data = json.loads(as_json.output)
    assert data["default"] == DEFAULT_BOARD
    assert {b["name"] for b in data["boards"]} == set(board_names())
    sample = next(b for b in data["boards"] if b["name"] == "qemu-microbit")
    assert sample["core"] == "cortex-m0" and sample["flash_bytes"] == 256 * 1024 and sample["emulated"] is True


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fixed16", "float32"])
@pytest.mark.parametrize("board", sorted(REAL))
def test_real_boards_build_and_link_within_memory(tmp_path_factory: pytest.TempPathFactory, board: str,
                                                  precision: str) -> None:  # fmt: skip
    exported = shared_export(tmp_path_factory, precision)
    result = build_firmware(exported.directory, board)
    target = load_board(board)
    for path in (result.elf, result.bin, result.hex, result.directory / "firmware.map", result.directory / "size.json"):
        assert path.is_file()
    size = result.size
    assert 0 < size.flash_used <= target.flash.size and 0 < size.ram_used <= target.ram.size
    assert 0 < size.model_flash < size.flash_used
    assert size.flash_used >= exported.manifest["memory"]["params"]
    assert result.bin.stat().st_size <= target.flash.size
    info = json.loads((result.directory / "build.json").read_text())
    assert info["model_hash"] == exported.manifest["model_hash"] and info["board"] == board


@pytest.mark.slow
def test_build_is_cached_and_atomic(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    exported = shared_export(tmp_path_factory, "fixed16")
    first = build_firmware(exported.directory, "qemu-mps2-an385")
    again = build_firmware(exported.directory, "qemu-mps2-an385")
    assert again.cached and again.size == first.size
    assert not build_firmware(exported.directory, "qemu-mps2-an385", force=True).cached
    # A changed board file is a changed input: rebuilt.
    path = tmp_path / "qemu-mps2-an385.toml"
    path.write_text((boards_dir() / "qemu-mps2-an385.toml").read_text().replace("baud = 115200", "baud = 57600"))
    changed = build_firmware(exported.directory, str(path))
    assert not changed.cached
    leftovers = [p.name for p in (exported.directory / "fw").iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_fit_hints_suggest_only_what_would_change_the_model(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    """A fixed16 export is not told to use fixed16; a CfC with a backbone is told to shrink it, an LTC is not."""
    import torch
    from ncps.torch import CfC

    from lnn_edge.codegen.export import export
    from lnn_edge.model.importers import from_module

    ltc16 = fit_hints(shared_export(tmp_path_factory, "fixed16"))
    assert not any("--precision" in hint for hint in ltc16) and not any("backbone" in hint for hint in ltc16)
    assert "a smaller wiring (now 19 neurons)" in ltc16
    torch.manual_seed(0)
    cfc = export(from_module(CfC(4, 8, backbone_units=16, backbone_layers=2)), tmp_path / "cfc", "float32")
    hints = fit_hints(cfc)
    assert any("--precision fixed16" in hint for hint in hints)
    assert "fewer backbone units or layers (now 2 x 16)" in hints


@pytest.mark.slow
def test_firmware_that_does_not_fit_is_a_clear_error(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    exported = shared_export(tmp_path_factory, "float32")
    good = build_firmware(exported.directory, "bluepill-f103c8")
    before = (good.directory / "build.json").read_text()
    path = tmp_path / "bluepill-f103c8.toml"
    text = (boards_dir() / "bluepill-f103c8.toml").read_text()
    path.write_text(text.replace("size = 0x10000 }", "size = 0x1000 }"))  # 4 KiB of flash
    with pytest.raises(BuildError, match=r"does not fit bluepill-f103c8: it needs \d+ B of flash") as raised:
        build_firmware(exported.directory, str(path))
    message = str(raised.value)
    assert re.search(r"\d+ B more than the board's 4096 B", message) and "--precision fixed16" in message
    assert "backbone" not in message  # an LTC has none
    # The failed build left the previous, complete one in place (written atomically).
    assert (good.directory / "build.json").read_text() == before and good.elf.is_file()
    path.write_text(text.replace("size = 0x5000 }", "size = 0x800 }"))  # 2 KiB of RAM
    with pytest.raises(BuildError, match=r"\d+ B of RAM, \d+ B more than the board's 2048 B"):
        build_firmware(exported.directory, str(path))


@pytest.mark.slow
def test_build_command_json(tmp_path_factory: pytest.TempPathFactory) -> None:
    exported = shared_export(tmp_path_factory, "fixed16")
    result = CliRunner().invoke(cli, ["build", str(exported.directory), "--board", "qemu-microbit", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["board"] == "qemu-microbit" and data["core"] == "cortex-m0"
    assert Path(data["elf"]).is_file() and data["size"]["flash_used"] <= data["size"]["flash_size"]
    text = CliRunner().invoke(cli, ["build", str(exported.directory), "--board", "qemu-microbit"])
    assert "flash" in text.output and "of 256.0 KiB" in text.output and "model" in text.output


@pytest.mark.slow
@pytest.mark.parametrize(
    ("board", "tool", "expected"),
    [
        ("nucleo-f401re", None, ["openocd", "-f", "board/st_nucleo_f4.cfg", "-c"]),
        ("stm32f4-discovery", None, ["openocd", "-f", "board/stm32f4discovery.cfg", "-c"]),
        ("bluepill-f103c8", None, ["openocd", "-f", "interface/stlink.cfg", "-f", "target/stm32f1x.cfg", "-c"]),
        ("nrf52840-dk", None, ["pyocd", "flash", "--target", "nrf52840"]),
        ("nrf52840-dk", "openocd", ["openocd", "-f", "board/nordic_nrf52_dk.cfg", "-c"]),
        ("nucleo-f401re", "pyocd", ["pyocd", "flash", "--target", "stm32f401retx"]),
    ],
)
def test_flash_commands(tmp_path_factory: pytest.TempPathFactory, board: str, tool: str | None,
                        expected: list[str]) -> None:  # fmt: skip
    exported = shared_export(tmp_path_factory, "fixed16")
    built = build_firmware(exported.directory, board)
    plan = flash_plan(load_board(board), built, tool)
    assert plan.command[: len(expected)] == expected
    image = plan.command[-1]
    assert image.endswith((".hex", ".elf", "verify reset exit"))
    assert str(built.directory) in plan.shell()
    args = ["flash", str(exported.directory), "--board", board, "--dry-run"] + (["--tool", tool] if tool else [])
    shown = CliRunner().invoke(cli, args)
    assert shown.exit_code == 0 and shown.output.strip() == plan.shell()


def test_flash_tool_the_board_lacks(tmp_path_factory: pytest.TempPathFactory) -> None:
    exported = shared_export(tmp_path_factory, "fixed16")
    result = CliRunner().invoke(cli, ["flash", str(exported.directory), "--board", "bluepill-f103c8", "--tool",
                                      "picotool", "--dry-run"])  # fmt: skip
    assert result.exit_code == 1
    assert "cannot be flashed with picotool; its board file configures openocd" in result.output


def test_flash_without_the_tool_says_what_to_install(tmp_path_factory: pytest.TempPathFactory,
                                                     monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:  # fmt: skip
    exported = shared_export(tmp_path_factory, "fixed16")
    built = build_firmware(exported.directory, "nrf52840-dk")
    monkeypatch.setenv("PATH", str(tmp_path))  # no flashing tool can be found
    with pytest.raises(MissingDependencyError, match=r"pyocd is not installed: pip install pyocd"):
        run_plan(flash_plan(load_board("nrf52840-dk"), built))
    with pytest.raises(MissingDependencyError, match=r"openocd is not installed: apt-get install openocd"):
        run_plan(flash_plan(load_board("nrf52840-dk"), built, "openocd"))


def test_flash_dry_run_emulated(tmp_path_factory: pytest.TempPathFactory) -> None:
    exported = shared_export(tmp_path_factory, "fixed16")
    result = CliRunner().invoke(cli, ["flash", str(exported.directory), "--board", "qemu-microbit", "--dry-run",
                                      "--tcp-port", "4567"])  # fmt: skip
    assert result.exit_code == 0, result.output
    command = result.output.split()
    assert command[command.index("-M") + 1] == "microbit"
    assert "shift=6" in command and "enable=on,target=native" in command
    assert any("port=4567" in part and "server=on" in part for part in command)

"""Board definitions: one TOML file per board in ``boards/`` (package data), loaded and validated here.

A board says everything the build and the host need that is not in the export: the core (compiler flags),
clock, memory map, UART (driver, address, baud), cycle counter, how it is flashed, and for emulated boards
how QEMU runs it. Validation is strict (unknown keys are errors too, to catch typos) and every error names
the file and the field, because a wrong address in a board file otherwise shows up only as a silent board.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lnn_edge.errors import LnnEdgeError
from lnn_edge.resources import data_dir
from lnn_edge.target.toolchain import ARCHES, CORES, DWT_CORES

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10 with the tomli backport
    try:
        import tomli as tomllib  # type: ignore[no-redef]
    except ModuleNotFoundError:
        tomllib = None  # type: ignore[assignment]

DEFAULT_BOARD = "qemu-mps2-an386"
# The one list of UART drivers: a board file's [uart] driver -> the firmware source that implements it.
UART_DRIVERS: dict[str, str] = {
    "cmsdk": "hal/lnn_fw_uart_cmsdk.c",
    "stm32_usart": "hal/lnn_fw_uart_stm32_usart.c",
    "nrf51_uart": "hal/lnn_fw_uart_nrf51.c",
    "nrf52_uarte": "hal/lnn_fw_uart_nrf52_uarte.c",
    "sifive_uart": "hal/lnn_fw_uart_sifive.c",
    "esp32_uart": "hal/lnn_fw_uart_esp32.c",
}
# Cycle counter -> the instruction-set family that has it (lnn_edge.target.toolchain.ARCHES).
CYCLE_COUNTER_ARCH = {"dwt": "arm", "systick": "arm", "mcycle": "riscv"}
CYCLE_COUNTERS = tuple(CYCLE_COUNTER_ARCH)
FLASH_METHODS = ("qemu", "pyocd", "openocd", "picotool", "esptool", "dfu-util")

# BAUDRATE register values from Nordic's reference manuals (the UART and the UARTE differ slightly).
NRF51_UART_BAUD = {
    9600: 0x00275000, 19200: 0x004EA000, 38400: 0x009D5000, 57600: 0x00EBF000, 115200: 0x01D7E000,
    230400: 0x03AFB000, 460800: 0x075F7000, 921600: 0x0EBEDFA4, 1000000: 0x10000000,
}  # fmt: skip
NRF52_UARTE_BAUD = {
    9600: 0x00275000, 19200: 0x004EA000, 38400: 0x009D0000, 57600: 0x00EB0000, 115200: 0x01D60000,
    230400: 0x03B00000, 460800: 0x07400000, 921600: 0x0F000000, 1000000: 0x10000000,
}  # fmt: skip


class BoardError(LnnEdgeError):
    """A board file is missing, unreadable or has an invalid field."""


@dataclass(frozen=True)
class Region:
    """A memory region: origin and size in bytes."""

    origin: int
    size: int


@dataclass(frozen=True)
class Uart:
    """The UART the firmware talks through."""

    driver: str
    base: int
    baud: int
    clock_hz: int
    tx_pin: int | None = None
    rx_pin: int | None = None

    @property
    def baud_register(self) -> int | None:
        """The nRF BAUDRATE register value for ``baud`` (None for other drivers)."""
        if self.driver == "nrf51_uart":
            return NRF51_UART_BAUD[self.baud]
        if self.driver == "nrf52_uarte":
            return NRF52_UARTE_BAUD[self.baud]
        return None


@dataclass(frozen=True)
class SetupWrite:
    """One read-modify-write register operation applied before the UART starts."""

    addr: int
    clear: int
    set: int
    comment: str = ""


@dataclass(frozen=True)
class Board:
    """A validated board definition (see ``boards/README.md`` for the fields)."""

    name: str
    description: str
    core: str
    clock_hz: int
    emulated: bool
    cycles: str
    flash: Region
    ram: Region
    uart: Uart
    flash_method: str
    path: Path
    cflags: tuple[str, ...] = ()
    stack_size: int = 1024
    qemu_machine: str | None = None
    qemu_twin: str | None = None
    qemu_serial: int = 0
    icount_shift: int = 6
    pyocd_target: str | None = None
    openocd: tuple[str, ...] = ()
    picotool: bool = False
    esptool_chip: str | None = None
    """esptool's --chip (ESP32 parts: the image is converted with elf2image and written at 0x0)."""
    dfu_device: str | None = None
    """The USB vendor:product of the part's DFU boot loader, for dfu-util (GD32VF103: 28e9:0189)."""
    setup: tuple[SetupWrite, ...] = field(default_factory=tuple)

    @property
    def arch(self) -> str:
        """The instruction-set family of the board's core ('arm', 'riscv')."""
        return CORES[self.core].arch

    @property
    def cycles_kind(self) -> str:
        """How cycle counts from this board are to be read: the counter's name on hardware ('dwt', 'systick',
        'mcycle'); in QEMU the same name with '-icount' ('systick-icount', 'mcycle-icount': counts proportional
        to executed instructions)."""
        if self.emulated:
            return f"{self.cycles}-icount"
        return self.cycles

    @property
    def qemu_target(self) -> str | None:
        """The QEMU machine that runs this board's image: the board itself, or its twin."""
        return self.qemu_machine if self.emulated else self.qemu_twin

    def summary(self) -> dict[str, Any]:
        """The fields ``lnn-edge boards`` shows."""
        return {
            "name": self.name,
            "description": self.description,
            "core": self.core,
            "clock_hz": self.clock_hz,
            "flash_bytes": self.flash.size,
            "ram_bytes": self.ram.size,
            "flash_method": self.flash_method,
            "emulated": self.emulated,
            "uart": self.uart.driver,
            "cycles": self.cycles,
            "qemu_machine": self.qemu_machine,
            "qemu_twin": self.qemu_twin,
        }


def boards_dir() -> Path:
    """The folder of the shipped board files."""
    return data_dir() / "boards"


def board_names() -> list[str]:
    """Names of the shipped boards, sorted."""
    return sorted(path.stem for path in boards_dir().glob("*.toml"))


def list_boards() -> list[Board]:
    """Every shipped board, validated."""
    return [load_board_file(boards_dir() / f"{name}.toml") for name in board_names()]


def load_board(name_or_path: str | os.PathLike[str]) -> Board:
    """A shipped board by name, or a board file by path (anything ending in .toml)."""
    text = str(name_or_path)
    if text.endswith(".toml"):
        return load_board_file(Path(text))
    path = boards_dir() / f"{text}.toml"
    if not path.is_file():
        raise BoardError(
            f"unknown board {text!r}; known boards: {', '.join(board_names())} (or a path to a .toml file)"
        )
    return load_board_file(path)


class _Fields:
    """Typed access to one TOML table with errors that name the file and the dotted field."""

    def __init__(self, path: Path, table: dict[str, Any], prefix: str = "") -> None:
        self.path = path
        self.table = table
        self.prefix = prefix
        self.used: set[str] = set()

    def fail(self, key: str, problem: str) -> BoardError:
        return BoardError(f"{self.path}: field {self.prefix}{key} {problem}")

    def _get(self, key: str, required: bool) -> Any:
        self.used.add(key)
        if key not in self.table:
            if required:
                raise self.fail(key, "is missing")
            return None
        return self.table[key]

    def text(self, key: str, required: bool = True, pattern: str | None = None) -> str | None:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            raise self.fail(key, f"must be a non-empty string (got {value!r})")
        if pattern is not None and not re.fullmatch(pattern, value):
            raise self.fail(key, f"{value!r} is not valid (expected {pattern})")
        return value

    def choice(self, key: str, options: tuple[str, ...], required: bool = True) -> str | None:
        value = self.text(key, required)
        if value is not None and value not in options:
            raise self.fail(key, f"must be one of {', '.join(options)} (got {value!r})")
        return value

    def integer(self, key: str, required: bool = True, low: int = 0, high: int = 0xFFFFFFFF) -> int | None:
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"must be an integer (got {value!r})")
        if not low <= value <= high:
            raise self.fail(key, f"must be between {low:#x} and {high:#x} (got {value:#x})")
        return value

    def boolean(self, key: str, required: bool = True) -> bool | None:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false (got {value!r})")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self._get(key, False)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
            raise self.fail(key, f"must be a list of strings (got {value!r})")
        return tuple(value)

    def sub(self, key: str, required: bool = True) -> _Fields | None:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.fail(key, "must be a table")
        return _Fields(self.path, value, f"{self.prefix}{key}.")

    def done(self) -> None:
        unknown = sorted(set(self.table) - self.used)
        if unknown:
            raise self.fail(unknown[0], f"is not a known field (known here: {', '.join(sorted(self.used))})")


def _region(fields: _Fields, key: str) -> Region:
    table = fields.sub(key)
    assert table is not None
    origin = table.integer("origin")
    size = table.integer("size", low=1)
    assert origin is not None and size is not None
    if origin + size > 1 << 32:
        raise table.fail("size", f"puts the region past the 4 GiB address space ({origin:#x} + {size:#x})")
    table.done()
    return Region(origin, size)


def load_board_file(path: Path) -> Board:
    """Read and validate one board file."""
    if tomllib is None:  # pragma: no cover
        raise BoardError("reading board files needs Python 3.11+ (tomllib) or the tomli package: pip install tomli")
    path = Path(path)
    if not path.is_file():
        raise BoardError(f"{path}: no such board file")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise BoardError(f"{path}: not valid TOML ({error})") from None
    top = _Fields(path, data)
    name = top.text("name", pattern=r"[a-z0-9][a-z0-9_.-]*")
    assert name is not None
    if name != path.stem:
        raise top.fail("name", f"{name!r} must match the file name {path.stem!r}")
    description = top.text("description")
    core = top.choice("core", tuple(CORES))
    clock_hz = top.integer("clock_hz", low=1)
    emulated = top.boolean("emulated")
    cycles = top.choice("cycles", CYCLE_COUNTERS)
    cflags = top.strings("cflags")
    stack_size = top.integer("stack_size", required=False, low=256, high=1 << 24)
    qemu_twin = top.text("qemu_twin", required=False)
    assert description is not None and core is not None and clock_hz is not None
    assert emulated is not None and cycles is not None
    if CYCLE_COUNTER_ARCH[cycles] != CORES[core].arch:
        counters = [name for name, arch in CYCLE_COUNTER_ARCH.items() if arch == CORES[core].arch]
        raise top.fail("cycles", f"{cycles!r} is not a counter of {core} ({ARCHES[CORES[core].arch].name}): "
                                 f"use {' or '.join(counters)}")  # fmt: skip
    if cycles == "dwt" and core not in DWT_CORES:
        raise top.fail(
            "cycles", f"'dwt' needs a core with a DWT cycle counter ({', '.join(DWT_CORES)}); {core} has none"
        )
    if emulated and cycles == "dwt":
        raise top.fail("cycles", "must be 'systick' on an emulated board: QEMU does not model the DWT cycle counter")
    if emulated and qemu_twin is not None:
        raise top.fail("qemu_twin", "is for real boards only (an emulated board is its own QEMU machine)")

    memory = top.sub("memory")
    assert memory is not None
    flash = _region(memory, "flash")
    ram = _region(memory, "ram")
    memory.done()

    uart_fields = top.sub("uart")
    assert uart_fields is not None
    driver = uart_fields.choice("driver", tuple(UART_DRIVERS))
    base = uart_fields.integer("base")
    baud = uart_fields.integer("baud", low=300, high=12_000_000)
    uart_clock = uart_fields.integer("clock_hz", required=False, low=1)
    tx_pin = uart_fields.integer("tx_pin", required=False, high=63)
    rx_pin = uart_fields.integer("rx_pin", required=False, high=63)
    assert driver is not None and base is not None and baud is not None
    if driver.startswith("nrf"):
        table = NRF51_UART_BAUD if driver == "nrf51_uart" else NRF52_UARTE_BAUD
        if baud not in table:
            raise uart_fields.fail("baud", f"{baud} is not a rate the {driver} supports ({', '.join(map(str, table))})")
        if tx_pin is None or rx_pin is None:
            raise uart_fields.fail("tx_pin" if tx_pin is None else "rx_pin", f"is required by the {driver} driver")
    uart_fields.done()
    uart = Uart(driver, base, baud, uart_clock or clock_hz, tx_pin, rx_pin)

    flash_fields = top.sub("flash")
    assert flash_fields is not None
    method = flash_fields.choice("method", FLASH_METHODS)
    qemu_machine = flash_fields.text("qemu_machine", required=False)
    pyocd_target = flash_fields.text("pyocd_target", required=False)
    openocd = flash_fields.strings("openocd")
    picotool = bool(flash_fields.boolean("picotool", required=False))
    esptool_chip = flash_fields.text("esptool", required=False, pattern=r"esp32[a-z0-9]*")
    dfu_device = flash_fields.text("dfu_util", required=False, pattern=r"[0-9a-f]{4}:[0-9a-f]{4}")
    assert method is not None
    if emulated and (method != "qemu" or qemu_machine is None):
        raise flash_fields.fail("method" if method != "qemu" else "qemu_machine",
                                "must be 'qemu' with a qemu_machine on an emulated board")  # fmt: skip
    if not emulated and method == "qemu":
        raise flash_fields.fail("method", "cannot be 'qemu' on a real board (use pyocd, openocd, picotool, "
                                          "esptool or dfu-util)")  # fmt: skip
    if not emulated and qemu_machine is not None:
        raise flash_fields.fail("qemu_machine", "is for emulated boards; a real board names its qemu_twin")
    needed = {"pyocd": pyocd_target, "openocd": openocd or None, "picotool": picotool or None,
              "esptool": esptool_chip, "dfu-util": dfu_device}  # fmt: skip
    if method in needed and needed[method] is None:
        key = {"pyocd": "pyocd_target", "openocd": "openocd", "picotool": "picotool", "esptool": "esptool",
               "dfu-util": "dfu_util"}[method]  # fmt: skip
        raise flash_fields.fail(key, f"is required when method is {method!r}")
    flash_fields.done()

    qemu_fields = top.sub("qemu", required=False)
    qemu_serial, icount_shift = 0, 6
    if qemu_fields is not None:
        qemu_serial = qemu_fields.integer("serial", required=False, high=7) or 0
        shift = qemu_fields.integer("icount_shift", required=False, high=10)
        icount_shift = 6 if shift is None else shift
        qemu_fields.done()

    setup = _setup(path, top)
    top.done()
    return Board(
        name=name, description=description, core=core, clock_hz=clock_hz, emulated=emulated, cycles=cycles,
        flash=flash, ram=ram, uart=uart, flash_method=method, path=path, cflags=cflags,
        stack_size=stack_size or 1024, qemu_machine=qemu_machine, qemu_twin=qemu_twin, qemu_serial=qemu_serial,
        icount_shift=icount_shift, pyocd_target=pyocd_target, openocd=openocd, picotool=picotool,
        esptool_chip=esptool_chip, dfu_device=dfu_device, setup=setup,
    )  # fmt: skip


def _setup(path: Path, top: _Fields) -> tuple[SetupWrite, ...]:
    entries = top._get("setup", False)
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise top.fail("setup", "must be an array of tables ([[setup]])")
    writes = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise top.fail(f"setup[{index}]", "must be a table")
        fields = _Fields(path, entry, f"setup[{index}].")
        addr = fields.integer("addr")
        clear = fields.integer("clear", required=False) or 0
        set_bits = fields.integer("set", required=False) or 0
        comment = fields.text("comment", required=False) or ""
        assert addr is not None
        if addr % 4:
            raise fields.fail("addr", f"{addr:#x} is not 32-bit aligned")
        fields.done()
        writes.append(SetupWrite(addr, clear, set_bits, comment))
    return tuple(writes)

"""Run one function of a built firmware image in Unicorn, with the SoC's registers modelled in Python.

QEMU has no nRF52840 machine, so the nRF52840 DK image is otherwise only built and linked. Here its
``lnn_fw_board_setup`` runs alone on Unicorn's Cortex-M4: flash holds the real ``firmware.bin``, RAM is plain
memory, and every access to a register region goes through a ``RegisterModel`` that records the writes in order
and answers the reads (UICR.APPROTECT, the HFXO's HFCLKSTARTED event...). The register addresses below are those
of Nordic's MDK (``nrf52840.h``, ``nrf52840_bitfields.h``), written out here so the test does not trust the
firmware's own definitions.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import unicorn
from unicorn import arm_const

from lnn_edge.target.build import BuildResult
from lnn_edge.target.toolchain import require_tool

# nRF52840 registers: NRF_<PERIPHERAL>_BASE + the register's offset in its MDK struct.
FICR_HW_PART = 0x10000130  # read by the MDK's nrf52_configuration_249() (0x08: nRF52840)
FICR_HW_REVISION = 0x10000134  # same function: 5 and above have the hardware-controlled APPROTECT
UICR_APPROTECT = 0x10001208  # NRF_UICR->APPROTECT
APPROTECT_FORCEPROTECT = 0x40000550  # NRF_APPROTECT->FORCEPROTECT
APPROTECT_DISABLE = 0x40000558  # NRF_APPROTECT->DISABLE
CLOCK_TASKS_HFCLKSTART = 0x40000000  # NRF_CLOCK->TASKS_HFCLKSTART
CLOCK_TASKS_HFCLKSTOP = 0x40000004  # NRF_CLOCK->TASKS_HFCLKSTOP
CLOCK_EVENTS_HFCLKSTARTED = 0x40000100  # NRF_CLOCK->EVENTS_HFCLKSTARTED
NVMC_ICACHECNF = 0x4001E540  # NRF_NVMC->ICACHECNF
UICR_APPROTECT_PALL_HWDISABLED = 0x5A
APPROTECT_DISABLE_SWDISABLE = 0x5A
NVMC_ICACHECNF_CACHEEN = 1 << 0
NVMC_ICACHECNF_CACHEPROFEN = 1 << 8

# Register regions of the nRF52840 the set-up may touch: FICR+UICR, and the APB peripherals.
NRF52840_REGIONS = ((0x10000000, 0x2000), (0x40000000, 0x40000))
# STM32F4: every peripheral bus (APB1/APB2/AHB1/AHB2).
STM32_REGIONS = ((0x40000000, 0x10000000),)

RETURN_OFFSET = 0x10  # below the end of mapped flash, never executed: the function returns there and emulation stops


@dataclass
class RegisterModel:
    """Registers as plain storage (reset value 0): every write is recorded, in order, and read back."""

    writes: list[tuple[int, int]] = field(default_factory=list)
    reads: Counter[int] = field(default_factory=Counter)
    values: dict[int, int] = field(default_factory=dict)

    def read(self, addr: int) -> int:
        self.reads[addr] += 1
        return self.values.get(addr, 0)

    def write(self, addr: int, value: int) -> None:
        self.writes.append((addr, value))
        self.values[addr] = value


@dataclass
class Nrf52840Model(RegisterModel):
    """The nRF52840 registers the set-up reads: FICR's revision words, UICR.APPROTECT, and an HFXO that starts
    ``hfxo_polls`` reads of EVENTS_HFCLKSTARTED after TASKS_HFCLKSTART is triggered (None: never starts)."""

    uicr_approtect: int = 0xFFFFFFFF
    ficr_part: int = 0x08
    ficr_revision: int = 0x05
    hfxo_polls: int | None = 3
    _polls_since_start: int | None = None

    def read(self, addr: int) -> int:
        self.reads[addr] += 1
        fixed = {
            FICR_HW_PART: self.ficr_part,
            FICR_HW_REVISION: self.ficr_revision,
            UICR_APPROTECT: self.uicr_approtect,
        }
        if addr in fixed:
            return fixed[addr]
        if addr == CLOCK_EVENTS_HFCLKSTARTED and self._polls_since_start is not None:
            self._polls_since_start += 1
            if self.hfxo_polls is not None and self._polls_since_start >= self.hfxo_polls:
                self.values[addr] = 1
        if 0x10000000 <= addr < 0x10002000:
            return 0xFFFFFFFF  # erased FICR/UICR words
        return self.values.get(addr, 0)

    def write(self, addr: int, value: int) -> None:
        super().write(addr, value)
        if addr == CLOCK_TASKS_HFCLKSTART and value == 1:
            self._polls_since_start = 0


@dataclass(frozen=True)
class FirmwareImage:
    """A built firmware's flat flash contents, its memory map and its function addresses."""

    flash: bytes
    flash_origin: int
    flash_size: int
    ram_origin: int
    ram_size: int
    symbols: dict[str, int]


def load_image(built: BuildResult) -> FirmwareImage:
    """The flash image (``firmware.bin`` starts at the board's flash origin) and the ELF's function symbols
    (from arm-none-eabi-nm)."""
    listing = subprocess.run([require_tool("arm-none-eabi-nm"), "--defined-only", str(built.elf)],
                             capture_output=True, text=True, check=True).stdout  # fmt: skip
    symbols = {}
    for line in listing.splitlines():
        address, kind, name = line.split()
        if kind.upper() == "T":
            symbols[name] = int(address, 16)
    flash, ram = built.board.flash, built.board.ram
    return FirmwareImage(Path(built.bin).read_bytes(), flash.origin, flash.size, ram.origin, ram.size, symbols)


@dataclass(frozen=True)
class CallResult:
    """How a call ended: whether it returned within the instruction budget."""

    returned: bool
    pc: int


def call_function(
    image: FirmwareImage,
    symbol: str,
    model: RegisterModel,
    regions: tuple[tuple[int, int], ...],
    max_instructions: int = 2_000_000,
) -> CallResult:
    """Call ``symbol()`` on a Cortex-M4 with ``regions`` served by ``model``; stop after ``max_instructions``."""
    uc = unicorn.Uc(unicorn.UC_ARCH_ARM, unicorn.UC_MODE_THUMB | unicorn.UC_MODE_MCLASS)
    uc.ctl_set_cpu_model(arm_const.UC_CPU_ARM_CORTEX_M4)
    uc.mem_map(image.flash_origin, image.flash_size)
    uc.mem_write(image.flash_origin, image.flash)
    uc.mem_map(image.ram_origin, image.ram_size)
    for base, size in regions:
        uc.mmio_map(base, size, _read, (model, base), _write, (model, base))
    uc.reg_write(arm_const.UC_ARM_REG_SP, image.ram_origin + image.ram_size)
    return_addr = image.flash_origin + image.flash_size - RETURN_OFFSET
    uc.reg_write(arm_const.UC_ARM_REG_LR, return_addr | 1)
    uc.emu_start(image.symbols[symbol] | 1, return_addr, count=max_instructions)
    pc = uc.reg_read(arm_const.UC_ARM_REG_PC)
    return CallResult(returned=pc == return_addr, pc=pc)


def _read(_uc: Any, offset: int, size: int, context: tuple[RegisterModel, int]) -> int:
    model, base = context
    assert size == 4, f"{size}-byte read at {base + offset:#010x}: registers are read as 32-bit words"
    return model.read(base + offset)


def _write(_uc: Any, offset: int, size: int, value: int, context: tuple[RegisterModel, int]) -> None:
    model, base = context
    assert size == 4, f"{size}-byte write at {base + offset:#010x}: registers are written as 32-bit words"
    model.write(base + offset, value)

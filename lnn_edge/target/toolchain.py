"""The one place for tool facts: the instruction-set families (Arm, RISC-V: cross tools, QEMU, Unicorn and
Capstone names), the cores (compiler flags, FPU, cycle counter, emulator model), the external tools and how to
install each, and ``require_tool`` to find one or say exactly what to install.

Boards, firmware builds, bench images, the instruction counter and the tests all read the core table here, so a
core is added once. Compiler checks of generated C that only the tests run live in tests/support/.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from lnn_edge.errors import MissingDependencyError


@dataclass(frozen=True)
class Arch:
    """An instruction-set family: its cross tools, its QEMU, and its names in Unicorn and Capstone."""

    name: str
    tool_prefix: str
    """Prefix of the cross binutils and gcc: ``<prefix>gcc``, ``<prefix>objcopy``..."""
    packages: str
    """The Debian packages of the cross compiler (with its C library where linking needs one)."""
    qemu: str
    """The QEMU system emulator of this family."""
    qemu_package: str
    unicorn_arch: str
    """Unicorn's architecture constant (``unicorn.UC_ARCH_*``)."""
    unicorn_modes: tuple[str, ...]
    """Unicorn's mode constants, or-ed together (``unicorn.UC_MODE_*``)."""
    unicorn_consts: str
    """The Unicorn module of this family's registers and CPU models (``unicorn.arm_const``...)."""
    capstone_arch: str
    capstone_modes: tuple[str, ...]


ARCHES: dict[str, Arch] = {
    arch.name: arch
    for arch in (
        Arch("arm", "arm-none-eabi-", "gcc-arm-none-eabi libnewlib-arm-none-eabi", "qemu-system-arm",
             "qemu-system-arm", "UC_ARCH_ARM", ("UC_MODE_THUMB", "UC_MODE_MCLASS"), "arm_const", "CS_ARCH_ARM",
             ("CS_MODE_THUMB", "CS_MODE_MCLASS")),
        # Debian's riscv64-unknown-elf-gcc builds rv32 too (its ilp32 multilibs). Images are -nostdlib and link
        # only libgcc, but the C headers (<string.h>, and <stdint.h> outside -ffreestanding) come from picolibc.
        Arch("riscv", "riscv64-unknown-elf-", "gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf",
             "qemu-system-riscv32", "qemu-system-misc",
             "UC_ARCH_RISCV", ("UC_MODE_RISCV32",), "riscv_const", "CS_ARCH_RISCV",
             ("CS_MODE_RISCV32", "CS_MODE_RISCVC")),
    )
}  # fmt: skip


@dataclass(frozen=True)
class Core:
    """A microcontroller core lnn-edge builds for (Cortex-M, or RV32)."""

    name: str
    label: str
    """Short name for tables and plots: M0, M4F, RV32IMC..."""
    arch: str
    """The key of its family in ``ARCHES``."""
    flags: tuple[str, ...]
    """gcc target flags; the float ABI follows the FPU (hard-float where there is one)."""
    fpu: bool
    """A single-precision FPU (float32 runs on it; the bench image enables it)."""
    dwt: bool
    """A DWT cycle counter (ARMv7-M and later; not ARMv6-M)."""
    unicorn_cpu: str
    """The name of Unicorn's CPU model constant in the family's ``unicorn_consts`` module."""

    def tool(self, name: str) -> str:
        """The cross tool ``name`` (``gcc``, ``objcopy``, ``objdump``, ``nm``) of this core's family."""
        return ARCHES[self.arch].tool_prefix + name


# GCC 12 follows the 20191213 ISA spec, where the CSR instructions are the Zicsr extension; naming it in -march
# (rv32imac_zicsr) makes GCC 12 miss its ilp32 multilibs and link rv64's libgcc. -misa-spec=2.2 puts the CSR
# instructions back in I (the firmware reads mcycle), and the multilib stays rv32im[a]c/ilp32 (rv32imc reuses
# rv32im's). Neither RV32 core has an FPU: float32 is soft float (libgcc). picolibc.specs adds picolibc's
# headers (and, with -nostdlib and a -T script, nothing else to a link).
RISCV_FLAGS = ("-mabi=ilp32", "-misa-spec=2.2", "--specs=picolibc.specs")

CORES: dict[str, Core] = {
    core.name: core
    for core in (
        Core("cortex-m0", "M0", "arm", ("-mcpu=cortex-m0", "-mthumb", "-mfloat-abi=soft"), False, False,
             "UC_CPU_ARM_CORTEX_M0"),
        Core("cortex-m3", "M3", "arm", ("-mcpu=cortex-m3", "-mthumb", "-mfloat-abi=soft"), False, True,
             "UC_CPU_ARM_CORTEX_M3"),
        Core("cortex-m4f", "M4F", "arm", ("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"),
             True, True, "UC_CPU_ARM_CORTEX_M4"),
        Core("cortex-m7", "M7", "arm", ("-mcpu=cortex-m7", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-d16"), True,
             True, "UC_CPU_ARM_CORTEX_M7"),
        Core("cortex-m33", "M33", "arm", ("-mcpu=cortex-m33", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-sp-d16"),
             True, True, "UC_CPU_ARM_CORTEX_M33"),
        # ESP32-C3, CH32V003-class parts: no atomics. Unicorn has no IMC-only model; E31 (IMAC) runs IMC code.
        Core("rv32imc", "RV32IMC", "riscv", ("-march=rv32imc", *RISCV_FLAGS), False, False,
             "UC_CPU_RISCV32_SIFIVE_E31"),
        # SiFive FE310 (E31), GD32VF103 (Bumblebee).
        Core("rv32imac", "RV32IMAC", "riscv", ("-march=rv32imac", *RISCV_FLAGS), False, False,
             "UC_CPU_RISCV32_SIFIVE_E31"),
    )
}  # fmt: skip

CORE_FLAGS: dict[str, list[str]] = {name: list(core.flags) for name, core in CORES.items()}
"""core name -> gcc target flags (a view of ``CORES``)."""
FPU_CORES = tuple(name for name, core in CORES.items() if core.fpu)
DWT_CORES = tuple(name for name, core in CORES.items() if core.dwt)
ARM_CORES = tuple(name for name, core in CORES.items() if core.arch == "arm")
RISCV_CORES = tuple(name for name, core in CORES.items() if core.arch == "riscv")

ARM_TOOLCHAIN_PACKAGES = ARCHES["arm"].packages
"""The cross compiler with its C library: linking firmware needs newlib's headers and libgcc."""


def _apt(packages: str) -> str:
    return f"apt-get install --no-install-recommends {packages}"


CROSS_TOOLS = ("gcc", "objcopy", "objdump", "nm", "size", "readelf")
"""The cross tools lnn-edge or its tests run, per family (each family's compiler package has them all)."""

TOOL_INSTALL: dict[str, str] = {
    "gcc": _apt("gcc"),
    "cc": _apt("gcc"),
    "clang": _apt("clang"),
    **{arch.tool_prefix + tool: _apt(arch.packages) for arch in ARCHES.values() for tool in CROSS_TOOLS},
    **{arch.qemu: _apt(arch.qemu_package) for arch in ARCHES.values()},
    "pyocd": "pip install pyocd",
    "openocd": "apt-get install openocd",
    "picotool": "apt-get install picotool",
    "esptool.py": "pip install esptool",
    "dfu-util": _apt("dfu-util"),
}
"""Executable -> the command that installs it (Debian packages, or pip for pyocd and esptool)."""


def install_hint(name: str) -> str:
    """How to install the executable ``name`` (a path or a bare name)."""
    return TOOL_INSTALL.get(os.path.basename(name), "install the package that provides it")


def require_tool(name: str, note: str = "") -> str:
    """The path of the executable ``name``, or a MissingDependencyError (an LnnEdgeError) naming the tool and
    what to install; ``note`` is appended to the message."""
    path = shutil.which(name)
    if path is None:
        raise MissingDependencyError(f"{name} is not installed: {install_hint(name)}{note}")
    return path


def host_compiler() -> str:
    """The host C compiler: ``$CC`` when set (the harness and the tests honour it), else gcc."""
    return require_tool(os.environ.get("CC", "gcc"))

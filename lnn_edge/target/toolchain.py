"""The one place for tool facts: the Cortex-M cores (compiler flags, FPU, cycle counter, emulator model), the
external tools and how to install each, and ``require_tool`` to find one or say exactly what to install.

Boards, firmware builds, bench images, the instruction counter and the tests all read the core table here, so a
core is added once. Compiler checks of generated C that only the tests run live in tests/support/.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from lnn_edge.errors import MissingDependencyError


@dataclass(frozen=True)
class Core:
    """A Cortex-M core lnn-edge builds for."""

    name: str
    label: str
    """Short name for tables and plots: M0, M4F, ..."""
    flags: tuple[str, ...]
    """gcc target flags; the float ABI follows the FPU (hard-float where there is one)."""
    fpu: bool
    """A single-precision FPU (float32 runs on it; the bench image enables it)."""
    dwt: bool
    """A DWT cycle counter (ARMv7-M and later; not ARMv6-M)."""
    unicorn_cpu: str
    """The name of Unicorn's CPU model constant in ``unicorn.arm_const``."""


CORES: dict[str, Core] = {
    core.name: core
    for core in (
        Core("cortex-m0", "M0", ("-mcpu=cortex-m0", "-mthumb", "-mfloat-abi=soft"), False, False,
             "UC_CPU_ARM_CORTEX_M0"),
        Core("cortex-m3", "M3", ("-mcpu=cortex-m3", "-mthumb", "-mfloat-abi=soft"), False, True,
             "UC_CPU_ARM_CORTEX_M3"),
        Core("cortex-m4f", "M4F", ("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"), True,
             True, "UC_CPU_ARM_CORTEX_M4"),
        Core("cortex-m7", "M7", ("-mcpu=cortex-m7", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-d16"), True, True,
             "UC_CPU_ARM_CORTEX_M7"),
        Core("cortex-m33", "M33", ("-mcpu=cortex-m33", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-sp-d16"), True,
             True, "UC_CPU_ARM_CORTEX_M33"),
    )
}  # fmt: skip

CORE_FLAGS: dict[str, list[str]] = {name: list(core.flags) for name, core in CORES.items()}
"""core name -> gcc target flags (a view of ``CORES``)."""
FPU_CORES = tuple(name for name, core in CORES.items() if core.fpu)
DWT_CORES = tuple(name for name, core in CORES.items() if core.dwt)

ARM_TOOLCHAIN_PACKAGES = "gcc-arm-none-eabi libnewlib-arm-none-eabi"
"""The cross compiler with its C library: linking firmware needs newlib's headers and libgcc."""


def _apt(packages: str) -> str:
    return f"apt-get install --no-install-recommends {packages}"


TOOL_INSTALL: dict[str, str] = {
    "gcc": _apt("gcc"),
    "cc": _apt("gcc"),
    "clang": _apt("clang"),
    "arm-none-eabi-gcc": _apt(ARM_TOOLCHAIN_PACKAGES),
    "arm-none-eabi-objcopy": _apt(ARM_TOOLCHAIN_PACKAGES),
    "arm-none-eabi-objdump": _apt(ARM_TOOLCHAIN_PACKAGES),
    "arm-none-eabi-nm": _apt(ARM_TOOLCHAIN_PACKAGES),
    "qemu-system-arm": _apt("qemu-system-arm"),
    "pyocd": "pip install pyocd",
    "openocd": "apt-get install openocd",
    "picotool": "apt-get install picotool",
}
"""Executable -> the command that installs it (Debian packages, or pip for pyocd)."""


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

"""The one place for tool facts: the Cortex-M cores and their compiler flags, the external tools and the
Debian packages that bring them, and ``require_tool`` to find one or say exactly what to install.

Boards, firmware builds, bench images and the tests all take their core flags from ``CORE_FLAGS``, so a core
is added here once. Compiler checks of generated C that only the tests run live in tests/support/.
"""

from __future__ import annotations

import os
import shutil

from lnn_edge.errors import MissingDependencyError

CORE_FLAGS: dict[str, list[str]] = {
    "cortex-m0": ["-mcpu=cortex-m0", "-mthumb", "-mfloat-abi=soft"],
    "cortex-m3": ["-mcpu=cortex-m3", "-mthumb", "-mfloat-abi=soft"],
    "cortex-m4f": ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"],
    "cortex-m7": ["-mcpu=cortex-m7", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-d16"],
    "cortex-m33": ["-mcpu=cortex-m33", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-sp-d16"],
}

ARM_TOOLCHAIN_PACKAGES = "gcc-arm-none-eabi libnewlib-arm-none-eabi"
"""The cross compiler with its C library: linking firmware needs newlib's headers and libgcc."""

TOOL_PACKAGES: dict[str, str] = {
    "gcc": "gcc",
    "cc": "gcc",
    "clang": "clang",
    "arm-none-eabi-gcc": ARM_TOOLCHAIN_PACKAGES,
    "arm-none-eabi-objcopy": ARM_TOOLCHAIN_PACKAGES,
    "arm-none-eabi-objdump": ARM_TOOLCHAIN_PACKAGES,
    "qemu-system-arm": "qemu-system-arm",
}
"""Executable -> the Debian packages (``apt-get install``) that provide it."""


def require_tool(name: str) -> str:
    """The path of the executable ``name``, or a MissingDependencyError (an LnnEdgeError) naming the tool and
    the apt packages to install."""
    path = shutil.which(name)
    if path is None:
        package = TOOL_PACKAGES.get(os.path.basename(name), "the package that provides it")
        raise MissingDependencyError(f"{name} is not installed: apt-get install --no-install-recommends {package}")
    return path


def host_compiler() -> str:
    """The host C compiler: ``$CC`` when set (the harness and the tests honour it), else gcc."""
    return require_tool(os.environ.get("CC", "gcc"))

"""``lnn-edge flash``: put a built firmware image on a board.

Real boards are flashed with the tool their board file names (pyOCD, OpenOCD, picotool, esptool or dfu-util);
this module forms the commands, checks the tool is installed (or says what to install) and runs them.
Emulated boards are "flashed" by starting QEMU with the image and the UART on a local TCP socket
(:mod:`lnn_edge.target.qemu`).
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from lnn_edge.errors import LnnEdgeError
from lnn_edge.target.boards import Board
from lnn_edge.target.build import BuildResult
from lnn_edge.target.qemu import qemu_command
from lnn_edge.target.toolchain import require_tool


@dataclass(frozen=True)
class FlashPlan:
    """The command that flashes one image with one tool, and any command that prepares the image for it
    (esptool's elf2image)."""

    tool: str
    command: list[str]
    before: tuple[list[str], ...] = ()

    def shell(self) -> str:
        return " && ".join(shlex.join(command) for command in (*self.before, self.command))


def tools_for(board: Board) -> list[str]:
    """The flashing tools this board's file configures, its preferred one first."""
    available = []
    if board.pyocd_target:
        available.append("pyocd")
    if board.openocd:
        available.append("openocd")
    if board.picotool:
        available.append("picotool")
    if board.esptool_chip:
        available.append("esptool")
    if board.dfu_device:
        available.append("dfu-util")
    return sorted(available, key=lambda tool: tool != board.flash_method)


def flash_plan(board: Board, build: BuildResult, tool: str | None = None) -> FlashPlan:
    """The command for a real board (``tool`` overrides the board's preferred method)."""
    if board.emulated:
        raise LnnEdgeError(f"board {board.name} is emulated: it is started with QEMU, not flashed with a tool")
    choices = tools_for(board)
    tool = tool or board.flash_method
    if tool not in choices:
        raise LnnEdgeError(f"board {board.name} cannot be flashed with {tool}; its board file configures "
                           f"{', '.join(choices) or 'no tool'}")  # fmt: skip
    if tool == "pyocd":
        assert board.pyocd_target is not None
        command = ["pyocd", "flash", "--target", board.pyocd_target, str(build.hex)]
    elif tool == "openocd":
        command = ["openocd"]
        for config in board.openocd:
            command += ["-f", config]
        command += ["-c", f"program {build.elf} verify reset exit"]
    elif tool == "esptool":
        return _esptool_plan(board, build)
    elif tool == "dfu-util":
        # The part's ROM DFU loader (BOOT0 held high at reset); ":leave" starts the image once written.
        command = ["dfu-util", "-d", str(board.dfu_device), "-a", "0", "-s", f"{board.flash.origin:#010x}:leave",
                   "-D", str(build.bin)]  # fmt: skip
    else:
        command = ["picotool", "load", "--execute", str(build.elf)]
    return FlashPlan(tool, command)


def _esptool_plan(board: Board, build: BuildResult) -> FlashPlan:
    """ESP32 parts boot what their ROM loads from flash offset 0: an ESP image (segments with load addresses)
    that esptool's elf2image makes from the ELF, written with write_flash."""
    image = build.directory / "firmware.esp.bin"
    chip = str(board.esptool_chip)
    convert = ["esptool.py", "--chip", chip, "elf2image", "--output", str(image), str(build.elf)]
    return FlashPlan("esptool", ["esptool.py", "--chip", chip, "write_flash", "0x0", str(image)], (convert,))


def run_plan(plan: FlashPlan) -> None:
    """Run a flash command (after its preparing commands); a missing tool or a failure is a clear error."""
    require_tool(plan.command[0], f" (or see the command with --dry-run: {plan.shell()})")
    for command in (*plan.before, plan.command):
        result = subprocess.run(command, check=False)
        if result.returncode != 0:
            raise LnnEdgeError(f"{plan.tool} failed with status {result.returncode}: {shlex.join(command)}")


def qemu_plan(board: Board, elf: Path, tcp_port: int) -> FlashPlan:
    """The QEMU command for an emulated board with its UART on ``tcp_port`` (for --dry-run; the real start
    passes a listening socket instead, see :func:`lnn_edge.target.qemu.start`)."""
    chardev = f"socket,id=lnn0,host=127.0.0.1,port={tcp_port},server=on,wait=on,nodelay=on"
    return FlashPlan("qemu", qemu_command(board, elf, chardev))

"""A Cortex-M consumer of the CMake package: lnn-edge's own firmware (startup, linker script, UART driver, protocol
server) built by CMake with the toolchain file of docs/integration.md, linking two exported models as ``lnn::cfc``
and ``lnn::ltc``, for qemu-mps2-an386 (Cortex-M4F). QEMU runs the image and the serial verification of
``lnn-edge verify`` checks it bit for bit against the host C and the emulator: the float32 CfC on a core with a
fused multiply-add, so the package's -ffp-contract=off is what keeps the bits."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from test_firmware_helpers import shared_export, short_sequences

from lnn_edge.codegen.export import Export
from lnn_edge.target.boards import Board, load_board
from lnn_edge.target.build import (
    FIRMWARE_FLAGS,
    INCLUDE_DIRS,
    LINK_FLAGS,
    config_header,
    firmware_dir,
    firmware_sources,
    linker_script,
    stack_size,
)
from lnn_edge.target.qemu import running
from lnn_edge.target.toolchain import CORE_FLAGS
from lnn_edge.target.verify import verify_on_port

DOC = Path(__file__).resolve().parent.parent / "docs" / "integration.md"
BOARD = "qemu-mps2-an386"


def documented_toolchain() -> str:
    """The toolchain file as docs/integration.md prints it (the block after its ``toolchain`` marker)."""
    text = DOC.read_text()
    match = re.search(r"<!-- toolchain: arm-none-eabi\.cmake -->\n```cmake\n(.*?)```", text, re.S)
    assert match, "docs/integration.md lost its toolchain file"
    return match.group(1)


def test_documented_toolchain_uses_the_boards_core_flags() -> None:
    flags = re.search(r'set\(LNN_CPU_FLAGS "([^"]*)"\)', documented_toolchain())
    assert flags is not None
    board = load_board(BOARD)
    assert flags.group(1).split() == [*CORE_FLAGS[board.core], *board.cflags]


def firmware_project(folder: Path, served: Export, other: Export, board: Board) -> None:
    """The firmware as a CMake project: lnn-edge's firmware sources, the generated config header and linker
    script, and the two models through their packages (``served`` answers on the serial line)."""
    folder.mkdir()
    (folder / "lnn_fw_config.h").write_text(config_header(served, board))
    (folder / "lnn_fw.ld").write_text(linker_script(board, stack_size(served, board)))
    fw = firmware_dir()
    sources = "\n  ".join(f'"{fw / path}"' for path in firmware_sources(board))
    includes = " ".join(f'"{fw / name}"' for name in INCLUDE_DIRS)
    (folder / "CMakeLists.txt").write_text(f"""cmake_minimum_required(VERSION 3.19)
project(lnn_fw C ASM)
add_subdirectory("{served.directory}" lnn_{served.name})
add_subdirectory("{other.directory}" lnn_{other.name})
add_executable(firmware.elf
  {sources})
target_include_directories(firmware.elf PRIVATE "${{CMAKE_CURRENT_SOURCE_DIR}}" {includes})
target_compile_options(firmware.elf PRIVATE {" ".join(FIRMWARE_FLAGS)})
target_link_options(firmware.elf PRIVATE {" ".join(LINK_FLAGS)} -T "${{CMAKE_CURRENT_SOURCE_DIR}}/lnn_fw.ld")
target_link_libraries(firmware.elf PRIVATE lnn::{served.name} lnn::{other.name} gcc)
""")


def cmake(*args: str | Path) -> str:
    result = subprocess.run(["cmake", *map(str, args)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"cmake {' '.join(map(str, args))}:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


@pytest.mark.qemu
def test_firmware_built_by_cmake_runs_bit_exact_in_qemu(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    board = load_board(BOARD)
    served = shared_export(tmp_path_factory, "float32", "cfc")
    other = shared_export(tmp_path_factory, "fixed16", "ltc")
    (tmp_path / "arm-none-eabi.cmake").write_text(documented_toolchain())
    firmware_project(tmp_path / "fw", served, other, board)
    build = tmp_path / "build"
    cmake("-S", tmp_path / "fw", "-B", build, f"-DCMAKE_TOOLCHAIN_FILE={tmp_path / 'arm-none-eabi.cmake'}",
          "-DCMAKE_BUILD_TYPE=Release")  # fmt: skip
    log = cmake("--build", build, "--verbose")
    (model_compile,) = [line for line in log.splitlines() if line.rstrip().endswith(f"{served.name}.c")]
    assert "arm-none-eabi-gcc" in model_compile and "-mfpu=fpv4-sp-d16" in model_compile
    assert "-ffp-contract=off" in model_compile  # the package's usage requirement, not this project's flags
    with running(board, build / "firmware.elf") as instance:
        result = verify_on_port(served, short_sequences(served), instance.url, board=board)
    assert result.bit_exact, str(result.mismatch)
    assert result.passed and result.host.bit_exact
    assert result.board == BOARD
    assert result.device.model_hash == served.manifest["model_hash"]
    assert result.steps_done == 60

"""The one table of cores and tool facts (lnn_edge.target.toolchain) and the one list of UART drivers (boards.py)."""

from __future__ import annotations

import pytest

from lnn_edge.bench.instr_count import CYCLES
from lnn_edge.errors import LnnEdgeError, MissingDependencyError
from lnn_edge.resources import data_dir
from lnn_edge.target.boards import UART_DRIVERS, list_boards
from lnn_edge.target.toolchain import ARCHES, CORE_FLAGS, CORES, DWT_CORES, FPU_CORES, RISCV_CORES, require_tool


def test_missing_tool_names_the_tool_and_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    with pytest.raises(MissingDependencyError) as caught:
        require_tool("arm-none-eabi-gcc")
    message = str(caught.value)
    assert isinstance(caught.value, LnnEdgeError)
    assert "arm-none-eabi-gcc is not installed" in message
    assert "apt-get install --no-install-recommends gcc-arm-none-eabi libnewlib-arm-none-eabi" in message
    with pytest.raises(MissingDependencyError, match="qemu-system-arm is not installed: apt-get install"):
        require_tool("qemu-system-arm")
    with pytest.raises(MissingDependencyError, match="install --no-install-recommends gcc-riscv64-unknown-elf pico"):
        require_tool(CORES["rv32imc"].tool("gcc"))
    with pytest.raises(MissingDependencyError, match="qemu-system-riscv32 is not installed: .* qemu-system-misc$"):
        require_tool("qemu-system-riscv32")


def test_core_table_is_consistent() -> None:
    for name, core in CORES.items():
        assert core.name == name and CORE_FLAGS[name] == list(core.flags) and core.arch in ARCHES
        if core.arch == "arm":
            assert f"-mcpu={name.removesuffix('f')}" in core.flags
        else:  # the rv32 ilp32 multilib of the same name (GCC 12 misses it when -march names _zicsr)
            assert f"-march={name}" in core.flags and "-mabi=ilp32" in core.flags
        # A core with an FPU is built for the hard-float ABI; one without uses soft floats.
        assert ("-mfloat-abi=hard" in core.flags) == core.fpu == (name in FPU_CORES)
        assert core.dwt == (name in DWT_CORES)
    assert "cortex-m0" not in DWT_CORES  # ARMv6-M has no DWT cycle counter
    assert set(CYCLES) == set(CORES), "the instruction counter's cycle estimates cover exactly the known cores"


def test_unicorn_knows_every_core() -> None:
    import importlib

    unicorn = pytest.importorskip("unicorn")
    capstone = pytest.importorskip("capstone")
    for core in CORES.values():
        arch = ARCHES[core.arch]
        constants = importlib.import_module(f"unicorn.{arch.unicorn_consts}")
        assert isinstance(getattr(constants, core.unicorn_cpu), int)
        for name in (arch.unicorn_arch, *arch.unicorn_modes):
            assert isinstance(getattr(unicorn, name), int)
        for name in (arch.capstone_arch, *arch.capstone_modes):
            assert isinstance(getattr(capstone, name), int)


@pytest.mark.parametrize("core", RISCV_CORES)
def test_riscv_cores_link_their_rv32_multilib(core: str) -> None:
    """-misa-spec=2.2 keeps the CSR instructions without naming Zicsr, so GCC still picks the ilp32 libgcc."""
    import subprocess

    gcc = require_tool(CORES[core].tool("gcc"))
    found = subprocess.run([gcc, *CORES[core].flags, "-print-multi-directory"], capture_output=True, text=True,
                           check=True).stdout.strip()  # fmt: skip
    assert found.startswith("rv32im") and found.endswith("/ilp32")


def test_every_board_uses_a_known_core() -> None:
    assert {board.core for board in list_boards()} <= set(CORES)


def test_uart_drivers_match_the_firmware_sources() -> None:
    """Every listed driver has its source, and every UART source in firmware/hal is listed."""
    firmware = data_dir() / "firmware"
    for source in UART_DRIVERS.values():
        assert (firmware / source).is_file(), source
    on_disk = {f"hal/{path.name}" for path in (firmware / "hal").glob("lnn_fw_uart_*.c")}
    assert on_disk == set(UART_DRIVERS.values())

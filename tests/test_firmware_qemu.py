"""The real chain on emulated boards: export -> arm-none-eabi-gcc -> QEMU -> pyserial -> verify.

Every core QEMU can run (M0 micro:bit with the nRF51 UART, M3 AN385, M4F AN386, M7 AN500, M33 AN505) and the
STM32 USART (netduinoplus2) runs the AutoNCP(19,2) LTC in fixed16, the FPU cores in float32 too (float32 on
the soft-float M0/M3 is checked as well: libgcc's IEEE routines must give the host's bits). The board, the
host C and the emulator must agree bit for bit on outputs and state at every step.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_firmware_helpers import shared_export, short_sequences

from lnn_edge.host.verify import default_sequences
from lnn_edge.target.boards import load_board
from lnn_edge.target.build import build_firmware
from lnn_edge.target.qemu import running
from lnn_edge.target.verify import verify_on_board, verify_on_port

pytestmark = pytest.mark.qemu

CASES = [
    ("qemu-microbit", "fixed16"),
    ("qemu-mps2-an385", "fixed16"),
    ("qemu-mps2-an386", "fixed16"),
    ("qemu-mps2-an386", "float32"),
    ("qemu-mps2-an500", "fixed16"),
    ("qemu-mps2-an500", "float32"),
    ("qemu-mps2-an505", "fixed16"),
    ("qemu-mps2-an505", "float32"),
    ("qemu-netduinoplus2", "fixed16"),
    ("qemu-microbit", "float32"),  # soft float on an M0
]


@pytest.mark.parametrize(("board", "precision"), CASES)
def test_ltc_bit_exact_on_emulated_board(tmp_path_factory: pytest.TempPathFactory, board: str, precision: str) -> None:
    exported = shared_export(tmp_path_factory, precision)
    result = verify_on_board(exported, short_sequences(exported), board)
    assert result.bit_exact, str(result.mismatch)
    assert result.passed
    assert result.host.bit_exact
    assert result.board == board
    assert result.device.model_hash == exported.manifest["model_hash"]
    assert result.cycles_kind == "systick-icount"
    assert result.cycles.min() > 1000  # the step really ran and was timed
    # A clean link never corrupts a frame (a time-out under heavy machine load may still cause a retry).
    assert result.link.corrupted == 0 and result.link.device_errors == 0
    summary = result.as_dict()
    for key in ("passed", "bit_exact", "max_abs_err", "steps", "board", "core", "cycles_per_step", "cycles_kind"):
        assert key in summary
    assert summary["steps"] == 30
    assert summary["core"] == load_board(board).core


def test_longer_run_fixed16_m4f(tmp_path_factory: pytest.TempPathFactory) -> None:
    """One longer run: 4 sequences of 200 steps on the default board."""
    exported = shared_export(tmp_path_factory, "fixed16")
    result = verify_on_board(exported, default_sequences(exported, 200), "qemu-mps2-an386")
    assert result.passed and result.bit_exact
    assert result.cycles.shape == (4, 200)


def test_cycle_counts_are_instruction_proportional(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Under -icount the same step costs the same ticks, run after run (to within one tick of rounding and
    the occasional SysTick wrap interrupt), and BENCH agrees with STEP."""
    exported = shared_export(tmp_path_factory, "fixed16")
    sequences = short_sequences(exported, batch=1, steps=10)
    first = verify_on_board(exported, sequences, "qemu-mps2-an385").cycles
    second = verify_on_board(exported, sequences, "qemu-mps2-an385").cycles
    assert np.all(np.abs(first - second) <= 40)
    assert abs(first.mean() - second.mean()) / first.mean() < 0.002


@pytest.mark.parametrize("board", ["nucleo-f401re", "bluepill-f103c8"])
def test_real_board_image_runs_on_its_qemu_twin(tmp_path_factory: pytest.TempPathFactory, board: str) -> None:
    """The exact image built for a real board (its USART, set-up writes and memory map) runs bit-exact on the
    QEMU machine whose UART model is the same IP (netduinoplus2, stm32vldiscovery)."""
    exported = shared_export(tmp_path_factory, "fixed16")
    target = load_board(board)
    built = build_firmware(exported.directory, target)
    with running(target, built.elf) as instance:
        result = verify_on_port(exported, short_sequences(exported, batch=1, steps=20), instance.url, board=target)
    assert result.passed and result.bit_exact
    assert result.cycles_kind == "dwt"  # the real board's counter; QEMU does not model it (reads 0)


CFC_CASES = [
    ("qemu-microbit", "fixed16"),
    ("qemu-microbit", "float32"),
    ("qemu-mps2-an385", "fixed16"),
    ("qemu-mps2-an386", "fixed16"),
    ("qemu-mps2-an386", "float32"),
    ("qemu-mps2-an500", "float32"),
    ("qemu-mps2-an505", "fixed16"),
    ("qemu-netduinoplus2", "fixed16"),
]


@pytest.mark.parametrize(("board", "precision"), CFC_CASES)
def test_cfc_bit_exact_on_emulated_board(tmp_path_factory: pytest.TempPathFactory, board: str, precision: str) -> None:
    exported = shared_export(tmp_path_factory, precision, cell="cfc")
    result = verify_on_board(exported, short_sequences(exported), board)
    assert result.passed and result.bit_exact, str(result.mismatch)


@pytest.mark.parametrize("board", ["qemu-microbit", "qemu-mps2-an386"])
def test_ltc_fixed32_bit_exact(tmp_path_factory: pytest.TempPathFactory, board: str) -> None:
    """fixed32 needs 64-bit products and divisions: libgcc's on the M0, the core's on the M4F."""
    exported = shared_export(tmp_path_factory, "fixed32")
    result = verify_on_board(exported, short_sequences(exported, steps=20), board)
    assert result.passed and result.bit_exact, str(result.mismatch)

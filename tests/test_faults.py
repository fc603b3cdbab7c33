"""Robustness of host-in-the-loop verification: a damaged line, garbage, a board reset mid-run.

A fault-injecting TCP proxy (tests/support/faultproxy.py) sits between the host and QEMU's UART socket and drops,
flips, duplicates, delays and inserts bytes with seeded probabilities. At moderate rates the verification
must still end with the correct, bit-exact verdict (and must have needed retries to get there); at
hopeless rates it must end with a clear error (not a wrong verdict, not a hang). A reset of the emulated
board through QMP mid-run must be noticed (BOOT), the state put back, and the run finished bit-exact.
"""

from __future__ import annotations

import re
import time

import pytest
from support.faultproxy import FaultProxy, FaultRates
from test_firmware_helpers import shared_export, short_sequences

from lnn_edge.target.serial_host import LinkError
from lnn_edge.target.verify import emulated_port, verify_on_port

pytestmark = pytest.mark.qemu

BOARD = "qemu-mps2-an386"


@pytest.mark.parametrize("seed", [1, 2])
def test_moderate_faults_still_give_the_bit_exact_verdict(tmp_path_factory: pytest.TempPathFactory, seed: int) -> None:
    exported = shared_export(tmp_path_factory, "fixed16")
    rates = FaultRates(drop=0.001, flip=0.001, duplicate=0.001, garbage=0.001, delay=0.01, max_delay=0.02)
    with emulated_port(exported.directory, BOARD) as qemu, FaultProxy(qemu.port, rates, rates, seed=seed) as proxy:
        result = verify_on_port(exported, short_sequences(exported), proxy.url, timeout=0.3, retries=12)
        to_device, to_host = proxy.counts("to_device"), proxy.counts("to_host")
    assert result.passed and result.bit_exact, str(result.mismatch)
    assert to_device.total > 5 and to_host.total > 5  # the line really was damaged both ways
    assert result.link.retries > 0 and result.link.corrupted + result.link.device_errors > 0


def test_garbage_injection(tmp_path_factory: pytest.TempPathFactory) -> None:
    exported = shared_export(tmp_path_factory, "fixed16")
    # 1-16 random bytes before 0.3% of the bytes: most round trips of ~100 bytes stay clean, so 12 retries
    # make a spurious failure vanishingly rare (at 1% a frame would be hit in two round trips of three).
    rates = FaultRates(garbage=0.003)
    with emulated_port(exported.directory, BOARD) as qemu, FaultProxy(qemu.port, rates, rates, seed=7) as proxy:
        result = verify_on_port(exported, short_sequences(exported), proxy.url, timeout=0.3)
        injected = proxy.counts("to_device").garbage_bytes + proxy.counts("to_host").garbage_bytes
    assert injected > 50
    assert result.passed and result.bit_exact


def test_delays_only(tmp_path_factory: pytest.TempPathFactory) -> None:
    exported = shared_export(tmp_path_factory, "float32")
    rates = FaultRates(delay=0.3, max_delay=0.05)
    with emulated_port(exported.directory, BOARD) as qemu, FaultProxy(qemu.port, rates, rates, seed=3) as proxy:
        result = verify_on_port(exported, short_sequences(exported, steps=15), proxy.url, timeout=0.5)
        assert proxy.counts("to_host").delays > 0
    assert result.passed and result.bit_exact


@pytest.mark.parametrize("rate", [0.05, 0.3])
def test_hopeless_line_fails_with_a_clear_error(tmp_path_factory: pytest.TempPathFactory, rate: float) -> None:
    exported = shared_export(tmp_path_factory, "fixed16")
    rates = FaultRates(drop=rate, flip=rate, garbage=rate / 2)
    started = time.monotonic()
    expected = r"no valid answer from socket://127\.0\.0\.1:\d+ to \w+ after 5 tries"
    with emulated_port(exported.directory, BOARD) as qemu, FaultProxy(qemu.port, rates, rates, seed=5) as proxy:
        try:  # dead at HELLO, the run cannot start: an error; dead mid-run: a FAIL verdict with the same reason
            result = verify_on_port(exported, short_sequences(exported), proxy.url, timeout=0.2, retries=4)
        except LinkError as error:
            reason = str(error)
        else:
            assert not result.passed and result.failure is not None
            reason = result.failure
    assert re.search(expected, reason), reason
    assert time.monotonic() - started < 60


def test_board_reset_mid_run(tmp_path_factory: pytest.TempPathFactory) -> None:
    """QMP system_reset after step 20 of 60: the firmware restarts and sends BOOT; the host restores the
    last state with SET_STATE and the run ends bit-exact."""
    exported = shared_export(tmp_path_factory, "fixed16")
    with emulated_port(exported.directory, BOARD, qmp=True) as qemu:

        def disturb(done: int) -> None:
            if done in (20, 45):
                qemu.system_reset()
                time.sleep(0.2)  # let the restart happen before the next request

        result = verify_on_port(exported, short_sequences(exported), qemu.url, timeout=0.5, on_step=disturb)
    assert result.link.reboots == 2
    assert result.passed and result.bit_exact, str(result.mismatch)


def test_qemu_stopping_mid_run_fails_with_the_reason(tmp_path_factory: pytest.TempPathFactory) -> None:
    exported = shared_export(tmp_path_factory, "fixed16")
    with emulated_port(exported.directory, BOARD) as qemu:

        def kill(done: int) -> None:
            if done == 5:
                qemu.stop()

        result = verify_on_port(exported, short_sequences(exported), qemu.url, timeout=0.3, retries=2, on_step=kill)
    assert not result.passed and result.steps_done == 5
    assert result.failure is not None
    assert re.search(
        r"stopped after 5 of \d+ steps: .*(connection to socket://.* broke|no valid answer)", result.failure
    )

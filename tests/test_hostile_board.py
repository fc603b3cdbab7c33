"""`verify --port` against a fake board (tests/support/hostile_board.py) that lies, loops, floods or goes quiet.

The fake board is a real TCP server on 127.0.0.1 speaking docs/serial-protocol.md; the host reaches it
through pyserial's socket:// as it reaches QEMU. Honest, it must get PASS (so the server itself is right);
every way of misbehaving must end within seconds with a FAIL verdict that says what the board did (or a
clear LnnEdgeError when the link gives no valid answer or the run cannot start), and never with PASS.
"""

from __future__ import annotations

import json
import re
import time

import pytest
from click.testing import CliRunner
from support.hostile_board import OTHER_HASH, HostileBoard, Plan
from test_firmware_helpers import short_sequences

from lnn_edge.cli import cli
from lnn_edge.codegen.export import Export
from lnn_edge.host.verify import verify_host
from lnn_edge.target import protocol as P
from lnn_edge.target.serial_host import ModelMismatchError
from lnn_edge.target.verify import BoardVerification, run_deadline, verify_on_port

TIMEOUT, RETRIES = 0.2, 3  # a dead line costs (RETRIES + 1) * TIMEOUT = 0.8 s per request
STEPS = 20
BOUND = 6.0  # seconds any case may take, the host's own verification (C already compiled) included


@pytest.fixture(scope="module")
def exported(ltc_fixed16_export: Export) -> Export:
    export = ltc_fixed16_export
    verify_host(export, short_sequences(export, batch=1, steps=2))  # compile the C once, outside the timed cases
    return export


def verify(exported: Export, plan: Plan, **options: float) -> tuple[BoardVerification, HostileBoard, float]:
    """verify_on_port against a fake board following ``plan``: (result, board, seconds taken)."""
    started = time.monotonic()
    with HostileBoard(exported, plan) as board:
        result = verify_on_port(exported, short_sequences(exported, batch=1, steps=STEPS), board.url,
                                timeout=options.get("timeout", TIMEOUT), retries=RETRIES)  # fmt: skip
    return result, board, time.monotonic() - started


def verify_fails(exported: Export, plan: Plan, error: type[Exception], match: str) -> HostileBoard:
    """verify_on_port must raise ``error`` matching ``match`` within BOUND seconds."""
    started = time.monotonic()
    with HostileBoard(exported, plan) as board, pytest.raises(error, match=match):
        verify_on_port(exported, short_sequences(exported, batch=1, steps=STEPS), board.url, timeout=TIMEOUT,
                       retries=RETRIES)  # fmt: skip
    assert time.monotonic() - started < BOUND
    return board


def test_an_honest_fake_board_passes(exported: Export) -> None:
    result, board, seconds = verify(exported, Plan("honest"))
    assert result.passed and result.bit_exact and result.failure is None, result.failure or str(result.mismatch)
    assert result.steps_done == STEPS and board.counts["steps"] == STEPS
    assert result.link.reboots == 0 and result.board == "fake-board"
    assert seconds < BOUND


def test_reboot_loop_ends_with_fail_saying_what_the_board_did(exported: Export) -> None:
    """The issue's hang: BOOT instead of an answer to every STEP made the host restore and resend forever."""
    result, board, seconds = verify(exported, Plan("reboot_loop", after=5))
    assert not result.passed
    assert result.failure is not None and result.steps_done == 5
    assert re.search(r"stopped after 5 of 20 steps: socket://127\.0\.0\.1:\d+ restarted 3 times in a row "
                     r"instead of answering STEP \(a crash, brown-out or watchdog reset loop", result.failure)  # fmt: skip
    assert board.counts["boots"] == 3 and result.link.reboots == 3
    assert result.bit_exact  # the 5 steps it did answer were right: the FAIL is for the loop
    assert seconds < BOUND


def test_too_many_restarts_in_one_run_fail(exported: Export) -> None:
    """Every STEP restarts the board once and its retry is answered: each request is recovered, the run is not."""
    result, board, seconds = verify(exported, Plan("reboot_often", after=2))
    assert not result.passed
    assert result.failure is not None and "restarted 9 times in this run, more than the 8" in result.failure
    assert result.steps_done == 2 + 8 and board.counts["boots"] == 9
    assert seconds < BOUND


def test_boot_storm_fails(exported: Export) -> None:
    result, board, seconds = verify(exported, Plan("boot_storm", after=3))
    assert not result.passed and result.steps_done == 3
    assert result.failure is not None and "restarted 3 times in a row instead of answering STEP" in result.failure
    assert board.counts["boots"] > 3
    assert seconds < BOUND


def test_model_change_mid_run_fails(exported: Export) -> None:
    result, _, seconds = verify(exported, Plan("model_change", after=4))
    assert not result.passed and result.steps_done == 4
    assert result.failure is not None
    assert f"restarted mid-run with a different model (hash {OTHER_HASH[:16]}" in result.failure
    assert seconds < BOUND


@pytest.mark.parametrize(("kind", "what"), [("flip_output", "output"), ("flip_state", "state")])
def test_one_flipped_bit_fails(exported: Export, kind: str, what: str) -> None:
    result, board, seconds = verify(exported, Plan(kind, after=7))
    assert board.counts["flips"] == 1
    assert not result.passed and not result.bit_exact and result.failure is None
    assert result.mismatch is not None and result.mismatch.against == "host C"
    assert result.mismatch.mismatch.step == 7 + (what == "state")  # a flipped state shows in the next output
    assert result.mismatch.mismatch.what == "output"
    assert seconds < BOUND


def test_replayed_answers_fail(exported: Export) -> None:
    """Old answers under the current seq pass every frame check; only the comparison can catch them."""
    result, board, seconds = verify(exported, Plan("replay", after=6))
    assert board.counts["replays"] == STEPS - 6
    assert not result.passed and not result.bit_exact
    assert result.mismatch is not None and result.mismatch.mismatch.step == 6
    assert seconds < BOUND


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("silence", r"no valid answer from socket://127\.0\.0\.1:\d+ to STEP after 4 tries \(4 time-outs\)"),
        ("garbage", r"no valid answer from socket://127\.0\.0\.1:\d+ to STEP after 4 tries \(4 corrupted frames\)"),
        (
            "stale_flood",
            r"no valid answer from socket://127\.0\.0\.1:\d+ to STEP after 4 tries \(4 time-outs; \d+ answers with another request's seq ignored\)",
        ),
    ],
)
def test_a_line_that_dies_mid_run_fails_with_the_reason(exported: Export, kind: str, reason: str) -> None:
    """Silence, endless garbage or endless stale answers after 5 good steps: FAIL, saying what the line did."""
    result, board, seconds = verify(exported, Plan(kind, after=5))
    assert not result.passed and result.steps_done == 5
    assert result.failure is not None and re.search(r"stopped after 5 of 20 steps: " + reason, result.failure)
    assert result.bit_exact  # the 5 steps it answered were right: the FAIL is for the line
    assert board.counts["steps"] == 5
    if kind != "silence":
        assert board.counts["flood_bytes"] > 10_000
    assert seconds < BOUND


def test_wrong_model_at_hello_cannot_start(exported: Export) -> None:
    verify_fails(exported, Plan("honest", model_hash=OTHER_HASH), ModelMismatchError,
                 f"runs model {OTHER_HASH[:16]}…, but the export")  # fmt: skip


@pytest.mark.slow
def test_a_board_that_needs_retries_for_every_step_hits_the_run_deadline(exported: Export) -> None:
    """Each STEP is answered on its fourth try: within the retries, but 3 time-outs a step exceed the run's
    deadline of a start-up allowance plus one time-out per request."""
    timeout = 0.1
    limit = run_deadline(STEPS + 1, timeout)
    result, board, seconds = verify(exported, Plan("slow"), timeout=timeout)
    assert not result.passed and result.failure is not None
    assert f"did not finish within the run's time limit of {limit:.1f} s (still waiting for an answer to STEP)" in (
        result.failure
    )
    assert 0 < result.steps_done < STEPS and board.counts["dropped"] >= 3 * result.steps_done
    assert limit <= seconds < limit + 4.0  # the host's own verification runs before the board's deadline starts


def test_run_deadline_scales_with_the_steps() -> None:
    assert run_deadline(100, 0.5) == pytest.approx(0.5 * (10 + 100))
    assert run_deadline(2000, 0.5) > run_deadline(100, 0.5) * 10


# --- the command line ---------------------------------------------------------------------------------------
HOSTILE_NAME = b"evil\x1b]0;owned\x07\n\x1b[2J\r\x9b31m"
SAFE_NAME = r"evil\x1b]0;owned\x07\x0a\x1b[2J\x0d\x9b31m"


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_cli_reboot_loop_prints_fail_and_the_reason(exported: Export) -> None:
    started = time.monotonic()
    with HostileBoard(exported, Plan("reboot_loop", after=3)) as board:
        code, output = run_cli("verify", str(exported.directory), "--port", board.url, "--steps", "10",
                               "--timeout", "0.2", "--retries", "3")  # fmt: skip
    assert code == 1, output
    assert output.rstrip().endswith("FAIL")
    assert re.search(r"board misbehaved +stopped after 3 of \d+ steps: socket://127\.0\.0\.1:\d+ restarted 3 times in a "
                     r"row instead of answering STEP", output)  # fmt: skip
    assert "bit-exact over the 3 steps it answered" in output and "Traceback" not in output
    assert time.monotonic() - started < BOUND


def test_cli_json_reports_the_failure(exported: Export) -> None:
    with HostileBoard(exported, Plan("model_change", after=2)) as board:
        code, output = run_cli("verify", str(exported.directory), "--port", board.url, "--steps", "6",
                               "--timeout", "0.2", "--json")  # fmt: skip
    assert code == 1
    data = json.loads(output)
    assert data["passed"] is False and data["steps_done"] == 2
    assert "restarted mid-run with a different model" in data["failure"]


def test_hello_strings_are_sanitised_in_the_verdict(exported: Export) -> None:
    with HostileBoard(exported, Plan("honest", board=HOSTILE_NAME)) as board:
        code, output = run_cli("verify", str(exported.directory), "--port", board.url, "--steps", "5")
    assert code == 0, output
    assert f"board                        {SAFE_NAME} (cortex-m4f" in output
    assert all(ch == "\n" or " " <= ch <= "~" for ch in output), repr(output)


def test_hello_strings_are_sanitised_in_errors(exported: Export) -> None:
    plan = Plan("honest", board=HOSTILE_NAME, model_hash=OTHER_HASH)
    with HostileBoard(exported, plan) as board:
        code, output = run_cli("verify", str(exported.directory), "--port", board.url, "--steps", "5")
    assert code == 1
    assert f"('{SAFE_NAME}') runs model" in output and f"--board {SAFE_NAME};" in output
    assert all(ch == "\n" or " " <= ch <= "~" for ch in output.replace("…", "")), repr(output)


def test_parse_hello_keeps_the_raw_bytes_for_comparisons() -> None:
    info = P.DeviceInfo(1, "fixed16", 2, "dwt", 3, 1, 4, 1, "ab" * 32, "x", "y", board_raw=HOSTILE_NAME,
                        core_raw=b"m4\x00\xff")  # fmt: skip
    parsed = P.parse_hello(P.hello_payload(info))
    assert parsed.board == SAFE_NAME and parsed.core == r"m4\x00\xff"
    assert parsed.board_raw == HOSTILE_NAME and parsed.core_raw == b"m4\x00\xff"
    assert P.printable(bytes(range(256))).isprintable() and P.printable(b"nucleo-f401re") == "nucleo-f401re"

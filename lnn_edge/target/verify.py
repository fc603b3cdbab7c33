"""Host-in-the-loop verification: the model on a board (or QEMU) against the host C, the emulator and float64.

The same raw inputs the host harness gets are streamed step by step over the serial protocol; the board
returns outputs, state and cycle counts for every step. Three backends that must agree bit for bit (board,
host C, NumPy emulator) are compared on outputs and state at every step, and the board's outputs are
measured against the float64 reference with the host verification's thresholds.

A board that misbehaves mid-run (restarts in a loop or too often, restarts with another model, refuses a
request, is too slow for the run's deadline, falls silent, sends garbage or stale answers, or the connection
breaks) ends the run with a FAIL verdict whose ``failure`` says what it did; the steps it answered are still
compared. A board that cannot be talked to at all (no valid answer to HELLO) raises
:class:`~lnn_edge.target.serial_host.LinkError`, and one running another model
:class:`~lnn_edge.target.serial_host.ModelMismatchError`: the run cannot start.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lnn_edge.codegen.export import Export
from lnn_edge.errors import LnnEdgeError
from lnn_edge.host.verify import HostVerification, Mismatch, first_mismatch, raw_to_float, verify_host
from lnn_edge.metrics import ErrorMetrics, compare
from lnn_edge.model.datafile import Sequences
from lnn_edge.quant.emulator import Emulator
from lnn_edge.quant.report import Policy
from lnn_edge.target.boards import Board, load_board
from lnn_edge.target.protocol import DeviceInfo
from lnn_edge.target.serial_host import (
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    BoardMisbehaved,
    DeviceError,
    LinkError,
    LinkStats,
    SerialClient,
)

# The run's deadline, in time-outs: a start-up allowance plus one per request. A healthy board answers in a
# small fraction of a time-out, so only a board (or line) that needs a retry for every request reaches it.
RUN_DEADLINE_BASE = 10
RUN_DEADLINE_PER_REQUEST = 1


def run_deadline(requests: int, timeout: float) -> float:
    """Seconds a verification run of ``requests`` requests may take at most, with ``timeout`` per answer."""
    return timeout * (RUN_DEADLINE_BASE + RUN_DEADLINE_PER_REQUEST * requests)


@dataclass
class BoardMismatch:
    """The first step where the board differs from a backend it must match bit for bit."""

    against: str
    mismatch: Mismatch

    def __str__(self) -> str:
        m = self.mismatch
        return (f"{m.what}[{m.index}] differs at step {m.step} of sequence {m.sequence}: "
                f"{self.against} {m.expected!r}, board {m.got!r}")  # fmt: skip


@dataclass
class BoardVerification:
    """Result of ``lnn-edge verify --port/--board``: the host verification plus the board's leg."""

    host: HostVerification
    device: DeviceInfo
    url: str
    board: str
    core: str
    bit_exact: bool
    mismatch: BoardMismatch | None
    outputs: ErrorMetrics
    state: ErrorMetrics
    cycles: np.ndarray
    cycles_kind: str
    link: LinkStats
    seconds: float
    instructions_per_tick: float | None = None
    traces: dict[str, np.ndarray] = field(repr=False, default_factory=dict)
    failure: str | None = None  # what the board did when it stopped the run early (None: every step ran)
    steps_done: int = 0
    ran: np.ndarray | None = field(repr=False, default=None)  # [B,T] steps the board answered (None: all)

    @property
    def passed(self) -> bool:
        return (
            self.failure is None
            and self.host.passed
            and self.bit_exact
            and (not self.host.error_judged or self.outputs.max_abs_rel_range <= self.host.threshold)
        )

    @property
    def steps_total(self) -> int:
        return int(self.cycles.size)

    @property
    def ran_cycles(self) -> np.ndarray:
        """Cycle counts of the steps the board answered."""
        return self.cycles if self.ran is None else self.cycles[self.ran]

    @property
    def cycles_per_step(self) -> float:
        cycles = self.ran_cycles
        return float(cycles.mean()) if cycles.size else 0.0

    def as_dict(self) -> dict[str, Any]:
        result = self.host.as_dict()
        result.update({
            "passed": self.passed,
            "bit_exact": self.bit_exact,
            "host_bit_exact": self.host.bit_exact,
            "max_abs_err": self.outputs.max_abs,
            "outputs": self.outputs.as_dict(),
            "state": self.state.as_dict(),
            "first_mismatch": None if self.mismatch is None else str(self.mismatch),
            "failure": self.failure,
            "steps_done": self.steps_done,
            "board": self.board,
            "core": self.core,
            "port": self.url,
            "cycles_per_step": self.cycles_per_step,
            "cycles_min": int(self.ran_cycles.min()) if self.ran_cycles.size else 0,
            "cycles_max": int(self.ran_cycles.max()) if self.ran_cycles.size else 0,
            "cycles_kind": self.cycles_kind,
            "clock_hz": self.device.clock_hz,
            "protocol": self.device.protocol,
            "max_payload": self.device.max_payload,
            "instructions_per_step": None if self.instructions_per_tick is None
            else self.cycles_per_step * self.instructions_per_tick,
            "link": self.link.as_dict(),
            "seconds": self.seconds,
        })  # fmt: skip
        return result


def _first_board_mismatch(candidates: list[tuple[str, np.ndarray, np.ndarray]], y: np.ndarray,
                          state: np.ndarray, ran: np.ndarray) -> BoardMismatch | None:  # fmt: skip
    """The earliest difference between the board and each candidate, over the steps the board ran."""
    for against, y_ref, state_ref in candidates:
        # A step the board never ran takes the candidate's own value, so it cannot differ.
        y_got = np.where(ran[..., None], y, y_ref)
        state_got = np.where(ran[..., None], state, state_ref)
        found = first_mismatch(y_ref, y_got, "output") or first_mismatch(state_ref, state_got, "state")
        if found is not None:
            return BoardMismatch(against, found)
    return None


@dataclass
class _BoardRun:
    """What the board answered, step by step: outputs, state, cycles, and which steps it answered."""

    y: np.ndarray
    state: np.ndarray
    cycles: np.ndarray
    ran: np.ndarray
    done: int = 0
    failure: str | None = None

    @classmethod
    def empty(cls, batch: int, steps: int, outputs: int, state_size: int, dtype: np.dtype[Any]) -> _BoardRun:
        return cls(
            y=np.zeros((batch, steps, outputs), dtype=dtype),
            state=np.zeros((batch, steps, state_size), dtype=dtype),
            cycles=np.zeros((batch, steps), dtype=np.int64),
            ran=np.zeros((batch, steps), dtype=bool),
        )


def _stream(client: SerialClient, x_raw: np.ndarray, dt_raw: np.ndarray, run: _BoardRun,
            on_step: Callable[[int], None] | None) -> None:  # fmt: skip
    """Every sequence from a reset state, step by step, into ``run``; a misbehaving board ends it early
    with ``run.failure`` set (a dead link raises)."""
    batch, steps, _ = x_raw.shape
    try:
        for b in range(batch):
            client.reset()
            for t in range(steps):
                result = client.step(x_raw[b, t], dt_raw[b, t], want_state=True)
                assert result.state is not None
                run.y[b, t], run.state[b, t], run.cycles[b, t] = result.y, result.state, result.cycles
                run.ran[b, t] = True
                run.done += 1
                if on_step is not None:
                    on_step(run.done)
    except (BoardMisbehaved, DeviceError, LinkError) as error:  # LinkError: the line died mid-run
        run.failure = f"stopped after {run.done} of {batch * steps} steps: {error}"


def verify_on_port(
    export: Export,
    sequences: Sequences,
    url: str,
    threshold: float | None = None,
    board: Board | None = None,
    baud: int = 115200,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    on_step: Callable[[int], None] | None = None,
    deadline: float | None = None,
    policy: Policy | None = None,
    labels: np.ndarray | None = None,
) -> BoardVerification:
    """Stream ``sequences`` to the device at ``url`` and compare it with the host C, emulator and reference.

    ``on_step`` is called after every step with the number of steps done (progress bars; tests use it to
    disturb the link mid-run). ``deadline`` bounds the board's part of the run in seconds (default
    :func:`run_deadline` of its requests); a board that misbehaves ends it early with a FAIL verdict.
    ``policy`` and ``labels`` make the host leg's verdict (--strict, the task metric); a board that is bit-exact
    with the host C has the same outputs, so the same verdict.
    """
    started = time.monotonic()
    host = verify_host(export, sequences, threshold, policy, labels)  # the board is compared with these runs
    qmodel = export.qmodel
    emulator = Emulator(qmodel)
    raw = host.raw
    x_raw, dt_raw = raw["x"], raw["dt"]
    y_c, state_c, y_e, state_e = raw["c_y"], raw["c_state"], raw["emulator_y"], raw["emulator_state"]
    batch, steps, _ = x_raw.shape
    manifest = export.manifest
    with SerialClient(url, baud=baud, timeout=timeout, retries=retries) as client:
        device = client.check_export(export)
        if board is not None and device.board_raw != board.name.encode():
            raise LnnEdgeError(f"the device at {url} says it is board '{device.board}', not '{board.name}'")
        client.set_deadline(run_deadline(batch * (steps + 1), timeout) if deadline is None else deadline)
        run = _BoardRun.empty(batch, steps, manifest["outputs"], manifest["state_size"], client.dtype)
        _stream(client, x_raw, dt_raw, run, on_step)
        link = client.stats
    y_b, state_b, ran = run.y.astype(y_c.dtype), run.state.astype(state_c.dtype), run.ran
    mismatch = _first_board_mismatch([("host C", y_c, state_c), ("emulator", y_e, state_e)], y_b, state_b, ran)
    y_float, state_float = raw_to_float(emulator, y_b, state_b)
    y_ref, state_ref = host.traces["reference"], raw["reference_state"]
    kind = _cycles_kind(device, board)
    return BoardVerification(
        host=host, device=device, url=url, board=device.board, core=device.core,
        bit_exact=mismatch is None, mismatch=mismatch,
        outputs=compare(y_float[ran], y_ref[ran]), state=compare(state_float[ran], state_ref[ran]),
        cycles=run.cycles, cycles_kind=kind, link=link, seconds=time.monotonic() - started,
        instructions_per_tick=_instructions_per_tick(board, kind),
        traces={**host.traces, "board": np.where(ran[..., None], y_float, np.nan)},  # gaps where it stopped
        failure=run.failure, steps_done=run.done, ran=ran,
    )  # fmt: skip


ICOUNT_COUNTERS = ("systick", "mcycle")
"""Counters whose counts under QEMU -icount are proportional to executed instructions (QEMU models neither the
DWT nor any cycle timing)."""


def emulated_cycles_kind(kind: str, emulated: bool) -> str:
    """'systick-icount' or 'mcycle-icount' under QEMU (counts proportional to instructions), else ``kind``."""
    return f"{kind}-icount" if emulated and kind in ICOUNT_COUNTERS else kind


def _cycles_kind(device: DeviceInfo, board: Board | None) -> str:
    """The device's counter, marked '-icount' when the board is QEMU's."""
    return emulated_cycles_kind(device.cycles_kind, board is not None and board.emulated)


def _instructions_per_tick(board: Board | None, kind: str) -> float | None:
    """Under QEMU -icount shift=S one instruction is 2^S ns of virtual time. A SysTick tick is then
    1e9 / (2^S f) instructions; QEMU's RISC-V mcycle reads the virtual clock in ns, so a tick is 2^-S of one."""
    if board is None or not board.emulated:
        return None
    nanoseconds = 1 << board.icount_shift
    if kind == "systick-icount":
        return 1e9 / (nanoseconds * board.clock_hz)
    if kind == "mcycle-icount":
        return 1 / nanoseconds
    return None


@contextlib.contextmanager
def emulated_port(export_dir: str | Path, board: Board | str, qmp: bool = False) -> Iterator[Any]:
    """Build the firmware (cached), start QEMU, yield the running instance (``.url``), stop QEMU afterwards."""
    from lnn_edge.target.build import build_firmware
    from lnn_edge.target.qemu import running

    board = board if isinstance(board, Board) else load_board(board)
    built = build_firmware(export_dir, board)
    with running(board, built.elf, qmp=qmp) as instance:
        yield instance


def verify_on_board(
    export: Export,
    sequences: Sequences,
    board: Board | str,
    threshold: float | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    on_step: Callable[[int], None] | None = None,
    policy: Policy | None = None,
    labels: np.ndarray | None = None,
) -> BoardVerification:
    """Verify on an emulated board: build if needed, run it in QEMU, verify over its socket, stop QEMU."""
    board = board if isinstance(board, Board) else load_board(board)
    if not board.emulated:
        raise LnnEdgeError(
            f"board {board.name} is real hardware: flash it (lnn-edge flash {export.directory} --board {board.name}) "
            f"and verify with --port (its serial device)"
        )
    with emulated_port(export.directory, board) as instance:
        try:
            return verify_on_port(export, sequences, instance.url, threshold, board=board, timeout=timeout,
                                  retries=retries, on_step=on_step, policy=policy, labels=labels)  # fmt: skip
        except LnnEdgeError as error:
            if not instance.alive():
                raise LnnEdgeError(f"{error} ({instance.describe_exit()})") from None
            raise

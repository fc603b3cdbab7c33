"""A fake board for tests: a TCP server on 127.0.0.1 that speaks docs/serial-protocol.md, honestly or not.

The host reaches it as ``socket://127.0.0.1:PORT``, exactly as it reaches QEMU. Honest, it answers like the
firmware: HELLO from the export's manifest, RESET/STEP/SET_STATE/READ_STATE computed by the NumPy emulator
(the numbers the board must match bit for bit), and the retry cache (a repeated seq and command gets the
cached answer, HELLO clears it). A :class:`Plan` makes it misbehave from its ``after``-th STEP on, in one
of the ways a crashed, noisy or malicious board does (see :data:`KINDS`).

Everything is bounded so a test always ends, whatever the host does: one connection, a ``lifetime`` after
which the server closes it, floods only while the host is connected, non-blocking sends.
"""

from __future__ import annotations

import contextlib
import random
import select
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from lnn_edge.codegen.export import Export
from lnn_edge.quant.emulator import Emulator
from lnn_edge.target import protocol as P
from lnn_edge.target.serial_host import VALUE_DTYPES

KINDS = {
    "honest": "answers every request as the firmware does",
    "reboot_loop": "sends BOOT (and zeroes its state) instead of answering any STEP",
    "reboot_often": "restarts at the first try of every STEP, then answers the retry",
    "boot_storm": "sends BOOT frames without pause and answers nothing",
    "silence": "reads every request and answers none",
    "garbage": "sends random bytes without pause and answers nothing",
    "stale_flood": "sends valid STEP answers with an old seq without pause, never the awaited one",
    "replay": "answers every STEP with its last honest answer (under the new seq), without executing it",
    "flip_output": "flips one bit of an output in one STEP answer",
    "flip_state": "flips one bit of its state in RAM after one STEP (the answer reports it)",
    "model_change": "restarts with another model (BOOT with another model hash) instead of answering",
    "slow": "answers a STEP only on its fourth try (drops the first three copies)",
}
OTHER_HASH = "ee" * 32
_FLOOD_LOW_WATER = 16_384  # bytes queued for the host below which a flood is topped up
_SLOW_DROPS = 3


@dataclass(frozen=True)
class Plan:
    """How the board behaves: ``kind`` (one of :data:`KINDS`) from STEP number ``after`` (0-based) on."""

    kind: str = "honest"
    after: int = 0
    board: bytes = b"fake-board"  # the raw board name in HELLO/BOOT
    model_hash: str | None = None  # the hash in HELLO/BOOT; None: the export's
    protocol: int = P.PROTOCOL_VERSION  # 1: a version 1 device (its HELLO has no max_payload, frames of 1024 B)
    max_payload: int | None = None  # version 2's HELLO field; None: what lnn-edge build chooses for the model

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r}; one of {sorted(KINDS)}")


@dataclass
class _Model:
    """The honest board's model: the emulator, its value type and its state."""

    export: Export
    emulator: Emulator = field(init=False)
    dtype: np.dtype[Any] = field(init=False)
    state: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.emulator = Emulator(self.export.qmodel)
        self.dtype = VALUE_DTYPES[self.export.manifest["precision"]]
        self.reset()

    @property
    def fixed(self) -> bool:
        return bool(self.export.qmodel.is_fixed)

    def values(self, data: bytes) -> np.ndarray:
        """Wire values as the emulator's types (int64 for fixed point, float32)."""
        raw = np.frombuffer(data, dtype=self.dtype)
        return raw.astype(np.int64) if self.fixed else raw.astype(np.float32)

    def reset(self) -> None:
        self.state = self.emulator.initial_state(1)[0]

    def step(self, dt: bytes, x: bytes) -> tuple[bytes, bytes]:
        """One emulator step from the current state: (outputs, new state) as wire bytes."""
        y, state = self.emulator.step_raw(self.values(x)[None], self.state[None], self.values(dt))
        self.state = state[0]
        return y[0].astype(self.dtype).tobytes(), self.wire_state()

    def wire_state(self) -> bytes:
        return np.asarray(self.state).astype(self.dtype).tobytes()

    def set_state(self, data: bytes) -> None:
        self.state = self.values(data)


class HostileBoard:
    """The fake board's server (see the module docstring); use it as a context manager."""

    def __init__(self, export: Export, plan: Plan | None = None, lifetime: float = 10.0, seed: int = 0) -> None:
        self.plan = plan or Plan()
        self.lifetime = lifetime
        self.counts: Counter[str] = Counter()  # what the board did: steps, boots, flood_bytes, ...
        self._model = _Model(export)
        manifest = export.manifest
        self._info = P.DeviceInfo(
            protocol=self.plan.protocol, precision=manifest["precision"], value_size=self._model.dtype.itemsize,
            cycles_kind="dwt", inputs=manifest["inputs"], outputs=manifest["outputs"], state=manifest["state_size"],
            clock_hz=64_000_000, model_hash=self.plan.model_hash or manifest["model_hash"],
            board="fake", core="cortex-m4f", board_raw=self.plan.board, core_raw=b"cortex-m4f",
            max_payload=self._max_payload(),
        )  # fmt: skip
        self._rng = random.Random(seed)
        self._cache: tuple[int, int, bytes] | None = None  # (seq, cmd, encoded answer)
        self._last_step_answer = b""
        self._slow_seen: Counter[int] = Counter()
        self._flooding = ""
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(1)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _max_payload(self) -> int:
        """The payload limit of the board's frames: version 1's 1024, or the plan's, or the model's (as built)."""
        if self.plan.protocol < 2:
            return P.MAX_PAYLOAD
        if self.plan.max_payload is not None:
            return self.plan.max_payload
        manifest = self._model.export.manifest
        sizes = (manifest["inputs"], manifest["outputs"], manifest["state_size"])
        return P.device_max_payload(self._model.dtype.itemsize, *sizes)

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    def __enter__(self) -> HostileBoard:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)
        self._listener.close()

    # --- the connection -------------------------------------------------------------------------------
    def _serve(self) -> None:
        end = time.monotonic() + self.lifetime
        self._listener.settimeout(0.05)
        connection = None
        while connection is None and not self._stop.is_set() and time.monotonic() < end:
            with contextlib.suppress(TimeoutError):
                connection, _ = self._listener.accept()
        if connection is None:
            return
        with connection:
            connection.setblocking(False)
            self._talk(connection, end)

    def _talk(self, connection: socket.socket, end: float) -> None:
        """Read requests, queue answers, send what the host takes, until it hangs up or the time is up."""
        reader = P.FrameReader(self._info.max_payload)
        outbox = bytearray(self._boot(self._info.model_hash))  # power-up announcement, as the firmware sends
        while not self._stop.is_set() and time.monotonic() < end:
            if self._flooding and len(outbox) < _FLOOD_LOW_WATER:
                outbox += self._flood()
            readable, writable, _ = select.select([connection], [connection] if outbox else [], [], 0.02)
            if readable:
                try:
                    data = connection.recv(4096)
                except (BlockingIOError, InterruptedError):
                    data = None
                except OSError:
                    return
                if data == b"":
                    return  # the host hung up
                for encoded in reader.feed(data or b""):
                    outbox += self._handle(encoded)
            if writable and outbox:
                try:
                    sent = connection.send(outbox)
                except (BlockingIOError, InterruptedError):
                    sent = 0
                except OSError:
                    return
                del outbox[:sent]

    # --- answering ------------------------------------------------------------------------------------
    def _handle(self, encoded: bytes | None) -> bytes:
        """The bytes to send for one received frame (none while flooding or silent)."""
        if encoded is None:
            return self._frame(P.ERROR, 0, bytes([P.ERR_OVERSIZE, 0]))
        try:
            frame = P.decode_frame(encoded, self._info.max_payload)
        except P.FrameError as error:
            return self._frame(P.ERROR, 0, bytes([error.code, 0]))
        if self._flooding or self._mute():
            return b""
        if frame.cmd == P.HELLO:
            self._cache = None
            return self._frame(P.HELLO | P.RESPONSE, frame.seq, P.hello_payload(self._info))
        if self._cache is not None and self._cache[:2] == (frame.seq, frame.cmd):
            return self._cache[2]  # a retry: the cached answer, not executed again
        return self._execute(frame)

    def _mute(self) -> bool:
        return self.plan.kind == "silence" and self.counts["steps"] >= self.plan.after

    def _execute(self, frame: P.Frame) -> bytes:
        model, payload = self._model, frame.payload
        if frame.cmd == P.RESET and not payload:
            model.reset()
            return self._answer(frame, b"")
        if frame.cmd == P.SET_STATE and len(payload) == len(model.wire_state()):
            model.set_state(payload)
            return self._answer(frame, b"")
        if frame.cmd == P.READ_STATE and not payload:
            return self._answer(frame, model.wire_state())
        if frame.cmd == P.STEP:
            return self._step(frame)
        return self._answer(frame, bytes([P.ERR_UNKNOWN, frame.cmd]), cmd=P.ERROR)

    def _step(self, frame: P.Frame) -> bytes:
        """STEP, honest or as the plan says."""
        model, size = self._model, self._model.dtype.itemsize
        flags, dt, x = frame.payload[0], frame.payload[1 : 1 + size], frame.payload[1 + size :]
        kind, misbehave = self.plan.kind, self.counts["steps"] >= self.plan.after
        if misbehave and (kind in ("reboot_loop", "model_change") or (kind == "reboot_often" and self._reboot_now())):
            return self._restart(OTHER_HASH if kind == "model_change" else self._info.model_hash)
        if misbehave and kind in ("boot_storm", "garbage", "stale_flood"):
            self._flooding = kind
            return b""
        if misbehave and kind == "replay" and self._last_step_answer:
            self.counts["replays"] += 1
            return self._answer(frame, self._last_step_answer)
        if kind == "slow" and self._drop_slow(frame.seq):
            return b""
        y, state = model.step(dt, x)
        self.counts["steps"] += 1
        if self.counts["steps"] - 1 == self.plan.after:
            y, state = self._flip(y, state)
        answer = struct.pack("<I", 1000 + self.counts["steps"]) + y + (state if flags & P.STEP_WANT_STATE else b"")
        self._last_step_answer = answer
        return self._answer(frame, answer)

    def _reboot_now(self) -> bool:
        """reboot_often: restart at every other STEP request, so each step's first try restarts the board and
        the retry the host sends after restoring the state is answered."""
        self.counts["step_requests"] += 1
        return self.counts["step_requests"] % 2 == 1

    def _drop_slow(self, seq: int) -> bool:
        """slow: drop the first copies of each STEP; once answered, its copies come from the retry cache."""
        self._slow_seen[seq] += 1
        if self._slow_seen[seq] <= _SLOW_DROPS:
            self.counts["dropped"] += 1
            return True
        self._slow_seen.clear()
        return False

    def _flip(self, y: bytes, state: bytes) -> tuple[bytes, bytes]:
        """flip_output: bit 4 of the first output in the answer; flip_state: bit 4 of the first state value in
        RAM (so the answer and every later step carry it)."""
        if self.plan.kind == "flip_output":
            self.counts["flips"] += 1
            return bytes([y[0] ^ 0x10]) + y[1:], state
        if self.plan.kind == "flip_state":
            self.counts["flips"] += 1
            state = bytes([state[0] ^ 0x10]) + state[1:]
            self._model.set_state(state)
        return y, state

    def _restart(self, model_hash: str) -> bytes:
        """What a board that restarts sends: BOOT with seq 0, from a zero state and an empty retry cache."""
        self.counts["boots"] += 1
        self._model.reset()
        self._cache = None
        return self._boot(model_hash)

    def _flood(self) -> bytes:
        """About 4 KB of the current flood."""
        out = bytearray()
        while len(out) < 4096:
            if self._flooding == "boot_storm":
                self.counts["boots"] += 1
                out += self._boot(self._info.model_hash)
            elif self._flooding == "garbage":
                # randbytes runs in C: a flood made byte by byte in Python held the GIL so long that the host's
                # reader, a thread of the same process, was starved and saw time-outs instead of garbage.
                out += self._rng.randbytes(256)
            else:  # stale_flood: a well-formed STEP answer, but to a request long gone (seq never current)
                stale_seq = (self._cache[0] if self._cache else 0) - 100
                out += self._frame(P.STEP | P.RESPONSE, stale_seq, self._last_step_answer)
        self.counts["flood_bytes"] += len(out)
        return bytes(out)

    def _boot(self, model_hash: str) -> bytes:
        return self._frame(P.BOOT, 0, P.hello_payload(replace(self._info, model_hash=model_hash)))

    def _answer(self, frame: P.Frame, payload: bytes, cmd: int | None = None) -> bytes:
        """The answer to ``frame`` (its response, or ``cmd`` ERROR), remembered for retries as the firmware does."""
        answer = self._frame(frame.cmd | P.RESPONSE if cmd is None else cmd, frame.seq, payload)
        self._cache = (frame.seq, frame.cmd, answer)
        return answer

    def _frame(self, cmd: int, seq: int, payload: bytes) -> bytes:
        return P.encode_frame(cmd, seq & 0xFF, payload, self._info.max_payload)

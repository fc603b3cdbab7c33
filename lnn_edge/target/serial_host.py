"""The host end of the serial protocol: a client for a board running lnn-edge firmware, over any pyserial URL.

``SerialClient("socket://127.0.0.1:4567")`` (QEMU), ``"/dev/ttyACM0"`` (a board), ``"loop://"`` (tests).
Every request is retried a bounded number of times with the same seq when the answer times out, arrives
corrupted (bad CRC, bad COBS, over-long) or the device reports a transport error; the device's retry cache
makes a retried STEP safe (it is not executed twice). A result is only ever taken from a frame whose CRC,
seq, command and length all check out. When the device restarts mid-run (an unsolicited BOOT frame), the
client puts back the last state it saw (SET_STATE) and carries on. When the retries run out it raises
:class:`LinkError` naming the port, the request and what went wrong: never a hang, never a guessed value.

Restarts are bounded too: more than ``max_reboots_per_request`` in a row while one request is outstanding, or
more than ``max_reboots`` in the session, raise :class:`BoardMisbehaved` (a crash, brown-out or watchdog loop
would otherwise be "recovered" forever), as do a restart with another model and an optional session
``deadline`` that runs out.
"""

from __future__ import annotations

import contextlib
import struct
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lnn_edge.errors import LnnEdgeError, MissingDependencyError
from lnn_edge.target import protocol as P

VALUE_DTYPES: dict[str, np.dtype[Any]] = {
    "float32": np.dtype("<f4"),
    "fixed16": np.dtype("<i2"),
    "fixed32": np.dtype("<i4"),
}
DEFAULT_TIMEOUT = 1.0
DEFAULT_RETRIES = 12
# A healthy board never restarts during a run; a flaky power supply may once or twice. More is a loop.
DEFAULT_MAX_REBOOTS = 8
DEFAULT_MAX_REBOOTS_PER_REQUEST = 2
_READ_TIMEOUT = 0.02  # seconds one read may block: the granularity of every deadline
_CORRUPT = object()  # a frame that arrived but failed COBS/length/CRC checks


class LinkError(LnnEdgeError):
    """No valid answer from the device after the retries, or the connection broke."""


class DeviceError(LnnEdgeError):
    """The device understood the request and refused it (wrong length, unknown command, step failed)."""


class ModelMismatchError(LnnEdgeError):
    """The device runs a different model than the export being verified."""


class BoardMisbehaved(LnnEdgeError):
    """The device answers, but not as a healthy board does: it restarts too often, restarts with another
    model, or takes longer than the session's deadline. Mid-run, verification turns this into a FAIL verdict."""


class _Rebooted(Exception):
    """Internal: the device restarted while a request was outstanding; restart the request."""


@dataclass
class LinkStats:
    """What the link went through: the evidence that retries and recovery happened."""

    requests: int = 0
    retries: int = 0
    timeouts: int = 0
    corrupted: int = 0
    device_errors: int = 0
    stale: int = 0
    reboots: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class StepResult:
    """One STEP answer: cycles of the model's step function, outputs and (if asked) the state."""

    cycles: int
    y: np.ndarray
    state: np.ndarray | None


@dataclass
class BenchResult:
    """A BENCH answer: cycles per step over ``count`` steps."""

    count: int
    total: int
    min: int
    max: int

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0


@dataclass
class SerialClient:
    """A protocol client over a pyserial URL (see the module docstring)."""

    url: str
    baud: int = 115200
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    max_reboots: int = DEFAULT_MAX_REBOOTS
    max_reboots_per_request: int = DEFAULT_MAX_REBOOTS_PER_REQUEST
    stats: LinkStats = field(default_factory=LinkStats)
    info: P.DeviceInfo | None = None

    def __post_init__(self) -> None:
        try:
            import serial
        except ImportError:  # pragma: no cover - pyserial is a core dependency
            raise MissingDependencyError("talking to boards needs pyserial: pip install pyserial") from None
        self._serial_module = serial
        try:
            self._port: Any = serial.serial_for_url(
                self.url, baudrate=self.baud, timeout=_READ_TIMEOUT, write_timeout=5.0
            )
        except (serial.SerialException, ValueError, OSError) as error:
            raise LinkError(f"cannot open {self.url}: {error}") from None
        # Frames are bounded by version 1's size until HELLO reports the device's own maximum.
        self._max_payload = P.MAX_PAYLOAD
        self._reader = P.FrameReader(self._max_payload)
        self._frames: deque[Any] = deque()
        self._seq = 0
        self._state: bytes | None = None  # the last state the device reported or was given (raw bytes)
        self._state_known = True  # False after a STEP without state: a restart could then not be undone
        self._recovering = False
        self._request = ""  # the name of the request being answered (outside recovery), for messages
        self._request_reboots = 0  # restarts while that request was outstanding
        self._deadline: float | None = None  # time.monotonic() by which the session must be done
        self._time_limit = 0.0
        # How long to keep listening after a damaged frame before sending again: an answer that is already
        # on its way arrives within a few frame times.
        self._grace = min(self.timeout, 0.05)

    # --- plumbing -------------------------------------------------------------------------------------
    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing a broken link must not hide the original error
            self._port.close()

    def __enter__(self) -> SerialClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def dtype(self) -> np.dtype[Any]:
        if self.info is None:
            raise LinkError("call hello() first")
        return VALUE_DTYPES[self.info.precision]

    def set_deadline(self, seconds: float) -> None:
        """Bound the rest of the session to ``seconds``: a request still unanswered then raises BoardMisbehaved."""
        self._time_limit = seconds
        self._deadline = time.monotonic() + seconds

    def _check_deadline(self, name: str) -> None:
        if self._deadline is not None and time.monotonic() >= self._deadline:
            raise BoardMisbehaved(
                f"{self.url} did not finish within the run's time limit of {self._time_limit:.1f} s "
                f"(still waiting for an answer to {name}); the board or the line is too slow"
            )

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFF
        return self._seq

    def _send(self, data: bytes) -> None:
        try:
            # A leading delimiter ends any garbage the device may hold; an empty frame is ignored.
            self._port.write(b"\0" + data)
            self._port.flush()
        except (self._serial_module.SerialException, OSError) as error:
            raise LinkError(f"writing to {self.url} failed: {error}") from None

    def _receive(self, deadline: float) -> Any:
        """The next received frame (a Frame, or _CORRUPT), or None when ``deadline`` passes first."""
        while not self._frames:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                # The port's read time-out stays at its short fixed value (changing it reconfigures a real
                # tty); this loop provides the deadline.
                waiting = self._port.in_waiting
                data = self._port.read(waiting if waiting > 0 else 1)
            except (self._serial_module.SerialException, OSError) as error:
                raise LinkError(f"the connection to {self.url} broke ({error}): the device or QEMU stopped") from None
            for encoded in self._reader.feed(data):
                if encoded is None:
                    self._frames.append(_CORRUPT)
                    continue
                try:
                    self._frames.append(P.decode_frame(encoded, self._max_payload))
                except P.FrameError:
                    self._frames.append(_CORRUPT)
        return self._frames.popleft()

    def _transact(self, cmd: int, payload: bytes, length_ok: Any, timeout: float | None = None) -> bytes:
        """Send one request and return the payload of its valid response (see the module docstring)."""
        if not self._recovering:  # a new request from the caller (not a SET_STATE that restores the state)
            self._request, self._request_reboots = P.COMMAND_NAMES[cmd], 0
        while True:
            try:
                return self._attempts(cmd, payload, length_ok, timeout)
            except _Rebooted:
                continue  # state restored: send the request again, with a new seq

    def _attempts(self, cmd: int, payload: bytes, length_ok: Any, timeout: float | None) -> bytes:
        seq = self._next_seq()
        name = P.COMMAND_NAMES[cmd]
        # hello() made sure the model's requests fit the device's maximum (and only HELLO is sent before it).
        frame = P.encode_frame(cmd, seq, payload, self._max_payload)
        reasons: Counter[str] = Counter()
        stale = 0
        self.stats.requests += 1
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats.retries += 1
            self._check_deadline(name)
            self._send(frame)
            deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
            if self._deadline is not None:
                deadline = min(deadline, self._deadline)
            problem = ""
            while True:
                item = self._receive(deadline)
                if item is None:
                    self._check_deadline(name)
                    reasons[problem or "time-outs"] += 1
                    if not problem:
                        self.stats.timeouts += 1
                    break
                if item is _CORRUPT:
                    # A damaged frame: maybe our answer, maybe a duplicate. Our answer may still be on its way,
                    # so wait a moment more (not the whole time-out) before sending again.
                    self.stats.corrupted += 1
                    problem = problem or "corrupted frames"
                    deadline = min(deadline, time.monotonic() + self._grace)
                    continue
                assert isinstance(item, P.Frame)
                if item.cmd == P.BOOT:
                    self._rebooted(item)
                    continue
                if item.cmd == P.ERROR and len(item.payload) == 2 and item.payload[0] in P.TRANSPORT_ERRORS:
                    # The device got a damaged frame: ours (then send again), or garbage that arrived before it
                    # (then our answer follows at once). Its seq is not trustworthy, so wait a moment and see.
                    self.stats.device_errors += 1
                    problem = problem or f"device reported {P.ERROR_NAMES[item.payload[0]]}"
                    deadline = min(deadline, time.monotonic() + self._grace)
                    continue
                if item.seq != seq:
                    self.stats.stale += 1  # an answer to an earlier attempt or request
                    stale += 1
                    continue
                if item.cmd == P.ERROR and len(item.payload) == 2:
                    code = item.payload[0]
                    raise DeviceError(
                        f"{self.url} answered {name} with ERROR {code} ({P.ERROR_NAMES.get(code, 'unknown code')})"
                    )
                if item.cmd != cmd | P.RESPONSE or not length_ok(len(item.payload)):
                    self.stats.corrupted += 1
                    problem = problem or "answers of the wrong kind or length"
                    deadline = min(deadline, time.monotonic() + self._grace)
                    continue
                return item.payload
        summary = ", ".join(f"{count} {reason}" for reason, count in reasons.items())
        if stale:
            summary += f"; {stale} answers with another request's seq ignored"
        raise LinkError(f"no valid answer from {self.url} to {name} after {self.retries + 1} tries ({summary})")

    def _rebooted(self, frame: P.Frame) -> None:
        """BOOT mid-session: count it, check the model is the same, restore the last state, restart the request."""
        if self.info is None:
            return  # BOOT before the session started: the normal power-up announcement
        self._count_reboot()
        try:
            booted = P.parse_hello(frame.payload)
        except P.FrameError as error:
            raise BoardMisbehaved(f"{self.url} restarted and sent a malformed BOOT frame ({error})") from None
        if booted.model_hash != self.info.model_hash:
            raise BoardMisbehaved(
                f"{self.url} restarted mid-run with a different model (hash {booted.model_hash[:16]}…, "
                f"it had {self.info.model_hash[:16]}…)"
            )
        if self._recovering:
            raise _Rebooted  # restarted again while restoring: the SET_STATE is sent again (see _transact)
        if not self._state_known:
            raise BoardMisbehaved(
                f"{self.url} restarted mid-run and its state cannot be restored (a STEP without state)"
            )
        self._recovering = True
        try:
            if self._state is not None:
                self._transact(P.SET_STATE, self._state, lambda n: n == 0)
        finally:
            self._recovering = False
        raise _Rebooted

    def _count_reboot(self) -> None:
        """Count a restart; beyond the bounds it is a loop (crash, brown-out, watchdog), not bad luck."""
        self.stats.reboots += 1
        self._request_reboots += 1
        if self._request_reboots > self.max_reboots_per_request:
            raise BoardMisbehaved(
                f"{self.url} restarted {self._request_reboots} times in a row instead of answering {self._request} "
                f"(a crash, brown-out or watchdog reset loop on the board)"
            )
        if self.stats.reboots > self.max_reboots:
            raise BoardMisbehaved(
                f"{self.url} restarted {self.stats.reboots} times in this run, more than the {self.max_reboots} "
                f"a healthy board could need (unstable power, a crash or a watchdog reset)"
            )

    # --- commands -------------------------------------------------------------------------------------
    def hello(self) -> P.DeviceInfo:
        """Start a session: the device's protocol, model and board (HELLO also clears its retry cache)."""
        payload = self._transact(P.HELLO, b"", lambda n: n >= 48)
        try:
            info = P.parse_hello(payload)
        except P.FrameError as error:
            raise LinkError(f"{self.url} sent a malformed HELLO answer: {error}") from None
        if info.protocol not in P.SUPPORTED_VERSIONS:
            versions = " and ".join(map(str, P.SUPPORTED_VERSIONS))
            raise LinkError(f"{self.url} speaks protocol version {info.protocol}; this host speaks {versions}")
        if info.precision not in VALUE_DTYPES or VALUE_DTYPES[info.precision].itemsize != info.value_size:
            raise LinkError(f"{self.url} reports precision {info.precision} with {info.value_size}-byte values")
        needed = P.model_payload(info.value_size, info.inputs, info.outputs, info.state)
        if needed > info.max_payload:
            raise LinkError(
                f"{self.url} runs a model whose frames need {needed}-byte payloads, but it accepts at most "
                f"{info.max_payload} (protocol version {info.protocol}): build and flash its firmware with this "
                f"lnn-edge, which sizes the frames from the model"
            )
        self.info = info
        self._max_payload = info.max_payload  # larger answers may follow: receive them whole
        self._reader.max_encoded = P.max_encoded(info.max_payload)
        return info

    def check_export(self, export: Any) -> P.DeviceInfo:
        """HELLO, then refuse a device whose model is not ``export``'s (an :class:`lnn_edge.codegen.export.Export`)."""
        info = self.info or self.hello()
        manifest = export.manifest
        expected = manifest["model_hash"]
        if info.model_hash != expected:
            raise ModelMismatchError(
                f"the board at {self.url} ('{info.board}') runs model {info.model_hash[:16]}…, but the export "
                f"{export.directory} is {expected[:16]}…: build and flash this export "
                f"(lnn-edge build {export.directory} --board {info.board}; lnn-edge flash …)"
            )
        sizes = (info.inputs, info.outputs, info.state, info.precision)
        wanted = (manifest["inputs"], manifest["outputs"], manifest["state_size"], manifest["precision"])
        if sizes != wanted:
            raise ModelMismatchError(f"the board at {self.url} reports sizes {sizes}, the export {wanted}")
        return info

    def reset(self) -> None:
        """Zero the device's state."""
        self._transact(P.RESET, b"", lambda n: n == 0)
        self._state = bytes(self.dtype.itemsize * self._info().state)
        self._state_known = True

    def step(self, x: np.ndarray, dt: Any, want_state: bool = True) -> StepResult:
        """One step on raw inputs (the model's value type); returns cycles, outputs and state."""
        info = self._info()
        dtype = self.dtype
        x_bytes = np.ascontiguousarray(x, dtype=dtype).tobytes()
        if len(x_bytes) != info.inputs * dtype.itemsize:
            raise ValueError(f"x has {len(x_bytes) // dtype.itemsize} values; the model takes {info.inputs}")
        dt_bytes = np.asarray(dt, dtype=dtype).tobytes()
        flags = P.STEP_WANT_STATE if want_state else 0
        expected = 4 + dtype.itemsize * (info.outputs + (info.state if want_state else 0))
        payload = self._transact(P.STEP, bytes([flags]) + dt_bytes + x_bytes, lambda n: n == expected)
        (cycles,) = struct.unpack_from("<I", payload)
        y_end = 4 + dtype.itemsize * info.outputs
        y = np.frombuffer(payload[4:y_end], dtype=dtype).copy()
        state = None
        if want_state:
            self._state = payload[y_end:]
            self._state_known = True
            state = np.frombuffer(self._state, dtype=dtype).copy()
        else:
            self._state_known = False
        return StepResult(cycles, y, state)

    def read_state(self) -> np.ndarray:
        info = self._info()
        size = self.dtype.itemsize * info.state
        payload = self._transact(P.READ_STATE, b"", lambda n: n == size)
        self._state, self._state_known = payload, True
        return np.frombuffer(payload, dtype=self.dtype).copy()

    def set_state(self, state: np.ndarray) -> None:
        info = self._info()
        data = np.ascontiguousarray(state, dtype=self.dtype).tobytes()
        if len(data) != self.dtype.itemsize * info.state:
            raise ValueError(f"state has {len(data) // self.dtype.itemsize} values; the model has {info.state}")
        self._transact(P.SET_STATE, data, lambda n: n == 0)
        self._state, self._state_known = data, True

    def bench(self, count: int, x: np.ndarray, dt: Any, timeout: float | None = None) -> BenchResult:
        """``count`` steps on the device from its current state (which it restores), cycles per step."""
        dtype = self.dtype
        payload = struct.pack("<I", count) + np.asarray(dt, dtype=dtype).tobytes()
        payload += np.ascontiguousarray(x, dtype=dtype).tobytes()
        answer = self._transact(P.BENCH, payload, lambda n: n == 20, timeout=timeout or self.timeout + count * 0.01)
        got, total_lo, total_hi, low, high = struct.unpack("<IIIII", answer)
        return BenchResult(got, total_lo | (total_hi << 32), low, high)

    def raw_request(self, cmd: int, payload: bytes = b"") -> P.Frame:
        """Send any frame once and return the next frame received (for protocol tests; no retries)."""
        seq = self._next_seq()
        self._send(P.encode_frame(cmd, seq, payload, P.PAYLOAD_LIMIT))  # the device must judge the size
        item = self._receive(time.monotonic() + self.timeout)
        if item is None or item is _CORRUPT:
            raise LinkError(f"no valid answer from {self.url} to command 0x{cmd:02x}")
        assert isinstance(item, P.Frame)
        return item

    def _info(self) -> P.DeviceInfo:
        if self.info is None:
            raise LinkError("call hello() first")
        return self.info

"""The firmware's side of the serial protocol, on emulated boards with three different UART drivers.

Every malformed, oversized, unknown or wrong-length frame gets exactly one ERROR frame with the right code,
and the firmware keeps serving; BOOT comes first; a retried request is answered from the cache without
being executed again; BENCH leaves the state as it found it. "Exactly one" is checked by following each
bad frame with a HELLO: the device answers in order, so everything before the HELLO's answer belongs to
the bad frame.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest
import serial
from test_firmware_helpers import shared_export

from lnn_edge.target import protocol as P
from lnn_edge.target.boards import load_board
from lnn_edge.target.build import build_firmware
from lnn_edge.target.qemu import QemuInstance, running

pytestmark = pytest.mark.qemu

BOARDS = ["qemu-mps2-an386", "qemu-microbit", "qemu-netduinoplus2"]  # CMSDK, nRF51 and STM32 UARTs
INPUTS, OUTPUTS, STATE, VALUE = 20, 2, 19, 2  # the fixed16 AutoNCP(19, 2) LTC with 20 inputs


class RawLink:
    """Bytes in, decoded frames out: no retries, no interpretation (the firmware is under test)."""

    def __init__(self, url: str) -> None:
        self.port = serial.serial_for_url(url, timeout=0.05)
        self.reader = P.FrameReader()
        self.pending: list[bytes | None] = []
        self.seq = 100

    def send(self, data: bytes) -> None:
        self.port.write(data)

    def next_frame(self, timeout: float = 5.0) -> P.Frame:
        deadline = time.monotonic() + timeout
        while not self.pending:
            if time.monotonic() > deadline:
                raise AssertionError("no frame from the device")
            self.pending += self.reader.feed(self.port.read(max(1, self.port.in_waiting)))
        encoded = self.pending.pop(0)
        assert encoded is not None, "the device sent an over-long frame"
        return P.decode_frame(encoded)  # a CRC or COBS failure from the device fails the test

    def request(self, cmd: int, payload: bytes = b"", seq: int | None = None) -> P.Frame:
        seq = self.next_seq() if seq is None else seq
        self.send(P.encode_frame(cmd, seq, payload))
        return self.next_frame()

    def next_seq(self) -> int:
        self.seq = (self.seq + 1) & 0xFF
        return self.seq

    def answers_to(self, data: bytes) -> list[P.Frame]:
        """Send ``data``, then a HELLO; return every frame that came before the HELLO's answer."""
        seq = self.next_seq()
        self.send(data + P.encode_frame(P.HELLO, seq))
        frames: list[P.Frame] = []
        while True:
            frame = self.next_frame()
            if frame.cmd == P.HELLO | P.RESPONSE and frame.seq == seq:
                return frames
            frames.append(frame)


@dataclass
class Device:
    board: str
    instance: QemuInstance
    link: RawLink
    boot: P.Frame
    model_hash: str


@pytest.fixture(scope="module", params=BOARDS)
def device(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Device]:
    exported = shared_export(tmp_path_factory, "fixed16")
    board = load_board(request.param)
    built = build_firmware(exported.directory, board)
    with running(board, built.elf) as instance:
        link = RawLink(instance.url)
        boot = link.next_frame()
        yield Device(board.name, instance, link, boot, exported.manifest["model_hash"])
        link.port.close()


def error_of(frame: P.Frame) -> tuple[int, int]:
    assert frame.cmd == P.ERROR, f"expected an ERROR frame, got {frame.name}"
    assert len(frame.payload) == 2
    return frame.payload[0], frame.payload[1]


def test_boot_frame_comes_first(device: Device) -> None:
    assert device.boot.cmd == P.BOOT and device.boot.seq == 0
    info = P.parse_hello(device.boot.payload)
    assert info.model_hash == device.model_hash
    assert (info.inputs, info.outputs, info.state, info.precision) == (INPUTS, OUTPUTS, STATE, "fixed16")
    assert info.board == device.board


def test_hello(device: Device) -> None:
    answer = device.link.request(P.HELLO)
    assert answer.cmd == P.HELLO | P.RESPONSE
    info = P.parse_hello(answer.payload)
    assert info.protocol == 2 and info.cycles_kind == "systick" and info.value_size == VALUE
    assert info.max_payload == P.MAX_PAYLOAD  # a small model keeps version 1's frame size
    assert info.model_hash == device.model_hash


def _raw_frame(cmd: int, seq: int, payload: bytes, length: int | None = None, crc_xor: int = 0) -> bytes:
    body = struct.pack("<BBH", cmd, seq, len(payload) if length is None else length) + payload
    return P.cobs_encode(body + struct.pack("<H", P.crc16(body) ^ crc_xor)) + b"\0"


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("bad COBS", b"\x05\x01\x00", P.ERR_MALFORMED),
        ("shorter than header and CRC", P.cobs_encode(b"\x01\x02\x03") + b"\0", P.ERR_MALFORMED),
        ("length field too large for the frame", _raw_frame(P.HELLO, 3, b"ab", length=4), P.ERR_MALFORMED),
        ("length field too small for the frame", _raw_frame(P.HELLO, 3, b"abcd", length=1), P.ERR_MALFORMED),
        ("bad CRC", _raw_frame(P.HELLO, 3, b"", crc_xor=0x0100), P.ERR_CRC),
        ("payload above the device's 1024 bytes", _raw_frame(P.SET_STATE, 3, bytes(P.MAX_PAYLOAD + 1)), P.ERR_OVERSIZE),
        ("no delimiter within 1036 bytes", b"\x55" * 1500 + b"\0", P.ERR_OVERSIZE),
    ],
)
def test_undecodable_frames_get_one_error(device: Device, name: str, data: bytes, code: int) -> None:
    frames = device.link.answers_to(b"\0" + data)
    assert len(frames) == 1, f"{name}: {[f.name for f in frames]}"
    assert error_of(frames[0]) == (code, 0)  # the header is not trusted: cmd reported as 0
    assert frames[0].seq == 0


@pytest.mark.parametrize(
    ("cmd", "payload", "code"),
    [
        (0x42, b"", P.ERR_UNKNOWN),
        (P.HELLO | P.RESPONSE, b"", P.ERR_UNKNOWN),
        (P.BOOT, b"", P.ERR_UNKNOWN),
        (P.ERROR, b"\x01\x02", P.ERR_UNKNOWN),
        (0x00, b"", P.ERR_UNKNOWN),
        (P.HELLO, b"x", P.ERR_LENGTH),
        (P.RESET, b"x", P.ERR_LENGTH),
        (P.READ_STATE, b"xy", P.ERR_LENGTH),
        (P.STEP, bytes(5), P.ERR_LENGTH),
        (P.STEP, bytes(1 + VALUE * (INPUTS + 1) + 1), P.ERR_LENGTH),
        (P.SET_STATE, bytes(3), P.ERR_LENGTH),
        (P.BENCH, bytes(4), P.ERR_LENGTH),
    ],
)
def test_bad_requests_get_one_error(device: Device, cmd: int, payload: bytes, code: int) -> None:
    seq = device.link.next_seq()
    frames = device.link.answers_to(P.encode_frame(cmd, seq, payload))
    assert len(frames) == 1
    assert error_of(frames[0]) == (code, cmd)
    assert frames[0].seq == seq


def test_empty_frames_are_ignored(device: Device) -> None:
    assert device.link.answers_to(b"\0\0\0\0") == []


def test_garbage_before_a_frame(device: Device) -> None:
    """Garbage, a delimiter, then a frame: one ERROR for the garbage, then the frame's answer."""
    seq = device.link.next_seq()
    device.link.send(b"\x13\x37\xfe\xff\x01\x02garbage" + b"\0" + P.encode_frame(P.READ_STATE, seq))
    first = device.link.next_frame()
    assert first.cmd == P.ERROR
    second = device.link.next_frame()
    assert (second.cmd, second.seq, len(second.payload)) == (P.READ_STATE | P.RESPONSE, seq, STATE * VALUE)


def _step_payload(want_state: bool = True) -> bytes:
    x = np.arange(INPUTS, dtype="<i2") * 300 - 3000
    return bytes([1 if want_state else 0]) + struct.pack("<h", 4096) + x.tobytes()


def test_retried_step_is_not_executed_twice(device: Device) -> None:
    link = device.link
    assert link.request(P.RESET).cmd == P.RESET | P.RESPONSE
    seq = link.next_seq()
    first = link.request(P.STEP, _step_payload(), seq=seq)
    again = link.request(P.STEP, _step_payload(), seq=seq)  # a retry: same seq, same command
    assert again == first
    after_retry = link.request(P.STEP, _step_payload())
    link.request(P.RESET)
    link.request(P.STEP, _step_payload())
    twice = link.request(P.STEP, _step_payload())
    assert after_retry.payload[4:] == twice.payload[4:]  # two executions, not three (cycles may differ)
    state = link.request(P.READ_STATE)
    assert state.payload == twice.payload[4 + OUTPUTS * VALUE :]


def test_hello_always_executes_and_clears_the_cache(device: Device) -> None:
    link = device.link
    seq = link.next_seq()
    link.request(P.RESET, seq=seq)
    hello = link.request(P.HELLO, seq=seq)  # same seq, different command: executed
    assert hello.cmd == P.HELLO | P.RESPONSE
    step = link.request(P.STEP, _step_payload(), seq=seq)
    assert step.cmd == P.STEP | P.RESPONSE  # executed: the cache was cleared by HELLO


def test_step_without_state(device: Device) -> None:
    answer = device.link.request(P.STEP, _step_payload(want_state=False))
    assert len(answer.payload) == 4 + OUTPUTS * VALUE


def test_set_and_read_state(device: Device) -> None:
    state = (np.arange(STATE, dtype="<i2") * 512 - 4000).tobytes()
    assert device.link.request(P.SET_STATE, state).cmd == P.SET_STATE | P.RESPONSE
    assert device.link.request(P.READ_STATE).payload == state


def test_bench_restores_the_state(device: Device) -> None:
    link = device.link
    link.request(P.RESET)
    link.request(P.STEP, _step_payload())
    before = link.request(P.READ_STATE).payload
    x = np.arange(INPUTS, dtype="<i2") * 100
    answer = link.request(P.BENCH, struct.pack("<Ih", 50, 4096) + x.tobytes())
    assert answer.cmd == P.BENCH | P.RESPONSE
    count, total_lo, total_hi, low, high = struct.unpack("<IIIII", answer.payload)
    total = total_lo | total_hi << 32
    assert count == 50 and 0 < low <= total / count <= high
    assert link.request(P.READ_STATE).payload == before


def test_device_still_serves_after_everything(device: Device) -> None:
    answer = device.link.request(P.HELLO)
    assert P.parse_hello(answer.payload).model_hash == device.model_hash
    assert device.instance.alive()

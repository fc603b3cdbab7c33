"""Fuzzing the firmware's frame parser and server under AddressSanitizer and UndefinedBehaviorSanitizer.

The firmware's own protocol sources and model binding, with the generated fixed16 LTC, are compiled for the
host with -fsanitize=address,undefined (firmware/host/lnn_fw_fuzz_main.c feeds them records from a file). A
standalone driver fed through files is used rather than cffi: no LD_PRELOAD of libasan into Python, and a
sanitizer report ends the process with a non-zero status and its text on stderr, which the test asserts
away. More than 100 000 frames are sent: hypothesis-built ones (valid, cut, bit-flipped, wrong lengths,
garbage, over-long runs) and a bulk of random and mutated frames.

Every frame (every non-empty run of bytes between delimiters) must get exactly one response: a single
write that is one well-formed frame (COBS, CRC), and that is what a Python model of the protocol rules
expects (error code, echoed seq and cmd, payload length, or the cached bytes for a retried request).
"""

from __future__ import annotations

import random
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.host_server import build_host_server
from test_firmware_helpers import read_writes, write_records

from lnn_edge.codegen.export import Export
from lnn_edge.target import protocol as P

INPUTS, OUTPUTS, STATE, VS = 20, 2, 19, 2  # the fixed16 AutoNCP(19, 2) LTC with 20 inputs
REQUEST_LENGTHS = {
    P.HELLO: 0, P.RESET: 0, P.STEP: 1 + VS + VS * INPUTS, P.READ_STATE: 0, P.SET_STATE: VS * STATE,
    P.BENCH: 4 + VS + VS * INPUTS,
}  # fmt: skip
LIMIT = P.MAX_ENCODED - 1  # bytes of a frame before its delimiter


@pytest.fixture(scope="module")
def fuzz_binary(tmp_path_factory: pytest.TempPathFactory, ltc_fixed16_export: Export) -> Path:
    return build_host_server(
        ltc_fixed16_export.directory, tmp_path_factory.mktemp("fuzz") / "lnn_fw_fuzz", sanitize=True
    )


@dataclass
class Oracle:
    """What the firmware must answer, from docs/serial-protocol.md (and its retry cache)."""

    hello_length: int = 0
    cache: tuple[int, int, bytes] | None = None

    def check(self, segment: bytes, answer: bytes) -> None:
        assert answer.endswith(b"\0") and 0 not in answer[:-1], "a response is one delimited frame"
        frame = P.decode_frame(answer[:-1])  # raises on a bad COBS encoding or CRC
        if len(segment) > LIMIT:
            assert (frame.cmd, frame.seq, frame.payload) == (P.ERROR, 0, bytes([P.ERR_OVERSIZE, 0]))
            return
        try:
            request = P.decode_frame(segment)
        except P.FrameError as error:
            assert (frame.cmd, frame.seq, frame.payload) == (P.ERROR, 0, bytes([error.code, 0]))
            return
        cmd, seq = request.cmd, request.seq
        if cmd != P.HELLO and self.cache is not None and self.cache[:2] == (seq, cmd):
            assert answer == self.cache[2], "a retried request gets the cached answer, byte for byte"
            return
        assert frame.seq == seq
        if cmd not in REQUEST_LENGTHS:
            assert (frame.cmd, frame.payload) == (P.ERROR, bytes([P.ERR_UNKNOWN, cmd]))
        elif len(request.payload) != REQUEST_LENGTHS[cmd]:
            assert (frame.cmd, frame.payload) == (P.ERROR, bytes([P.ERR_LENGTH, cmd]))
        else:
            assert frame.cmd == cmd | P.RESPONSE
            want_state = cmd == P.STEP and request.payload[0] & 1
            expected = {P.HELLO: self.hello_length, P.RESET: 0, P.READ_STATE: VS * STATE, P.SET_STATE: 0, P.BENCH: 20,
                        P.STEP: 4 + VS * (OUTPUTS + (STATE if want_state else 0))}[cmd]  # fmt: skip
            assert len(frame.payload) == expected
        self.cache = None if cmd == P.HELLO else (seq, cmd, answer)


def run_fuzz(binary: Path, records: list[bytes], tmp: Path) -> int:
    """Run the sanitized driver on ``records`` and check every answer; returns the number of frames."""
    source, sink = tmp / "in.bin", tmp / "out.bin"
    write_records(source, records)
    ran = subprocess.run([str(binary), str(source), str(sink)], capture_output=True, text=True, timeout=600,
                         env={"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0", "UBSAN_OPTIONS": "print_stacktrace=1"})  # fmt: skip
    assert ran.returncode == 0 and not ran.stderr.strip(), f"sanitizer or driver failure:\n{ran.stderr[:3000]}"
    writes_per_record = read_writes(sink)
    boot = writes_per_record.pop(0)
    assert len(boot) == 1
    boot_frame = P.decode_frame(boot[0][:-1])
    assert boot_frame.cmd == P.BOOT
    oracle = Oracle(hello_length=len(boot_frame.payload))
    assert len(writes_per_record) == len(records)
    frames = 0
    for record, writes in zip(records, writes_per_record, strict=True):
        segments = [segment for segment in (record + b"\0").split(b"\0")[:-1] if segment]
        assert len(writes) == len(segments), f"{len(segments)} frames got {len(writes)} responses: {record[:80]!r}"
        for segment, answer in zip(segments, writes, strict=True):
            oracle.check(segment, answer)
        frames += len(segments)
    return frames


# --- hypothesis: structured frames --------------------------------------------------------------------
COMMANDS = [*REQUEST_LENGTHS, 0x00, 0x42, 0x7E, 0x7F, 0x81, 0xFF]


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    cmd = draw(st.sampled_from(COMMANDS))
    seq = draw(st.integers(0, 255))
    if cmd in REQUEST_LENGTHS and draw(st.booleans()):
        payload = bytearray(draw(st.binary(min_size=REQUEST_LENGTHS[cmd], max_size=REQUEST_LENGTHS[cmd])))
    else:
        payload = bytearray(draw(st.one_of(st.binary(max_size=64), st.binary(min_size=1000, max_size=1100))))
    if cmd == P.BENCH and len(payload) >= 4:
        payload[0:4] = struct.pack("<I", draw(st.integers(0, 3)))  # a BENCH must stay short
    body = struct.pack("<BBH", cmd, seq, len(payload)) + bytes(payload)
    crc = P.crc16(body)
    kind = draw(st.sampled_from(["valid", "valid", "valid", "bad-crc", "bad-length", "cut", "flip", "raw", "long"]))
    if kind == "bad-crc":
        crc ^= draw(st.integers(1, 0xFFFF))
    elif kind == "bad-length":
        body = struct.pack("<BBH", cmd, seq, draw(st.integers(0, 0xFFFF))) + bytes(payload)
    encoded = bytearray(P.cobs_encode(body + struct.pack("<H", crc)))
    if kind == "cut":
        encoded = encoded[: draw(st.integers(0, len(encoded)))]
    elif kind == "flip":
        at = draw(st.integers(0, len(encoded) - 1))
        encoded[at] ^= 1 << draw(st.integers(0, 7))
    elif kind == "raw":
        return draw(st.binary(max_size=80))
    elif kind == "long":
        return bytes([draw(st.integers(1, 255))]) * draw(st.integers(LIMIT - 2, LIMIT + 120))
    return bytes(encoded)


@pytest.mark.slow
@settings(max_examples=150)
@given(st.lists(requests(), min_size=1, max_size=40))
def test_fuzz_structured_frames(
    fuzz_binary: Path, tmp_path_factory: pytest.TempPathFactory, records: list[bytes]
) -> None:
    run_fuzz(fuzz_binary, records, tmp_path_factory.mktemp("fuzz-case"))


# --- bulk: random and mutated frames ------------------------------------------------------------------
def bulk_records(count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    records = []
    for _ in range(count):
        cmd = rng.choice(COMMANDS)
        if cmd in REQUEST_LENGTHS and rng.random() < 0.6:
            payload = bytearray(rng.randbytes(REQUEST_LENGTHS[cmd]))
        else:
            payload = bytearray(rng.randbytes(rng.randrange(0, 48)))
        if cmd == P.BENCH and len(payload) >= 4:
            payload[0:4] = struct.pack("<I", rng.randrange(3))  # a BENCH must stay short
        seq = rng.randrange(4) if rng.random() < 0.3 else rng.randrange(256)  # frequent seq reuse: cache hits
        frame = bytearray(P.encode_frame(cmd, seq, bytes(payload))[:-1])
        roll = rng.random()
        if roll < 0.15:  # flip bits
            for _ in range(rng.randint(1, 3)):
                frame[rng.randrange(len(frame))] ^= 1 << rng.randrange(8)
        elif roll < 0.25:  # drop or duplicate a byte
            at = rng.randrange(len(frame))
            frame[at : at + 1] = b"" if rng.random() < 0.5 else frame[at : at + 1] * 2
        elif roll < 0.32:  # garbage around it
            frame = bytearray(rng.randbytes(rng.randrange(1, 12))) + frame + bytearray(rng.randbytes(rng.randrange(3)))
        elif roll < 0.36:
            frame = bytearray(rng.randbytes(rng.randrange(0, 200)))
        elif roll < 0.37:
            frame = bytearray([rng.randrange(1, 256)]) * rng.randrange(LIMIT - 3, LIMIT + 300)
        records.append(bytes(frame))
    return records


@pytest.mark.slow
def test_fuzz_bulk_frames(fuzz_binary: Path, tmp_path: Path) -> None:
    frames = run_fuzz(fuzz_binary, bulk_records(100_000, seed=2024), tmp_path)
    assert frames >= 100_000

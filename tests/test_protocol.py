"""The host's wire format (lnn_edge.target.protocol) against known vectors, itself (round trips) and the firmware's C.

The C side is the firmware's own protocol code compiled for the host (tests/support/host_server.py): the
BOOT frame it sends and the answers it gives to frames built here must decode here, and frames it cannot
decode must be the ones this module rejects, with the same error code.
"""

from __future__ import annotations

import struct
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.host_server import build_host_server
from test_firmware_helpers import read_writes, write_records

from lnn_edge.codegen.export import Export
from lnn_edge.target import protocol as P
from lnn_edge.target.serial_host import LinkError, SerialClient


def test_crc16_check_value() -> None:
    assert P.crc16(b"123456789") == 0x29B1  # the catalogue check value of CRC-16/CCITT-FALSE
    assert P.crc16(b"") == 0xFFFF


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [
        (b"", b"\x01"),
        (b"\x00", b"\x01\x01"),
        (b"\x00\x00", b"\x01\x01\x01"),
        (b"\x11\x22\x00\x33", b"\x03\x11\x22\x02\x33"),
        (b"\x11\x22\x33\x44", b"\x05\x11\x22\x33\x44"),
        (b"\x11\x00\x00\x00", b"\x02\x11\x01\x01\x01"),
        (bytes(range(1, 255)), b"\xff" + bytes(range(1, 255))),
        (bytes(range(0, 255)), b"\x01\xff" + bytes(range(1, 255))),
        (bytes(range(1, 256)), b"\xff" + bytes(range(1, 255)) + b"\x02\xff"),
    ],
)
def test_cobs_vectors(raw: bytes, encoded: bytes) -> None:
    assert P.cobs_encode(raw) == encoded
    assert P.cobs_decode(encoded) == raw


@given(st.binary(max_size=3000))
def test_cobs_round_trip(data: bytes) -> None:
    encoded = P.cobs_encode(data)
    assert 0 not in encoded
    assert len(encoded) <= len(data) + len(data) // 254 + 1
    assert P.cobs_decode(encoded) == data


@pytest.mark.parametrize("bad", [b"\x00", b"\x03\x01", b"\x02\x00", b"\x05\x01\x02"])
def test_cobs_rejects_invalid(bad: bytes) -> None:
    with pytest.raises(P.FrameError) as caught:
        P.cobs_decode(bad)
    assert caught.value.code == P.ERR_MALFORMED


@given(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=P.MAX_PAYLOAD))
def test_frame_round_trip(cmd: int, seq: int, payload: bytes) -> None:
    wire = P.encode_frame(cmd, seq, payload)
    assert wire.endswith(b"\0") and 0 not in wire[:-1]
    assert len(wire) <= P.MAX_ENCODED
    assert P.decode_frame(wire[:-1]) == P.Frame(cmd, seq, payload)


def test_frame_errors() -> None:
    good = P.encode_frame(P.STEP, 9, b"abc")[:-1]
    raw = bytearray(P.cobs_decode(good))
    raw[4] ^= 0x01
    with pytest.raises(P.FrameError) as crc:
        P.decode_frame(P.cobs_encode(bytes(raw)))
    assert crc.value.code == P.ERR_CRC
    with pytest.raises(P.FrameError) as short:
        P.decode_frame(P.cobs_encode(b"\x01\x02\x03"))
    assert short.value.code == P.ERR_MALFORMED
    body = struct.pack("<BBH", 1, 1, 2000) + bytes(2000)
    with pytest.raises(P.FrameError) as big:
        P.decode_frame(P.cobs_encode(body + struct.pack("<H", P.crc16(body))))
    assert big.value.code == P.ERR_OVERSIZE
    with pytest.raises(ValueError):
        P.encode_frame(P.STEP, 0, bytes(P.MAX_PAYLOAD + 1))


def test_frame_reader_resynchronises() -> None:
    reader = P.FrameReader()
    frame = P.encode_frame(P.HELLO, 1)
    found = reader.feed(b"\x13\x37" + b"\0" + frame[:3])
    found += reader.feed(frame[3:] + b"\0\0" + b"\x55" * 1500 + b"\0" + frame)
    assert found[0] == b"\x13\x37"
    assert found[1] == frame[:-1]
    assert found[2] is None  # the over-long run, reported once
    assert found[3] == frame[:-1]
    assert len(found) == 4


def test_hello_payload_round_trip() -> None:
    info = P.DeviceInfo(1, "fixed16", 2, "systick", 20, 2, 19, 25_000_000, "ab" * 32, "qemu-mps2-an386", "cortex-m4f")
    assert P.parse_hello(P.hello_payload(info)) == info
    with pytest.raises(P.FrameError):
        P.parse_hello(P.hello_payload(info)[:-1])
    with pytest.raises(P.FrameError):
        P.parse_hello(P.hello_payload(info) + b"x")


def test_client_on_a_silent_line_fails_clearly_and_quickly() -> None:
    """loop:// echoes requests back: nothing ever answers, so the client must give up with a clear error."""
    client = SerialClient("loop://", timeout=0.05, retries=3)
    started = time.monotonic()
    with pytest.raises(LinkError, match=r"no valid answer from loop:// to HELLO after 4 tries"):
        client.hello()
    assert time.monotonic() - started < 5
    client.close()


def test_client_cannot_open() -> None:
    with pytest.raises(LinkError, match="cannot open"):
        SerialClient("/dev/does-not-exist-lnn-edge")


@pytest.fixture(scope="module")
def host_server(tmp_path_factory: pytest.TempPathFactory, ltc_fixed16_export: Export) -> Path:
    return build_host_server(
        ltc_fixed16_export.directory, tmp_path_factory.mktemp("host-server") / "server", sanitize=False
    )


def run_server(binary: Path, records: list[bytes], tmp: Path) -> list[list[bytes]]:
    """Feed records to the host build of the firmware's server; the writes per record (index 0: BOOT)."""
    source, sink = tmp / "in.bin", tmp / "out.bin"
    write_records(source, records)
    subprocess.run([str(binary), str(source), str(sink)], check=True, timeout=120)
    return read_writes(sink)


@pytest.mark.slow
def test_c_and_python_agree_on_frames(host_server: Path, tmp_path: Path) -> None:
    hello = P.encode_frame(P.HELLO, 5)[:-1]
    bad_crc = bytearray(P.cobs_decode(hello))
    bad_crc[-1] ^= 0xFF
    records = [hello, P.cobs_encode(bytes(bad_crc)), P.encode_frame(0x42, 6)[:-1]]
    out = run_server(host_server, records, tmp_path)
    boot = P.decode_frame(out[0][0][:-1])
    assert boot.cmd == P.BOOT and P.parse_hello(boot.payload).board == "host-fuzz"
    answer = P.decode_frame(out[1][0][:-1])
    assert answer.cmd == P.HELLO | P.RESPONSE and answer.seq == 5
    assert answer.payload == boot.payload
    assert P.decode_frame(out[2][0][:-1]).payload == bytes([P.ERR_CRC, 0])
    unknown = P.decode_frame(out[3][0][:-1])
    assert (unknown.seq, unknown.payload) == (6, bytes([P.ERR_UNKNOWN, 0x42]))

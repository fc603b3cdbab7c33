"""Protocol version 2 against version 1, and the image's maximum payload, on both ends of the line.

The host speaks versions 1 and 2 (docs/serial-protocol.md, "Versions"): a version 1 device verifies as before when
its model's frames fit 1024 bytes, and one whose model needs more is refused at HELLO with what to do; so is a
version 2 device that reports a maximum below its model's frames, and a later version. The device side is the
firmware's own server (firmware/protocol/, compiled for the host under ASan/UBSan, tests/support/host_server.py)
built for an LTC with 260 inputs in fixed32: it reports version 2 and its 1048-byte maximum in HELLO, serves a
1045-byte STEP, and answers a payload above its maximum, or a run longer than its encoded bound, with ERROR 4.
The fake board of tests/support/hostile_board.py plays the devices of other versions.
"""

from __future__ import annotations

import re
import struct
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from support.host_server import build_host_server
from support.hostile_board import HostileBoard, Plan
from test_firmware_helpers import read_writes, short_sequences, write_records
from test_large_models import ltc_260

from lnn_edge.codegen.export import Export
from lnn_edge.target import protocol as P
from lnn_edge.target.serial_host import LinkError, SerialClient
from lnn_edge.target.verify import verify_on_port

TIMEOUT, RETRIES = 0.2, 3
INPUTS, OUTPUTS, STATE, VS = 260, 2, 19, 4  # the fixed32 AutoNCP(19, 2) LTC with 260 inputs
LARGE_MAX = 4 + VS * (1 + INPUTS)  # BENCH's request: 1048 bytes


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Export:
    return ltc_260(tmp_path_factory.mktemp("ltc260"), "fixed32")


@pytest.fixture(scope="module")
def large_server(large: Export, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_host_server(large.directory, tmp_path_factory.mktemp("server") / "lnn_fw_fuzz", sanitize=True)


def serve(binary: Path, tmp_path: Path, records: list[bytes]) -> list[list[P.Frame]]:
    """Feed ``records`` (each followed by a delimiter) to the host-compiled firmware server; its answers per record,
    decoded with the device's own limit (index 0: BOOT)."""
    write_records(tmp_path / "in.bin", records)
    ran = subprocess.run([str(binary), str(tmp_path / "in.bin"), str(tmp_path / "out.bin")],
                         capture_output=True, text=True, check=False)  # fmt: skip
    assert ran.returncode == 0 and not ran.stderr, ran.stderr
    return [[P.decode_frame(w[:-1], LARGE_MAX) for w in writes] for writes in read_writes(tmp_path / "out.bin")]


def test_firmware_reports_version_2_and_its_maximum(large_server: Path, tmp_path: Path) -> None:
    answers = serve(large_server, tmp_path, [P.encode_frame(P.HELLO, 7)[:-1]])
    boot, hello = P.parse_hello(answers[0][0].payload), P.parse_hello(answers[1][0].payload)
    assert boot == hello
    assert (hello.protocol, hello.max_payload, hello.inputs, hello.value_size) == (2, LARGE_MAX, INPUTS, VS)


def test_firmware_serves_frames_above_1024_and_refuses_above_its_maximum(large_server: Path, tmp_path: Path) -> None:
    step = bytes([P.STEP_WANT_STATE]) + struct.pack("<i", 1 << 16) + np.arange(INPUTS, dtype="<i4").tobytes()
    assert len(step) == 1045
    bench = struct.pack("<I", 2) + step[1:]
    assert len(bench) == LARGE_MAX
    over = P.encode_frame(P.SET_STATE, 9, bytes(LARGE_MAX + 1), P.PAYLOAD_LIMIT)[:-1]  # zeros: decodes, then len
    run = b"\x55" * (P.max_encoded(LARGE_MAX) + 20)  # no delimiter within the device's encoded bound
    records = [P.encode_frame(P.STEP, 1, step, LARGE_MAX)[:-1], P.encode_frame(P.BENCH, 2, bench, LARGE_MAX)[:-1],
               over, run]  # fmt: skip
    answers = serve(large_server, tmp_path, records)[1:]
    assert [len(frames) for frames in answers] == [1, 1, 1, 1]
    (stepped,), (benched,), (too_big,), (too_long,) = answers
    assert stepped.cmd == P.STEP | P.RESPONSE and len(stepped.payload) == 4 + VS * (OUTPUTS + STATE)
    assert benched.cmd == P.BENCH | P.RESPONSE and struct.unpack_from("<I", benched.payload)[0] == 2
    for frame in (too_big, too_long):
        assert (frame.cmd, frame.seq, frame.payload) == (P.ERROR, 0, bytes([P.ERR_OVERSIZE, 0]))


def test_a_version_1_device_still_verifies(ltc_fixed16_export: Export) -> None:
    with HostileBoard(ltc_fixed16_export, Plan("honest", protocol=1)) as board:
        result = verify_on_port(ltc_fixed16_export, short_sequences(ltc_fixed16_export, batch=1, steps=5), board.url,
                                timeout=TIMEOUT, retries=RETRIES)  # fmt: skip
    assert result.passed and result.bit_exact
    assert (result.device.protocol, result.device.max_payload) == (1, P.MAX_PAYLOAD)


def test_a_version_2_device_verifies_frames_above_1024(large: Export) -> None:
    with HostileBoard(large, Plan("honest")) as board:
        result = verify_on_port(large, short_sequences(large, batch=1, steps=5), board.url, timeout=TIMEOUT,
                                retries=RETRIES)  # fmt: skip
    assert result.passed and result.bit_exact
    assert (result.device.protocol, result.device.max_payload) == (2, LARGE_MAX)


@pytest.mark.parametrize(
    ("plan", "reported"),
    [
        (Plan("honest", protocol=1), "1024 (protocol version 1)"),
        (Plan("honest", max_payload=1040), "1040 (protocol version 2)"),
    ],
)
def test_a_device_whose_frames_are_too_small_for_its_model_is_refused(large: Export, plan: Plan, reported: str) -> None:
    with HostileBoard(large, plan) as board, SerialClient(board.url, timeout=TIMEOUT, retries=RETRIES) as client:
        expected = f"need {LARGE_MAX}-byte payloads, but it accepts at most {reported}: build and flash its firmware"
        with pytest.raises(LinkError, match=re.escape(expected)):
            client.hello()
        assert client.info is None  # no session: nothing larger than the device takes is ever sent


def test_a_later_version_is_named(ltc_fixed16_export: Export) -> None:
    later = HostileBoard(ltc_fixed16_export, Plan("honest", protocol=3))
    with later as board, SerialClient(board.url) as client, pytest.raises(LinkError, match="this host speaks 1 and 2"):
        client.hello()
    info = P.DeviceInfo(3, "fixed16", 2, "dwt", 3, 1, 4, 1, "ab" * 32, "b", "c", max_payload=2000)
    parsed = P.parse_hello(P.hello_payload(info) + b"future fields")
    assert (parsed.protocol, parsed.max_payload) == (3, 2000)
    with pytest.raises(P.FrameError, match="does not match its fields"):  # version 2 has no trailing fields
        P.parse_hello(P.hello_payload(replace(info, protocol=2)) + b"x")


def test_hello_layouts_round_trip_and_bound_the_maximum() -> None:
    v1 = P.DeviceInfo(1, "float32", 4, "dwt", 3, 1, 4, 1, "ab" * 32, "b", "c")
    assert len(P.hello_payload(v1)) == 46 + 2 + 2 and P.parse_hello(P.hello_payload(v1)).max_payload == 1024
    v2 = P.DeviceInfo(2, "float32", 4, "dwt", 3, 1, 4, 1, "ab" * 32, "b", "c", max_payload=1048)
    assert P.hello_payload(v2)[-2:] == struct.pack("<H", 1048) and P.parse_hello(P.hello_payload(v2)) == v2
    for bad in (1023, P.PAYLOAD_LIMIT + 1):
        payload = P.hello_payload(v2)[:-2] + struct.pack("<H", bad)
        with pytest.raises(P.FrameError, match="maximum payload") as error:
            P.parse_hello(payload)
        assert error.value.code == P.ERR_MALFORMED
    with pytest.raises(P.FrameError, match="cut short"):
        P.parse_hello(P.hello_payload(v2)[:-1])


def test_host_frame_reader_follows_the_device_maximum() -> None:
    frame = P.encode_frame(P.STEP | P.RESPONSE, 5, b"\x55" * 1048, max_payload=1048)
    assert P.FrameReader().feed(frame) == [None]  # version 1's bound drops it
    (encoded,) = P.FrameReader(1048).feed(frame)
    assert encoded is not None and P.decode_frame(encoded, 1048).payload == b"\x55" * 1048
    with pytest.raises(P.FrameError, match="exceeds 1024") as error:
        P.decode_frame(encoded)
    assert error.value.code == P.ERR_OVERSIZE

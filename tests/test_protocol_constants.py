"""The protocol's numbers are written twice, in lnn_edge/target/protocol.py and in firmware/protocol/lnn_fw_protocol.h:
every ``#define`` of the header must equal its Python constant, so neither side can change alone. The sizes derived
from an image's maximum payload (LNN_FW_MAX_DECODED, LNN_FW_MAX_ENCODED) are compiled with gcc for several maxima
and compared with the host's formula, and the build's maximum is checked against the model's frames."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from lnn_edge.resources import data_dir
from lnn_edge.target import protocol as P

HEADER = data_dir() / "firmware" / "protocol" / "lnn_fw_protocol.h"

# C name (after LNN_FW_) -> the Python value it must equal.
EXPECTED: dict[str, int] = {
    "PROTOCOL_VERSION": P.PROTOCOL_VERSION,
    "HEADER_SIZE": P.HEADER_SIZE,
    "CRC_SIZE": P.CRC_SIZE,
    "MAX_PAYLOAD": P.MAX_PAYLOAD,
    "PAYLOAD_LIMIT": P.PAYLOAD_LIMIT,
    "CMD_HELLO": P.HELLO,
    "CMD_RESET": P.RESET,
    "CMD_STEP": P.STEP,
    "CMD_READ_STATE": P.READ_STATE,
    "CMD_SET_STATE": P.SET_STATE,
    "CMD_BENCH": P.BENCH,
    "CMD_BOOT": P.BOOT,
    "CMD_ERROR": P.ERROR,
    "RESPONSE": P.RESPONSE,
    "STEP_WANT_STATE": P.STEP_WANT_STATE,
    "ERR_CRC": P.ERR_CRC,
    "ERR_LENGTH": P.ERR_LENGTH,
    "ERR_UNKNOWN": P.ERR_UNKNOWN,
    "ERR_OVERSIZE": P.ERR_OVERSIZE,
    "ERR_MALFORMED": P.ERR_MALFORMED,
    "ERR_STEP": P.ERR_STEP,
    **{f"PRECISION_{name.upper()}": code for code, name in P.PRECISIONS.items()},
    "CYCLES_NONE": 0,
    **{f"CYCLES_KIND_{name.upper()}": code for code, name in P.CYCLE_KINDS.items() if code},
}


def header_values() -> dict[str, int]:
    """The header's numeric ``#define LNN_FW_<NAME> <number>u`` lines (derived expressions are skipped)."""
    found = re.findall(r"^#define LNN_FW_(\w+) (0x[0-9A-Fa-f]+|\d+)u\b", HEADER.read_text(), re.MULTILINE)
    return {name: int(value, 0) for name, value in found}


def test_every_numeric_define_is_checked() -> None:
    """A constant added to the header must be added here (and to protocol.py) too."""
    assert set(header_values()) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_header_equals_python(name: str) -> None:
    assert header_values()[name] == EXPECTED[name], f"LNN_FW_{name} differs from lnn_edge/target/protocol.py"


def test_max_decoded_follows_from_the_parts() -> None:
    """The derived size is the sum of the same parts on both sides."""
    assert "(LNN_FW_HEADER_SIZE + LNN_FW_MAX_PAYLOAD + LNN_FW_CRC_SIZE)" in HEADER.read_text()


def derived_sizes(tmp_path: Path, max_payload: int | None) -> tuple[int, int, int]:
    """LNN_FW_MAX_PAYLOAD, _MAX_DECODED and _MAX_ENCODED as gcc computes them from the header, with a config header
    that sets the maximum (as lnn-edge build writes it) or leaves it out."""
    from lnn_edge.target.toolchain import host_compiler

    define = "" if max_payload is None else f"#define LNN_FW_MAX_PAYLOAD {max_payload}u\n"
    (tmp_path / "lnn_fw_config.h").write_text(define)
    (tmp_path / "sizes.c").write_text(
        '#include <stdio.h>\n#include "lnn_fw_protocol.h"\n'
        'int main(void) { printf("%u %u %u\\n", (unsigned)LNN_FW_MAX_PAYLOAD, (unsigned)LNN_FW_MAX_DECODED, '
        "(unsigned)LNN_FW_MAX_ENCODED); return 0; }\n"
    )
    binary = tmp_path / "sizes"
    subprocess.run([host_compiler(), "-Wall", "-Werror", f"-I{tmp_path}", f"-I{HEADER.parent}", str(tmp_path / "sizes.c"),
                    "-o", str(binary)], check=True)  # fmt: skip
    out = subprocess.run([str(binary)], capture_output=True, text=True, check=True).stdout.split()
    payload, decoded, encoded = map(int, out)
    return payload, decoded, encoded


@pytest.mark.parametrize("max_payload", [None, 1024, 1032, 1048, 8196, P.PAYLOAD_LIMIT])
def test_derived_sizes_equal_the_hosts(tmp_path: Path, max_payload: int | None) -> None:
    """The firmware's buffer sizes follow from the image's maximum as the host's FrameReader limit does: 1024 and
    1036 (the encoded bound, delimiter included) when the config header does not set it."""
    payload, decoded, encoded = derived_sizes(tmp_path, max_payload)
    assert payload == (max_payload or P.MAX_PAYLOAD)
    assert decoded == P.HEADER_SIZE + payload + P.CRC_SIZE
    assert encoded == P.max_encoded(payload) and encoded < 1 << 16  # the receiver counts in u16
    assert P.MAX_ENCODED == 1036


def test_a_maximum_above_the_limit_does_not_compile(tmp_path: Path) -> None:
    with pytest.raises(subprocess.CalledProcessError):
        derived_sizes(tmp_path, P.PAYLOAD_LIMIT + 1)


def test_encoded_bound_is_tight() -> None:
    """The worst case (no zero byte anywhere) reaches the bound exactly: the buffers are neither short nor loose."""
    for payload in (0, 1024, 1032, 8196):  # (a frame of exactly k x 254 bytes needs one byte less)
        worst = P.cobs_encode(b"\x55" * (P.HEADER_SIZE + payload + P.CRC_SIZE)) + b"\0"
        assert len(worst) == P.max_encoded(payload)


@pytest.mark.parametrize(
    ("value_size", "inputs", "outputs", "state", "expected"),
    [
        (2, 20, 2, 19, 1024),  # the tests' AutoNCP(19, 2) LTC: the floor, buffers as in version 1
        (4, 256, 4, 64, 1032),  # ncps's Atari CfC(256, 64, proj_size=4) in fixed32 or float32: BENCH's request
        (2, 256, 4, 64, 1024),
        (4, 260, 2, 19, 1048),  # an LTC with 260 inputs in fixed32
        (4, 8, 2, 300, 1212),  # a large state: STEP's response with it
        (4, 1024, 1024, 1024, 8196),  # the model file's limits: well under PAYLOAD_LIMIT
    ],
)
def test_device_max_payload(value_size: int, inputs: int, outputs: int, state: int, expected: int) -> None:
    assert P.device_max_payload(value_size, inputs, outputs, state) == expected
    assert expected <= P.PAYLOAD_LIMIT

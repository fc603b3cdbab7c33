"""The protocol's numbers are written twice, in lnn_edge/target/protocol.py and in firmware/protocol/lnn_fw_protocol.h:
every ``#define`` of the header must equal its Python constant, so neither side can change alone."""

from __future__ import annotations

import re

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
    "MAX_ENCODED": P.MAX_ENCODED,
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


def test_build_uses_the_protocol_constant() -> None:
    """The build's size check reads the protocol's limit, not a copy."""
    from lnn_edge.target import build

    assert build.MAX_PAYLOAD is P.MAX_PAYLOAD

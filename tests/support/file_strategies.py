"""Hostile files for the loader tests: small valid models, zip/npy crafting helpers, and hypothesis strategies
that mutate a valid file's structure (wrong types, missing and extra keys, huge, negative and NaN numbers, deep
nesting, wrong shapes and dtypes, lying .npy headers)."""

from __future__ import annotations

import io
import json
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import strategies as st

HUGE_INT = "\x00huge-int\x00"
"""Stands for a 5,000-digit integer, which json.dumps cannot write (Python's int-to-str limit is 4,300 digits)."""
DEEP = "\x00deep\x00"
"""Stands for 5,000 nested lists (json.dumps would recurse; json.loads raises RecursionError on them)."""


# --- zip members -------------------------------------------------------------------------------------------


def read_members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def write_members(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def dumps(document: Any) -> bytes:
    """JSON text of a document that may hold the :data:`HUGE_INT` and :data:`DEEP` stand-ins."""
    text = json.dumps(document)
    text = text.replace(json.dumps(HUGE_INT), "9" * 5000)
    return text.replace(json.dumps(DEEP), "[" * 5000 + "]" * 5000).encode()


def declare_size(path: Path, member: str, size: int) -> None:
    """Make the central directory of ``path`` declare ``size`` uncompressed bytes for ``member`` (the data stays
    small: this is what a zip bomb's headers say, without the bomb)."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
    encoded = member.encode()
    start = 0
    while True:
        start = data.index(b"PK\x01\x02", start)
        name_length = struct.unpack_from("<H", data, start + 28)[0]
        if bytes(data[start + 46 : start + 46 + name_length]) == encoded:
            break
        start += 4
    assert struct.unpack_from("<I", data, start + 24)[0] == info.file_size
    struct.pack_into("<I", data, start + 24, size)
    path.write_bytes(bytes(data))


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def npy_header_only(shape: tuple[int, ...], dtype: str = "<f8") -> bytes:
    """A .npy whose header declares ``shape`` but holds 8 bytes of data."""
    buffer = io.BytesIO()
    header = {"descr": dtype, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue() + b"\0" * 8


# --- structural mutations of JSON-like documents ---------------------------------------------------------

HOSTILE_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 100_000, 50_000_000, 2**31, 2**63, 10**400, HUGE_INT, DEEP]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e-310, -0.0, 1e308, float("nan")]),
    st.text(max_size=12),
    st.sampled_from(["", "../../x", "/etc/passwd", ".hidden", "x" * 5000, "fixed64", "lstm"]),
    st.lists(st.integers(-3, 3), max_size=4),
    st.lists(st.text(max_size=3), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(-3, 3), max_size=3),
)


def paths(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path (tuple of keys and indices) to a node of a JSON-like document, the root included."""
    found = [prefix]
    if isinstance(document, dict):
        for key, value in document.items():
            found += paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document[:4]):
            found += paths(value, (*prefix, index))
    return found


def _parent(document: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        document = document[key]
    return document


@st.composite
def mutated(draw: Callable[..., Any], document: Any, keep_hostile: bool = True) -> Any:
    """A deep copy of ``document`` with one node replaced, deleted, or given an extra key."""
    copy = json.loads(json.dumps(document))
    values = HOSTILE_VALUES if keep_hostile else HOSTILE_VALUES.filter(lambda v: v not in (HUGE_INT, DEEP))
    path = draw(st.sampled_from(paths(copy)))
    if not path:
        return draw(values)
    parent, key = _parent(copy, path), path[-1]
    action = draw(st.sampled_from(["replace", "replace", "delete", "extra"]))
    if action == "replace":
        parent[key] = draw(values)
    elif action == "delete":
        del parent[key]
    elif isinstance(parent[key], dict):
        parent[key][draw(st.text(min_size=1, max_size=6))] = draw(values)
    else:
        parent[key] = [parent[key], draw(values)]
    return copy


ARRAY_EDITS = ("float32", "int64", "shape", "nan", "scalar", "huge_header", "truncated", "garbage", "object")


def edited_array(original: bytes, edit: str) -> bytes:
    """A .npy member changed in one structural way (see :data:`ARRAY_EDITS`)."""
    array = np.load(io.BytesIO(original), allow_pickle=False)
    if edit == "float32":
        return npy(array.astype(np.float32))
    if edit == "int64":
        return npy(array.astype(np.int64))
    if edit == "shape":
        return npy(np.zeros((*array.shape, 2), dtype=array.dtype))
    if edit == "nan":
        return npy(np.full(array.shape, np.nan))
    if edit == "scalar":
        return npy(np.array(1.0))
    if edit == "huge_header":
        return npy_header_only((1 << 40,))
    if edit == "truncated":
        return original[: len(original) // 2]
    if edit == "garbage":
        return b"\x93NUMPY\x01\x00garbage"
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    return buffer.getvalue()

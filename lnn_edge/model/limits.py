"""Limits on what a file may declare, and the bounded readers that apply them before anything is allocated.

Every size lnn-edge reads from a user's file (a ``.lnn`` model, its quantized section, an export manifest, a
checkpoint, an input ``.npz``) is checked against one of these limits before it sets the length of a loop or an
allocation, so a small hostile file cannot make a command run for minutes or exhaust memory. The limits sit far
above anything a microcontroller can run (a Cortex-M has at most a few MB of flash and 1 MB of RAM) and above
any ncps model seen in practice; ``docs/model-file.md`` lists them.
"""

from __future__ import annotations

import json
import zipfile
from typing import Any

import numpy as np

from lnn_edge.errors import LnnEdgeError

MAX_ODE_UNFOLDS = 256
"""LTC solver unfolds per step. ncps uses 6; the largest seen in practice is tens. Each unfold is a full pass
over the synapses, so 256 is already ~40x the default cost on a device."""
MAX_NEURONS = 1024
"""Neurons (state size). A fully connected LTC of 1024 neurons has 1M synapses: 8 MB per float64 [N, N] array,
and several times more flash than any Cortex-M has even at 16 bits; ncps models on devices have tens."""
MAX_INPUTS = 1024
"""Input features (sensory neurons)."""
MAX_OUTPUTS = 1024
"""Outputs (motor neurons, or the CfC projection size)."""
MAX_SYNAPSES = MAX_NEURONS * MAX_NEURONS + MAX_INPUTS * MAX_NEURONS
"""Synapses are the entries of the masks, whose shapes are [N, N] and [S, N]: the neuron and input limits bound
them (2M); no separate check is needed."""
MAX_LAYERS = 16
"""Layers of a wired CfC (an NCP has 3)."""
MAX_BACKBONE_LAYERS = 16
"""Backbone layers of a dense CfC (ncps default: 1)."""
MAX_BACKBONE_UNITS = 1024
"""Units per backbone layer (ncps default: 128)."""
MAX_NAME_CHARS = 256
"""Characters of one input or output name."""
MAX_JSON_BYTES = 16 * 1024 * 1024
"""Bytes of any JSON manifest (a real one is a few KB; names, roles and the trainer config stay far below)."""
MAX_JSON_DEPTH = 32
"""Nesting of JSON objects and lists (a real manifest nests 4 deep)."""
MAX_ARCHIVE_BYTES = 1024 * 1024 * 1024
"""Total uncompressed bytes of a ``.lnn`` archive (every member's declared size, summed before reading)."""
MAX_CALIBRATION_VALUES = 1 << 24
"""Values of the calibration sample stored in a model (128 MB as float64; the trainer stores a few thousand)."""
MAX_DATA_BYTES = 256 * 1024 * 1024
"""Total uncompressed bytes of an input ``.npz`` (checked from the members' declared sizes before reading)."""
MAX_DATA_VALUES = MAX_DATA_BYTES // 8
"""Values of one input array (``x`` or ``dt``): 32M, 256 MB once converted to float64."""
MAX_FORMAT_BITS = 128
"""Fractional bits of a fixed-point format, either sign (the quantizer's formats stay within +-64)."""
MAX_SHIFT = 128
"""A shift amount stored as a quantized constant (the step shifts by less than 2B = 64 bits)."""
MAX_FILE_NAMES = 64
"""Files an export manifest may list (an export has 7)."""
MAX_ROLES = 64
"""Role names in a model's ``wiring.roles`` (ncps has 4: motor, command, inter, hidden; wired layers one each)."""
MAX_STATE_DICT_KEYS = 1024
"""Entries of a state_dict (an ncps model has tens; a 16-layer wired CfC about 150)."""


def check_archive_size(archive: zipfile.ZipFile, limit: int, error: type[LnnEdgeError]) -> None:
    """Refuse an archive whose members declare more than ``limit`` uncompressed bytes in total."""
    total = sum(info.file_size for info in archive.infolist())
    if total > limit:
        raise error(f"its members unpack to {total} bytes, more than the limit of {limit} bytes")


def read_member(archive: zipfile.ZipFile, member: str, limit: int, error: type[LnnEdgeError]) -> bytes:
    """The bytes of one archive member of at most ``limit`` bytes.

    The declared size is checked before reading, and the read stops at ``limit + 1`` bytes, so a member whose
    header understates its size cannot unpack further either.
    """
    try:
        info = archive.getinfo(member)
    except KeyError:
        raise error(f"{member} is missing from the archive") from None
    if info.file_size > limit:
        raise error(f"{member} is {info.file_size} bytes, more than the limit of {limit} bytes")
    try:
        with archive.open(info) as handle:
            data = handle.read(limit + 1)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise error(f"{member} is corrupt ({exc})") from None
    if len(data) > limit:
        raise error(f"{member} unpacks to more than the limit of {limit} bytes")
    return data


def parse_json(raw: bytes, where: str, error: type[LnnEdgeError]) -> Any:
    """Parse JSON of at most :data:`MAX_JSON_BYTES`, nested at most :data:`MAX_JSON_DEPTH` deep."""
    if len(raw) > MAX_JSON_BYTES:
        raise error(f"{where} is {len(raw)} bytes, more than the limit of {MAX_JSON_BYTES} bytes")
    try:
        value = json.loads(raw)
    except RecursionError:
        raise error(f"{where} nests deeper than {MAX_JSON_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, and ints of more than 4300 digits
        raise error(f"{where} is not valid JSON ({exc})") from None
    if json_depth(value) > MAX_JSON_DEPTH:
        raise error(f"{where} nests deeper than {MAX_JSON_DEPTH} levels")
    return value


def json_depth(value: Any) -> int:
    """Nesting depth of parsed JSON (a scalar is 0), computed without recursion."""
    deepest = 0
    pending = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        deepest = max(deepest, depth)
        if depth > MAX_JSON_DEPTH:
            break
        if isinstance(item, dict):
            pending.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list | tuple):
            pending.extend((child, depth + 1) for child in item)
    return deepest


def read_npy(
    archive: zipfile.ZipFile, member: str, dtype: str | None, max_values: int, error: type[LnnEdgeError]
) -> np.ndarray:
    """Read one ``.npy`` member of ``dtype`` (None: any dtype but objects) holding at most ``max_values`` values.

    The header (dtype, shape) is read and checked first; the data is read only when the member's size is
    exactly what the header declares, so a header that claims 2^31 values allocates nothing.
    """
    try:
        info = archive.getinfo(member)
    except KeyError:
        raise error(f"{member} is missing from the archive") from None
    try:
        with archive.open(info) as handle:
            shape, stored = _npy_header(handle)
            count = int(np.prod(shape, dtype=object))
            if dtype is not None and stored != np.dtype(dtype):
                raise error(f"{member} has dtype {stored}; expected {dtype}")
            if count > max_values:
                raise error(f"{member} declares shape {shape}: more than the limit of {max_values} values")
            data_bytes = count * stored.itemsize
            if info.file_size != handle.tell() + data_bytes:
                raise error(f"{member} is corrupt (its size does not match its header's shape {shape})")
            data = handle.read(data_bytes)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, NotImplementedError) as exc:
        raise error(f"{member} is corrupt ({exc})") from None
    if len(data) != data_bytes:
        raise error(f"{member} is corrupt (truncated array data)")
    return np.frombuffer(data, dtype=stored).reshape(shape).copy()


def _npy_header(handle: Any) -> tuple[tuple[int, ...], np.dtype[Any]]:
    """(shape, dtype) of a C-ordered, pickle-free ``.npy`` stream, leaving it at the first data byte."""
    version = np.lib.format.read_magic(handle)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
    elif version in ((2, 0), (3, 0)):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
    else:
        raise ValueError(f"unknown .npy version {version}")
    if fortran and len(shape) > 1:
        raise ValueError("Fortran-ordered arrays are not accepted")
    if dtype.hasobject:
        raise ValueError("object arrays (pickles) are not accepted")
    return tuple(int(n) for n in shape), dtype


MAX_RUN_VALUES = 64 * 1024 * 1024
"""Values a run may produce (sequences x steps x (outputs + state)): 512 MB in float64. The inputs are bounded
by MAX_DATA_VALUES, but a long one-feature input through a 1024-neuron model would ask for 1024 times more."""


def check_run_size(path: str, sequences: int, steps: int, outputs: int, state: int) -> None:
    """Refuse a run whose per-step outputs and states would exceed MAX_RUN_VALUES, before allocating them."""
    values = sequences * steps * (outputs + state)
    if values > MAX_RUN_VALUES:
        raise LnnEdgeError(
            f"{path}: {sequences} sequences x {steps} steps would produce {values:,} output and state values, more "
            f"than the {MAX_RUN_VALUES:,} lnn-edge holds in memory at once: split the data into smaller files"
        )

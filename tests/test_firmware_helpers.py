"""Shared set-up of the firmware tests: small exports of real ncps models, made once per test process.

The firmware, fault and board-verification test modules all need the same few exports (an AutoNCP(19,2)
LTC, fixed16 and float32); making each costs a torch import and an export, so they are memoised per
process in a folder under pytest's base temp (one per xdist worker). Builds then land in each export's
fw/<board>/ and are reused across modules through the build cache.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from lnn_edge.codegen.export import Export, export, load_export, load_model_source
from lnn_edge.host.verify import default_sequences
from lnn_edge.model.datafile import Sequences

_EXPORTS: dict[tuple[str, str], Path] = {}


def _state_dict(cell: str, path: Path) -> None:
    import torch
    from ncps.torch import LTC, CfC
    from ncps.wirings import AutoNCP

    torch.manual_seed(0)
    module = LTC(20, AutoNCP(19, 2)) if cell == "ltc" else CfC(20, AutoNCP(19, 2))
    torch.save(module.state_dict(), path)


def shared_export(factory: pytest.TempPathFactory, precision: str, cell: str = "ltc") -> Export:
    """An export of an AutoNCP(19, 2) ``cell`` model with 20 inputs in ``precision`` (memoised)."""
    key = (cell, precision)
    if key not in _EXPORTS:
        root = factory.getbasetemp() / "firmware-exports"
        root.mkdir(exist_ok=True)
        weights = root / f"{cell}.pt"
        if not weights.exists():
            _state_dict(cell, weights)
        calib = root / "calib.npz"
        if not calib.exists():
            np.savez(calib, x=np.random.default_rng(0).normal(size=(4, 50, 20)))
        target = root / f"{cell}-{precision}"
        source = load_model_source(weights)
        export(source, target, precision, name=cell, calib=calib if precision != "float32" else None)
        _EXPORTS[key] = target
    return load_export(_EXPORTS[key])


def short_sequences(exported: Export, batch: int = 2, steps: int = 30) -> Sequences:
    """The default verification data cut to ``batch`` sequences of ``steps`` steps."""
    sequences = default_sequences(exported, steps)
    return Sequences(x=sequences.x[:batch], dt=sequences.dt[:batch])


def write_records(path: Path, records: list[bytes]) -> None:
    """The input file of the firmware's host drivers: each record as its u32 length and its bytes."""
    path.write_bytes(b"".join(struct.pack("<I", len(record)) + record for record in records))


def read_writes(path: Path) -> list[list[bytes]]:
    """The output file of the firmware's host drivers: per record, the UART writes it caused (index 0: BOOT)."""
    data, at, out = path.read_bytes(), 0, []
    while at < len(data):
        (count,) = struct.unpack_from("<I", data, at)
        at += 4
        writes = []
        for _ in range(count):
            (length,) = struct.unpack_from("<I", data, at)
            writes.append(data[at + 4 : at + 4 + length])
            at += 4 + length
        out.append(writes)
    return out


def test_shared_export_is_memoised(tmp_path_factory: pytest.TempPathFactory) -> None:
    first = shared_export(tmp_path_factory, "fixed16")
    second = shared_export(tmp_path_factory, "fixed16")
    assert first.directory == second.directory
    assert first.manifest["model_hash"] == second.manifest["model_hash"]

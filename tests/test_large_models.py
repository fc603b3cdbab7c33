"""Models whose frames exceed version 1's 1024-byte payload build and verify (protocol version 2, issue 16).

`lnn-edge build` sizes the serial protocol's frames from the model (lnn_edge.target.protocol.device_max_payload):
ncps's Atari example ``CfC(256, 64, proj_size=4)`` (dense, 256 inputs, backbone 128 x 1, 4 outputs) runs bit-exact
on qemu-mps2-an386 in fixed16, fixed32 and float32 (BENCH's request needs 1032 bytes in the 32-bit precisions), and
an LTC with 260 inputs builds in fixed32. Small models keep version 1's buffers: their firmware takes no more RAM
than before the change (figures measured at commit 6afa3e7, the last version 1 firmware).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lnn_edge.codegen.export import Export, export, load_export
from lnn_edge.errors import LnnEdgeError
from lnn_edge.host.verify import default_sequences
from lnn_edge.model.datafile import Sequences
from lnn_edge.target import protocol as P
from lnn_edge.target.build import build_firmware, max_payload
from lnn_edge.target.verify import verify_on_board

BOARD = "qemu-mps2-an386"
STEPS = 4  # a few steps: each carries 256 inputs each way through QEMU's UART
# The AutoNCP(19, 2) fixed16 LTC's firmware before protocol version 2 (6afa3e7; lnn-edge build --json, size):
# firmware RAM (frame buffers, retry cache, HAL) and flash outside the model.
V1_FIRMWARE = {"qemu-mps2-an386": (3252, 2331), "qemu-microbit": (3252, 3357)}
V1_STACK = 1280
V1_BUFFERS = 1099 + 1100 + 1030  # version 1's receive buffer, retry cache and response buffer
V2_BUFFERS = (P.MAX_ENCODED - 1) + P.MAX_ENCODED + (P.HEADER_SIZE + P.MAX_PAYLOAD + P.CRC_SIZE)


def _export(root: Path, module: object, inputs: int, precision: str, name: str) -> Export:
    """Export a seeded ncps ``module`` (imported in memory with lnn_edge.from_module), calibrated on normal data."""
    from lnn_edge import from_module

    calib = root / f"calib-{inputs}.npz"
    if not calib.exists():
        np.savez(calib, x=np.random.default_rng(0).normal(size=(2, 16, inputs)))
    target = root / f"{name}-{precision}"
    if not target.exists():
        export(from_module(module), target, precision, name=name, calib=calib if precision != "float32" else None)
    return load_export(target)


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("large-models")


def atari_cfc(root: Path, precision: str) -> Export:
    import torch
    from ncps.torch import CfC

    torch.manual_seed(0)
    return _export(root, CfC(256, 64, proj_size=4), 256, precision, "atari")


def ltc_260(root: Path, precision: str) -> Export:
    import torch
    from ncps.torch import LTC
    from ncps.wirings import AutoNCP

    torch.manual_seed(0)
    return _export(root, LTC(260, AutoNCP(19, 2)), 260, precision, "ltc260")


def short(exported: Export) -> Sequences:
    sequences = default_sequences(exported, STEPS)
    return Sequences(x=sequences.x[:1], dt=sequences.dt[:1])


@pytest.mark.qemu
@pytest.mark.parametrize("precision", ["fixed16", "fixed32", "float32"])
def test_atari_cfc_bit_exact_on_an386(models_dir: Path, precision: str) -> None:
    exported = atari_cfc(models_dir, precision)
    manifest = exported.manifest
    assert (manifest["inputs"], manifest["outputs"], manifest["state_size"]) == (256, 4, 64)
    value_size = 2 if precision == "fixed16" else 4
    needed = 4 + value_size * 257  # BENCH's request: count, dt and 256 inputs
    assert max_payload(exported) == max(P.MAX_PAYLOAD, needed)
    result = verify_on_board(exported, short(exported), BOARD)
    assert result.bit_exact, str(result.mismatch)
    assert result.passed and result.host.bit_exact
    summary = result.as_dict()
    assert (summary["protocol"], summary["max_payload"]) == (2, max(P.MAX_PAYLOAD, needed))
    assert summary["steps"] == STEPS


@pytest.mark.qemu
def test_ltc_with_260_inputs_fixed32_builds_and_verifies(models_dir: Path) -> None:
    """Refused by version 1 (a 1045-byte STEP request); the fixed16 LTC's 256-input limit is separate (below)."""
    exported = ltc_260(models_dir, "fixed32")
    built = build_firmware(exported.directory, BOARD)
    assert built.as_dict()["max_payload"] == 4 + 4 * 261
    result = verify_on_board(exported, short(exported), BOARD)
    assert result.bit_exact and result.passed, str(result.mismatch)


def test_fixed16_ltc_still_refuses_more_than_256_inputs(models_dir: Path) -> None:
    with pytest.raises(LnnEdgeError, match="256"):
        ltc_260(models_dir, "fixed16")


@pytest.mark.parametrize("board", sorted(V1_FIRMWARE))
def test_small_model_keeps_version_1_buffers(ltc_fixed16_export: Export, board: str) -> None:
    """The AutoNCP(19, 2) LTC's frames fit 1024 bytes, so its buffers are version 1's size (less the encoded bound
    that was rounded up to 1100): RAM shrinks by that, flash grows by the few bytes HELLO's new field costs."""
    built = build_firmware(ltc_fixed16_export.directory, board)
    size = built.as_dict()["size"]
    assert built.as_dict()["max_payload"] == P.MAX_PAYLOAD
    ram, flash = V1_FIRMWARE[board]
    assert size["firmware_ram"] == ram - (V1_BUFFERS - V2_BUFFERS)
    assert flash <= size["firmware_flash"] <= flash + 16  # measured: +12 B on both boards
    assert size["stack"] == V1_STACK  # the binding's 46 B of copies stay within the firmware's share

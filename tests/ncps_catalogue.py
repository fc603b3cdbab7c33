"""Every distinct ncps (PyTorch) model configuration that ncps's own tests, README, docs and examples construct,
as data: what it is, where ncps builds it, and what lnn-edge is expected to do with it today.

Read from mlech26l/ncps at commit 695ec22 (1.0.1): ``ncps/tests/test_torch.py``, ``README.md``,
``docs/index.rst``, ``docs/quickstart.rst``, ``docs/examples/torch_first_steps.rst``,
``docs/examples/atari_bc.rst`` (torch tab), ``docs/api/torch.rst`` (the docstrings of ``ncps/torch/ltc.py`` and
``cfc.py`` that it renders), ``examples/atari_torch.py``, ``examples/pt_example.py``,
``examples/pt_implicit.py`` and ``examples/torch_cfc_sinusoidal.py``. The Keras/TF/Paddle pages and examples
are not torch and not listed. Two examples predate ncps (``kerasncp.torch``): their models are written here
with the ncps class that replaced them (the experimental ``CfC(..., out_features=k)`` head is ncps's
``proj_size=k``, ``WiredCfC`` is ``CfC`` given a wiring, ``use_mm_rnn=True`` is ``mixed_memory=True``).
Options that do not change the model (``batch_first``, ``return_sequences``) do not split entries.

Every entry imports and verifies; the only refusals left are boards whose memory a model does not fit (a
measurement, in ``board_refusals``), which the test asserts.

``test_ncps_catalogue.py`` runs every entry through import, quantization, the host C and (the representative
set) the emulated boards, and generates ``docs/ncps-models.md`` from the run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch
from ncps import wirings
from ncps.torch import LTC, CfC, LTCCell

PRECISIONS = ("fixed16", "fixed32", "float32")
BOARDS = ("qemu-mps2-an386", "qemu-microbit")
DOES_NOT_FIT = "does not fit its 256 KiB of flash"
"""Why a board refuses a model: a measurement, the image is larger than the part (``lnn-edge build`` says by how much)."""
DOES_NOT_FIT_ERROR = "does not fit"
"""The fragment of ``lnn-edge build``'s error the board test looks for."""
ALL_BOARDS: Mapping[str, tuple[str, ...]] = {board: PRECISIONS for board in BOARDS}


@dataclass(frozen=True)
class Entry:
    """One ncps configuration and what lnn-edge is expected to do with it.

    ``boards`` maps a board to the precisions verified on it (the representative set; empty for the rest).
    ``board_refusals`` maps a board to the precisions it refuses and why: the test asserts that refusal.
    """

    id: str
    config: str
    """The configuration as ncps code reads, e.g. ``CfC(8, 32, proj_size=10)``."""
    sources: tuple[str, ...]
    """Where ncps constructs it: ``file:line`` in the ncps repository (or a page and its section)."""
    build: Callable[[], torch.nn.Module]
    inputs: int
    boards: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    board_refusals: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    error_bars: Mapping[str, float] = field(default_factory=dict)
    """A precision's error bar (``export --max-error``) where the default one is not met, with the reason in a
    comment: the table shows the bar beside the error."""


def _ncp_10_10_8() -> wirings.Wiring:
    """NCP(inter 10, command 10, motor 8, sensory fanout 6, inter fanout 6, recurrent command 4, motor fanin 6)."""
    return wirings.NCP(10, 10, 8, 6, 6, 4, 6)


def _ncp_16_8_1() -> wirings.Wiring:
    """The sinusoidal example's NCP: inter 16, command 8, motor 1, fanouts 12 and 4, 5 recurrent, fanin 8."""
    return wirings.NCP(16, 8, 1, 12, 4, 5, 8)


TEST_TORCH = "ncps/tests/test_torch.py"
SINUSOIDAL = "examples/torch_cfc_sinusoidal.py"

CATALOGUE: tuple[Entry, ...] = (
    Entry(
        id="ltccell-fc8x4",
        config="LTCCell(FullyConnected(8, 4), 8)",
        sources=(f"{TEST_TORCH}:27 (test_ncps)",),
        build=lambda: LTCCell(wirings.FullyConnected(8, 4), 8),
        inputs=8,
        boards=ALL_BOARDS,
    ),
    Entry(
        id="ltccell-fc8x1-implicit",
        config="LTCCell(FullyConnected(8, 1), 2, implicit_param_constraints=True)",
        sources=("examples/pt_implicit.py:83 (kerasncp.torch LTCCell)",),
        build=lambda: LTCCell(wirings.FullyConnected(8, 1), 2, implicit_param_constraints=True),
        inputs=2,
        # one output over a narrow range (the only motor of 8 neurons): fixed16 measures 1.0e-2 of it, just above
        # the default bar of 1e-2
        error_bars={"fixed16": 0.02},
    ),
    Entry(
        id="ltc-8-32",
        config="LTC(8, 32)",
        sources=(f"{TEST_TORCH}:84 (test_ltc_1)", f"{TEST_TORCH}:93 (test_ltc_batch_first)"),
        build=lambda: LTC(8, 32),
        inputs=8,
    ),
    Entry(
        id="ltc-20-28",
        config="LTC(20, 28)",
        sources=("README.md:65",),
        build=lambda: LTC(20, 28),
        inputs=20,
    ),
    Entry(
        id="ltc-20-50",
        config="LTC(20, 50)",
        sources=("docs/api/torch.rst (ncps/torch/ltc.py:43, docstring)",),
        build=lambda: LTC(20, 50),
        inputs=20,
    ),
    Entry(
        id="ltc-8-ncp",
        config="LTC(8, NCP(10, 10, 8, 6, 6, 4, 6))",
        sources=(f"{TEST_TORCH}:103 (test_ncp_1)", f"{TEST_TORCH}:125 (test_ncp_2)"),
        build=lambda: LTC(8, _ncp_10_10_8()),
        inputs=8,
    ),
    Entry(
        id="ltc-8-autoncp16x4",
        config="LTC(8, AutoNCP(16, 4))",
        sources=(f"{TEST_TORCH}:115 (test_auto_ncp_1)",),
        build=lambda: LTC(8, wirings.AutoNCP(16, 4)),
        inputs=8,
    ),
    Entry(
        id="ltc-20-autoncp28x4",
        config="LTC(20, AutoNCP(28, 4))",
        sources=("README.md:79",),
        build=lambda: LTC(20, wirings.AutoNCP(28, 4)),
        inputs=20,
    ),
    Entry(
        id="ltc-2-autoncp16x1",
        config="LTC(2, AutoNCP(16, 1))",
        sources=("docs/examples/torch_first_steps.rst:123", "examples/pt_example.py:76"),
        build=lambda: LTC(2, wirings.AutoNCP(16, 1)),
        inputs=2,
        boards=ALL_BOARDS,
    ),
    Entry(
        id="cfc-8-32",
        config="CfC(8, 32)",
        sources=(
            f"{TEST_TORCH}:39 (test_default)",
            f"{TEST_TORCH}:48 (test_batch_first)",
            f"{TEST_TORCH}:66 (test_unbatched_1)",
            f"{TEST_TORCH}:75 (test_unbatched_2)",
        ),
        build=lambda: CfC(8, 32),
        inputs=8,
        boards=ALL_BOARDS,
    ),
    Entry(
        id="cfc-8-32-proj10",
        config="CfC(8, 32, proj_size=10)",
        sources=(f"{TEST_TORCH}:57 (test_proj)",),
        build=lambda: CfC(8, 32, proj_size=10),
        inputs=8,
    ),
    Entry(
        id="cfc-20-50",
        config="CfC(20, 50)",
        sources=(
            "README.md:26",
            "docs/index.rst:21",
            "docs/quickstart.rst:35",
            "docs/api/torch.rst (ncps/torch/cfc.py:45, docstring)",
        ),
        build=lambda: CfC(20, 50),
        inputs=20,
    ),
    Entry(
        id="cfc-20-28",
        config="CfC(20, 28)",
        sources=("README.md:64",),
        build=lambda: CfC(20, 28),
        inputs=20,
    ),
    Entry(
        id="cfc-2-32-proj1",
        config="CfC(2, 32, proj_size=1)",
        sources=(f"{SINUSOIDAL}:61 (experimental CfC, out_features=1)",),
        build=lambda: CfC(2, 32, proj_size=1),
        inputs=2,
    ),
    Entry(
        id="cfc-256-64-proj4-atari",
        config="CfC(256, 64, proj_size=4)",
        sources=("docs/examples/atari_bc.rst:128 (ConvCfC, Breakout: 4 actions)", "examples/atari_torch.py:54"),
        build=lambda: CfC(256, 64, proj_size=4),
        inputs=256,
        boards=ALL_BOARDS,
        # fixed32 and float32 need about 300 KB of flash (46 and 44 KB more than the micro:bit has, measured)
        board_refusals={"qemu-microbit": {"fixed32": DOES_NOT_FIT, "float32": DOES_NOT_FIT}},
    ),
    Entry(
        id="cfc-8-ncp",
        config="CfC(8, NCP(10, 10, 8, 6, 6, 4, 6))",
        sources=(f"{TEST_TORCH}:135 (test_ncp_cfc_1)", f"{TEST_TORCH}:155 (test_ncp_cfc_2)"),
        build=lambda: CfC(8, _ncp_10_10_8()),
        inputs=8,
    ),
    Entry(
        id="cfc-8-autoncp28x10",
        config="CfC(8, AutoNCP(28, 10))",
        sources=(f"{TEST_TORCH}:145 (test_auto_ncp_cfc_1)",),
        build=lambda: CfC(8, wirings.AutoNCP(28, 10)),
        inputs=8,
        boards=ALL_BOARDS,
    ),
    Entry(
        id="cfc-20-autoncp28x4",
        config="CfC(20, AutoNCP(28, 4))",
        sources=("README.md:78", "docs/quickstart.rst:52"),
        build=lambda: CfC(20, wirings.AutoNCP(28, 4)),
        inputs=20,
    ),
    Entry(
        id="cfc-2-fc8x1",
        config="CfC(2, FullyConnected(8, 1))",
        sources=(f"{SINUSOIDAL}:62 (WiredCfC)",),
        build=lambda: CfC(2, wirings.FullyConnected(8, 1)),
        inputs=2,
    ),
    Entry(
        id="cfc-2-ncp16x8x1",
        config="CfC(2, NCP(16, 8, 1, 12, 4, 5, 8))",
        sources=(f"{SINUSOIDAL}:65 (WiredCfC)",),
        build=lambda: CfC(2, _ncp_16_8_1()),
        inputs=2,
    ),
    Entry(
        id="cfc-2-32-proj1-mixed",
        config="CfC(2, 32, proj_size=1, mixed_memory=True)",
        sources=(f"{SINUSOIDAL}:77 (experimental CfC, use_mm_rnn=True)",),
        build=lambda: CfC(2, 32, proj_size=1, mixed_memory=True),
        inputs=2,
    ),
    Entry(
        id="cfc-2-fc8x1-mixed",
        config="CfC(2, FullyConnected(8, 1), mixed_memory=True)",
        sources=(f"{SINUSOIDAL}:83 (WiredCfC, use_mm_rnn=True)",),
        build=lambda: CfC(2, wirings.FullyConnected(8, 1), mixed_memory=True),
        inputs=2,
    ),
    Entry(
        id="cfc-2-ncp16x8x1-mixed",
        config="CfC(2, NCP(16, 8, 1, 12, 4, 5, 8), mixed_memory=True)",
        sources=(f"{SINUSOIDAL}:88 (WiredCfC, use_mm_rnn=True)",),
        build=lambda: CfC(2, _ncp_16_8_1(), mixed_memory=True),
        inputs=2,
        boards=ALL_BOARDS,  # the representative mixed-memory model
    ),
)

"""The nRF52840 DK's board set-up, run for real: the built image's ``lnn_fw_board_setup`` in Unicorn.

Three risks from a review against Nordic's MDK (issue 13), each checked by the exact sequence of register writes:
- the debug port: on APPROTECT-hardened silicon the port locks at every reset unless the firmware writes
  APPROTECT.DISABLE = SwDisable, which Nordic's start-up does only when UICR.APPROTECT says HwDisabled;
- the UARTE's clock: the HFXO crystal is started and waited for, with a bounded wait (no crystal: boot goes on);
- the instruction cache (NVMC.ICACHECNF.CACHEEN) is on before anything is timed.
"""

from __future__ import annotations

import pytest
from support.nrf52_unicorn import (
    APPROTECT_DISABLE,
    APPROTECT_DISABLE_SWDISABLE,
    APPROTECT_FORCEPROTECT,
    CLOCK_EVENTS_HFCLKSTARTED,
    CLOCK_TASKS_HFCLKSTART,
    CLOCK_TASKS_HFCLKSTOP,
    NRF52840_REGIONS,
    NVMC_ICACHECNF,
    NVMC_ICACHECNF_CACHEEN,
    NVMC_ICACHECNF_CACHEPROFEN,
    STM32_REGIONS,
    FirmwareImage,
    Nrf52840Model,
    RegisterModel,
    call_function,
    load_image,
)
from test_firmware_helpers import shared_export

from lnn_edge.target.boards import load_board
from lnn_edge.target.build import build_firmware

# The writes of a set-up that finds the crystal: cache on, then the HFXO started (event cleared first).
CACHE_AND_HFXO = [
    (NVMC_ICACHECNF, NVMC_ICACHECNF_CACHEEN),
    (CLOCK_EVENTS_HFCLKSTARTED, 0),
    (CLOCK_TASKS_HFCLKSTART, 1),
]
OPEN_DEBUG_PORT = (APPROTECT_DISABLE, APPROTECT_DISABLE_SWDISABLE)


@pytest.fixture(scope="module")
def nrf52840_image(tmp_path_factory: pytest.TempPathFactory) -> FirmwareImage:
    """The nrf52840-dk firmware of a small fixed16 LTC, built by lnn-edge's own build."""
    exported = shared_export(tmp_path_factory, "fixed16")
    return load_image(build_firmware(exported.directory, "nrf52840-dk"))


def run_setup(image: FirmwareImage, model: Nrf52840Model) -> Nrf52840Model:
    """Run the image's board set-up against ``model``; it must return within the instruction budget."""
    result = call_function(image, "lnn_fw_board_setup", model, NRF52840_REGIONS)
    assert result.returned, f"lnn_fw_board_setup did not return (stopped at {result.pc:#x})"
    return model


@pytest.mark.slow
@pytest.mark.parametrize("uicr", [0x0000005A, 0xFFFFFF5A], ids=["written-0x5A", "PALL-field-only"])
def test_debug_port_opened_when_uicr_says_hw_disabled(nrf52840_image: FirmwareImage, uicr: int) -> None:
    model = run_setup(nrf52840_image, Nrf52840Model(uicr_approtect=uicr))
    # First thing, as in Nordic's SystemInit: a board whose crystal is dead must still open its port at once.
    assert model.writes == [OPEN_DEBUG_PORT, *CACHE_AND_HFXO]


@pytest.mark.parametrize(
    ("uicr", "part", "revision"),
    [(0xFFFFFFFF, 0x08, 0x05), (0x00000000, 0x08, 0x05), (0x0000005A, 0x08, 0x03), (0x0000005A, 0x08, 0x04)],
    ids=["uicr-erased", "uicr-enabled", "older-silicon-rev3-code", "older-silicon-rev4-code"],
)
def test_debug_port_left_alone_otherwise(nrf52840_image: FirmwareImage, uicr: int, part: int, revision: int) -> None:
    """UICR erased or Enabled: protection stays on. Silicon before the hardened APPROTECT (the MDK's FICR check):
    APPROTECT.DISABLE does not exist there, so it is not written even when UICR holds 0x5A."""
    model = run_setup(nrf52840_image, Nrf52840Model(uicr_approtect=uicr, ficr_part=part, ficr_revision=revision))
    assert model.writes == CACHE_AND_HFXO
    assert APPROTECT_FORCEPROTECT not in dict(model.writes)


def test_hfxo_started_and_waited_for(nrf52840_image: FirmwareImage) -> None:
    model = run_setup(nrf52840_image, Nrf52840Model(uicr_approtect=0x5A, hfxo_polls=50))
    assert model.writes == [OPEN_DEBUG_PORT, *CACHE_AND_HFXO]
    # It polled until the event came (the 50th read), and no further: the crystal now clocks the UARTE.
    assert model.reads[CLOCK_EVENTS_HFCLKSTARTED] == 50


def test_boot_goes_on_when_the_crystal_never_starts(nrf52840_image: FirmwareImage) -> None:
    model = run_setup(nrf52840_image, Nrf52840Model(uicr_approtect=0x5A, hfxo_polls=None))
    polls = model.reads[CLOCK_EVENTS_HFCLKSTARTED]
    # A real wait (milliseconds on the chip, not one look), then the request is withdrawn: the core stays on HFINT.
    assert polls >= 10_000, f"gave up on the crystal after only {polls} polls"
    assert model.writes == [OPEN_DEBUG_PORT, *CACHE_AND_HFXO, (CLOCK_TASKS_HFCLKSTOP, 1)]


def test_icache_enabled_and_profiling_left_off(nrf52840_image: FirmwareImage) -> None:
    model = run_setup(nrf52840_image, Nrf52840Model())
    icachecnf = model.values.get(NVMC_ICACHECNF, 0)
    assert icachecnf & NVMC_ICACHECNF_CACHEEN, "the instruction cache is off during cycle counts"
    assert not icachecnf & NVMC_ICACHECNF_CACHEPROFEN


def test_other_boards_write_only_their_setup_table(tmp_path_factory: pytest.TempPathFactory) -> None:
    """A guard (it passes before and after the nRF52 change): an STM32 image's set-up is exactly its [[setup]]
    read-modify-writes, with none of the nRF52840 code compiled in."""
    board = load_board("nucleo-f401re")
    exported = shared_export(tmp_path_factory, "fixed16")
    image = load_image(build_firmware(exported.directory, board))
    model = RegisterModel()
    result = call_function(image, "lnn_fw_board_setup", model, STM32_REGIONS)
    assert result.returned
    assert model.writes == [(w.addr, w.set) for w in board.setup]  # every register starts at 0 in the model

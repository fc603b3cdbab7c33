"""Sizes and symbols read with pyelftools (lnn_edge.target.elf) equal what binutils prints for the same ELF.

The build and bench reports used to parse ``arm-none-eabi-size``, ``readelf -S`` and ``nm -S``; these tests keep
those tools as the oracle, on real firmware images and a bench step image, so the figures stay identical.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from test_firmware_helpers import shared_export

from lnn_edge.bench.image import build_bench_image
from lnn_edge.errors import LnnEdgeError
from lnn_edge.target import elf
from lnn_edge.target.build import build_firmware

pytestmark = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="needs the Arm toolchain")

# readelf -S -W: [Nr] Name Type Address Off Size ES Flg ...
_READELF_SECTION = re.compile(r"^\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+\S+\s+(\S*)")


def _run(*command: str) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def binutils_berkeley(path: Path) -> tuple[int, int, int]:
    text, data, bss = _run("arm-none-eabi-size", "-B", "-d", str(path)).splitlines()[1].split()[:3]
    return int(text), int(data), int(bss)


def binutils_allocated(path: Path) -> list[tuple[str, int, int]]:
    found = []
    for line in _run("arm-none-eabi-readelf", "-S", "-W", str(path)).splitlines():
        match = _READELF_SECTION.match(line)
        if match is not None and "A" in match.group(4):
            found.append((match.group(1), int(match.group(2), 16), int(match.group(3), 16)))
    return found


def binutils_symbols(path: Path) -> dict[str, tuple[int, int]]:
    symbols = {}
    for line in _run("arm-none-eabi-nm", "-S", "--defined-only", str(path)).splitlines():
        parts = line.split()
        if len(parts) == 4:
            symbols[parts[3]] = (int(parts[0], 16), int(parts[1], 16))
    return symbols


def binutils_section_sizes(path: Path) -> dict[str, int]:
    rows = (line.split() for line in _run("arm-none-eabi-size", "-A", str(path)).splitlines())
    return {row[0]: int(row[1]) for row in rows if len(row) >= 2 and row[1].isdigit() and row[0] != "Total"}


def assert_same_as_binutils(path: Path) -> None:
    assert elf.berkeley_sizes(path) == binutils_berkeley(path)
    allocated = [(s.name, s.address, s.size) for s in elf.sections(path) if s.allocated]
    assert allocated == binutils_allocated(path)
    # size -A leaves out the symbol and string tables, which no report reads.
    ours = {s.name: s.size for s in elf.sections(path) if s.name not in (".symtab", ".strtab", ".shstrtab")}
    assert ours == binutils_section_sizes(path)
    assert elf.defined_symbols(path) == binutils_symbols(path)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("board", "precision"),
    [("qemu-mps2-an386", "fixed16"), ("qemu-mps2-an386", "float32"), ("qemu-microbit", "fixed16")],
)
def test_firmware_elf_matches_binutils(tmp_path_factory: pytest.TempPathFactory, board: str, precision: str) -> None:
    built = build_firmware(shared_export(tmp_path_factory, precision).directory, board)
    assert_same_as_binutils(built.elf)
    text, data, bss = binutils_berkeley(built.elf)
    assert (built.size.text, built.size.data, built.size.bss) == (text, data, bss)


@pytest.mark.parametrize("core", ["cortex-m0", "cortex-m4f"])
def test_bench_image_matches_binutils(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, core: str) -> None:
    exported = shared_export(tmp_path_factory, "fixed16")
    image = build_bench_image(exported.directory, exported.name, core, tmp_path)
    assert_same_as_binutils(image.elf)
    assert image.symbols == binutils_symbols(image.elf)
    assert image.entry % 2 == 0  # nm's address: the Thumb bit cleared
    flat = tmp_path / "flash.bin"
    subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", "-j", ".text", str(image.elf), str(flat)], check=True)
    assert image.flash == flat.read_bytes()


def test_not_an_elf_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "firmware.elf"
    bogus.write_bytes(b"\x7fELF but not really")
    with pytest.raises(LnnEdgeError, match="firmware.elf"):
        elf.sections(bogus)
    with pytest.raises(LnnEdgeError, match="cannot read"):
        elf.sections(tmp_path / "missing.elf")

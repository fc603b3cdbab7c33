"""Sizes and symbols of a linked ELF, read with pyelftools.

Reading the file itself, instead of the text ``size``, ``readelf`` and ``nm`` print, keeps the figures
independent of binutils' version and locale, and needs no cross binutils to report a size. Each function
states which binutils output it reproduces; tests/test_elf.py compares them on a built firmware image.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from lnn_edge.errors import LnnEdgeError


@dataclass(frozen=True)
class Section:
    """One section header: its name, address, size and whether it is loaded (SHF_ALLOC)."""

    name: str
    address: int
    size: int
    allocated: bool
    writable: bool
    executable: bool
    has_contents: bool  # not SHT_NOBITS (.bss)


def _open(elf: Path) -> ELFFile:
    try:
        handle = open(elf, "rb")  # noqa: SIM115 - ELFFile reads lazily; closed by the callers' with-blocks
        return ELFFile(handle)
    except OSError as error:
        raise LnnEdgeError(f"{elf}: cannot read the ELF file: {error}") from error
    except Exception as error:  # pyelftools raises its own ELFError and struct errors on a damaged file
        raise LnnEdgeError(f"{elf}: not a readable ELF file: {error}") from error


def sections(elf: Path) -> list[Section]:
    """Every section but the null one, in header order (``readelf -S``)."""
    reader = _open(elf)
    try:
        found = []
        for section in reader.iter_sections():
            if section["sh_type"] == "SHT_NULL":
                continue
            flags = section["sh_flags"]
            found.append(
                Section(
                    name=section.name,
                    address=section["sh_addr"],
                    size=section["sh_size"],
                    allocated=bool(flags & SH_FLAGS.SHF_ALLOC),
                    writable=bool(flags & SH_FLAGS.SHF_WRITE),
                    executable=bool(flags & SH_FLAGS.SHF_EXECINSTR),
                    has_contents=section["sh_type"] != "SHT_NOBITS",
                )
            )
        return found
    finally:
        reader.stream.close()


def berkeley_sizes(elf: Path) -> tuple[int, int, int]:
    """(text, data, bss) as ``size -B`` counts them: of the loaded sections, code or read-only ones are text,
    the other ones with contents data, and the rest bss."""
    text = data = bss = 0
    for section in sections(elf):
        if not section.allocated:
            continue
        if section.executable or not section.writable:
            text += section.size
        elif section.has_contents:
            data += section.size
        else:
            bss += section.size
    return text, data, bss


def section_contents(elf: Path, name: str) -> bytes:
    """The bytes of one section (``objcopy -O binary -j NAME``); empty for a section without contents."""
    reader = _open(elf)
    try:
        section = reader.get_section_by_name(name)
        if section is None:
            raise LnnEdgeError(f"{elf} has no section {name}")
        return b"" if section["sh_type"] == "SHT_NOBITS" else bytes(section.data())
    finally:
        reader.stream.close()


def defined_symbols(elf: Path) -> dict[str, tuple[int, int]]:
    """name -> (address, size) of the defined functions and objects with a size (``nm -S --defined-only``).

    As in nm, an Arm Thumb function's address is given without its interworking bit 0, and symbols of
    sections and files are left out."""
    reader = _open(elf)
    try:
        table = reader.get_section_by_name(".symtab")
        if not isinstance(table, SymbolTableSection):
            raise LnnEdgeError(f"{elf} has no symbol table (was it stripped?)")
        thumb = reader["e_machine"] == "EM_ARM"
        symbols: dict[str, tuple[int, int]] = {}
        for symbol in table.iter_symbols():
            kind, size = symbol["st_info"]["type"], symbol["st_size"]
            if symbol["st_shndx"] == "SHN_UNDEF" or kind in ("STT_SECTION", "STT_FILE") or size == 0:
                continue
            address = symbol["st_value"]
            if thumb and kind == "STT_FUNC":
                address &= ~1
            symbols[symbol.name] = (address, size)
        return symbols
    finally:
        reader.stream.close()

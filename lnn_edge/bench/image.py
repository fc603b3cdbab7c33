"""A bare Cortex-M or RV32 image of one model step, for counting its instructions and measuring its size.

The image holds only the generated model (`<name>.c`) and what libgcc adds (division, soft-float), linked with
``-nostdlib``: it fails to link if the step needs any libc function, which is how "no libc in a step" is checked.
Flash starts at 0x0, RAM at 0x20000000 (``MEMORY`` below) on both families; the entry point is
``<name>_step_dt``. RISC-V's small-data sections (.srodata, .sdata, .sbss) join their big siblings: the image
defines no ``__global_pointer$``, so nothing is addressed through gp.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lnn_edge.errors import LnnEdgeError
from lnn_edge.host.harness import NUMERIC_FLAGS
from lnn_edge.target.elf import defined_symbols, section_contents, sections
from lnn_edge.target.toolchain import CORE_FLAGS, CORES, require_tool

FLASH_BASE = 0x00000000
RAM_BASE = 0x20000000
RAM_SIZE = 0x40000

LINKER_SCRIPT = f"""
MEMORY {{
  FLASH (rx) : ORIGIN = {FLASH_BASE:#x}, LENGTH = 4M
  RAM (rwx) : ORIGIN = {RAM_BASE:#x}, LENGTH = {RAM_SIZE:#x}
}}
SECTIONS {{
  .text : {{ *(.text*) *(.rodata*) *(.srodata*) }} > FLASH
  .data : {{ *(.data*) *(.sdata*) }} > RAM AT > FLASH
  .bss : {{ *(.bss*) *(.sbss*) *(COMMON) }} > RAM
}}
"""


@dataclass
class BenchImage:
    """A linked step image: the ELF, its flat flash contents and the symbols the counter needs."""

    elf: Path
    flash: bytes
    entry: int
    core: str
    symbols: dict[str, tuple[int, int]]
    """name -> (address, size) of every function and object in the image."""
    data_bytes: int
    bss_bytes: int

    def model_bytes(self, name: str) -> int:
        """Flash used by the model's own code and parameters (every symbol but libgcc's)."""
        return sum(size for symbol, (_, size) in self.symbols.items() if not symbol.startswith("__"))

    def library_bytes(self) -> int:
        """Flash used by libgcc helpers the step calls (division, soft-float)."""
        return sum(size for symbol, (_, size) in self.symbols.items() if symbol.startswith("__"))


def build_bench_image(
    source_dir: Path, name: str, core: str, cache_dir: Path, extra_flags: tuple[str, ...] = ()
) -> BenchImage:
    """Compile and link the model step for ``core`` into ``cache_dir`` (reused while the sources are unchanged).
    ``extra_flags`` go last, so they can override the optimisation level (to test builds like a user's)."""
    if core not in CORE_FLAGS:
        raise LnnEdgeError(f"unknown core {core!r}; known: {', '.join(CORE_FLAGS)}")
    gcc = require_tool(CORES[core].tool("gcc"))
    flags = [*CORE_FLAGS[core], "-std=c99", *NUMERIC_FLAGS, "-ffunction-sections", "-fdata-sections", *extra_flags]
    digest = hashlib.sha256(" ".join(flags).encode())
    for path in sorted([*Path(source_dir).glob("*.[ch]"), *Path(source_dir).glob("lnn/*.h")]):
        digest.update(path.relative_to(source_dir).as_posix().encode() + path.read_bytes())
    target = Path(cache_dir) / f"{core}-{digest.hexdigest()[:12]}"
    elf = target / "step.elf"
    if not elf.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp_name:
            tmp = Path(tmp_name)
            (tmp / "link.ld").write_text(LINKER_SCRIPT)
            command = [
                gcc, *flags, "-nostdlib", "-nostartfiles", "-Wl,--gc-sections", f"-Wl,-e,{name}_step_dt",
                "-T", str(tmp / "link.ld"), "-I", str(source_dir), str(Path(source_dir) / f"{name}.c"), "-lgcc",
                "-o", str(tmp / "step.elf"),
            ]  # fmt: skip
            result = subprocess.run(command, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise LnnEdgeError(f"linking the {core} step image failed (does the step call libc?): {result.stderr}")
            staged = tmp / "staged"
            staged.mkdir()
            shutil.move(str(tmp / "step.elf"), staged / "step.elf")
            with contextlib.suppress(OSError):  # built concurrently by another process
                staged.rename(target)
    return _read_image(elf, name, core)


def _read_image(elf: Path, name: str, core: str) -> BenchImage:
    flash = section_contents(elf, ".text")
    symbols = defined_symbols(elf)
    section = {found.name: found.size for found in sections(elf)}
    entry_name = f"{name}_step_dt"
    if entry_name not in symbols:
        raise LnnEdgeError(f"{elf} has no {entry_name}")
    return BenchImage(
        elf=elf,
        flash=flash,
        entry=symbols[entry_name][0],
        core=core,
        symbols=symbols,
        data_bytes=section.get(".data", 0),
        bss_bytes=section.get(".bss", 0),
    )

"""Instruction counts of the step under QEMU with a TCG plugin: the cross-check of the Unicorn counts.

A small bootable image (vector table, FPU enable, a loop calling ``<name>_step_dt`` on preloaded raw inputs,
semihosting exit) runs on an MPS2 machine; ``firmware/tools/lnn_icount_plugin.c`` counts the instructions of
each call, from the step's entry to the instruction after its call site. The two counters share nothing but the
compiled model, so equal counts validate both.

RV32 cores run the same way on QEMU's ``sifive_e`` (qemu-system-riscv32 loads the same plugin): an entry at
0x20400000, where the mask ROM jumps, that sets the stack in the 16 KiB DTIM, copies .data, clears .bss and
calls the same loop; RISC-V's semihosting exit is the slli/ebreak/srai sequence.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from lnn_edge.bench.image import BenchImage
from lnn_edge.bench.instr_count import StepRunner
from lnn_edge.codegen.c_literals import c_array
from lnn_edge.errors import LnnEdgeError
from lnn_edge.host.harness import NUMERIC_FLAGS, cache_root
from lnn_edge.resources import data_dir
from lnn_edge.target.elf import defined_symbols, section_contents, sections
from lnn_edge.target.toolchain import CORE_FLAGS, CORES, RISCV_CORES, host_compiler, require_tool

# core -> (QEMU machine, RAM top): machines whose code memory starts at 0x0 and RAM at 0x20000000.
MACHINES = {
    "cortex-m3": ("mps2-an385", 0x20400000),
    "cortex-m4f": ("mps2-an386", 0x20400000),
    "cortex-m7": ("mps2-an500", 0x20400000),
}

MAIN = """
#include <stdint.h>
#include "{name}.h"

#define STEPS {steps}
static const {name}_value_t inputs[STEPS][{NAME}_INPUTS] = {{ {inputs} }};
static const {name}_time_t elapsed[STEPS] = {{ {elapsed} }};

static void semihosting_exit(uint32_t status)
{{
    uint32_t block[2];
    register uint32_t r0 __asm__("r0") = 0x20u;
    register uint32_t *r1 __asm__("r1") = block;
    block[0] = 0x20026u;
    block[1] = status;
    __asm__ volatile("bkpt 0xAB" : : "r"(r0), "r"(r1) : "memory");
    for (;;) {{
    }}
}}

void bench_reset(void)
{{
    {name}_state_t state;
    {name}_value_t y[{NAME}_OUTPUTS];
    int t;
    {fpu_enable}
    {name}_init(&state);
    for (t = 0; t < STEPS; t++) {{
        {name}_step_dt(&state, inputs[t], elapsed[t], y);
    }}
    semihosting_exit(0);
}}

__attribute__((section(".vectors"), used))
static const uintptr_t vectors[2] = {{ {ram_top:#x}u, (uintptr_t)bench_reset }};
"""

FPU_ENABLE = '*(volatile uint32_t *)0xE000ED88u |= 0xFu << 20; __asm__ volatile("dsb\\n isb");'

LINKER_SCRIPT = """
MEMORY { FLASH (rx) : ORIGIN = 0x0, LENGTH = 4M
         RAM (rwx) : ORIGIN = 0x20000000, LENGTH = 4M }
SECTIONS {
  .text : { KEEP(*(.vectors)) *(.text*) *(.rodata*) } > FLASH
  .data : { *(.data*) } > RAM AT > FLASH
  .bss : { *(.bss*) *(COMMON) } > RAM
}
"""


RISCV_MACHINE = "sifive_e"

RISCV_MAIN = """
#include <stdint.h>
#include "{name}.h"

#define STEPS {steps}
static const {name}_value_t inputs[STEPS][{NAME}_INPUTS] = {{ {inputs} }};
static const {name}_time_t elapsed[STEPS] = {{ {elapsed} }};
extern uint32_t _sidata[], _sdata[], _edata[], _sbss[], _ebss[];

void bench_reset(void);

static void semihosting_exit(uint32_t status)
{{
    uint32_t block[2];
    register uint32_t a0 __asm__("a0") = 0x20u;
    register uint32_t *a1 __asm__("a1") = block;
    block[0] = 0x20026u;
    block[1] = status;
    __asm__ volatile(".option push\\n .option norvc\\n .balign 16\\n slli zero, zero, 0x1f\\n ebreak\\n"
                     " srai zero, zero, 7\\n .option pop" : : "r"(a0), "r"(a1) : "memory");
    for (;;) {{
    }}
}}

void bench_reset(void)
{{
    {name}_state_t state;
    {name}_value_t y[{NAME}_OUTPUTS];
    volatile uint32_t *word; /* volatile: GCC would make these loops memcpy and memset, which -nostdlib lacks */
    int t;
    for (word = _sdata; word < _edata; word++) {{
        *word = _sidata[word - _sdata];
    }}
    for (word = _sbss; word < _ebss; word++) {{
        *word = 0u;
    }}
    {name}_init(&state);
    for (t = 0; t < STEPS; t++) {{
        {name}_step_dt(&state, inputs[t], elapsed[t], y);
    }}
    semihosting_exit(0);
}}

__asm__(".section .text.start, \\"ax\\", @progbits\\n"
        ".global _start\\n"
        "_start:\\n"
        "    la sp, _stack_top\\n"
        "    j bench_reset\\n"
        ".previous\\n");
"""

# sifive_e: the mask ROM jumps to 0x20400000 in the XIP flash; 16 KiB of DTIM at 0x80000000. The model's code and
# constants come first after the entry, in the bench image's order (lnn_edge/bench/image.py). No gp: the step
# must not depend on a register the Unicorn runner does not set.
RISCV_LINKER_SCRIPT = """
MEMORY { FLASH (rx) : ORIGIN = 0x20400000, LENGTH = 4M
         RAM (rwx) : ORIGIN = 0x80000000, LENGTH = 16K }
SECTIONS {
  .text : {
    KEEP(*(.text.start))
    . = ALIGN(64);
    *model.o(.text*) *libgcc.a:*(.text*) *model.o(.rodata*) *libgcc.a:*(.rodata*)
    *model.o(.srodata*) *libgcc.a:*(.srodata*)
    *(.text*) *(.rodata*) *(.srodata*)
  } > FLASH
  .data : ALIGN(4) { _sdata = .; *(.data*) *(.sdata*) . = ALIGN(4); _edata = .; } > RAM AT > FLASH
  _sidata = LOADADDR(.data);
  .bss : ALIGN(4) { _sbss = .; *(.bss*) *(.sbss*) *(COMMON) . = ALIGN(4); _ebss = .; } > RAM
  _stack_top = ORIGIN(RAM) + LENGTH(RAM);
}
"""


def build_plugin() -> Path:
    """Compile the counting plugin for the host (cached)."""
    source = data_dir() / "firmware" / "tools" / "lnn_icount_plugin.c"
    target = cache_root().parent / "qemu-plugin" / "lnn_icount.so"
    if target.is_file() and target.stat().st_mtime >= source.stat().st_mtime:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    gcc = host_compiler()
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        built = Path(tmp) / "lnn_icount.so"
        subprocess.run(
            [gcc, "-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror", str(source), "-o", str(built)], check=True
        )
        os.replace(built, target)
    return target


def qemu_step_counts(
    source_dir: Path,
    name: str,
    core: str,
    x_raw: np.ndarray,
    dt_raw: np.ndarray,
    value_kind: str,
    keep_elf: Path | None = None,
) -> list[int]:
    """Instructions of each of ``len(dt_raw)`` steps of the model on ``core``, counted by QEMU's plugin. The image
    is copied to ``keep_elf`` when given (to count the very same image in Unicorn)."""
    if core not in MACHINES and core not in RISCV_CORES:
        raise LnnEdgeError(
            f"no QEMU machine for the cross-check on {core}; use one of {', '.join([*MACHINES, *RISCV_CORES])}"
        )
    riscv = core in RISCV_CORES
    gcc = require_tool(CORES[core].tool("gcc"))
    objdump = require_tool(CORES[core].tool("objdump"))
    qemu = require_tool("qemu-system-riscv32" if riscv else "qemu-system-arm")
    plugin = build_plugin()
    kind = "float" if value_kind == "float" else "int"
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        fields = {
            "name": name, "NAME": name.upper(), "steps": len(dt_raw),
            "inputs": ", ".join("{" + c_array(row, kind) + "}" for row in x_raw), "elapsed": c_array(dt_raw, kind),
        }  # fmt: skip
        if riscv:
            machine, main, script = RISCV_MACHINE, RISCV_MAIN.format(**fields), RISCV_LINKER_SCRIPT
        else:
            machine, ram_top = MACHINES[core]
            fpu = FPU_ENABLE if CORES[core].fpu else ""
            main, script = MAIN.format(**fields, ram_top=ram_top, fpu_enable=fpu), LINKER_SCRIPT
        (tmp / "bench_main.c").write_text(main)
        (tmp / "link.ld").write_text(script)
        elf = tmp / "bench.elf"
        flags = [*CORE_FLAGS[core], "-std=c99", *NUMERIC_FLAGS, "-ffunction-sections", "-fdata-sections"]
        for source, obj in ((Path(source_dir) / f"{name}.c", "model.o"), (tmp / "bench_main.c", "main.o")):
            compiled = subprocess.run([gcc, *flags, "-I", str(source_dir), "-c", str(source), "-o", str(tmp / obj)],
                                      capture_output=True, text=True, check=False)  # fmt: skip
            if compiled.returncode != 0:
                raise LnnEdgeError(f"compiling {source.name} for the QEMU bench image failed: {compiled.stderr}")
        command = [gcc, *flags, "-nostdlib", "-nostartfiles", "-Wl,--gc-sections", "-T", str(tmp / "link.ld"),
                   str(tmp / "model.o"), str(tmp / "main.o"), "-lgcc", "-o", str(elf)]  # fmt: skip
        built = subprocess.run(command, capture_output=True, text=True, check=False)
        if built.returncode != 0:
            raise LnnEdgeError(f"building the QEMU bench image failed: {built.stderr}")
        listing = subprocess.run([objdump, "-d", str(elf)], capture_output=True, text=True, check=True).stdout
        entry_address, return_address = step_addresses(listing, name)
        log = tmp / "plugin.log"
        run = subprocess.run(
            [
                qemu, "-M", machine, "-nographic", "-monitor", "none", "-serial", "null", "-kernel", str(elf),
                "-semihosting-config", "enable=on,target=native", "-d", "plugin", "-D", str(log),
                "-plugin", f"{plugin},entry={entry_address:x},ret={return_address:x}",
            ],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        if run.returncode != 0:
            raise LnnEdgeError(f"QEMU exited with {run.returncode}: {run.stderr.strip()[:500]}")
        counts = [int(m) for m in re.findall(r"lnn-icount (\d+)", log.read_text())]
        if keep_elf is not None:
            shutil.copyfile(elf, keep_elf)
    if len(counts) != len(dt_raw):
        raise LnnEdgeError(f"the plugin reported {len(counts)} steps, expected {len(dt_raw)}")
    return counts


def step_addresses(listing: str, name: str) -> tuple[int, int]:
    """The step's entry and the address its one call returns to (the next instruction in the listing: Thumb's
    bl is 4 bytes, RISC-V's jal 4 bytes or 2 as c.jal), from ``objdump -d`` of the image."""
    entry = re.search(rf"^([0-9a-f]+) <{name}_step_dt>:", listing, re.MULTILINE)
    call = re.search(
        rf"^\s*[0-9a-f]+:\s+(?:[0-9a-f]{{4,8}} ?){{1,2}}\s+(?:bl|jal|c\.jal)\s+(?:ra,)?[0-9a-f]+ <{name}_step_dt>.*\n"
        r"\s*([0-9a-f]+):",
        listing,
        re.MULTILINE,
    )
    if entry is None or call is None:
        raise LnnEdgeError("could not find the step's entry and call site in the QEMU bench image")
    return int(entry.group(1), 16), int(call.group(1), 16)


class LinkedRunner(StepRunner):
    """lnn-edge's Unicorn step runner on an image at the address it was linked for (``base``), such as the RV32
    QEMU image at 0x20400000, instead of the bench image at 0: the counting code is the bench's own."""

    def __init__(self, image: BenchImage, base: int, value_dtype: np.dtype, state_size: int, outputs: int,
                 state_bytes: int) -> None:  # fmt: skip
        super().__init__(image, value_dtype, state_size, outputs, state_bytes)
        self.uc.mem_map(base, 4 << 20)
        self.uc.mem_write(base, image.flash)


def unicorn_counts_of_image(
    elf: Path, name: str, core: str, dtype: np.dtype, state_size: int, outputs: int, state_bytes: int,
    x_raw: np.ndarray, dt_raw: np.ndarray,
) -> tuple[list[int], np.ndarray]:  # fmt: skip
    """Instructions of each step of ``<name>_step_dt`` in ``elf`` (a QEMU image of :func:`qemu_step_counts`),
    counted per basic block by lnn-edge's counter, and the outputs of each step."""
    text = next(found for found in sections(elf) if found.name == ".text")
    symbols = defined_symbols(elf)
    image = BenchImage(elf=elf, flash=section_contents(elf, ".text"), entry=symbols[f"{name}_step_dt"][0], core=core,
                       symbols=symbols, data_bytes=0, bss_bytes=0)  # fmt: skip
    runner = LinkedRunner(image, text.address, dtype, state_size, outputs, state_bytes)
    steps = [runner.step(x_raw[t], dt_raw[t]) for t in range(len(dt_raw))]
    return [count for count, _, _ in steps], np.stack([y for _, y, _ in steps])

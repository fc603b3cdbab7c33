"""Instruction counts of the step under QEMU with a TCG plugin: the cross-check of the Unicorn counts.

A small bootable image (vector table, FPU enable, a loop calling ``<name>_step_dt`` on preloaded raw inputs,
semihosting exit) runs on an MPS2 machine; ``firmware/tools/lnn_icount_plugin.c`` counts the instructions of
each call, from the step's entry to the instruction after its call site. The two counters share nothing but the
compiled model, so equal counts validate both.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from lnn_edge.codegen.c_literals import c_array
from lnn_edge.errors import LnnEdgeError
from lnn_edge.host.harness import NUMERIC_FLAGS, cache_root
from lnn_edge.resources import data_dir
from lnn_edge.target.toolchain import CORE_FLAGS, CORES, host_compiler, require_tool

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
    source_dir: Path, name: str, core: str, x_raw: np.ndarray, dt_raw: np.ndarray, value_kind: str
) -> list[int]:
    """Instructions of each of ``len(dt_raw)`` steps of the model on ``core``, counted by QEMU's plugin."""
    if core not in MACHINES:
        raise LnnEdgeError(f"no QEMU machine for the cross-check on {core}; use one of {', '.join(MACHINES)}")
    machine, ram_top = MACHINES[core]
    gcc = require_tool("arm-none-eabi-gcc")
    objdump = require_tool("arm-none-eabi-objdump")
    qemu = require_tool("qemu-system-arm")
    plugin = build_plugin()
    kind = "float" if value_kind == "float" else "int"
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        main = MAIN.format(
            name=name, NAME=name.upper(), steps=len(dt_raw), ram_top=ram_top,
            inputs=", ".join("{" + c_array(row, kind) + "}" for row in x_raw), elapsed=c_array(dt_raw, kind),
            fpu_enable=FPU_ENABLE if CORES[core].fpu else "",
        )  # fmt: skip
        (tmp / "bench_main.c").write_text(main)
        (tmp / "link.ld").write_text(LINKER_SCRIPT)
        elf = tmp / "bench.elf"
        command = [
            gcc, *CORE_FLAGS[core], "-std=c99", *NUMERIC_FLAGS, "-nostdlib", "-nostartfiles", "-Wl,--gc-sections",
            "-ffunction-sections", "-fdata-sections", "-T", str(tmp / "link.ld"), "-I", str(source_dir),
            str(tmp / "bench_main.c"), str(Path(source_dir) / f"{name}.c"), "-lgcc", "-o", str(elf),
        ]  # fmt: skip
        built = subprocess.run(command, capture_output=True, text=True, check=False)
        if built.returncode != 0:
            raise LnnEdgeError(f"building the QEMU bench image failed: {built.stderr}")
        listing = subprocess.run([objdump, "-d", str(elf)], capture_output=True, text=True, check=True).stdout
        entry = re.search(rf"^([0-9a-f]+) <{name}_step_dt>:", listing, re.MULTILINE)
        call = re.search(
            rf"^\s*([0-9a-f]+):\s+(?:[0-9a-f]{{4}} ?){{2}}\s+bl\s+[0-9a-f]+ <{name}_step_dt>", listing, re.MULTILINE
        )
        if entry is None or call is None:
            raise LnnEdgeError("could not find the step's entry and call site in the QEMU bench image")
        entry_address, return_address = int(entry.group(1), 16), int(call.group(1), 16) + 4
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
    if len(counts) != len(dt_raw):
        raise LnnEdgeError(f"the plugin reported {len(counts)} steps, expected {len(dt_raw)}")
    return counts

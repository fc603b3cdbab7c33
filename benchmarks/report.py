"""Write docs/benchmarks.md (and its plots) from the results of matrix.py, host_speed.py, quant_accuracy.py and
sigmoid_tables.py.

Usage: python benchmarks/report.py --matrix build/bench/matrix.json --host build/bench/host.md
                                   --accuracy build/bench/accuracy.md --sigmoid build/bench/sigmoid.md
                                   --out docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

from lnn_edge.target.toolchain import CORES

CORE_NAMES = {name: core.label for name, core in CORES.items()}

# Anchors from issue 6 (QEMU 7.2, arm-none-eabi-gcc 12.2 -O2, instructions per step), for LTC(20, AutoNCP(19,2))
# and the wired CfC on the same wiring.
ANCHORS = {
    "LTC, straightforward float32 port (expf sigmoid, masked dense arrays)": (1590167, 793960, 66454, 56590),
    "LTC, same with a 257-entry float sigmoid table": (749178, 433023, 48305, 48325),
    "wired CfC, straightforward float32 port": (645412, 279657, 12878, 12240),
    "CMSIS-NN LSTM int8 (s8), 20 inputs, 19 hidden": (45333, 21120, 18629, 18503),
    "CMSIS-NN LSTM 16x8 (s16), same": (193598, 26681, 21667, 21235),
}


# Anchors of issue 17 on RISC-V (instructions per step on RV32IMC, RV32IMAC), counted by lnn-edge's own counter
# (Unicorn per basic block) on images built with riscv64-unknown-elf-gcc 12.2 and lnn-edge's flags (-O2,
# -ffp-contract=off): `python benchmarks/anchors.py --cmsis-nn PATH` (RISCV_ANCHOR_NOTES says how).
RISCV_ANCHORS = {
    "LTC, straightforward float32 port (expf sigmoid, masked dense arrays, soft float)": (7381433, 7381433),
    "CMSIS-NN LSTM int8 (s8), 20 inputs, 19 hidden": (26921, 26921),
}
RISCV_ANCHOR_CORES = ("rv32imc", "rv32imac")

RISCV_ANCHOR_NOTES = """Measured by `python benchmarks/anchors.py --cmsis-nn PATH --lnn-edge` (about 5 minutes; the port's mean is over
4 steps, 7 million instructions each, CMSIS-NN's over 20): the same compiler, flags, memory map and counter
as lnn-edge's bench, on the models of `benchmarks/matrix.py` (the lnn-edge rows it benches in the same run are
those of the matrix).

- The float32 port is ours, `benchmarks/anchors/ltc_f32.c`: what a hand port of ncps's LTC looks like (dense
  [source][destination] arrays multiplied by their masks, so every pair gets its sigmoid; `1 / (1 + expf(-x))`;
  the semi-implicit step with 6 unfolds), run on LTC(20, AutoNCP(19,2)) and checked against lnn-edge's float64
  reference. Its 2,546 sigmoids a step each call picolibc's `expf` (newlib's `sf_exp.c`, soft float through
  libgcc's C soft-fp routines): about 2,900 instructions a sigmoid, where Cortex-M0's hand-written Thumb soft
  float takes about 620.
- CMSIS-NN's `arm_lstm_unidirectional_s8` is compiled from a CMSIS-NN checkout (the figures: commit
  99f736a63036613032f9b70de36b493bcd7802d4, `git clone https://github.com/ARM-software/CMSIS-NN && git -C
  CMSIS-NN checkout 99f736a63036613032f9b70de36b493bcd7802d4`, then `--cmsis-nn CMSIS-NN`), its portable C paths (no Arm extension is defined on RV32), 20 inputs, 19 hidden units, one time step a call, with
  drawn int8 weights and TFLite-style scales (the loops have fixed trip counts: the count hardly depends on the
  values). Nothing of CMSIS-NN is in this repository: `benchmarks/anchors/cmsis_lstm_s8.c` is only our call.
- RV32IMC and RV32IMAC run the same instructions: neither anchor uses an atomic instruction.
"""


def _tool_version(command: list[str]) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, check=False).stdout.splitlines()[0]
    except (OSError, IndexError):
        return "unknown"


def instruction_table(rows: list[dict[str, Any]]) -> str:
    cores = list(CORE_NAMES)
    table: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for row in rows:
        table[(row["model"], row["precision"])][row["core"]] = row["instructions_per_step"]
    lines = [
        "| model | precision | " + " | ".join(CORE_NAMES[c] for c in cores) + " |",
        "|---|---|" + "---:|" * len(cores),
    ]
    for (model, precision), per_core in table.items():
        cells = " | ".join(f"{per_core[c]:,.0f}" if c in per_core else "-" for c in cores)
        lines.append(f"| {model} | {precision} | {cells} |")
    return "\n".join(lines)


def memory_table(rows: list[dict[str, Any]], core: str = "cortex-m4f") -> str:
    lines = [
        "| model | precision | flash: model code + parameters (B) | flash: libgcc helpers (B) | static RAM (B) | peak stack (B) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        if row["core"] == core:
            lines.append(
                f"| {row['model']} | {row['precision']} | {row['flash_model_bytes']:,} | {row['flash_library_bytes']:,} "
                f"| {row['ram_static_bytes']} | {row['stack_peak_bytes']} |"
            )
    return "\n".join(lines)


def mix_table(rows: list[dict[str, Any]], model: str) -> str:
    kinds = ("load", "store", "multiply", "divide", "branch", "fp", "other")
    lines = [
        "| precision | core | " + " | ".join(kinds) + " | of all: in libgcc | estimated cycles |",
        "|---|---|" + "---:|" * (len(kinds) + 2),
    ]
    for row in rows:
        if row["model"] == model:
            mix = row["instruction_mix"]
            cells = " | ".join(f"{mix.get(k, 0):,.0f}" for k in kinds)
            lines.append(
                f"| {row['precision']} | {CORE_NAMES[row['core']]} | {cells} "
                f"| {row['library_instructions_per_step']:,.0f} | {row['estimated_cycles_per_step']:,.0f} |"
            )
    return "\n".join(lines)


def anchor_table(rows: list[dict[str, Any]]) -> str:
    cores = ("cortex-m0", "cortex-m3", "cortex-m4f", "cortex-m7")
    lines = ["| implementation | M0 | M3 | M4F | M7 |", "|---|---:|---:|---:|---:|"]
    for label, values in ANCHORS.items():
        lines.append(f"| {label} | " + " | ".join(f"{v:,}" for v in values) + " |")
    for model in ("LTC AutoNCP(19,2)", "CfC wired AutoNCP(19,2)"):
        for precision in ("float32", "fixed16", "fixed32"):
            found = {
                r["core"]: r["instructions_per_step"]
                for r in rows
                if r["model"] == model and r["precision"] == precision
            }
            if found:
                cells = " | ".join(f"**{found[c]:,.0f}**" if c in found else "-" for c in cores)
                lines.append(f"| lnn-edge {model}, {precision} | {cells} |")
    return "\n".join(lines)


def riscv_anchor_table(rows: list[dict[str, Any]]) -> str:
    """The RV32 anchors and lnn-edge's RV32 rows of the same models, with how many times fewer instructions
    lnn-edge's step runs than each anchor on the same core."""
    labels = [CORE_NAMES[c] for c in RISCV_ANCHOR_CORES]
    short = ("float32 port", "CMSIS-NN s8")
    lines = [
        "| implementation | "
        + " | ".join(labels)
        + " | "
        + " | ".join(f"{s} / this ({labels[0]})" for s in short)
        + " |",
        "|---|" + "---:|" * (len(labels) + len(short)),
    ]
    for label, values in RISCV_ANCHORS.items():
        lines.append(f"| {label} | " + " | ".join(f"{v:,}" for v in values) + " |" + " |" * len(short))
    anchors = list(RISCV_ANCHORS.values())
    for model in ("LTC AutoNCP(19,2)", "CfC wired AutoNCP(19,2)"):
        for precision in ("float32", "fixed16", "fixed32"):
            found = {
                r["core"]: r["instructions_per_step"]
                for r in rows
                if r["model"] == model and r["precision"] == precision and r["core"] in RISCV_ANCHOR_CORES
            }
            if found:
                cells = " | ".join(f"**{found[c]:,.0f}**" if c in found else "-" for c in RISCV_ANCHOR_CORES)
                first = found.get(RISCV_ANCHOR_CORES[0])
                ratios = " | ".join("-" if first is None else f"{values[0] / first:,.1f}x" for values in anchors)
                lines.append(f"| lnn-edge {model}, {precision} | {cells} | {ratios} |")
    return "\n".join(lines)


# Targets of issue 6 for LTC AutoNCP(19,2) (and the wired CfC): (label, model, precision, core, field, limit).
TARGETS = [
    ("M4F fixed16 instructions/step", "LTC AutoNCP(19,2)", "fixed16", "cortex-m4f", "instructions_per_step", 6000),
    ("M4F float32 instructions/step", "LTC AutoNCP(19,2)", "float32", "cortex-m4f", "instructions_per_step", 12000),
    ("M3 fixed16 instructions/step", "LTC AutoNCP(19,2)", "fixed16", "cortex-m3", "instructions_per_step", 8000),
    ("M0 fixed16 instructions/step", "LTC AutoNCP(19,2)", "fixed16", "cortex-m0", "instructions_per_step", 25000),
    (
        "fixed16 flash, parameters + step code (M4F)",
        "LTC AutoNCP(19,2)",
        "fixed16",
        "cortex-m4f",
        "flash_model_bytes",
        3072,
    ),
    (
        "float32 flash, parameters + step code (M4F)",
        "LTC AutoNCP(19,2)",
        "float32",
        "cortex-m4f",
        "flash_model_bytes",
        5120,
    ),
    ("static RAM, fixed16", "LTC AutoNCP(19,2)", "fixed16", "cortex-m4f", "ram_static_bytes", 100),
    ("stack, fixed16 (M4F)", "LTC AutoNCP(19,2)", "fixed16", "cortex-m4f", "stack_peak_bytes", 256),
    ("stack, float32 (M4F)", "LTC AutoNCP(19,2)", "float32", "cortex-m4f", "stack_peak_bytes", 256),
    (
        "wired CfC M4F fixed16 instructions/step",
        "CfC wired AutoNCP(19,2)",
        "fixed16",
        "cortex-m4f",
        "instructions_per_step",
        4000,
    ),
    ("complete firmware flash, M4F fixed16", "LTC AutoNCP(19,2)", "fixed16", "cortex-m4f", "flash_total_bytes", 8192),
]

TARGET_NOTES = """Where a target is missed, why (measured while doing the speed work; details in docs/number-formats.md):

- **LTC fixed16 on M4F and M3.** The step evaluates 370 synapses (100 sensory once, 45 internal x 6 unfolds). On
  M4F the synapse loop is assembly, 15 instructions a synapse (LDRD with post-increment, UXTB + LDRSH of the
  presynaptic value, SMLABB for the table position, USAT for the segment, the {sample, slope} table load, AND for
  the interpolation weight, SMLAWT to interpolate, SMLATB + ASR for g = w x sigmoid rounded, LDRSH + ADD + SMLABB
  for erev, G and S, SUBS + BNE): 5,550 instructions. The rest of the step (48 updates of neurons with internal
  synapses and 66 of the others, each with a division, plus the input mapping and set-up) measures about 3,200
  instructions on M4F and 3,500 on M3, and even by hand it would not drop below about 2,300 (some 17
  instructions per update, 8 per neuron of set-up): 5,550 + 2,300 = 7,850, over 6,000. Even granting the rest
  a bare 6 instructions per update (load v, multiply-subtract, add, divide, add, store: 684 in all, no set-up),
  the loop form cannot go below 5,550 + 684 = 6,234. Only unrolling every synapse (no loop control, the
  presynaptic index a constant offset: 12 instructions a synapse, 4,440) could, and it takes about 44 B of
  Thumb-2 code a synapse: some 6.4 KB for the 145 synapses, twice the 3 KB flash target. M3 has no 16-bit DSP
  multiply-accumulates (no SMLABB or SMLAWT): GCC takes 22 instructions a synapse and a hand-scheduled loop 21,
  so 370 x 21 + 2,300 = 10,070 (370 x 21 + 684 = 8,454 at the bare minimum), over 8,000; unrolled, its 18 or so
  instructions a synapse would need about 9 KB of code. Reading the
  table without interpolation (2 instructions a synapse cheaper on M4F, 3-4 on M3) does not fit the accuracy
  target: on its own it puts the trained model's output 3.8e-2 of its range off with 256 samples (512 B), and
  1.5e-2 after 1,000 steps with 1,024 (2 KB), against fixed16's 1e-2; 2,048 samples (4 KB) would fit the error
  but not the 3 KB flash target ("Sigmoid tables" below).

fixed16 meets the stack target because the step's buffer (the mapped inputs, then the potentials of odd unfolds;
max(inputs, neurons) values) lives in the caller-owned state struct as `scratch`, not on the stack: 40 B more
static RAM, and 272 -> 220 B of stack on M4F (276 -> 224 B on M7, 276 -> 220 B on M33, with the assembly loop
below). On the stack, no loop shape measured brought it within 256 B on every core.

fixed16 on M4F, M7 and M33 runs the synapse loop in assembly (GCC with optimisation; the C loop with ACLE
intrinsics computes the same bits and is the reference): 15 instructions a synapse where GCC 12 takes 16 or 17,
depending on whether its register allocator keeps the rounding constant in a register, which changed from model
to model and core to core. With the record and erev pointers kept in registers across neurons it measured 7-11%
fewer instructions on every LTC fixed16 model on these cores.

float32 on M4F meets its target through the synapse loop in VFP assembly (FPU cores with GCC: M4F, M7, M33): one
VLDM loads a synapse's record and VMLA does each multiply-add, 25 instructions a synapse where GCC 12 takes 31
(GCC emits no VMLA for Cortex-M, although VMLA rounds exactly like the C's `acc + a * b`). The neuron updates, and
every CfC float32 multiply-add, use VMLA through `lnn_mla_f32`.

M0 fixed16 meets its target through three measured changes: the synapse loop in Thumb-1 assembly (30 instructions
a synapse, GCC 12 needs about 40), division through a reciprocal computed once per step where a divisor repeats
(dt for cm/dt; each leaf neuron's denominator over its 6 unfolds; exact, see `lnn_div_recip`), and `-Os` for the
rest of the step on ARMv6-M. The `in libgcc` column below is what remains of `__aeabi_idiv` (one division per
neuron with internal synapses per unfold, and the reciprocals).
"""


_FLOAT_PORT, _CMSIS_S8 = (values[0] for values in RISCV_ANCHORS.values())

# Targets of issue 17 (RISC-V), in the same form; "faster than an anchor" is the anchor's count as the limit.
RISCV_TARGETS = [
    (
        "RV32IMC LTC fixed16 instructions/step",
        "LTC AutoNCP(19,2)",
        "fixed16",
        "rv32imc",
        "instructions_per_step",
        11000,
    ),
    (
        "RV32IMC wired CfC fixed16 instructions/step",
        "CfC wired AutoNCP(19,2)",
        "fixed16",
        "rv32imc",
        "instructions_per_step",
        6000,
    ),
    (
        "fixed16 LTC flash, parameters + step code (RV32IMC)",
        "LTC AutoNCP(19,2)",
        "fixed16",
        "rv32imc",
        "flash_model_bytes",
        3584,
    ),
    (
        "whole qemu-sifive-e firmware flash, LTC fixed16",
        "LTC AutoNCP(19,2)",
        "fixed16",
        "rv32imac",
        "flash_total_bytes",
        8192,
    ),
    (
        "RV32IMC LTC fixed16: faster than the float32 port",
        "LTC AutoNCP(19,2)",
        "fixed16",
        "rv32imc",
        "instructions_per_step",
        _FLOAT_PORT,
    ),
    (
        "RV32IMC LTC fixed16: faster than CMSIS-NN's s8 LSTM",
        "LTC AutoNCP(19,2)",
        "fixed16",
        "rv32imc",
        "instructions_per_step",
        _CMSIS_S8,
    ),
    (
        "RV32IMC LTC float32: faster than the float32 port",
        "LTC AutoNCP(19,2)",
        "float32",
        "rv32imc",
        "instructions_per_step",
        _FLOAT_PORT,
    ),
]

RISCV_TARGET_NOTES = """On RV32 the fixed16 LTC's synapse loop is the assembly of `lnn/lnn_ltc_q15_rv32.h` (27.5 instructions a
synapse against 33 in GCC's code for the portable C; the M3 needs about 20: RV32IMC has no bit-field extract, no
scaled-index halfword load and no multiply-accumulate), and the CfC's column-pair loop is unrolled twice on RV32
only. Neither instruction target is met: 370 synapse evaluations a step at 26 instructions each take 9,620 of
the LTC's 11,000 (docs/boards.md, RISC-V, says where the rest goes and which savings are known). Both cost flash
on RV32 only (+58 B for the LTC AutoNCP(19,2), +368 B for the wired CfC) for 16 % and 4 % fewer instructions;
every Arm row is unchanged.
The `whole qemu-sifive-e firmware` row is matrix.py's `flash_total_bytes` of the `rv32imac` rows.

Counting on RV32 is cross-checked as on Arm: qemu-system-riscv32 loads the same TCG plugin
(`firmware/tools/lnn_icount_plugin.c`) on `sifive_e`, and `tests/test_riscv_firmware.py` runs lnn-edge's
Unicorn counter on the very image the plugin counts (linked at 0x20400000): the two agree at every step. Against
the bench image, which sits at address 0, the plugin's counts are equal for the wired CfC (fixed16, fixed32) and
the LTC in float32, and 2 higher at every step for the LTC in fixed16: at address 0 GNU ld's relaxation replaces
the `lui` + `addi` of a parameter array placed below 0x800 by one `addi` from x0, which no image at a real part's
addresses (0x20400000 on the FE310, 0x40380000 on the ESP32-C3) gets. Where that happens the RV32 counts above
are low by those few instructions; linking the bench image for RV32 at a part's address would remove it.
"""


def targets_table(rows: list[dict[str, Any]], targets: list[tuple[str, str, str, str, str, int]] | None = None) -> str:
    """Each target's limit, the measured value of its row (``-`` when the matrix has none) and whether it is met."""
    lines = ["| target | limit | measured | met |", "|---|---:|---:|---|"]
    for label, model, precision, core, key, limit in TARGETS if targets is None else targets:
        found = [r.get(key) for r in rows if r["model"] == model and r["precision"] == precision and r["core"] == core]
        value = found[0] if found and found[0] is not None else None
        measured = "-" if value is None else f"{value:,.0f}"
        met = "-" if value is None else ("yes" if value <= limit else "**no**")
        lines.append(f"| {label} | {limit:,} | {measured} | {met} |")
    return "\n".join(lines)


def plots(rows: list[dict[str, Any]], directory: Path) -> list[str]:
    from lnn_edge.plots import pyplot

    plt = pyplot()

    directory.mkdir(parents=True, exist_ok=True)
    names = []
    # The plain LTC on AutoNCP of each size: the mixed-memory LTC (19 neurons too) would draw a jump at 19.
    series = [r for r in rows if r["model"].startswith("LTC AutoNCP") and "mixed memory" not in r["model"]]
    for x_key, label in (("neurons", "neurons"), ("synapses", "synapses (sensory + internal)")):
        figure, axes = plt.subplots(1, 3, figsize=(14, 4), sharey=False)
        for axis, precision in zip(axes, ("fixed16", "fixed32", "float32"), strict=True):
            for core, short in CORE_NAMES.items():
                points = sorted(
                    (r[x_key], r["instructions_per_step"])
                    for r in series
                    if r["core"] == core and r["precision"] == precision
                )
                if points:
                    axis.plot(*zip(*points, strict=True), marker="o", label=short)
            axis.set_title(f"LTC on AutoNCP, {precision}")
            axis.set_xlabel(label)
            axis.set_yscale("log")
            axis.grid(True, alpha=0.3)
        axes[0].set_ylabel("instructions per step")
        axes[-1].legend()
        figure.tight_layout()
        name = f"instructions-vs-{x_key}.png"
        figure.savefig(directory / name, dpi=90)
        plt.close(figure)
        names.append(name)
    figure, axis = plt.subplots(figsize=(12, 4))
    m4 = [r for r in rows if r["core"] == "cortex-m4f"]
    labels = [f"{r['model']}\n{r['precision']}" for r in m4]
    axis.bar(range(len(m4)), [r["flash_model_bytes"] for r in m4], label="flash (model code + parameters)")
    axis.bar(
        range(len(m4)),
        [r["stack_peak_bytes"] + r["ram_static_bytes"] for r in m4],
        label="RAM (state + peak stack)",
        alpha=0.7,
    )
    axis.set_xticks(range(len(m4)), labels, rotation=90, fontsize=6)
    axis.set_ylabel("bytes (M4F)")
    axis.legend()
    figure.tight_layout()
    figure.savefig(directory / "memory-m4f.png", dpi=90)
    plt.close(figure)
    names.append("memory-m4f.png")
    return names


def optional_section(path: Path | None, heading: str, intro: str = "") -> list[str]:
    """A section made of a markdown file another benchmark script wrote; nothing when the file is missing."""
    if path is None or not path.is_file():
        return []
    return [heading, "", *([intro, ""] if intro else []), path.read_text(), ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--matrix", type=Path, required=True)
    parser.add_argument("--host", type=Path, default=None)
    parser.add_argument("--accuracy", type=Path, default=None)
    parser.add_argument("--sigmoid", type=Path, default=None, help="markdown of sigmoid_tables.py, optional")
    parser.add_argument("--board", type=Path, default=None, help="markdown of board (QEMU) figures, optional")
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"))
    args = parser.parse_args()
    rows = json.loads(args.matrix.read_text())
    images = plots(rows, args.out.parent / "img")
    gcc = _tool_version(["arm-none-eabi-gcc", "--version"])
    riscv_gcc = _tool_version(["riscv64-unknown-elf-gcc", "--version"])
    parts = [
        "# Benchmarks",
        "",
        f"Generated by `make bench` on {date.today().isoformat()} ({platform.machine()}, {gcc}; {riscv_gcc}). Every number below comes "
        "from a command in this page; rerun `make bench` to refresh it. Speed and memory are benchmarks, never timed tests.",
        "",
        "## Instructions per step",
        "",
        "Exact instruction counts of one RNN step (`<name>_step_dt`), built with arm-none-eabi-gcc -O2 for each Cortex-M "
        "core and riscv64-unknown-elf-gcc -O2 for RV32IMC and RV32IMAC (soft float: no FPU), and "
        "run in Unicorn, counted per executed basic block (mean over 20 steps of test inputs; the outputs and state of "
        "every counted step equal the emulator's bit for bit). Models use 20 inputs and ncps's default initialisation. "
        "Command: `python benchmarks/matrix.py --out build/bench/matrix.json` (part of `make bench`).",
        "",
        instruction_table(rows),
        "",
        "### Against the anchors of issue 6 (instructions per step; LTC(20, AutoNCP(19,2)))",
        "",
        anchor_table(rows),
        "",
        "### The targets of issue 6",
        "",
        targets_table(rows),
        "",
        TARGET_NOTES,
        "### RISC-V: against the anchors of issue 17 (instructions per step; LTC(20, AutoNCP(19,2)))",
        "",
        riscv_anchor_table(rows),
        "",
        RISCV_ANCHOR_NOTES,
        "### The targets of issue 17 (RISC-V)",
        "",
        targets_table(rows, RISCV_TARGETS),
        "",
        RISCV_TARGET_NOTES,
        "### Instruction mix and estimated cycles, LTC AutoNCP(19,2)",
        "",
        "Cycles are an ESTIMATE from ARM's published per-class timings (SiFive's E31 manual for RV32; "
        "`lnn_edge/bench/instr_count.py` CYCLES), not a "
        "measurement: no pipeline, flash wait states or caches are modelled.",
        "",
        mix_table(rows, "LTC AutoNCP(19,2)"),
        "",
        "## Flash, RAM and stack (M4F)",
        "",
        "Flash of the model is its code and `static const` parameters in the linked step image (`-nostdlib`: the step "
        "needs no libc); libgcc helpers (division, soft-float) are listed apart. Static RAM is the caller-owned state "
        "struct (in fixed-point LTC exports it holds the step's scratch buffer too); the stack is painted before the "
        "run and measured after it.",
        "",
        memory_table(rows),
        "",
        "### RISC-V (RV32IMC)",
        "",
        "The same figures for RV32IMC (ESP32-C3's core; RV32IMAC's differ by a few bytes of model code and in "
        "libgcc, whose rv32imac build is compressed and rv32imc's, rv32im's, is not): float32 brings libgcc's "
        "soft-float routines, the LTC's fixed32 its 64-bit division.",
        "",
        memory_table(rows, "rv32imc"),
        "",
        *[f"![{name}](img/{name})" for name in images],
        "",
    ]
    parts += optional_section(args.board, "## On the emulated boards (QEMU)")
    parts += optional_section(
        args.host,
        "## Host: generated C against ncps torch",
        "Per-step time at batch 1, one thread, measured in one run (`python benchmarks/host_speed.py --steps 2000`); "
        "only the ratios carry over to other machines.",
    )
    parts += optional_section(
        args.accuracy,
        "## Quantization accuracy on trained models",
        "Emulator (equal to the generated C bit for bit) against the float64 reference on the built-in pendulum "
        "task: held-out sequences (32 x 64 steps) and long runs of 1 000 and 10 000 steps "
        "(`python benchmarks/quant_accuracy.py --models .bench-models`; it trains the four models first when "
        "they are missing: the plain two in about 3 minutes, the two with mixed memory in about 75 on 2 busy cores, "
        "the LTC's most of it). Thresholds: fixed32 <= 1e-4 and fixed16 <= 1e-2 of the output range. With mixed "
        "memory, fixed16 keeps the whole state [h | c] in one format, sized for the calibrated c (2.5x headroom): "
        "h gets 4 fractional bits fewer than without, which is most of the larger fixed16 error.",
    )
    parts += optional_section(
        args.sigmoid,
        "## Sigmoid tables for the fixed16 LTC",
        "The output error each candidate sigmoid table causes on its own: the float64 reference of the trained "
        "pendulum LTC with only its synapse sigmoid replaced (`python benchmarks/sigmoid_tables.py --models "
        ".bench-models`). Reading without interpolation saves 2-4 instructions a synapse; fixed16 must stay "
        "within 1e-2 of the output range with all its other roundings on top, and within 3 KB of flash for "
        "parameters and step code.",
    )
    args.out.write_text("\n".join(parts))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

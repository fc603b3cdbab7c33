"""Anchors on RISC-V (issue 17): what a RISC-V user would run instead of lnn-edge, counted like lnn-edge's bench.

Two anchors, each built with the same compiler and flags as lnn-edge's step image (riscv64-unknown-elf-gcc,
the core's flags, -O2 -ffp-contract=off, -nostdlib with the bench image's memory map) and counted in Unicorn
per basic block by lnn-edge's own counter (``lnn_edge.bench.instr_count.count_steps``), on RV32IMC and RV32IMAC:

- a straightforward float32 C port of the LTC (``benchmarks/anchors/ltc_f32.c``: masked dense arrays, expf
  sigmoid from picolibc's libm, soft float), on the matrix's LTC(20, AutoNCP(19,2)) (benchmarks/matrix.py's
  ``models()`` and calibration); its outputs are checked against lnn-edge's float64 reference;
- CMSIS-NN's portable int8 LSTM (``arm_lstm_unidirectional_s8``, 20 inputs, 19 hidden units, one time step per
  call), compiled from a CMSIS-NN checkout given with ``--cmsis-nn`` (nothing of CMSIS-NN is in this
  repository; ``benchmarks/anchors/cmsis_lstm_s8.c`` is only our call into it).

With ``--lnn-edge`` it benches lnn-edge's own rows of the same models on the same cores in the same run
(``bench_export``, matrix.py's row format, with the whole qemu-sifive-e firmware's flash for RV32IMAC) and
prints the ratios; ``--rows`` writes those rows as a matrix JSON that benchmarks/report.py reads.

Usage: python benchmarks/anchors.py --cmsis-nn ~/src/CMSIS-NN --lnn-edge --out build/bench/anchors.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matrix import INPUTS, models

from lnn_edge.bench.image import LINKER_SCRIPT, BenchImage
from lnn_edge.bench.instr_count import StepCounts, count_steps
from lnn_edge.codegen.c_literals import c_array, c_float
from lnn_edge.errors import LnnEdgeError
from lnn_edge.floatmath import softplus
from lnn_edge.host.harness import NUMERIC_FLAGS
from lnn_edge.model.importers import from_module
from lnn_edge.model.model import Calibration, Model
from lnn_edge.reference import Reference
from lnn_edge.target.elf import defined_symbols, section_contents, sections
from lnn_edge.target.toolchain import CORE_FLAGS, CORES, RISCV_CORES, require_tool

HERE = Path(__file__).resolve().parent / "anchors"
ENTRY = "anchor_step_dt"
LTC_MODEL = "LTC AutoNCP(19,2)"
CFC_MODEL = "CfC wired AutoNCP(19,2)"
HIDDEN = 19

# The CMSIS-NN files arm_lstm_unidirectional_s8 needs on a core without Arm extensions (its portable C paths).
CMSIS_SOURCES = (
    "Source/LSTMFunctions/arm_lstm_unidirectional_s8.c",
    "Source/NNSupportFunctions/arm_nn_lstm_step_s8.c",
    "Source/NNSupportFunctions/arm_nn_lstm_calculate_gate_s8_s16.c",
    "Source/NNSupportFunctions/arm_nn_vec_mat_mul_result_acc_s8_s16.c",
    "Source/NNSupportFunctions/arm_nntables.c",
    "Source/BasicMathFunctions/arm_elementwise_mul_s16.c",
    "Source/BasicMathFunctions/arm_elementwise_mul_acc_s16.c",
    "Source/BasicMathFunctions/arm_elementwise_mul_s16_s8.c",
    "Source/ActivationFunctions/arm_nn_activation_s16.c",
)

LABELS = {
    "ltc_f32": "LTC, straightforward float32 port (expf sigmoid, masked dense arrays, soft float)",
    "cmsis_lstm_s8": "CMSIS-NN LSTM int8 (s8), 20 inputs, 19 hidden",
}


@dataclass
class AnchorFigure:
    """Instructions per step of one anchor on one core (the mean over the counted steps)."""

    anchor: str
    label: str
    core: str
    steps: int
    instructions_per_step: float
    min_instructions: int
    max_instructions: int
    library_instructions_per_step: float
    """In libgcc's helpers (soft float, division)."""
    flash_bytes: int
    """Code and constants of the linked image (the anchor, libm/libc routines and libgcc helpers)."""


def matrix_models(labels: tuple[str, ...]) -> dict[str, Model]:
    """The named models of benchmarks/matrix.py with the calibration matrix.py gives each (drawn in its order)."""
    rng = np.random.default_rng(0)
    chosen = {}
    for label, module in models().items():
        calibration = Calibration(x=rng.normal(size=(4, 50, INPUTS)), dt=rng.uniform(0.5, 1.5, size=(4, 50)))
        if label in labels:
            model = from_module(module)
            model.calibration = calibration
            chosen[label] = model
    return chosen


# The bench image's memory map, with initialised data kept in flash after the constants: the counter loads only
# the flash image, and picolibc's expf has two words of .sdata (on its overflow and underflow paths). Unicorn's
# flash is writable, so they behave as RAM would.
ANCHOR_LINKER_SCRIPT = LINKER_SCRIPT.replace("*(.srodata*) }", "*(.srodata*) *(.data*) *(.sdata*) }")
assert ANCHOR_LINKER_SCRIPT != LINKER_SCRIPT


def link_image(sources: list[Path], core: str, include_dirs: list[Path], out: Path) -> BenchImage:
    """Compile and link ``sources`` like lnn-edge's step image (same flags, the same memory map), with
    picolibc's libm and libc before libgcc, since the anchors call expf, memset and memcpy."""
    gcc = require_tool(CORES[core].tool("gcc"))
    flags = [*CORE_FLAGS[core], "-std=c99", *NUMERIC_FLAGS, "-ffunction-sections", "-fdata-sections"]
    out.mkdir(parents=True, exist_ok=True)
    (out / "link.ld").write_text(ANCHOR_LINKER_SCRIPT)
    elf = out / "anchor.elf"
    command = [
        gcc, *flags, *(f"-I{d}" for d in include_dirs), "-nostdlib", "-nostartfiles", "-Wl,--gc-sections",
        f"-Wl,-e,{ENTRY}", "-T", str(out / "link.ld"), *map(str, sources), "-lm", "-lc", "-lgcc", "-o", str(elf),
    ]  # fmt: skip
    built = subprocess.run(command, capture_output=True, text=True, check=False)
    if built.returncode != 0:
        raise LnnEdgeError(f"building the anchor for {core} failed: {built.stderr}")
    symbols = defined_symbols(elf)
    sizes = {found.name: found.size for found in sections(elf)}
    if sizes.get(".data", 0):  # the script keeps it in flash; a change there must not make RAM read as zeros
        raise LnnEdgeError(f"the {core} anchor has initialised data ({sizes['.data']} B) outside what is counted")
    return BenchImage(
        elf=elf,
        flash=section_contents(elf, ".text"),
        entry=symbols[ENTRY][0],
        core=core,
        symbols=symbols,
        data_bytes=sizes.get(".data", 0),
        bss_bytes=sizes.get(".bss", 0),
    )


def figure(anchor: str, image: BenchImage, counts: StepCounts) -> AnchorFigure:
    """The figures of one counted anchor image."""
    return AnchorFigure(
        anchor=anchor,
        label=LABELS[anchor],
        core=image.core,
        steps=counts.steps,
        instructions_per_step=counts.instructions_per_step,
        min_instructions=counts.min_instructions,
        max_instructions=counts.max_instructions,
        library_instructions_per_step=counts.library_instructions_per_step,
        flash_bytes=len(image.flash),
    )


def ltc_header(model: Model) -> str:
    """anchor_ltc_data.h: the LTC's sizes and float32 arrays as the port reads them ([source][destination])."""
    assert model.ltc is not None
    opts = model.ltc
    arrays = {name: np.asarray(value, dtype=np.float64) for name, value in model.arrays.items()}
    if opts.implicit_constraints:
        for name in ("gleak", "cm", "w", "sensory_w"):
            arrays[name] = softplus(arrays[name])
    inputs, neurons = arrays["sensory_w"].shape
    ones = {"input_w": np.ones(inputs), "output_w": np.ones(model.output_size)}
    zeros = {"input_b": np.zeros(inputs), "output_b": np.zeros(model.output_size)}
    mapped = {"input": opts.input_mapping, "output": opts.output_mapping}
    for side, mapping in mapped.items():
        if mapping not in ("affine", "linear"):
            arrays[f"{side}_w"] = ones[f"{side}_w"]
        if mapping != "affine":
            arrays[f"{side}_b"] = zeros[f"{side}_b"]
    names = {"sensory_mask": "sensory_sparsity_mask", "mask": "sparsity_mask"}
    order = ("input_w", "input_b", "output_w", "output_b", "gleak", "vleak", "cm", "sensory_mask", "sensory_w",
             "sensory_sigma", "sensory_mu", "sensory_erev", "mask", "w", "sigma", "mu", "erev")  # fmt: skip
    lines = [
        "/* Written by benchmarks/anchors.py: one LTC's parameters for the float32 port anchor. */",
        f"#define ANCHOR_S {inputs}",
        f"#define ANCHOR_N {neurons}",
        f"#define ANCHOR_M {model.output_size}",
        f"#define ANCHOR_UNFOLDS {opts.ode_unfolds}",
        f"#define ANCHOR_EPSILON {c_float(opts.epsilon)}",
    ]
    for name in order:
        values = arrays[names.get(name, name)]
        shape = "".join(f"[{n}]" for n in values.shape)
        lines.append(f"static const float {name}{shape} = {{{c_array(values, 'float')}}};")
    return "\n".join(lines) + "\n"


def count_ltc_port(model: Model, core: str, steps: int, work: Path) -> AnchorFigure:
    """Build the float32 port for ``core``, count ``steps`` steps of the model's calibration sample, and check
    its outputs against the float64 reference (a port that computes something else would measure nothing)."""
    assert model.calibration is not None and model.calibration.dt is not None  # matrix_models gives both
    (work / "anchor_ltc_data.h").write_text(ltc_header(model))
    image = link_image([HERE / "ltc_f32.c"], core, [work], work / f"ltc-{core}")
    x = model.calibration.x[0, :steps].astype(np.float32)
    dt = model.calibration.dt[0, :steps].astype(np.float32)
    counts = count_steps(image, np.dtype(np.float32), model.state_size, x, dt, model.output_size)
    y_ref, _ = Reference(model).run(x[None].astype(np.float64), dt[None].astype(np.float64))
    error = float(np.max(np.abs(counts.outputs - y_ref[0])))
    if error > 1e-3 * max(1.0, float(np.max(np.abs(y_ref)))):
        raise LnnEdgeError(f"the float32 port's outputs differ from the float64 reference by {error:.2e}")
    return figure("ltc_f32", image, counts)


def lstm_header(seed: int = 0) -> str:
    """anchor_lstm_data.h: an int8 LSTM's weights, effective biases and TFLite-style requantization constants.

    The values are drawn (the counts hardly depend on them: the loops have fixed trip counts); the scales put
    the gate pre-activations within a few units in Q3.12, as a trained TFLite LSTM's are."""
    rng = np.random.default_rng(seed)
    lines = [
        "/* Written by benchmarks/anchors.py: a drawn int8 LSTM (20 inputs, 19 hidden) for the CMSIS-NN anchor. */",
        "#include <stdint.h>",
        f"#define ANCHOR_INPUTS {INPUTS}",
        f"#define ANCHOR_HIDDEN {HIDDEN}",
        "#define INPUT_OFFSET 0",
        "#define GATE_MULTIPLIER 1073741824",  # 0.5: accumulators of +-70,000 land within +-2 in Q3.12
        "#define GATE_SHIFT -3",
        "#define FORGET_TO_CELL_MULTIPLIER 1073741824",  # Q0.15 gate x Q3.12 cell -> Q3.12
        "#define FORGET_TO_CELL_SHIFT -14",
        "#define INPUT_TO_CELL_MULTIPLIER 1073741824",  # Q0.15 x Q0.15 -> Q3.12
        "#define INPUT_TO_CELL_SHIFT -17",
        "#define CELL_CLIP 32767",
        "#define CELL_SCALE_POWER -12",
        "#define OUTPUT_MULTIPLIER 1073741824",  # Q0.15 x Q0.15 -> int8
        "#define OUTPUT_SHIFT -22",
        "#define OUTPUT_OFFSET 0",
    ]
    for gate in ("forget", "input", "cell", "output"):
        weights = {"input": rng.integers(-127, 128, size=(HIDDEN, INPUTS)),
                   "hidden": rng.integers(-127, 128, size=(HIDDEN, HIDDEN))}  # fmt: skip
        for kind, values in weights.items():
            lines.append(f"static const int8_t {gate}_{kind}_weights[] = {{{c_array(values)}}};")
            bias = rng.integers(-4000, 4000, size=HIDDEN)
            lines.append(f"static const int32_t {gate}_{kind}_bias[] = {{{c_array(bias)}}};")
        lines.append(f"static const int32_t {gate}_bias[] = {{{c_array(np.zeros(HIDDEN, dtype=int))}}};")
    return "\n".join(lines) + "\n"


def count_cmsis_lstm(cmsis: Path, core: str, steps: int, work: Path) -> AnchorFigure:
    """Build CMSIS-NN's s8 LSTM from the checkout ``cmsis`` for ``core`` and count ``steps`` steps.

    lnn-edge's counter runs a step as ``step(state, x, dt, y)`` over values of one NumPy type; int8 has no
    word-sized dt, so the int8 inputs, state and outputs travel as int16 words (pairs of int8), byte for byte."""
    missing = [name for name in CMSIS_SOURCES if not (cmsis / name).is_file()]
    if missing:
        raise LnnEdgeError(f"{cmsis} is not a CMSIS-NN checkout (no {missing[0]})")
    (work / "anchor_lstm_data.h").write_text(lstm_header())
    sources = [HERE / "cmsis_lstm_s8.c", *(cmsis / name for name in CMSIS_SOURCES)]
    image = link_image(sources, core, [work, cmsis / "Include"], work / f"lstm-{core}")
    rng = np.random.default_rng(1)
    x8 = rng.integers(-128, 128, size=(steps, INPUTS)).astype(np.int8)
    words = x8.view(np.int16)  # 20 int8 inputs = 10 int16 words
    state_words = (2 * HIDDEN + HIDDEN + 1) // 2  # int16 cell[19], int8 hidden[20]
    counts = count_steps(
        image, np.dtype(np.int16), state_words, words, np.zeros(steps, np.int16), (HIDDEN + 1) // 2, 2 * state_words
    )
    outputs = counts.outputs.view(np.int8)[:, :HIDDEN]
    if np.ptp(outputs) == 0:
        raise LnnEdgeError("the CMSIS-NN LSTM's outputs are constant: its scales saturate every gate")
    return figure("cmsis_lstm_s8", image, counts)


def lnn_edge_rows(labels: tuple[str, ...], precisions: tuple[str, ...], cores: tuple[str, ...], steps: int,
                  work: Path) -> list[dict[str, Any]]:  # fmt: skip
    """lnn-edge's rows for ``labels`` in matrix.py's format, benched with ``bench_export`` in this run; the whole
    firmware's flash is added for the emulated board of each family (M4F: qemu-mps2-an386, RV32IMAC:
    qemu-sifive-e), as issue 6's and issue 17's targets ask."""
    from lnn_edge.bench.run import bench_export
    from lnn_edge.codegen.export import export
    from lnn_edge.host.verify import default_sequences
    from lnn_edge.target.build import build_firmware

    boards = {"cortex-m4f": "qemu-mps2-an386", "rv32imac": "qemu-sifive-e"}
    rows: list[dict[str, Any]] = []
    for label, model in matrix_models(labels).items():
        sensory, internal = model.synapse_counts()
        for precision in precisions:
            exported = export(model, work / f"export-{len(rows)}", precision, name="bench")
            sequences = default_sequences(exported, steps)
            for core in cores:
                result = bench_export(exported, core, sequences)
                if not result.bit_exact:
                    raise LnnEdgeError(f"{label} {precision} {core}: the cross-compiled step is not bit-exact")
                row = {"model": label, "cell": model.cell, "neurons": model.state_size,
                       "synapses": sensory + internal, "parameters": model.parameter_count(), **result.as_dict()}  # fmt: skip
                if core in boards:
                    row["flash_total_bytes"] = build_firmware(exported.directory, boards[core]).size.flash_used
                rows.append(row)
    return rows


def ratio_lines(figures: list[AnchorFigure], rows: list[dict[str, Any]]) -> list[str]:
    """One line per lnn-edge row and anchor on the same core: the anchor's instructions over lnn-edge's (above 1:
    lnn-edge is faster)."""
    lines = []
    for row in rows:
        for found in figures:
            if found.core == row["core"]:
                ratio = found.instructions_per_step / row["instructions_per_step"]
                lines.append(f"{row['model']:26s} {row['precision']:8s} {row['core']:9s} "
                             f"{row['instructions_per_step']:>10,.0f}  {found.anchor} / this = {ratio:,.2f}")  # fmt: skip
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cmsis-nn", type=Path, default=None, help="a CMSIS-NN checkout (its Source/ and Include/)")
    parser.add_argument("--cores", nargs="+", default=list(RISCV_CORES), choices=RISCV_CORES)
    parser.add_argument("--steps", type=int, default=20, help="steps counted per row (the mean is reported)")
    parser.add_argument(
        "--port-steps", type=int, default=4, help="steps of the float32 port (7 million instructions each); 0: skip it"
    )
    parser.add_argument("--lnn-edge", action="store_true", help="bench lnn-edge's LTC and wired CfC rows too")
    parser.add_argument("--rows", type=Path, default=None, help="write lnn-edge's rows here (matrix.py's format)")
    parser.add_argument("--out", type=Path, default=Path("build/bench/anchors.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    figures: list[AnchorFigure] = []
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = matrix_models((LTC_MODEL,))[LTC_MODEL]
        for core in args.cores:
            if args.port_steps > 0:
                figures.append(count_ltc_port(model, core, args.port_steps, work))
            if args.cmsis_nn is not None:
                figures.append(count_cmsis_lstm(args.cmsis_nn.resolve(), core, args.steps, work))
        for found in figures:
            print(f"{found.label:80s} {found.core:9s} {found.instructions_per_step:>12,.0f} instructions/step")
        if args.lnn_edge:
            cores = tuple(dict.fromkeys([*args.cores, "cortex-m4f"]))  # M4F: the issue-6 targets' rows
            rows = lnn_edge_rows((LTC_MODEL, CFC_MODEL), ("float32", "fixed16", "fixed32"), cores, args.steps, work)
            print("\n".join(ratio_lines(figures, rows)))
    if args.cmsis_nn is not None:
        commit = subprocess.run(["git", "-C", str(args.cmsis_nn), "rev-parse", "HEAD"], capture_output=True,
                                text=True, check=False).stdout.strip()  # fmt: skip
        print(f"CMSIS-NN commit: {commit or 'unknown (not a git work tree)'}")
    digest = hashlib.sha256((HERE / "ltc_f32.c").read_bytes()).hexdigest()[:12]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"ltc_f32_sha256": digest, "anchors": [asdict(f) for f in figures]}, indent=1))
    if args.rows is not None:
        args.rows.parent.mkdir(parents=True, exist_ok=True)
        args.rows.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

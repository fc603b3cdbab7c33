"""Exact instruction counts of one model step on a Cortex-M or RV32 core, by running the step image in Unicorn.

Each executed basic block adds its instruction count (decoded once per block: Thumb-2 instructions are 2 or 4
bytes by their first halfword, RISC-V ones 2 (the C extension) or 4 by their two lowest bits). Counting per
block, not per instruction, matters: Unicorn's per-instruction hook skips condition-failed instructions inside
IT blocks, which the core still issues. The instruction mix comes from Capstone's decoding of the same blocks;
an estimated cycle count from the cores' published timings (an ESTIMATE: no pipeline, wait states or caches are
modelled). The stack is painted before the run and measured after it. The outputs and state of every step are
returned, so the cross-compiled code is also checked bit for bit.
"""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lnn_edge.bench.image import RAM_BASE, RAM_SIZE, BenchImage
from lnn_edge.errors import LnnEdgeError, MissingDependencyError
from lnn_edge.target.toolchain import ARCHES, CORES, FPU_CORES

STACK_PAINT = 0xA5
STATE_ADDR = RAM_BASE + 0x100
X_ADDR = RAM_BASE + 0x1000
Y_ADDR = RAM_BASE + 0x2000
STACK_BOTTOM = RAM_BASE + 0x10000
STACK_TOP = RAM_BASE + RAM_SIZE
RETURN_ADDR = 0x00F00000  # mapped, never executed: the step returns here and emulation stops

CONDITIONS = {"eq", "ne", "cs", "hs", "cc", "lo", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt", "gt", "le", "al"}

# Cycles per instruction class: ARM's Cortex-M technical reference manuals (typical, no wait states; branches
# taken/not taken averaged; divides mid-range). An estimate, for comparing designs, not a measurement.
CYCLES: dict[str, dict[str, float]] = {
    "cortex-m0": {"load": 2, "store": 2, "multiply": 1, "divide": 0, "branch": 2.5, "fp": 0, "other": 1},
    "cortex-m3": {"load": 2, "store": 2, "multiply": 1.5, "divide": 7, "branch": 2, "fp": 0, "other": 1},
    "cortex-m4f": {"load": 2, "store": 2, "multiply": 1, "divide": 7, "branch": 2, "fp": 1.5, "other": 1},
    "cortex-m7": {"load": 1, "store": 1, "multiply": 1, "divide": 6, "branch": 1.5, "fp": 1, "other": 0.7},
    "cortex-m33": {"load": 2, "store": 1.5, "multiply": 1, "divide": 7, "branch": 2, "fp": 1.5, "other": 1},
    # SiFive's E31 manual (FE310, GD32VF103's Bumblebee is similar): loads 2 cycles to use, multiply 1 (pipelined),
    # divide up to 33 (mid-range), taken branches and jumps 2-3 with prediction. ESP32-C3's core is close.
    "rv32imc": {"load": 2, "store": 1, "multiply": 1, "divide": 17, "branch": 2, "fp": 0, "other": 1},
    "rv32imac": {"load": 2, "store": 1, "multiply": 1, "divide": 17, "branch": 2, "fp": 0, "other": 1},
}


@dataclass(frozen=True)
class CallingConvention:
    """How the counter calls a C function on one family: the integer argument registers (AAPCS r0-r3, RISC-V
    a0-a3), the first float argument on hard-float cores, the stack and link registers, and whether code
    addresses carry the Thumb bit. Names are Unicorn's register constants without the family prefix."""

    args: tuple[str, ...]
    float_arg: str | None
    sp: str
    link: str
    thumb: bool


CONVENTIONS = {
    "arm": CallingConvention(("R0", "R1", "R2", "R3"), "S0", "SP", "LR", thumb=True),
    "riscv": CallingConvention(("A0", "A1", "A2", "A3"), None, "SP", "RA", thumb=False),
}
REGISTER_PREFIX = {"arm": "UC_ARM_REG_", "riscv": "UC_RISCV_REG_"}


@dataclass
class StepCounts:
    """Counts over a run of steps; ``mix`` is per step (mean) by instruction class."""

    core: str
    steps: int
    instructions_per_step: float
    min_instructions: int
    max_instructions: int
    mix: dict[str, float]
    estimated_cycles_per_step: float
    stack_peak_bytes: int
    library_instructions_per_step: float
    """Of ``instructions_per_step``, those executed inside libgcc helpers (``__aeabi_idiv``, soft-float...)."""
    per_step: list[int] = field(repr=False)
    outputs: np.ndarray = field(repr=False)
    states: np.ndarray = field(repr=False)
    blocks: Counter[tuple[int, int]] = field(repr=False)
    """Executions of each basic block (address, size) over the whole run: what :mod:`lnn_edge.bench.profile`
    turns into instruction counts per address."""


def _unicorn(arch: str) -> tuple[Any, Any, Any]:
    """Unicorn, the family's register and CPU-model constants, and Capstone."""
    try:
        import importlib

        import capstone
        import unicorn

        constants = importlib.import_module(f"unicorn.{ARCHES[arch].unicorn_consts}")
    except ImportError:
        raise MissingDependencyError(
            "instruction counts need unicorn and capstone: pip install 'lnn-edge[bench]'"
        ) from None
    return unicorn, constants, capstone


def _flags(module: Any, names: tuple[str, ...]) -> int:
    """The or of the named constants of ``module`` (Unicorn or Capstone modes)."""
    value = 0
    for name in names:
        value |= getattr(module, name)
    return value


def disassembler(core: str) -> Any:
    """A Capstone disassembler for ``core``'s instruction set: what the counter decodes executed blocks with."""
    arch = ARCHES[CORES[core].arch]
    capstone = _unicorn(CORES[core].arch)[2]
    return capstone.Cs(getattr(capstone, arch.capstone_arch), _flags(capstone, arch.capstone_modes))


def classify(mnemonic: str, arch: str = "arm") -> str:
    """The instruction class of a Thumb or RISC-V instruction, from its canonical name (Capstone's
    ``insn_name()``: on Arm no condition or flag-setting suffix, e.g. ``sdiv`` for ``sdivlt``, ``mov`` for
    ``movs``; on RISC-V compressed instructions carry ``c.``)."""
    if arch == "riscv":
        return _classify_riscv(mnemonic)
    m = mnemonic.lower().split(".")[0]
    if m.startswith(("vldr", "vldm", "vpop")) or m.startswith(("ldr", "ldm", "pop")):
        return "load"
    if m.startswith(("vstr", "vstm", "vpush")) or m.startswith(("str", "stm", "push")):
        return "store"
    if m in ("sdiv", "udiv") or m.startswith("vdiv"):
        return "divide"
    if m.startswith("v"):
        return "fp"
    if m in ("b", "bl", "blx", "bx", "cbz", "cbnz", "tbb", "tbh") or (m[0] == "b" and m[1:] in CONDITIONS):
        return "branch"
    multiply_prefixes = ("mul", "mla", "mls", "smul", "smla", "smls", "umul", "umla", "umaal", "smmul", "smmla")
    if m.startswith(multiply_prefixes) or m in ("smuad", "smusd", "smlad", "smlsd", "smlald", "smlsld"):
        return "multiply"
    return "other"


RISCV_BRANCHES = {"beq", "bne", "blt", "bge", "bltu", "bgeu", "beqz", "bnez", "blez", "bgez", "bltz", "bgtz",
                  "bgt", "ble", "bgtu", "bleu", "jal", "jalr", "j", "jr", "ret", "call", "tail"}  # fmt: skip


def _classify_riscv(mnemonic: str) -> str:
    m = mnemonic.lower().removeprefix("c.")
    if m in ("lb", "lh", "lw", "lbu", "lhu", "lwsp", "flw", "fld", "flwsp", "fldsp"):
        return "load" if not m.startswith("f") else "fp"
    if m in ("sb", "sh", "sw", "swsp", "fsw", "fsd", "fswsp", "fsdsp"):
        return "store" if not m.startswith("f") else "fp"
    if m in ("div", "divu", "rem", "remu"):
        return "divide"
    if m in ("mul", "mulh", "mulhsu", "mulhu"):
        return "multiply"
    if m in RISCV_BRANCHES:
        return "branch"
    if m.startswith("f"):
        return "fp"
    return "other"


def _riscv_lengths(code: bytes) -> list[int]:
    lengths, offset = [], 0
    while offset + 1 < len(code):
        size = 4 if code[offset] & 0b11 == 0b11 else 2
        lengths.append(size)
        offset += size
    return lengths


def _thumb_lengths(code: bytes) -> list[int]:
    lengths, offset = [], 0
    while offset + 1 < len(code):
        halfword = code[offset] | (code[offset + 1] << 8)
        size = 4 if (halfword >> 11) in (0b11101, 0b11110, 0b11111) else 2
        lengths.append(size)
        offset += size
    return lengths


class StepRunner:
    """Calls ``<name>_step_dt`` of a bench image in Unicorn, one step at a time, counting instructions."""

    def __init__(
        self, image: BenchImage, value_dtype: np.dtype, state_size: int, outputs: int, state_bytes: int = 0
    ) -> None:
        """``state_bytes`` is the size of the whole state struct (with a scratch, where the cell has one)."""
        core = CORES[image.core]
        unicorn, regs, _ = _unicorn(core.arch)
        self.image, self.dtype = image, np.dtype(value_dtype)
        self.state_size, self.outputs = state_size, outputs
        state_bytes = max(state_bytes, self.dtype.itemsize * state_size)
        if state_bytes > X_ADDR - STATE_ADDR:
            raise LnnEdgeError(
                f"the state struct ({state_bytes} B) does not fit the {X_ADDR - STATE_ADDR} B the Unicorn bench "
                "layout gives it: bench a smaller model, or raise X_ADDR in lnn_edge/bench/instr_count.py"
            )
        arch = ARCHES[core.arch]
        self.arch = core.arch
        self.convention = CONVENTIONS[core.arch]
        self.regs, self.prefix = regs, REGISTER_PREFIX[core.arch]
        self.lengths = _thumb_lengths if self.convention.thumb else _riscv_lengths
        self.uc = unicorn.Uc(getattr(unicorn, arch.unicorn_arch), _flags(unicorn, arch.unicorn_modes))
        self.uc.ctl_set_cpu_model(getattr(regs, core.unicorn_cpu))
        self.uc.mem_map(0, 16 << 20)
        self.uc.mem_write(0, image.flash)
        self.uc.mem_map(RAM_BASE, RAM_SIZE)
        if image.core in FPU_CORES:  # enable the FPU (CPACR CP10/CP11 full access, FPEXC.EN)
            self.uc.reg_write(regs.UC_ARM_REG_C1_C0_2, 0xF << 20)
            self.uc.reg_write(regs.UC_ARM_REG_FPEXC, 0x40000000)
        self.disassembler = disassembler(image.core)
        self.blocks: dict[tuple[int, int], tuple[int, Counter[str], bool]] = {}
        self.library = [(start, start + size) for name, (start, size) in image.symbols.items() if name.startswith("__")]
        self.count = 0
        self.library_count = 0
        self.mix: Counter[str] = Counter()
        self.block_counts: Counter[tuple[int, int]] = Counter()
        self.uc.hook_add(unicorn.UC_HOOK_BLOCK, self._on_block)
        self.uc.mem_write(STATE_ADDR, bytes(state_bytes))
        self.uc.mem_write(STACK_BOTTOM, bytes([STACK_PAINT]) * (STACK_TOP - STACK_BOTTOM))

    def _on_block(self, uc: Any, address: int, size: int, _: Any) -> None:
        key = (address, size)
        known = self.blocks.get(key)
        if known is None:
            code = bytes(uc.mem_read(address, size))
            decoded = self.disassembler.disasm(code, address)
            mix: Counter[str] = Counter(classify(i.insn_name(), self.arch) for i in decoded)
            in_library = any(start <= address < end for start, end in self.library)
            known = (len(self.lengths(code)), mix, in_library)
            self.blocks[key] = known
        self.count += known[0]
        self.block_counts[key] += 1
        self.mix.update(known[1])
        if known[2]:
            self.library_count += known[0]

    def _reg(self, name: str) -> int:
        return int(getattr(self.regs, self.prefix + name))

    def step(self, x: np.ndarray, dt: Any) -> tuple[int, np.ndarray, np.ndarray]:
        """Run one step ``(state, x, dt, y)``; return (instructions, outputs, state)."""
        convention = self.convention
        self.uc.mem_write(X_ADDR, np.ascontiguousarray(x, dtype=self.dtype).tobytes())
        dt_bits = np.asarray(dt, dtype=self.dtype).tobytes()
        dt_word = struct.unpack("<i" if self.dtype.itemsize == 4 else "<h", dt_bits)[0] & 0xFFFFFFFF
        args = [STATE_ADDR, X_ADDR]
        if self.dtype == np.float32 and self.image.core in FPU_CORES:
            assert convention.float_arg is not None
            self.uc.reg_write(self._reg(convention.float_arg), dt_word)  # hard-float ABI: dt in s0
        else:
            args.append(dt_word)
        args.append(Y_ADDR)
        for register, value in zip(convention.args, args, strict=False):  # 3 of them when dt is in s0
            self.uc.reg_write(self._reg(register), value)
        self.uc.reg_write(self._reg(convention.sp), STACK_TOP)
        thumb = 1 if convention.thumb else 0
        self.uc.reg_write(self._reg(convention.link), RETURN_ADDR | thumb)
        before = self.count
        try:
            self.uc.emu_start(self.image.entry | thumb, RETURN_ADDR, count=50_000_000)
        except Exception as error:  # an emulation fault is a bug in the generated code or the image
            raise LnnEdgeError(f"the {self.image.core} step faulted in Unicorn: {error}") from None
        status = self.uc.reg_read(self._reg(convention.args[0]))
        if status != 0:
            raise LnnEdgeError(f"the {self.image.core} step returned status {status}")
        y = np.frombuffer(bytes(self.uc.mem_read(Y_ADDR, self.dtype.itemsize * self.outputs)), dtype=self.dtype)
        state = np.frombuffer(
            bytes(self.uc.mem_read(STATE_ADDR, self.dtype.itemsize * self.state_size)), dtype=self.dtype
        )
        return self.count - before, y.copy(), state.copy()

    def stack_peak(self) -> int:
        """Bytes of stack ever written (the paint below the deepest write is intact)."""
        painted = bytes(self.uc.mem_read(STACK_BOTTOM, STACK_TOP - STACK_BOTTOM))
        untouched = len(painted) - len(painted.lstrip(bytes([STACK_PAINT])))
        return len(painted) - untouched


def count_steps(
    image: BenchImage,
    value_dtype: np.dtype,
    state_size: int,
    x_raw: np.ndarray,
    dt_raw: np.ndarray,
    outputs: int,
    state_bytes: int = 0,
) -> StepCounts:
    """Run one sequence (``x_raw`` [T,S], ``dt_raw`` [T], in the C's types) from a zero state."""
    runner = StepRunner(image, value_dtype, state_size, outputs, state_bytes)
    counts, ys, states = [], [], []
    for t in range(x_raw.shape[0]):
        count, y, state = runner.step(x_raw[t], dt_raw[t])
        counts.append(count)
        ys.append(y)
        states.append(state)
    steps = len(counts)
    mix = {
        name: runner.mix.get(name, 0) / steps
        for name in ("load", "store", "multiply", "divide", "branch", "fp", "other")
    }
    costs = CYCLES[image.core]
    return StepCounts(
        core=image.core,
        steps=steps,
        instructions_per_step=float(np.mean(counts)),
        min_instructions=int(min(counts)),
        max_instructions=int(max(counts)),
        mix=mix,
        estimated_cycles_per_step=sum(costs[name] * value for name, value in mix.items()),
        stack_peak_bytes=runner.stack_peak(),
        library_instructions_per_step=runner.library_count / steps,
        per_step=counts,
        outputs=np.stack(ys),
        states=np.stack(states),
        blocks=runner.block_counts,
    )

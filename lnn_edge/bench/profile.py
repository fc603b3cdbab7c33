"""Where the instructions of a step go: how often each instruction of a bench image runs per step.

For kernel work: which loop to shape, and what one pass of it costs. The counts come from the same executed
basic blocks that :mod:`lnn_edge.bench.instr_count` counts, so a profile's total equals the benchmark's
instructions per step exactly, and the run is checked against the emulator bit for bit as a benchmark is.
``python benchmarks/profile_step.py`` prints the profile of a model of the benchmark matrix.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from lnn_edge.bench.image import BenchImage
from lnn_edge.bench.instr_count import disassembler
from lnn_edge.bench.run import count_export
from lnn_edge.codegen.export import Export
from lnn_edge.model.datafile import Sequences


@dataclass(frozen=True)
class Line:
    """One instruction of the image and how often it ran."""

    address: int
    size: int
    """In bytes."""
    text: str
    """Mnemonic and operands, as Capstone prints them."""
    per_step: float
    symbol: str
    """The function (or libgcc helper) it belongs to."""


@dataclass(frozen=True)
class Stretch:
    """Consecutive instructions that ran equally often: a loop body, or the part of one between a branch in and a
    branch out."""

    start: int
    end: int
    """The address after its last instruction."""
    instructions: int
    times_per_step: float
    symbol: str

    @property
    def per_step(self) -> float:
        """Instructions per step spent here."""
        return self.instructions * self.times_per_step


@dataclass
class StepProfile:
    """The executed instructions of one export's step on one core, per step (mean over the counted steps)."""

    core: str
    steps: int
    instructions_per_step: float
    bit_exact: bool
    lines: list[Line]
    """Every instruction that ran, in address order."""

    def stretches(self) -> list[Stretch]:
        """The lines grouped into stretches, most instructions per step first."""
        found: list[Stretch] = []
        for line in self.lines:
            last = found[-1] if found else None
            end = line.address + line.size
            follows = last is not None and (last.end, last.symbol) == (line.address, line.symbol)
            if last is not None and follows and last.times_per_step == line.per_step:
                found[-1] = Stretch(last.start, end, last.instructions + 1, last.times_per_step, last.symbol)
            else:
                found.append(Stretch(line.address, end, 1, line.per_step, line.symbol))
        return sorted(found, key=lambda stretch: -stretch.per_step)

    def format(self, top: int = 12, listing: bool = False) -> str:
        """The hottest ``top`` stretches, then (``listing``) every instruction that ran."""
        out = [
            f"{self.instructions_per_step:,.1f} instructions per step on {self.core} (mean of {self.steps} steps; "
            f"bit-exact against the emulator: {'yes' if self.bit_exact else 'NO'})",
            "",
            "hottest stretches (consecutive instructions that ran equally often):",
            f"{'instr/step':>11} {'share':>6} {'length':>6} {'times/step':>10}  {'addresses':>17}  function",
        ]
        for stretch in self.stretches()[:top]:
            share = stretch.per_step / self.instructions_per_step
            out.append(
                f"{stretch.per_step:>11,.1f} {share:>6.1%} {stretch.instructions:>6d} "
                f"{stretch.times_per_step:>10,.2f}  {stretch.start:>#8x}-{stretch.end:<#8x}  {stretch.symbol}"
            )
        if listing:
            out += ["", f"{'times/step':>10}  {'address':>8}  instruction"]
            symbol = None
            for line in self.lines:
                if line.symbol != symbol:
                    symbol = line.symbol
                    out.append(f"<{symbol}>")
                out.append(f"{line.per_step:>10,.2f}  {line.address:>#8x}  {line.text}")
        return "\n".join(out)


def profile_export(export: Export, core: str, sequences: Sequences) -> StepProfile:
    """Run the step of ``export`` on ``core`` over the first of ``sequences`` (as ``lnn-edge bench`` does) and
    attribute every executed instruction."""
    image, counts, bit_exact = count_export(export, core, sequences)
    per_address = _executions(image, counts.blocks)
    lines = [
        Line(address, size, text, times / counts.steps, _symbol_at(image, address))
        for address, (size, text, times) in sorted(per_address.items())
    ]
    return StepProfile(core, counts.steps, counts.instructions_per_step, bit_exact, lines)


def _executions(image: BenchImage, blocks: Counter[tuple[int, int]]) -> dict[int, tuple[int, str, int]]:
    """address -> (instruction size, text, executions) over the run, from the executed blocks (a block may start in
    the middle of another: each instruction counts the executions of every block that holds it)."""
    decoder = disassembler(image.core)
    found: dict[int, tuple[int, str, int]] = {}
    for (start, size), times in blocks.items():
        for instruction in decoder.disasm(image.flash[start : start + size], start):
            text = f"{instruction.mnemonic} {instruction.op_str}".strip()
            before = found.get(instruction.address, (0, "", 0))[2]
            found[instruction.address] = (instruction.size, text, before + times)
    return found


def _symbol_at(image: BenchImage, address: int) -> str:
    """The name of the function (code symbol) that holds ``address``, or '?'."""
    for name, (start, size) in image.symbols.items():
        if start <= address < start + size:
            return name
    return "?"

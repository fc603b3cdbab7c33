"""``lnn-edge bench``: instructions per step, instruction mix, flash, RAM and stack of an export on a core.

The step image (:mod:`lnn_edge.bench.image`) is run in Unicorn (:mod:`lnn_edge.bench.instr_count`) over test sequences;
its outputs and state are compared with the emulator bit for bit, so a benchmark never reports the speed of
wrong code.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from lnn_edge.bench.image import BenchImage, build_bench_image
from lnn_edge.bench.instr_count import StepCounts, count_steps
from lnn_edge.codegen.export import BENCH_DIR, Export
from lnn_edge.host.verify import default_sequences, emulator_raw, first_mismatch, raw_inputs
from lnn_edge.model.datafile import Sequences
from lnn_edge.quant.emulator import Emulator

VALUE_DTYPES = {"int16_t": np.int16, "int32_t": np.int32, "float": np.float32}


@dataclass
class BenchResult:
    """Figures of one export on one core (``--json`` prints these fields)."""

    core: str
    precision: str
    steps: int
    instructions_per_step: float
    library_instructions_per_step: float
    """Of those, the instructions executed in libgcc helpers (division on M0, soft-float without an FPU)."""
    min_instructions: int
    max_instructions: int
    instruction_mix: dict[str, float]
    estimated_cycles_per_step: float
    flash_model_bytes: int
    flash_library_bytes: int
    flash_total_bytes: int | None
    ram_static_bytes: int
    stack_peak_bytes: int
    bit_exact: bool
    counted_by: str = "unicorn (per basic block)"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def count_export(
    export: Export, core: str, sequences: Sequences, extra_flags: tuple[str, ...] = ()
) -> tuple[BenchImage, StepCounts, bool]:
    """Count the step of ``export`` on ``core`` over the first of ``sequences``: the image, its counts, and
    whether every step's outputs and state equal the emulator's bit for bit."""
    qmodel = export.qmodel
    model = qmodel.model
    dtype = np.dtype(VALUE_DTYPES[export.manifest["value_type"]])
    image = build_bench_image(export.directory, export.name, core, export.directory / BENCH_DIR, extra_flags)
    first = Sequences(x=sequences.x[:1], dt=sequences.dt[:1])
    emulator = Emulator(qmodel)
    x_raw, dt_raw = raw_inputs(emulator, first)
    state_bytes = int(export.manifest["memory"]["state"])  # the caller-owned struct, with any scratch
    counts = count_steps(image, dtype, model.state_size, x_raw[0], dt_raw[0], model.output_size, state_bytes)
    y_e, state_e = emulator_raw(emulator.run(first.x, first.dt, check=False), qmodel.is_fixed)
    mismatch = first_mismatch(y_e, counts.outputs[None], "output") or first_mismatch(
        state_e, counts.states[None], "state"
    )
    return image, counts, mismatch is None


def bench_export(export: Export, core: str, sequences: Sequences, extra_flags: tuple[str, ...] = ()) -> BenchResult:
    """Count the step of ``export`` on ``core`` over the first of ``sequences`` and check it bit for bit.
    ``extra_flags`` go last on the compiler's command line (a user's optimisation level, say)."""
    image, counts, bit_exact = count_export(export, core, sequences, extra_flags)
    state_bytes = int(export.manifest["memory"]["state"])
    return BenchResult(
        core=core,
        precision=export.qmodel.precision,
        steps=counts.steps,
        instructions_per_step=counts.instructions_per_step,
        library_instructions_per_step=counts.library_instructions_per_step,
        min_instructions=counts.min_instructions,
        max_instructions=counts.max_instructions,
        instruction_mix=counts.mix,
        estimated_cycles_per_step=counts.estimated_cycles_per_step,
        flash_model_bytes=image.model_bytes(export.name),
        flash_library_bytes=image.library_bytes(),
        flash_total_bytes=None,
        ram_static_bytes=state_bytes + image.data_bytes + image.bss_bytes,
        stack_peak_bytes=counts.stack_peak_bytes,
        bit_exact=bit_exact,
    )


@dataclass
class DeviceBench:
    """Cycles per step measured by the device itself (BENCH over the serial line)."""

    url: str
    board: str
    core: str
    cycles_kind: str
    clock_hz: int
    steps: int
    cycles_per_step: float
    cycles_min: int
    cycles_max: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def bench_on_device(export: Export, url: str, steps: int, emulated: bool = False) -> DeviceBench:
    """Ask the device at ``url`` to run ``steps`` steps of the export's model on a test input and count cycles
    (DWT CYCCNT on M3/M4/M7/M33 hardware, SysTick otherwise, mcycle on RISC-V; under QEMU ``-icount`` SysTick
    ticks and mcycle are proportional to instructions, reported as ``systick-icount``, ``mcycle-icount``). The
    model hash is checked first."""
    from lnn_edge.target.serial_host import SerialClient
    from lnn_edge.target.verify import emulated_cycles_kind

    sequences = default_sequences(export, 1)
    x_raw, dt_raw = raw_inputs(Emulator(export.qmodel), Sequences(x=sequences.x[:1, :1], dt=sequences.dt[:1, :1]))
    with SerialClient(url) as client:
        device = client.check_export(export)
        result = client.bench(steps, x_raw[0, 0], dt_raw[0, 0], timeout=max(10.0, steps * 0.05))
    kind = emulated_cycles_kind(device.cycles_kind, emulated)
    return DeviceBench(
        url=url,
        board=device.board,
        core=device.core,
        cycles_kind=kind,
        clock_hz=device.clock_hz,
        steps=result.count,
        cycles_per_step=result.mean,
        cycles_min=result.min,
        cycles_max=result.max,
    )

"""RISC-V: the real chain on QEMU's sifive_e (FE310, RV32IMAC, SiFive UART), as the Arm boards run it.

export -> riscv64-unknown-elf-gcc (rv32imac/ilp32, the portable C and soft float) -> qemu-system-riscv32 ->
pyserial -> verify: the board, the host C and the emulator agree bit for bit on outputs and state at every
step, for the LTC, the wired CfC and the dense CfC in fixed16, fixed32 and float32. The same fault tests as on
Arm (a damaged line, a reset mid-run) run here too, and mcycle under -icount is checked against Unicorn's
independent count of the same step.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from ncps.torch import CfC
from support.faultproxy import FaultProxy, FaultRates
from test_firmware_helpers import shared_export, short_sequences

from lnn_edge.bench.run import bench_export
from lnn_edge.cli import cli
from lnn_edge.codegen.export import Export, export
from lnn_edge.host.verify import default_sequences
from lnn_edge.model.importers import from_module
from lnn_edge.model.model import Calibration
from lnn_edge.resources import data_dir
from lnn_edge.target.boards import load_board
from lnn_edge.target.build import build_firmware
from lnn_edge.target.toolchain import CORES, require_tool
from lnn_edge.target.verify import emulated_port, verify_on_board, verify_on_port

pytestmark = pytest.mark.qemu

BOARD = "qemu-sifive-e"
PRECISIONS = ("fixed16", "fixed32", "float32")
_DENSE: dict[str, Export] = {}


def dense_cfc(factory: pytest.TempPathFactory, precision: str) -> Export:
    """A dense CfC (20 inputs, 19 units, a 64-unit backbone) in ``precision`` (memoised per process)."""
    if precision not in _DENSE:
        torch.manual_seed(1)
        model = from_module(CfC(20, 19, backbone_units=64))
        rng = np.random.default_rng(1)
        model.calibration = Calibration(x=rng.normal(size=(4, 30, 20)), dt=rng.uniform(0.5, 1.5, size=(4, 30)))
        _DENSE[precision] = export(model, factory.mktemp("dense-cfc") / precision, precision, name="dense")
    return _DENSE[precision]


def cell_export(factory: pytest.TempPathFactory, cell: str, precision: str) -> Export:
    if cell == "dense_cfc":
        return dense_cfc(factory, precision)
    return shared_export(factory, precision, cell=cell)


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("cell", ["ltc", "cfc", "dense_cfc"])
def test_bit_exact_on_sifive_e(tmp_path_factory: pytest.TempPathFactory, cell: str, precision: str) -> None:
    exported = cell_export(tmp_path_factory, cell, precision)
    assert exported.manifest["cell"] == {"ltc": "ltc", "cfc": "wired_cfc", "dense_cfc": "cfc"}[cell]
    result = verify_on_board(exported, short_sequences(exported, steps=20), BOARD)
    assert result.bit_exact, str(result.mismatch)
    assert result.passed and result.host.bit_exact
    assert result.board == BOARD and result.core == "rv32imac"
    assert result.device.model_hash == exported.manifest["model_hash"]
    assert result.cycles_kind == "mcycle-icount"
    assert result.cycles.min() > 1000  # the step really ran and was timed
    # Host-to-board bytes are never lost (QEMU's UART model applies back-pressure). The other way, QEMU 7.2's
    # SiFive UART sends each byte without waiting (qemu_chr_fe_write): a byte of the power-up BOOT frame was
    # seen lost once under load, which the CRC catches; so a damaged frame is tolerated here, not a retry.
    assert result.link.device_errors == 0 and result.link.retries == 0 and result.link.corrupted <= 1


def test_verify_cli_json(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The command of the issue: with -icount shift=0 mcycle reads QEMU's virtual nanoseconds, one per
    instruction, so the counts are instructions."""
    exported = shared_export(tmp_path_factory, "fixed16")
    result = CliRunner().invoke(cli, ["verify", str(exported.directory), "--board", BOARD, "--steps", "10", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["passed"] and data["bit_exact"] and data["host_bit_exact"]
    assert data["board"] == BOARD and data["core"] == "rv32imac" and data["cycles_kind"] == "mcycle-icount"
    assert data["instructions_per_step"] == data["cycles_per_step"] > 1000


@pytest.mark.parametrize("cell", ["ltc", "cfc"])
def test_mcycle_counts_equal_unicorn_counts(tmp_path_factory: pytest.TempPathFactory, cell: str) -> None:
    """Two independent counters of the same compiled step: QEMU's mcycle under -icount, read by the firmware
    around each step, and Unicorn's per-block count of the bench image. They differ by the firmware's call into
    the step and its two CSR reads, the same few instructions at every step."""
    exported = shared_export(tmp_path_factory, "fixed16", cell=cell)
    sequences = short_sequences(exported, batch=1, steps=8)
    board = verify_on_board(exported, sequences, BOARD)
    counted = bench_export(exported, "rv32imac", sequences)
    assert board.bit_exact and counted.bit_exact
    overhead = board.cycles[0] - np.array(counted_per_step(exported, sequences))
    assert np.all(overhead == overhead[0]) and 0 < overhead[0] < 40, overhead


def counted_per_step(exported: Export, sequences: object, core: str = "rv32imac") -> list[int]:
    from lnn_edge.bench.image import build_bench_image
    from lnn_edge.bench.instr_count import count_steps
    from lnn_edge.bench.run import VALUE_DTYPES
    from lnn_edge.host.verify import raw_inputs
    from lnn_edge.quant.emulator import Emulator

    x_raw, dt_raw = raw_inputs(Emulator(exported.qmodel), sequences)  # type: ignore[arg-type]
    image = build_bench_image(exported.directory, exported.name, core, exported.directory / "bench")
    model = exported.qmodel.model
    counts = count_steps(image, np.dtype(VALUE_DTYPES[exported.manifest["value_type"]]), model.state_size,
                         x_raw[0], dt_raw[0], model.output_size, exported.manifest["memory"]["state"])  # fmt: skip
    return counts.per_step


@pytest.mark.parametrize(
    ("cell", "precision", "core"),
    [("ltc", "fixed16", "rv32imc"), ("ltc", "fixed16", "rv32imac"), ("cfc", "fixed16", "rv32imc"),
     ("ltc", "float32", "rv32imac"), ("cfc", "fixed32", "rv32imac")],
)  # fmt: skip
def test_unicorn_counts_match_qemu_plugin_counts(
    tmp_path_factory: pytest.TempPathFactory, cell: str, precision: str, core: str
) -> None:
    """The cross-check of issue 17, as on Arm (tests/test_bench.py): QEMU's TCG plugin (the same
    firmware/tools/lnn_icount_plugin.c, which qemu-system-riscv32 loads) counts each call of the step in an
    image on sifive_e, and lnn-edge's Unicorn counter, run on that same image, counts the same per basic block,
    soft float's libgcc calls included.

    On Arm the bench image runs the same instructions as the plugin's and the counts are equal. On RV32 it need
    not: the bench
    image sits at address 0, where GNU ld's relaxation turns the `lui` + `addi` of a parameter array placed below
    0x800 into one `addi` from x0, which no image at a real part's addresses (sifive_e's flash at 0x20400000,
    the ESP32-C3's IRAM at 0x40380000) gets. So the plugin's count is the bench's plus those few `lui`s, the same
    number at every step (measured: 2 for this LTC in fixed16, none for the other cases here): a difference that
    varies from step to step would be a counting error."""
    from support.qemu_icount import qemu_step_counts, unicorn_counts_of_image

    from lnn_edge.bench.run import VALUE_DTYPES
    from lnn_edge.host.verify import emulator_raw, raw_inputs
    from lnn_edge.quant.emulator import Emulator

    exported = shared_export(tmp_path_factory, precision, cell=cell)
    sequences = short_sequences(exported, batch=1, steps=4)
    emulator = Emulator(exported.qmodel)
    x_raw, dt_raw = raw_inputs(emulator, sequences)
    elf = tmp_path_factory.mktemp("plugin") / "qemu.elf"
    qemu = np.array(qemu_step_counts(exported.directory, exported.name, core, x_raw[0], dt_raw[0],
                                     exported.manifest["value_type"], keep_elf=elf))  # fmt: skip
    # The same image, counted by lnn-edge's counter where it was linked: equal, step by step.
    model = exported.qmodel.model
    same_image, outputs = unicorn_counts_of_image(
        elf, exported.name, core, np.dtype(VALUE_DTYPES[exported.manifest["value_type"]]), model.state_size,
        model.output_size, exported.manifest["memory"]["state"], x_raw[0], dt_raw[0],
    )  # fmt: skip
    assert same_image == qemu.tolist()
    y_emulator, _ = emulator_raw(emulator.run(sequences.x, sequences.dt, check=False), exported.qmodel.is_fixed)
    assert np.array_equal(outputs, y_emulator[0])  # it ran the step right, so its count is of the real step
    # The bench image at address 0: the same, or the few relaxed `lui` fewer at every step.
    unicorn = np.array(counted_per_step(exported, sequences, core))
    difference = qemu - unicorn
    assert np.all(difference == difference[0]) and 0 <= difference[0] <= 8, (qemu.tolist(), unicorn.tolist())
    assert unicorn.min() > 1000


def test_moderate_faults_still_give_the_bit_exact_verdict(tmp_path_factory: pytest.TempPathFactory) -> None:
    exported = shared_export(tmp_path_factory, "fixed16")
    rates = FaultRates(drop=0.001, flip=0.001, duplicate=0.001, garbage=0.001, delay=0.01, max_delay=0.02)
    with emulated_port(exported.directory, BOARD) as qemu, FaultProxy(qemu.port, rates, rates, seed=1) as proxy:
        result = verify_on_port(exported, short_sequences(exported), proxy.url, timeout=0.3, retries=12)
        to_device, to_host = proxy.counts("to_device"), proxy.counts("to_host")
    assert result.passed and result.bit_exact, str(result.mismatch)
    assert to_device.total > 5 and to_host.total > 5
    assert result.link.retries > 0 and result.link.corrupted + result.link.device_errors > 0


def test_board_reset_mid_run(tmp_path_factory: pytest.TempPathFactory) -> None:
    """QMP system_reset: sifive_e's mask ROM jumps to the image again, the firmware sends BOOT, and the host
    restores the state and ends bit-exact."""
    exported = shared_export(tmp_path_factory, "fixed16", cell="cfc")
    with emulated_port(exported.directory, BOARD, qmp=True) as qemu:

        def disturb(done: int) -> None:
            if done in (20, 45):
                qemu.system_reset()
                time.sleep(0.2)

        result = verify_on_port(exported, short_sequences(exported), qemu.url, timeout=0.5, on_step=disturb)
    assert result.link.reboots == 2
    assert result.passed and result.bit_exact, str(result.mismatch)


def test_bench_cli_json_on_board(tmp_path_factory: pytest.TempPathFactory) -> None:
    """`lnn-edge bench --board qemu-sifive-e --json`: the Arm fields, the RV32IMAC count, and the firmware's own
    mcycle count of BENCH a few instructions above it."""
    exported = shared_export(tmp_path_factory, "fixed16")
    result = CliRunner().invoke(cli, ["bench", str(exported.directory), "--board", BOARD, "--steps", "5",
                                      "--on-board", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    for key in ("instructions_per_step", "flash_model_bytes", "flash_total_bytes", "ram_static_bytes",
                "stack_peak_bytes", "estimated_cycles_per_step"):  # fmt: skip
        assert info[key] > 0, key
    assert info["core"] == "rv32imac" and info["bit_exact"] is True
    assert info["instruction_mix"]["multiply"] > 0 and info["instruction_mix"]["fp"] == 0
    assert info["library_instructions_per_step"] == 0  # fixed16 needs no libgcc helper on RV32IM
    assert info["flash_total_bytes"] <= load_board(BOARD).ram.size  # the whole image: a few KiB
    device = info["device"]
    assert device["cycles_kind"] == "mcycle-icount" and device["board"] == BOARD
    assert info["min_instructions"] <= device["cycles_per_step"] <= info["max_instructions"] + 40


@pytest.mark.parametrize("core", ["rv32imc", "rv32imac"])
def test_soft_float_runs_in_libgcc(tmp_path_factory: pytest.TempPathFactory, core: str) -> None:
    exported = shared_export(tmp_path_factory, "float32")
    result = bench_export(exported, core, default_sequences(exported, 2))
    assert result.bit_exact
    assert result.instruction_mix["fp"] == 0 and result.flash_library_bytes > 0
    assert result.library_instructions_per_step > result.instructions_per_step / 2


def test_image_fits_the_fe310_ram(tmp_path_factory: pytest.TempPathFactory) -> None:
    """16 KiB of DTIM holds the stack, the protocol's frame buffers and the model's state."""
    exported = shared_export(tmp_path_factory, "fixed32")
    built = build_firmware(exported.directory, BOARD)
    assert built.size.ram_used <= 16 * 1024 and built.size.ram_size == 16 * 1024
    assert built.size.flash_used < 16 * 1024


@pytest.mark.parametrize(("body", "status"), [('__asm__ volatile("unimp");', 0x82), ("", 0x84)])
def test_a_trap_or_a_return_from_main_stops_qemu_with_its_status(tmp_path: Path, body: str, status: int) -> None:
    """The reset code, trap vector and semihosting exit alone: an illegal instruction ends QEMU with the
    exception status (0x82, as a HardFault on Cortex-M), a main that returns with 0x84."""
    hal = data_dir() / "firmware" / "hal"
    (tmp_path / "lnn_fw_config.h").write_text("#define LNN_FW_SEMIHOSTING 1\n")
    (tmp_path / "main.c").write_text(f"int main(void);\nint main(void)\n{{\n    {body}\n    return 0;\n}}\n")
    script = (data_dir() / "firmware" / "linker" / "lnn_fw_riscv.ld.in").read_text()
    for key, value in (("flash_origin", "0x20400000"), ("flash_size", "0x10000"), ("ram_origin", "0x80000000"),
                       ("ram_size", "0x4000"), ("stack_size", "0x400")):  # fmt: skip
        script = script.replace(f"${key}", value)
    (tmp_path / "fw.ld").write_text(script.replace("$$", "$"))
    gcc = require_tool(CORES["rv32imac"].tool("gcc"))
    elf = tmp_path / "fw.elf"
    subprocess.run([gcc, *CORES["rv32imac"].flags, "-O2", "-nostdlib", "-nostartfiles", "-ffreestanding",
                    f"-I{tmp_path}", f"-I{hal}", "-T", str(tmp_path / "fw.ld"), str(hal / "lnn_fw_riscv_reset.S"),
                    str(hal / "lnn_fw_riscv_startup.c"), str(tmp_path / "main.c"), "-o", str(elf)],
                   check=True)  # fmt: skip
    qemu = require_tool("qemu-system-riscv32")
    ran = subprocess.run([qemu, "-M", "sifive_e", "-nographic", "-monitor", "none", "-serial", "null",
                          "-kernel", str(elf), "-semihosting-config", "enable=on,target=native"],
                         stdin=subprocess.DEVNULL, capture_output=True, timeout=30, check=False)  # fmt: skip
    assert ran.returncode == status, ran.stderr


@pytest.mark.slow
@pytest.mark.parametrize("cell", ["ltc", "cfc"])
def test_fixed16_counts_on_both_rv32_cores(tmp_path_factory: pytest.TempPathFactory, cell: str) -> None:
    """The AutoNCP(19,2) step in fixed16 on RV32IMC and RV32IMAC: the same code (fixed16 uses no atomics), bit-exact,
    no libgcc helper. The bounds hold today's counts with a small margin (LTC 14,060 with the RV32 synapse loop,
    14,430 before its `mulhsu`; wired CfC 8,053; issue 17's targets are 11,000 and 6,000, which they do not reach:
    see docs/boards.md), so a regression fails."""
    exported = shared_export(tmp_path_factory, "fixed16", cell=cell)
    sequences = default_sequences(exported, 4)
    imc, imac = (bench_export(exported, core, sequences) for core in ("rv32imc", "rv32imac"))
    assert imc.bit_exact and imac.bit_exact
    assert imc.instructions_per_step == imac.instructions_per_step
    assert imc.library_instructions_per_step == 0 and imc.instruction_mix["divide"] < 200
    assert imc.instructions_per_step < {"ltc": 14_300, "cfc": 8_300}[cell]
    assert 0 < imc.stack_peak_bytes <= 256


def test_classify_riscv_names() -> None:
    from lnn_edge.bench.instr_count import classify

    names = ("lw", "c.lwsp", "lhu", "sw", "c.swsp", "mul", "mulh", "div", "remu", "beq", "c.bnez", "jal", "c.jr",
             "add", "c.li", "lui", "csrr")  # fmt: skip
    assert [classify(name, "riscv") for name in names] == [
        "load", "load", "load", "store", "store", "multiply", "multiply", "divide", "divide", "branch", "branch",
        "branch", "branch", "other", "other", "other", "other",
    ]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("cell", ["ltc", "cfc"])
def test_fixed32_is_bit_exact_on_rv32imc(tmp_path_factory: pytest.TempPathFactory, cell: str) -> None:
    """RV32IMC links rv32im's libgcc (GCC's multilib reuse): fixed32's 64-bit divisions (the LTC's) come from there
    and must give the host's bits, as they do from rv32imac's on the QEMU board."""
    exported = shared_export(tmp_path_factory, "fixed32", cell=cell)
    result = bench_export(exported, "rv32imc", default_sequences(exported, 3))
    assert result.bit_exact and result.instruction_mix["multiply"] > 0
    assert (result.library_instructions_per_step > 0) == (cell == "ltc")

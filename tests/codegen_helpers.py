"""Shared helpers of the code-generator tests: export a model and run C, emulator and reference."""

from __future__ import annotations

import ctypes
import subprocess
from pathlib import Path

import numpy as np
from support.compile_checks import sanitizer_run

from lnn_edge.codegen.export import Export, export
from lnn_edge.codegen.render import runtime_files
from lnn_edge.host.verify import compile_export, emulator_raw, first_mismatch, raw_inputs
from lnn_edge.model.datafile import Sequences
from lnn_edge.model.model import Model
from lnn_edge.quant.emulator import Emulator
from lnn_edge.quant.qmodel import QuantizedModel


def export_model(
    model: Model | QuantizedModel, directory: Path, precision: str, name: str = "m", dt: float | str | None = None
) -> Export:
    return export(model, directory, precision, name=name, dt=dt)


def assert_c_matches_emulator(exported: Export, sequences: Sequences) -> None:
    """Bit for bit, every step, outputs and state."""
    qmodel = exported.qmodel
    emulator = Emulator(qmodel)
    x_raw, dt_raw = raw_inputs(emulator, sequences)
    y_c, state_c = compile_export(exported).run_raw(x_raw, dt_raw)
    y_e, state_e = emulator_raw(emulator.run(sequences.x, sequences.dt, check=False), qmodel.is_fixed)
    mismatch = first_mismatch(y_e, y_c, "output") or first_mismatch(state_e, state_c, "state")
    assert mismatch is None, str(mismatch)


def assert_host_build_matches_emulator(exported: Export, seed: int, flags: tuple[str, ...] = ()) -> None:
    """The export's C on the host against the emulator, bit for bit, outputs and state, on two drawn sequences of
    20 steps: the cached harness build when ``flags`` is empty, else a plain gcc build with ``flags`` under
    ASan/UBSan (the kernel tests run their portable reference this way, ``-DLNN_NO_ASM``)."""
    qmodel = exported.qmodel
    sequences = random_sequences(np.random.default_rng(seed), 2, 20, qmodel.model.input_size, scale=2.0)
    emulator = Emulator(qmodel)
    x_raw, dt_raw = raw_inputs(emulator, sequences)
    y_e, state_e = emulator_raw(emulator.run(sequences.x, sequences.dt, check=False), qmodel.is_fixed)
    if not flags:
        y_c, state_c = compile_export(exported).run_raw(x_raw, dt_raw)
    else:
        dtype = np.dtype(np.float32 if not qmodel.is_fixed else np.int16 if qmodel.bits == 16 else np.int32)
        y_c, state_c = sanitizer_run(
            exported.directory, exported.name, x_raw, dt_raw, dtype, qmodel.model.output_size,
            qmodel.model.state_size, flags,
        )  # fmt: skip
        y_c, state_c = y_c.reshape(y_e.shape), state_c.reshape(state_e.shape)
    mismatch = first_mismatch(y_e, y_c, "output") or first_mismatch(state_e, state_c, "state")
    assert mismatch is None, f"{flags or 'harness build'}: {mismatch}"


def random_sequences(rng: np.random.Generator, batch: int, steps: int, inputs: int, scale: float = 1.0) -> Sequences:
    return Sequences(
        x=rng.normal(0.0, scale, size=(batch, steps, inputs)), dt=rng.uniform(0.05, 3.0, size=(batch, steps))
    )


def runtime_shim(directory: Path, source: str, flags: list[str]) -> ctypes.CDLL:
    """Compile ``source`` (C that includes ``lnn/*.h``, the runtime library as an export holds it) into a shared
    library with the host gcc and load it."""
    for filename, text in runtime_files().items():
        (directory / filename).parent.mkdir(exist_ok=True)
        (directory / filename).write_text(text)
    (directory / "shim.c").write_text(source)
    library = directory / "shim.so"
    subprocess.run(
        ["gcc", "-std=c99", "-O2", "-shared", "-fPIC", "-Wall", "-Werror", "-Wconversion", *flags,
         "-I", str(directory), str(directory / "shim.c"), "-o", str(library)],
        check=True,
    )  # fmt: skip
    return ctypes.CDLL(str(library))

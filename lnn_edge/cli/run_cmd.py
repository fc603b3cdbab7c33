"""``lnn-edge run``: run a model over input sequences and write outputs and state for every step."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from lnn_edge.cli.common import progress
from lnn_edge.codegen.export import Export, load_export
from lnn_edge.errors import LnnEdgeError
from lnn_edge.host.verify import compile_export, raw_inputs, raw_to_float
from lnn_edge.model.datafile import Sequences, load_inputs, save_outputs
from lnn_edge.model.limits import check_run_size
from lnn_edge.model.model import Model
from lnn_edge.quant.emulator import Emulator
from lnn_edge.quant.qmodel import QuantizedModel
from lnn_edge.quant.qmodelfile import load_any
from lnn_edge.reference import Reference

BACKENDS = ("auto", "reference", "emulator", "c")


def run_reference(model: Model, x: np.ndarray, dt: np.ndarray, show: bool) -> dict[str, np.ndarray]:
    reference = Reference(model)
    batch, steps, _ = x.shape
    y = np.empty((batch, steps, model.output_size))
    state = np.empty((batch, steps, model.state_size))
    h = reference.initial_state(batch)
    for t in progress(range(steps), "reference", show=show):
        y[:, t], h = reference.step(x[:, t], h, dt[:, t])
        state[:, t] = h
    return {"y": y, "state": state}


def run_emulator(qmodel: QuantizedModel, x: np.ndarray, dt: np.ndarray) -> dict[str, np.ndarray]:
    result = Emulator(qmodel).run(x, dt, check=True)
    arrays = {"y": result.y, "state": result.state}
    if result.y_raw is not None and result.state_raw is not None:
        arrays.update(y_raw=result.y_raw, state_raw=result.state_raw)
    if result.saturations.total:
        click.echo(
            f"warning: {result.saturations.total} saturations; first: {result.saturations.events[0]}",
            err=True,
        )
    return arrays


def run_compiled(exported: Export, sequences: Sequences) -> dict[str, np.ndarray]:
    """The export's C compiled on the host, fed the same raw inputs the emulator converts to."""
    emulator = Emulator(exported.qmodel)
    x_raw, dt_raw = raw_inputs(emulator, sequences)
    y_raw, state_raw = compile_export(exported).run_raw(x_raw, dt_raw)
    y, state = raw_to_float(emulator, y_raw, state_raw)
    if not exported.qmodel.is_fixed:
        return {"y": y, "state": state}
    return {"y": y, "state": state, "y_raw": y_raw.astype(np.int64), "state_raw": state_raw.astype(np.int64)}


@click.command("run")
@click.argument("model", type=click.Path(path_type=Path))
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    required=True,
    help="Input .npz: 'x' [T,F] or [B,T,F], optional 'dt'.",
)
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="Output .npz: 'y' and 'state'.")
@click.option(
    "--backend",
    type=click.Choice(BACKENDS),
    default="auto",
    show_default=True,
    help="reference: float64 NumPy (matches ncps in double); emulator: the bit-exact twin of the "
    "generated C for a quantized model; c: the generated C of an export folder, compiled on the host; "
    "auto: emulator for quantized models and exports, else reference.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def command(model: Path, data: Path, output: Path, backend: str, quiet: bool) -> None:
    """Run MODEL (a .lnn file or an export folder) over --data; write 'y' [B,T,outputs] and 'state' [B,T,state].

    Every sequence starts from a zero state. 'dt' ([T] or [B,T]) is the elapsed time of each step; without
    it every step uses the model's time step. For a quantized model the output also holds the raw integers
    'y_raw' and 'state_raw' (fixed point).

    \b
    Examples:
      lnn-edge run pendulum.lnn --data inputs.npz -o outputs.npz
      lnn-edge run pendulum-q16.lnn --data inputs.npz -o q16.npz          # the emulator
      lnn-edge run pendulum-q16.lnn --data inputs.npz -o ref.npz --backend reference
      lnn-edge run out/pendulum --data inputs.npz -o c.npz --backend c           # the compiled C
    """
    exported = load_export(model) if model.is_dir() else None
    loaded = exported.qmodel if exported is not None else load_any(model)
    net = loaded.model if isinstance(loaded, QuantizedModel) else loaded
    sequences = load_inputs(data, net.input_size, net.dt, net.input_names)
    batch, steps = sequences.x.shape[:2]
    check_run_size(str(data), batch, steps, net.output_size, net.state_size)
    if backend == "auto":
        backend = "emulator" if isinstance(loaded, QuantizedModel) else "reference"
    if backend == "c":
        if exported is None:
            raise LnnEdgeError(f"--backend c runs an export folder, and {model} is a file: lnn-edge export it first")
        arrays = run_compiled(exported, sequences)
    elif backend == "emulator":
        if not isinstance(loaded, QuantizedModel):
            raise LnnEdgeError(f"{model} is a float model: quantize it first (lnn-edge quantize) to use the emulator")
        arrays = run_emulator(loaded, sequences.x, sequences.dt)
    else:
        show = not quiet and sequences.x.shape[1] >= 1000
        arrays = run_reference(net, sequences.x, sequences.dt, show)
    save_outputs(output, **arrays)
    shapes = ", ".join(f"{name} {list(array.shape)}" for name, array in arrays.items())
    click.echo(f"wrote {output}: {shapes} ({backend})", err=True)

"""``lnn-edge run``: run a model over input sequences and write outputs and state for every step."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from lnn_edge.cli.common import progress
from lnn_edge.datafile import load_inputs, save_outputs
from lnn_edge.modelfile import load
from lnn_edge.reference import Reference

BACKENDS = ("reference",)


@click.command("run")
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--data", type=click.Path(path_type=Path), required=True, help="Input .npz: 'x' [T,F] or [B,T,F], optional 'dt'.")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="Output .npz: 'y' and 'state'.")
@click.option("--backend", type=click.Choice(BACKENDS), default="reference", show_default=True,
              help="reference: the float64 NumPy simulator (matches ncps in double).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def command(model: Path, data: Path, output: Path, backend: str, quiet: bool) -> None:
    """Run MODEL over the sequences in --data; write 'y' [B,T,outputs] and 'state' [B,T,state] to -o.

    Every sequence starts from a zero state. 'dt' ([T] or [B,T]) is the elapsed time of each step; without
    it every step uses the model's time step.

    \b
    Example:
      lnn-edge run pendulum.lnn --data inputs.npz -o outputs.npz
    """
    net = load(model)
    sequences = load_inputs(data, net.input_size, net.dt)
    reference = Reference(net)
    batch, steps, _ = sequences.x.shape
    y = np.empty((batch, steps, net.output_size))
    state = np.empty((batch, steps, net.state_size))
    h = reference.initial_state(batch)
    for t in progress(range(steps), "running", show=not quiet and steps >= 1000):
        y[:, t], h = reference.step(sequences.x[:, t], h, sequences.dt[:, t])
        state[:, t] = h
    save_outputs(output, y=y, state=state)
    click.echo(f"wrote {output}: y {list(y.shape)}, state {list(state.shape)} ({backend})", err=True)

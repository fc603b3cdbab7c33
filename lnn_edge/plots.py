"""PNG plots of verification runs (matplotlib, headless).

matplotlib is the optional ``plots`` extra: a deployment install (export, verify, build) does not need it, so it
is imported only when a plot is drawn, through :func:`pyplot`.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType

import numpy as np

from lnn_edge.atomic import atomic_file
from lnn_edge.errors import MissingDependencyError
from lnn_edge.outputs import PNG_SOFTWARE, is_plot

PLOTS_INSTALL = "pip install 'lnn-edge[plots]'"


def pyplot() -> ModuleType:
    """matplotlib.pyplot with the headless Agg backend, or a clear error naming the extra to install."""
    try:
        import matplotlib
    except ImportError:
        raise MissingDependencyError(f"drawing plots needs matplotlib: {PLOTS_INSTALL}") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_traces(
    path: str | os.PathLike[str],
    traces: dict[str, np.ndarray],
    title: str,
    sequence: int = 0,
    max_outputs: int = 4,
) -> None:
    """Outputs of the reference and the candidates over time for one sequence, and the error against the
    reference on a log scale."""
    plt = pyplot()

    reference = traces["reference"][sequence]
    candidates = {name: values[sequence] for name, values in traces.items() if name not in ("reference", "dt")}
    outputs = min(reference.shape[1], max_outputs)
    time = np.cumsum(traces["dt"][sequence]) if "dt" in traces else np.arange(reference.shape[0])
    figure, axes = plt.subplots(outputs + 1, 1, figsize=(9, 2.2 * (outputs + 1)), sharex=True)
    for k in range(outputs):
        axes[k].plot(time, reference[:, k], label="float64 reference", color="black", linewidth=2.0)
        for name, values in candidates.items():
            axes[k].plot(time, values[:, k], label=name, linewidth=1.0, linestyle="--")
        axes[k].set_ylabel(f"y{k}")
        axes[k].legend(loc="upper right", fontsize="small")
    for name, values in candidates.items():
        error = np.abs(values - reference).max(axis=1)
        axes[-1].semilogy(time, np.maximum(error, 1e-18), label=f"|{name} - reference|")
    axes[-1].set_ylabel("max abs error")
    axes[-1].set_xlabel("time")
    axes[-1].legend(loc="upper right", fontsize="small")
    figure.suptitle(title)
    figure.tight_layout()
    with atomic_file(Path(path), suffix=".png", kind="plot", is_own=is_plot) as tmp:
        figure.savefig(tmp, format="png", dpi=100, metadata={"Software": PNG_SOFTWARE})
    plt.close(figure)

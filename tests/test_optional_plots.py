"""matplotlib is the optional ``plots`` extra: a deployment install (export, verify, build, flash) works without it.

Each check runs in a fresh interpreter whose import system refuses ``matplotlib``, as on an install without the
extra, so a module-level ``import matplotlib`` anywhere in the package would fail here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

BLOCK_MATPLOTLIB = """
import sys

class _NoMatplotlib:
    def find_spec(self, name, path=None, target=None):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _NoMatplotlib())
"""


def run_without_matplotlib(code: str) -> subprocess.CompletedProcess[str]:
    script = BLOCK_MATPLOTLIB + textwrap.dedent(code)
    root = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False)


@pytest.mark.slow
def test_every_module_imports_without_matplotlib() -> None:
    result = run_without_matplotlib("""
        import importlib, pkgutil
        import lnn_edge
        for module in pkgutil.walk_packages(lnn_edge.__path__, "lnn_edge."):
            importlib.import_module(module.name)
        assert "matplotlib" not in sys.modules, "a module imported matplotlib eagerly"
        print("ok")
    """)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


@pytest.mark.slow
def test_deployment_verbs_run_without_matplotlib() -> None:
    """The CLI and the help of every deployment verb load without the extra."""
    result = run_without_matplotlib("""
        from click.testing import CliRunner
        from lnn_edge.cli import cli
        for verb in ([], ["export"], ["verify"], ["build"], ["flash"], ["quantize"], ["bench"]):
            outcome = CliRunner().invoke(cli, [*verb, "--help"])
            assert outcome.exit_code == 0, (verb, outcome.output, outcome.exception)
        print("ok")
    """)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_a_plot_without_matplotlib_names_the_extra(tmp_path: Path) -> None:
    result = run_without_matplotlib(f"""
        import numpy as np
        from lnn_edge.errors import MissingDependencyError
        from lnn_edge.plots import plot_traces
        traces = {{"reference": np.zeros((1, 3, 1)), "host C": np.zeros((1, 3, 1))}}
        try:
            plot_traces({str(tmp_path / "v.png")!r}, traces, "title")
        except MissingDependencyError as error:
            print(error)
    """)
    assert "pip install 'lnn-edge[plots]'" in result.stdout, result.stderr
    assert not (tmp_path / "v.png").exists()

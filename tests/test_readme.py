"""The README's quick start and "bring your own ncps model" commands run as written, in a fresh clone.

The test reads the shell blocks marked `<!-- readme-test: NAME -->` from README.md and runs each line in a
temporary clone of this repository, with the `lnn-edge` of the environment running the tests (`make setup`
itself, which the README runs first, is what `make test` has just done). For "bring your own", the test first
makes what a user brings: an ncps state_dict saved with torch.save, and inputs with the model's outputs on them.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from ncps import wirings
from ncps.torch import LTC

REPO = Path(__file__).resolve().parent.parent


def readme_block(name: str) -> list[str]:
    text = (REPO / "README.md").read_text()
    match = re.search(rf"<!-- readme-test: {name} -->\s*```sh\n(.*?)```", text, re.DOTALL)
    assert match, f"README.md has no block marked readme-test: {name}"
    return [line for line in match.group(1).splitlines() if line.strip() and not line.startswith("#")]


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A fresh clone of the repository (its committed state, as a new user gets it)."""
    target = tmp_path / "lnn-edge"
    if (REPO / ".git").exists():
        subprocess.run(["git", "clone", "--quiet", str(REPO), str(target)], check=True)
    else:  # an unpacked source tree without git history
        shutil.copytree(REPO, target, ignore=shutil.ignore_patterns(".venv", "build", "*.lnn", "demo-out"))
    return target


def run_lines(lines: list[str], cwd: Path) -> None:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    for line in lines:
        result = subprocess.run(shlex.split(line), cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, f"`{line}` failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"


@pytest.mark.slow
def test_readme_quick_start(clone: Path) -> None:
    lines = readme_block("quickstart")
    assert lines[0].startswith("lnn-edge train") and any("--board" in line for line in lines)
    run_lines(lines, clone)
    assert (clone / "out" / "pendulum" / "pendulum.c").is_file()


@pytest.mark.slow
def test_readme_bring_your_own_model(clone: Path) -> None:
    torch.manual_seed(0)
    model = LTC(8, wirings.AutoNCP(12, 2))
    torch.save(model.state_dict(), clone / "my_ltc.pt")
    x = np.random.default_rng(0).normal(size=(8, 50, 8))
    with torch.no_grad():  # the README's lines: the model's own outputs beside its inputs
        y = model(torch.as_tensor(x, dtype=torch.float32))[0]
    np.savez(clone / "io.npz", x=x, y=y.numpy())
    lines = readme_block("byo")
    assert len(lines) == 3, "the README promises three commands"
    run_lines(lines, clone)
    assert (clone / "out" / "my" / "my.h").is_file()

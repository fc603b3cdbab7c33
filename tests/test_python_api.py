"""The Python API example of docs/python-api.md runs as written (the test executes the page's code block)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import lnn_edge

DOC = Path(__file__).resolve().parent.parent / "docs" / "python-api.md"


@pytest.mark.slow
def test_python_api_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = re.search(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)
    assert code, "docs/python-api.md has no python example"
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(code.group(1), str(DOC), "exec"), namespace)
    board = namespace["board"]
    assert board.bit_exact and board.passed  # type: ignore[attr-defined]
    assert (tmp_path / "out" / "my" / "my.h").is_file()


def test_every_public_name_loads_from_the_package_and_from_its_module() -> None:
    """``from lnn_edge import <name>`` gives the object its module defines, for every name of ``__all__``, and
    importing the package alone loads none of them (the lazy table keeps ``import lnn_edge.errors`` cheap)."""
    code = (
        "import importlib, sys\n"
        "import lnn_edge\n"
        "assert not [m for m in sys.modules if m.startswith('lnn_edge.')], sorted(sys.modules)\n"
        "assert sorted(lnn_edge.__all__) == sorted(['__version__', *lnn_edge._API])\n"
        "for name, module in lnn_edge._API.items():\n"
        "    assert getattr(lnn_edge, name) is getattr(importlib.import_module(module), name), name\n"
        "print(len(lnn_edge._API))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == len(lnn_edge.__all__) - 1


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'exprot'"):
        lnn_edge.exprot  # noqa: B018

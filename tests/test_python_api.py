"""The Python API example of docs/python-api.md runs as written (the test executes the page's code block)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

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

"""A cell is a folder: both registries (the model layer's kinds and the pipeline's cells) find ``cells/<name>/``
by themselves, so a new cell needs no edit anywhere else.

The test writes a third cell folder into a temporary directory, puts that directory on the ``lnn_edge.cells``
package path in a fresh interpreter (the working copy is never written), and runs a model of the new cell through
the whole pipeline: save and load, ``inspect``'s summary, quantize, export, and the host build against the emulator,
bit for bit. The toy cell reuses the LTC's parts under a new name (``toy_ltc``), so any place outside the LTC folder
that still compared the cell string would fail here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from ncps import wirings
from ncps.torch import LTC

from lnn_edge.errors import ModelFileError
from lnn_edge.model.importers import from_module
from lnn_edge.model.model import Calibration, validate
from lnn_edge.model.modelfile import save

TOY_KIND = """
from lnn_edge.cells.ltc.kind import LtcKind


class ToyKind(LtcKind):
    name = "toy_ltc"
    title = "toy LTC"
    article = "a toy LTC"
    ncps_classes = ()
    markers = ("toy.gleak",)

    def claims(self, keys):
        return "toy.gleak" in keys


KINDS = (ToyKind(),)
"""

TOY_CELL = """
from lnn_edge.cells.ltc.cell import LtcCell


class ToyCell(LtcCell):
    name = "toy_ltc"
    label = "toy LTC"


CELLS = (ToyCell(),)
"""

SCRIPT = """
import json, sys
from dataclasses import replace
from pathlib import Path

import lnn_edge.cells

lnn_edge.cells.__path__.append(sys.argv[1])  # the folder holding toy_ltc/, as if it sat beside ltc/ and cfc/

from lnn_edge.codegen.export import export
from lnn_edge.host.verify import default_sequences, verify_host
from lnn_edge.model import kinds
from lnn_edge.model.modelfile import load, save
from lnn_edge.model.summary import format_summary, summarize

out = Path(sys.argv[3])
model = replace(load(sys.argv[2]), cell="toy_ltc")
save(model, out / "toy.lnn")
model = load(out / "toy.lnn")
exported = export(model, out / "export", "fixed16", name="toy")
result = verify_host(exported, default_sequences(exported, 30))
print(json.dumps({
    "kinds": list(kinds.names()),
    "cells": list(lnn_edge.cells.registry()),
    "cell": model.cell,
    "summary": format_summary(summarize(model)).splitlines()[0],
    "header": (out / "export" / "toy.h").read_text().splitlines()[0],
    "manifest_cell": exported.manifest["cell"],
    "passed": result.passed,
    "bit_exact": result.bit_exact,
}))
"""


def test_a_new_cell_folder_runs_through_the_pipeline_with_no_other_edit(tmp_path: Path) -> None:
    folder = tmp_path / "plugins" / "toy_ltc"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text('"""A toy cell: the LTC under another name."""\n')
    (folder / "kind.py").write_text(TOY_KIND)
    (folder / "cell.py").write_text(TOY_CELL)
    torch.manual_seed(0)
    model = from_module(LTC(3, wirings.AutoNCP(8, 2)))
    rng = np.random.default_rng(0)
    model.calibration = Calibration(x=rng.normal(size=(2, 30, 3)), dt=rng.uniform(0.5, 1.5, (2, 30)))
    save(model, tmp_path / "ltc.lnn")
    out = tmp_path / "out"
    out.mkdir()

    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "plugins"), str(tmp_path / "ltc.lnn"), str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.splitlines()[-1])
    assert result["kinds"] == ["cfc", "wired_cfc", "ltc", "ltc_mixed", "cfc_mixed", "wired_cfc_mixed", "toy_ltc"]
    assert result["cells"] == ["cfc", "wired_cfc", "ltc", "ltc_mixed", "cfc_mixed", "wired_cfc_mixed", "toy_ltc"]
    assert result["cell"] == "toy_ltc" and result["manifest_cell"] == "toy_ltc"
    assert result["summary"].endswith("toy LTC, wiring autoncp")
    assert "toy LTC network, 3 inputs, 8 neurons, 2 outputs" in result["header"]
    assert result["passed"] and result["bit_exact"]


def test_without_the_folder_the_cell_is_unknown_by_name() -> None:
    torch.manual_seed(0)
    model = from_module(LTC(3, wirings.AutoNCP(8, 2)))
    model.cell = "toy_ltc"
    with pytest.raises(ModelFileError, match="field 'cell' is 'toy_ltc'; expected one of cfc, wired_cfc, ltc"):
        validate(model)

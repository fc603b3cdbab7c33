"""One memory accounting: the parameter bytes that an export's header, its manifest and its quantization.json
print, and that `lnn-edge quantize` prints before any export, are the bytes of the ``static const`` objects its
``<name>.c`` compiles to (the runtime library's tables included), counted in the object file by pyelftools, for
the host and for Cortex-M."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection
from ncps import wirings
from ncps.torch import LTC, CfC

from lnn_edge.codegen.export import export
from lnn_edge.codegen.render import memory
from lnn_edge.model.importers import from_module
from lnn_edge.model.model import Calibration, Model
from lnn_edge.target.toolchain import host_compiler, require_tool

MODELS = {
    "ltc": lambda: LTC(5, wirings.AutoNCP(8, 2)),
    "ltc-fc": lambda: LTC(3, wirings.FullyConnected(6, 2)),
    "cfc-dense": lambda: CfC(5, 9, proj_size=2, backbone_units=8),
    "cfc-wired": lambda: CfC(5, wirings.AutoNCP(10, 2)),
}
COMPILERS = {
    "host": lambda: [host_compiler()],
    "cortex-m0": lambda: [require_tool("arm-none-eabi-gcc"), "-mcpu=cortex-m0", "-mthumb"],
}


def _model(label: str) -> Model:
    torch.manual_seed(0)
    model = from_module(MODELS[label]())
    rng = np.random.default_rng(0)
    model.calibration = Calibration(x=rng.normal(size=(2, 20, model.input_size)), dt=np.ones((2, 20)))
    return model


def _object_bytes(compiler: list[str], directory: Path, tmp_path: Path) -> int:
    """Bytes of the data objects (STT_OBJECT) in ``model.c`` compiled at -O0, where none is folded away."""
    obj = tmp_path / "model.o"
    command = [*compiler, "-O0", "-std=c99", "-c", "-I", str(directory), str(directory / "model.c"), "-o", str(obj)]
    subprocess.run(command, check=True, capture_output=True)
    with open(obj, "rb") as handle:
        table = ELFFile(handle).get_section_by_name(".symtab")
        assert isinstance(table, SymbolTableSection)
        return sum(s["st_size"] for s in table.iter_symbols() if s["st_info"]["type"] == "STT_OBJECT")


@pytest.mark.parametrize("label", sorted(MODELS))
@pytest.mark.parametrize("precision", ["float32", "fixed16", "fixed32"])
def test_every_report_prints_the_compiled_parameter_bytes(label: str, precision: str, tmp_path: Path) -> None:
    model = _model(label)
    exported = export(model, tmp_path / "out", precision, name="model")
    params = exported.manifest["memory"]["params"]
    header = (exported.directory / "model.h").read_text()
    report = json.loads((exported.directory / "quantization.json").read_text())
    assert re.search(rf"parameters {params} B \(flash", header)
    assert report["parameter_bytes"] == params
    assert memory(exported.qmodel) == exported.manifest["memory"]  # what `lnn-edge quantize` prints
    for core, compiler in COMPILERS.items():
        assert _object_bytes(compiler(), exported.directory, tmp_path) == params, f"{label} {precision} on {core}"

"""One memory accounting: the parameter bytes that an export's header, its manifest and its quantization.json
print, and that `lnn-edge quantize` prints before any export, are the bytes of the ``static const`` arrays its
``<name>.c`` declares (the runtime library's tables included), counted in the object file by pyelftools, for the
host and for Cortex-M. A CfC's layer descriptors (``static const lnn_cfc_*_t``: array pointers and sizes) are not
parameters: the always-inline kernels fold them into code, and an optimised build holds none of them."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import asdict
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


def _objects(compiler: list[str], level: str, directory: Path, tmp_path: Path) -> dict[str, int]:
    """Name -> bytes of the data objects (STT_OBJECT) in ``model.c`` compiled at ``level``."""
    obj = tmp_path / "model.o"
    command = [*compiler, level, "-std=c99", "-c", "-I", str(directory), str(directory / "model.c"), "-o", str(obj)]
    subprocess.run(command, check=True, capture_output=True)
    with open(obj, "rb") as handle:
        table = ELFFile(handle).get_section_by_name(".symtab")
        assert isinstance(table, SymbolTableSection)
        return {s.name: s["st_size"] for s in table.iter_symbols() if s["st_info"]["type"] == "STT_OBJECT"}


def _descriptors(directory: Path) -> set[str]:
    """The CfC layer descriptors ``model.c`` declares (``static const lnn_cfc_..._t NAME = {``)."""
    return set(re.findall(r"static const lnn_cfc_\w+_t (\w+) =", (directory / "model.c").read_text()))


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
    assert asdict(memory(exported.qmodel)) == exported.manifest["memory"]  # what `lnn-edge quantize` prints
    descriptors = _descriptors(exported.directory)
    for core, compiler in COMPILERS.items():
        declared = _objects(compiler(), "-O0", exported.directory, tmp_path)  # -O0: every object is emitted
        assert sum(size for name, size in declared.items() if name not in descriptors) == params, (label, core)
        built = _objects(compiler(), "-O2", exported.directory, tmp_path)
        assert not descriptors & set(built), f"{label} {precision}: a descriptor survived -O2 on {core}"
        assert 0.97 * params <= sum(built.values()) <= params  # the compiler may fold a small array away

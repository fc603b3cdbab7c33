"""The step's layout decisions are fields of the quantized model: the quantizer records them in ``constants``, the
model file keeps them, and the emulator and the code generator read the record rather than deciding again (so a
quantized file keeps the C it was quantized for, whatever later versions decide)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from codegen_helpers import assert_host_build_matches_emulator
from ncps import wirings
from ncps.torch import LTC, CfC

from lnn_edge.codegen.export import export
from lnn_edge.model.importers import from_module
from lnn_edge.model.model import Calibration, Model
from lnn_edge.quant.qmodel import QuantizedModel
from lnn_edge.quant.qmodelfile import load_any, save_quantized
from lnn_edge.quant.quantize import quantize


def _model(module: torch.nn.Module) -> Model:
    model = from_module(module)
    rng = np.random.default_rng(0)
    model.calibration = Calibration(x=rng.normal(size=(2, 30, model.input_size)), dt=rng.uniform(0.5, 1.5, (2, 30)))
    return model


@pytest.mark.parametrize("precision", ["float32", "fixed16", "fixed32"])
def test_the_recorded_wired_cfc_layout_decides_the_c_and_the_emulator(precision: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = _model(CfC(5, wirings.AutoNCP(10, 2)))
    assert model.cfc is not None
    qmodel = quantize(model, precision)
    keys = [f"ff_dense_{k}" for k in range(len(model.cfc.layer_sizes))]
    assert sorted(k for k in qmodel.constants if k.startswith("ff_dense_")) == keys
    save_quantized(qmodel, tmp_path / "q.lnn")
    loaded = load_any(tmp_path / "q.lnn")
    assert isinstance(loaded, QuantizedModel)
    assert {k: loaded.constants[k] for k in keys} == {k: qmodel.constants[k] for k in keys}

    # The other decision for every layer: dense rows become CSR and back. Both compile to C that equals the
    # emulator bit for bit, because both read the record.
    flipped = replace(qmodel, constants={**qmodel.constants, **{k: 1 - int(qmodel.constants[k]) for k in keys}})
    as_quantized = export(qmodel, tmp_path / "a", precision, name="m")
    as_flipped = export(flipped, tmp_path / "b", precision, name="m")
    assert (as_quantized.directory / "m.c").read_text() != (as_flipped.directory / "m.c").read_text()
    reloaded = load_any(as_flipped.directory / "model.lnn")  # the file keeps the record it was given
    assert isinstance(reloaded, QuantizedModel) and reloaded.constants == flipped.constants
    for exported in (as_quantized, as_flipped):
        assert_host_build_matches_emulator(exported, seed=3)


@pytest.mark.parametrize("precision", ["fixed16", "fixed32"])
def test_the_ltc_records_its_source_bits(precision: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    qmodel = quantize(_model(LTC(4, wirings.AutoNCP(9, 2))), precision)
    assert qmodel.constants["source_bits"] == 8
    save_quantized(qmodel, tmp_path / "q.lnn")
    loaded = load_any(tmp_path / "q.lnn")
    assert isinstance(loaded, QuantizedModel) and loaded.constants["source_bits"] == 8

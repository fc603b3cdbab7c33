"""Folding the training normalization into the model is exact: raw units in, raw units out."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ncps import wirings
from ncps.torch import LTC, CfC

from lnn_edge.model.importers import from_module
from lnn_edge.model.normalization import Normalization, fold_normalization
from lnn_edge.reference import Reference


@pytest.mark.parametrize(
    "module",
    [
        LTC(3, wirings.AutoNCP(8, 2)),
        LTC(3, wirings.FullyConnected(5, 2), input_mapping="none", output_mapping="linear"),
        CfC(3, 6, proj_size=2),
        CfC(3, 2, backbone_layers=0),
        CfC(3, 6, proj_size=2, mode="pure", backbone_layers=0),
        CfC(3, wirings.NCP(3, 2, 2, 2, 2, 1, 2)),
    ],
    ids=["ltc-ncp", "ltc-nomap", "cfc", "cfc-nobackbone", "cfc-pure", "cfc-wired"],
)
def test_folded_model_equals_normalize_run_denormalize(module: torch.nn.Module) -> None:
    torch.manual_seed(0)
    model = from_module(module)
    rng = np.random.default_rng(0)
    norm = Normalization(
        x_mean=rng.normal(size=3) * 5,
        x_std=rng.uniform(0.1, 10, size=3),
        y_mean=rng.normal(size=2),
        y_std=rng.uniform(0.5, 3, size=2),
    )
    x_raw = rng.normal(size=(2, 30, 3)) * norm.x_std + norm.x_mean
    dt = rng.uniform(0.5, 1.5, size=(2, 30))
    y_norm, s_norm = Reference(model).run((x_raw - norm.x_mean) / norm.x_std, dt)
    y_raw, s_raw = Reference(fold_normalization(model, norm)).run(x_raw, dt)
    np.testing.assert_allclose(y_raw, y_norm * norm.y_std + norm.y_mean, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(s_raw, s_norm, rtol=1e-10, atol=1e-10)

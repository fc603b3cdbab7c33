"""Shared test set-up: deterministic hypothesis profile, small torch thread count (CI has 2 cores), the
markers' meaning, and the model fixtures several test modules use."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from lnn_edge.codegen.export import Export

settings.register_profile(
    "lnn",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=os.environ.get("LNN_HYPOTHESIS_RANDOM") != "1",
    print_blob=True,
)
settings.load_profile("lnn")

try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # torch is required by the oracle tests; they fail with a clear import error
    pass


@pytest.fixture(scope="session")
def ltc_fixed16_export(tmp_path_factory: pytest.TempPathFactory) -> Export:
    """The tests' common model: the fixed16 export of an AutoNCP(19, 2) LTC with 20 inputs (torch seed 0),
    made once per test process (test_firmware_helpers.shared_export)."""
    from test_firmware_helpers import shared_export

    return shared_export(tmp_path_factory, "fixed16")

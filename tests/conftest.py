"""Shared test set-up: deterministic hypothesis profile and small torch thread count (CI has 2 cores)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

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

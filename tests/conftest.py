"""Shared test set-up: a reproducible hypothesis profile and the optional PyTorch oracle."""
from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

# Derandomized so that CI runs the same examples every time.
settings.register_profile(
    "repro",
    derandomize=True,
    deadline=None,
    max_examples=25,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("repro")


def load_torch():
    """PyTorch if installed, else None. With AG_REQUIRE_TORCH=1 (set by CI) a missing PyTorch is
    an error, so the oracle comparisons can never be skipped silently there."""
    try:
        import torch
    except ImportError:
        if os.environ.get("AG_REQUIRE_TORCH"):
            raise
        return None
    torch.set_default_dtype(torch.float64)
    return torch


@pytest.fixture(scope="session")
def torch():
    """The PyTorch module, or skip the test where it is not installed."""
    t = load_torch()
    if t is None:
        pytest.skip("PyTorch is not installed (pip install torch==2.13.0 to run the oracle tests)")
    return t

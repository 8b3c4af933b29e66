"""Seeds, tolerances and small fixtures shared by every test."""

from __future__ import annotations

import os
import random

import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("Agg")
os.environ.setdefault("CONVSCOPE_QUIET", "1")
# auto decides from its cost model alone: a choice it times on a busy machine can pick another (equally
# correct) method in one of two runs that a test compares bit for bit; tests of the timing enable it themselves
os.environ.setdefault("CONVSCOPE_MEASURE", "0")
# auto's stored wisdom (convscope calibrate, persisted choices) must not leak from the user's cache
# into the tests: every test session reads and writes a cache of its own
if "CONVSCOPE_CACHE_DIR" not in os.environ:
    import tempfile

    os.environ["CONVSCOPE_CACHE_DIR"] = tempfile.mkdtemp(prefix="convscope-test-cache-")

# Relative tolerances by dtype (the project standard).
RTOL = {torch.float64: 1e-10, torch.float32: 1e-4, np.float64: 1e-10, np.float32: 1e-4}


def assert_close(actual, expected, dtype=None, *, rtol=None, atol_scale: float = 1.0):
    """Compare with a tolerance relative to the reference's magnitude."""
    a = actual.detach().cpu().numpy() if isinstance(actual, torch.Tensor) else np.asarray(actual)
    e = expected.detach().cpu().numpy() if isinstance(expected, torch.Tensor) else np.asarray(expected)
    assert a.shape == e.shape, f"shape {a.shape} != {e.shape}"
    if rtol is None:
        rtol = 1e-10 if (dtype or a.dtype) in (np.float64, torch.float64) else 1e-4
    scale = max(float(np.abs(e).max()) if e.size else 0.0, 1e-300)
    err = float(np.abs(a.astype(np.float64) - e.astype(np.float64)).max()) if e.size else 0.0
    assert err <= rtol * scale * atol_scale, f"max abs error {err:.3g} > {rtol:g} x {scale:.3g}"


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """One intra-op thread per test process: `make test` runs 2 pytest workers on 2 cores,
    and spinning OpenMP threads on an oversubscribed machine run 10-40x slower than one."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(autouse=True)
def _seed():
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    yield


@pytest.fixture
def rng():
    return np.random.default_rng(1234)

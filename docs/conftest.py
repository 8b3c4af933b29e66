"""The manual's examples are doctests: each page runs in a folder of its own.

pytest collects ``docs/*.md`` and ``README.md`` with ``--doctest-glob``; every page starts
in a fresh temporary folder, so an example that writes a run or a picture leaves nothing
behind, with one torch thread and a cache of its own, as ``tests/conftest.py`` does.
"""

from __future__ import annotations

import os
import tempfile

import matplotlib
import pytest
import torch

matplotlib.use("Agg")
os.environ.setdefault("CONVSCOPE_QUIET", "1")
if "CONVSCOPE_CACHE_DIR" not in os.environ:
    os.environ["CONVSCOPE_CACHE_DIR"] = tempfile.mkdtemp(prefix="convscope-docs-cache-")


@pytest.fixture(autouse=True)
def _page_in_a_folder_of_its_own(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(n)

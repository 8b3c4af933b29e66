"""Every explorer callback checks a whole-number argument before converting it.

A browser (or anyone speaking the HTTP API) can send NaN, infinities, None,
strings, lists, fractions and seeds past 2**64 where a slider or a number box
holds an integer. Each must come back as one line naming the argument, the
kind of failure the callbacks' guard turns into a message, never a bare
``int()`` error with a traceback in the log.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

from convscope._checks import ConvscopeError, check_whole
from convscope.explore import common, session
from convscope.explore.tabs import fractional, gan, kernels

BAD = [float("nan"), float("inf"), -float("inf"), None, "3", [1], 2.5, 2**64, True]
GRID = [[0, 0, 0], [0, 1, 0], [0, 0, 0]]


def _calls():
    g = session.GanSession(seed=1)
    return {
        "pixel channel": ("channel", lambda v: kernels.pixel_computation("camera", None, GRID, v, 5, 5)),
        "pixel row": ("row", lambda v: kernels.pixel_computation("camera", None, GRID, 0, v, 5)),
        "pixel col": ("col", lambda v: kernels.pixel_computation("camera", None, GRID, 0, 5, v)),
        "pool size": ("pool_size", lambda v: kernels.feature_maps("camera", None, GRID, "max", v)),
        "grid size": ("size", lambda v: kernels.kernel_grid("box", v)),
        "fractional N": ("input size", lambda v: fractional.fractional(v, 2, 1, 3)),
        "fractional s": ("stride", lambda v: fractional.fractional(3, v, 1, 3)),
        "fractional p": ("padding", lambda v: fractional.fractional(3, 2, v, 3)),
        "fractional k": ("kernel size", lambda v: fractional.fractional(3, 2, 1, v)),
        "gan updates": ("updates", lambda v: g.train(v)),
        "walk seed a": ("seed_a", lambda v: gan.gan_walk(g, v, 2, 4)),
        "walk seed b": ("seed_b", lambda v: gan.gan_walk(g, 1, v, 4)),
        "walk frames": ("frames", lambda v: gan.gan_walk(g, 1, 2, v)),
    }


CALLS = _calls()


@pytest.mark.parametrize("bad", BAD, ids=repr)
@pytest.mark.parametrize("name", list(CALLS))
def test_a_bad_whole_number_is_one_line_naming_the_argument(name, bad):
    arg, call = CALLS[name]
    with pytest.raises(ConvscopeError) as e:
        call(bad)
    text = common.message(e.value)
    assert text.startswith(f"{arg} must be"), text
    assert "\n" not in text and "internal error" not in text


def test_integral_floats_are_accepted_as_the_sliders_send_them():
    assert kernels.kernel_grid("box", 3.0) == kernels.kernel_grid("box", 3)
    assert "**5**" in fractional.fractional(3.0, 2.0, 1.0, 3.0)[1]
    assert check_whole("seed", np.float32(4.0)) == 4


def test_seeds_are_32_bit_as_on_the_command_line():
    g = session.GanSession(seed=1)
    assert gan.gan_walk(g, 2**32 - 1, 0, 3).ndim == 3
    with pytest.raises(ConvscopeError, match=r"seed_a must be a whole number >= 0 and <= 4294967295, got 4294967296"):
        gan.gan_walk(g, 2**32, 0, 3)


def test_the_guard_logs_a_refused_input_in_one_line(caplog):
    pytest.importorskip("gradio")
    import gradio as gr

    wrapped = common.guard(fractional.fractional)
    with caplog.at_level(logging.WARNING, logger="convscope.explore"), pytest.raises(gr.Error):
        wrapped(float("nan"), 2, 1, 3)
    (rec,) = caplog.records
    assert rec.getMessage() == "fractional refused: input size must be a whole number >= 1 and <= 8, got nan"
    assert rec.exc_info is None  # no traceback


def test_an_oversized_drawing_is_refused_from_its_header():
    from convscope.explore.common import MAX_DRAWING_PIXELS, check_drawing_size

    check_drawing_size(280, 280)
    with pytest.raises(ConvscopeError, match=f"drawing must be at most {MAX_DRAWING_PIXELS:,} pixels, got '8000×8000'"):
        check_drawing_size(8000, 8000)


def test_the_cache_sweep_removes_empty_old_and_oldest_files(tmp_path):
    import os

    from convscope.explore.common import sweep_cache

    (tmp_path / "a").mkdir()
    empty = tmp_path / "a" / "empty"
    empty.write_bytes(b"")
    files = []
    for i in range(5):
        f = tmp_path / "a" / f"f{i}"
        f.write_bytes(b"x" * 100)
        os.utime(f, (1000 + i, 1000 + i))  # f0 is the oldest
        files.append(f)
    assert sweep_cache(tmp_path, max_bytes=300) == 3  # the empty file and the two oldest
    assert not empty.exists() and [f.exists() for f in files] == [False, False, True, True, True]
    assert sweep_cache(tmp_path, max_bytes=10**9, max_age_s=60) == 3  # all older than a minute
    assert sweep_cache(tmp_path) == 0

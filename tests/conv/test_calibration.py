"""convscope calibrate: constants fitted on this machine, stored under a fingerprint, used by auto."""

from __future__ import annotations

import json
import time

import pytest
import torch

from convscope import cli
from convscope.conv import calibration, choose_method, planner, select, wisdom
from convscope.conv.problem import ConvProblem


@pytest.fixture(autouse=True)
def _cache(monkeypatch, tmp_path):
    monkeypatch.setenv("CONVSCOPE_CACHE_DIR", str(tmp_path))
    planner.reset()
    yield tmp_path
    planner.reset()


def _cheap_fft():
    return {**select.CONSTANTS, "fft_call": 1e-9, "fft_plane": 1e-12, "fft_point": 1e-15}


def test_store_and_load_under_the_fingerprint(_cache):
    path = wisdom.store_constants(_cheap_fft(), threads=1, seconds=1.23)
    assert path.parent == _cache and path.exists() and not list(_cache.glob(".*.tmp"))
    consts, origin = planner.constants_for(1)
    assert consts["fft_call"] == 1e-9 and origin.startswith("calibrated") and str(path) in origin
    entry = next(iter(json.loads(path.read_text())["entries"].values()))
    assert entry["fingerprint"] == wisdom.fingerprint(1)
    assert set(entry["fingerprint"]) == {"cpu", "threads", "torch", "opencv", "scipy", "device"}


def test_auto_uses_stored_constants_when_the_fingerprint_matches():
    before = choose_method((1, 1, 128, 128), (1, 1, 3, 3), threads=1).method
    wisdom.store_constants(_cheap_fft(), threads=1)
    planner.reset()
    assert before != "fft"
    assert choose_method((1, 1, 128, 128), (1, 1, 3, 3), threads=1).method == "fft"


def test_other_thread_count_gets_the_builtin_constants():
    wisdom.store_constants(_cheap_fft(), threads=1)
    consts, origin = planner.constants_for(2)
    assert consts is select.CONSTANTS and origin.startswith("built-in")


def test_fingerprint_mismatch_is_ignored(_cache):
    path = wisdom.store_constants(_cheap_fft(), threads=1)
    data = json.loads(path.read_text())
    for entry in data["entries"].values():
        entry["fingerprint"]["torch"] = "0.0.1"  # written by another torch
    path.write_text(json.dumps(data))
    assert wisdom.load_constants(1) is None
    assert planner.constants_for(1)[0] is select.CONSTANTS


@pytest.mark.parametrize("text", ["{not json", "[]", '{"entries": {"x": 5}}'])
def test_corrupt_constants_file_falls_back_to_builtin(_cache, text):
    (_cache / "conv_constants.json").write_text(text)
    assert planner.constants_for(1)[0] is select.CONSTANTS


def test_calibrate_fits_a_tiny_grid_within_its_budget():
    grid = [ConvProblem(1, 1, 1, 1, 32, 32, k, k, pads=(k // 2,) * 4, threads=1, opencv=True) for k in (3, 7)]
    t0 = time.perf_counter()
    c = calibration.calibrate(grid, quick=True, budget=2.0)
    assert time.perf_counter() - t0 < 15
    assert set(c) == set(select.CONSTANTS) and all(v > 0 for v in c.values())


def test_calibration_grid_quick_is_smaller():
    quick, full = calibration.calibration_grid(True), calibration.calibration_grid(False)
    assert 0 < len(quick) < len(full)
    assert all(p.threads == torch.get_num_threads() for p in quick)


class TestCommand:
    def test_calibrate_stores_then_show_reports_it(self, monkeypatch, capsys, _cache):
        seen = {}

        def fake(quick=False, progress=None, **kw):
            seen["quick"], seen["threads"] = quick, torch.get_num_threads()
            return {k: 2 * v for k, v in select.CONSTANTS.items()}

        monkeypatch.setattr(calibration, "calibrate", fake)
        n = torch.get_num_threads()
        assert cli.main(["calibrate", "--quick", "--threads", "2", "--quiet"]) == 0
        assert seen == {"quick": True, "threads": 2} and torch.get_num_threads() == n  # restored
        assert f"calibrated {len(select.CONSTANTS)} constants for 2 thread(s)" in capsys.readouterr().out
        assert (_cache / "conv_constants.json").exists()
        assert cli.main(["calibrate", "--show", "--threads", "2"]) == 0
        out = capsys.readouterr().out
        assert "threads=2" in out and "calibrated" in out and "built-in" in out  # the differing values name the built-in
        assert cli.main(["calibrate", "--show", "--threads", "3"]) == 0
        assert "constants: built-in" in capsys.readouterr().out

    def test_bad_thread_count_is_one_line_exit_2(self, capsys):
        assert cli.main(["calibrate", "--threads", "0"]) == 2
        err = capsys.readouterr().err
        assert "--threads must be an integer in [1, 4,096], got '0'" in err and len(err.strip().splitlines()) == 1

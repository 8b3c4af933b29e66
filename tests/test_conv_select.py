"""choose_method: the cost model's decisions (the traps of the method choice) and the measured cache."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.signal as ss
import torch

from convscope.conv import calibration, choose_method, convolve2d, planner, select, wisdom
from convscope.conv.problem import ConvProblem


class TestChooseMethod:
    def test_returns_a_cost_for_every_candidate(self):
        c = choose_method(1, 1, 1, 1, 256, 256, 5, 5, pads=(2,) * 4, opencv=True)
        assert set(c.costs) == {"direct", "opencv", "fft", "overlap_add"}
        assert c.method == min(c.costs, key=c.costs.get)
        assert all(v > 0 for v in c.costs.values()) and not c.measured
        assert "opencv" not in choose_method(1, 1, 1, 1, 256, 256, 5, 5).costs  # only when eligible

    def test_small_kernel_on_a_big_image_is_not_fft(self):
        # trap 1: scipy.signal.choose_conv_method picks FFT for 3x3 on 512², OpenCV is ~50x faster
        for dtype in (torch.float32, torch.float64):
            c = choose_method(1, 1, 1, 1, 512, 512, 3, 3, pads=(1,) * 4, dtype=dtype, opencv=True)
            assert c.method == "opencv"
            assert c.costs["fft"] > 5 * c.costs["opencv"]
        assert choose_method(1, 1, 1, 1, 512, 512, 3, 3, pads=(1,) * 4).method == "direct"

    def test_large_single_channel_kernel_avoids_onednn(self):
        # trap 2: torch's oneDNN path with one channel and a 31x31 kernel is ~200x slower than the best
        c = choose_method(1, 1, 1, 1, 512, 512, 31, 31, pads=(15,) * 4, opencv=True)
        assert c.method == "fft"
        assert c.costs["direct"] > 10 * c.costs["fft"]
        assert choose_method(8, 64, 64, 64, 64, 64, 31, 31, pads=(15,) * 4).method == "fft"  # depthwise too

    def test_overlap_add_only_in_its_band(self):
        # trap 3: overlap-add only pays for large images with kernels small relative to them
        assert choose_method(1, 1, 1, 1, 512, 512, 63, 63, pads=(31,) * 4).method != "overlap_add"
        assert choose_method(1, 1, 1, 1, 64, 64, 15, 15, pads=(7,) * 4).method != "overlap_add"
        big = choose_method(1, 1, 1, 1, 8192, 8192, 17, 17)
        assert big.costs["overlap_add"] < big.costs["fft"]

    def test_dense_small_kernels_stay_direct(self):
        assert choose_method(32, 64, 64, 1, 32, 32, 3, 3, pads=(1,) * 4).method == "direct"
        assert choose_method(8, 16, 16, 1, 64, 64, 3, 3, pads=(1,) * 4).method == "direct"

    def test_float64_is_costlier(self):
        a = choose_method(2, 4, 4, 1, 64, 64, 7, 7)
        b = choose_method(2, 4, 4, 1, 64, 64, 7, 7, dtype=torch.float64)
        assert all(b.costs[m] > a.costs[m] for m in a.costs)

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="kH must be an integer >= 1, got 0"):
            choose_method(1, 1, 1, 1, 8, 8, 0, 3)
        with pytest.raises(TypeError, match="B must be an integer >= 1"):
            choose_method(1.5, 1, 1, 1, 8, 8, 3, 3)


class TestMeasured:
    @pytest.fixture(autouse=True)
    def _isolated(self, monkeypatch, tmp_path):
        monkeypatch.setenv("CONVSCOPE_CACHE_DIR", str(tmp_path))
        monkeypatch.setattr(planner.PLANNER, "measured", {})
        return tmp_path

    def test_measures_and_caches_in_memory(self, monkeypatch):
        calls = []
        real = calibration.measure
        monkeypatch.setattr(calibration, "measure", lambda *a, **kw: calls.append(a) or real(*a, **kw))
        c = choose_method(2, 3, 4, 1, 24, 24, 5, 5, pads=(2,) * 4, measure=True)
        assert c.measured and c.method in ("direct", "fft", "overlap_add")
        assert c.method == min(c.costs, key=c.costs.get)
        again = choose_method(2, 3, 4, 1, 24, 24, 5, 5, pads=(2,) * 4, measure=True)
        assert again.method == c.method and len(calls) == 1  # second call: from the cache
        assert not wisdom.cache_path().exists()  # persist=False: nothing on disk

    def test_persists_to_disk_atomically_and_reloads(self, _isolated):
        c = choose_method(1, 1, 1, 1, 40, 40, 9, 9, pads=(4,) * 4, opencv=True, measure=True, persist=True)
        path = wisdom.cache_path()
        assert path.parent == _isolated and path.exists()
        data = json.loads(path.read_text())
        assert list(data["choices"].values()) == [c.method]
        assert not list(_isolated.glob(".*.tmp"))  # no temporary file left behind
        planner.PLANNER.measured.clear()  # a new process: the decision comes back from disk without timing
        again = choose_method(1, 1, 1, 1, 40, 40, 9, 9, pads=(4,) * 4, opencv=True, measure=True, persist=True)
        assert again.method == c.method

    def test_corrupt_cache_file_is_ignored(self, _isolated):
        wisdom.cache_path().write_text("{not json")
        c = choose_method(1, 2, 2, 1, 16, 16, 3, 3, measure=True, persist=True)
        assert c.method in ("direct", "fft", "overlap_add")
        assert json.loads(wisdom.cache_path().read_text())["version"] == 1


def test_calibrate_fits_the_constants():
    cfg = [(1, 1, 1, 1, 64, 64, k, k, (k // 2,) * 4, torch.float32, True) for k in (3, 9)]
    c = calibration.calibrate(cfg)
    assert set(c) == set(select.CONSTANTS) and all(v > 0 for v in c.values())


class TestMeasureWhenUnsure:
    """auto times the two cheapest candidates once when the model puts them within 2x."""

    @pytest.fixture(autouse=True)
    def _isolated(self, monkeypatch, tmp_path):
        monkeypatch.setenv("CONVSCOPE_CACHE_DIR", str(tmp_path))
        monkeypatch.delenv("CONVSCOPE_MEASURE", raising=False)
        planner.reset()
        yield
        planner.reset()

    @staticmethod
    def _problem(**kw):
        return ConvProblem(2, 3, 4, 1, 24, 24, 5, 5, pads=(2,) * 4, threads=1, **kw)

    @staticmethod
    def _fake_costs(monkeypatch, costs):
        monkeypatch.setattr(planner.PLANNER, "predict_costs", lambda p: dict(costs))

    def test_unsure_measures_the_two_cheapest_once(self, monkeypatch):
        self._fake_costs(monkeypatch, {"direct": 1.0e-4, "fft": 1.5e-4, "overlap_add": 9e-4})
        calls = []
        monkeypatch.setattr(calibration, "measure", lambda p, pred, names=None, **kw: calls.append(names) or {"direct": 3e-4, "fft": 1e-4})
        p = self._problem()
        c = planner.decide(p)
        assert c.measured and c.method == "fft"  # the measurement overrules the model
        assert calls == [("direct", "fft")]
        assert planner.decide(p).method == "fft" and len(calls) == 1  # once per problem per process

    def test_sure_model_measures_nothing(self, monkeypatch):
        self._fake_costs(monkeypatch, {"direct": 1.0e-4, "fft": 2.5e-4, "overlap_add": 9e-4})
        monkeypatch.setattr(calibration, "measure", lambda *a, **kw: pytest.fail("measured a clear case"))
        c = planner.decide(self._problem())
        assert c.method == "direct" and not c.measured

    def test_measuring_off_by_environment(self, monkeypatch):
        monkeypatch.setenv("CONVSCOPE_MEASURE", "0")
        self._fake_costs(monkeypatch, {"direct": 1.0e-4, "fft": 1.1e-4, "overlap_add": 9e-4})
        monkeypatch.setattr(calibration, "measure", lambda *a, **kw: pytest.fail("measured with CONVSCOPE_MEASURE=0"))
        assert not planner.measuring_enabled()
        c = planner.decide(self._problem())
        assert c.method == "direct" and not c.measured

    def test_measuring_off_by_argument(self, monkeypatch):
        self._fake_costs(monkeypatch, {"direct": 1.0e-4, "fft": 1.1e-4, "overlap_add": 9e-4})
        monkeypatch.setattr(calibration, "measure", lambda *a, **kw: pytest.fail("measured with measure=False"))
        assert not choose_method(2, 3, 4, 1, 24, 24, 5, 5, pads=(2,) * 4, measure=False).measured

    def test_training_is_left_to_the_model(self, monkeypatch):
        self._fake_costs(monkeypatch, {"direct": 1.0e-4, "fft": 1.1e-4, "overlap_add": 9e-4})
        monkeypatch.setattr(calibration, "measure", lambda *a, **kw: pytest.fail("timed a forward pass for a training problem"))
        assert not planner.decide(self._problem(training=True)).measured

    def test_real_measurement_through_convolve2d(self, monkeypatch):
        # a genuinely unsure case end to end: the answer is right whichever wins
        self._fake_costs(monkeypatch, {"direct": 1.0e-4, "fft": 1.2e-4, "overlap_add": 9e-4})
        x, k = np.random.default_rng(0).random((24, 24)), np.random.default_rng(1).random((5, 5))
        out = convolve2d(x, k)
        assert any(c.measured for c in planner.PLANNER.decided.values())
        np.testing.assert_allclose(out, ss.convolve2d(x, k, mode="same"), rtol=1e-10, atol=1e-12)

    def test_choose_method_takes_the_thread_count(self):
        a = choose_method(1, 1, 1, 1, 64, 64, 3, 3, threads=1, measure="unsure")
        b = choose_method(1, 1, 1, 1, 64, 64, 3, 3, threads=3, measure="unsure")
        assert a.method in select.CANDIDATES and b.method in select.CANDIDATES
        with pytest.raises(ValueError, match="threads must be an integer >= 1"):
            choose_method(1, 1, 1, 1, 64, 64, 3, 3, threads=0)
        with pytest.raises(ValueError, match="measure must be one of 'unsure'"):
            choose_method(1, 1, 1, 1, 64, 64, 3, 3, measure="sometimes")


def test_unwritable_cache_dir_warns_once_and_keeps_the_choice(monkeypatch, tmp_path):
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("x")  # a directory path under a regular file: never writable, even as root
    monkeypatch.setenv("CONVSCOPE_CACHE_DIR", str(blocked / "cache"))
    monkeypatch.setattr(planner.PLANNER, "measured", {})
    monkeypatch.setattr(wisdom, "_warned_unwritable", False)
    with pytest.warns(RuntimeWarning, match="cannot write the method cache") as rec:
        c = choose_method(1, 2, 2, 1, 16, 16, 3, 3, measure=True, persist=True)
        d = choose_method(1, 2, 3, 1, 16, 16, 3, 3, measure=True, persist=True)  # a second signature
    assert len([w for w in rec if "cannot write" in str(w.message)]) == 1  # once
    assert c.measured and d.measured
    assert choose_method(1, 2, 2, 1, 16, 16, 3, 3, measure=True, persist=True).method == c.method  # from memory


def test_planner_reset_clears_every_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("CONVSCOPE_CACHE_DIR", str(tmp_path))
    p = planner.PLANNER
    caches = (p.constants, p.measured, p.decided, p.opencv_plans)
    convolve2d(np.ones((32, 32), np.float32), np.ones((3, 3), np.float32))  # numpy fast path: plans, decisions
    choose_method(1, 2, 2, 1, 16, 16, 3, 3, measure=True)  # a measured choice
    assert all(caches), [len(c) for c in caches]
    planner.reset()  # the module-level reset is the process planner's
    assert not any(caches), [len(c) for c in caches]

"""choose_method: the cost model's decisions (the traps of the method choice) and the measured cache."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.signal as ss
import torch

from convscope.conv import (
    calibration,
    choose_method,
    conv2d,
    convolve2d,
    correlate2d,
    planner,
    select,
    wisdom,
)
from convscope.conv.problem import ConvProblem

# the problem each call names, written as the positional form took it before:
# (B, Cin, Cout, groups, H, W, kH, kW) and its keywords
_SAME_AS_BEFORE = (
    (((512, 512), (3, 3)), {}, (1, 1, 1, 1, 512, 512, 3, 3), dict(pads=(1,) * 4, opencv=True), "opencv"),
    (((3, 512, 512), (31, 31)), {}, (3, 1, 1, 1, 512, 512, 31, 31), dict(pads=(15,) * 4, opencv=True), "fft"),
    (((100, 80), (4, 6)), {"mode": "full"}, (1, 1, 1, 1, 100, 80, 4, 6), dict(pads=(3, 3, 5, 5), opencv=True), None),
    (((1, 1, 8192, 8192), (1, 1, 17, 17)), {"mode": "valid"}, (1, 1, 1, 1, 8192, 8192, 17, 17), {}, "overlap_add"),
    (((8, 16, 64, 64), (16, 16, 7, 7)), {}, (8, 16, 16, 1, 64, 64, 7, 7), dict(pads=(3,) * 4), "direct"),
    (((8, 64, 64, 64), (64, 1, 31, 31)), {"groups": 64}, (8, 64, 64, 64, 64, 64, 31, 31), dict(pads=(15,) * 4), "fft"),
    (((2, 4, 64, 64), (4, 4, 7, 7)), {"mode": "valid", "dtype": torch.float64},
     (2, 4, 4, 1, 64, 64, 7, 7), dict(dtype=torch.float64), "direct"),
)  # fmt: skip


class TestChooseMethod:
    def test_returns_a_cost_for_every_candidate(self):
        c = choose_method((256, 256), (5, 5))
        assert set(c.costs) == {"direct", "opencv", "fft", "overlap_add"}
        assert c.method == min(c.costs, key=c.costs.get)
        assert all(v > 0 for v in c.costs.values()) and not c.measured
        assert "opencv" not in choose_method((1, 1, 256, 256), (1, 1, 5, 5)).costs  # a layer: never OpenCV

    def test_small_kernel_on_a_big_image_is_not_fft(self):
        # scipy.signal.choose_conv_method picks FFT for 3x3 on 512², OpenCV is ~50x faster
        for dtype in (torch.float32, torch.float64):
            c = choose_method((512, 512), (3, 3), dtype=dtype)
            assert c.method == "opencv"
            assert c.costs["fft"] > 5 * c.costs["opencv"]
        assert choose_method((1, 1, 512, 512), (1, 1, 3, 3)).method == "direct"

    def test_large_single_channel_kernel_avoids_onednn(self):
        # torch's oneDNN path with one channel and a 31x31 kernel is ~200x slower than the best
        c = choose_method((512, 512), (31, 31))
        assert c.method == "fft"
        assert c.costs["direct"] > 10 * c.costs["fft"]
        assert choose_method((8, 64, 64, 64), (64, 1, 31, 31), groups=64).method == "fft"  # depthwise too

    def test_overlap_add_only_in_its_band(self):
        # overlap-add only pays for large images with kernels small relative to them
        assert choose_method((1, 1, 512, 512), (1, 1, 63, 63)).method != "overlap_add"
        assert choose_method((1, 1, 64, 64), (1, 1, 15, 15)).method != "overlap_add"
        big = choose_method((1, 1, 8192, 8192), (1, 1, 17, 17), mode="valid")
        assert big.costs["overlap_add"] < big.costs["fft"]

    def test_dense_small_kernels_stay_direct(self):
        assert choose_method((32, 64, 32, 32), (64, 64, 3, 3)).method == "direct"
        assert choose_method((8, 16, 64, 64), (16, 16, 3, 3)).method == "direct"

    def test_float64_is_costlier(self):
        a = choose_method((2, 4, 64, 64), (4, 4, 7, 7), mode="valid")
        b = choose_method((2, 4, 64, 64), (4, 4, 7, 7), mode="valid", dtype=torch.float64)
        assert all(b.costs[m] > a.costs[m] for m in a.costs)

    @pytest.mark.parametrize(("call", "kw", "old", "old_kw", "method"), _SAME_AS_BEFORE)
    def test_shapes_give_the_answer_of_the_positional_form(self, call, kw, old, old_kw, method):
        c = choose_method(*call, threads=1, **kw)
        before = planner.PLANNER.choose(ConvProblem(*old, threads=1, **old_kw), measure=False)
        assert c == before  # the same method and the same predicted seconds
        if method is not None:
            assert c.method == method

    @pytest.mark.parametrize(("call", "kw", "old", "old_kw", "method"), _SAME_AS_BEFORE)
    def test_arrays_give_the_answer_of_their_shapes(self, call, kw, old, old_kw, method):
        kw = dict(kw)
        dtype = kw.pop("dtype", torch.float32)
        x = torch.zeros((), dtype=dtype).expand(call[0])  # a view of one value: no 8192² allocation
        w = np.zeros(call[1])  # float64: the input's dtype counts, not the weight's
        assert choose_method(x, w, **kw) == choose_method(*call, dtype=dtype, **kw)
        assert choose_method(x.numpy(), w, **kw) == choose_method(*call, dtype=dtype, **kw)

    def test_array_dtype_device_and_gradient_are_read(self):
        assert choose_method(np.zeros((64, 64)), (3, 3)) == choose_method((64, 64), (3, 3), dtype=torch.float64)
        assert choose_method(np.zeros((64, 64), np.uint8), (3, 3)) == choose_method((64, 64), (3, 3))  # computed in float32
        x = torch.zeros(1, 2, 64, 64, requires_grad=True)
        assert choose_method(x, (2, 2, 3, 3)) == choose_method((1, 2, 64, 64), (2, 2, 3, 3), training=True)
        with torch.no_grad():
            assert choose_method(x, (2, 2, 3, 3)) == choose_method((1, 2, 64, 64), (2, 2, 3, 3))
        assert "opencv" not in choose_method(torch.zeros(64, 64, requires_grad=True), (3, 3)).costs  # no autograd
        assert choose_method((64, 64), (3, 3), dtype=np.float64) == choose_method((64, 64), (3, 3), dtype=torch.float64)

    def test_the_problem_is_the_one_auto_asks(self, monkeypatch):
        # what convolve2d / conv2d hand the planner equals what choose_method describes
        seen = []
        monkeypatch.setenv("CONVSCOPE_MEASURE", "0")
        monkeypatch.setattr(planner.PLANNER, "choose", lambda p, **kw: seen.append(p) or select.MethodChoice("direct"))
        planner.reset()
        x = torch.randn(2, 3, 20, 24)
        calls = [
            (lambda: convolve2d(x, torch.ones(4, 5), mode="same", boundary="reflect"), (x, (4, 5)), {"boundary": "reflect"}),
            (lambda: correlate2d(x, torch.ones(3, 4, 5), mode="full"), (x, (3, 4, 5)), {"mode": "full"}),
            (lambda: conv2d(x, torch.ones(6, 3, 4, 4), padding="same", padding_mode="circular"),
             (x, (6, 3, 4, 4)), {"boundary": "circular"}),
            (lambda: conv2d(x, torch.ones(6, 3, 4, 4), padding="same"), (x, (6, 3, 4, 4)), {}),  # the odd row last
            (lambda: conv2d(x, torch.ones(6, 1, 3, 3), groups=3), (x, (6, 1, 3, 3)), {"groups": 3, "mode": "valid"}),
            (lambda: convolve2d(torch.ones(3, 3), torch.ones(5, 6), mode="valid"), ((3, 3), (5, 6)), {"mode": "valid"}),
        ]  # fmt: skip
        try:
            for run, args, kw in calls:
                run()
                auto = seen.pop()
                choose_method(*args, **kw)
                assert seen.pop() == auto, kw
        finally:
            planner.reset()  # the fake choices must not outlive the test

    def test_bad_arguments(self):
        bad = [
            ((8.0, (3, 3)), {}, TypeError, "input must be an array, a tensor or a shape \\(a tuple of ints\\), got 8.0"),
            (((8, 8), (3, True)), {}, TypeError, "weight must be an array, a tensor or a shape"),
            (((8, 0), (3, 3)), {}, ValueError, "input must be non-empty \\(every size >= 1\\), got \\(8, 0\\)"),
            (((8, 8), np.zeros((3, 0))), {}, ValueError, "weight must be non-empty .* got ndarray of shape \\(3, 0\\)"),
            (((8, 8), (3,)), {}, ValueError, "weight must be of shape \\(kH, kW\\), \\(C, kH, kW\\) or \\(C_out"),
            (((8, 8), (1, 1, 3, 3)), {}, ValueError, "input must be of shape \\(B, C_in, H, W\\) or \\(C_in, H, W\\)"),
            (((1, 4, 8, 8), (2, 3, 3, 3)), {}, ValueError, "weight must be of shape \\(C_out, 4/groups, kH, kW\\)"),
            (((1, 4, 8, 8), (2, 4, 3, 3)), {"boundary": "symmetric"}, ValueError, "boundary must be one of 'zeros', "
             "'reflect', 'replicate', 'circular' for a 4-D weight"),
            (((1, 4, 8, 8), (2, 4, 9, 9)), {"mode": "valid"}, ValueError, "input must be at least the kernel size \\(9, 9\\)"),
            (((2, 8, 8), (3, 3, 3)), {}, ValueError, "weight must be \\(kH, kW\\) or \\(2, kH, kW\\) to match"),
            (((2, 8, 8), (9, 9)), {"mode": "valid"}, ValueError, "weight must be no larger than the input \\(8, 8\\)"),
            (((8, 8), (3, 3)), {"groups": 2}, ValueError, "groups must be 1 for a 2-D or 3-D weight"),
            (((8, 8), (3, 3)), {"mode": "sideways"}, ValueError, "mode must be one of 'full', 'same', 'valid'"),
            (((8, 8), (3, 3)), {"boundary": "wrap"}, ValueError, "boundary must be one of 'zeros', 'reflect', 'symmetric'"),
            (((8, 8), (3, 3)), {"dtype": torch.int32}, ValueError, "dtype must be float32 or float64"),
            (((8, 8), (3, 3)), {"device": "abacus"}, ValueError, "device must be a torch device"),
            ((torch.zeros(8, 8, dtype=torch.complex64), (3, 3)), {}, TypeError, "input must be real-valued"),
        ]  # fmt: skip
        for args, kw, exc, match in bad:
            with pytest.raises(exc, match=match):
                choose_method(*args, **kw)
        with pytest.raises(TypeError, match="takes 2 positional arguments"):
            choose_method((8, 8), (3, 3), "same")  # options are keywords


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
        c = choose_method((2, 3, 24, 24), (4, 3, 5, 5), measure=True)
        assert c.measured and c.method in ("direct", "fft", "overlap_add")
        assert c.method == min(c.costs, key=c.costs.get)
        again = choose_method((2, 3, 24, 24), (4, 3, 5, 5), measure=True)
        assert again.method == c.method and len(calls) == 1  # second call: from the cache
        assert not wisdom.cache_path().exists()  # persist=False: nothing on disk

    def test_persists_to_disk_atomically_and_reloads(self, _isolated):
        c = choose_method((40, 40), (9, 9), measure=True, persist=True)
        path = wisdom.cache_path()
        assert path.parent == _isolated and path.exists()
        data = json.loads(path.read_text())
        assert list(data["choices"].values()) == [c.method]
        assert not list(_isolated.glob(".*.tmp"))  # no temporary file left behind
        planner.PLANNER.measured.clear()  # a new process: the decision comes back from disk without timing
        again = choose_method((40, 40), (9, 9), measure=True, persist=True)
        assert again.method == c.method

    def test_corrupt_cache_file_is_ignored(self, _isolated):
        wisdom.cache_path().write_text("{not json")
        c = choose_method((1, 2, 16, 16), (2, 2, 3, 3), mode="valid", measure=True, persist=True)
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
        assert not choose_method((2, 3, 24, 24), (4, 3, 5, 5), measure=False).measured

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
        a = choose_method((1, 1, 64, 64), (1, 1, 3, 3), mode="valid", threads=1, measure="unsure")
        b = choose_method((1, 1, 64, 64), (1, 1, 3, 3), mode="valid", threads=3, measure="unsure")
        assert a.method in select.CANDIDATES and b.method in select.CANDIDATES
        with pytest.raises(ValueError, match="threads must be an integer >= 1"):
            choose_method((1, 1, 64, 64), (1, 1, 3, 3), threads=0)
        with pytest.raises(ValueError, match="measure must be one of 'unsure'"):
            choose_method((1, 1, 64, 64), (1, 1, 3, 3), measure="sometimes")


def test_unwritable_cache_dir_warns_once_and_keeps_the_choice(monkeypatch, tmp_path):
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("x")  # a directory path under a regular file: never writable, even as root
    monkeypatch.setenv("CONVSCOPE_CACHE_DIR", str(blocked / "cache"))
    monkeypatch.setattr(planner.PLANNER, "measured", {})
    monkeypatch.setattr(wisdom, "_warned_unwritable", False)
    with pytest.warns(RuntimeWarning, match="cannot write the method cache") as rec:
        c = choose_method((1, 2, 16, 16), (2, 2, 3, 3), mode="valid", measure=True, persist=True)
        d = choose_method((1, 2, 16, 16), (3, 2, 3, 3), mode="valid", measure=True, persist=True)  # a second signature
    assert len([w for w in rec if "cannot write" in str(w.message)]) == 1  # once
    assert c.measured and d.measured
    assert choose_method((1, 2, 16, 16), (2, 2, 3, 3), mode="valid", measure=True, persist=True).method == c.method  # from memory


def test_planner_reset_clears_every_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("CONVSCOPE_CACHE_DIR", str(tmp_path))
    p = planner.PLANNER
    caches = (p.constants, p.measured, p.decided, p.opencv_plans)
    convolve2d(np.ones((32, 32), np.float32), np.ones((3, 3), np.float32))  # numpy fast path: plans, decisions
    choose_method((1, 2, 16, 16), (2, 2, 3, 3), mode="valid", measure=True)  # a measured choice
    assert all(caches), [len(c) for c in caches]
    planner.reset()  # the module-level reset is the process planner's
    assert not any(caches), [len(c) for c in caches]

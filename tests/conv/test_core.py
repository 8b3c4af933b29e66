"""The engine's core: one problem description, the method rules once, no cycle between api and transposed."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
import torch

import convscope.conv as cc
from convscope.conv import core, planner
from convscope.conv.problem import ConvProblem

CONV = Path(cc.__file__).parent


def _imports(module: str) -> set[str]:
    """Sibling modules of convscope.conv imported (anywhere, even inside functions) by ``module``."""
    tree = ast.parse((CONV / f"{module}.py").read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                out.add(node.module.split(".")[0])
            else:
                out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("convscope.conv."):
            out.add(node.module.split(".")[2])
    return out


def test_core_imports_neither_api_nor_transposed():
    assert not _imports("core") & {"api", "transposed", "modules"}


def test_no_import_cycle_inside_conv():
    mods = [p.stem for p in CONV.glob("*.py") if p.stem != "__init__"]
    graph = {m: _imports(m) & set(mods) for m in mods}
    assert "transposed" not in graph["api"] and "api" not in graph["transposed"]

    def reach(start):
        seen, stack = set(), list(graph[start])
        while stack:
            m = stack.pop()
            if m not in seen:
                seen.add(m)
                stack += graph[m]
        return seen

    assert [m for m in mods if m in reach(m)] == []


class TestConvProblem:
    def test_hashable_and_equal_by_value(self):
        a = ConvProblem(1, 2, 3, 1, 8, 8, 3, 3, pads=(1, 1, 1, 1), threads=2)
        b = ConvProblem(1, 2, 3, 1, 8, 8, 3, 3, pads=(1, 1, 1, 1), threads=2)
        assert a == b and hash(a) == hash(b) and len({a, b}) == 1
        with pytest.raises(AttributeError):
            a.H = 9  # immutable

    def test_thread_count_is_part_of_the_signature(self):
        one = ConvProblem(1, 1, 1, 1, 64, 64, 3, 3, threads=1)
        two = ConvProblem(1, 1, 1, 1, 64, 64, 3, 3, threads=2)
        assert one != two and one.signature() != two.signature()
        assert "t2" in two.signature()

    def test_auto_describes_the_call_with_the_current_thread_count(self, monkeypatch):
        seen = []
        real = planner.decide
        monkeypatch.setattr(core, "decide", lambda p: seen.append(p) or real(p))
        n = torch.get_num_threads()
        try:
            for threads in (1, 2):
                torch.set_num_threads(threads)
                cc.conv2d(torch.randn(1, 2, 9, 9), torch.randn(2, 2, 3, 3), padding=1)
        finally:
            torch.set_num_threads(n)
        assert [p.threads for p in seen] == [1, 2]

    def test_layers_describe_stride_dilation_and_transposition(self, monkeypatch):
        seen = []
        real = planner.decide
        monkeypatch.setattr(core, "decide", lambda p: seen.append(p) or real(p))
        cc.conv2d(torch.randn(1, 2, 16, 16), torch.randn(4, 2, 3, 3), stride=2, dilation=2)
        cc.conv_transpose2d(torch.randn(1, 4, 8, 8), torch.randn(4, 3, 4, 4), stride=2, padding=1)
        strided, transposed = seen
        assert strided.stride == (2, 2) and strided.dilation == (2, 2) and not strided.transposed
        assert transposed.transposed and transposed.Cout == 3 and transposed.stride == (2, 2)


class TestMethodRules:
    def test_auto_falls_back_to_a_spatial_method_on_nan(self):
        x = torch.ones(1, 1, 64, 64)
        x[0, 0, 32, 32] = float("nan")
        w = torch.ones(1, 1, 31, 31)
        p = core.problem(x, w, 1, (15, 15, 15, 15))
        assert planner.decide(p).method in ("fft", "overlap_add")  # the model's pick...
        assert core.pick_method("auto", p, x, w) == "direct"  # ...made safe for NaN
        out = core.correlate_padded(x, w, 1, (15, 15, 15, 15))
        assert torch.isnan(out).sum() == 31 * 31  # NaN stays local

    def test_named_spectral_method_refuses_nan(self):
        x = torch.full((1, 1, 8, 8), float("inf"))
        with pytest.raises(ValueError, match="method must be 'direct' or 'auto' for non-finite"):
            core.pick_method("fft", None, x, torch.ones(1, 1, 3, 3))
        assert core.pick_method("direct", None, x, torch.ones(1, 1, 3, 3)) == "direct"

    def test_training_flag_reaches_the_problem(self):
        x, w = torch.randn(1, 1, 8, 8), torch.randn(1, 1, 3, 3, requires_grad=True)
        assert core.problem(x, w, 1, (0, 0, 0, 0)).training
        with torch.no_grad():
            assert not core.problem(x, w, 1, (0, 0, 0, 0)).training

    def test_spectrum_cache_key_only_without_gradient(self):
        w = torch.randn(2, 2, 3, 3, requires_grad=True)
        assert core.spectrum_cache_for({}, w) is None
        assert core.spectrum_cache_for(None, w.detach()) is None
        with torch.no_grad():
            _store, key = core.spectrum_cache_for({}, w, (2, 2), (1, 1))
        assert key[-2:] == ((2, 2), (1, 1))


class TestNumpyFastPath:
    def test_the_plan_is_a_named_tuple(self, monkeypatch):
        monkeypatch.setenv("CONVSCOPE_MEASURE", "0")  # the model alone: a deterministic choice
        plan = cc.api._fast_plan(np.ones((64, 64), np.float32), np.ones((3, 3)), "same", "zeros", True, 1)
        assert isinstance(plan, cc.api.FastPlan)
        assert plan._fields == ("N", "pads", "one_call", "anchor", "border", "convert", "dft")
        assert (plan.N, plan.pads, plan.one_call, plan.anchor) == (1, (1, 1, 1, 1), True, (1, 1))
        assert plan.border == cc.api._cv2.BORDER_CONSTANT and plan.convert and not plan.dft
        wrap = cc.api._fast_plan(np.ones((3, 64, 64)), np.ones((9, 9)), "full", "circular", True, 1)
        assert (wrap.N, wrap.pads, wrap.one_call, wrap.convert, wrap.dft) == (3, (8,) * 4, False, False, True)
        assert wrap.border == cc.api._cv2.BORDER_WRAP
        # not OpenCV's: None, and convolve2d caches that answer too
        assert cc.api._fast_plan(np.ones((64, 64), np.float32), np.ones((3, 3), np.float32), "valid", "zeros", True, 1) is None
        planner.reset()
        cc.convolve2d(np.ones((8, 8), np.float32), np.ones((3, 3), np.float32), mode="valid")
        assert list(planner.PLANNER.opencv_plans.values()) == [None]

    def test_one_plane_needs_no_copy_of_the_image(self, monkeypatch):
        # the fast path hands the caller's array to filter2D itself: no ascontiguousarray/astype pass
        x = np.random.default_rng(0).random((64, 64)).astype(np.float32)
        k = np.arange(9, dtype=np.float32).reshape(3, 3)
        seen = []
        real = cc.api._cv2.filter2D
        monkeypatch.setattr(cc.api._cv2, "filter2D", lambda src, *a, **kw: seen.append(src) or real(src, *a, **kw))
        out = cc.convolve2d(x, k)
        assert seen and seen[0] is x
        import scipy.signal as ss

        np.testing.assert_allclose(out, ss.convolve2d(x, k, mode="same"), rtol=1e-5, atol=1e-4)

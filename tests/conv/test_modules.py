"""CNN layers (torch semantics): conv2d, conv_transpose2d, Conv2d, ConvTranspose2d against torch."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import convscope as cs
from conftest import assert_close
from convscope.conv import (
    Conv2d,
    ConvTranspose2d,
    conv2d,
    conv_transpose2d,
    conv_transpose2d_reference,
    zero_insert,
)

METHODS = ["auto", "direct", "fft", "overlap_add"]
f64 = torch.float64

# (C_in, C_out, groups): dense, grouped, depthwise
CHANNELS = [(4, 6, 1), (6, 4, 2), (4, 4, 4)]
KERNELS = [(3, 3), (4, 4), (2, 5)]  # odd, even, non-square


def conv_grid():
    for (cin, cout, g), k, stride, dilation, padding, pm in itertools.product(
        CHANNELS, KERNELS, [1, 2, (2, 3)], [1, 2], [0, 1, (2, 1), "same", "valid"], ["zeros", "reflect", "circular"]
    ):
        if padding == "same" and stride != 1:
            continue
        yield cin, cout, g, k, stride, dilation, padding, pm


def torch_conv(x, w, b, stride, padding, dilation, groups, pm):
    m = nn.Conv2d(x.shape[1], w.shape[0], w.shape[-2:], stride, padding, dilation, groups, b is not None, pm, dtype=x.dtype)
    with torch.no_grad():
        m.weight.copy_(w)
        if b is not None:
            m.bias.copy_(b)
    return m(x)


class TestConv2d:
    @pytest.mark.parametrize("full", [False, pytest.param(True, marks=pytest.mark.slow)])
    @pytest.mark.parametrize("method", METHODS)
    def test_matches_torch_over_the_grid(self, method, full):
        n = 0
        for cin, cout, g, k, stride, dilation, padding, pm in itertools.islice(conv_grid(), 0, None, 1 if full else 5):
            x = torch.randn(2, cin, 11, 10, dtype=f64)
            w = torch.randn(cout, cin // g, *k, dtype=f64)
            b = torch.randn(cout, dtype=f64)
            try:
                ref = torch_conv(x, w, b, stride, padding, dilation, g, pm)
            except RuntimeError:
                continue  # torch rejects it (e.g. reflect padding larger than the input)
            out = conv2d(x, w, b, stride, padding, dilation, g, padding_mode=pm, method=method)
            assert_close(out, ref)
            n += 1
        assert n > (300 if full else 60)

    @pytest.mark.parametrize("method", METHODS)
    def test_float32(self, method):
        x, w = torch.randn(2, 3, 20, 20), torch.randn(5, 3, 7, 7)
        out = conv2d(x, w, padding=3, method=method)
        assert out.dtype == torch.float32
        assert_close(out, F.conv2d(x, w, padding=3))

    @pytest.mark.parametrize("method", METHODS)
    @pytest.mark.parametrize(
        "kw",
        [
            {"padding": 1},
            {"padding": "same", "dilation": 2},
            {"stride": 2, "padding": (1, 2)},
            {"groups": 2, "padding": "valid"},
            {"groups": 4, "stride": (2, 1), "padding_mode": "reflect", "padding": 1},
        ],
    )
    @pytest.mark.parametrize("fast", [True, pytest.param(False, marks=pytest.mark.slow)])
    def test_gradcheck(self, method, kw, fast):
        x = torch.randn(1, 4, 6, 5, dtype=f64, requires_grad=True)
        w = torch.randn(4, 4 // kw.get("groups", 1), 3, 2, dtype=f64, requires_grad=True)
        b = torch.randn(4, dtype=f64, requires_grad=True)
        fn = lambda x, w, b: conv2d(x, w, b, method=method, **kw)  # noqa: E731
        assert torch.autograd.gradcheck(fn, (x, w, b), fast_mode=fast)

    @settings(max_examples=30, deadline=None)
    @given(
        B=st.integers(1, 2), g=st.sampled_from([1, 2]), cpg=st.integers(1, 2), opg=st.integers(1, 2),
        H=st.integers(1, 11), W=st.integers(1, 11), kH=st.integers(1, 5), kW=st.integers(1, 5),
        stride=st.integers(1, 3), dilation=st.integers(1, 2), padding=st.integers(0, 3),
        method=st.sampled_from(METHODS), seed=st.integers(0, 2**16),
    )  # fmt: skip
    def test_random_shapes(self, B, g, cpg, opg, H, W, kH, kW, stride, dilation, padding, method, seed):
        r = torch.Generator().manual_seed(seed)
        x = torch.randn(B, g * cpg, H, W, generator=r, dtype=f64)
        w = torch.randn(g * opg, cpg, kH, kW, generator=r, dtype=f64)
        if H + 2 * padding < dilation * (kH - 1) + 1 or W + 2 * padding < dilation * (kW - 1) + 1:
            with pytest.raises(ValueError, match="input must be at least the dilated kernel size"):
                conv2d(x, w, None, stride, padding, dilation, g, method=method)
            return
        assert_close(conv2d(x, w, None, stride, padding, dilation, g, method=method), F.conv2d(x, w, None, stride, padding, dilation, g))

    def test_gradients_equal_torchs(self):
        x = torch.randn(2, 4, 12, 12, dtype=f64, requires_grad=True)
        w = torch.randn(6, 2, 5, 5, dtype=f64, requires_grad=True)
        g = torch.randn(2, 6, 4, 4, dtype=f64)
        F.conv2d(x, w, None, 3, 2, 1, 2).backward(g)
        ref = (x.grad.clone(), w.grad.clone())
        for method in METHODS:
            x.grad = w.grad = None
            conv2d(x, w, None, 3, 2, 1, 2, method=method).backward(g)
            assert_close(x.grad, ref[0])
            assert_close(w.grad, ref[1])

    def test_unbatched_and_numpy(self):
        x, w = np.random.rand(3, 9, 9), np.random.rand(2, 3, 3, 3)
        out = conv2d(x, w, padding=1)
        assert isinstance(out, np.ndarray) and out.shape == (2, 9, 9)
        assert_close(out, F.conv2d(torch.from_numpy(x)[None], torch.from_numpy(w), padding=1)[0])

    def test_non_contiguous(self):
        x = torch.randn(2, 9, 9, 3, dtype=f64).permute(0, 3, 1, 2)
        w = torch.randn(4, 3, 3, 3, dtype=f64)
        for method in METHODS:
            assert_close(conv2d(x, w, padding=1, method=method), F.conv2d(x.contiguous(), w, padding=1))

    def test_large_kernel_picks_fft_and_is_right(self):
        x, w = torch.randn(2, 4, 48, 48), torch.randn(4, 4, 31, 31)
        assert cs.choose_method(x, w).method == "fft"
        assert_close(conv2d(x, w, padding=15), F.conv2d(x, w, padding=15))

    def test_non_finite(self):
        x = torch.randn(1, 2, 40, 40)
        x[0, 0, 5, 5] = float("nan")
        w = torch.randn(2, 2, 31, 31)
        out = conv2d(x, w)  # auto must not let the FFT smear the NaN
        assert torch.isnan(out).any() and torch.isfinite(out[..., -1, -1]).all()
        with pytest.raises(ValueError, match="method must be 'direct' or 'auto' for non-finite input or kernel"):
            conv2d(x, w, method="fft")

    @pytest.mark.parametrize(
        ("call", "exc", "match"),
        [
            (lambda: conv2d(torch.ones(1, 3, 5, 5), torch.ones(2, 2, 3, 3)), ValueError, r"weight must be of shape \(C_out, 3/groups=3, kH, kW\)"),
            (lambda: conv2d(torch.ones(5, 5), torch.ones(1, 1, 3, 3)), ValueError, r"input must be of shape \(B, C, H, W\) or \(C, H, W\)"),
            (lambda: conv2d(torch.ones(1, 1, 5, 5), torch.ones(1, 1, 3, 3), stride=0), ValueError, r"stride must be ints >= 1, got \(0, 0\)"),
            (lambda: conv2d(torch.ones(1, 1, 5, 5), torch.ones(1, 1, 3, 3), padding="full"), ValueError, "padding must be one of 'same', 'valid', got 'full'"),
            (lambda: conv2d(torch.ones(1, 1, 5, 5), torch.ones(1, 1, 3, 3), stride=2, padding="same"), ValueError, "padding must be 'valid' or numeric when stride > 1"),
            (lambda: conv2d(torch.ones(1, 1, 2, 2), torch.ones(1, 1, 3, 3)), ValueError, "input must be at least the dilated kernel size after padding"),
            (lambda: conv2d(torch.ones(1, 1, 5, 5), torch.ones(1, 1, 3, 3), padding_mode="symmetric"), ValueError, "padding_mode must be one of 'zeros', 'reflect', 'replicate', 'circular'"),
            (lambda: conv2d(torch.ones(1, 1, 5, 5), torch.ones(1, 1, 3, 3), groups=0), ValueError, "groups must be a positive integer, got 0"),
            (lambda: conv2d(torch.ones(1, 1, 5, 5), torch.ones(1, 1, 3, 3), dilation=1.5), TypeError, "dilation must be an int or a pair of ints"),
        ],
    )
    def test_errors(self, call, exc, match):
        with pytest.raises(exc, match=match):
            call()


def transpose_grid():
    for (cin, cout, g), k, stride, dilation, padding, op in itertools.product(
        CHANNELS, KERNELS, [1, 2, (2, 3)], [1, 2], [0, 1, (2, 1), 3], [0, 1]
    ):
        yield cin, cout, g, k, stride, dilation, padding, op


class TestConvTranspose2d:
    def test_seed_three_by_three_stride_two_gives_five_by_five(self):
        x = torch.arange(1.0, 10.0).reshape(1, 1, 3, 3)
        w = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]).reshape(1, 1, 3, 3)
        # the zero-inserted input: stride-1 zeros between the samples
        xz = zero_insert(x, (2, 2))
        assert xz.shape == (1, 1, 5, 5) and torch.equal(xz[0, 0, ::2, ::2], x[0, 0]) and xz[0, 0, 1::2].abs().sum() == 0
        ref = F.conv_transpose2d(x, w, stride=2, padding=1)
        assert ref.shape == (1, 1, 5, 5)
        for out in [conv_transpose2d_reference(x, w, stride=2, padding=1)] + [
            conv_transpose2d(x, w, stride=2, padding=1, method=m) for m in METHODS
        ]:
            assert out.shape == (1, 1, 5, 5)
            assert_close(out, ref)
        # written out: the full convolution of the zero-inserted input with the (flipped) kernel
        full = cs.convolve2d(xz[0, 0], w[0, 0], mode="full")  # 7x7
        assert_close(ref[0, 0], full[1:-1, 1:-1])

    @pytest.mark.parametrize("full", [False, pytest.param(True, marks=pytest.mark.slow)])
    @pytest.mark.parametrize("method", METHODS)
    def test_matches_torch_over_the_grid(self, method, full):
        n = 0
        for cin, cout, g, k, stride, dilation, padding, op in itertools.islice(transpose_grid(), 0, None, 1 if full else 3):
            x = torch.randn(2, cin, 6, 5, dtype=f64)
            w = torch.randn(cin, cout // g, *k, dtype=f64)
            b = torch.randn(cout, dtype=f64)
            try:
                ref = F.conv_transpose2d(x, w, b, stride, padding, op, g, dilation)
            except RuntimeError:
                continue
            assert_close(conv_transpose2d(x, w, b, stride, padding, op, g, dilation, method=method), ref)
            n += 1
        assert n > (200 if full else 60)

    @pytest.mark.parametrize("method", ["direct", "fft"])
    def test_reference_matches_torch(self, method):
        for cin, cout, g, k, stride, dilation, padding, op in itertools.islice(transpose_grid(), 0, None, 7):
            x = torch.randn(1, cin, 5, 6, dtype=f64)
            w = torch.randn(cin, cout // g, *k, dtype=f64)
            try:
                ref = F.conv_transpose2d(x, w, None, stride, padding, op, g, dilation)
            except RuntimeError:
                continue
            assert_close(conv_transpose2d_reference(x, w, None, stride, padding, op, g, dilation, method=method), ref)

    @pytest.mark.parametrize("method", METHODS)
    def test_gradcheck(self, method):
        x = torch.randn(1, 4, 4, 5, dtype=f64, requires_grad=True)
        w = torch.randn(4, 3, 4, 3, dtype=f64, requires_grad=True)
        b = torch.randn(6, dtype=f64, requires_grad=True)
        fn = lambda x, w, b: conv_transpose2d(x, w, b, 2, 1, 1, 2, 1, method=method)  # noqa: E731
        assert torch.autograd.gradcheck(fn, (x, w, b), fast_mode=True)

    def test_large_kernel_fft_path(self):
        x, w = torch.randn(2, 3, 20, 20), torch.randn(3, 2, 21, 21)
        for method in METHODS:
            assert_close(conv_transpose2d(x, w, None, 2, 10, 1, method=method), F.conv_transpose2d(x, w, None, 2, 10, 1))

    @pytest.mark.parametrize("method", METHODS)
    def test_adjoint(self, method):
        """<conv(x), y> = <x, convT(y)>: the transposed convolution is the adjoint."""
        x = torch.randn(2, 4, 13, 12, dtype=f64)
        w = torch.randn(6, 2, 3, 4, dtype=f64)
        y_shape = conv2d(x, w, None, 2, 1, 1, 2).shape
        y = torch.randn(y_shape, dtype=f64)
        op = (13 + 2 - 3) % 2, (12 + 2 - 4) % 2  # output_padding recovers the input size
        lhs = (conv2d(x, w, None, 2, 1, 1, 2, method=method) * y).sum()
        rhs = (x * conv_transpose2d(y, w, None, 2, 1, op, 2, method=method)).sum()
        assert abs(float(lhs - rhs)) < 1e-10 * abs(float(lhs))

    def test_non_finite(self):
        x = torch.randn(1, 2, 12, 12)
        x[0, 1, 3, 3] = float("inf")
        w = torch.randn(2, 3, 21, 21)
        out = conv_transpose2d(x, w, stride=2)  # auto: never the FFT with an Inf inside
        assert torch.isfinite(out[..., :2, :2]).all() and not torch.isfinite(out).all()
        for method in ("fft", "overlap_add"):
            with pytest.raises(ValueError, match="method must be 'direct' or 'auto' for non-finite input"):
                conv_transpose2d(x, w, stride=2, method=method)

    def test_errors(self):
        x, w = torch.ones(1, 2, 4, 4), torch.ones(2, 1, 3, 3)
        with pytest.raises(ValueError, match="output_padding must be smaller than either stride or dilation"):
            conv_transpose2d(x, w, stride=2, output_padding=2)
        with pytest.raises(ValueError, match=r"weight must be of shape \(2, C_out/groups, kH, kW\)"):
            conv_transpose2d(x, torch.ones(3, 1, 3, 3))
        with pytest.raises(ValueError, match="padding must be small enough for a non-empty output"):
            conv_transpose2d(x, w, padding=5)
        with pytest.raises(ValueError, match="method must be one of"):
            conv_transpose2d(x, w, method="winograd")


class TestModules:
    def test_conv2d_loads_torch_state_dict_and_matches(self):
        for kw in [{"padding": "same"}, {"stride": 2, "padding": 1, "groups": 2}, {"padding": 2, "padding_mode": "reflect", "dilation": 2}]:
            ref = nn.Conv2d(4, 6, 5, **kw)
            x = torch.randn(2, 4, 17, 16)
            for method in METHODS:
                m = Conv2d(4, 6, 5, **kw, method=method)
                m.load_state_dict(ref.state_dict())
                assert_close(m(x), ref(x))
                assert_close(m(x), conv2d(x, m.weight, m.bias, m.stride, m.padding, m.dilation, m.groups, padding_mode=m.padding_mode, method=method))

    def test_same_parameters_as_torch(self):
        m, ref = Conv2d(3, 8, (3, 5), bias=False), nn.Conv2d(3, 8, (3, 5), bias=False)
        assert {k: v.shape for k, v in m.state_dict().items()} == {k: v.shape for k, v in ref.state_dict().items()}
        assert "method='auto'" in repr(m)
        with pytest.raises(ValueError, match="method must be one of"):
            Conv2d(3, 8, 3, method="magic")

    def test_spectrum_cache_for_inference(self):
        m = Conv2d(3, 4, 9, padding=4, method="fft").eval()
        x = torch.randn(2, 3, 20, 20)
        with torch.no_grad():
            y1 = m(x)
            assert len(m._spectra) == 1
            key = next(iter(m._spectra))
            spectrum = m._spectra[key]
            y2 = m(x)
            assert m._spectra[key] is spectrum  # reused, not recomputed
            assert torch.equal(y1, y2)
            m.weight.mul_(2)  # in-place change bumps the version: the cache must not serve it
            y3 = m(x)
            assert key not in m._spectra
        assert_close(y3, F.conv2d(x, m.weight, m.bias, padding=4))

    def test_training_recomputes_and_gradients_flow(self):
        m = Conv2d(2, 3, 7, padding=3, method="fft")
        ref = nn.Conv2d(2, 3, 7, padding=3)
        ref.load_state_dict(m.state_dict())
        x = torch.randn(2, 2, 16, 16)
        opt = torch.optim.SGD(m.parameters(), lr=0.1)
        opt_ref = torch.optim.SGD(ref.parameters(), lr=0.1)
        for _ in range(2):  # weights change between steps: outputs must follow
            for mod, o in ((m, opt), (ref, opt_ref)):
                o.zero_grad()
                mod(x).square().mean().backward()
                o.step()
            assert len(m._spectra) == 0  # nothing cached while a gradient flows to the weight
        assert_close(m.weight, ref.weight)
        with torch.no_grad():
            assert_close(m(x), ref(x))

    def test_conv_transpose_module(self):
        ref = nn.ConvTranspose2d(4, 2, 4, stride=2, padding=1)
        x = torch.randn(3, 4, 8, 8)
        for method in METHODS:
            m = ConvTranspose2d(4, 2, 4, stride=2, padding=1, method=method)
            m.load_state_dict(ref.state_dict())
            assert_close(m(x), ref(x))
            assert_close(m(x, output_size=(17, 17)), ref(x, output_size=(17, 17)))
            with torch.no_grad():
                assert_close(m(x), ref(x))

    def test_exported_from_the_package(self):
        assert cs.Conv2d is Conv2d and cs.ConvTranspose2d is ConvTranspose2d
        assert {"Conv2d", "ConvTranspose2d"} <= set(cs.__all__)

"""The continuous transform from samples, the analytic pairs, and the theorem's factor in each convention."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from convscope._checks import ArgumentError
from convscope.fourier import (
    CONVENTIONS,
    PAIRS,
    analytic_convolution,
    check_theorem,
    continuous_transform,
    dft_theorem,
    fourier_pair,
    frequencies,
    inverse_continuous_transform,
)

EXPECTED_FACTOR = {"unitary_angular": math.sqrt(2 * math.pi), "ordinary": 1.0, "angular": 1.0,
                   "angular_forward": 2 * math.pi}


def _grid(dx: float, half: float = 40.0) -> np.ndarray:
    return -half + dx * np.arange(round(2 * half / dx))


def _transform_error(pair, dx: float, convention: str, kmax_rad: float = 4.0) -> float:
    x = _grid(dx)
    k, F = continuous_transform(pair.f(x), dx, x0=x[0], convention=convention)
    sel = np.abs(k * CONVENTIONS[convention].scale) <= kmax_rad  # the same band of angular frequencies
    return float(np.abs(F[sel] - pair.transform(k[sel], convention)).max())


class TestConventions:
    def test_factors(self):
        for name, c in CONVENTIONS.items():
            assert c.factor == pytest.approx(EXPECTED_FACTOR[name], rel=1e-15)
            # forward · inverse · 2π / scale = 1: each pair of constants inverts
            assert c.forward * c.inverse * 2 * math.pi / c.scale == pytest.approx(1.0, rel=1e-15)

    def test_unknown_convention(self):
        with pytest.raises(ArgumentError, match=r"convention must be one of 'unitary_angular'"):
            frequencies(8, 0.1, convention="physics")

    def test_frequency_grid(self):
        k = frequencies(8, 0.25, convention="angular")
        assert np.allclose(k, 2 * np.pi * np.fft.fftshift(np.fft.fftfreq(8, 0.25)))
        assert np.allclose(frequencies(8, 0.25, convention="ordinary"), np.fft.fftshift(np.fft.fftfreq(8, 0.25)))


class TestContinuousTransform:
    @pytest.mark.parametrize("convention", list(CONVENTIONS))
    def test_gaussian_is_exact_to_rounding(self, convention):
        # smooth and decaying within the grid: the Riemann sum is spectrally accurate
        for sigma, mu in ((1.0, 0.0), (0.6, 1.3)):
            g = fourier_pair("gaussian", sigma=sigma, mu=mu)
            assert _transform_error(g, 0.05, convention) < 1e-12

    def test_against_numpy_definition(self, rng):
        # the formula itself: c dx e^{-i s k x0} DFT, on a random signal
        f, dx, x0 = rng.standard_normal(37), 0.3, -2.2
        for name, c in CONVENTIONS.items():
            k, F = continuous_transform(f, dx, x0=x0, convention=name, n=64)
            x = x0 + dx * np.arange(37)
            ref = c.forward * dx * np.exp(-1j * c.scale * k[:, None] * x[None, :]) @ f
            assert np.abs(F - ref).max() <= 1e-10 * np.abs(ref).max()

    def test_torch_in_torch_out(self):
        x = _grid(0.1, 10.0)
        f = fourier_pair("gaussian").f(x)
        k, F = continuous_transform(torch.from_numpy(f), 0.1, x0=x[0])
        assert isinstance(F, torch.Tensor) and isinstance(k, torch.Tensor)
        _, Fn = continuous_transform(f, 0.1, x0=x[0])
        assert np.allclose(F.numpy(), Fn, rtol=0, atol=1e-15)

    @pytest.mark.parametrize("name", PAIRS)
    def test_analytic_pairs_at_a_fine_grid(self, name):
        err = _transform_error(fourier_pair(name), 0.0125, "unitary_angular")
        assert err < 5e-5  # second order (edges at the mean of the jump) at dx = 1/80

    def test_box_is_the_sinc(self):
        b = fourier_pair("box", width=0.5)
        k = np.linspace(-20, 20, 11)
        # unit box of width 1: unitary transform sin(k/2) / (k/2) / √(2π)
        with np.errstate(invalid="ignore", divide="ignore"):
            ref = np.where(k == 0, 1.0, np.sin(k / 2) / (k / 2)) / math.sqrt(2 * math.pi)
        assert np.allclose(b.transform(k).real, ref, rtol=1e-12, atol=1e-15)

    def test_inverse_round_trip(self, rng):
        f, dx, x0 = rng.standard_normal(50), 0.2, 3.0
        for name in CONVENTIONS:
            _, F = continuous_transform(f, dx, x0=x0, convention=name, n=80)
            back = inverse_continuous_transform(F, dx, x0=x0, convention=name, n_samples=50)
            assert np.abs(back - f).max() <= 1e-12 * np.abs(f).max()

    @pytest.mark.parametrize("name, kw, rate", [
        ("two_sided_exponential", {}, 2.0),         # a kink: second order
        ("one_sided_exponential", {}, 2.0),         # a jump sampled at its mean (½): second order
        ("one_sided_exponential", {"edge": 1.0}, 1.0),  # a jump sampled at one side: first order
        ("box", {}, 2.0),
        ("box", {"edge": 1.0}, 1.0),
    ])
    def test_error_falls_at_the_expected_rate(self, name, kw, rate):
        pair = fourier_pair(name, **kw)
        dxs = np.array([0.1, 0.05, 0.025, 0.0125])
        errs = np.array([_transform_error(pair, dx, "unitary_angular") for dx in dxs])
        assert np.all(np.diff(errs) < 0), errs  # refining always helps
        slope = np.polyfit(np.log(dxs), np.log(errs), 1)[0]
        assert slope == pytest.approx(rate, abs=0.1), f"observed order {slope:.3f}, errors {errs}"

    def test_bad_arguments(self):
        with pytest.raises(ArgumentError, match=r"dx must be a finite number > 0.0"):
            continuous_transform(np.ones(4), 0.0)
        with pytest.raises(ArgumentError, match=r"n must be an integer >= 4"):
            continuous_transform(np.ones(4), 0.1, n=3)
        with pytest.raises(ArgumentError, match=r"samples must be a non-empty"):
            continuous_transform(np.ones(0), 0.1)
        with pytest.raises(ArgumentError, match=r"name must be one of 'gaussian'"):
            fourier_pair("triangle")


class TestTheorem:
    @pytest.mark.parametrize("convention", list(CONVENTIONS))
    def test_analytic_sides(self, convention):
        # F[f ⊛ g] for two Gaussians is the Gaussian of summed variances: the factor and nothing else
        f, g = fourier_pair("gaussian", sigma=0.7, mu=0.3), fourier_pair("gaussian", sigma=1.1, mu=-1.0)
        h = fourier_pair("gaussian", sigma=math.hypot(0.7, 1.1), mu=-0.7)
        k = np.linspace(-3, 3, 61)
        lhs = h.transform(k, convention)
        bare = f.transform(k, convention) * g.transform(k, convention)
        factor = CONVENTIONS[convention].factor
        assert np.abs(lhs - factor * bare).max() <= 1e-12 * np.abs(lhs).max()
        assert np.allclose(lhs / bare, factor, rtol=1e-12)  # without it: off by exactly the factor

    @pytest.mark.parametrize("convention", list(CONVENTIONS))
    def test_from_samples(self, convention):
        dx = 0.05
        x = _grid(dx, 20.0)
        f, g = fourier_pair("gaussian", sigma=1.0, mu=0.5), fourier_pair("one_sided_exponential", rate=1.5)
        c = check_theorem(f.f(x), g.f(x), dx, x0_f=x[0], x0_g=x[0], convention=convention)
        factor = EXPECTED_FACTOR[convention]
        assert c.factor == pytest.approx(factor, rel=1e-15)
        assert c.max_error < 1e-13  # both sides from the same samples agree to rounding
        assert c.ratio.real == pytest.approx(factor, rel=1e-12) and abs(c.ratio.imag) < 1e-12
        if factor != 1.0:
            assert c.max_error_without_factor > 0.1
            big = np.abs(c.Ff * c.Fg) > 1e-3 * np.abs(c.Ff * c.Fg).max()
            assert np.allclose(c.Fh[big] / (c.Ff * c.Fg)[big], factor, rtol=1e-9)
        else:
            assert c.max_error_without_factor == c.max_error
        # the sampled convolution approximates the integral (exponentially modified Gaussian)
        assert np.abs(c.h - analytic_convolution(f, g, c.x)).max() < 5e-4
        # and its transform approximates factor · F[f] F[g] from the closed forms
        sel = np.abs(c.k * c.convention.scale) < 4
        exact = factor * f.transform(c.k[sel], convention) * g.transform(c.k[sel], convention)
        assert np.abs(c.Fh[sel] - exact).max() < 1e-3

    def test_inverse_of_the_product_is_the_convolution(self):
        # the lecture notes' formula read right to left: h = F⁻¹(√(2π) F[f] F[g])
        dx = 0.05
        x = _grid(dx, 10.0)
        f, g = fourier_pair("box", width=1.0), fourier_pair("two_sided_exponential", rate=2.0)
        c = check_theorem(f.f(x), g.f(x), dx, x0_f=x[0], x0_g=x[0])
        h = inverse_continuous_transform(c.product, dx, x0=c.x[0])
        assert np.abs(h - c.h).max() <= 1e-12 * np.abs(c.h).max()

    def test_analytic_convolutions(self):
        x = np.linspace(-6, 6, 241)
        b1, b2 = fourier_pair("box", width=1.0), fourier_pair("box", width=0.5)
        tri = analytic_convolution(b1, b2, x)
        assert tri.max() == pytest.approx(1.0) and tri[np.abs(x) >= 1.5].max() == 0.0
        # areas multiply under convolution
        e = fourier_pair("one_sided_exponential", rate=2.0)
        g = fourier_pair("gaussian", sigma=0.5)
        xs = np.linspace(-10, 30, 40001)
        area = np.trapezoid(analytic_convolution(g, e, xs), xs)
        assert area == pytest.approx(0.5, rel=1e-8)
        assert np.isfinite(analytic_convolution(g, e, np.array([-1e3, 1e3]))).all()
        assert analytic_convolution(e, b1, x) is None

    def test_dft_theorem_has_no_factor(self, rng):
        f, g = rng.standard_normal(48), rng.standard_normal(48)
        err, lhs, rhs = dft_theorem(f, g)
        assert err < 1e-12
        # the circular convolution by its definition, index by index
        circ = np.array([sum(f[m] * g[(n - m) % 48] for m in range(48)) for n in range(48)])
        assert np.abs(lhs - np.fft.fft(circ)).max() <= 1e-10 * np.abs(lhs).max()
        assert np.abs(lhs - math.sqrt(2 * math.pi) * rhs).max() > 1.0  # √(2π) would be wrong here
        with pytest.raises(ArgumentError, match=r"g must be as long as f"):
            dft_theorem(f, g[:10])

"""Spectral derivatives: exact on smooth periodic functions, O(h²) finite differences for contrast."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import assert_close
from convscope import convolve2d, get_kernel
from convscope.data.images import load_image
from convscope.fourier import spectral_derivative, spectral_gradient, spectral_laplacian


def grid(n):
    """Periodic grid on [0, 2π)²: y down the rows, x along the columns; spacing h = 2π/n."""
    t = 2 * np.pi * np.arange(n) / n
    y, x = np.meshgrid(t, t, indexing="ij")
    return y, x, 2 * np.pi / n


def sines(n):
    """u = sin x + 0.5 cos 3y + sin(2x + 5y), with its exact derivatives."""
    y, x, h = grid(n)
    a = 2 * x + 5 * y
    u = np.sin(x) + 0.5 * np.cos(3 * y) + np.sin(a)
    d = {
        ("x", 1): np.cos(x) + 2 * np.cos(a),
        ("x", 2): -np.sin(x) - 4 * np.sin(a),
        ("x", 3): -np.cos(x) - 8 * np.cos(a),
        ("y", 1): -1.5 * np.sin(3 * y) + 5 * np.cos(a),
        ("y", 2): -4.5 * np.cos(3 * y) - 25 * np.sin(a),
        ("y", 3): 13.5 * np.sin(3 * y) - 125 * np.cos(a),
    }
    lap = -np.sin(x) - 4.5 * np.cos(3 * y) - 29 * np.sin(a)
    return u, d, lap, h


class TestSpectralDerivatives:
    @pytest.mark.parametrize("axis", ["x", "y"])
    @pytest.mark.parametrize("order", [1, 2, 3])
    @pytest.mark.parametrize("n", [64, 63])
    def test_exact_on_sums_of_sines(self, axis, order, n):
        u, d, _, h = sines(n)
        du = spectral_derivative(u, axis, order, spacing=h)
        assert np.abs(du - d[(axis, order)]).max() < 1e-10

    def test_gradient_and_laplacian(self):
        u, d, lap, h = sines(64)
        gy, gx = spectral_gradient(u, spacing=h)
        assert np.abs(gy - d[("y", 1)]).max() < 1e-10
        assert np.abs(gx - d[("x", 1)]).max() < 1e-10
        assert np.abs(spectral_laplacian(u, spacing=h) - lap).max() < 1e-10

    def test_axis_spellings_and_order_zero(self):
        u, _d, _, h = sines(32)
        a = spectral_derivative(u, "x", spacing=h)
        for ax in (-1, 1):
            np.testing.assert_array_equal(spectral_derivative(u, ax, spacing=h), a)
        np.testing.assert_array_equal(spectral_derivative(u[None], 2, spacing=h)[0], a)
        assert_close(spectral_derivative(u, "y", 0), u, np.float64)

    def test_finite_difference_is_second_order(self):
        errs = []
        for n in (32, 64):
            u, d, _, h = sines(n)
            fd = (np.roll(u, -1, axis=1) - np.roll(u, 1, axis=1)) / (2 * h)  # 3-point central difference
            errs.append(np.abs(fd - d[("x", 1)]).max())
        ratio = errs[0] / errs[1]
        assert 3.6 < ratio < 4.4  # O(h²): halving h quarters the error
        u, d, _, h = sines(32)
        assert np.abs(spectral_derivative(u, "x", spacing=h) - d[("x", 1)]).max() < 1e-6 * errs[0]

    def test_laplacian_agrees_with_laplacian4_at_low_frequencies(self):
        img = load_image("camera", size=128).astype(np.float64)
        spec = spectral_laplacian(img)
        stencil = convolve2d(img, -get_kernel("laplacian4"), boundary="circular")
        S, T = np.fft.fft2(spec), np.fft.fft2(stencil)
        fy, fx = np.meshgrid(np.fft.fftfreq(128), np.fft.fftfreq(128), indexing="ij")
        r = np.hypot(fy, fx)
        low = (r > 0) & (r < 0.05)
        rel_low = np.abs(S[low] - T[low]).max() / np.abs(S[low]).max()
        assert rel_low < 0.01
        # ... and they differ at high frequencies, where sin(πf) is no longer πf
        high = r > 0.4
        assert np.median(np.abs(S[high] - T[high]) / np.abs(S[high])) > 0.3

    def test_reflect_extension_for_non_periodic_images(self):
        n = 64
        t = np.arange(n, dtype=np.float64)
        u = (0.02 * t + np.exp(-(((t - 30) / 8) ** 2)))[None, :].repeat(8, 0)  # a ramp: not periodic
        exact = 0.02 - 2 * (t - 30) / 64 * np.exp(-(((t - 30) / 8) ** 2))
        inner = slice(12, -12)
        e_circ = np.abs(spectral_derivative(u, "x") - exact)[:, inner].max()
        for b in ("reflect", "symmetric"):
            e_refl = np.abs(spectral_derivative(u, "x", boundary=b) - exact)[:, inner].max()
            assert e_refl < e_circ / 5, (b, e_refl, e_circ)
        lap_refl = spectral_laplacian(u, boundary="reflect")
        assert lap_refl.shape == u.shape

    def test_torch_float32_and_gradcheck(self):
        u, d, _, h = sines(32)
        t = torch.from_numpy(u).float()
        du = spectral_derivative(t, "x", spacing=h)
        assert isinstance(du, torch.Tensor) and du.dtype == torch.float32
        assert_close(du, d[("x", 1)].astype(np.float32), torch.float32, atol_scale=10)
        x = torch.rand(1, 1, 6, 5, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda a: spectral_derivative(a, "y", 2, boundary="reflect"), (x,))
        assert torch.autograd.gradcheck(lambda a: spectral_laplacian(a), (x,))

    def test_errors(self):
        u = np.zeros((8, 8))
        with pytest.raises(ValueError, match="axis must be 'y', 'x', -2 or -1"):
            spectral_derivative(u, 2)
        with pytest.raises(ValueError, match="axis must be one of 'y', 'x', got 'z'"):
            spectral_derivative(u, "z")
        with pytest.raises(ValueError, match="order must be an integer >= 0"):
            spectral_derivative(u, "x", -1)
        with pytest.raises(ValueError, match=r"spacing must be a finite number > 0\.0"):
            spectral_derivative(u, "x", spacing=0)
        with pytest.raises(ValueError, match="boundary must be one of 'circular', 'reflect', 'symmetric'"):
            spectral_laplacian(u, boundary="zeros")
        with pytest.raises(TypeError, match="axis must be"):
            spectral_derivative(u, 1.0)

"""The convolution theorem: padded FFT == linear convolution, unpadded == circular."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal as ss
import torch

from conftest import assert_close
from convscope import convolve2d, get_kernel
from convscope.fourier import convolution_theorem, wrap_region


def circular_reference(x, k):
    """Circular convolution from scipy's full linear result, wrapped modulo (H, W), aligned as 'same'."""
    H, W = x.shape
    kH, kW = k.shape
    full = ss.convolve2d(x, k, mode="full")
    c = np.zeros((H, W))
    for i in range(full.shape[0]):
        for j in range(full.shape[1]):
            c[i % H, j % W] += full[i, j]
    return np.roll(c, (-((kH - 1) // 2), -((kW - 1) // 2)), axis=(0, 1))


KERNEL_SHAPES = [(3, 3), (5, 4), (1, 7), (8, 8)]


class TestConvolutionTheorem:
    @pytest.mark.parametrize("kshape", KERNEL_SHAPES)
    def test_padded_equals_full_convolution(self, rng, kshape):
        x = rng.standard_normal((23, 30))
        k = rng.standard_normal(kshape)
        r = convolution_theorem(x, k, pad=True, repeat=1)
        ref = convolve2d(x, k, mode="full")
        assert r.padded and r.wrap is None and r.wrap_error is None
        assert r.spatial.shape == r.frequency.shape == (23 + kshape[0] - 1, 30 + kshape[1] - 1)
        assert_close(r.frequency, ref, np.float64)
        assert_close(r.spatial, ss.convolve2d(x, k, mode="full"), np.float64)
        assert r.max_abs_diff <= 1e-10 * np.abs(ref).max()
        assert r.spatial_seconds > 0 and r.frequency_seconds > 0

    @pytest.mark.parametrize("kshape", KERNEL_SHAPES)
    def test_unpadded_equals_circular_convolution(self, rng, kshape):
        x = rng.standard_normal((19, 24))
        k = rng.standard_normal(kshape)
        r = convolution_theorem(x, k, pad=False, repeat=1)
        ref = circular_reference(x, k)
        assert r.fft_shape == (19, 24)
        assert_close(r.frequency, ref, np.float64)
        assert_close(r.spatial, ref, np.float64)
        # the wrap-around error lives exactly in the marked region
        linear = ss.convolve2d(x, k, mode="same")
        assert_close(r.wrap_error, ref - linear, np.float64)
        outside = np.abs(r.wrap_error[~r.wrap]).max()
        assert outside <= 1e-12 * np.abs(ref).max()
        if kshape != (1, 1):
            assert np.abs(r.wrap_error[r.wrap]).min() > 0 or np.abs(r.wrap_error[r.wrap]).max() > 1e-3

    def test_wrap_region_shape(self):
        w = wrap_region((10, 12), (5, 4))
        assert w.shape == (10, 12)
        rows = w[:, 5].numpy()  # a column away from the left/right bands
        np.testing.assert_array_equal(np.flatnonzero(rows), [0, 1, 8, 9])  # kH//2 = 2 top, (kH-1)//2 = 2 bottom
        cols = w[5].numpy()
        np.testing.assert_array_equal(np.flatnonzero(cols), [0, 1, 11])  # kW//2 = 2 left, (kW-1)//2 = 1 right

    def test_multichannel_batch_and_torch(self):
        x = torch.rand(2, 3, 20, 22, dtype=torch.float64)
        k = get_kernel("gaussian", 5)
        r = convolution_theorem(x, k)
        assert isinstance(r.frequency, torch.Tensor) and r.frequency.shape == (2, 3, 24, 26)
        assert_close(r.frequency, convolve2d(x, k, mode="full"), torch.float64)
        kc = torch.rand(3, 3, 3, dtype=torch.float64)  # one kernel per channel
        r = convolution_theorem(x, kc, pad=False)
        assert_close(r.frequency, convolve2d(x, kc, mode="same", boundary="circular"), torch.float64)
        assert isinstance(r.wrap, torch.Tensor)

    def test_float32(self, rng):
        x = rng.random((40, 40)).astype(np.float32)
        r = convolution_theorem(x, get_kernel("laplacian8"))
        assert r.frequency.dtype == np.float32
        assert_close(r.frequency, ss.convolve2d(x.astype(np.float64), get_kernel("laplacian8").numpy(), "full"),
                     np.float32, atol_scale=10)

    def test_errors(self):
        x = np.ones((8, 8))
        with pytest.raises(ValueError, match=r"kernel must be no larger than the image \(8, 8\) when pad=False"):
            convolution_theorem(x, np.ones((9, 3)), pad=False)
        with pytest.raises(ValueError, match="kernel must be of shape"):
            convolution_theorem(x, np.ones(3))
        with pytest.raises(ValueError, match="kernel must be"):
            convolution_theorem(np.ones((2, 8, 8)), np.ones((3, 3, 3)))
        with pytest.raises(ValueError, match="repeat must be an integer >= 1"):
            convolution_theorem(x, np.ones((3, 3)), repeat=0)
        with pytest.raises(ValueError, match="image must be of shape"):
            convolution_theorem(np.ones(8), np.ones((3, 3)))

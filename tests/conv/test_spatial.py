"""Image filtering (scipy semantics): convolve2d, correlate2d, pad2d, against scipy and numpy."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal as ss
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import convscope as cs
from conftest import assert_close
from convscope.conv import convolve2d, correlate2d, pad2d
from convscope.conv.padding import NUMPY_PAD_MODE
from convscope.conv.spatial import opencv_correlate

MODES = ["full", "same", "valid"]
BOUNDARIES = ["zeros", "reflect", "symmetric", "replicate", "circular"]
METHODS = ["auto", "direct", "fft", "overlap_add"]
SCIPY_BOUNDARY = {"zeros": "fill", "circular": "wrap", "symmetric": "symm"}


def reference(x, k, mode, boundary, flip=True):
    """scipy for its own boundaries; numpy.pad + scipy 'valid' for the others."""
    f = ss.convolve2d if flip else ss.correlate2d
    if boundary in SCIPY_BOUNDARY:
        return f(x, k, mode=mode, boundary=SCIPY_BOUNDARY[boundary])
    if mode == "valid":
        return f(x, k, mode="valid")
    kH, kW = k.shape
    xp = np.pad(x, ((kH - 1, kH - 1), (kW - 1, kW - 1)), mode=NUMPY_PAD_MODE[boundary])
    full = f(xp, k, mode="valid")
    if mode == "full":
        return full
    oh, ow = ((kH - 1) // 2, (kW - 1) // 2) if flip else (kH // 2, kW // 2)  # scipy's centring
    return full[oh : oh + x.shape[0], ow : ow + x.shape[1]]


def tol(dtype):
    return 1e-10 if dtype == np.float64 else 1e-4


class TestConvolve2d:
    @pytest.mark.parametrize("dtype", [np.float64, np.float32])
    @pytest.mark.parametrize("method", METHODS)
    @pytest.mark.parametrize("boundary", BOUNDARIES)
    @pytest.mark.parametrize("mode", MODES)
    def test_matches_scipy(self, mode, boundary, method, dtype, rng):
        x = rng.standard_normal((13, 11)).astype(dtype)
        for shape in [(3, 3), (4, 5), (1, 2)]:  # odd, even and non-square
            k = rng.standard_normal(shape).astype(dtype)
            out = convolve2d(x, k, mode=mode, boundary=boundary, method=method)
            assert out.dtype == dtype
            assert_close(out, reference(x.astype(np.float64), k.astype(np.float64), mode, boundary), rtol=tol(dtype))

    @pytest.mark.parametrize("mode", MODES)
    def test_output_sizes(self, mode):
        x, k = np.zeros((20, 17)), np.zeros((5, 4))
        expected = {"full": (24, 20), "same": (20, 17), "valid": (16, 14)}[mode]
        assert convolve2d(x, k, mode=mode).shape == expected

    def test_channels_and_batches_get_one_map_each(self, rng):
        x = rng.standard_normal((2, 3, 12, 10))
        k = rng.standard_normal((3, 3))
        out = convolve2d(x, k)
        assert out.shape == x.shape
        for b in range(2):
            for c in range(3):
                assert_close(out[b, c], ss.convolve2d(x[b, c], k, mode="same"))

    def test_per_channel_kernels(self, rng):
        x = rng.standard_normal((3, 12, 10))
        k = rng.standard_normal((3, 5, 5))
        for method in METHODS:
            out = convolve2d(x, k, method=method, boundary="reflect")
            for c in range(3):
                assert_close(out[c], reference(x[c], k[c], "same", "reflect"))

    def test_large_kernel_valid_swaps_like_scipy(self, rng):
        x, k = rng.standard_normal((4, 5)), rng.standard_normal((7, 9))
        for method in METHODS:
            assert_close(convolve2d(x, k, mode="valid", method=method), ss.convolve2d(x, k, mode="valid"))
            assert_close(correlate2d(x, k, mode="valid", method=method), ss.correlate2d(x, k, mode="valid"))

    @pytest.mark.parametrize("k", [3, 15, 31])
    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_auto_on_a_real_size_image(self, k, dtype, rng):
        # exercises whatever auto picks here (OpenCV for small k, FFT for large)
        x = rng.random((200, 190)).astype(dtype)
        kern = rng.random((k, k)).astype(dtype)
        assert_close(convolve2d(x, kern), ss.oaconvolve(x.astype(np.float64), kern.astype(np.float64), mode="same"), rtol=tol(dtype))

    def test_numpy_in_numpy_out_torch_in_torch_out(self, rng):
        x = rng.standard_normal((8, 8))
        k = cs.get_kernel("laplacian8")
        assert isinstance(convolve2d(x, k), np.ndarray)
        t = convolve2d(torch.from_numpy(x), k)
        assert isinstance(t, torch.Tensor) and t.dtype == torch.float64

    def test_dtypes(self):
        img = np.arange(64, dtype=np.uint8).reshape(8, 8)
        out = convolve2d(img, np.ones((3, 3)))
        assert out.dtype == np.float32  # uint8 promoted
        assert_close(out, ss.convolve2d(img.astype(np.float64), np.ones((3, 3)), mode="same"), rtol=1e-6)
        assert convolve2d(img.astype(np.float64), np.ones((3, 3), np.float32)).dtype == np.float64  # never downcast

    def test_non_contiguous_input(self, rng):
        x = rng.standard_normal((20, 30))[::2, ::3]  # strided view
        xt = torch.from_numpy(rng.standard_normal((10, 12))).t()  # transposed tensor
        k = rng.standard_normal((3, 4))
        for method in METHODS:
            assert_close(convolve2d(x, k, method=method), ss.convolve2d(x, k, mode="same"))
            assert_close(convolve2d(xt, k, method=method), ss.convolve2d(xt.numpy(), k, mode="same"))

    def test_gradient_through_every_method(self):
        x = torch.randn(1, 2, 7, 6, dtype=torch.float64, requires_grad=True)
        k = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
        for method in METHODS:
            assert torch.autograd.gradcheck(lambda a, b, m=method: convolve2d(a, b, method=m, boundary="reflect"), (x, k), fast_mode=True)

    def test_auto_keeps_the_kernel_gradient(self):
        # a small kernel on a big image is OpenCV territory, but OpenCV has no autograd
        x = torch.rand(64, 64, dtype=torch.float64)
        k = torch.rand(3, 3, dtype=torch.float64, requires_grad=True)
        convolve2d(x, k).sum().backward()
        expected = torch.autograd.grad(convolve2d(x, k, method="direct").sum(), k)[0]
        assert k.grad is not None and torch.allclose(k.grad, expected)

    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [
            ({"mode": "sideways"}, "mode must be one of 'full', 'same', 'valid', got 'sideways'"),
            ({"boundary": "wrap"}, "boundary must be one of 'zeros', 'reflect', 'symmetric', 'replicate', 'circular', got 'wrap'"),
            ({"method": "fastest"}, "method must be one of 'auto', 'direct', 'fft', 'overlap_add', got 'fastest'"),
        ],
    )
    def test_bad_options(self, kwargs, match):
        with pytest.raises(ValueError, match=match):
            convolve2d(np.ones((4, 4)), np.ones((3, 3)), **kwargs)

    def test_bad_shapes(self):
        with pytest.raises(ValueError, match=r"image must be of shape \(H, W\), \(C, H, W\) or \(B, C, H, W\)"):
            convolve2d(np.ones(5), np.ones((3, 3)))
        with pytest.raises(ValueError, match=r"kernel must be of shape \(kH, kW\) or \(C, kH, kW\)"):
            convolve2d(np.ones((5, 5)), np.ones(3))
        with pytest.raises(ValueError, match=r"kernel must be \(kH, kW\) or \(2, kH, kW\) to match the image's 2 channels"):
            convolve2d(np.ones((2, 5, 5)), np.ones((3, 3, 3)))
        with pytest.raises(ValueError, match="kernel must be no larger than the image"):
            convolve2d(np.ones((2, 5, 5)), np.ones((7, 3)), mode="valid")
        with pytest.raises(ValueError, match="image and kernel must be non-empty"):
            convolve2d(np.ones((0, 5)), np.ones((3, 3)))
        with pytest.raises(TypeError, match="image must be a real numeric array"):
            convolve2d(np.array([["a"]]), np.ones((1, 1)))

    def test_non_finite(self):
        x = np.ones((40, 40))
        x[20, 20] = np.nan
        k = np.ones((15, 15))
        out = convolve2d(x, k)  # auto falls back to a spatial method: the NaN stays local
        assert np.isnan(out[20, 20]) and np.isfinite(out[0, 0]) and np.isfinite(out[-1, -1])
        assert np.isnan(out).sum() == 15 * 15
        for method in ("fft", "overlap_add"):
            with pytest.raises(ValueError, match=f"method must be 'direct' or 'auto' for non-finite input or kernel.*got '{method}'"):
                convolve2d(x, k, method=method)
        x[20, 20] = np.inf
        assert np.isinf(convolve2d(x, np.ones((3, 3)), method="direct")[20, 20])


class TestCorrelate2d:
    @pytest.mark.parametrize("dtype", [np.float64, np.float32])
    @pytest.mark.parametrize("method", METHODS)
    @pytest.mark.parametrize("boundary", BOUNDARIES)
    @pytest.mark.parametrize("mode", MODES)
    def test_matches_scipy(self, mode, boundary, method, dtype, rng):
        x = rng.standard_normal((12, 13)).astype(dtype)
        for shape in [(3, 3), (4, 2), (2, 5)]:
            k = rng.standard_normal(shape).astype(dtype)
            out = correlate2d(x, k, mode=mode, boundary=boundary, method=method)
            ref = reference(x.astype(np.float64), k.astype(np.float64), mode, boundary, flip=False)
            assert_close(out, ref, rtol=tol(dtype))

    def test_is_convolution_with_the_flipped_kernel(self, rng):
        x, k = rng.standard_normal((9, 9)), rng.standard_normal((3, 5))
        assert_close(correlate2d(x, k, mode="full"), convolve2d(x, k[::-1, ::-1], mode="full"))

    def test_matches_torch_conv2d(self, rng):
        x, k = torch.randn(1, 1, 10, 10, dtype=torch.float64), torch.randn(3, 3, dtype=torch.float64)
        assert_close(correlate2d(x, k, mode="valid"), torch.nn.functional.conv2d(x, k[None, None]))


class TestOpenCVPath:
    """cv2.filter2D mapped exactly: anchors for even kernels, every border, float32/64."""

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    @pytest.mark.parametrize("boundary", BOUNDARIES)
    @pytest.mark.parametrize("pads", [(1, 1, 1, 1), (2, 1, 1, 2), (1, 2, 2, 1), (0, 0, 0, 0), (3, 3, 4, 4), (2, 2, 0, 3)])
    def test_matches_padding_then_valid(self, pads, boundary, dtype, rng):
        x = rng.standard_normal((2, 11, 12)).astype(dtype)
        k = rng.standard_normal((4, 4)).astype(dtype)
        out = opencv_correlate(x, k, pads, boundary)
        xp = pad2d(torch.from_numpy(x.astype(np.float64)), pads, boundary)
        ref = torch.nn.functional.conv2d(xp[:, None], torch.from_numpy(k.astype(np.float64))[None, None])[:, 0]
        assert out.dtype == dtype
        assert_close(out, ref, rtol=tol(dtype))

    @pytest.mark.parametrize("k", [12, 13])  # cv2 switches to its internal DFT for float32 at k*k >= 130
    def test_large_kernels(self, k, rng):
        x = rng.standard_normal((1, 40, 40)).astype(np.float32)
        kern = rng.standard_normal((k, k)).astype(np.float32)
        out = opencv_correlate(x, kern, ((k - 1) // 2, k // 2, (k - 1) // 2, k // 2), "symmetric")  # scipy correlate centring
        assert_close(out[0], ss.correlate2d(x[0].astype(np.float64), kern.astype(np.float64), "same", "symm"), rtol=1e-4)


class TestProperties:
    @settings(max_examples=40, deadline=None)
    @given(
        H=st.integers(1, 12),
        W=st.integers(1, 12),
        kH=st.integers(1, 6),
        kW=st.integers(1, 6),
        mode=st.sampled_from(MODES),
        boundary=st.sampled_from(BOUNDARIES),
        method=st.sampled_from(METHODS),
        flip=st.booleans(),
        seed=st.integers(0, 2**16),
    )
    def test_random_shapes_match_reference(self, H, W, kH, kW, mode, boundary, method, flip, seed):
        if mode == "valid" and (kH > H or kW > W):
            kH, kW = min(kH, H), min(kW, W)
        r = np.random.default_rng(seed)
        x, k = r.standard_normal((H, W)), r.standard_normal((kH, kW))
        f = convolve2d if flip else correlate2d
        assert_close(f(x, k, mode=mode, boundary=boundary, method=method), reference(x, k, mode, boundary, flip))

    def test_commutative_in_full_mode(self, rng):
        a, b = rng.standard_normal((9, 7)), rng.standard_normal((4, 6))
        for method in METHODS:
            assert_close(convolve2d(a, b, mode="full", method=method), convolve2d(b, a, mode="full", method=method))

    def test_linearity(self, rng):
        x, y, k = rng.standard_normal((10, 10)), rng.standard_normal((10, 10)), rng.standard_normal((3, 3))
        for method in METHODS:
            lhs = convolve2d(2.5 * x - 1.5 * y, k, method=method, boundary="reflect")
            rhs = 2.5 * convolve2d(x, k, method=method, boundary="reflect") - 1.5 * convolve2d(y, k, method=method, boundary="reflect")
            assert_close(lhs, rhs)

    def test_shift_equivariance_with_circular_boundary(self, rng):
        x, k = rng.standard_normal((12, 10)), rng.standard_normal((5, 3))
        for method in METHODS:
            shifted = convolve2d(np.roll(x, (3, -2), axis=(0, 1)), k, boundary="circular", method=method)
            assert_close(shifted, np.roll(convolve2d(x, k, boundary="circular", method=method), (3, -2), axis=(0, 1)))

    def test_delta_kernel_is_identity(self, rng):
        x = rng.standard_normal((3, 9, 8))
        for size in (1, 3, 5):
            for method in METHODS:
                assert_close(convolve2d(x, cs.get_kernel("identity", size), method=method), x)

    def test_seed_laplacian_on_a_constant_image(self):
        x = np.full((16, 16), 0.7)
        k = cs.get_kernel("laplacian8")
        for method in METHODS:
            out = convolve2d(x, k, method=method)  # zero boundary: the border sees the step
            np.testing.assert_allclose(out[1:-1, 1:-1], 0.0, atol=1e-12)
            assert np.all(out[0] > 0)
            np.testing.assert_allclose(convolve2d(x, k, boundary="reflect", method=method), 0.0, atol=1e-12)


class TestPad2d:
    @pytest.mark.parametrize("boundary", BOUNDARIES)
    @pytest.mark.parametrize("pads", [(1, 2, 0, 3), (7, 5, 9, 11), (0, 0, 0, 0)])  # incl. pads > the image
    def test_matches_numpy_pad(self, boundary, pads, rng):
        x = rng.standard_normal((2, 4, 5))
        out = pad2d(torch.from_numpy(x), pads, boundary)
        ref = np.pad(x, ((0, 0), (pads[0], pads[1]), (pads[2], pads[3])), mode=NUMPY_PAD_MODE[boundary])
        assert_close(out, ref)

    def test_negative_pads_crop(self):
        x = torch.arange(20.0).reshape(4, 5)
        assert torch.equal(pad2d(x, (-1, 0, 0, -2)), x[1:, :3])

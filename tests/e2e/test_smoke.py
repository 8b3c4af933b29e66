"""Smoke tests: the public API imports, runs, and agrees with its references on one case each."""

import numpy as np
import scipy.signal as ss
import torch
import torch.nn.functional as F

import convscope as cs


def test_seed_laplacian_matches_scipy():
    x = np.random.default_rng(0).standard_normal((17, 19))
    k = cs.get_kernel("laplacian8").numpy()
    np.testing.assert_allclose(cs.convolve2d(x, k), ss.convolve2d(x, k, mode="same"), rtol=1e-10, atol=1e-12)


def test_public_api_is_exported():
    for name in ("convolve2d", "correlate2d", "conv2d", "conv_transpose2d", "Conv2d", "ConvTranspose2d",
                 "choose_method", "pad2d", "zero_insert", "get_kernel", "list_kernels", "parse_kernel"):
        assert name in cs.__all__ and callable(getattr(cs, name))


def test_layers_and_modules_run():
    x, w = torch.randn(2, 3, 12, 12), torch.randn(4, 3, 5, 5)
    assert torch.allclose(cs.conv2d(x, w, padding=2, method="fft"), F.conv2d(x, w, padding=2), atol=1e-4)
    m = cs.Conv2d(3, 4, 5, padding=2)
    assert m(x).shape == (2, 4, 12, 12)
    t = cs.ConvTranspose2d(4, 3, 4, stride=2, padding=1)
    assert t(m(x)).shape == (2, 3, 24, 24)
    assert cs.choose_method((1, 1, 256, 256), (1, 1, 31, 31)).method == "fft"

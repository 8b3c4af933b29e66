"""The convolution theorem made visible: ``f ⊛ g = F⁻¹(F[f] · F[g])``.

The discrete theorem is exact for *circular* convolution on an ``(H, W)`` grid.
Linear convolution (what :func:`convscope.convolve2d` computes) needs both
arrays zero padded to at least ``(H+kH-1, W+kW-1)`` first; without the padding
the tail of the result wraps around onto the opposite edges.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch

from .._arrays import as_tensor, restore
from .._checks import check_int, check_ndim, fail
from ..conv import convolve2d
from ._common import as_image, fast_len

__all__ = ["TheoremResult", "convolution_theorem", "wrap_region"]


@dataclass(frozen=True)
class TheoremResult:
    """What :func:`convolution_theorem` measured.

    Attributes:
        spatial: the spatial-domain result (``convolve2d``): ``mode="full"`` when
            padded, circular (``mode="same", boundary="circular"``) when not.
        frequency: the FFT result, same shape and alignment as ``spatial``.
        max_abs_diff: ``max |spatial - frequency|``.
        spatial_seconds, frequency_seconds: best of ``repeat`` timings of each side.
        padded: whether the FFT was zero padded (linear convolution).
        fft_shape: the ``(H, W)`` the FFTs were taken on.
        wrap: for ``padded=False``, a boolean ``(H, W)`` map of the pixels where
            the circular result wraps around (kernel reaches past an edge);
            ``None`` when padded.
        wrap_error: for ``padded=False``, circular minus linear (``same``, zero
            border): the wrap-around error, zero outside ``wrap``; ``None`` when padded.
    """

    spatial: Any
    frequency: Any
    max_abs_diff: float
    spatial_seconds: float
    frequency_seconds: float
    padded: bool
    fft_shape: tuple[int, int]
    wrap: Any = None
    wrap_error: Any = None


def wrap_region(shape, kernel_shape) -> torch.Tensor:
    """Where a circular convolution aligned as ``mode="same"`` differs from the linear one.

    Rows ``i < kH//2`` or ``i >= H - (kH-1)//2`` (and likewise columns) receive
    kernel taps from across the opposite edge.

    >>> wrap_region((5, 5), (3, 3)).int()
    tensor([[1, 1, 1, 1, 1],
            [1, 0, 0, 0, 1],
            [1, 0, 0, 0, 1],
            [1, 0, 0, 0, 1],
            [1, 1, 1, 1, 1]], dtype=torch.int32)
    """
    H, W = (int(s) for s in tuple(shape)[-2:])
    kH, kW = (int(s) for s in tuple(kernel_shape)[-2:])
    rows = torch.arange(H)
    cols = torch.arange(W)
    r = (rows < kH // 2) | (rows >= H - (kH - 1) // 2)
    c = (cols < kW // 2) | (cols >= W - (kW - 1) // 2)
    return r[:, None] | c[None, :]


def _best_time(fn, repeat: int):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        if out.is_cuda:
            torch.cuda.synchronize(out.device)
        best = min(best, time.perf_counter() - t0)
    return out, best


def convolution_theorem(image, kernel, *, pad: bool = True, repeat: int = 5) -> TheoremResult:
    """Convolve in space and in frequency, and compare.

    The spatial side is :func:`convscope.convolve2d` with ``method="direct"``;
    the frequency side multiplies ``torch.fft.rfft2`` spectra.

    * ``pad=True``: both arrays are zero padded to (a fast length >=)
      ``(H+kH-1, W+kW-1)``; the frequency result equals ``convolve2d(...,
      mode="full")`` to rounding.
    * ``pad=False``: the FFTs are taken on the image's own ``(H, W)`` grid, which
      gives the *circular* convolution; it is compared with ``convolve2d(...,
      mode="same", boundary="circular")`` (equal to rounding), and ``wrap`` /
      ``wrap_error`` show where and by how much it differs from the linear
      ``mode="same"`` result with a zero border.

    Args:
        image: (H, W), (C, H, W) or (B, C, H, W); numpy or torch (any device).
        kernel: (kH, kW), or (C, kH, kW) one per channel; no larger than the
            image when ``pad=False``.
        pad: zero padding on (linear) or off (circular).
        repeat: timings are the best of this many runs.

    Returns:
        :class:`TheoremResult`; arrays are numpy if ``image`` was numpy.

    Example:
        >>> import numpy as np
        >>> from convscope.kernels import get_kernel
        >>> r = convolution_theorem(np.random.default_rng(0).random((32, 32)), get_kernel("gaussian", 5))
        >>> r.spatial.shape, r.max_abs_diff < 1e-12
        ((36, 36), True)
    """
    repeat = check_int("repeat", repeat, min_value=1)
    x, origin = as_image(image)
    k, _ = as_tensor(kernel, "kernel", dtype=x.dtype)
    k = k.to(x.device)
    check_ndim("kernel", k, (2, 3), "(kH, kW) or (C, kH, kW)")
    H, W = x.shape[-2:]
    kH, kW = k.shape[-2:]
    if k.ndim == 3 and (x.ndim < 3 or k.shape[0] != x.shape[-3]):
        raise fail("kernel", "(kH, kW) or (C, kH, kW) matching the image's channels", k)
    if min(kH, kW) == 0:
        raise fail("kernel", "non-empty", k)
    if pad:
        oH, oW = H + kH - 1, W + kW - 1
        fH, fW = fast_len(oH), fast_len(oW)

        def freq():
            X = torch.fft.rfft2(x, s=(fH, fW))
            K = torch.fft.rfft2(k, s=(fH, fW))
            return torch.fft.irfft2(X * K, s=(fH, fW))[..., :oH, :oW]

        def spat():
            return convolve2d(x, k, mode="full", method="direct")

        fft_shape = (fH, fW)
    else:
        if kH > H or kW > W:
            raise fail("kernel", f"no larger than the image {(H, W)} when pad=False", k)
        sh, sw = (kH - 1) // 2, (kW - 1) // 2

        def freq():
            X = torch.fft.rfft2(x)
            K = torch.fft.rfft2(k, s=(H, W))
            c = torch.fft.irfft2(X * K, s=(H, W))  # circular, aligned with mode="full"'s start
            return torch.roll(c, shifts=(-sh, -sw), dims=(-2, -1))  # aligned as mode="same"

        def spat():
            return convolve2d(x, k, mode="same", boundary="circular", method="direct")

        fft_shape = (H, W)
    yf, tf = _best_time(freq, repeat)
    ys, ts = _best_time(spat, repeat)
    diff = float((ys - yf).abs().max()) if ys.numel() else 0.0
    wrap = werr = None
    if not pad:
        linear = convolve2d(x, k, mode="same", boundary="zeros", method="direct")
        werr = restore(yf - linear, origin)
        w = wrap_region((H, W), (kH, kW))
        wrap = w.numpy() if origin.numpy else w.to(x.device)
    return TheoremResult(restore(ys, origin), restore(yf, origin), diff, ts, tf, bool(pad), fft_shape, wrap, werr)

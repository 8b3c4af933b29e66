"""Shared plumbing for the Fourier tools: shapes, frequency grids, fast lengths."""

from __future__ import annotations

from functools import lru_cache

import torch

from .._arrays import as_tensor
from .._checks import check_ndim, fail
from ..conv.spectral import fast_len

__all__ = ["as_image", "fast_len", "freq_axes", "radius_grid"]

IMAGE_SHAPES = "(H, W), (C, H, W) or (B, C, H, W)"


def as_image(image, arg: str = "image"):
    """numpy/tensor -> (float tensor, origin), checking it is an image of 2 to 4 dims."""
    x, origin = as_tensor(image, arg)
    check_ndim(arg, x, (2, 3, 4), IMAGE_SHAPES)
    if min(x.shape[-2:]) == 0:
        raise fail(arg, "non-empty", x)
    return x, origin


@lru_cache(maxsize=64)
def _axes_cached(h: int, w: int, half: bool, dtype: torch.dtype, device: str):
    dev = torch.device(device)
    fy = torch.fft.fftfreq(h, dtype=torch.float64, device=dev)
    fx = (torch.fft.rfftfreq if half else torch.fft.fftfreq)(w, dtype=torch.float64, device=dev)
    return fy.to(dtype), fx.to(dtype)


def freq_axes(h: int, w: int, *, half: bool = False, dtype=torch.float64, device=None):
    """Frequencies in cycles per pixel along rows (fy, length h) and columns (fx).

    Unshifted FFT order (``fftfreq``); ``half=True`` gives the ``rfft`` half
    (``rfftfreq``, length w//2+1) for the columns. For even ``w`` the half
    grid's last column is the Nyquist frequency +0.5.
    """
    dev = torch.device("cpu") if device is None else torch.device(device)
    return _axes_cached(int(h), int(w), bool(half), dtype, str(dev))


def radius_grid(h: int, w: int, *, half: bool = False, shift: bool = False, dtype=torch.float64, device=None):
    """|f| = sqrt(fy^2 + fx^2) in cycles per pixel on the FFT grid.

    ``shift=True`` centres zero frequency (``fftshift``); not allowed with ``half``.
    """
    fy, fx = freq_axes(h, w, half=half, dtype=torch.float64, device=device)
    r = torch.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)
    if shift:
        r = torch.fft.fftshift(r, dim=(-2, -1))
    return r.to(dtype)

"""Spectral derivatives: differentiation is multiplication by ``(i k)**n`` in frequency.

The fluid-mechanics remark of the lecture notes: Fourier transforms simplify
differentiation as well as convolution. With ``k = 2*pi*f / spacing``
(``f`` in cycles per pixel),

``d^n u / dx^n  =  F⁻¹[(i k)^n F[u]]``  and  ``Δu = F⁻¹[-(ky² + kx²) F[u]]``.

**Periodicity.** The DFT treats the image as one tile of a periodic pattern.
For a smooth periodic function the result is exact to rounding ("spectral
accuracy"); for an ordinary photograph the jump between the right and left
edges (and top and bottom) is differentiated too and rings across the image.
``boundary="reflect"`` or ``"symmetric"`` first mirrors the image so its
periodic extension is continuous (the DCT approach); that removes the jump but
forces the normal derivative to zero at the edges.

For odd orders the Nyquist coefficient (even lengths) is dropped: its
derivative is not a real signal.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from .._arrays import restore
from .._checks import check_float, check_int, check_option, fail
from ..conv import pad2d
from ._common import as_image, freq_axes

__all__ = ["Gradient", "SPECTRAL_BOUNDARIES", "spectral_derivative", "spectral_gradient", "spectral_laplacian"]

SPECTRAL_BOUNDARIES = ("circular", "reflect", "symmetric")


class Gradient(NamedTuple):
    """``(dy, dx)``: derivatives along rows (axis -2) and columns (axis -1), as ``numpy.gradient``."""

    dy: object
    dx: object


def _spacing(spacing) -> tuple[float, float]:
    if isinstance(spacing, tuple | list):
        if len(spacing) != 2:
            raise fail("spacing", "a positive number or a (dy, dx) pair", spacing)
        return (check_float("spacing", spacing[0], min_value=0.0, strict_min=True),
                check_float("spacing", spacing[1], min_value=0.0, strict_min=True))
    s = check_float("spacing", spacing, min_value=0.0, strict_min=True)
    return s, s


def _axis(axis, ndim: int) -> int:
    """'y'/'x', -2/-1, or a non-negative index of one of the last two dims -> -2 or -1."""
    if isinstance(axis, str):
        a = check_option("axis", axis, ("y", "x"))
        return -2 if a == "y" else -1
    if isinstance(axis, bool) or not isinstance(axis, int):
        raise fail("axis", "'y', 'x', -2 or -1 (one of the image's last two dims)", axis, TypeError)
    if axis in (-2, -1):
        return axis
    if axis in (ndim - 2, ndim - 1):
        return axis - ndim
    raise fail("axis", f"'y', 'x', -2 or -1 (or {ndim - 2}/{ndim - 1} for a {ndim}-D image)", axis)


def _extend(x: torch.Tensor, boundary: str, dims: tuple[int, ...]) -> torch.Tensor:
    """Mirror along ``dims`` so the periodic extension is continuous."""
    if boundary == "circular":
        return x
    H, W = x.shape[-2:]
    ext = (H - 1 if boundary == "reflect" else H) if -2 in dims else 0
    exw = (W - 1 if boundary == "reflect" else W) if -1 in dims else 0
    return pad2d(x, (0, ext, 0, exw), boundary)


def _ik(n: int, spacing: float, order: int, dtype, device) -> torch.Tensor:
    """(i k)^order on the rfft half grid of a length-n axis (complex)."""
    f = freq_axes(1, n, half=True, device=device)[1]  # rfftfreq: 0 .. 0.5
    k = (2 * math.pi / spacing) * f
    m = (1j * k.to(torch.complex128)) ** order
    if order % 2 == 1 and n % 2 == 0:
        m[-1] = 0  # Nyquist of an odd derivative
    if order == 0:
        m = torch.ones_like(m)
    return m.to(torch.complex64 if dtype == torch.float32 else torch.complex128)


def spectral_derivative(image, axis, order: int = 1, *, spacing=1.0, boundary: str = "circular"):
    """The ``order``-th derivative along one axis, computed in frequency.

    Args:
        image: (H, W), (C, H, W) or (B, C, H, W); numpy or torch, any device.
        axis: ``"x"``/``-1`` (along a row, across columns) or ``"y"``/``-2``
            (down a column).
        order: derivative order, >= 0.
        spacing: grid step ``h`` (a number or ``(dy, dx)``): derivatives are
            per unit of length, ``h`` per pixel.
        boundary: ``circular`` (the image is one period — exact for smooth
            periodic data), ``reflect`` or ``symmetric`` (mirror first, for
            non-periodic images; names as ``numpy.pad``).

    Returns:
        Same shape, dtype and kind as ``image``. Differentiable.

    Example:
        >>> import numpy as np
        >>> x = 2 * np.pi * np.arange(16) / 16
        >>> u = np.sin(x)[None, :].repeat(4, 0)
        >>> du = spectral_derivative(u, "x", spacing=2 * np.pi / 16)
        >>> bool(np.allclose(du, np.cos(x)))
        True
    """
    order = check_int("order", order, min_value=0)
    boundary = check_option("boundary", boundary, SPECTRAL_BOUNDARIES)
    x, origin = as_image(image)
    ax = _axis(axis, x.ndim)
    hy, hx = _spacing(spacing)
    H, W = x.shape[-2:]
    xe = _extend(x, boundary, (ax,))
    n = xe.shape[ax]
    m = _ik(n, hx if ax == -1 else hy, order, x.dtype, x.device)
    if ax == -2:
        m = m[:, None]
    Xf = torch.fft.rfft(xe, dim=ax)
    y = torch.fft.irfft(Xf * m, n=n, dim=ax)
    return restore(y[..., :H, :W].contiguous(), origin)


def spectral_gradient(image, *, spacing=1.0, boundary: str = "circular") -> Gradient:
    """``(d/dy, d/dx)`` by :func:`spectral_derivative`; arguments as there."""
    return Gradient(spectral_derivative(image, -2, 1, spacing=spacing, boundary=boundary),
                    spectral_derivative(image, -1, 1, spacing=spacing, boundary=boundary))


def spectral_laplacian(image, *, spacing=1.0, boundary: str = "circular"):
    """``Δu = u_yy + u_xx`` as multiplication by ``-(ky² + kx²)``.

    Arguments as :func:`spectral_derivative`. At low frequencies it agrees with
    the 5-point stencil ``-laplacian4``, whose transfer function is
    ``-4 (sin²(π fy) + sin²(π fx))`` (for ``spacing=1``).

    Example:
        >>> import numpy as np
        >>> x = 2 * np.pi * np.arange(32) / 32
        >>> u = np.sin(x)[:, None] * np.sin(2 * x)[None, :]
        >>> bool(np.allclose(spectral_laplacian(u, spacing=2 * np.pi / 32), -5 * u))
        True
    """
    boundary = check_option("boundary", boundary, SPECTRAL_BOUNDARIES)
    x, origin = as_image(image)
    hy, hx = _spacing(spacing)
    H, W = x.shape[-2:]
    xe = _extend(x, boundary, (-2, -1))
    Hn, Wn = xe.shape[-2:]
    fy, fx = freq_axes(Hn, Wn, half=True, device=x.device)
    ky, kx = (2 * math.pi / hy) * fy, (2 * math.pi / hx) * fx
    m = -(ky[:, None] ** 2 + kx[None, :] ** 2)
    y = torch.fft.irfft2(torch.fft.rfft2(xe) * m.to(x.dtype), s=(Hn, Wn))
    return restore(y[..., :H, :W].contiguous(), origin)

"""The heat equation ``∂u/∂t = D ∇²u``, solved exactly in the spectral domain.

A propagator with per-step variance ``σ²`` per axis behaves, after many steps,
like the heat equation with ``D = σ² / 2`` at time ``t = steps`` (the central
limit theorem): its Green's function is the Gaussian of variance ``2 D t``
per axis. Pixels are unit-spaced samples; the solution is exact for the
band-limited (trigonometric) interpolant of the initial condition:

* ``circular``: periodic domain, Fourier series; wavenumbers ``2π f`` with
  ``f`` from ``fftfreq``. An optional constant ``drift`` (pixels per unit
  time) adds advection, ``∂u/∂t = D ∇²u - v·∇u``.
* ``symmetric``: no-flux (Neumann) walls half a pixel outside the image, as
  the mirror with the edge repeated: DCT-II, wavenumbers ``π m / N``.
* ``zeros``: absorbing (Dirichlet) walls, ``u = 0`` one pixel outside the
  image, as zero padding of width 1: DST-I, wavenumbers ``π m / (N + 1)``.
"""

from __future__ import annotations

import numpy as np
import scipy.fft
import torch

from .._arrays import as_tensor, restore
from .._checks import check_float, check_ndim, check_option, check_pair, fail
from .evolve import BOUNDARIES

__all__ = ["heat_kernel", "heat_solution"]


def _pair_float(arg: str, value) -> tuple[float, float]:
    if isinstance(value, tuple | list | np.ndarray):
        if len(value) != 2:
            raise fail(arg, "a number or a pair (y, x) of numbers", value)
        return check_float(arg, value[0], min_value=0.0), check_float(arg, value[1], min_value=0.0)
    v = check_float(arg, value, min_value=0.0)
    return v, v


def _drift(drift) -> tuple[float, float]:
    if drift is None:
        return 0.0, 0.0
    if not isinstance(drift, tuple | list | np.ndarray) or len(drift) != 2:
        raise fail("drift", "None or a pair (vy, vx) of numbers", drift)
    return check_float("drift", drift[0]), check_float("drift", drift[1])


def _fourier_symbol(H: int, W: int, D: tuple[float, float], t: float, v: tuple[float, float]) -> np.ndarray:
    ky = 2 * np.pi * np.fft.fftfreq(H)[:, None]
    kx = 2 * np.pi * np.fft.fftfreq(W)[None, :]
    return np.exp(-(D[0] * ky**2 + D[1] * kx**2) * t - 1j * (ky * v[0] + kx * v[1]) * t)


def heat_kernel(shape, D, t: float, *, drift=None) -> np.ndarray:
    """The periodic heat kernel on an ``(H, W)`` grid, centred at ``(H // 2, W // 2)``.

    The solution at time ``t`` of ``∂u/∂t = D ∇²u`` (plus ``- v·∇u`` with a
    ``drift``) started from a unit drop at the centre of a periodic domain:
    a Gaussian of variance ``2 D t`` per axis, sampled band-limited, summing to 1.

    Args:
        shape: ``(H, W)`` (or an int for a square).
        D: diffusion coefficient >= 0, or a pair ``(D_y, D_x)`` for anisotropic diffusion.
        t: time >= 0 (in steps, when D comes from :func:`~convscope.diffusion.moments`).
        drift: optional ``(vy, vx)``, pixels per unit time.

    Returns:
        float64 numpy array ``(H, W)``.

    Example:
        >>> g = heat_kernel((64, 64), 0.5, 8.0)      # variance 2 D t = 8 per axis
        >>> y = np.arange(64) - 32
        >>> round(float(g.sum()), 12), round(float((g.sum(1) * y**2).sum()), 6)
        (1.0, 8.0)
    """
    H, W = check_pair("shape", shape, min_value=1)
    Dp = _pair_float("D", D)
    t = check_float("t", t, min_value=0.0)
    v = _drift(drift)
    g = np.fft.ifft2(_fourier_symbol(H, W, Dp, t, v)).real
    return np.roll(g, (H // 2, W // 2), axis=(0, 1))


def heat_solution(u0, D, t: float, *, boundary: str = "circular", drift=None):
    """Exact solution of ``∂u/∂t = D ∇²u`` at time ``t`` from ``u0``, computed spectrally.

    Args:
        u0: (H, W), (C, H, W) or (B, C, H, W) initial concentrations (numpy or torch).
        D: diffusion coefficient >= 0, or ``(D_y, D_x)``.
        t: time >= 0.
        boundary: ``circular`` (periodic, FFT), ``symmetric`` (no-flux walls,
            DCT-II) or ``zeros`` (absorbing walls, DST-I); see the module docstring.
        drift: ``(vy, vx)`` advection velocity; ``circular`` only.

    Returns:
        Same kind, dtype and shape as ``u0`` (computed in float64).

    Example:
        >>> u0 = np.zeros((32, 32)); u0[16, 16] = 1.0
        >>> bool(np.allclose(heat_solution(u0, 0.5, 4.0), heat_kernel((32, 32), 0.5, 4.0)))  # a drop spreads as the kernel
        True
    """
    boundary = check_option("boundary", boundary, BOUNDARIES)
    Dp = _pair_float("D", D)
    t = check_float("t", t, min_value=0.0)
    v = _drift(drift)
    x, origin = as_tensor(u0, "u0")
    check_ndim("u0", x, (2, 3, 4), "(H, W), (C, H, W) or (B, C, H, W)")
    if min(x.shape[-2:]) == 0:
        raise fail("u0", "non-empty", x)
    if v != (0.0, 0.0) and boundary != "circular":
        raise fail("drift", "None unless boundary='circular' (walls and advection have no simple spectral form)", drift)
    H, W = x.shape[-2:]
    a = x.detach().cpu().to(torch.float64).numpy()
    if boundary == "circular":
        out = np.fft.ifft2(np.fft.fft2(a) * _fourier_symbol(H, W, Dp, t, v)).real
    else:
        if boundary == "symmetric":
            ky, kx = np.pi * np.arange(H) / H, np.pi * np.arange(W) / W
            fwd, inv = (lambda b: scipy.fft.dctn(b, type=2, norm="ortho", axes=(-2, -1)),
                        lambda b: scipy.fft.idctn(b, type=2, norm="ortho", axes=(-2, -1)))
        else:
            ky, kx = np.pi * np.arange(1, H + 1) / (H + 1), np.pi * np.arange(1, W + 1) / (W + 1)
            fwd, inv = (lambda b: scipy.fft.dstn(b, type=1, norm="ortho", axes=(-2, -1)),
                        lambda b: scipy.fft.idstn(b, type=1, norm="ortho", axes=(-2, -1)))
        sym = np.exp(-(Dp[0] * ky[:, None] ** 2 + Dp[1] * kx[None, :] ** 2) * t)
        out = inv(fwd(a) * sym)
    return restore(torch.from_numpy(np.ascontiguousarray(out)).to(device=x.device, dtype=x.dtype), origin)

"""Spectra of images: magnitude and phase, power, the radial profile and its power law.

Frequencies are in **cycles per pixel**: 0 is the mean (DC), 0.5 the Nyquist
frequency (a pattern that flips sign every pixel). Natural photographs have a
radial power spectrum that falls roughly as ``f**-2`` (a slope near -2 on
log-log axes); white noise is flat (slope 0).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
import torch

from .._arrays import as_tensor, restore
from .._checks import check_float, check_int, check_ndim, check_option, fail
from ._common import as_image, radius_grid

__all__ = [
    "PowerLaw",
    "RadialProfile",
    "Spectrum",
    "fit_power_law",
    "power_spectrum",
    "radial_profile",
    "spectrum",
]


class Spectrum(NamedTuple):
    """``magnitude`` (``log1p(|F|)`` when ``log=True``) and ``phase`` in radians (-pi, pi]."""

    magnitude: Any
    phase: Any


class RadialProfile(NamedTuple):
    """An azimuthally averaged power spectrum.

    ``frequency``: (nbins,) ring centres in cycles per pixel, ``frequency[0] == 0`` (DC alone).
    ``power``: (..., nbins) mean power in each ring (NaN for an empty ring).
    ``counts``: (nbins,) number of frequency samples averaged in each ring.
    """

    frequency: Any
    power: Any
    counts: Any


class PowerLaw(NamedTuple):
    """``power ≈ 10**intercept * frequency**slope`` (a straight line on log-log axes)."""

    slope: Any
    intercept: Any


WINDOWS = (None, "hann")


def _windowed(x: torch.Tensor, window) -> torch.Tensor:
    """Multiply by a separable 2-D Hann window scaled so that mean(w**2) == 1.

    The DFT treats the image as periodic; the jump between opposite edges puts a
    bright cross through the spectrum and flattens the power law. Tapering the
    edges to zero removes it; the scaling keeps the average power unchanged
    (white noise of variance s**2 still has expected power s**2).
    """
    if window is None:
        return x
    if not isinstance(window, str) or window.strip().lower() != "hann":
        raise fail("window", "None or 'hann'", window)
    H, W = x.shape[-2:]
    wy = torch.hann_window(H, periodic=False, dtype=torch.float64, device=x.device) if H > 1 else torch.ones(1, dtype=torch.float64, device=x.device)
    wx = torch.hann_window(W, periodic=False, dtype=torch.float64, device=x.device) if W > 1 else torch.ones(1, dtype=torch.float64, device=x.device)
    w = wy[:, None] * wx[None, :]
    w = w / torch.sqrt((w * w).mean())
    return x * w.to(x.dtype)


def spectrum(image, *, shift: bool = True, log: bool = True, window: str | None = None) -> Spectrum:
    """Magnitude and phase of the 2-D discrete Fourier transform of every channel.

    Args:
        image: (H, W), (C, H, W) or (B, C, H, W), numpy array or torch tensor
            (any device). Integer input is promoted to float32; float64 is kept.
        shift: centre zero frequency (``fftshift``), as people draw spectra.
            With ``shift=False`` the layout is numpy's (DC at ``[0, 0]``).
        log: return ``log1p(|F|)`` for display instead of ``|F|``. The phase is
            the same either way.
        window: ``None`` or ``"hann"``: taper the edges first, which removes the
            cross that the edge-to-edge jump draws through the spectrum.

    Returns:
        :class:`Spectrum` ``(magnitude, phase)``, each the shape of ``image``, the
        same kind (numpy/torch) as ``image``. ``|F|`` is unnormalised, as
        ``numpy.fft.fft2``.

    Example:
        >>> import numpy as np
        >>> mag, phase = spectrum(np.ones((4, 4)), log=False)
        >>> float(mag[2, 2])  # centred DC = sum of the pixels
        16.0
    """
    x, origin = as_image(image)
    F = torch.fft.fft2(_windowed(x, window))
    if shift:
        F = torch.fft.fftshift(F, dim=(-2, -1))
    mag = F.abs()
    if log:
        mag = torch.log1p(mag)
    return Spectrum(restore(mag, origin), restore(torch.angle(F), origin))


def power_spectrum(image, *, shift: bool = True, window: str | None = None):
    """Power ``|F|**2 / (H*W)`` of every channel, so that ``sum(power) == sum(image**2)``.

    The normalisation makes Parseval's theorem a plain equality and gives white
    noise of variance ``s**2`` an expected power of ``s**2`` at every frequency.
    ``window="hann"`` tapers the edges first (see :func:`spectrum`); Parseval
    then holds for the windowed image.

    Example:
        >>> import numpy as np
        >>> x = np.arange(12.0).reshape(3, 4)
        >>> bool(np.isclose(power_spectrum(x).sum(), (x ** 2).sum()))
        True
    """
    x, origin = as_image(image)
    H, W = x.shape[-2:]
    F = torch.fft.fft2(_windowed(x, window))
    P = (F.real**2 + F.imag**2) / (H * W)
    if shift:
        P = torch.fft.fftshift(P, dim=(-2, -1))
    return restore(P, origin)


def _ring_index(H: int, W: int, bins: int | None, shifted: bool, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Ring number of every frequency sample (-1 = outside 0.5) and the ring centres."""
    if bins is not None and bins > H * W:  # more rings than samples: empty rings, and memory for nothing
        raise fail("bins", f"at most {H * W} (the number of frequency samples of a {H}x{W} image)", bins)
    r = radius_grid(H, W, shift=shifted, device=device).reshape(-1)
    if bins is None:
        N = min(H, W)
        nb = N // 2 + 1
        idx = torch.where(r == 0, 0, torch.clamp(torch.floor(r * N + 0.5), min=1)).long()
        freq = torch.arange(nb, dtype=torch.float64, device=device) / N
    else:
        nb = bins + 1
        idx = torch.where(r == 0, 0, torch.clamp(torch.ceil(r / 0.5 * bins), min=1)).long()
        step = 0.5 / bins
        freq = torch.cat([torch.zeros(1, dtype=torch.float64), (torch.arange(bins, dtype=torch.float64) + 0.5) * step])
        freq = freq.to(device)
    idx = torch.where(idx < nb, idx, -1)
    return idx, freq


def radial_profile(
    image_or_power,
    *,
    bins: int | None = None,
    is_power: bool = False,
    shifted: bool = True,
    reduce: str = "none",
    window: str | None = None,
) -> RadialProfile:
    """Azimuthally averaged power spectrum: the 1-D curve plotted against frequency.

    Rings are annuli of radius ``|f| = sqrt(fy**2 + fx**2)`` cycles per pixel;
    frequencies beyond 0.5 (the corners of the square spectrum) are dropped.

    * ``bins=None``: one ring per integer radius, ``|f| ≈ k / min(H, W)`` for
      ``k = 0 .. min(H, W)//2``, so ``frequency = k / min(H, W)``.
    * ``bins=n``: ``n`` equal rings ``((i-1)*0.5/n, i*0.5/n]`` after the DC bin,
      ``frequency`` at their centres.

    Either way ``frequency[0] == 0`` holds the DC term alone; the fit of
    :func:`fit_power_law` skips it.

    Args:
        image_or_power: an image (H, W), (C, H, W) or (B, C, H, W) — its
            :func:`power_spectrum` is taken — or, with ``is_power=True``, a
            power spectrum of those shapes.
        bins: ``None`` or a positive number of rings.
        is_power: the input is already a power spectrum.
        shifted: with ``is_power``, whether it is centred (``power_spectrum``'s
            default). Ignored for images.
        reduce: ``"none"`` keeps one profile per leading index, e.g.
            ``(B, C, nbins)`` for a batch; ``"mean"`` averages the profiles over
            every leading dimension (batch and channels) to ``(nbins,)``. For
            one profile per image of a colour batch use ``power.mean(-2)``.
        window: ``None`` or ``"hann"`` for images (see :func:`spectrum`); a
            Hann window removes the edge-jump cross, which otherwise pulls
            every photograph's slope towards -2.

    Returns:
        :class:`RadialProfile` ``(frequency, power, counts)``, numpy if the
        input was numpy, else tensors on the input's device (float64
        frequency/counts, ``power`` in the input's dtype).

    Example:
        >>> import numpy as np
        >>> prof = radial_profile(np.random.default_rng(0).standard_normal((64, 64)))
        >>> prof.frequency.shape, float(prof.frequency[-1])
        ((33,), 0.5)
    """
    reduce = check_option("reduce", reduce, ("none", "mean"))
    if bins is not None:
        bins = check_int("bins", bins, min_value=1)
    if is_power:
        if window is not None:
            raise fail("window", "None with is_power=True (window the image, not its power)", window)
        P, origin = as_tensor(image_or_power, "image_or_power")
        check_ndim("image_or_power", P, (2, 3, 4), "(H, W), (C, H, W) or (B, C, H, W)")
        if min(P.shape[-2:]) == 0:
            raise fail("image_or_power", "non-empty", P)
    else:
        x, origin = as_image(image_or_power, "image_or_power")
        H, W = x.shape[-2:]
        F = torch.fft.fft2(_windowed(x, window))
        P = (F.real**2 + F.imag**2) / (H * W)
        shifted = False
    H, W = P.shape[-2:]
    lead = tuple(P.shape[:-2])
    idx, freq = _ring_index(H, W, bins, bool(shifted), P.device)
    keep = idx >= 0
    nb = freq.numel()
    flat = P.reshape(-1, H * W)[:, keep]  # (L, kept)
    sums = torch.zeros(flat.shape[0], nb, dtype=P.dtype, device=P.device).index_add_(1, idx[keep], flat)
    counts = torch.bincount(idx[keep], minlength=nb).to(torch.float64)
    power = sums / counts.to(P.dtype)  # empty ring -> 0/0 = NaN
    power = power.reshape(*lead, nb)
    if reduce == "mean" and lead:
        power = power.reshape(-1, nb).mean(0)
    return RadialProfile(restore(freq, origin), restore(power, origin), restore(counts, origin))


def fit_power_law(profile, *, fmin: float | None = None, fmax: float | None = None) -> PowerLaw:
    """Least-squares line through ``log10(power)`` against ``log10(frequency)``.

    Natural images give ``slope`` near -2; white noise gives 0.

    Args:
        profile: a :class:`RadialProfile` or a ``(frequency, power)`` pair;
            ``power`` may be batched, ``(..., nbins)``, e.g. a generator's batch.
        fmin, fmax: fit only ``fmin <= frequency <= fmax`` (cycles per pixel).
            The DC bin (frequency 0) and empty or non-positive bins are always
            skipped.

    Returns:
        :class:`PowerLaw` ``(slope, intercept)`` with
        ``power ≈ 10**intercept * frequency**slope``: Python floats for one
        profile, arrays of shape ``power.shape[:-1]`` (same kind as ``power``)
        for a batch.

    Example:
        >>> import numpy as np
        >>> f = np.linspace(0.01, 0.5, 50)
        >>> round(fit_power_law((f, 3.0 * f ** -2.0)).slope, 6)
        -2.0
    """
    if not isinstance(profile, tuple) or len(profile) < 2:
        raise fail("profile", "a RadialProfile or a (frequency, power) pair", type(profile).__name__, TypeError)
    f, _ = as_tensor(profile[0], "frequency", dtype=torch.float64)
    P, origin = as_tensor(profile[1], "power", dtype=torch.float64)
    if f.ndim != 1 or P.ndim < 1 or P.shape[-1] != f.shape[0]:
        raise fail("profile", f"frequency (n,) and power (..., n) with matching n, frequency is {tuple(f.shape)}", P)
    lo = 0.0 if fmin is None else check_float("fmin", fmin, min_value=0.0)
    hi = math.inf if fmax is None else check_float("fmax", fmax, min_value=0.0, strict_min=True)
    if lo >= hi:
        raise fail("fmin", f"below fmax={hi}", lo)
    f = f.to(P.device)
    ok = (f > 0) & (f >= lo) & (f <= hi) & torch.isfinite(P) & (P > 0)  # (..., n)
    w = ok.to(torch.float64)
    n = w.sum(-1)
    if bool((n < 2).any()):
        raise fail("profile", "at least 2 positive bins with fmin <= frequency <= fmax", f"{int(n.min())} usable bins")
    X = torch.log10(torch.where(f > 0, f, 1.0)).expand_as(P)
    Y = torch.log10(torch.where(ok, P, 1.0))
    mx = (w * X).sum(-1) / n
    my = (w * Y).sum(-1) / n
    dx = (X - mx[..., None]) * w
    slope = (dx * (Y - my[..., None])).sum(-1) / (dx * dx).sum(-1)
    intercept = my - slope * mx
    if P.ndim == 1:
        return PowerLaw(float(slope), float(intercept))
    if origin.numpy:
        return PowerLaw(np.asarray(slope.cpu().numpy()), np.asarray(intercept.cpu().numpy()))
    return PowerLaw(slope, intercept)

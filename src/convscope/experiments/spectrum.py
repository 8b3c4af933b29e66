"""Step 3a of the story: an image's Fourier spectrum, its radial power law, and differentiation by ``ik``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._common import as_image, out_folder, save_npy

__all__ = ["Spectrum", "image_spectrum", "save_spectrum", "SpectralLaplacian", "spectral_laplacian",
           "save_spectral_laplacian"]


@dataclass(frozen=True)
class Spectrum:
    """The centred spectrum of a grey image and its radial power law.

    Attributes:
        image: the input (float64, ``(H, W)``).
        log_magnitude, phase: centred ``log(1 + |F|)`` and ``angle(F)``.
        frequency, power: the radial power spectrum (cycles/pixel, mean power per ring).
        slope, intercept: the fitted power law ``log P = slope log f + intercept``.
        fit_range: ``(fmin, fmax)`` the fit used, or ``None`` for the default range.
    """

    image: np.ndarray
    log_magnitude: np.ndarray
    phase: np.ndarray
    frequency: np.ndarray
    power: np.ndarray
    slope: float
    intercept: float
    fit_range: tuple[float, float] | None


def image_spectrum(image, *, bins: int | None = None, window: str | None = None,
                   fmin: float | None = None, fmax: float | None = None) -> Spectrum:
    """Log magnitude, phase and radial power spectrum of ``image`` with the fitted slope.

    Natural photographs sit near slope -2; white noise is flat (0).
    """
    from ..fourier import fit_power_law, radial_profile, spectrum

    img = as_image(image)
    mag, phase = spectrum(img, window=window)
    prof = radial_profile(img, bins=bins, window=window)
    fit = fit_power_law(prof, fmin=fmin, fmax=fmax)
    fr = None if fmin is None and fmax is None else (fmin or 0.0, fmax or 0.5)
    return Spectrum(img, np.asarray(mag), np.asarray(phase), np.asarray(prof.frequency), np.asarray(prof.power),
                    float(fit.slope), float(fit.intercept), fr)


def save_spectrum(result: Spectrum, out_dir: str | os.PathLike) -> list[Path]:
    """``log_magnitude.npy``, ``phase.npy``, ``radial_profile.npy`` and ``spectrum_panel.png``."""
    from ..viz.fourier import spectrum_panel

    out = out_folder(out_dir)
    written: list[Path] = []
    save_npy(out / "log_magnitude.npy", result.log_magnitude.astype(np.float32), written)
    save_npy(out / "phase.npy", result.phase.astype(np.float32), written)
    save_npy(out / "radial_profile.npy", np.stack([result.frequency, result.power]), written)
    written.append(spectrum_panel(result.image, result.log_magnitude, result.phase, result.frequency, result.power,
                                  result.slope, result.intercept, out / "spectrum_panel.png",
                                  fit_range=result.fit_range))
    return written


@dataclass(frozen=True)
class SpectralLaplacian:
    """The Laplacian two ways: ``-|k|² F[u]`` transformed back, and the 5-point finite difference."""

    spectral: np.ndarray
    finite_difference: np.ndarray


def spectral_laplacian(image, *, boundary: str = "symmetric") -> SpectralLaplacian:
    """Differentiation as multiplication by ``(ik)²`` against ``-laplacian4`` convolved in space."""
    from ..conv import convolve2d
    from ..fourier import spectral_laplacian as _spectral
    from ..kernels import get_kernel

    img = as_image(image)
    spec = np.asarray(_spectral(img, boundary=boundary))
    fd = -np.asarray(convolve2d(img, get_kernel("laplacian4"), boundary=boundary))
    return SpectralLaplacian(spec, fd)


def save_spectral_laplacian(result: SpectralLaplacian, path: str | os.PathLike) -> list[Path]:
    """The two Laplacians side by side, one PNG."""
    from ..viz.fourier import laplacian_figure

    return [laplacian_figure(result.spectral, result.finite_difference, path)]

"""Spectral diagnostics for a generator: the lecture notes' Fourier half turned on the DCGAN.

A transposed convolution with stride 2 first inserts a zero between every two
input samples. In frequency that copies the input spectrum: whatever the
following kernel does not suppress survives as energy at half the layer's
sampling rate, a period-2 "checkerboard" in the layer's output. In the final
``S x S`` image, a stride-2 layer whose output is ``R x R`` leaves energy at
``R/2`` cycles per image; the later x2 layers mirror it to ``R' - R/2``. For
a generator that starts at 4 x 4 every suspect frequency is therefore a
multiple of ``S / 2**n_up = 4`` cycles per image, on the axes and diagonals
of the 2-D spectrum: (S/2, 0), (0, S/2), (S/2, S/2) are the classic
checkerboard.

:func:`spectral_report` compares the mean power spectrum of generated and
real images: the azimuthally averaged profiles, a discrepancy score (mean
absolute difference of log10 power over the radii 1..S/2) and the list of
candidate frequencies where the generated spectrum has a peak the real one
does not have.
"""

from __future__ import annotations

import numpy as np
import torch

from .._checks import fail

__all__ = ["checkerboard_frequencies", "mean_power", "radial_profile", "spectral_report"]


def _images(x, arg: str) -> torch.Tensor:
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    if t.ndim == 3:
        t = t[:, None]
    if t.ndim != 4 or t.shape[-1] != t.shape[-2]:
        raise fail(arg, "square images (N, C, H, W) or (N, H, W)", t)
    return t.detach().to(torch.float64).cpu()


def mean_power(images) -> torch.Tensor:
    """Mean power spectrum ``|F[x - mean(x)]|² / (H W)`` over images and channels, DC centred.

    Shape: (N, C, H, W) -> (H, W), ``fftshift``-ed so that index (H//2, W//2) is DC.
    """
    from ..fourier import power_spectrum

    x = _images(images, "images")
    x = x - x.mean(dim=(-2, -1), keepdim=True)  # drop DC: brightness is not texture
    return power_spectrum(x, shift=True).mean(dim=(0, 1))  # |F|^2 / (H W), centred


def radial_profile(power: torch.Tensor) -> torch.Tensor:
    """Azimuthal average of a centred 2-D power spectrum over integer radii 0..H//2.

    A thin wrapper of :func:`convscope.fourier.radial_profile` (rings of integer radius).

    >>> p = torch.ones(8, 8)
    >>> radial_profile(p).tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0]
    """
    from ..fourier import radial_profile as _radial

    return _radial(power, is_power=True, shifted=True).power


def checkerboard_frequencies(image_size: int, n_up: int | None = None) -> list[tuple[int, int]]:
    """Frequencies (cycles per image, fy >= 0) where stride-2 upsampling leaves energy.

    >>> checkerboard_frequencies(16)
    [(0, 4), (0, 8), (4, -4), (4, 0), (4, 4), (4, 8), (8, 0), (8, 4), (8, 8)]
    """
    s = int(image_size)
    if n_up is None:
        n_up = int(np.log2(s)) - 2
    step = s // 2 ** n_up
    vals = list(range(-s // 2, s // 2 + 1, step))
    out = []
    for fy in vals:
        for fx in vals:
            if fy < 0 or (fy == 0 and fx <= 0) or fx == -s // 2:
                continue
            if fy == s // 2 and fx < 0:
                continue  # (S/2, -f) is the same frequency as (S/2, f) after wrapping
            out.append((fy, fx))
    return sorted(out)


def _local_prominence(p: torch.Tensor, cy: int, cx: int, radius: int = 2) -> float:
    """Power at (cy, cx) over the median power in its (2r+1)² neighbourhood (wrapping)."""
    h, w = p.shape
    ys = [(cy + dy) % h for dy in range(-radius, radius + 1)]
    xs = [(cx + dx) % w for dx in range(-radius, radius + 1)]
    block = p[ys][:, xs].flatten()
    centre = block[len(block) // 2]
    others = torch.cat([block[: len(block) // 2], block[len(block) // 2 + 1:]])
    return float(centre / others.median().clamp_min(1e-30))


def spectral_report(real, fake, *, image_size: int | None = None, n_up: int | None = None,
                    peak_ratio: float = 2.0, peak_prominence: float = 2.0) -> dict:
    """Compare the spectra of real and generated images.

    Args:
        real, fake: (N, C, S, S) images on the same scale (e.g. both in [-1, 1]).
        n_up: stride-2 layers of the generator (default log2(S) - 2).
        peak_ratio: a candidate is flagged when fake power / real power exceeds this
        peak_prominence: ... and the fake spectrum stands out of its neighbourhood by this.

    Returns:
        dict with ``freqs`` (radii, cycles per image), ``real_profile``, ``fake_profile``,
        ``discrepancy`` (mean |log10 fake - log10 real| over radii 1..S/2),
        ``high_freq_ratio`` (fake/real power above S/4), ``slope_real``/``slope_fake``
        (power-law slopes, :func:`convscope.fourier.fit_power_law`), ``peaks`` (every candidate with
        its ratios), ``flagged`` (the checkerboard peaks) and the 2-D mean spectra.
    """
    r, f = _images(real, "real"), _images(fake, "fake")
    if r.shape[-1] != f.shape[-1]:
        raise fail("fake", f"images of size {r.shape[-1]} (as real)", f)
    s = image_size or r.shape[-1]
    pr, pf = mean_power(r), mean_power(f)
    prof_r, prof_f = radial_profile(pr), radial_profile(pf)
    eps = 1e-12
    lr, lf = torch.log10(prof_r[1:] + eps), torch.log10(prof_f[1:] + eps)
    discrepancy = float((lf - lr).abs().mean())
    from ..fourier import fit_power_law

    fr = torch.arange(len(prof_r), dtype=torch.float64) / s
    slope_r = fit_power_law((fr, prof_r)).slope
    slope_f = fit_power_law((fr, prof_f)).slope
    hi = slice(s // 4 + 1, None)
    high_ratio = float(prof_f[hi].sum() / prof_r[hi].sum().clamp_min(eps))
    peaks = []
    c = s // 2
    for fy, fx in checkerboard_frequencies(s, n_up):
        y, x = (c + fy) % s, (c + fx) % s
        ratio = float(pf[y, x] / pr[y, x].clamp_min(eps))
        prom_f, prom_r = _local_prominence(pf, y, x), _local_prominence(pr, y, x)
        flagged = ratio > peak_ratio and prom_f > peak_prominence and prom_f > prom_r
        peaks.append({"fy": fy, "fx": fx, "fake_over_real": ratio, "prominence_fake": prom_f,
                      "prominence_real": prom_r, "flagged": bool(flagged)})
    flagged = [p for p in peaks if p["flagged"]]
    return {
        "freqs": list(range(len(prof_r))),
        "real_profile": prof_r.tolist(),
        "fake_profile": prof_f.tolist(),
        "discrepancy": discrepancy,
        "slope_real": float(slope_r),
        "slope_fake": float(slope_f),
        "high_freq_ratio": high_ratio,
        "peaks": peaks,
        "flagged": flagged,
        "checkerboard": bool(flagged),
        "real_power": pr.numpy(),
        "fake_power": pf.numpy(),
    }

"""Step 3b of the story: filtering in the Fourier domain (low/high/band pass), Gibbs ringing shown."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._common import as_image, out_folder, save_npy

__all__ = ["Filtering", "filtering", "clean_edge", "filter_title", "save_filtering"]


@dataclass(frozen=True)
class Filtering:
    """A filtered image, what was removed, and the ideal-vs-Gaussian comparison.

    Attributes:
        image: the input (float64).
        kind, cutoff, profile, order, pad: the filter (``cutoff`` a number or ``(lo, hi)``).
        mask: the frequency mask (centred, ``(H, W)``).
        filtered_log_spectrum: ``log(1 + |F| · mask)``.
        result, removed: the filtered image and ``image - result``.
        ideal, gaussian: the same kind and cutoff with the ideal and the Gaussian profile.
        edge_row, edge_col: a strong horizontal step with flat sides (ringing shows best there).
        crop: ``(r0, r1, c0, c1)`` around that edge.
        mask_profiles: ``(label, frequency, gain)`` along the positive x axis, per profile.
        kept_energy: ``sum(result²) / sum(image²)``.
    """

    image: np.ndarray
    kind: str
    cutoff: float | tuple[float, float]
    profile: str
    order: float
    pad: str
    mask: np.ndarray
    filtered_log_spectrum: np.ndarray
    result: np.ndarray
    removed: np.ndarray
    ideal: np.ndarray
    gaussian: np.ndarray
    edge_row: int
    edge_col: int
    crop: tuple[int, int, int, int]
    mask_profiles: tuple[tuple[str, np.ndarray, np.ndarray], ...]
    kept_energy: float


def clean_edge(gray: np.ndarray, w: int = 12) -> tuple[int, int]:
    """(row, col) of a strong horizontal step with flat sides, where ringing is easiest to see."""
    from scipy.ndimage import uniform_filter1d

    H, W = gray.shape
    m = uniform_filter1d(gray, w, axis=1, mode="nearest")
    s = np.sqrt(np.maximum(uniform_filter1d(gray**2, w, axis=1, mode="nearest") - m**2, 0))
    # left window ends at c-1, right window starts at c
    left_m, right_m = np.roll(m, w // 2 + 1, axis=1), np.roll(m, -(w // 2), axis=1)
    left_s, right_s = np.roll(s, w // 2 + 1, axis=1), np.roll(s, -(w // 2), axis=1)
    score = np.abs(right_m - left_m) - 3 * (left_s + right_s)
    r0, r1, c0, c1 = H // 6, 5 * H // 6, max(W // 8, 2 * w), min(7 * W // 8, W - 2 * w)
    sub = score[r0:r1, c0:c1]
    if sub.size == 0:  # too small to have flat sides: the centre will do
        return H // 2, W // 2
    i, j = np.unravel_index(int(np.argmax(sub)), sub.shape)
    return r0 + int(i), c0 + int(j)


def filtering(image, kind: str = "lowpass", cutoff: float | tuple[float, float] = 0.08, *,
              profile: str = "gaussian", order: float = 2.0, pad: str = "reflect",
              width: float | None = None) -> Filtering:
    """Multiply ``image``'s spectrum by a mask and transform back; also the ideal and Gaussian versions.

    Args:
        image: ``(H, W)`` or ``(C, H, W)`` array, or a bundled name.
        kind: ``lowpass | highpass | bandpass | bandstop``.
        cutoff: cycles/pixel; ``(lo, hi)`` for the band kinds.
        profile: ``ideal | gaussian | butterworth``; ``order`` is Butterworth's.
        pad: ``reflect | zeros | none`` (see :func:`convscope.fourier.filter_image`).
        width: for the band kinds with one ``cutoff``: the band's width (``cutoff`` its centre).
    """
    from ..fourier import FilterSpec, filter_image, spectrum

    img = as_image(image)
    spec = FilterSpec(kind, cutoff, profile, order, width)
    ideal_spec, gauss_spec = (FilterSpec(spec.kind, spec.cutoff, "ideal", order),
                              FilterSpec(spec.kind, spec.cutoff, "gaussian", order))
    H, W = img.shape[-2:]
    result = np.asarray(filter_image(img, spec, pad=pad))
    removed = img - result
    mask = spec.mask((H, W)).numpy()
    mag, _ = spectrum(img, log=False)
    filtered_log = np.log1p(np.asarray(mag) * mask)
    # the comparison: one of the two is the result itself unless the profile is Butterworth
    ideal = result if spec.profile == "ideal" else np.asarray(filter_image(img, ideal_spec, pad=pad))
    gauss = result if spec.profile == "gaussian" else np.asarray(filter_image(img, gauss_spec, pad=pad))
    gray = img.mean(0) if img.ndim == 3 else img
    row, col = clean_edge(gray)
    half = max(16, min(48, W // 6))
    c0, c1 = max(0, col - half), min(W, col + half)
    r0, r1 = max(0, row - half), min(H, row + half)
    cut = W // 2
    fr = np.arange(W - cut) / W
    profiles = [("ideal", fr, ideal_spec.mask((H, W)).numpy()[H // 2, cut:]),
                ("gaussian", fr, gauss_spec.mask((H, W)).numpy()[H // 2, cut:])]
    if spec.profile == "butterworth":
        profiles.append((f"butterworth n={spec.order:g}", fr, mask[H // 2, cut:]))
    kept = float((result**2).sum() / max((img**2).sum(), 1e-300))
    return Filtering(img, spec.kind, spec.cutoff, spec.profile, float(spec.order), pad, mask, filtered_log, result,
                     removed, ideal, gauss, row, col, (r0, r1, c0, c1), tuple(profiles), kept)


def filter_title(result: Filtering) -> str:
    c = result.cutoff
    cut_txt = f"{c[0]:g}–{c[1]:g}" if isinstance(c, tuple) else f"{c:g}"
    return f"{result.profile} {result.kind}, cutoff {cut_txt} cycles/pixel, pad={result.pad}"


def save_filtering(result: Filtering, out_dir: str | os.PathLike) -> list[Path]:
    """``result/removed/mask/ideal_result/gaussian_result.npy`` and ``filter_panel.png``."""
    from ..viz.fourier import filter_panel

    out = out_folder(out_dir)
    written: list[Path] = []
    save_npy(out / "result.npy", result.result.astype(np.float32), written)
    save_npy(out / "removed.npy", result.removed.astype(np.float32), written)
    save_npy(out / "mask.npy", result.mask.astype(np.float32), written)
    save_npy(out / "ideal_result.npy", result.ideal.astype(np.float32), written)
    save_npy(out / "gaussian_result.npy", result.gaussian.astype(np.float32), written)
    _, _, c0, c1 = result.crop
    comparison = {"ideal": result.ideal, "gaussian": result.gaussian, "crop": result.crop, "row": result.edge_row,
                  "line_cols": (c0, c1), "label": result.kind,
                  "mask_profiles": {label: (f, g) for label, f, g in result.mask_profiles}}
    written.append(filter_panel(result.image, result.mask, result.filtered_log_spectrum, result.result,
                                result.removed, out / "filter_panel.png", title=filter_title(result),
                                comparison=comparison))
    return written

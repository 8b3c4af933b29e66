"""Pictures of a DCGAN: sample grids, training curves, latent walks, arithmetic, spectra, comparisons.

Every function takes arrays (images in [-1, 1], shape (N, C, H, W)) and writes a PNG
atomically; none computes the science.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .core import new_figure, save_figure, save_gif, to_hwc
from .curves import gan_curves as save_curves  # the name train/gan.py uses

__all__ = [
    "grid_image",
    "save_arithmetic",
    "save_compare",
    "save_curves",
    "save_grid",
    "save_individual",
    "save_spectrum",
    "save_strip",
    "to_unit",
]


def to_unit(images) -> np.ndarray:
    """[-1, 1] (N, C, H, W) -> [0, 1] numpy."""
    a = images.detach().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)
    return np.clip((a.astype(np.float32) + 1) / 2, 0, 1)


def grid_image(images, nrow: int | None = None, pad: int = 2) -> np.ndarray:
    """Tile (N, C, H, W) images in [-1, 1] into one (H', W') or (H', W', 3) array in [0, 1]."""
    a = to_unit(images)
    n, c, h, w = a.shape
    nrow = nrow or int(np.ceil(np.sqrt(n)))
    ncol_rows = int(np.ceil(n / nrow))
    out = np.ones((c, ncol_rows * (h + pad) + pad, nrow * (w + pad) + pad), dtype=np.float32) * 0.5
    for i in range(n):
        r, q = divmod(i, nrow)
        out[:, pad + r * (h + pad): pad + r * (h + pad) + h, pad + q * (w + pad): pad + q * (w + pad) + w] = a[i]
    return to_hwc(out)


def _save_array(a: np.ndarray, path) -> Path:
    from ..data.images import save_image

    return Path(save_image(path, a) or path)


def save_grid(images, path: str | os.PathLike, *, nrow: int | None = None, title: str | None = None,
              scale: int = 3) -> Path:
    """A sample grid as a PNG (pixel-exact, upscaled ``scale`` times with nearest neighbour)."""
    g = grid_image(images, nrow)
    if scale > 1:
        g = g.repeat(scale, 0).repeat(scale, 1)
    return _save_array(g, path)


def save_individual(images, folder: str | os.PathLike, prefix: str = "sample") -> list[Path]:
    """One PNG per image: ``folder/prefix_0000.png``..."""
    a = to_unit(images)
    return [_save_array(to_hwc(im), Path(folder) / f"{prefix}_{i:04d}.png") for i, im in enumerate(a)]


def save_strip(frames, path: str | os.PathLike, *, gif_path: str | os.PathLike | None = None,
               scale: int = 3) -> list[Path]:
    """A latent walk: rows of frames (R, T, C, H, W) as one strip PNG, and the walk as a GIF."""
    a = np.asarray(frames.detach().cpu() if hasattr(frames, "detach") else frames)
    if a.ndim == 4:
        a = a[None]
    r, t = a.shape[:2]
    g = grid_image(a.reshape(r * t, *a.shape[2:]), nrow=t)
    g = g.repeat(scale, 0).repeat(scale, 1)
    out = [_save_array(g, path)]
    if gif_path is not None:
        # each GIF frame shows every row at the same step of the walk
        gif = [grid_image(a[:, i], nrow=r).repeat(scale, 0).repeat(scale, 1) for i in range(t)]
        gif = gif + gif[::-1]
        out.append(save_gif(gif, gif_path, duration_ms=100))
    return out


def save_arithmetic(rows: Sequence[dict], path: str | os.PathLike) -> Path:
    """Latent arithmetic as a grid: per concept three samples and their mean; then the result.

    ``rows``: dicts with ``label`` and ``images`` ((K, C, H, W) in [-1, 1]) and ``titles``.
    """
    ncols = max(len(r["images"]) for r in rows)
    fig, axes = new_figure(len(rows) * ncols, ncols=ncols, size=1.6)
    for i, r in enumerate(rows):
        ims = to_unit(r["images"])
        for j in range(ncols):
            ax = axes[i * ncols + j]
            if j < len(ims):
                ax.imshow(to_hwc(ims[j]), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
                ax.set_title(r.get("titles", [""] * len(ims))[j], fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(r["label"], fontsize=9)
    return save_figure(fig, path)


def save_spectrum(report: dict | Sequence[tuple[str, dict]], path: str | os.PathLike, *,
                  title: str | None = None) -> Path:
    """Azimuthally averaged power spectra of real vs generated (log scale), plus the 2-D spectra.

    ``report``: one :func:`convscope.metrics.spectral.spectral_report`, or a list of
    ``(label, report)`` sharing the same real images (real drawn once).
    """
    reports = [("generated", report)] if isinstance(report, dict) else list(report)
    n2d = 1 + len(reports)
    fig, axes = new_figure(1 + n2d, ncols=1 + n2d, size=3.4)
    ax = axes[0]
    r0 = reports[0][1]
    f = np.asarray(r0["freqs"])
    ax.semilogy(f[1:], np.asarray(r0["real_profile"])[1:], "k-", lw=2, label="real")
    for label, rep in reports:
        flag = " (checkerboard)" if rep.get("checkerboard") else ""
        ax.semilogy(f[1:], np.asarray(rep["fake_profile"])[1:], lw=1.5,
                    label=f"{label}: D={rep['discrepancy']:.3f}{flag}")
    ax.set_xlabel("spatial frequency (cycles per image)")
    ax.set_ylabel("mean power")
    ax.set_title(title or "azimuthally averaged power spectrum")
    ax.legend(fontsize=7, loc="lower left")
    panels = [("real", r0["real_power"], [])] + [(lab, rep["fake_power"], rep["flagged"]) for lab, rep in reports]
    # one colour scale for every panel, so that brighter means more power in each of them
    logs = [np.log10(np.asarray(p) + 1e-8) for _, p, _ in panels]
    vmin, vmax = min(float(v.min()) for v in logs), max(float(v.max()) for v in logs)
    for i, (ax, (label, _p, flagged), lp) in enumerate(zip(axes[1:], panels, logs)):
        s = lp.shape[-1]
        ax.imshow(lp, cmap="magma", vmin=vmin, vmax=vmax,
                  extent=(-s / 2 - 0.5, s / 2 - 0.5, s / 2 - 0.5, -s / 2 - 0.5))
        def wrap(f, s=s):  # the centred layout shows -S/2 .. S/2 - 1; S/2 is drawn at -S/2
            return (f + s // 2) % s - s // 2

        for pk in flagged:
            for sy, sx in ((1, 1), (-1, -1)):  # a real image's spectrum is symmetric: mark both
                ax.plot(wrap(sx * pk["fx"]), wrap(sy * pk["fy"]), "o", mfc="none", mec="cyan", ms=10, mew=1.5)
        ax.set_xlim(-s / 2 - 0.5, s / 2 - 0.5)
        ax.set_ylim(s / 2 - 0.5, -s / 2 - 0.5)
        ax.set_title(f"log power: {label}", fontsize=9)
        ax.set_xlabel("fx")
        if i == 0:  # the panels share their axes; one label keeps it off the neighbour's image
            ax.set_ylabel("fy")
    return save_figure(fig, path)


def save_compare(grids: Sequence[tuple[str, np.ndarray]], reports: Sequence[tuple[str, dict]],
                 path: str | os.PathLike, *, real=None) -> Path:
    """Side by side: one sample grid per variant, then their spectra against the real one."""
    n = len(grids) + (real is not None) + 1
    fig, axes = new_figure(n, ncols=n, size=3.6)
    i = 0
    if real is not None:
        axes[0].imshow(grid_image(real[:36], nrow=6), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        axes[0].set_title("real")
        axes[0].axis("off")
        i = 1
    for label, imgs in grids:
        axes[i].imshow(grid_image(imgs[:36], nrow=6), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        rep = dict(reports)[label]
        axes[i].set_title(f"{label}\nspectral D={rep['discrepancy']:.3f}" + (", checkerboard" if rep["checkerboard"] else ""),
                          fontsize=9)
        axes[i].axis("off")
        i += 1
    ax = axes[i]
    r0 = reports[0][1]
    f = np.asarray(r0["freqs"])
    ax.semilogy(f[1:], np.asarray(r0["real_profile"])[1:], "k-", lw=2, label="real")
    for label, rep in reports:
        ax.semilogy(f[1:], np.asarray(rep["fake_profile"])[1:], lw=1.5, label=label)
    ax.set_xlabel("cycles per image")
    ax.set_title("power spectra")
    ax.legend(fontsize=8)
    return save_figure(fig, path)

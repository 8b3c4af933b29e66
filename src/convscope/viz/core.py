"""Shared plotting helpers: display scaling, kernel heat maps, atomic PNG/GIF output."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from .._io import atomic_write_bytes

__all__ = ["display_scale", "new_figure", "save_figure", "save_gif", "show_kernel", "show_map", "to_hwc"]

plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 110, "font.size": 9, "axes.titlesize": 10})


def to_hwc(a) -> np.ndarray:
    """(H, W) stays; (C, H, W) with C in {1, 3, 4} becomes (H, W, C) (or (H, W) for C=1)."""
    a = np.asarray(a)
    if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[-1] not in (1, 3, 4):
        a = a.transpose(1, 2, 0)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    return a


def display_scale(a, *, symmetric: bool | None = None, percentile: float = 99.5) -> np.ndarray:
    """Map an array to [0, 1] for display.

    Signed data (feature maps) are centred on 0 (grey = 0) and clipped at a
    robust percentile so a few extreme pixels don't wash the picture out.
    """
    a = np.nan_to_num(np.asarray(a, dtype=np.float64))
    if symmetric is None:
        symmetric = bool(a.min() < 0)
    if symmetric:
        m = np.percentile(np.abs(a), percentile) or 1.0
        return np.clip(0.5 + 0.5 * a / m, 0, 1)
    lo, hi = np.percentile(a, 100 - percentile), np.percentile(a, percentile)
    if hi <= lo:
        return np.zeros_like(a)
    return np.clip((a - lo) / (hi - lo), 0, 1)


def new_figure(n: int, *, ncols: int | None = None, size: float = 3.0, titles: Sequence[str] | None = None):
    """A figure with ``n`` panels in a grid; returns (fig, axes list)."""
    ncols = ncols or min(n, 4)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows * 1.05), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.axis("off")
    if titles:
        for ax, t in zip(flat, titles):
            ax.set_title(t)
    return fig, flat[:n]


def show_map(ax, a, *, title: str | None = None, cmap: str | None = None, scale: bool = True, colorbar: bool = False):
    """Draw an image or feature map on ``ax`` (no ticks)."""
    a = to_hwc(a)
    if a.ndim == 2:
        img = display_scale(a) if scale else a
        signed = scale and np.asarray(a).min() < 0
        im = ax.imshow(img, cmap=cmap or ("RdBu_r" if signed else "gray"), vmin=0, vmax=1, interpolation="nearest")
        if colorbar:
            ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    else:
        ax.imshow(np.clip(a, 0, 1), interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax


def show_kernel(ax, k, *, title: str | None = None, annotate: bool | None = None, fmt: str = "{:.3g}"):
    """Kernel heat map (diverging, centred on 0), values printed for small kernels."""
    k = np.asarray(k, dtype=np.float64)
    m = np.abs(k).max() or 1.0
    ax.imshow(k, cmap="RdBu_r", vmin=-m, vmax=m, interpolation="nearest")
    if annotate is None:
        annotate = max(k.shape) <= 5
    if annotate:
        for (i, j), v in np.ndenumerate(k):
            ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=8,
                    color="white" if abs(v) > 0.6 * m else "black")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax


def save_figure(fig, path: str | os.PathLike, *, close: bool = True) -> Path:
    """Save a figure as PNG atomically."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    if close:
        plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def save_gif(frames: Sequence[np.ndarray], path: str | os.PathLike, *, duration_ms: int = 120, loop: int = 0) -> Path:
    """Write frames ((H, W) or (H, W, 3) floats in [0, 1], or uint8) as an animated GIF."""
    ims = []
    for f in frames:
        a = to_hwc(f)
        if a.dtype != np.uint8:
            a = (np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8)
        ims.append(Image.fromarray(a))
    buf = io.BytesIO()
    ims[0].save(buf, format="GIF", save_all=True, append_images=ims[1:], duration=duration_ms, loop=loop)
    return atomic_write_bytes(path, buf.getvalue())

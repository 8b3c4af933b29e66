"""Drawings made for the tour that no single command owns."""

from __future__ import annotations

import matplotlib.patches as mpatches
import numpy as np

from .core import new_figure, save_figure

__all__ = ["grid_values", "fractional_stride_figure"]


def grid_values(ax, a, *, title: str | None = None, highlight=None, zero_mask=None, fmt="{:.0f}", cmap="Blues"):
    """Draw a small matrix as a grid of numbered cells.

    ``zero_mask`` marks inserted/padded zeros (drawn hatched grey);
    ``highlight`` is ``(row, col, h, w)`` of a window to outline.
    """
    a = np.asarray(a, dtype=float)
    m = np.abs(a).max() or 1.0
    ax.imshow(a, cmap=cmap, vmin=-0.15 * m, vmax=1.3 * m, interpolation="nearest")
    H, W = a.shape
    for i in range(H):
        for j in range(W):
            inserted = zero_mask is not None and zero_mask[i, j]
            if inserted:
                ax.add_patch(mpatches.Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="#eeeeee", edgecolor="none", hatch="//"))
            ax.text(j, i, fmt.format(a[i, j]), ha="center", va="center", fontsize=8,
                    color="#999999" if inserted else "black")
    ax.set_xticks(np.arange(-0.5, W, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, H, 1), minor=True)
    ax.grid(which="minor", color="white", linewidth=1.5)
    ax.tick_params(which="both", length=0)
    ax.set_xticks([])
    ax.set_yticks([])
    if highlight is not None:
        r, c, h, w = highlight
        ax.add_patch(mpatches.Rectangle((c - 0.5, r - 0.5), w, h, fill=False, edgecolor="#d62728", linewidth=2.5))
    if title:
        ax.set_title(title)
    return ax


def fractional_stride_figure(x, xz, xp, kernel, out, path, *, window=(0, 0)):
    """input -> zero insertion -> padding (kernel window) -> kernel -> output."""
    kH, kW = np.asarray(kernel).shape
    fig, axes = new_figure(5, ncols=5, size=2.9)
    grid_values(axes[0], x, title=f"1. input {x.shape[0]}×{x.shape[1]}")
    zm = np.ones_like(xz, dtype=bool)
    zm[::2, ::2] = False
    grid_values(axes[1], xz, title=f"2. insert zeros (stride 2) → {xz.shape[0]}×{xz.shape[1]}", zero_mask=zm)
    ph = (xp.shape[0] - xz.shape[0]) // 2
    zp = np.ones_like(xp, dtype=bool)
    zp[ph : ph + xz.shape[0], ph : ph + xz.shape[1]] = zm
    grid_values(axes[2], xp, title=f"3. pad → {xp.shape[0]}×{xp.shape[1]}", zero_mask=zp,
                highlight=(window[0], window[1], kH, kW))
    grid_values(axes[3], kernel, title=f"4. kernel {kH}×{kW} (flipped)", cmap="Oranges")
    grid_values(axes[4], out, title=f"5. full convolution → {out.shape[0]}×{out.shape[1]}",
                highlight=(window[0], window[1], 1, 1), cmap="Greens")
    fig.suptitle("fractionally-strided convolution = zero insertion + full convolution", y=1.02)
    return save_figure(fig, path)

"""Panels for the spatial view: input, kernel, one feature map per channel, pooling."""

from __future__ import annotations

import numpy as np

from .core import new_figure, save_figure, show_kernel, show_map

CHANNEL_NAMES = {1: ["grey"], 3: ["red", "green", "blue"], 4: ["red", "green", "blue", "alpha"]}


def conv_panel(image, maps, path, *, pool=None):
    """One row per kernel: input | kernel | feature map per channel | pooled.

    ``maps`` is a list of ``(name, kernel (kH, kW), feature maps (C, H, W), pooled or None)``.
    """
    C = maps[0][2].shape[0]
    names = CHANNEL_NAMES.get(C, [f"ch{i}" for i in range(C)])
    ncols = 2 + C + (1 if pool else 0)
    fig, axes = new_figure(ncols * len(maps), ncols=ncols, size=2.6)
    for r, (name, k, chans, pooled) in enumerate(maps):
        row = axes[r * ncols : (r + 1) * ncols]
        show_map(row[0], image, title="input image" if r == 0 else None)
        show_kernel(row[1], k, title=f"kernel: {name}")
        for c in range(C):
            show_map(row[2 + c], chans[c], title=f"feature map ({names[c]})")
        if pool:
            show_map(row[-1], np.abs(pooled).mean(0) if C > 1 else pooled[0],
                     title=f"{pool[0]}-pool {pool[1]}x{pool[1]}")
    fig.suptitle("input ⊛ kernel = feature map (one per channel)", y=1.0)
    return save_figure(fig, path)

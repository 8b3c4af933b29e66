"""Panels for the spatial view: input, kernel, one feature map per channel, pooling."""

from __future__ import annotations

import numpy as np

from .core import display_scale, new_figure, save_figure, show_kernel, show_map

CHANNEL_NAMES = {1: ["grey"], 3: ["red", "green", "blue"], 4: ["red", "green", "blue", "alpha"]}


def feature_display(fmap) -> tuple[np.ndarray, bool]:
    """A feature map scaled to [0, 1] for display, and whether it is signed.

    Maps that are non-negative up to rounding (a blur computed by FFT leaves
    -1e-17s) are shown as grey levels; truly signed maps (edges, derivatives) are
    centred on 0 and clipped at the 98th percentile of |value| so thin edges
    stay visible.
    """
    a = np.nan_to_num(np.asarray(fmap, dtype=np.float64))
    m = float(np.abs(a).max()) if a.size else 0.0
    signed = bool(a.min() < -1e-6 * m)
    if not signed:
        a = np.clip(a, 0, None)
    return display_scale(a, symmetric=signed, percentile=98.0 if signed else 99.5), signed


def _show_feature(ax, fmap, title):
    img, signed = feature_display(fmap)
    show_map(ax, img, title=title, scale=False, cmap="RdBu_r" if signed else "gray")


def conv_panel(image, maps, path, *, pool=None):
    """One row per kernel: input | kernel | feature map per channel | pooled.

    ``maps`` is a list of ``(name, kernel (kH, kW), feature maps (C, H, W), pooled or None)``.
    Signed maps use a diverging colour map (white = 0, red > 0, blue < 0).
    """
    C = maps[0][2].shape[0]
    names = CHANNEL_NAMES.get(C, [f"ch{i}" for i in range(C)])
    ncols = 2 + C + (1 if pool else 0)
    fig, axes = new_figure(ncols * len(maps), ncols=ncols, size=2.6)
    for r, (name, k, chans, pooled) in enumerate(maps):
        row = axes[r * ncols : (r + 1) * ncols]
        show_map(row[0], image, title="input image" if r == 0 else None)
        show_kernel(row[1], k, title=f"kernel: {name} {k.shape[0]}x{k.shape[1]}")
        for c in range(C):
            _show_feature(row[2 + c], chans[c], f"feature map ({names[c]})")
        if pool:
            what = f"{pool[0]}-pool {pool[1]}x{pool[1]}"
            if C > 1:
                _show_feature(row[-1], np.abs(pooled).mean(0), f"|{what}|, mean of channels")
            else:
                _show_feature(row[-1], pooled[0], what)
    fig.suptitle("input ⊛ kernel = feature map (one per channel)", y=1.0)
    return save_figure(fig, path)

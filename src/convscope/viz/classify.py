"""Pictures for the classifier: learned filters in space and frequency, confusion, curves."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .core import new_figure, save_figure, show_kernel, show_map
from .curves import classifier_curves as training_curves  # the name train/ and older code use

__all__ = ["filters_panel", "confusion_figure", "training_curves", "predictions_grid"]


def _kernel_image(k: np.ndarray) -> np.ndarray:
    """(C_in, kH, kW) -> (kH, kW) for grey, or an RGB picture scaled around 0 for colour."""
    if k.shape[0] == 1:
        return k[0]
    if k.shape[0] == 3:
        m = np.abs(k).max() or 1.0
        return np.clip(0.5 + 0.5 * k / m, 0, 1)  # (3, kH, kW), grey = 0
    return k.mean(0)


def filters_panel(image: np.ndarray, kernels: np.ndarray, spectra: np.ndarray, maps: np.ndarray,
                  path: str | os.PathLike, *, title: str | None = None, max_filters: int = 16,
                  per_row: int = 8) -> Path:
    """Learned first-layer kernels over the magnitudes of their spectra and the feature maps they make.

    One column per filter (bands of ``per_row``), three rows each: kernel,
    centred log-magnitude spectrum, feature map of ``image`` (drawn on the left).

    Args:
        image: the input, (H, W) or (C, H, W) in display range.
        kernels: (N, C_in, kH, kW) learned weights.
        spectra: (N, S, S) centred |F[kernel]| (zero-padded, fftshift-ed).
        maps: (N, H', W') first-layer feature maps of ``image``.
    """
    n = min(len(kernels), max_filters)
    per = min(n, per_row)
    bands = -(-n // per)
    ncols = per + 1
    fig, axes = new_figure(3 * bands * ncols, ncols=ncols, size=1.6)
    names = ("kernel", "|F[kernel]|", "feature map")
    for b in range(bands):
        for r in range(3):
            ax = axes[(3 * b + r) * ncols]
            if b == 0 and r == 0:
                show_map(ax, image, title="input image")
            else:
                ax.axis("off")
            if b == 0 and r > 0:
                ax.text(0.5, 0.5, names[r] + " \u2192", ha="center", va="center", fontsize=10,
                        transform=ax.transAxes)
        for j in range(per):
            i = b * per + j
            col = [axes[(3 * b + r) * ncols + 1 + j] for r in range(3)]
            if i >= n:
                for ax in col:
                    ax.axis("off")
                continue
            k = _kernel_image(kernels[i])
            if k.ndim == 2:
                show_kernel(col[0], k, title=f"filter {i}", annotate=False)
            else:
                show_map(col[0], k, title=f"filter {i}", scale=False)
            show_map(col[1], np.log1p(spectra[i]), cmap="magma")
            show_map(col[2], maps[i])
    fig.suptitle(title or "learned first-layer filters: kernel, |spectrum| (centred, log), feature map", y=1.0)
    return save_figure(fig, path)


def confusion_figure(cm: np.ndarray, classes: Sequence[str], path: str | os.PathLike, *,
                     title: str = "confusion matrix") -> Path:
    """Row-normalised heat map with the counts written in each cell."""
    import matplotlib.pyplot as plt

    cm = np.asarray(cm)
    k = len(classes)
    frac = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    size = max(4.0, 0.45 * k + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    im = ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    if k <= 20:
        for (i, j), v in np.ndenumerate(cm):
            if v:
                ax.text(j, i, str(v), ha="center", va="center", fontsize=7,
                        color="white" if frac[i, j] > 0.5 else "black")
    ax.set_xticks(range(k), [str(c) for c in classes], rotation=90 if k > 10 or max(map(len, classes)) > 3 else 0)
    ax.set_yticks(range(k), [str(c) for c in classes])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    return save_figure(fig, path)


def predictions_grid(images: Sequence[np.ndarray], labels: Sequence[str], path: str | os.PathLike) -> Path:
    """Each input with its top predictions written underneath."""
    n = len(images)
    fig, axes = new_figure(n, ncols=min(n, 6), size=2.2)
    for ax, im, lab in zip(axes, images, labels):
        show_map(ax, im, scale=False)
        ax.set_xlabel(lab, fontsize=8)
    return save_figure(fig, path)

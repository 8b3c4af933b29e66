"""Training curves: the one place both trainers' curves are drawn (classifier per epoch, GAN per step)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .._checks import ArgumentError
from .core import new_figure, save_figure

__all__ = ["classifier_curves", "gan_curves"]


def classifier_curves(history: Sequence[dict], path: str | os.PathLike) -> Path:
    """A classifier's loss and accuracy per epoch, train and validation.

    ``history``: one dict per epoch with ``epoch``, ``train_loss``, ``val_loss``, ``train_acc``, ``val_acc``.
    """
    import matplotlib.pyplot as plt

    ep = [h["epoch"] for h in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.4))
    for key, ax in (("loss", a), ("acc", b)):
        for split, style in (("train", "-o"), ("val", "-s")):
            vals = [h.get(f"{split}_{key}") for h in history]
            vals = [float(v) if isinstance(v, int | float) else np.nan for v in vals]
            ax.plot(ep, vals, style, ms=3, label=split)
        ax.set_xlabel("epoch")
        ax.set_ylabel("cross-entropy" if key == "loss" else "accuracy")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("training curves")
    return save_figure(fig, path)


def gan_curves(history: dict, path: str | os.PathLike, *, smooth: int = 20) -> Path:
    """A GAN's loss curves and D(x), D(G(z)) against the step.

    ``history``: lists ``step``, ``loss_d``, ``loss_g``, ``d_real``, ``d_fake`` (smoothed over ``smooth`` steps),
    and optionally ``ada_p`` (ADA's augmentation probability, drawn unsmoothed on the right panel).
    """
    steps = np.asarray(history["step"], dtype=float)
    if steps.size == 0:
        raise ArgumentError("history must hold at least one step, got none")

    def sm(v):
        v = np.asarray(v, dtype=float)
        k = max(1, min(smooth, v.size // 5 or 1))
        return np.convolve(v, np.ones(k) / k, mode="valid"), steps[k - 1:]

    fig, (a1, a2) = new_figure(2, ncols=2, size=4.0)
    for key, label in (("loss_d", "loss D"), ("loss_g", "loss G")):
        v, s = sm(history[key])
        a1.plot(s, v, label=label)
    a1.set_xlabel("step")
    a1.set_title("losses")
    a1.legend()
    for key, label in (("d_real", "D(x)"), ("d_fake", "D(G(z))")):
        v, s = sm(history[key])
        a2.plot(s, v, label=label)
    if len(history.get("ada_p") or []) == steps.size:
        a2.plot(steps, np.asarray(history["ada_p"], dtype=float), label="ADA p", color="tab:green", lw=1.0)
    a2.axhline(0.5, color="gray", lw=0.8, ls=":")
    a2.set_ylim(0, 1)
    a2.set_xlabel("step")
    a2.set_title("discriminator outputs (mean sigmoid)")
    a2.legend()
    return save_figure(fig, path)

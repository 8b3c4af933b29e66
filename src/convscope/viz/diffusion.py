"""Pictures of diffusion: the propagator, frames and strips, concentration profiles, mass and entropy.

Every function receives arrays computed by :mod:`convscope.diffusion` and
writes a PNG (or GIF); none of them computes the science.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from .core import save_figure, save_gif, show_kernel

__all__ = [
    "frame_scale",
    "propagator_figure",
    "diffusion_strip",
    "diffusion_gif",
    "profile_figure",
    "mass_entropy_figure",
]


def frame_scale(frames: Sequence[np.ndarray], *, shared: bool = True, gamma: float = 1.0) -> list[np.ndarray]:
    """Map concentrations to [0, 1] for display.

    ``shared``: one scale (0 to the largest value of all frames), so fading
    shows salt spreading out; otherwise each frame is scaled to its own maximum
    (a spreading drop stays visible). ``gamma`` < 1 brightens faint salt.
    """
    frames = [np.clip(np.asarray(f, dtype=np.float64), 0, None) for f in frames]
    top = max(float(f.max()) for f in frames) or 1.0
    out = []
    for f in frames:
        m = top if shared else (float(f.max()) or 1.0)
        out.append(np.clip(f / m, 0, 1) ** gamma)
    return out


def propagator_figure(kernel, P, text: str, path: str | os.PathLike, *, title: str = "") -> Path:
    """Kernel | softmaxed propagator heat map, with the moments printed below."""
    kernel, P = np.asarray(kernel, dtype=np.float64), np.asarray(P, dtype=np.float64)
    fig, axes = plt.subplots(1, 2, figsize=(7.6, 4.6))
    show_kernel(axes[0], kernel, title="kernel")
    im = axes[1].imshow(P, cmap="magma", vmin=0, vmax=P.max() or 1, interpolation="nearest")
    if max(P.shape) <= 7:
        for (i, j), v in np.ndenumerate(P):
            axes[1].text(j, i, f"{v:.4g}", ha="center", va="center", fontsize=8,
                         color="black" if v > 0.6 * P.max() else "white")
    axes[1].set_xticks([])
    axes[1].set_yticks([])
    axes[1].set_title("propagator = softmax(kernel / T)")
    fig.colorbar(im, ax=axes[1], fraction=0.046, pad=0.04, label="jump probability")
    if title:
        fig.suptitle(title)
    fig.subplots_adjust(bottom=0.3)
    fig.text(0.02, 0.22, text, family="monospace", fontsize=7.5, va="top")
    return save_figure(fig, path)


def diffusion_strip(frames: Sequence[np.ndarray], steps: Sequence[int], path: str | os.PathLike, *,
                    shared: bool = True, gamma: float = 1.0, title: str | None = None,
                    size: float = 2.4) -> Path:
    """The frames side by side, each titled with its step count (a README strip)."""
    shown = frame_scale(frames, shared=shared, gamma=gamma)
    n = len(shown)
    fig, axes = plt.subplots(1, n, figsize=(size * n, size * 1.12), squeeze=False)
    for ax, f, s in zip(axes[0], shown, steps):
        ax.imshow(f, cmap="gray" if shared else "inferno", vmin=0, vmax=1, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{s} step{'s' if s != 1 else ''}")
    if title:
        fig.suptitle(title, y=1.0)
    fig.tight_layout()
    return save_figure(fig, path)


def diffusion_gif(frames: Sequence[np.ndarray], path: str | os.PathLike, *, shared: bool = True,
                  gamma: float = 1.0, duration_ms: int = 120) -> Path:
    """An animated GIF of the frames (display-scaled as :func:`frame_scale`)."""
    return save_gif(frame_scale(frames, shared=shared, gamma=gamma), path, duration_ms=duration_ms)


def profile_figure(profiles: Sequence[np.ndarray], steps: Sequence[int], path: str | os.PathLike, *,
                   heat: Sequence[np.ndarray] | None = None, where: str = "", D: float | None = None) -> Path:
    """Concentration along a line at each step; the heat-equation solution dashed when given."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    colors = plt.cm.viridis(np.linspace(0, 0.9, max(len(steps), 2)))
    for i, (p, s) in enumerate(zip(profiles, steps)):
        ax.plot(np.arange(len(p)), p, color=colors[i], lw=1.4, label=f"{s} steps")
        if heat is not None:
            ax.plot(np.arange(len(p)), heat[i], color="k", lw=0.8, ls="--", alpha=0.8,
                    label="heat equation" if i == len(steps) - 1 else None)
    ax.set_xlabel("pixel")
    ax.set_ylabel("concentration (intensity = salt)")
    t = f"concentration along {where}" if where else "concentration profile"
    if heat is not None and D is not None:
        t += f"\nsolid: diffusion by the propagator; dashed: ∂u/∂t = D∇²u, D = {D:.4g}, t = steps"
    ax.set_title(t)
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def mass_entropy_figure(steps: Sequence[int], mass: Sequence[float], entropy: Sequence[float],
                        path: str | os.PathLike, *, max_entropy: float | None = None, boundary: str = "") -> Path:
    """Total salt and the entropy of its distribution against steps."""
    steps = np.asarray(steps)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9.5, 3.6))
    log = steps.max() > 20 and (steps > 0).sum() > 2
    x = np.maximum(steps, 0.5) if log else steps
    a1.plot(x, mass, "o-", ms=3)
    a1.set_title(f"total salt (mass){' — ' + boundary if boundary else ''}")
    m = np.asarray(mass, dtype=np.float64)
    if np.ptp(m) < 1e-9 * max(abs(m[0]), 1e-300):
        a1.set_ylim(m[0] * (1 - 1e-3), m[0] * (1 + 1e-3))
        a1.text(0.5, 0.1, f"conserved: max |Δ| / mass = {np.ptp(m) / abs(m[0]):.1e}", transform=a1.transAxes,
                ha="center")
    a2.plot(x, entropy, "o-", ms=3, color="C1")
    if max_entropy is not None:
        a2.axhline(max_entropy, color="gray", ls=":", label="log(H W): uniform salt")
        a2.legend(fontsize=7)
    a2.set_title("entropy of the salt distribution (nats)")
    for a in (a1, a2):
        a.set_xlabel("steps" + (" (log; 0 drawn at 0.5)" if log else ""))
        if log:
            a.set_xscale("log")
        a.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)

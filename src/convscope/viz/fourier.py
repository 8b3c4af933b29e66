"""Panels for the frequency view: spectrum, filtering, the convolution theorem.

Every function receives arrays already computed by :mod:`convscope.fourier`
and writes one PNG; none of them computes the science.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .core import new_figure, save_figure, show_map

__all__ = ["filter_panel", "laplacian_figure", "spectrum_panel", "theorem_panel"]


def _gray(a) -> np.ndarray:
    """(C, H, W) -> mean over channels for maps that only make sense in grey."""
    a = np.asarray(a)
    return a.mean(0) if a.ndim == 3 else a


def _show_log(ax, a, title, cmap="magma"):
    a = _gray(a)
    lo, hi = np.percentile(a, 1), np.percentile(a, 99.9)
    ax.imshow(a, cmap=cmap, vmin=lo, vmax=hi if hi > lo else lo + 1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title)


def spectrum_panel(image, log_magnitude, phase, frequency, power, slope, intercept, path, *, fit_range=None):
    """image | log magnitude | phase | radial power on log-log axes with the fitted slope."""
    fig, axes = new_figure(4, ncols=4, size=3.2)
    show_map(axes[0], image, title="image", scale=False)
    _show_log(axes[1], log_magnitude, "log(1 + |F|), centred")
    ph = _gray(phase) if np.asarray(phase).ndim == 2 else np.asarray(phase)[0]
    axes[2].imshow(ph, cmap="twilight", vmin=-np.pi, vmax=np.pi, interpolation="nearest")
    axes[2].set_xticks([])
    axes[2].set_yticks([])
    axes[2].set_title("phase (rad)")
    ax = axes[3]
    f, P = np.asarray(frequency), np.asarray(power)
    sel = (f > 0) & np.isfinite(P) & (P > 0)
    ax.loglog(f[sel], P[sel], ".", ms=3, color="tab:blue", label="radial mean power")
    fl = f[sel] if fit_range is None else f[sel & (f >= fit_range[0]) & (f <= fit_range[1])]
    ax.loglog(fl, 10**intercept * fl**slope, "-", color="tab:red", lw=1.5, label=f"fit: slope {slope:.2f}")
    ax.loglog(fl, 10**intercept * fl[0] ** slope * (fl / fl[0]) ** -2.0, "--", color="gray", lw=1, label="slope -2")
    ax.set_xlabel("frequency (cycles/pixel)")
    ax.set_ylabel("power")
    ax.set_title(f"radial power spectrum, slope {slope:.2f}")
    ax.legend(fontsize=7, loc="lower left")
    ax.grid(True, which="both", alpha=0.25)
    fig.subplots_adjust(wspace=0.3)
    fig.suptitle("The Fourier domain for images: natural photographs fall as ~1/f² in power", y=1.02)
    return save_figure(fig, path)


def filter_panel(image, mask, filtered_log_spectrum, result, removed, path, *, title: str, comparison=None):
    """Top row: image | mask | filtered spectrum | result | removed part.

    ``comparison`` (optional) is a dict for a second row that contrasts the ideal
    and Gaussian profiles at the same cutoff: ``ideal``, ``gaussian`` (results),
    ``crop`` ((r0, r1, c0, c1) zoom window), ``row`` (the line drawn),
    ``line_cols`` ((c0, c1) range of the line profile) and ``label``.
    """
    nrow = 2 if comparison else 1
    fig, axes = new_figure(5 * nrow, ncols=5, size=3.0)
    show_map(axes[0], image, title="image", scale=False)
    m = np.asarray(mask)
    axes[1].imshow(m, cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
    axes[1].set_xticks([])
    axes[1].set_yticks([])
    axes[1].set_title("mask H(f), centred")
    _show_log(axes[2], filtered_log_spectrum, "filtered spectrum log(1+|F·H|)")
    for ax, a, name in ((axes[3], result, "result"), (axes[4], removed, "removed part (image − result)")):
        a = np.asarray(a)
        # mostly non-negative (a low-pass result, or what a high-pass removed): grey picture;
        # genuinely signed (high/band-pass detail): diverging map centred on 0
        signed = a.min() < -0.05 * max(float(np.abs(a).max()), 1e-12)
        show_map(ax, _gray(a) if signed else np.clip(a, 0, 1), title=name, scale=signed)
    if comparison:
        c = comparison
        r0, r1, c0, c1 = c["crop"]
        row = c["row"]
        for ax, key in ((axes[5], "ideal"), (axes[6], "gaussian")):
            crop = np.asarray(c[key])
            crop = _gray(crop)[r0:r1, c0:c1]
            ax.imshow(crop, cmap="gray", vmin=np.percentile(crop, 0.5), vmax=np.percentile(crop, 99.5),
                      interpolation="nearest")
            ax.axhline(row - r0, color="tab:red" if key == "ideal" else "tab:green", lw=0.8, alpha=0.8)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{key} {c['label']} (zoom)")
        img_crop = _gray(np.asarray(image))[r0:r1, c0:c1]
        axes[7].imshow(img_crop, cmap="gray", interpolation="nearest")
        axes[7].axhline(row - r0, color="tab:blue", lw=0.8)
        axes[7].set_xticks([])
        axes[7].set_yticks([])
        axes[7].set_title("original (zoom)")
        axes[8].axis("on")
        lc0, lc1 = c["line_cols"]
        xs = np.arange(lc0, lc1)
        ax = axes[8]
        ax.plot(xs, _gray(np.asarray(image))[row, lc0:lc1], color="tab:blue", lw=1, label="original")
        ax.plot(xs, _gray(np.asarray(c["ideal"]))[row, lc0:lc1], color="tab:red", lw=1.2, label="ideal: Gibbs ringing")
        ax.plot(xs, _gray(np.asarray(c["gaussian"]))[row, lc0:lc1], color="tab:green", lw=1.2, label="gaussian: smooth")
        ax.set_title(f"line profile, row {row}")
        ax.set_xlabel("column")
        ax.legend(fontsize=7, loc="best")
        ax.grid(True, alpha=0.25)
        # the masks' radial cross-sections
        ax = axes[9]
        prof = c.get("mask_profiles", {})
        for name, (fr, g) in prof.items():
            ax.plot(fr, g, lw=1.2, label=name)
        ax.set_xlabel("frequency (cycles/pixel)")
        ax.set_ylabel("gain")
        ax.set_title("mask cross-sections")
        ax.set_xlim(0, 0.5)
        ax.legend(fontsize=7)
        ax.grid(True, alpha=0.25)
        axes[9].axis("on")
    fig.subplots_adjust(wspace=0.3)
    fig.suptitle(title, y=1.01)
    return save_figure(fig, path)


def theorem_panel(spatial, frequency, log_abs_diff, circular, wrap_error, wrap, path, *, title: str):
    """spatial | FFT | log10 |difference| | circular (unpadded) | wrap-around error."""
    fig, axes = new_figure(5, ncols=5, size=3.0)
    show_map(axes[0], spatial, title="spatial: convolve2d (full)")
    show_map(axes[1], frequency, title="FFT, zero padded")
    d = _gray(log_abs_diff)
    im = axes[2].imshow(d, cmap="inferno", interpolation="nearest")
    axes[2].set_xticks([])
    axes[2].set_yticks([])
    axes[2].set_title("log10 |spatial − FFT|")
    fig.colorbar(im, ax=axes[2], fraction=0.046, pad=0.04)
    show_map(axes[3], circular, title="FFT without padding (circular)")
    w = np.asarray(wrap, dtype=float)
    axes[3].contour(w, levels=[0.5], colors="yellow", linewidths=0.8)
    e = _gray(wrap_error)
    m = float(np.abs(e).max()) or 1.0
    im = axes[4].imshow(e, cmap="RdBu_r", vmin=-m, vmax=m, interpolation="nearest")
    axes[4].set_xticks([])
    axes[4].set_yticks([])
    axes[4].set_title("wrap-around error (circular − linear)")
    fig.colorbar(im, ax=axes[4], fraction=0.046, pad=0.04)
    fig.subplots_adjust(wspace=0.35)
    fig.suptitle(title, y=1.03)
    return save_figure(fig, path)


def laplacian_figure(spectral, finite_difference, path) -> Path:
    """The spectral Laplacian next to the finite-difference one."""
    fig, axes = new_figure(2, ncols=2, size=3.6)
    show_map(axes[0], spectral, title="spectral Laplacian  −|k|²·F[u]")
    show_map(axes[1], finite_difference, title="finite-difference Laplacian (−laplacian4)")
    return save_figure(fig, path)

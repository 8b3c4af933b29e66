"""Pictures of 1-D signals: the lecture notes' red waveform and blue spectrum, the equaliser GIF, the spectrogram,
the continuous theorem, a filter and a room.

Every function receives arrays computed by :mod:`convscope.signals` or
:mod:`convscope.fourier` and writes one PNG (or GIF); none of them computes the science.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image, ImageDraw

from .._io import atomic_write_bytes
from .core import save_figure

__all__ = [
    "continuous_theorem_figure",
    "equaliser_gif",
    "filter_figure",
    "reverb_figure",
    "spectrogram_figure",
    "time_frequency_figure",
]

RED, BLUE = "#d62728", "#1f4fbf"  # the lecture notes' time domain (red) and frequency domain (blue)
_OCTAVE_TICKS = (31.25, 62.5, 125, 250, 500, 1000, 2000, 4000, 8000, 16000)


def _hz(v: float) -> str:
    """A frequency label to three figures: ``31.2``, ``575``, ``1.32k``."""
    return f"{v / 1000:.3g}k" if v >= 1000 else f"{v:.3g}"


def _log_hz_axis(ax, fmin: float, fmax: float) -> None:
    ax.set_xscale("log")
    ax.set_xlim(fmin, fmax)
    ticks = [t for t in _OCTAVE_TICKS if fmin <= t <= fmax]
    ax.set_xticks(ticks)
    ax.set_xticklabels([_hz(t) for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel("frequency (Hz)")


def _envelope(samples: np.ndarray, rate: float, columns: int = 2000):
    """Times and the min/max of each of ``columns`` stretches: a waveform drawn at screen resolution."""
    x = np.asarray(samples, dtype=np.float64)
    n = x.shape[0]
    if n <= 2 * columns:
        t = np.arange(n) / rate
        return t, x, x
    edges = np.linspace(0, n, columns + 1).astype(int)
    lo = np.minimum.reduceat(x, edges[:-1])
    hi = np.maximum.reduceat(x, edges[:-1])
    return (edges[:-1] + edges[1:]) / 2 / rate, lo, hi


def _log_pool(f: np.ndarray, values: np.ndarray, fmin: float, rows: int):
    """Pool the bins at or above ``fmin`` into at most ``rows`` log-spaced groups, keeping each group's
    maximum (along the first axis): what a screen can show of a long spectrum, peaks kept."""
    sel = np.flatnonzero(f >= fmin)
    f, values = f[sel], values[sel]
    if f.shape[0] <= rows:
        return f, values
    edges = np.geomspace(f[0], f[-1] * (1 + 1e-12), rows + 1)
    starts = np.unique(np.searchsorted(f, edges[:-1]))
    starts = starts[starts < f.shape[0]]
    return f[starts], np.maximum.reduceat(values, starts, axis=0)


def time_frequency_figure(samples, sample_rate: float, frequencies, amplitude, peaks: Sequence[tuple[float, float, str]],
                          path: str | os.PathLike, *, title: str = "") -> Path:
    """The lecture notes' picture: the waveform in red (seconds) above its magnitude spectrum in blue (hertz).

    ``peaks`` are ``(frequency, amplitude, label)``, drawn as labelled markers on the spectrum.
    """
    fig, (ax_t, ax_f) = plt.subplots(2, 1, figsize=(10, 6.4), gridspec_kw={"height_ratios": [1, 1.25]})
    t, lo, hi = _envelope(samples, sample_rate)
    if lo is hi:
        ax_t.plot(t, lo, color=RED, lw=0.8)
    else:
        ax_t.fill_between(t, lo, hi, color=RED, lw=0, alpha=0.9)
    ax_t.set_xlim(0, len(samples) / sample_rate)
    ax_t.set_ylim(-1.05, 1.05)
    ax_t.set_xlabel("time (s)")
    ax_t.set_ylabel("amplitude")
    ax_t.set_title("time domain")
    ax_t.grid(True, alpha=0.25)
    f, a = np.asarray(frequencies, dtype=np.float64), np.asarray(amplitude, dtype=np.float64)
    fmin, fmax = 20.0, max(float(f[-1]), 40.0)
    fp, ap = _log_pool(f, a, fmin, 3000)
    ax_f.fill_between(fp, 0, ap, color=BLUE, lw=0, alpha=0.85)
    ax_f.plot(fp, ap, color=BLUE, lw=0.6)
    top = float(ap.max()) if ap.size else 1.0
    for fr, amp, label in peaks:
        ax_f.plot([fr], [amp], "v", color="black", ms=5)
        ax_f.annotate(label, (fr, amp), xytext=(0, 6), textcoords="offset points", ha="center", fontsize=7,
                      rotation=90, va="bottom")
    _log_hz_axis(ax_f, fmin, fmax)
    ax_f.set_ylim(0, 1.35 * top if top > 0 else 1.0)
    ax_f.set_ylabel("amplitude")
    ax_f.set_title("frequency domain: the magnitude spectrum, its peaks named (A4 = 440 Hz)")
    ax_f.grid(True, alpha=0.25)
    fig.suptitle(title or "Transformation of the time domain (red) into the frequency domain (blue)")
    fig.tight_layout()
    return save_figure(fig, path)


def spectrogram_figure(frequencies, times, db, path: str | os.PathLike, *, title: str = "",
                       floor_db: float = -100.0) -> Path:
    """The spectrogram: time across, frequency up (log axis from 20 Hz), level in dBFS as colour."""
    f, t, d = np.asarray(frequencies, dtype=np.float64), np.asarray(times), np.asarray(db, dtype=np.float64)
    fp, dp = _log_pool(f, d, 20.0, 400)  # at most 400 rows and 1200 columns: the screen's resolution
    if t.shape[0] > 1200:
        starts = np.linspace(0, t.shape[0], 1201).astype(int)[:-1]
        t, dp = t[starts], np.maximum.reduceat(dp, starts, axis=1)
    fig, ax = plt.subplots(figsize=(10, 4.6))
    mesh = ax.pcolormesh(t, fp, dp, shading="nearest", cmap="magma", vmin=floor_db,
                         vmax=max(float(d.max()), floor_db + 1), rasterized=True)
    ax.set_yscale("log")
    ticks = [v for v in _OCTAVE_TICKS if fp[0] <= v <= f[-1]]
    ax.set_yticks(ticks)
    ax.set_yticklabels([_hz(v) for v in ticks])
    ax.minorticks_off()
    ax.set_ylim(fp[0], f[-1])
    ax.set_xlabel("time (s)")
    ax.set_ylabel("frequency (Hz)")
    fig.colorbar(mesh, ax=ax, label="level (dBFS)", pad=0.01)
    ax.set_title(title or "spectrogram")
    fig.tight_layout()
    return save_figure(fig, path)


# ---------------------------------------------------------------- the equaliser GIF

_N_BAR_COLOURS = 48  # palette entries kept for the bars' green-yellow-red gradient


def _bar_palette() -> np.ndarray:
    """(48, 3) uint8 from green (quiet) through yellow to red (loud), as a player's LEDs."""
    s = np.linspace(0, 1, _N_BAR_COLOURS)
    r = np.clip(2 * s, 0, 1)
    g = np.clip(2 * (1 - s), 0, 1) * 0.85 + 0.1
    b = np.full_like(s, 0.12)
    return (np.stack([r, g, b], 1) * 255).astype(np.uint8)


def equaliser_gif(levels, centres, fps: float, path: str | os.PathLike, *, floor_db: float = -60.0,
                  max_frames: int | None = 600, title: str = "") -> Path:
    """The mp3 player's equaliser: one bar per band, one GIF frame per row of ``levels``.

    Args:
        levels: ``(T, B)`` band levels in dBFS (:class:`convscope.signals.Equaliser`).
        centres: ``(B,)`` band centres in Hz, for the labels.
        fps: frames per second of ``levels``; each GIF frame lasts ``1000 / fps`` ms (rounded to
            GIF's 10 ms), so the bars keep time with the sound played beside them.
        floor_db: the level drawn as an empty bar.
        max_frames: draw at most this many frames (the first ``max_frames / fps`` seconds);
            ``None`` draws all.
        title: drawn above the bars.

    The axes, labels and grid are drawn once by matplotlib; the bars and the clock are painted
    into palette images frame by frame, so a long song costs little.
    """
    lv = np.asarray(levels, dtype=np.float64)
    c = np.asarray(centres, dtype=np.float64)
    T, B = lv.shape
    if max_frames is not None:
        T = min(T, int(max_frames))
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=80)
    ax.set_xlim(-0.5, B - 0.5)
    ax.set_ylim(floor_db, 0)
    ax.set_xticks(range(B))
    ax.set_xticklabels([_hz(v) for v in c], fontsize=6, rotation=45)
    ax.set_ylabel("dBFS")
    ax.set_xlabel("band centre (Hz)")
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_facecolor("#101418")
    ax.set_title(title or "equaliser", fontsize=9)
    fig.tight_layout()
    fig.canvas.draw()
    bg = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    x0, y0, x1, y1 = (round(v) for v in ax.get_window_extent().extents)
    plt.close(fig)
    H = bg.shape[0]
    top_px, bottom_px = H - y1 + 1, H - y0 - 1  # image rows, top down
    base = Image.fromarray(bg).quantize(colors=256 - _N_BAR_COLOURS, dither=Image.Dither.NONE)
    pal = np.asarray(base.getpalette()[: 3 * (256 - _N_BAR_COLOURS)], dtype=np.uint8).reshape(-1, 3)
    pal = np.concatenate([pal, np.zeros((256 - _N_BAR_COLOURS - pal.shape[0], 3), np.uint8), _bar_palette()])
    idx0 = np.asarray(base, dtype=np.uint8)
    white = int(np.argmin(np.abs(pal[: 256 - _N_BAR_COLOURS].astype(int) - 255).sum(1)))
    # each bar's columns and each pixel row's colour (by height: green low, red high)
    width = (x1 - x0) / B
    cols = [(int(x0 + (b + 0.12) * width), int(x0 + (b + 0.88) * width)) for b in range(B)]
    rows = np.arange(H)
    frac = np.clip((bottom_px - rows) / max(bottom_px - top_px, 1), 0, 1)
    row_colour = (256 - _N_BAR_COLOURS + np.minimum((frac * _N_BAR_COLOURS).astype(int), _N_BAR_COLOURS - 1)).astype(np.uint8)

    def frames():
        for j in range(T):
            idx = idx0.copy()
            h = np.clip((lv[j] - floor_db) / -floor_db, 0, 1)
            for b in range(B):
                r = round(bottom_px - h[b] * (bottom_px - top_px))
                if r < bottom_px:
                    a, z = cols[b]
                    idx[r:bottom_px, a:z] = row_colour[r:bottom_px, None]
            im = Image.fromarray(idx, mode="P")
            im.putpalette(pal.reshape(-1).tolist())
            ImageDraw.Draw(im).text((x0 + 6, top_px + 4), f"{j / fps:6.2f} s", fill=white)
            yield im

    gen = frames()
    first = next(gen)
    buf = io.BytesIO()
    first.save(buf, format="GIF", save_all=True, append_images=gen, duration=round(1000 / fps), loop=0,
               optimize=False, disposal=1)
    return atomic_write_bytes(path, buf.getvalue())


# ---------------------------------------------------------------- the continuous theorem


def continuous_theorem_figure(path: str | os.PathLike, *, x, f, g, x_h, h, h_exact, k, Ff, Fg, Fh, Ff_exact, Fg_exact,
                              Fh_exact, bare, factor: float, variable: str = "ω", labels=("f", "g"),
                              title: str = "", kmax: float | None = None) -> Path:
    """Top: ``f``, ``g`` and ``f ⊛ g`` in space; bottom: their transforms.

    Lines are the closed forms (``*_exact``; ``h_exact`` may be None); dots are what the DFT of
    the samples gives. The last panel also draws ``F[f] F[g]`` without the factor, off by it.
    """
    fig, axes = plt.subplots(2, 3, figsize=(13, 7))
    lf, lg = labels
    step = max(1, len(x) // 80)
    for ax, xs, ys, name in ((axes[0, 0], x, f, lf), (axes[0, 1], x, g, lg)):
        ax.plot(xs, ys, color=RED, lw=1.5, label=f"{name}(x)")
        ax.plot(xs[::step], ys[::step], ".", color="black", ms=3, label="samples")
        ax.set_title(f"{name}(x)")
    ax = axes[0, 2]
    if h_exact is not None:
        ax.plot(x_h, h_exact, color=RED, lw=1.5, label="∫ f(x−u) g(u) du (closed form)")
    sh = max(1, len(x_h) // 80)
    ax.plot(x_h[::sh], h[::sh], ".", color="black", ms=3, label="dx · Σ f g (samples)")
    ax.set_title(f"h = {lf} ⊛ {lg}")
    lim = (float(x[0]), float(x[-1]))
    for a in axes[0]:
        a.set_xlim(*lim)
        a.set_xlabel("x")
        a.grid(True, alpha=0.25)
        a.legend(fontsize=7)
    k = np.asarray(k)
    kmax = kmax if kmax is not None else float(np.abs(k).max())
    sel = np.abs(k) <= kmax
    sk = max(1, int(sel.sum()) // 60)
    for ax, ex, num, name in ((axes[1, 0], Ff_exact, Ff, f"F[{lf}]"), (axes[1, 1], Fg_exact, Fg, f"F[{lg}]"),
                              (axes[1, 2], Fh_exact, Fh, f"F[{lf} ⊛ {lg}]")):
        ax.plot(k[sel], np.abs(ex[sel]), color=BLUE, lw=1.5, label=f"|{name}| (closed form)")
        ax.plot(k[sel][::sk], np.abs(num[sel])[::sk], "o", mfc="none", color="black", ms=3.5, label="|DFT · c dx|")
        ax.set_title(f"|{name}({variable})|")
    ax = axes[1, 2]
    if factor != 1.0:
        ax.plot(k[sel], np.abs(bare[sel]), "--", color="gray", lw=1.2, label=f"|F[{lf}] F[{lg}]| (no factor)")
    for a in axes[1]:
        a.set_xlabel(variable)
        a.grid(True, alpha=0.25)
        a.legend(fontsize=7)
    fig.suptitle(title or f"F[f ⊛ g] = {factor:.6g} · F[f] F[g]")
    fig.tight_layout()
    return save_figure(fig, path)


# ---------------------------------------------------------------- a filter and a room


def _db(a, floor: float = -100.0) -> np.ndarray:
    return 20 * np.log10(np.maximum(np.asarray(a, dtype=np.float64), 10 ** (floor / 20)))


def filter_figure(frequencies, before, after, response_frequencies, response, path: str | os.PathLike, *,
                  title: str = "") -> Path:
    """The spectrum before (grey) and after (blue) in dB, the filter's gain on a second axis (black)."""
    f = np.asarray(frequencies)
    sel = f >= 20.0
    fig, ax = plt.subplots(figsize=(10, 4.6))
    ax.plot(f[sel], _db(np.asarray(before)[sel]), color="0.6", lw=0.6, label="before")
    ax.plot(f[sel], _db(np.asarray(after)[sel]), color=BLUE, lw=0.6, label="after")
    ax.set_ylabel("amplitude (dBFS)")
    top = float(_db(np.asarray(before)[sel]).max()) if sel.any() else 0.0
    ax.set_ylim(top - 100, top + 6)
    _log_hz_axis(ax, 20.0, max(float(f[-1]), 40.0))
    ax.grid(True, alpha=0.25)
    gx = ax.twinx()
    rf = np.asarray(response_frequencies)
    rs = rf >= 20.0
    gx.plot(rf[rs], np.asarray(response)[rs], color="black", lw=1.5, label="gain |H(f)|")
    gx.set_ylim(-0.02, 1.1)
    gx.set_ylabel("gain")
    lines = ax.get_lines() + gx.get_lines()
    ax.legend(lines, [ln.get_label() for ln in lines], fontsize=8, loc="lower left")
    ax.set_title(title or "filter")
    fig.tight_layout()
    return save_figure(fig, path)


def reverb_figure(ir, sample_rate: float, edc_times, edc_db, rt60_measured: float, path: str | os.PathLike, *,
                  rt60_requested: float | None = None, title: str = "") -> Path:
    """The room's impulse response, and its Schroeder decay with the line of the measured RT60."""
    h = np.asarray(ir, dtype=np.float64)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.8))
    t = np.arange(h.shape[0]) / sample_rate
    a1.plot(t, h, color=RED, lw=0.4)
    a1.set_xlabel("time (s)")
    a1.set_title("impulse response h(t)")
    a1.grid(True, alpha=0.25)
    a2.plot(edc_times, edc_db, color=BLUE, lw=1.5, label="Schroeder decay 10 log10 ∫ₜ h²")
    tt = np.array([0.0, rt60_measured])
    a2.plot(tt, -60 * tt / rt60_measured, "--", color="black", lw=1, label=f"measured RT60 {rt60_measured:.3g} s")
    if rt60_requested is not None:
        a2.axvline(rt60_requested, color="gray", lw=0.8, ls=":", label=f"requested {rt60_requested:.3g} s")
    a2.axhline(-60, color="gray", lw=0.5)
    a2.set_ylim(-80, 3)
    a2.set_xlabel("time (s)")
    a2.set_ylabel("dB")
    a2.grid(True, alpha=0.25)
    a2.legend(fontsize=8)
    a2.set_title("energy decay")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)

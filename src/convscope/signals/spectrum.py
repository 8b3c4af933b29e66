"""From the time domain to the frequency domain: spectrum, peaks with note names, STFT, equaliser bands.

The seed: "if the red signal is a song then the blue values might be the equalizer bars
displayed by your mp3 player". Every level here is in units of the signal itself, so that a
sine of amplitude ``A`` reads ``A`` (spectrum, spectrogram) and a full-scale sine reads 0 dB
(the equaliser, dB relative to full scale):

* :func:`magnitude_spectrum`: the one-sided amplitude spectrum of the whole signal on a
  hertz axis, ``2 |X_k| / Σw`` (``w`` the window; ``X_0`` and the Nyquist bin not doubled).
* :func:`stft`: short-time Fourier transform with a periodic Hann window of ``frame``
  samples moved by ``hop`` (``scipy.signal.ShortTimeFFT``); frame ``j`` is centred on sample
  ``j · hop`` (the signal is zero beyond its ends), so its time is ``j · hop / rate``.
* :func:`spectrogram`: ``20 log10`` of the STFT's amplitude, floored.
* :func:`equaliser`: the power in log-spaced bands per STFT frame, in dBFS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.signal

from .._checks import check_alloc, check_float, check_int, check_option, fail
from ._common import as_signal
from .notes import nearest_note

__all__ = [
    "EQ_BANDS",
    "EQ_FMAX",
    "EQ_FMIN",
    "FLOOR_DB",
    "WINDOWS",
    "Equaliser",
    "Peak",
    "Stft",
    "band_edges",
    "equaliser",
    "equaliser_frame",
    "find_peaks",
    "magnitude_spectrum",
    "spectrogram",
    "stft",
]

WINDOWS = ("none", "hann")
# an mp3 player's graphic equaliser: 16 bands, log-spaced from 31.25 Hz to 16 kHz (0.6 octave apart)
EQ_BANDS = 16
EQ_FMIN = 31.25
EQ_FMAX = 16000.0
FLOOR_DB = -120.0  # levels below this (silence, empty bands) are drawn at it


def _rate(sample_rate) -> float:
    return check_float("sample_rate", sample_rate, min_value=0.0, strict_min=True)


def _one_sided(n: int) -> np.ndarray:
    """The factor that folds the negative frequencies onto the positive ones: 2, but 1 at DC and Nyquist."""
    d = np.full(n // 2 + 1, 2.0)
    d[0] = 1.0
    if n % 2 == 0:
        d[-1] = 1.0
    return d


def magnitude_spectrum(x, sample_rate: float, *, window: str = "none") -> tuple[np.ndarray, np.ndarray]:
    """The one-sided amplitude spectrum on a hertz axis.

    Args:
        x: ``(N,)`` signal.
        sample_rate: Hz.
        window: ``none`` (every sample weighs the same, so every note of a song counts equally)
            or ``hann`` (lower side lobes, for one steady sound).

    Returns:
        ``(frequencies, amplitude)``, both ``(N // 2 + 1,)``: ``k · rate / N`` Hz and
        ``d_k |X_k| / Σw`` with ``d_k = 2`` (1 at DC and Nyquist), so a sine of amplitude
        ``A`` on a bin reads ``A`` (``A/2`` at the half-bin points of the rectangular window's lobe).

    Example:
        >>> rate = 1000; t = np.arange(rate) / rate
        >>> f, a = magnitude_spectrum(0.3 + 0.8 * np.sin(2 * np.pi * 50 * t), rate)
        >>> float(f[50]), round(float(a[50]), 12), round(float(a[0]), 12)
        (50.0, 0.8, 0.3)
    """
    a = as_signal("x", x, channels=False)
    rate = _rate(sample_rate)
    window = check_option("window", window, WINDOWS)
    n = a.shape[0]
    w = np.ones(n) if window == "none" else scipy.signal.windows.hann(n, sym=False)
    X = np.fft.rfft(a * w)
    return np.fft.rfftfreq(n, 1.0 / rate), _one_sided(n) * np.abs(X) / w.sum()


@dataclass(frozen=True)
class Peak:
    """A spectral peak: ``frequency`` (Hz, refined between bins), ``amplitude``, the nearest note and its offset in cents."""

    frequency: float
    amplitude: float
    note: str
    cents: float

    @property
    def label(self) -> str:
        return f"{self.note} {self.frequency:.1f} Hz"


def find_peaks(frequencies, amplitude, *, n: int = 8, fmin: float = 20.0, min_separation: float = 50.0,
               threshold: float = 0.02) -> tuple[Peak, ...]:
    """The ``n`` strongest peaks, named after the nearest equal-tempered note (A4 = 440 Hz).

    Local maxima (``scipy.signal.find_peaks``) above ``fmin`` Hz and above ``threshold`` times
    the highest one, at least ``min_separation`` cents apart (a stronger peak wins), then the
    ``n`` highest, returned in order of frequency. A peak's frequency is refined by the vertex of
    the parabola through the log amplitudes of its bin and its two neighbours.

    Example:
        >>> rate = 8000; t = np.arange(2 * rate) / rate
        >>> f, a = magnitude_spectrum(np.sin(2 * np.pi * 440 * t) + 0.5 * np.sin(2 * np.pi * 659.26 * t), rate)
        >>> [(p.note, round(p.frequency, 1)) for p in find_peaks(f, a, n=2)]
        [('A4', 440.0), ('E5', 659.3)]
    """
    f = np.asarray(frequencies, dtype=np.float64)
    a = np.asarray(amplitude, dtype=np.float64)
    if f.ndim != 1 or f.shape != a.shape or f.shape[0] < 3:
        raise fail("amplitude", "a 1-D array as long as frequencies (at least 3 bins)", a)
    n = check_int("n", n, min_value=1)
    fmin = check_float("fmin", fmin, min_value=0.0)
    sep = check_float("min_separation", min_separation, min_value=0.0)
    thr = check_float("threshold", threshold, min_value=0.0, max_value=1.0)
    idx, _ = scipy.signal.find_peaks(a)
    idx = idx[(f[idx] >= max(fmin, 1e-12)) & (a[idx] > 0)]
    if idx.size == 0:
        return ()
    idx = idx[a[idx] >= thr * a[idx].max()]
    chosen: list[tuple[float, float]] = []
    for i in idx[np.argsort(-a[idx], kind="stable")]:
        la, lb, lc = (math.log(max(a[j], 1e-300)) for j in (i - 1, i, i + 1))
        den = la - 2 * lb + lc
        off = 0.5 * (la - lc) / den if den < 0 else 0.0
        freq = float(f[i] + off * (f[1] - f[0]))
        amp = float(math.exp(lb - 0.25 * (la - lc) * off))
        if all(abs(1200 * math.log2(freq / g)) >= sep for g, _ in chosen):
            chosen.append((freq, amp))
        if len(chosen) == n:
            break
    out = []
    for freq, amp in sorted(chosen):
        name, cents = nearest_note(freq)
        out.append(Peak(freq, amp, name, cents))
    return tuple(out)


# ---------------------------------------------------------------- STFT


@dataclass(frozen=True)
class Stft:
    """A short-time Fourier transform.

    Attributes:
        values: ``(frame // 2 + 1, T)`` complex, ``Σ_n w[n] x[j·hop − frame/2 + n] e^{−2πikn/frame}``
            (unscaled, the phase of each frame's first sample).
        frequencies: ``(frame // 2 + 1,)`` Hz.
        times: ``(T,)`` seconds, frame ``j`` at ``j · hop / rate``.
        window: ``(frame,)`` the periodic Hann window.
        frame, hop: samples.
        sample_rate: Hz.
    """

    values: np.ndarray
    frequencies: np.ndarray
    times: np.ndarray
    window: np.ndarray
    frame: int
    hop: int
    sample_rate: float

    @property
    def amplitude(self) -> np.ndarray:
        """``d_k |X| / Σw``: a sine of amplitude ``A`` centred on a bin reads ``A``."""
        return _one_sided(self.frame)[:, None] * np.abs(self.values) / self.window.sum()


def stft(x, sample_rate: float, *, frame: int = 2048, hop: int = 512) -> Stft:
    """Hann-windowed frames of ``frame`` samples every ``hop`` samples, by ``scipy.signal.ShortTimeFFT``.

    Frame ``j = 0, 1, ..., N // hop`` is centred on sample ``j · hop``; samples beyond the
    signal's ends are zero. The array's size is checked against the memory limit first.

    Example:
        >>> s = stft(np.ones(4096), 8000, frame=256, hop=64)
        >>> s.values.shape, float(s.times[1]), float(s.frequencies[1])
        ((129, 65), 0.008, 31.25)
    """
    a = as_signal("x", x, channels=False)
    rate = _rate(sample_rate)
    frame = check_int("frame", frame, min_value=2)
    hop = check_int("hop", hop, min_value=1)
    if frame % 2:
        raise fail("frame", "an even number of samples", frame)
    n_frames = a.shape[0] // hop + 1
    check_alloc("hop", (frame // 2 + 1, n_frames), "complex128", what=f"an STFT of {n_frames} frames of {frame}")
    w = scipy.signal.windows.hann(frame, sym=False)
    sft = scipy.signal.ShortTimeFFT(w, hop=hop, fs=rate, fft_mode="onesided", phase_shift=None)
    values = sft.stft(a, p0=0, p1=n_frames)
    return Stft(values, sft.f, np.arange(n_frames) * hop / rate, w, frame, hop, rate)


def spectrogram(x, sample_rate: float, *, frame: int = 2048, hop: int = 512,
                floor_db: float = FLOOR_DB) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(frequencies, times, dB)``: ``20 log10`` of :attr:`Stft.amplitude`, at least ``floor_db``.

    ``dB`` is ``(frame // 2 + 1, T)``; a full-scale sine reads 0 dB in its bin.
    """
    floor = check_float("floor_db", floor_db, max_value=0.0)
    s = stft(x, sample_rate, frame=frame, hop=hop)
    db = 20 * np.log10(np.maximum(s.amplitude, 10 ** (floor / 20)))
    return s.frequencies, s.times, db


# ---------------------------------------------------------------- the equaliser


def band_edges(n_bands: int = EQ_BANDS, fmin: float = EQ_FMIN, fmax: float = EQ_FMAX) -> tuple[np.ndarray, np.ndarray]:
    """``(centres, edges)`` of ``n_bands`` log-spaced bands: centres from ``fmin`` to ``fmax``.

    Centres ``fmin · r^i`` with ``r = (fmax / fmin)^(1 / (n_bands − 1))``; band ``i`` spans
    ``[centre / √r, centre · √r)``, so the bands tile the axis without gaps.

    >>> c, e = band_edges(10, 31.25, 16000)      # the octave bands of a 10-band equaliser
    >>> [round(v) for v in c[:4]], round(float(e[1] / e[0]), 6)
    ([31, 62, 125, 250], 2.0)
    """
    n = check_int("n_bands", n_bands, min_value=2)
    lo = check_float("fmin", fmin, min_value=0.0, strict_min=True)
    hi = check_float("fmax", fmax, min_value=lo, strict_min=True)
    r = (hi / lo) ** (1.0 / (n - 1))
    centres = lo * r ** np.arange(n)
    edges = lo * r ** (np.arange(n + 1) - 0.5)
    return centres, edges


@dataclass(frozen=True)
class Equaliser:
    """Band levels over time, as an mp3 player's equaliser bars show them.

    Attributes:
        levels: ``(T, B)`` dBFS: ``10 log10(P / ½)`` with ``P`` the band's mean-square power in
            the frame (window compensated), so a full-scale sine reads 0 dB in its band;
            floored at :data:`FLOOR_DB`.
        times: ``(T,)`` seconds, frame ``j`` at ``j / fps`` (centred on sample ``j · hop``).
        centres: ``(B,)`` Hz; ``edges`` ``(B + 1,)`` Hz.
        fps: frames per second, ``rate / hop`` (a GIF at ``1000 / fps`` ms per frame keeps time
            with the sound).
        frame, hop: the STFT's samples.
        sample_rate: Hz.
        dropped: bands left out because they start above the Nyquist frequency ``rate / 2``.
    """

    levels: np.ndarray
    times: np.ndarray
    centres: np.ndarray
    edges: np.ndarray
    fps: float
    frame: int
    hop: int
    sample_rate: float
    dropped: int = 0


def _band_power(values: np.ndarray, window: np.ndarray, freqs: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """(B, T) mean-square power per band from unscaled STFT values, by Parseval."""
    frame = window.shape[0]
    power = _one_sided(frame)[:, None] * np.abs(values) ** 2 / (frame * (window**2).sum())
    which = np.searchsorted(edges, freqs, side="right") - 1  # the band of each bin, -1 / B outside
    out = np.zeros((edges.shape[0] - 1, values.shape[1]))
    inside = (which >= 0) & (which < out.shape[0])
    np.add.at(out, which[inside], power[inside])
    return out


def equaliser(x, sample_rate: float, *, fps: float = 20.0, n_bands: int = EQ_BANDS, fmin: float = EQ_FMIN,
              fmax: float = EQ_FMAX, frame: int | None = None) -> Equaliser:
    """The equaliser bars: power in log-spaced bands (see :func:`band_edges`) for each STFT frame.

    Args:
        x: ``(N,)`` signal.
        sample_rate: Hz.
        fps: frames per second wanted; the hop is ``round(rate / fps)`` samples and the
            returned :attr:`Equaliser.fps` is the exact ``rate / hop``.
        n_bands, fmin, fmax: the bands (default 16 from 31.25 Hz to 16 kHz); bands starting at
            or above Nyquist are dropped (counted in :attr:`Equaliser.dropped`).
        frame: Hann frame length; default the power of two at or above ``rate / 12``, so the
            bins (``rate / frame`` Hz apart) resolve the lowest band (25 to 38 Hz).

    Example:
        >>> rate = 16000; t = np.arange(rate) / rate
        >>> eq = equaliser(np.sin(2 * np.pi * 1000 * t), rate, n_bands=10, fmin=31.25, fmax=16000)
        >>> int(np.argmax(eq.levels[10])), round(float(eq.levels[10].max()), 2)   # the 1 kHz band, 0 dBFS
        (5, 0.0)
    """
    a = as_signal("x", x, channels=False)
    rate = _rate(sample_rate)
    fps = check_float("fps", fps, min_value=0.0, strict_min=True)
    hop = max(1, round(rate / fps))
    if frame is None:
        frame = max(64, 2 ** math.ceil(math.log2(rate / 12.0)))
    centres, edges = band_edges(n_bands, fmin, fmax)
    keep = edges[:-1] < rate / 2
    if not keep.any():
        raise fail("fmin", f"below the Nyquist frequency {rate / 2:g} Hz", fmin)
    s = stft(a, rate, frame=frame, hop=hop)
    edges_kept = edges[: int(keep.sum()) + 1]
    power = _band_power(s.values, s.window, s.frequencies, edges_kept)
    levels = 10 * np.log10(np.maximum(power / 0.5, 10 ** (FLOOR_DB / 10)))
    return Equaliser(levels.T.copy(), s.times, centres[keep], edges_kept, rate / hop, s.frame, hop, rate,
                     int((~keep).sum()))


def equaliser_frame(eq: Equaliser, t: float) -> np.ndarray:
    """The ``(B,)`` levels shown at time ``t`` seconds (the frame nearest to it)."""
    t = check_float("t", t, min_value=0.0)
    j = min(round(t * eq.fps), eq.levels.shape[0] - 1)
    return eq.levels[j]

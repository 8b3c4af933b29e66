"""Convolution reverb: a song convolved with a room's impulse response.

A room is (very nearly) a linear, time-invariant system, so what a listener hears is the dry
sound convolved with the room's impulse response ``h``: every sample of the song starts its
own copy of the room's echo. The impulse response is either

* **synthetic** (:func:`room_impulse_response`): Gaussian noise under an exponential envelope
  that falls by 60 dB in ``rt60`` seconds, the statistical model of a diffuse late reverberation;
* **measured** (:func:`load_impulse_response`): a recording of a clap or a sweep's
  deconvolution in a real room, read by :func:`convscope.signals.read_audio`.

:func:`measure_rt60` reads the decay time back by Schroeder's backward integration (the
energy decay curve ``EDC(t) = ∫_t^∞ h²``, fitted between −5 and −35 dB and extrapolated to
−60 dB, the T30 of ISO 3382). :func:`convolution_reverb` convolves by overlap-add (the
package's one convolution, :func:`convscope.signals.filters._convolve`) and mixes wet and dry.
"""

from __future__ import annotations

import math
import os
from math import gcd

import numpy as np
import scipy.signal

from .._checks import ArgumentError, check_alloc, check_float, check_int, fail
from . import filters
from ._common import as_signal
from .audio import read_audio

__all__ = [
    "DEFAULT_FIT_DB",
    "convolution_reverb",
    "load_impulse_response",
    "measure_rt60",
    "room_impulse_response",
    "schroeder_decay",
]

DEFAULT_FIT_DB = (-5.0, -35.0)  # T30
_DECAY_60 = 3.0 * math.log(10.0)  # an amplitude falls by 60 dB (a factor 1000) over exp(-6.91)


def room_impulse_response(rt60: float, sample_rate: int, *, seconds: float | None = None,
                          seed: int = 0) -> np.ndarray:
    """Exponentially decaying Gaussian noise: ``h[n] = z[n] · e^{−3 ln(10) t / rt60}``, ``t = n / rate``.

    The envelope's energy falls by 60 dB in ``rt60`` seconds. ``h[0]`` is set to the largest
    absolute value (the direct sound arriving first), and ``h`` is scaled to unit energy
    (``Σ h² = 1``), so a white input keeps its power.

    Args:
        rt60: reverberation time in seconds (> 0; a living room ~0.4, a concert hall ~2).
        sample_rate: Hz.
        seconds: length (default ``1.5 · rt60``, where the envelope is 90 dB down).
        seed: for ``numpy.random.default_rng``: the same seed gives the same room.

    Example:
        >>> h = room_impulse_response(0.5, 8000)
        >>> h.shape, round(float((h**2).sum()), 12)
        ((6000,), 1.0)
    """
    rt60 = check_float("rt60", rt60, min_value=0.0, max_value=60.0, strict_min=True)
    rate = check_int("sample_rate", sample_rate, min_value=1)
    sec = 1.5 * rt60 if seconds is None else check_float("seconds", seconds, min_value=0.0, strict_min=True)
    n = max(2, round(sec * rate))
    check_alloc("seconds", (n,), "float64", what=f"an impulse response of {n} samples")
    rng = np.random.default_rng(check_int("seed", seed, min_value=0))
    t = np.arange(n) / rate
    h = rng.standard_normal(n) * np.exp(-_DECAY_60 * t / rt60)
    h[0] = np.abs(h).max()
    return h / math.sqrt(float((h**2).sum()))


def load_impulse_response(path: str | os.PathLike, sample_rate: int) -> np.ndarray:
    """A measured impulse response from an audio file, mixed to mono, at ``sample_rate``.

    A file at another rate is resampled (``scipy.signal.resample_poly``, the exact ratio);
    the result is scaled to unit energy like :func:`room_impulse_response`.
    """
    rate = check_int("sample_rate", sample_rate, min_value=1)
    a = read_audio(path)
    h = a.samples
    if a.sample_rate != rate:
        g = gcd(a.sample_rate, rate)
        h = scipy.signal.resample_poly(h, rate // g, a.sample_rate // g)
    e = float((h**2).sum())
    if e <= 0:
        raise ArgumentError(f"path must be an impulse response with some energy, got silence in {a.name}")
    return h / math.sqrt(e)


def schroeder_decay(ir, sample_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """``(times, EDC in dB)``: Schroeder's backward integral ``10 log10(Σ_{m≥n} h[m]² / Σ h²)``.

    Starts at 0 dB and falls monotonically; the last sample's energy alone ends it.
    """
    h = as_signal("ir", ir)
    if h.ndim != 1:
        raise fail("ir", "a 1-D impulse response", h)
    rate = check_float("sample_rate", sample_rate, min_value=0.0, strict_min=True)
    e = np.cumsum((h**2)[::-1])[::-1]
    if e[0] <= 0:
        raise fail("ir", "an impulse response with some energy", "silence")
    return np.arange(h.shape[0]) / rate, 10 * np.log10(np.maximum(e / e[0], 1e-300))


def measure_rt60(ir, sample_rate: float, *, fit_db: tuple[float, float] = DEFAULT_FIT_DB) -> float:
    """The reverberation time from the slope of the energy decay curve, extrapolated to −60 dB.

    A least-squares line through the EDC (:func:`schroeder_decay`) where it lies between
    ``fit_db[0]`` and ``fit_db[1]`` dB (default −5 and −35: T30); ``RT60 = −60 / slope``.

    Example:
        >>> round(measure_rt60(room_impulse_response(0.8, 8000, seed=1), 8000), 1)
        0.8
    """
    t, edc = schroeder_decay(ir, sample_rate)
    hi, lo = (check_float("fit_db", v, max_value=0.0) for v in fit_db)
    if lo >= hi:
        raise fail("fit_db", "(upper, lower) dB with lower < upper, such as (-5, -35)", tuple(fit_db))
    sel = (edc <= hi) & (edc >= lo)
    if int(sel.sum()) < 2 or edc[-1] > lo:
        raise fail("ir", f"an impulse response whose energy decays below {lo:g} dB (the fit's lower end)",
                   f"a decay to {float(edc[-2] if edc.shape[0] > 1 else 0.0):.1f} dB")
    slope = np.polyfit(t[sel], edc[sel], 1)[0]
    if slope >= 0:
        raise fail("ir", "a decaying impulse response", "an energy curve that does not fall")
    return float(-60.0 / slope)


def convolution_reverb(x, ir, *, wet: float = 0.35, peak: float = 0.99) -> tuple[np.ndarray, float]:
    """The song in the room: ``(1 − wet) · dry + wet · g · (x ⊛ h)``, kept below ``peak``.

    Args:
        x: ``(N,)`` or ``(N, C)`` dry signal.
        ir: ``(M,)`` impulse response (every channel goes through the same room).
        wet: the share of the reverberant sound, in [0, 1]. The convolved signal is first scaled
            by ``g`` to the dry signal's energy (``Σ (g x ⊛ h)² = Σ x²``), so ``wet`` means the
            same for any room.
        peak: if the mix would reach above this absolute value it is scaled down to it
            (no clipping); a quieter mix is left alone.

    Returns:
        ``(y, gain)``: ``y`` of ``N + M − 1`` samples (the tail rings out after the song) and the
        factor the mix was scaled by to stay below ``peak`` (1 when it was not).

    Example:
        >>> x = np.zeros(100); x[0] = 1.0
        >>> y, gain = convolution_reverb(x, np.array([1.0, 0.5]), wet=1.0)
        >>> y.shape, gain
        ((101,), 1.0)
    """
    a = as_signal("x", x)
    h = as_signal("ir", ir)
    if h.ndim != 1:
        raise fail("ir", "a 1-D impulse response (one room for every channel)", h)
    wet = check_float("wet", wet, min_value=0.0, max_value=1.0)
    peak = check_float("peak", peak, min_value=0.0, max_value=1.0, strict_min=True)
    n = a.shape[0] + h.shape[0] - 1
    check_alloc("ir", (n, *a.shape[1:]), "float64", what=f"a reverberant signal of {n} samples")
    reverberant = filters._convolve(a, h, "full")  # looked up at call time: the one convolution
    dry = np.zeros_like(reverberant)
    dry[: a.shape[0]] = a
    e_dry, e_wet = float((a**2).sum()), float((reverberant**2).sum())
    g = math.sqrt(e_dry / e_wet) if e_wet > 0 else 0.0
    y = (1.0 - wet) * dry + wet * g * reverberant
    top = float(np.abs(y).max())
    gain = peak / top if top > peak else 1.0
    return y * gain, gain

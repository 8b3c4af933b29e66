"""Low-pass, high-pass, band-pass and band-stop filters for a 1-D signal, two ways.

* **By an FFT mask** (:func:`fft_filter`): multiply the spectrum by a transfer function
  ``H(f)`` and transform back. The masks are the image filters' own
  (:func:`convscope.fourier.frequency_mask`: the same kinds, :data:`FILTER_KINDS`, and
  profiles, :data:`FILTER_PROFILES`, with the same gains), evaluated on the 1-D frequency axis
  with the cutoff given in hertz (``cutoff / rate`` cycles per sample). The ``butterworth``
  profile is the *squared* form ``1 / (1 + (f/fc)^(2n))``, so its gain at the cutoff is 1/2
  (−6 dB), where audio texts quote the amplitude form's −3 dB.
* **By a FIR kernel** (:func:`fir_design`, :func:`fir_filter`): a windowed-sinc design by
  ``scipy.signal.firwin`` (gain 1/2 at the cutoff too), applied by convolution.

Every convolution here and in :mod:`convscope.signals.reverb` goes through :func:`_convolve`.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.fft
import scipy.signal

from .._checks import check_float, check_int, check_option, fail
from ..fourier import FILTER_KINDS, FILTER_PROFILES, frequency_mask
from ..kernels import kernel_from_spec
from ._common import as_signal

__all__ = [
    "FILTER_KINDS",
    "FILTER_PROFILES",
    "FIR_WINDOWS",
    "MAX_TAPS",
    "MODES",
    "PADS",
    "fft_filter",
    "fir_design",
    "fir_filter",
    "fir_from_spec",
    "fir_response",
    "mask",
]

MODES = ("full", "same", "valid")
PADS = ("zeros", "none")
FIR_WINDOWS = ("hamming", "hann", "blackman", "kaiser")
MAX_TAPS = 2**16 + 1  # a longer FIR kernel is a design mistake (and slow), not a filter


def _convolve(x: np.ndarray, k: np.ndarray, mode: str) -> np.ndarray:
    """The one place 1-D signals are convolved: true convolution (the kernel flipped), ``mode`` as scipy.

    For now ``scipy.signal.oaconvolve`` (overlap-add: FFTs of blocks about the kernel's size,
    fast for a long signal and a short or long kernel alike). It switches to the project's own
    ``convolve1d`` (:mod:`convscope.conv`) when the engine grows one dimension; nothing else
    in :mod:`convscope.signals` calls a convolution.

    ``x`` is ``(N,)`` or ``(N, C)`` (each column convolved), ``k`` is ``(M,)``. Output length:
    ``full`` N+M-1, ``same`` N (centred as scipy), ``valid`` max(N, M) - min(N, M) + 1.
    """
    if x.ndim == 2:
        return scipy.signal.oaconvolve(x, k[:, None], mode=mode, axes=0)
    return scipy.signal.oaconvolve(x, k, mode=mode)


def _cutoff_hz(kind: str, cutoff, rate: float):
    """Check a cutoff in hertz against Nyquist -> a number or a (low, high) pair."""
    nyq = rate / 2
    band = kind in ("bandpass", "bandstop")
    if isinstance(cutoff, tuple | list | np.ndarray):
        if not band or len(cutoff) != 2:
            raise fail("cutoff", f"one frequency in (0, {nyq:g}] Hz for a {kind}" if not band
                       else "a (low, high) pair of frequencies in Hz", cutoff)
        lo = check_float("cutoff[0]", cutoff[0], min_value=0.0, max_value=nyq, strict_min=True)
        hi = check_float("cutoff[1]", cutoff[1], min_value=0.0, max_value=nyq, strict_min=True)
        if lo >= hi:
            raise fail("cutoff", "a (low, high) pair with low < high", tuple(cutoff))
        return lo, hi
    if band:
        raise fail("cutoff", f"a (low, high) pair of frequencies in Hz for a {kind}", cutoff)
    return check_float("cutoff", cutoff, min_value=0.0, max_value=nyq, strict_min=True)


def mask(n: int, sample_rate: float, kind: str, cutoff, *, profile: str = "butterworth",
         order: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    """The transfer function on the ``rfft`` bins of an ``n``-point transform.

    Args:
        n: the transform length.
        sample_rate: Hz.
        kind: ``lowpass``, ``highpass``, ``bandpass`` or ``bandstop``.
        cutoff: Hz; a ``(low, high)`` pair for the band kinds.
        profile: ``ideal``, ``gaussian`` or ``butterworth`` (see
            :func:`convscope.fourier.frequency_mask` for the formulas and the gains at the cutoff).
        order: the Butterworth order.

    Returns:
        ``(frequencies, gain)``, both ``(n // 2 + 1,)``: ``k · rate / n`` Hz and ``H`` in [0, 1].

    Example:
        >>> f, g = mask(1000, 1000.0, "lowpass", 100.0)
        >>> float(g[0]), float(g[100]), float(f[100])    # DC, and the cutoff (Butterworth: 1/2)
        (1.0, 0.5, 100.0)
    """
    n = check_int("n", n, min_value=2)
    rate = check_float("sample_rate", sample_rate, min_value=0.0, strict_min=True)
    kind = check_option("kind", kind, FILTER_KINDS)
    profile = check_option("profile", profile, FILTER_PROFILES)
    c = _cutoff_hz(kind, cutoff, rate)
    cps = (c[0] / rate, c[1] / rate) if isinstance(c, tuple) else c / rate  # cycles per sample
    # the image masks' radial formula on a (1, n) grid: the radius is |f| along the one axis
    gain = frequency_mask((1, n), kind, cps, profile=profile, order=order, shift=False)[0, : n // 2 + 1]
    return np.fft.rfftfreq(n, 1.0 / rate), gain.numpy()


def fft_filter(x, sample_rate: float, kind: str, cutoff, *, profile: str = "butterworth", order: float = 4.0,
               pad: str = "zeros") -> np.ndarray:
    """Filter by multiplying the spectrum by :func:`mask`: ``irfft(rfft(x) · H)``.

    Args:
        x: ``(N,)`` or ``(N, C)`` signal.
        sample_rate, kind, cutoff, profile, order: see :func:`mask`.
        pad: ``zeros`` (transform on a fast length >= 2N, so what leaves the end does not wrap
            onto the start: linear filtering for responses shorter than N) or ``none``
            (circular, on the signal's own N).

    Returns:
        The filtered signal, the same shape. Complementary masks (``lowpass`` and ``highpass``
        with one cutoff and profile) sum to the input, to rounding.

    Example:
        >>> rate = 8000; t = np.arange(rate) / rate
        >>> x = np.sin(2 * np.pi * 200 * t) + np.sin(2 * np.pi * 3000 * t)
        >>> y = fft_filter(x, rate, "lowpass", 1000.0, pad="none")
        >>> bool(np.allclose(y, np.sin(2 * np.pi * 200 * t), atol=1e-3))
        True
    """
    a = as_signal("x", x)
    pad = check_option("pad", pad, PADS)
    N = a.shape[0]
    n = N if pad == "none" else scipy.fft.next_fast_len(2 * N, real=True)
    _, H = mask(max(n, 2), sample_rate, kind, cutoff, profile=profile, order=order)
    X = np.fft.rfft(a, n=n, axis=0)
    X *= H if a.ndim == 1 else H[:, None]
    return np.fft.irfft(X, n=n, axis=0)[:N]


def _default_taps(kind: str, c, rate: float) -> int:
    """Odd taps for a Hamming design whose transition band is a quarter of the narrowest gap.

    Hamming's transition width is about ``3.3 rate / taps``; the gap is the cutoff's distance to
    0, to Nyquist and (bands) between the two edges.
    """
    nyq = rate / 2
    edges = c if isinstance(c, tuple) else (c,)
    gaps = [edges[0], nyq - edges[-1]] + ([edges[1] - edges[0]] if len(edges) == 2 else [])
    gap = max(min(g for g in gaps if g > 0) if any(g > 0 for g in gaps) else nyq, 1e-9)
    taps = math.ceil(3.3 * rate / (0.25 * gap))
    taps = min(max(taps, 31), 8191)
    return taps + (taps % 2 == 0)


def fir_design(sample_rate: float, kind: str, cutoff, *, numtaps: int | None = None,
               window: str = "hamming") -> np.ndarray:
    """A linear-phase FIR kernel by ``scipy.signal.firwin`` (windowed sinc).

    Args:
        sample_rate: Hz.
        kind: ``lowpass``, ``highpass``, ``bandpass`` or ``bandstop``.
        cutoff: Hz (``(low, high)`` for the bands); the gain there is 1/2.
        numtaps: odd kernel length (high-pass and band-stop need odd); default from the cutoff:
            a Hamming transition band a quarter of the narrowest gap between the cutoff(s), 0
            and Nyquist, at least 31 and at most 8191 taps.
        window: ``hamming``, ``hann``, ``blackman`` or ``kaiser`` (β = 8.6, about −90 dB).

    Returns:
        ``(numtaps,)`` float64 taps, symmetric, scaled to gain 1 in the pass band
        (``firwin``'s ``scale=True``).

    Example:
        >>> h = fir_design(8000.0, "lowpass", 1000.0, numtaps=101)
        >>> h.shape, round(float(h.sum()), 12), bool(np.allclose(h, h[::-1]))
        ((101,), 1.0, True)
    """
    rate = check_float("sample_rate", sample_rate, min_value=0.0, strict_min=True)
    kind = check_option("kind", kind, FILTER_KINDS)
    window = check_option("window", window, FIR_WINDOWS)
    c = _cutoff_hz(kind, cutoff, rate)
    if (c[1] if isinstance(c, tuple) else c) >= rate / 2:
        raise fail("cutoff", f"below the Nyquist frequency {rate / 2:g} Hz for a FIR design", cutoff)
    taps = _default_taps(kind, c, rate) if numtaps is None else check_int("numtaps", numtaps, min_value=3)
    if taps > MAX_TAPS:
        raise fail("numtaps", f"at most {MAX_TAPS}", taps)
    if taps % 2 == 0:
        raise fail("numtaps", "odd (a type I linear-phase filter: its delay is a whole number of samples)", taps)
    win = ("kaiser", 8.6) if window == "kaiser" else window
    return scipy.signal.firwin(taps, list(c) if isinstance(c, tuple) else c, window=win, pass_zero=kind, fs=rate)


def fir_filter(x, taps, *, mode: str = "same") -> np.ndarray:
    """Convolve a signal with FIR taps (true convolution: ``y[n] = Σ_m taps[m] x[n − m]``).

    Args:
        x: ``(N,)`` or ``(N, C)`` signal.
        taps: ``(M,)`` kernel.
        mode: ``same`` (N samples, centred: for symmetric odd taps the ``(M − 1) / 2`` delay
            is removed, so the output lines up with the input), ``full`` (N + M − 1: the causal
            filter, whose first N samples are ``scipy.signal.lfilter(taps, 1, x)``) or ``valid``.
    """
    a = as_signal("x", x)
    mode = check_option("mode", mode, MODES)
    k = np.asarray(taps, dtype=np.float64)
    if k.ndim != 1 or k.shape[0] == 0 or not np.isfinite(k).all():
        raise fail("taps", "a non-empty finite 1-D kernel", k)
    return _convolve(a, k, mode)


def fir_response(taps, sample_rate: float, *, n: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """``(frequencies, gain)``: ``|H(f)|`` of FIR taps at ``n`` points from 0 to Nyquist (``scipy.signal.freqz``)."""
    rate = check_float("sample_rate", sample_rate, min_value=0.0, strict_min=True)
    n = check_int("n", n, min_value=2)
    f, h = scipy.signal.freqz(np.asarray(taps, dtype=np.float64), worN=n, fs=rate)
    return f, np.abs(h)


def fir_from_spec(spec: str, sample_rate: float) -> tuple[str, np.ndarray]:
    """``(label, taps)`` from text: a design or a kernel of one row.

    * ``KIND:HZ[:TAPS[:WINDOW]]`` or, for the bands, ``KIND:LOW:HIGH[:TAPS[:WINDOW]]``:
      :func:`fir_design` (``lowpass:2000``, ``bandpass:300:3000:511``).
    * anything :func:`convscope.kernels.kernel_from_spec` reads (a literal ``[[1, 2, 1]]``, a
      ``.npy`` or text file) that is one row or one column: those taps, as they are.

    Example:
        >>> label, h = fir_from_spec("lowpass:1000:63", 8000)
        >>> label, h.shape
        ('lowpass 1000 Hz, 63 taps, hamming', (63,))
        >>> fir_from_spec("[[0.25, 0.5, 0.25]]", 8000)[1]
        array([0.25, 0.5 , 0.25])
    """
    if not isinstance(spec, str) or not spec.strip():
        raise fail("spec", "a FIR design KIND:HZ[:TAPS[:WINDOW]] or a one-row kernel", spec, TypeError)
    parts = [p.strip() for p in spec.strip().split(":")]
    head = parts[0].lower().replace("-", "_")
    if head in FILTER_KINDS:
        nnum = 2 if head in ("bandpass", "bandstop") else 1
        want = f"{head}:" + ("LOW:HIGH" if nnum == 2 else "HZ") + "[:TAPS[:WINDOW]]"
        if len(parts) < 1 + nnum or len(parts) > 3 + nnum:
            raise fail("spec", want, spec)
        try:
            nums = [float(p) for p in parts[1 : 1 + nnum]]
            taps = int(parts[1 + nnum]) if len(parts) > 1 + nnum and parts[1 + nnum] else None
        except ValueError as e:
            raise fail("spec", want + " with numbers", spec) from e
        window = parts[2 + nnum] if len(parts) > 2 + nnum else "hamming"
        cutoff = (nums[0], nums[1]) if nnum == 2 else nums[0]
        h = fir_design(sample_rate, head, cutoff, numtaps=taps, window=window)
        where = f"{nums[0]:g}-{nums[1]:g} Hz" if nnum == 2 else f"{nums[0]:g} Hz"
        return f"{head} {where}, {h.shape[0]} taps, {check_option('window', window, FIR_WINDOWS)}", h
    k = kernel_from_spec(spec).numpy()
    if k.ndim != 2 or min(k.shape) != 1:
        raise fail("spec", "a FIR design KIND:HZ[:TAPS[:WINDOW]] or a kernel of one row or one column",
                   f"a kernel of shape {tuple(k.shape)}")
    return f"custom kernel, {k.size} taps", k.reshape(-1).astype(np.float64)

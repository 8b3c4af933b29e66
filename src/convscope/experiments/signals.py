"""Step 3c of the story: a song, from the time domain (red) into the frequency domain (blue).

The seed: "If the red signal is a song then the blue values might be the equalizer bars displayed
by your mp3 player", and the continuous theorem ``f ⊛ g = F⁻¹(√(2π) F[f] F[g])``.

* :func:`continuous_theorem`: both sides of the theorem from samples, against closed forms,
  with the factor of every convention.
* :func:`song`: the waveform, its spectrum with the peaks named, the equaliser's frames and
  the spectrogram.
* :func:`filter_song`: low/high/band-pass or band-stop, by an FFT mask or a FIR kernel.
* :func:`reverb`: the song in a room (synthetic of a given RT60, or a measured impulse response).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._checks import ArgumentError, check_float, check_int, check_option, fail
from .._io import display_name
from ..fourier import (
    CONVENTIONS,
    FILTER_KINDS,
    analytic_convolution,
    check_theorem,
    dft_theorem,
    fourier_pair,
)
from ..signals import (
    Audio,
    convolution_reverb,
    equaliser,
    fft_filter,
    find_peaks,
    fir_design,
    fir_filter,
    fir_from_spec,
    fir_response,
    load_impulse_response,
    load_song,
    magnitude_spectrum,
    measure_rt60,
    room_impulse_response,
    save_wav,
    schroeder_decay,
    spectrogram,
)
from ..signals import mask as fft_mask
from ._common import out_folder, save_json, save_npy

__all__ = [
    "ContinuousTheorem",
    "FilteredSong",
    "Reverb",
    "Song",
    "continuous_theorem",
    "filter_song",
    "reverb",
    "save_continuous_theorem",
    "save_filter_song",
    "save_reverb",
    "save_song",
    "song",
]

FILTER_METHODS = ("fft", "fir")


def _audio(audio):
    """A bundled name or a path (mixed to mono), an :class:`~convscope.signals.Audio`, or ``(samples, rate)``."""
    if isinstance(audio, Audio):
        a = audio
    elif isinstance(audio, tuple) and len(audio) == 2:
        x = np.asarray(audio[0], dtype=np.float64)
        a = Audio(x, check_int("sample_rate", audio[1], min_value=1), "signal")
    else:
        a = load_song(audio)
    if a.samples.ndim != 1:
        a = Audio(a.samples.mean(axis=1), a.sample_rate, a.name, a.note)
    return a


# ---------------------------------------------------------------- the continuous theorem


@dataclass(frozen=True)
class ContinuousTheorem:
    """``F[f ⊛ g] = factor · F[f] F[g]`` from samples and in closed form.

    Attributes:
        f_name, g_name: the Fourier pairs (:data:`convscope.fourier.PAIRS`).
        convention, variable, factor: the convention shown (``√(2π)`` for the lecture notes').
        dx: the grid spacing; ``x`` the grid of f and g, ``f``, ``g`` their samples.
        x_h, h: ``h = dx · Σ f g``, the sampled convolution; ``h_exact`` the closed form (or None).
        k: the frequencies; ``Ff, Fg, Fh`` the DFT-based transforms, ``*_exact`` the closed forms
            (``Fh_exact = factor · Ff_exact · Fg_exact``), ``bare = Ff · Fg`` without the factor.
        max_error: the sampled sides' relative disagreement with the factor (rounding).
        max_error_without_factor: the same without it.
        analytic_error: ``max |Fh − Fh_exact|`` for ``|k| ≤ kmax``: the discretisation.
        dft_error: the DFT's own theorem (no factor) on ``f`` and ``g``: rounding.
        factors: per convention, ``(factor, max_error, max_error_without_factor)``.
        kmax: the band of frequencies shown and measured.
    """

    f_name: str
    g_name: str
    convention: str
    variable: str
    factor: float
    dx: float
    x: np.ndarray
    f: np.ndarray
    g: np.ndarray
    x_h: np.ndarray
    h: np.ndarray
    h_exact: np.ndarray | None
    k: np.ndarray
    Ff: np.ndarray
    Fg: np.ndarray
    Fh: np.ndarray
    Ff_exact: np.ndarray
    Fg_exact: np.ndarray
    Fh_exact: np.ndarray
    bare: np.ndarray
    max_error: float
    max_error_without_factor: float
    analytic_error: float
    dft_error: float
    factors: dict = field(default_factory=dict)
    kmax: float = 0.0


def continuous_theorem(f: str = "gaussian", g: str = "one_sided_exponential", *, convention: str = "unitary_angular",
                       dx: float = 0.05, half_width: float = 10.0) -> ContinuousTheorem:
    """Sample two Fourier pairs on ``[-half_width, half_width)``, convolve, transform and compare.

    Args:
        f, g: names from :data:`convscope.fourier.PAIRS` with their default parameters
            (unit-variance Gaussian, half-width-1 box, rate-1 exponentials).
        convention: the convention drawn (every convention's factor is measured too).
        dx: the grid spacing.
        half_width: the grid's extent; the pairs must have decayed by its ends.
    """
    dx = check_float("dx", dx, min_value=0.0, max_value=1.0, strict_min=True)
    half = check_float("half_width", half_width, min_value=1.0)
    n = round(2 * half / dx)
    if n > 2**16:
        raise fail("dx", f"at least {2 * half / 2**16:.3g} for half_width={half:g} (at most 65536 samples)", dx)
    pf, pg = fourier_pair(f), fourier_pair(g)
    x = -half + dx * np.arange(n)
    fs, gs = pf.f(x), pg.f(x)
    checks = {name: check_theorem(fs, gs, dx, x0_f=x[0], x0_g=x[0], convention=name) for name in CONVENTIONS}
    conv = check_option("convention", convention, CONVENTIONS)
    c = checks[conv]
    kmax = 8.0 / CONVENTIONS[conv].scale  # 8 rad per unit of x, in this convention's variable
    Ff_e, Fg_e = pf.transform(c.k, conv), pg.transform(c.k, conv)
    Fh_e = c.factor * Ff_e * Fg_e
    sel = np.abs(c.k) <= kmax
    return ContinuousTheorem(
        f_name=pf.name, g_name=pg.name, convention=conv, variable=c.convention.variable, factor=c.factor, dx=dx,
        x=x, f=fs, g=gs, x_h=c.x, h=c.h, h_exact=analytic_convolution(pf, pg, c.x), k=c.k, Ff=c.Ff, Fg=c.Fg,
        Fh=c.Fh, Ff_exact=Ff_e, Fg_exact=Fg_e, Fh_exact=Fh_e, bare=c.Ff * c.Fg, max_error=c.max_error,
        max_error_without_factor=c.max_error_without_factor,
        analytic_error=float(np.abs(c.Fh[sel] - Fh_e[sel]).max()), dft_error=dft_theorem(fs, gs)[0],
        factors={name: (ch.factor, ch.max_error, ch.max_error_without_factor) for name, ch in checks.items()},
        kmax=kmax,
    )


def theorem_title(r: ContinuousTheorem) -> str:
    f, g = r.f_name.replace("_", " "), r.g_name.replace("_", " ")
    return (f"{f} ⊛ {g}, {r.convention.replace('_', ' ')} convention: F[f ⊛ g] = {r.factor:.6g} · F[f] F[g]; "
            f"sampled sides agree to {r.max_error:.1e}, without the factor off by {r.max_error_without_factor:.2f}")


def save_continuous_theorem(result: ContinuousTheorem, out_dir: str | os.PathLike) -> list[Path]:
    """``theorem_h.npy`` (x, h), ``theorem_transforms.npy`` (k, Fh, factor·Ff·Fg), ``theorem.json``
    and ``continuous_theorem.png``."""
    from ..viz.signals import continuous_theorem_figure

    out = out_folder(out_dir)
    written: list[Path] = []
    save_npy(out / "theorem_h.npy", np.stack([result.x_h, result.h]), written)
    save_npy(out / "theorem_transforms.npy", np.stack([result.k.astype(complex), result.Fh,
                                                        result.factor * result.bare]), written)
    save_json(out / "theorem.json", {
        "f": result.f_name, "g": result.g_name, "dx": result.dx, "convention": result.convention,
        "factor": result.factor, "max_error": result.max_error, "analytic_error": result.analytic_error,
        "dft_theorem_error": result.dft_error,
        "conventions": {k: {"factor": v[0], "max_error": v[1], "max_error_without_factor": v[2]}
                        for k, v in result.factors.items()},
    }, written)
    written.append(continuous_theorem_figure(
        out / "continuous_theorem.png", x=result.x, f=result.f, g=result.g, x_h=result.x_h, h=result.h,
        h_exact=result.h_exact, k=result.k, Ff=result.Ff, Fg=result.Fg, Fh=result.Fh, Ff_exact=result.Ff_exact,
        Fg_exact=result.Fg_exact, Fh_exact=result.Fh_exact, bare=result.bare, factor=result.factor,
        variable=result.variable, labels=(result.f_name.replace("_", " "), result.g_name.replace("_", " ")),
        title=theorem_title(result), kmax=result.kmax))
    return written


# ---------------------------------------------------------------- the song


@dataclass(frozen=True)
class Song:
    """A song in both domains.

    Attributes:
        audio: the :class:`~convscope.signals.Audio` (mono).
        frequencies, amplitude: the one-sided amplitude spectrum of the whole song (Hz, linear).
        peaks: the strongest peaks with note names (:class:`~convscope.signals.Peak`), by frequency.
        equaliser: the :class:`~convscope.signals.Equaliser` frames (band levels over time).
        spectrogram_frequencies, spectrogram_times, spectrogram_db: the spectrogram.
        frame, hop: the spectrogram's Hann frame and hop, in samples.
    """

    audio: object
    frequencies: np.ndarray
    amplitude: np.ndarray
    peaks: tuple
    equaliser: object
    spectrogram_frequencies: np.ndarray
    spectrogram_times: np.ndarray
    spectrogram_db: np.ndarray
    frame: int
    hop: int


def song(audio="sax", *, n_peaks: int = 8, fps: float = 20.0, n_bands: int = 16, frame: int = 2048,
         hop: int = 512) -> Song:
    """Take a song into the frequency domain: spectrum and peaks, equaliser frames, spectrogram.

    Args:
        audio: ``sax`` (gradio's bundled recording, or a synthesised stand-in), ``scale``,
            ``chord``, ``chirp``, an audio file, an :class:`~convscope.signals.Audio` or
            ``(samples, rate)``; stereo is mixed to mono.
        n_peaks: how many spectral peaks to name.
        fps: the equaliser's frames per second.
        n_bands: the equaliser's bands (log-spaced, 31.25 Hz to 16 kHz).
        frame, hop: the spectrogram's Hann frame and hop (samples).
    """
    a = _audio(audio)
    f, amp = magnitude_spectrum(a.samples, a.sample_rate)
    peaks = find_peaks(f, amp, n=check_int("n_peaks", n_peaks, min_value=1))
    eq = equaliser(a.samples, a.sample_rate, fps=fps, n_bands=n_bands)
    sf_, st, sd = spectrogram(a.samples, a.sample_rate, frame=frame, hop=hop)
    return Song(a, f, amp, peaks, eq, sf_, st, sd, frame, hop)


def save_song(result: Song, out_dir: str | os.PathLike, *, gif_seconds: float | None = 30.0) -> list[Path]:
    """``song.wav``, ``spectrum.npy`` (Hz, amplitude), ``peaks.json``, ``time_frequency.png``,
    ``spectrogram.npy``/``.png``, ``equaliser.npy`` (T × B dBFS) and ``equaliser.gif``.

    ``gif_seconds``: the GIF shows the song's first this many seconds (None: all of it).
    """
    from ..viz.signals import equaliser_gif, spectrogram_figure, time_frequency_figure

    out = out_folder(out_dir)
    a, eq = result.audio, result.equaliser
    written: list[Path] = [save_wav(out / "song.wav", a.samples, a.sample_rate)]
    save_npy(out / "spectrum.npy", np.stack([result.frequencies, result.amplitude]), written)
    save_json(out / "peaks.json", [{"frequency": p.frequency, "amplitude": p.amplitude, "note": p.note,
                                    "cents": p.cents} for p in result.peaks], written)
    written.append(time_frequency_figure(
        a.samples, a.sample_rate, result.frequencies, result.amplitude,
        [(p.frequency, p.amplitude, p.label) for p in result.peaks], out / "time_frequency.png",
        title=f"{a.name}: the time domain (red) into the frequency domain (blue)"))
    save_npy(out / "spectrogram.npy", result.spectrogram_db.astype(np.float32), written)
    written.append(spectrogram_figure(result.spectrogram_frequencies, result.spectrogram_times, result.spectrogram_db,
                                      out / "spectrogram.png",
                                      title=f"{a.name}: spectrogram, Hann frame {result.frame}, hop {result.hop}"))
    save_npy(out / "equaliser.npy", eq.levels.astype(np.float32), written)
    frames = None if gif_seconds is None else max(1, round(check_float("gif_seconds", gif_seconds, min_value=0.0,
                                                                       strict_min=True) * eq.fps))
    shown = eq.levels.shape[0] if frames is None else min(frames, eq.levels.shape[0])
    written.append(equaliser_gif(eq.levels, eq.centres, eq.fps, out / "equaliser.gif", max_frames=frames,
                                 title=f"{a.name}: {eq.centres.shape[0]} bands, {eq.fps:.3g} frames/s"
                                 + ("" if shown == eq.levels.shape[0] else f", first {shown / eq.fps:.0f} s")))
    return written


# ---------------------------------------------------------------- filtering


@dataclass(frozen=True)
class FilteredSong:
    """A filtered song and the filter.

    Attributes:
        audio: the input; ``output``: the filtered samples (same length, aligned with the input).
        kind, cutoff, method, profile, order: the filter (``cutoff`` in Hz, ``(low, high)`` for bands;
            ``profile`` and ``order`` for ``method="fft"``), ``label`` a one-line description.
        taps: the FIR kernel (``method="fir"``), else None.
        frequencies, before, after: the amplitude spectra of input and output.
        response_frequencies, response: the filter's gain ``|H(f)|``.
        kept_energy: ``Σ output² / Σ input²``.
    """

    audio: object
    output: np.ndarray
    kind: str
    cutoff: float | tuple[float, float]
    method: str
    profile: str | None
    order: float | None
    label: str
    taps: np.ndarray | None
    frequencies: np.ndarray
    before: np.ndarray
    after: np.ndarray
    response_frequencies: np.ndarray
    response: np.ndarray
    kept_energy: float


def filter_song(audio="sax", kind: str = "lowpass", cutoff=1000.0, *, method: str = "fft",
                profile: str = "butterworth", order: float = 4.0, numtaps: int | None = None,
                window: str = "hamming", fir: str | None = None) -> FilteredSong:
    """Filter a song by an FFT mask (``method="fft"``) or by convolution with a FIR kernel (``"fir"``).

    Args:
        audio: as :func:`song`.
        kind, cutoff: the filter; ``cutoff`` in Hz, a ``(low, high)`` pair for ``bandpass``/``bandstop``.
        method: ``fft`` (:func:`convscope.signals.fft_filter`, zero padded) or ``fir``
            (:func:`convscope.signals.fir_design` then :func:`~convscope.signals.fir_filter`, centred).
        profile, order: the FFT mask's profile (ideal, gaussian, butterworth) and Butterworth order.
        numtaps, window: the FIR design.
        fir: instead of ``kind``/``cutoff``, a FIR spec for :func:`convscope.signals.fir_from_spec`
            (``lowpass:2000:255``, a one-row kernel literal or file); implies ``method="fir"``.
    """
    a = _audio(audio)
    method = "fir" if fir is not None else check_option("method", method, FILTER_METHODS)
    taps = None
    if fir is not None:
        label, taps = fir_from_spec(fir, a.sample_rate)
        kind, prof, ordr = "fir", None, None
    else:
        kind = check_option("kind", kind, FILTER_KINDS)
        if isinstance(cutoff, list):
            cutoff = tuple(cutoff)
        where = f"{cutoff[0]:g}-{cutoff[1]:g} Hz" if isinstance(cutoff, tuple) else f"{cutoff:g} Hz"
        if method == "fir":
            taps = fir_design(a.sample_rate, kind, cutoff, numtaps=numtaps, window=window)
            label, prof, ordr = f"FIR {kind} {where}, {taps.shape[0]} taps, {window}", None, None
        else:
            prof, ordr = profile, float(order)
            label = f"{profile} {kind} {where}" + (f", order {order:g}" if str(profile).lower() == "butterworth" else "")
    if taps is not None:
        y = fir_filter(a.samples, taps)
        rf, resp = fir_response(taps, a.sample_rate)
    else:
        y = fft_filter(a.samples, a.sample_rate, kind, cutoff, profile=prof, order=ordr)
        rf, resp = fft_mask(8192, a.sample_rate, kind, cutoff, profile=prof, order=ordr)
    f, before = magnitude_spectrum(a.samples, a.sample_rate)
    _, after = magnitude_spectrum(y, a.sample_rate)
    e_in = float((a.samples**2).sum())
    if e_in == 0:
        raise ArgumentError(f"audio must have some energy to filter, got silence in {a.name}")
    return FilteredSong(a, y, kind, cutoff, method, prof, ordr, label, taps, f, before, after, rf, resp,
                        float((y**2).sum()) / e_in)


def save_filter_song(result: FilteredSong, out_dir: str | os.PathLike, *, prefix: str = "filtered") -> list[Path]:
    """``<prefix>.wav`` (peak-limited to ±1 only where the filter overshoots), ``<prefix>_response.npy``
    (Hz, gain), ``<prefix>_taps.npy`` for a FIR kernel, and ``<prefix>.png``."""
    from ..viz.signals import filter_figure

    out = out_folder(out_dir)
    a = result.audio
    y = result.output
    top = float(np.abs(y).max())
    written: list[Path] = [save_wav(out / f"{prefix}.wav", y / top if top > 1 else y, a.sample_rate)]
    save_npy(out / f"{prefix}_response.npy", np.stack([result.response_frequencies, result.response]), written)
    if result.taps is not None:
        save_npy(out / f"{prefix}_taps.npy", result.taps, written)
    written.append(filter_figure(result.frequencies, result.before, result.after, result.response_frequencies,
                                 result.response, out / f"{prefix}.png",
                                 title=f"{a.name}: {result.label}, kept {100 * result.kept_energy:.1f}% of the energy"))
    return written


# ---------------------------------------------------------------- reverb


@dataclass(frozen=True)
class Reverb:
    """A song in a room.

    Attributes:
        audio: the dry song; ``output``: the mix (``N + M − 1`` samples: the tail rings on).
        ir: the impulse response (unit energy) at the song's rate; ``ir_name`` where it came from.
        rt60: the synthetic room's requested RT60 (None for a measured one), ``rt60_measured``
            the Schroeder T30 of ``ir``.
        edc_times, edc_db: the Schroeder decay curve.
        wet: the wet share; ``gain`` the factor the mix was scaled by to stay below clipping.
    """

    audio: object
    output: np.ndarray
    ir: np.ndarray
    ir_name: str
    rt60: float | None
    rt60_measured: float
    edc_times: np.ndarray
    edc_db: np.ndarray
    wet: float
    gain: float


def reverb(audio="sax", rt60: float | None = 1.2, *, ir=None, wet: float = 0.35, seed: int = 0) -> Reverb:
    """Convolve a song with a room: synthetic (``rt60`` seconds, seeded) or measured (``ir``, a file).

    Args:
        audio: as :func:`song`.
        rt60: the synthetic room's reverberation time; ignored when ``ir`` is given.
        ir: a measured impulse response (audio file), resampled to the song's rate.
        wet: the reverberant share of the mix, in [0, 1].
        seed: the synthetic room's noise.
    """
    a = _audio(audio)
    if ir is not None:
        h = load_impulse_response(ir, a.sample_rate)
        name, target = f"measured: {display_name(Path(os.fspath(ir)).name)}", None
    else:
        if rt60 is None:
            raise fail("rt60", "a reverberation time in seconds when no ir file is given", rt60)
        target = check_float("rt60", rt60, min_value=0.0, max_value=60.0, strict_min=True)
        h = room_impulse_response(target, a.sample_rate, seed=seed)
        name = f"synthetic: RT60 {target:g} s, seed {seed}"
    t, edc = schroeder_decay(h, a.sample_rate)
    fit = (-5.0, -35.0) if edc[-1] <= -35.0 else (-5.0, -25.0)  # a short measured room: T20
    y, gain = convolution_reverb(a.samples, h, wet=wet)
    return Reverb(a, y, h, name, target, measure_rt60(h, a.sample_rate, fit_db=fit), t, edc, float(wet), gain)


def save_reverb(result: Reverb, out_dir: str | os.PathLike) -> list[Path]:
    """``reverb.wav``, ``impulse_response.wav`` (float, unit energy scaled to peak 1) and ``reverb.png``."""
    from ..viz.signals import reverb_figure

    out = out_folder(out_dir)
    a = result.audio
    written: list[Path] = [save_wav(out / "reverb.wav", result.output, a.sample_rate)]
    written.append(save_wav(out / "impulse_response.wav", result.ir / np.abs(result.ir).max(), a.sample_rate,
                            subtype="float"))
    written.append(reverb_figure(result.ir, a.sample_rate, result.edc_times, result.edc_db, result.rt60_measured,
                                 out / "reverb.png", rt60_requested=result.rt60,
                                 title=f"{a.name} in a room ({result.ir_name}), wet {result.wet:g}"))
    return written

"""Audio in and out, the bundled song, and synthesised signals whose spectra are known.

Reading (:func:`read_audio`) goes through ``soundfile`` (libsndfile: WAV, FLAC, OGG/Vorbis,
AIFF, and MP3 with libsndfile >= 1.1); without ``soundfile`` installed, WAV files are read by
``scipy.io.wavfile`` and other formats are refused. The rules:

* **Values** are float64 in [-1, 1]: integer PCM is divided by its full scale (``2^(bits-1)``,
  so 16-bit ``-32768`` reads ``-1.0``); a floating-point file is kept as it is unless it leaves
  [-1, 1], and is then divided by its peak (and :attr:`Audio.note` says so).
* **Channels**: ``channels="mix"`` (the default) mixes to mono by the *mean* of the channels,
  which stays in [-1, 1] and keeps a sound panned to the centre at its level;
  ``channels="keep"`` returns ``(N, C)``.
* **Guards**: the decoded size is checked against :func:`convscope._checks.memory_limit` (the
  limit image loading uses) before anything is read; a missing name, a file that is not a
  regular file (a FIFO, a folder), an empty or corrupt file, or one holding NaN is one
  :class:`~convscope._checks.DataError` that names the file and never quotes its bytes.

The bundled song is gradio's ``gradio/media_assets/audio/sax.wav`` (16 s, 48 kHz mono), found
through the package metadata without importing gradio; when it is missing a synthesised
melody stands in and :attr:`Audio.note` says so in one line.
"""

from __future__ import annotations

import importlib.metadata
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io.wavfile
import scipy.signal

from .._checks import DataError, check_alloc, check_float, check_int, check_option, fail, unreadable
from .._io import atomic_save, display_name
from .notes import note_frequency

try:  # the optional reader: WAV also works without it
    import soundfile as _soundfile
except (ImportError, OSError):  # OSError: the package is there but libsndfile is not
    _soundfile = None

__all__ = [
    "CHANNEL_RULES",
    "SCALE_NOTES",
    "SONGS",
    "SUBTYPES",
    "Audio",
    "c_major_scale",
    "chirp",
    "chord",
    "load_song",
    "melody",
    "read_audio",
    "save_wav",
    "sax_path",
]

SONGS = ("sax", "scale", "chord", "chirp")
CHANNEL_RULES = ("mix", "keep")
SUBTYPES = ("pcm16", "float")
SCALE_NOTES = ("C4", "D4", "E4", "F4", "G4", "A4", "B4", "C5")
SYNTH_RATE = 22050  # the synthesised signals' default rate: 11 kHz of bandwidth is plenty for them
_FADE_SECONDS = 0.01  # raised-cosine fade in and out of every synthesised note (no clicks)
_SAX = "gradio/media_assets/audio/sax.wav"


@dataclass(frozen=True)
class Audio:
    """A signal and its sample rate.

    Attributes:
        samples: float64 in [-1, 1]: ``(N,)`` mono, or ``(N, C)`` with ``channels="keep"``.
        sample_rate: samples per second (Hz).
        name: the file or the signal it came from, for titles.
        note: one line when something stood in or was changed (the bundled song missing, a float
            file rescaled), else ``""``.
    """

    samples: np.ndarray
    sample_rate: int
    name: str
    note: str = ""

    @property
    def duration(self) -> float:
        """Seconds."""
        return self.samples.shape[0] / self.sample_rate

    @property
    def channels(self) -> int:
        return 1 if self.samples.ndim == 1 else self.samples.shape[1]


# ---------------------------------------------------------------- reading


def _mix(a: np.ndarray, channels: str) -> np.ndarray:
    a = a[:, None] if a.ndim == 1 else a
    return a.mean(axis=1) if channels == "mix" else a if a.shape[1] > 1 else a[:, 0]


def _pcm_scale(a: np.ndarray) -> np.ndarray:
    """scipy.io.wavfile's integers -> float64 by full scale (8-bit WAV is unsigned, offset 128)."""
    if a.dtype == np.uint8:
        return (a.astype(np.float64) - 128.0) / 128.0
    if a.dtype.kind == "i":
        return a.astype(np.float64) / float(2 ** (8 * a.dtype.itemsize - 1))
    return a.astype(np.float64)


def _read(p: Path, name: str) -> tuple[np.ndarray, int]:
    """(frames, channels) float64 and the rate, the size checked before decoding.

    The file is opened here and handed to the decoder as a file object, so a name that is not
    valid UTF-8 reads like any other (libsndfile would need it encoded).
    """
    with open(p, "rb") as fh:
        if _soundfile is not None:
            errors = (_soundfile.SoundFileError, RuntimeError, ValueError, TypeError, EOFError)
            try:
                info = _soundfile.info(fh)
            except errors as e:
                raise unreadable("audio file", name, "is not a readable audio file (WAV, FLAC, OGG)", e) from e
            check_alloc("path", (info.frames, info.channels), "float64",
                        what=f"audio {name} ({info.frames} frames x {info.channels} channels)")
            try:
                fh.seek(0)
                data, rate = _soundfile.read(fh, dtype="float64", always_2d=True)
            except errors as e:
                raise unreadable("audio file", name, "is not a readable audio file (WAV, FLAC, OGG)", e) from e
            return data, int(rate)
        # no soundfile: scipy reads WAV; a WAV holds at most one sample per byte, so 8 bytes of
        # float64 per byte of file bounds what decoding can allocate
        check_alloc("path", 8 * os.fstat(fh.fileno()).st_size, what=f"audio {name} decoded to float64")
        try:
            rate, data = scipy.io.wavfile.read(fh, mmap=False)
        except (ValueError, EOFError, TypeError, IndexError, OSError) as e:
            raise unreadable("audio file", name, "is not a readable WAV file (FLAC and OGG need the soundfile "
                             "package)", e) from e
    data = _pcm_scale(np.asarray(data))
    return (data[:, None] if data.ndim == 1 else data), int(rate)


def read_audio(path: str | os.PathLike, *, channels: str = "mix") -> Audio:
    """Read an audio file as float64 in [-1, 1] (see the module docstring for the rules).

    Args:
        path: a WAV, FLAC or OGG file (anything libsndfile reads).
        channels: ``mix`` (mono, the mean of the channels) or ``keep`` (``(N, C)``; a mono
            file stays ``(N,)``).

    Returns:
        :class:`Audio`.

    Example:
        >>> import tempfile
        >>> d = tempfile.mkdtemp()
        >>> _ = save_wav(f"{d}/a.wav", np.array([0.0, 0.5, -1.0]), 8000)
        >>> a = read_audio(f"{d}/a.wav")
        >>> a.samples, a.sample_rate
        (array([ 0. ,  0.5, -1. ]), 8000)
    """
    channels = check_option("channels", channels, CHANNEL_RULES)
    if not isinstance(path, str | os.PathLike):
        raise fail("path", "a path to an audio file", type(path).__name__, TypeError)
    p = Path(path)
    name = display_name(p)
    if not p.exists():
        raise fail("path", "an existing audio file", name)
    if not p.is_file():
        raise DataError(f"audio file {name} is not a regular file")
    data, rate = _read(p, name)
    if data.shape[0] == 0 or data.shape[1] == 0:
        raise DataError(f"audio file {name} holds no samples")
    if rate < 1:
        raise DataError(f"audio file {name} has no valid sample rate")
    if not np.isfinite(data).all():
        raise DataError(f"audio file {name} holds NaN or Inf samples")
    note = ""
    peak = float(np.abs(data).max())
    if peak > 1.0:
        data = data / peak
        note = f"{name} is floating point with a peak of {peak:.3g}; divided by it to fit [-1, 1]"
    return Audio(np.ascontiguousarray(_mix(data, channels)), rate, display_name(p.name), note)


def save_wav(path: str | os.PathLike, samples, sample_rate: int, *, subtype: str = "pcm16") -> Path:
    """Write a WAV file atomically: ``(N,)`` mono or ``(N, C)``.

    ``subtype="pcm16"``: 16-bit integers, ``round(x · 32768)`` clipped to
    ``[-32768, 32767]`` (the inverse of reading's division by 32768, so values written
    and read back differ by at most half a step, ``1.5e-5``); ``"float"``: 32-bit float,
    as is.

    Returns:
        The path.
    """
    subtype = check_option("subtype", subtype, SUBTYPES)
    rate = check_int("sample_rate", sample_rate, min_value=1)
    a = np.asarray(samples, dtype=np.float64)
    if a.ndim not in (1, 2) or a.shape[0] == 0:
        raise fail("samples", "a non-empty (N,) or (N, C) array", a)
    if not np.isfinite(a).all():
        raise fail("samples", "finite", a)
    if subtype == "pcm16":
        data = np.clip(np.round(a * 32768.0), -32768, 32767).astype(np.int16)
    else:
        data = a.astype(np.float32)
    if _soundfile is not None:
        sub = "PCM_16" if subtype == "pcm16" else "FLOAT"
        return atomic_save(path, lambda f: _soundfile.write(f, data, rate, subtype=sub, format="WAV"))
    return atomic_save(path, lambda f: scipy.io.wavfile.write(f, rate, data))


# ---------------------------------------------------------------- synthesised signals


def _envelope(n: int, rate: int) -> np.ndarray:
    """1 with raised-cosine fades of 10 ms (or a third of the note) at both ends."""
    m = min(round(_FADE_SECONDS * rate), n // 3)
    env = np.ones(n)
    if m > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(m) + 0.5) / m)
        env[:m] = ramp
        env[n - m:] = ramp[::-1]
    return env


def _rate(sample_rate) -> int:
    return check_int("sample_rate", sample_rate, min_value=1000)


def _tone(freq: float, n: int, rate: int, harmonics=(1.0,)) -> np.ndarray:
    t = np.arange(n) / rate
    out = np.zeros(n)
    for h, a in enumerate(harmonics, start=1):
        if h * freq < rate / 2:
            out += a * np.sin(2 * np.pi * h * freq * t)
    return out


def c_major_scale(*, note_seconds: float = 0.5, sample_rate: int = SYNTH_RATE, amplitude: float = 0.5) -> Audio:
    """The C-major scale C4 D4 E4 F4 G4 A4 B4 C5, one pure sine per note.

    Each note lasts ``note_seconds`` (default 0.5 s, so 4 s in all), with 10 ms raised-cosine
    fades; note ``i`` occupies ``[i · note_seconds, (i + 1) · note_seconds)``.

    Example:
        >>> s = c_major_scale(note_seconds=0.25, sample_rate=8000)
        >>> s.samples.shape, s.duration
        ((16000,), 2.0)
    """
    rate = _rate(sample_rate)
    sec = check_float("note_seconds", note_seconds, min_value=0.0, strict_min=True)
    amp = check_float("amplitude", amplitude, min_value=0.0, max_value=1.0)
    n = round(sec * rate)
    if n < 1:
        raise fail("note_seconds", f"at least one sample long at {rate} Hz", note_seconds)
    check_alloc("note_seconds", (len(SCALE_NOTES) * n,), "float64", what=f"a scale of {len(SCALE_NOTES)} x {n} samples")
    notes = [amp * _envelope(n, rate) * _tone(note_frequency(name), n, rate) for name in SCALE_NOTES]
    return Audio(np.concatenate(notes), rate, f"C-major scale C4..C5, {sec:g} s per note")


def chord(notes=("C4", "E4", "G4"), *, seconds: float = 2.0, sample_rate: int = SYNTH_RATE,
          amplitude: float = 0.25) -> Audio:
    """Notes sounding together: one pure sine of ``amplitude`` per note (default C major, C4 E4 G4)."""
    rate = _rate(sample_rate)
    sec = check_float("seconds", seconds, min_value=0.0, strict_min=True)
    amp = check_float("amplitude", amplitude, min_value=0.0, max_value=1.0)
    if isinstance(notes, str) or not notes:
        raise fail("notes", "a non-empty sequence of note names", notes)
    names = tuple(notes)
    if amp * len(names) > 1.0:
        raise fail("amplitude", f"at most 1/{len(names)} for {len(names)} notes (the sum must stay in [-1, 1])", amplitude)
    n = max(1, round(sec * rate))
    check_alloc("seconds", (n,), "float64", what=f"a chord of {n} samples")
    x = sum(_tone(note_frequency(m), n, rate) for m in names)
    return Audio(amp * _envelope(n, rate) * x, rate, "chord " + " ".join(names))


def chirp(*, f0: float = 55.0, f1: float = 7040.0, seconds: float = 4.0, sample_rate: int = SYNTH_RATE,
          amplitude: float = 0.5) -> Audio:
    """A logarithmic sweep from ``f0`` to ``f1`` Hz (``scipy.signal.chirp``): every octave takes equal time."""
    rate = _rate(sample_rate)
    sec = check_float("seconds", seconds, min_value=0.0, strict_min=True)
    lo = check_float("f0", f0, min_value=0.0, strict_min=True)
    hi = check_float("f1", f1, min_value=0.0, max_value=rate / 2, strict_min=True)
    amp = check_float("amplitude", amplitude, min_value=0.0, max_value=1.0)
    n = max(2, round(sec * rate))
    check_alloc("seconds", (n,), "float64", what=f"a chirp of {n} samples")
    t = np.arange(n) / rate
    x = scipy.signal.chirp(t, f0=lo, t1=t[-1], f1=hi, method="logarithmic", phi=-90)
    return Audio(amp * _envelope(n, rate) * x, rate, f"chirp {lo:g}..{hi:g} Hz, logarithmic")


# the stand-in for the saxophone: a short phrase in G minor (note, beats), at 100 beats a minute
_PHRASE = (("G4", 1), ("A#4", 0.5), ("C5", 0.5), ("D5", 1.5), ("C5", 0.5), ("A#4", 1), ("G4", 1),
           ("F4", 0.5), ("G4", 1.5), ("D4", 1), ("G4", 2))
# a reed-like spectrum: the fundamental and harmonics falling off
_REED = (1.0, 0.55, 0.4, 0.25, 0.15, 0.1, 0.06)


def melody(*, sample_rate: int = SYNTH_RATE, amplitude: float = 0.4) -> Audio:
    """A synthesised phrase (G minor, 100 beats a minute, 6.6 s) with a reed-like spectrum.

    Seven harmonics falling off from the fundamental, a 5 Hz vibrato of ±0.4 %, an attack
    of 30 ms and a decay to 60 % over each note; the stand-in for the bundled saxophone.
    """
    rate = _rate(sample_rate)
    amp = check_float("amplitude", amplitude, min_value=0.0, max_value=1.0)
    beat = 60.0 / 100.0
    parts = []
    for name, beats in _PHRASE:
        n = round(beats * beat * rate)
        t = np.arange(n) / rate
        f = note_frequency(name)
        phase = 2 * np.pi * f * (t - 0.004 / (2 * np.pi * 5.0) * np.cos(2 * np.pi * 5.0 * t))
        x = sum(a * np.sin(h * phase) for h, a in enumerate(_REED, start=1) if h * f < rate / 2)
        shape = np.minimum(t / 0.03, 1.0) * (1.0 - 0.4 * t / max(t[-1], 1e-9))
        parts.append(_envelope(n, rate) * shape * x)
    x = np.concatenate(parts)
    return Audio(amp * x / np.abs(x).max(), rate, "synthesised melody (G minor)")


# ---------------------------------------------------------------- the bundled song


def sax_path() -> Path | None:
    """Where gradio keeps ``sax.wav``, or ``None`` (gradio not installed, or the file gone).

    Read from the package metadata: gradio itself is never imported.
    """
    try:
        dist = importlib.metadata.distribution("gradio")
    except importlib.metadata.PackageNotFoundError:
        return None
    p = Path(str(dist.locate_file(_SAX)))
    return p if p.is_file() else None


def load_song(song: str | os.PathLike = "sax", *, channels: str = "mix") -> Audio:
    """A bundled name (``sax``, ``scale``, ``chord``, ``chirp``) or an audio file.

    ``sax`` is gradio's ``sax.wav``; when it cannot be found, :func:`melody` stands in and the
    returned :attr:`Audio.note` says so. A path that exists is read with :func:`read_audio`
    (a file named like a bundled song wins over the name).
    """
    channels = check_option("channels", channels, CHANNEL_RULES)
    if not isinstance(song, str | os.PathLike):
        raise fail("song", "a path or one of " + ", ".join(repr(s) for s in SONGS), type(song).__name__, TypeError)
    s = os.fspath(song)
    key = s.strip().lower()
    if key in SONGS and not Path(s).exists():
        if key == "scale":
            return c_major_scale()
        if key == "chord":
            return chord()
        if key == "chirp":
            return chirp()
        p = sax_path()
        if p is None:
            m = melody()
            return Audio(m.samples, m.sample_rate, m.name,
                         "gradio's media_assets/audio/sax.wav was not found; a synthesised melody stands in")
        a = read_audio(p, channels=channels)
        return Audio(a.samples, a.sample_rate, "sax.wav (gradio)", a.note)
    if not Path(s).exists():
        raise fail("song", "an existing audio file or one of " + ", ".join(repr(n) for n in SONGS), display_name(s))
    return read_audio(s, channels=channels)

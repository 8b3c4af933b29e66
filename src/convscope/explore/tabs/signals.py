"""Tab 3, signals: the notes' song. The time domain (red) into the frequency domain (blue), the
equaliser bars an mp3 player would show, and filtering and reverb you can hear."""

from __future__ import annotations

import functools
import hashlib
import io
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ... import experiments as ex
from ..._checks import check_float, check_option, fail
from ...fourier import FILTER_KINDS, FILTER_PROFILES
from ...signals import Audio, c_major_scale, chirp, chord, equaliser, melody, read_audio, sax_path
from .. import render
from ..common import HEAVY, api, guard, plotted

TITLE = "Signals"
ID = "signals"
API_NAMES = ("signal",)
INTRO = ("**Try:** press play on both players, then move the low-pass cutoff down to 500 Hz and hear the "
         "saxophone go dull; the equaliser bars (an mp3 player's) show which bands are gone.")
SOURCES = ("sax", "scale", "chord", "chirp")
EQ_FPS = 10  # equaliser frames per second in the animation (the sound keeps its own rate)
MAX_GIF_SECONDS = 20.0
MAX_RT60 = 4.0


@functools.lru_cache(maxsize=4)
def _bundled(name: str) -> Audio:
    """A bundled song by name; never a path, so no visitor names a file on this machine."""
    if name == "sax":
        p = sax_path()
        return read_audio(p) if p is not None else melody()
    return {"scale": c_major_scale, "chord": chord, "chirp": chirp}[name]()


@functools.lru_cache(maxsize=4)
def _uploaded(path: str, mtime: float) -> Audio:
    return read_audio(path)


def load_signal(source: str | None, upload: str | os.PathLike | None = None) -> Audio:
    """The song a visitor picked (a bundled name) or uploaded (a file in Gradio's upload cache), mono."""
    if upload:
        p = Path(os.fspath(upload))
        if not p.is_file():
            raise fail("upload", "an existing file", str(p))
        a = _uploaded(str(p), p.stat().st_mtime)
    else:
        a = _bundled(check_option("source", source or "sax", SOURCES))
    if a.samples.ndim != 1:
        a = Audio(a.samples.mean(axis=1), a.sample_rate, a.name, a.note)
    return a


def _pcm(x: np.ndarray, rate: int) -> tuple[int, np.ndarray]:
    """What ``gr.Audio`` plays: the rate and 16-bit samples (a float array would be rescaled by Gradio)."""
    return int(rate), (np.clip(x, -1.0, 1.0) * 32767).astype(np.int16)


# the animation's palette: 0 white, 1 black, then 32 steps from green (quiet) to red (loud)
_STEPS = 32
_PALETTE = [255, 255, 255, 0, 0, 0] + [int(v) for t in np.linspace(0.0, 1.0, _STEPS)
                                       for v in (60 + 190 * t, 200 - 120 * t, 60)]


def bar_frame(levels: np.ndarray, centres: np.ndarray, *, width: int = 320, height: int = 120, floor: float = -80.0,
              title: str = "") -> Image.Image:
    """One frame of equaliser bars (dBFS levels, one bar per band) as a palette image, bands labelled in Hz.

    Drawn as palette indices, so that a whole animation needs no colour quantisation.
    """
    n = len(levels)
    top = 14  # room for the title
    gap, bw = 2, max(2, (width - 2) // n - 2)
    frac = np.clip((np.asarray(levels, dtype=np.float64) - floor) / -floor, 0.0, 1.0)
    heights = np.round(frac * (height - top)).astype(int)
    rows = np.arange(height)[:, None]
    colour = (2 + np.round((1 - (rows - top) / max(1, height - top - 1)) * (_STEPS - 1))).clip(2, _STEPS + 1)
    idx = np.zeros((height + 14, width), np.uint8)
    for i, h in enumerate(heights):
        x0 = 2 + i * (bw + gap)
        lit = rows >= height - h
        idx[:height, x0:x0 + bw] = np.where(lit, colour, 0)
    im = Image.fromarray(idx, mode="P")
    im.putpalette(_PALETTE)
    d = ImageDraw.Draw(im)
    if title:
        d.text((4, 1), title, fill=1)
    for i in (0, n // 2, n - 1):
        c = centres[i]
        d.text((2 + i * (bw + gap), height + 2), f"{c / 1000:.0f}k" if c >= 1000 else f"{c:.0f}", fill=1)
    return im


def bars(levels: np.ndarray, centres: np.ndarray, **kw) -> np.ndarray:
    """:func:`bar_frame` as an RGB array."""
    return np.asarray(bar_frame(levels, centres, **kw).convert("RGB"))


def equaliser_gif(x: np.ndarray, rate: int, *, seconds: float = MAX_GIF_SECONDS) -> bytes:
    """The equaliser of ``x`` as an animated GIF, one frame per 1 / :data:`EQ_FPS` s, in time with the sound."""
    n = min(len(x), int(seconds * rate))
    eq = equaliser(x[:n], rate, fps=EQ_FPS)
    frames = [bar_frame(lv, eq.centres, title=f"{t:4.1f} s") for lv, t in zip(eq.levels, eq.times)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=int(1000 / EQ_FPS), loop=0,
                   optimize=False)
    return buf.getvalue()


def signal(source: str | None = "sax", upload: str | None = None, kind: str = "lowpass", cutoff: float = 1000.0,
           profile: str = "butterworth", rt60: float = 0.0):
    """Filter (and optionally reverberate) the song; returns ``(original, processed, equaliser GIF path,
    spectrum rows, report)`` (:func:`convscope.experiments.filter_song`, :func:`~convscope.experiments.reverb`).

    ``cutoff`` is the low-pass/high-pass edge in Hz, or the centre of a one-octave band for band
    filters; ``rt60`` > 0 adds a synthetic room with that reverberation time.
    """
    kind = check_option("kind", kind, FILTER_KINDS)
    profile = check_option("profile", profile, FILTER_PROFILES)
    rt60 = check_float("rt60", rt60, min_value=0.0, max_value=MAX_RT60)
    a = load_signal(source, upload)
    nyquist = a.sample_rate / 2
    cutoff = check_float("cutoff", cutoff, min_value=20.0, max_value=0.7 * nyquist)
    band = kind in ("bandpass", "bandstop")
    edge = (cutoff / 2**0.5, cutoff * 2**0.5) if band else cutoff  # one octave around the centre
    r = ex.filter_song(a, kind, edge, method="fft", profile=profile)
    y, label = r.output, r.label
    if rt60 > 0:
        rv = ex.reverb(Audio(y, a.sample_rate, a.name), rt60, wet=0.35, seed=0)
        y = rv.output
        label += f", then a room of RT60 {rt60:g} s (measured {rv.rt60_measured:.2f} s)"
    gif = _write_gif(equaliser_gif(y, a.sample_rate))
    keep = r.frequencies <= min(nyquist, 16000)
    f = r.frequencies[keep][1::8]
    db = {"original": 20 * np.log10(np.maximum(r.before[keep][1::8], 1e-9)),
          "filtered": 20 * np.log10(np.maximum(r.after[keep][1::8], 1e-9))}
    rows = render.rows(f, db, x_name="frequency (Hz)", y_name="amplitude (dB)")
    note = f" {a.note}" if getattr(a, "note", None) else ""
    report = (f"**{a.name}**, {len(a.samples) / a.sample_rate:.1f} s at {a.sample_rate} Hz.{note} "
              f"Filter: {label}; energy kept {r.kept_energy:.0%}. The red waveform is the song in time; the "
              f"blue spectrum is the same song in frequency, the equaliser bars its spectrum frame by frame.")
    return _pcm(a.samples, a.sample_rate), _pcm(y, a.sample_rate), gif, rows, report


def _write_gif(data: bytes) -> str:
    """The GIF as a file Gradio can serve (an image component plays an animated GIF from a path), in
    Gradio's own cache folder (the explorer's, under the user cache directory) and named by its content."""
    folder = Path(os.environ.get("GRADIO_TEMP_DIR") or tempfile.gettempdir()) / "equaliser"
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / f"eq-{hashlib.sha1(data).hexdigest()[:16]}.gif"
    if not p.exists():
        p.write_bytes(data)
    return str(p)


def build(ctx) -> None:
    """Lay out and wire the signals tab; it fills when first shown."""
    import gradio as gr

    with gr.Tab(f"{ctx.number}. {TITLE}", id=ID) as tab:
        gr.Markdown(INTRO)
        with gr.Row():
            with gr.Column(scale=1):
                src = gr.Radio(list(SOURCES), value="sax", label="song")
                up = gr.Audio(label="…or upload a WAV, FLAC or OGG", type="filepath", sources=["upload"])
                kind = gr.Radio(list(FILTER_KINDS), value="lowpass", label="filter")
                cutoff = gr.Slider(50, 8000, value=1000, step=10, label="cutoff (Hz; band centre)")
                profile = gr.Radio(list(FILTER_PROFILES), value="butterworth", label="profile")
                rt60 = gr.Slider(0, MAX_RT60, value=0, step=0.1, label="reverb: RT60 in seconds (0 = dry)")
            with gr.Column(scale=2):
                md = gr.Markdown(elem_id="signal-report")
                orig = gr.Audio(label="original", type="numpy", interactive=False, elem_id="signal-original")
                out = gr.Audio(label="filtered", type="numpy", interactive=False, elem_id="signal-filtered")
                eq = gr.Image(label="equaliser bars of the filtered song (10 frames a second)", type="filepath",
                              interactive=False, elem_id="signal-equaliser")
                plot = gr.LinePlot(x="frequency (Hz)", y="amplitude (dB)", color="series",
                                   label="the frequency domain: original and filtered")

    def run(source, upload, k, c, p, t):
        return plotted(signal(source, upload, k, c, p, t), 3)

    s_in, s_out = [src, up, kind, cutoff, profile, rt60], [orig, out, eq, plot, md]
    gr.on([c.change for c in s_in], guard(run), s_in, s_out, api_name="signal", show_progress="hidden",
          trigger_mode="always_last", **HEAVY)
    tab.select(guard(run), s_in, s_out, **api(None), **HEAVY)

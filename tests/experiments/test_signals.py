"""experiments.signals: frozen results, nothing written until save_*, and what each save_* writes."""

from __future__ import annotations

import dataclasses
import json
import math
import os

import numpy as np
import pytest
from PIL import Image

import convscope.experiments as E
from convscope._checks import ArgumentError
from convscope.signals import SCALE_NOTES, c_major_scale, note_frequency, read_audio, save_wav


@pytest.fixture
def empty_cwd(tmp_path, monkeypatch):
    d = tmp_path / "cwd"
    d.mkdir()
    monkeypatch.chdir(d)
    np_state = np.random.get_state()[1].copy()
    yield d
    assert list(d.iterdir()) == [], "an experiment wrote files"
    assert np.array_equal(np.random.get_state()[1], np_state), "an experiment touched numpy's global seed"


@pytest.fixture(scope="module")
def short_scale():
    return c_major_scale(note_seconds=0.25, sample_rate=8000)


def _frozen(result, cls):
    assert type(result) is cls and dataclasses.is_dataclass(result)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(result, dataclasses.fields(result)[0].name, None)


def _images_open(paths):
    for p in paths:
        with Image.open(p) as im:
            im.verify()


def test_continuous_theorem(empty_cwd, tmp_path):
    r = E.continuous_theorem()
    _frozen(r, E.ContinuousTheorem)
    assert r.factor == pytest.approx(math.sqrt(2 * math.pi)) and r.max_error < 1e-13
    assert r.analytic_error < 1e-3 and r.dft_error < 1e-12
    assert {k: round(v[0], 6) for k, v in r.factors.items()} == {
        "unitary_angular": 2.506628, "ordinary": 1.0, "angular": 1.0, "angular_forward": 6.283185}
    assert r.h_exact is not None and np.abs(r.h - r.h_exact).max() < 5e-4
    box = E.continuous_theorem("box", "box", convention="ordinary")
    assert box.factor == 1.0 and box.max_error_without_factor == box.max_error
    written = E.save_continuous_theorem(r, tmp_path / "out")
    assert [p.name for p in written] == ["theorem_h.npy", "theorem_transforms.npy", "theorem.json",
                                         "continuous_theorem.png"]
    _images_open(written[-1:])
    meta = json.loads((tmp_path / "out" / "theorem.json").read_text())
    assert meta["conventions"]["angular_forward"]["factor"] == pytest.approx(2 * math.pi)
    tr = np.load(tmp_path / "out" / "theorem_transforms.npy")
    assert np.abs(tr[1] - tr[2]).max() < 1e-13 * np.abs(tr[1]).max()  # F[h] = √(2π) F[f] F[g], saved
    with pytest.raises(ArgumentError, match="convention must be one of"):
        E.continuous_theorem(convention="unitary")


def test_song(empty_cwd, tmp_path, short_scale):
    r = E.song(short_scale, fps=20)
    _frozen(r, E.Song)
    assert [p.note for p in r.peaks] == list(SCALE_NOTES)
    assert r.equaliser.levels.shape[1] == r.equaliser.centres.shape[0]
    # the equaliser's loudest band in the middle of each note holds that note
    for i, name in enumerate(SCALE_NOTES):
        j = round((i + 0.5) * 0.25 * r.equaliser.fps)
        b = int(np.argmax(r.equaliser.levels[j]))
        assert r.equaliser.edges[b] <= note_frequency(name) < r.equaliser.edges[b + 1]
    written = E.save_song(r, tmp_path / "out")
    names = [p.name for p in written]
    assert names == ["song.wav", "spectrum.npy", "peaks.json", "time_frequency.png", "spectrogram.npy",
                     "spectrogram.png", "equaliser.npy", "equaliser.gif"]
    assert np.abs(read_audio(tmp_path / "out" / "song.wav").samples - short_scale.samples).max() <= 0.5 / 32768 + 1e-12
    _images_open([p for p in written if p.suffix in (".png", ".gif")])
    with Image.open(tmp_path / "out" / "equaliser.gif") as gif:
        assert gif.n_frames == r.equaliser.levels.shape[0]  # one frame per equaliser frame
        assert gif.info["duration"] == 50  # 20 frames a second: in time with the sound
    peaks = json.loads((tmp_path / "out" / "peaks.json").read_text())
    assert [p["note"] for p in peaks] == list(SCALE_NOTES)
    assert np.load(tmp_path / "out" / "spectrum.npy").shape == (2, r.frequencies.shape[0])


def test_gif_seconds_caps_the_frames(tmp_path, short_scale):
    r = E.song(short_scale)
    E.save_song(r, tmp_path, gif_seconds=0.5)
    with Image.open(tmp_path / "equaliser.gif") as gif:
        assert gif.n_frames == 10


def test_filter_song(empty_cwd, tmp_path, short_scale):
    lo = E.filter_song(short_scale, "lowpass", 370.0, profile="ideal")
    _frozen(lo, E.FilteredSong)
    hi = E.filter_song(short_scale, "highpass", 370.0, profile="ideal")
    assert np.abs(lo.output + hi.output - short_scale.samples).max() < 1e-10  # complementary
    # C4 D4 E4 F4 lie below 370 Hz, G4..C5 above: the ideal low-pass keeps the first half's energy
    assert lo.kept_energy == pytest.approx(0.5, abs=0.02) and hi.kept_energy == pytest.approx(0.5, abs=0.02)
    fir = E.filter_song(short_scale, fir="lowpass:370:801")
    assert fir.method == "fir" and fir.taps.shape == (801,) and fir.kept_energy == pytest.approx(0.5, abs=0.06)
    designed = E.filter_song(short_scale, "bandpass", (300.0, 400.0), method="fir", numtaps=401)
    assert designed.label.startswith("FIR bandpass 300-400 Hz, 401 taps")
    written = E.save_filter_song(fir, tmp_path, prefix="fir")
    assert [p.name for p in written] == ["fir.wav", "fir_response.npy", "fir_taps.npy", "fir.png"]
    _images_open(written[-1:])
    with pytest.raises(ArgumentError, match="method must be one of 'fft', 'fir'"):
        E.filter_song(short_scale, method="iir")


def test_reverb(empty_cwd, tmp_path, short_scale):
    r = E.reverb(short_scale, 0.6, seed=1)
    _frozen(r, E.Reverb)
    assert r.rt60_measured == pytest.approx(0.6, rel=0.1)
    assert r.output.shape == (short_scale.samples.shape[0] + r.ir.shape[0] - 1,)
    assert np.abs(r.output).max() <= 0.99 + 1e-12
    assert np.array_equal(r.ir, E.reverb(short_scale, 0.6, seed=1).ir)  # seeded
    written = E.save_reverb(r, tmp_path)
    assert [p.name for p in written] == ["reverb.wav", "impulse_response.wav", "reverb.png"]
    room = read_audio(tmp_path / "impulse_response.wav")
    assert room.sample_rate == 8000 and room.samples.shape == r.ir.shape
    measured = E.reverb(short_scale, None, ir=tmp_path / "impulse_response.wav")
    assert measured.rt60 is None and measured.rt60_measured == pytest.approx(r.rt60_measured, rel=0.02)
    assert measured.ir_name == "measured: impulse_response.wav"
    with pytest.raises(ArgumentError, match="rt60 must be a reverberation time in seconds when no ir file"):
        E.reverb(short_scale, None)


def test_audio_forms(empty_cwd, tmp_path, short_scale):
    stereo = np.stack([short_scale.samples, short_scale.samples], 1)
    p = tmp_path / "s.wav"
    save_wav(p, stereo, 8000)
    a = E.song(os.fspath(p)).audio
    b = E.song((short_scale.samples, 8000)).audio
    assert a.samples.ndim == 1 and np.abs(a.samples - b.samples).max() < 1e-4

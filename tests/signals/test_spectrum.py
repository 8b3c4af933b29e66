"""Spectrum, peaks and note names, the STFT against numpy and torch, the equaliser bands."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch

from convscope._checks import ArgumentError
from convscope.signals import (
    SCALE_NOTES,
    band_edges,
    c_major_scale,
    chirp,
    equaliser,
    equaliser_frame,
    find_peaks,
    magnitude_spectrum,
    midi_number,
    nearest_note,
    note_frequency,
    note_name,
    spectrogram,
    stft,
)


def _rel(a, b) -> float:
    return float(np.abs(np.asarray(a) - np.asarray(b)).max() / max(np.abs(np.asarray(b)).max(), 1e-300))


class TestNotes:
    def test_equal_temperament(self):
        assert note_frequency("A4") == 440.0 and note_frequency("A5") == 880.0
        assert note_frequency("C4") == pytest.approx(261.6255653005986, rel=1e-14)
        assert note_frequency("Bb3") == note_frequency("A#3") and note_frequency("Cb4") == note_frequency("B3")

    def test_every_piano_key_round_trips(self):
        for midi in range(21, 109):  # A0 .. C8
            f = 440.0 * 2 ** ((midi - 69) / 12)
            name = note_name(f)
            assert note_frequency(name) == pytest.approx(f, rel=1e-12)
            assert midi_number(f) == pytest.approx(midi, abs=1e-9)
        assert note_name(27.5) == "A0" and note_name(4186.01) == "C8"

    def test_nearest_and_cents(self):
        assert nearest_note(277.18)[0] == "C#4"
        name, cents = nearest_note(440 * 2 ** (30 / 1200))
        assert name == "A4" and cents == pytest.approx(30.0, abs=1e-9)
        assert nearest_note(440 * 2 ** (60 / 1200))[0] == "A#4"  # past the half-way point

    def test_bad_name(self):
        with pytest.raises(ArgumentError, match=r"name must be a note name such as 'A4'"):
            note_frequency("H2")


class TestMagnitudeSpectrum:
    @pytest.mark.parametrize("n, window", [(1000, "none"), (999, "none"), (1024, "hann")])
    def test_against_numpy(self, rng, n, window):
        x = rng.standard_normal(n)
        f, a = magnitude_spectrum(x, 8000.0, window=window)
        w = np.ones(n) if window == "none" else np.hanning(n + 1)[:-1]
        X = np.abs(np.fft.rfft(x * w)) / w.sum()
        X[1 : (n + 1) // 2] *= 2  # one-sided: fold the negative frequencies in, not DC or Nyquist
        assert _rel(a, X) < 1e-10
        assert np.allclose(f, np.fft.rfftfreq(n, 1 / 8000.0))

    def test_a_sine_reads_its_amplitude(self):
        rate = 8000
        t = np.arange(2 * rate) / rate
        f, a = magnitude_spectrum(0.7 * np.sin(2 * np.pi * 1000 * t), rate)
        i = int(np.argmax(a))
        assert f[i] == 1000.0 and a[i] == pytest.approx(0.7, rel=1e-12)

    def test_bad_signals(self):
        with pytest.raises(ArgumentError, match=r"x must be a non-empty 1-D signal \(mix stereo to mono first\)"):
            magnitude_spectrum(np.zeros((10, 2)), 8000)
        with pytest.raises(ArgumentError, match=r"sample_rate must be a finite number > 0.0"):
            magnitude_spectrum(np.zeros(10), 0)


class TestPeaks:
    def test_the_scale_peaks_are_the_eight_notes(self):
        s = c_major_scale()
        f, a = magnitude_spectrum(s.samples, s.sample_rate)
        peaks = find_peaks(f, a, n=8)
        assert [p.note for p in peaks] == list(SCALE_NOTES)
        for p, name in zip(peaks, SCALE_NOTES):
            assert p.frequency == pytest.approx(note_frequency(name), abs=0.25)  # within a bin (0.25 Hz)
            assert abs(p.cents) < 2

    def test_chord_peaks_refined_between_bins(self):
        rate = 8000
        t = np.arange(rate) / rate  # 1 Hz bins; the notes fall between them
        names = ("C4", "E4", "G4")
        x = sum(np.sin(2 * np.pi * note_frequency(m) * t) for m in names)
        f, a = magnitude_spectrum(x, rate, window="hann")
        peaks = find_peaks(f, a, n=3)
        assert [p.note for p in peaks] == list(names)
        for p, m in zip(peaks, names):
            assert p.frequency == pytest.approx(note_frequency(m), abs=0.05)  # the parabola's vertex
        assert peaks[0].label.startswith("C4 261.6")

    def test_separation_and_threshold(self):
        f = np.arange(100.0)
        a = np.zeros(100)
        a[[40, 41 + 1, 80]] = [1.0, 0.9, 0.01]  # 40 and 42 Hz are 85 cents apart; 80 Hz is 1% of the top
        assert [round(p.frequency) for p in find_peaks(f, a, n=5, min_separation=100)] == [40]
        assert [round(p.frequency) for p in find_peaks(f, a, n=5, min_separation=50)] == [40, 42]
        assert len(find_peaks(f, a, n=5, min_separation=50, threshold=0.005)) == 3


class TestStft:
    def test_against_numpy_frames(self, rng):
        x, frame, hop = rng.standard_normal(3000), 256, 100
        s = stft(x, 8000.0, frame=frame, hop=hop)
        assert s.values.shape == (frame // 2 + 1, 3000 // hop + 1)
        w = scipy.signal.windows.hann(frame, sym=False)
        padded = np.concatenate([np.zeros(frame), x, np.zeros(frame)])
        for j in (0, 1, 7, s.values.shape[1] - 1):
            start = j * hop - frame // 2 + frame  # frame j is centred on sample j*hop
            ref = np.fft.rfft(w * padded[start : start + frame])
            assert _rel(s.values[:, j], ref) < 1e-10
        assert np.allclose(s.times, np.arange(s.values.shape[1]) * hop / 8000.0)

    def test_against_torch_stft(self, rng):
        x, frame, hop = rng.standard_normal(4096), 512, 128
        s = stft(x, 16000.0, frame=frame, hop=hop)
        ref = torch.stft(torch.from_numpy(x), frame, hop_length=hop, window=torch.hann_window(frame, dtype=torch.float64),
                         center=True, pad_mode="constant", return_complex=True).numpy()
        # torch puts the phase origin at each frame's start too; its frames are the same ones
        assert ref.shape == s.values.shape
        assert _rel(s.values, ref) < 1e-10

    def test_spectrogram_levels(self):
        rate = 8000
        t = np.arange(rate) / rate
        f, _times, db = spectrogram(0.5 * np.sin(2 * np.pi * 1000 * t), rate, frame=256, hop=64)
        mid = db[:, db.shape[1] // 2]
        assert f[int(np.argmax(mid))] == 1000.0
        assert mid.max() == pytest.approx(20 * np.log10(0.5), abs=1e-9)  # -6.02 dBFS
        assert db.min() >= -120.0

    def test_chirp_rises(self):
        c = chirp(f0=100, f1=3000, seconds=2.0, sample_rate=8000)
        f, _times, db = spectrogram(c.samples, c.sample_rate, frame=512, hop=256)
        track = f[np.argmax(db[:, 2:-2], axis=0)]
        assert np.all(np.diff(track) >= 0) and track[0] < 150 and track[-1] > 2500

    def test_bad_frame(self):
        with pytest.raises(ArgumentError, match=r"frame must be an even number of samples, got 255"):
            stft(np.zeros(1000), 8000, frame=255)


class TestEqualiser:
    def test_bands_tile_the_axis(self):
        c, e = band_edges(16, 31.25, 16000)
        assert c.shape == (16,) and e.shape == (17,)
        assert c[0] == pytest.approx(31.25) and c[-1] == pytest.approx(16000)
        assert np.allclose(np.sqrt(e[:-1] * e[1:]), c)  # each centre is its band's geometric middle
        assert np.allclose(e[1:] / e[:-1], e[1] / e[0])  # equal width in octaves (0.6)
        assert np.log2(e[1] / e[0]) == pytest.approx(0.6)

    def test_full_scale_sine_reads_0_dB_in_its_band(self):
        rate = 32000
        t = np.arange(rate) / rate
        eq = equaliser(np.sin(2 * np.pi * 1000 * t), rate)
        j = eq.levels.shape[0] // 2
        b = int(np.argmax(eq.levels[j]))
        assert eq.edges[b] <= 1000 < eq.edges[b + 1]
        assert eq.levels[j, b] == pytest.approx(0.0, abs=1e-6)
        assert np.sort(eq.levels[j])[-2] < -40  # nothing leaks far into the other bands

    def test_band_power_is_parseval(self, rng):
        # the bands' powers of white noise add up to the frame's mean square (window compensated)
        x = rng.standard_normal(8000)
        eq = equaliser(x, 8000.0, n_bands=12, fmin=1.0, fmax=3999.0, frame=512)
        total = (0.5 * 10 ** (eq.levels / 10)).sum(1)
        s = stft(x, 8000.0, frame=512, hop=eq.hop)
        w = s.window
        j = 5
        seg = np.concatenate([np.zeros(256), x, np.zeros(256)])[j * eq.hop : j * eq.hop + 512]
        dc = np.abs(s.values[0, j]) ** 2 / (512 * (w**2).sum())  # the 0 Hz bin lies below every band
        assert total[j] + dc == pytest.approx(((w * seg) ** 2).sum() / (w**2).sum(), rel=1e-10)

    def test_the_scale_peak_band_follows_the_notes(self):
        s = c_major_scale()  # 0.5 s per note
        eq = equaliser(s.samples, s.sample_rate)
        assert eq.fps == pytest.approx(s.sample_rate / eq.hop) and abs(eq.fps - 20) < 0.05
        bands = []
        for i, name in enumerate(SCALE_NOTES):
            lv = equaliser_frame(eq, (i + 0.5) * 0.5)  # the middle of note i
            b = int(np.argmax(lv))
            f = note_frequency(name)
            assert eq.edges[b] <= f < eq.edges[b + 1], (name, eq.edges[b], eq.edges[b + 1])
            assert lv[b] == pytest.approx(20 * np.log10(0.5), abs=0.05)  # amplitude 0.5: -6 dBFS
            bands.append(b)
        assert bands == sorted(bands) and len(set(bands)) >= 3  # up the scale, across bands
        # silence before the music starts is floored, not -inf
        assert np.isfinite(eq.levels).all()

    def test_frames_keep_time_with_the_sound(self):
        eq = equaliser(np.zeros(22050), 22050, fps=20)
        assert eq.hop == 1102 and eq.fps == pytest.approx(22050 / 1102)
        assert np.allclose(eq.times, np.arange(eq.levels.shape[0]) * 1102 / 22050)

    def test_bands_above_nyquist_are_dropped(self):
        eq = equaliser(np.zeros(8000), 8000)
        assert eq.edges[-2] < 4000 and eq.dropped == 16 - eq.centres.shape[0] > 0

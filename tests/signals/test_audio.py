"""Reading and writing audio: the value and stereo rules, the guards, the bundled song, the synthesised signals."""

from __future__ import annotations

import importlib.metadata
import os

import numpy as np
import pytest
import soundfile as sf

from convscope._checks import ArgumentError, DataError, ResourceError
from convscope.signals import (
    SCALE_NOTES,
    c_major_scale,
    chirp,
    chord,
    load_song,
    melody,
    note_frequency,
    read_audio,
    save_wav,
    sax_path,
)
from convscope.signals import audio as audio_mod

RATE = 8000


@pytest.fixture
def noise(rng):
    return np.clip(rng.standard_normal(3000) * 0.3, -1, 0.999)  # +1 itself clips to 32767/32768


class TestRoundTrip:
    def test_pcm16(self, tmp_path, noise):
        p = save_wav(tmp_path / "a.wav", noise, RATE)
        a = read_audio(p)
        assert a.sample_rate == RATE and a.samples.dtype == np.float64 and a.samples.shape == noise.shape
        assert np.abs(a.samples - noise).max() <= 0.5 / 32768 + 1e-12  # half a 16-bit step
        assert sf.info(str(p)).subtype == "PCM_16"

    def test_pcm16_full_scale(self, tmp_path):
        p = save_wav(tmp_path / "a.wav", np.array([-1.0, -0.5, 0.0, 0.5, 1.0]), RATE)
        raw, _ = sf.read(str(p), dtype="int16")
        assert raw.tolist() == [-32768, -16384, 0, 16384, 32767]  # +1 clips to the top code
        assert read_audio(p).samples[0] == -1.0

    def test_float(self, tmp_path, noise):
        a = read_audio(save_wav(tmp_path / "f.wav", noise, RATE, subtype="float"))
        assert np.array_equal(a.samples, noise.astype(np.float32).astype(np.float64))

    def test_flac_and_ogg(self, tmp_path, noise):
        t = np.arange(RATE) / RATE
        tone = 0.5 * np.sin(2 * np.pi * 440 * t)
        sf.write(str(tmp_path / "n.flac"), noise, RATE, subtype="PCM_16")
        flac = read_audio(tmp_path / "n.flac")
        assert np.abs(flac.samples - noise).max() <= 1 / 32768  # lossless
        sf.write(str(tmp_path / "t.ogg"), tone, RATE)
        ogg = read_audio(tmp_path / "t.ogg")  # lossy: the tone survives, not the samples
        n = min(ogg.samples.shape[0], tone.shape[0])
        assert ogg.sample_rate == RATE and np.corrcoef(ogg.samples[:n], tone[:n])[0, 1] > 0.99

    def test_atomic_write_leaves_no_temporary(self, tmp_path, noise):
        save_wav(tmp_path / "a.wav", noise, RATE)
        assert [q.name for q in tmp_path.iterdir()] == ["a.wav"]


class TestStereoRule:
    def test_mix_is_the_mean_and_keep_keeps(self, tmp_path, rng):
        left, right = rng.uniform(-1, 1, 500), rng.uniform(-1, 1, 500)
        sf.write(str(tmp_path / "s.wav"), np.stack([left, right], 1), RATE, subtype="FLOAT")
        mixed = read_audio(tmp_path / "s.wav")
        kept = read_audio(tmp_path / "s.wav", channels="keep")
        assert mixed.samples.shape == (500,) and kept.samples.shape == (500, 2) and kept.channels == 2
        f32 = np.stack([left, right], 1).astype(np.float32).astype(np.float64)
        assert np.allclose(mixed.samples, f32.mean(1), rtol=0, atol=1e-15)
        assert np.array_equal(kept.samples, f32)

    def test_mono_stays_one_dimensional(self, tmp_path, noise):
        p = save_wav(tmp_path / "m.wav", noise, RATE)
        assert read_audio(p, channels="keep").samples.shape == noise.shape

    def test_unknown_rule(self, tmp_path, noise):
        with pytest.raises(ArgumentError, match=r"channels must be one of 'mix', 'keep', got 'left'"):
            read_audio(save_wav(tmp_path / "m.wav", noise, RATE), channels="left")

    def test_float_file_above_full_scale_is_rescaled(self, tmp_path):
        sf.write(str(tmp_path / "loud.wav"), np.array([0.5, -2.0, 1.0]), RATE, subtype="DOUBLE")
        a = read_audio(tmp_path / "loud.wav")
        assert np.allclose(a.samples, [0.25, -1.0, 0.5]) and "divided by it" in a.note


class TestBadFiles:
    SECRET = b"root:x:0:0:secret-bytes"

    @pytest.mark.parametrize("content", [b"", SECRET, b"RIFF\x10\x00\x00\x00WAVEfmt " + SECRET])
    def test_corrupt_or_empty_is_one_data_error(self, tmp_path, content):
        p = tmp_path / "bad.wav"
        p.write_bytes(content)
        with pytest.raises(DataError) as e:
            read_audio(p)
        msg = str(e.value)
        assert str(p) in msg and "is not a readable audio file" in msg
        assert "secret" not in msg and "x:0:0" not in msg and "\n" not in msg

    def test_fifo_is_refused_without_blocking(self, tmp_path):
        p = tmp_path / "pipe.wav"
        os.mkfifo(p)
        with pytest.raises(DataError, match=r"audio file .*pipe\.wav is not a regular file"):
            read_audio(p)

    def test_folder_and_missing(self, tmp_path):
        with pytest.raises(DataError, match=r"is not a regular file"):
            read_audio(tmp_path)
        with pytest.raises(ArgumentError, match=r"path must be an existing audio file, got '.*nope\.wav'"):
            read_audio(tmp_path / "nope.wav")

    def test_nan_samples(self, tmp_path):
        sf.write(str(tmp_path / "nan.wav"), np.array([0.0, np.nan, 0.1]), RATE, subtype="FLOAT")
        with pytest.raises(DataError, match=r"holds NaN or Inf samples"):
            read_audio(tmp_path / "nan.wav")

    def test_no_samples(self, tmp_path):
        sf.write(str(tmp_path / "empty.wav"), np.zeros(0), RATE)
        with pytest.raises(DataError, match=r"holds no samples"):
            read_audio(tmp_path / "empty.wav")

    def test_length_guard_uses_the_memory_limit(self, tmp_path, monkeypatch, noise):
        p = save_wav(tmp_path / "a.wav", noise, RATE)
        monkeypatch.setenv("CONVSCOPE_MAX_MEMORY", "16K")  # 3000 float64 samples need 23.4 KiB
        with pytest.raises(ResourceError, match=r"path would need 23.4 KiB for audio .*a\.wav \(3000 frames"):
            read_audio(p)


class TestWithoutSoundfile:
    def test_scipy_reads_and_writes_wav(self, tmp_path, monkeypatch, noise):
        expected = read_audio(save_wav(tmp_path / "a.wav", noise, RATE)).samples
        monkeypatch.setattr(audio_mod, "_soundfile", None)
        a = read_audio(tmp_path / "a.wav")
        assert np.array_equal(a.samples, expected) and a.sample_rate == RATE
        p = save_wav(tmp_path / "b.wav", noise, RATE)
        assert np.array_equal(read_audio(p).samples, expected)
        sf.write(str(tmp_path / "c.flac"), noise, RATE)
        with pytest.raises(DataError, match=r"c\.flac is not a readable WAV file \(FLAC and OGG need the soundfile"):
            read_audio(tmp_path / "c.flac")

    def test_unsigned_8_bit(self, tmp_path, monkeypatch):
        import scipy.io.wavfile

        scipy.io.wavfile.write(tmp_path / "u8.wav", RATE, np.array([0, 64, 128, 255], dtype=np.uint8))
        expected = read_audio(tmp_path / "u8.wav").samples
        monkeypatch.setattr(audio_mod, "_soundfile", None)
        got = read_audio(tmp_path / "u8.wav").samples
        assert np.array_equal(got, [-1.0, -0.5, 0.0, 127 / 128]) and np.array_equal(got, expected)


class TestSongs:
    @pytest.mark.skipif(sax_path() is None, reason="gradio's sax.wav is not installed")
    def test_sax(self):
        a = load_song("sax")
        assert a.sample_rate == 48000 and a.samples.ndim == 1 and a.note == ""
        assert a.duration == pytest.approx(16.0) and 0.5 < np.abs(a.samples).max() <= 1.0

    def test_sax_missing_falls_back_and_says_so(self, monkeypatch):
        def missing(name):
            raise importlib.metadata.PackageNotFoundError(name)

        monkeypatch.setattr(audio_mod.importlib.metadata, "distribution", missing)
        assert sax_path() is None
        a = load_song("sax")
        assert "sax.wav was not found" in a.note and "\n" not in a.note
        assert np.array_equal(a.samples, melody().samples)

    def test_scale(self):
        s = c_major_scale(note_seconds=0.25, sample_rate=8000)
        assert s.samples.shape == (8 * 2000,) and np.abs(s.samples).max() <= 0.5 + 1e-12
        # each note is its pure sine: project the second note's middle onto D4
        t = np.arange(2000) / 8000
        seg = s.samples[2000:4000][400:1600]
        d4 = np.sin(2 * np.pi * note_frequency("D4") * t)[400:1600]
        assert np.allclose(seg, 0.5 * d4, atol=1e-12)
        assert SCALE_NOTES == ("C4", "D4", "E4", "F4", "G4", "A4", "B4", "C5")

    def test_chord_and_chirp(self):
        c = chord(seconds=0.5, sample_rate=8000)
        assert c.samples.shape == (4000,) and np.abs(c.samples).max() <= 0.75
        with pytest.raises(ArgumentError, match=r"amplitude must be at most 1/3"):
            chord(amplitude=0.5)
        ch = chirp(f0=100, f1=3000, seconds=1.0, sample_rate=8000)
        assert ch.samples.shape == (8000,) and ch.name.startswith("chirp")
        with pytest.raises(ArgumentError, match=r"f1 must be a finite number > 0.0 and <= 4000"):
            chirp(f1=5000, sample_rate=8000)

    def test_synthesis_is_guarded_by_the_memory_limit(self, monkeypatch):
        monkeypatch.setenv("CONVSCOPE_MAX_MEMORY", "1M")
        with pytest.raises(ResourceError, match=r"seconds would need 1.6 GiB for a chord of 220500000 samples"):
            chord(seconds=1e4, sample_rate=22050)
        with pytest.raises(ResourceError, match="note_seconds would need"):
            c_major_scale(note_seconds=100.0)

    def test_names_and_files(self, tmp_path, noise):
        assert load_song("SCALE").name.startswith("C-major scale")
        p = save_wav(tmp_path / "x.wav", noise, RATE)
        assert load_song(p).sample_rate == RATE
        with pytest.raises(ArgumentError, match=r"song must be an existing audio file or one of 'sax', 'scale'"):
            load_song(tmp_path / "missing.wav")

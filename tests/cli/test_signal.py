"""`convscope signal` end to end: what it writes, what it prints, how it fails."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image

from convscope.cli import main
from convscope.signals import SCALE_NOTES, read_audio, sax_path

ALWAYS = ["song.wav", "spectrum.npy", "peaks.json", "time_frequency.png", "spectrogram.npy", "spectrogram.png",
          "equaliser.npy", "equaliser.gif", "theorem_h.npy", "theorem_transforms.npy", "theorem.json",
          "continuous_theorem.png"]


def _check_images(folder):
    for p in folder.iterdir():
        if p.suffix in (".png", ".gif"):
            with Image.open(p) as im:
                im.verify()


def test_scale_with_everything(tmp_path, capsys):
    rc = main(["signal", "scale", "--lowpass", "370", "--highpass", "250", "--fir", "lowpass:1000:101",
               "--reverb", "0.5", "--seed", "3", "--out", str(tmp_path)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "peaks C4 261.6 Hz, D4 293.5 Hz, E4 329.5 Hz, F4 349.2 Hz, G4 391.9 Hz, A4 440.0 Hz" in out
    assert "filter: butterworth bandpass 250-370 Hz" in out and "FIR: lowpass 1000 Hz, 101 taps" in out
    assert "seed 3" in out and "measured RT60 0.5" in out and "F[f ⊛ g] = 2.50663 · F[f] F[g]" in out
    extra = ["filtered.wav", "filtered_response.npy", "filtered.png", "fir.wav", "fir_response.npy", "fir_taps.npy",
             "fir.png", "reverb.wav", "impulse_response.wav", "reverb.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(ALWAYS + extra)
    assert f"wrote {len(ALWAYS) + len(extra)} files to {tmp_path.resolve()}" in out
    _check_images(tmp_path)
    song, filtered = read_audio(tmp_path / "song.wav"), read_audio(tmp_path / "filtered.wav")
    assert song.sample_rate == filtered.sample_rate == 22050 and song.duration == pytest.approx(4.0)
    assert (filtered.samples**2).sum() < 0.6 * (song.samples**2).sum()  # the band keeps E4..F4 (and the skirts)
    assert [p["note"] for p in json.loads((tmp_path / "peaks.json").read_text())] == list(SCALE_NOTES)
    assert read_audio(tmp_path / "reverb.wav").duration > song.duration  # the room rings on


@pytest.mark.skipif(sax_path() is None, reason="gradio's sax.wav is not installed")
def test_default_is_the_bundled_sax(tmp_path, capsys):
    assert main(["signal", "--quiet", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "sax.wav (gradio): 16.00 s at 48000 Hz" in out and "note:" not in out
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(ALWAYS)
    assert f"wrote {len(ALWAYS)} files" in out
    assert read_audio(tmp_path / "song.wav").sample_rate == 48000
    with Image.open(tmp_path / "equaliser.gif") as gif:
        assert gif.n_frames == 321  # 16 s at 20 frames a second, and the frame at the end
    assert np.load(tmp_path / "equaliser.npy").shape == (321, 16)


def test_without_gradio_the_stand_in_says_so(tmp_path, capsys, monkeypatch):
    import convscope.signals.audio as audio

    monkeypatch.setattr(audio, "sax_path", lambda: None)
    assert main(["signal", "sax", "--quiet", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("note: gradio's media_assets/audio/sax.wav was not found; a synthesised melody stands in") == 1
    assert "synthesised melody (G minor)" in out


@pytest.mark.parametrize("argv, msg", [
    (["signal", "no-such.wav"], "song must be an existing audio file or one of 'sax', 'scale', 'chord', 'chirp'"),
    (["signal", "scale", "--lowpass", "-3"], "--lowpass must be a finite number > 0"),
    (["signal", "scale", "--highpass", "500", "--lowpass", "300"], "--highpass must be below --lowpass"),
    (["signal", "scale", "--lowpass", "20000"], "cutoff must be a finite number > 0.0 and <= 11025.0"),
    (["signal", "scale", "--fir", "lowpass:fast"], "spec must be lowpass:HZ[:TAPS[:WINDOW]] with numbers"),
    (["signal", "scale", "--profile", "box", "--lowpass", "300"], "profile must be one of"),
    (["signal", "scale", "--convention", "physics"], "convention must be one of 'unitary_angular'"),
    (["signal", "scale", "--reverb", "0"], "--reverb must be a finite number > 0"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, msg):
    out_dir = tmp_path / "out"
    assert main([*argv, "--out", str(out_dir)]) == 2
    err = capsys.readouterr().err.strip()
    assert msg in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not out_dir.exists()  # nothing half written


def test_non_utf8_file_names(tmp_path, capsys):
    from convscope.signals import c_major_scale, save_wav

    name = os.fsdecode(os.fsencode(str(tmp_path)) + b"/caf\xe9.wav")  # Latin-1 bytes: not UTF-8
    s = c_major_scale(note_seconds=0.1, sample_rate=8000)
    save_wav(name, s.samples, s.sample_rate)
    out = tmp_path / "o"
    assert main(["signal", name, "--ir", name, "--quiet", "--out", str(out)]) == 0
    assert "caf\ufffd.wav" in capsys.readouterr().out and (out / "reverb.png").is_file()


def test_bad_files(tmp_path, capsys):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all: secret")
    assert main(["signal", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert f"audio file {bad} is not a readable audio file" in err and "secret" not in err
    assert main(["signal", "scale", "--ir", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "is not a readable audio file" in capsys.readouterr().err

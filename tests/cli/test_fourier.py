"""CLI smoke tests for `convscope spectrum`, `filter` and `theorem`: files written, PNGs open, errors exit 2."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from convscope.cli import main


def _pngs_open(paths):
    for p in paths:
        with Image.open(p) as im:
            im.verify()
        with Image.open(p) as im:
            assert im.size[0] > 200 and im.size[1] > 100


@pytest.mark.parametrize("extra", [[], ["--window", "hann", "--bins", "20", "--fmin", "0.02"]])
def test_spectrum(tmp_path, capsys, extra):
    assert main(["spectrum", "--size", "96", "--out", str(tmp_path), "--quiet", *extra]) == 0
    out = capsys.readouterr().out
    assert "slope" in out and f"wrote 4 files to {tmp_path.resolve()}" in out
    _pngs_open([tmp_path / "spectrum_panel.png"])
    prof = np.load(tmp_path / "radial_profile.npy")
    assert prof.shape == (2, 21 if extra else 49)
    assert np.load(tmp_path / "log_magnitude.npy").shape == (96, 96)


@pytest.mark.parametrize("flags", [[], ["--highpass", "0.05", "--profile", "ideal", "--pad", "none"],
                                   ["--bandpass", "0.05:0.15", "--profile", "butterworth", "--order", "4",
                                    "--pad", "zeros"]])
def test_filter(tmp_path, capsys, flags):
    assert main(["filter", "coffee", "--size", "80", "--out", str(tmp_path), *flags]) == 0
    out = capsys.readouterr().out
    assert "wrote 6 files" in out
    _pngs_open([tmp_path / "filter_panel.png"])
    res, rem = np.load(tmp_path / "result.npy"), np.load(tmp_path / "removed.npy")
    assert res.shape == rem.shape == (3, 80, 120)


def test_theorem(tmp_path, capsys):
    assert main(["theorem", "--size", "64", "--kernel", "gaussian:7", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "largest difference" in out and "ms" in out and "wrap-around" in out
    _pngs_open([tmp_path / "theorem_panel.png"])
    assert np.load(tmp_path / "spatial.npy").shape == (70, 70)
    assert np.load(tmp_path / "circular.npy").shape == (64, 64)


@pytest.mark.parametrize("argv, msg", [
    (["filter", "--lowpass", "0.7"], "cutoff must be a finite number > 0.0 and <= 0.5"),
    (["filter", "--bandpass", "0.1"], "--bandpass must be LO:HI"),
    (["filter", "--profile", "box"], "profile must be one of"),
    (["filter", "--pad", "wrap"], "pad must be one of"),
    (["spectrum", "no-such-image.png"], "image must be an existing image file"),
    (["spectrum", "--size", "-3"], "--size must be an integer >= 0"),
    (["theorem", "--kernel", "nonsense"], "name must be one of"),
])
def test_errors_exit_2(tmp_path, capsys, argv, msg):
    assert main([*argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert msg in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_mutually_exclusive_filters_exit_2(tmp_path):
    # argparse's refusal comes back as main's return value, like every other user error
    assert main(["filter", "--lowpass", "0.1", "--highpass", "0.1", "--out", str(tmp_path)]) == 2

"""``convscope diffuse``: smoke tests of what it writes and how it fails."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from convscope.cli import main
from convscope.experiments.diffusion import gif_steps, parse_steps

EXPECTED = {
    "propagator.npy", "propagator.png", "frames.npy", "diffusion.gif", "strip.png", "profile.png",
    "mass_entropy.csv", "mass_entropy.png",
}


def test_default_image(tmp_path, capsys):
    rc = main(["diffuse", "--size", "48", "--steps", "0,5,50", "--compare-heat", "--out", str(tmp_path)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "0.542537" in out and "D = 0.171549" in out  # the propagator and its moments are printed
    assert "method: spectral" in out and f"wrote 11 files to {tmp_path}" in out
    names = {p.name for p in tmp_path.iterdir()}
    assert EXPECTED | {"frame_00000.png", "frame_00005.png", "frame_00050.png"} <= names
    frames = np.load(tmp_path / "frames.npy")
    assert frames.shape == (3, 48, 48)
    assert abs(frames[2].sum() - frames[0].sum()) < 1e-9 * frames[0].sum()  # symmetric: salt conserved
    with Image.open(tmp_path / "diffusion.gif") as gif:
        assert gif.n_frames >= 10
    table = np.loadtxt(tmp_path / "mass_entropy.csv", delimiter=",", skiprows=1)
    assert table[0, 0] == 0 and table[-1, 0] == 50 and np.all(np.diff(table[:, 2]) >= -1e-12)


def test_drop_iterate_zeros(tmp_path, capsys):
    rc = main(["diffuse", "--drop", "disc", "--size", "16", "--steps", "0,6,12", "--boundary", "zeros",
               "--method", "iterate", "--kernel", "gaussian:5", "--temperature", "0.05", "--quiet",
               "--out", str(tmp_path)])
    assert rc == 0
    frames = np.load(tmp_path / "frames.npy")
    assert frames.shape == (3, 16, 16) and frames[0].max() == 1.0
    m = frames.sum(axis=(1, 2))
    assert m[0] > m[1] > m[2]  # absorbing walls
    assert "method: iterate" in capsys.readouterr().out


def test_spectral_refused_is_one_line(tmp_path, capsys):
    rc = main(["diffuse", "--drop", "--size", "16", "--kernel", "sobel_x", "--boundary", "symmetric",
               "--method", "spectral", "--steps", "3", "--out", str(tmp_path)])
    assert rc == 2
    err = capsys.readouterr().err
    assert "not exact" in err and "symmetric in each axis" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "argv, match",
    [
        (["--steps", "1,x"], "--steps must be comma-separated integers"),
        (["--steps", "-3"], "--steps must be comma-separated integers"),
        (["--kernel", "[[1, 2], [3, 4]]"], "odd size"),
        (["--boundary", "reflect"], "boundary must be one of 'circular', 'symmetric', 'zeros'"),
        (["--temperature", "0"], "temperature must be a finite number > 0"),
        (["no_such_image.png"], "image must be an existing image file"),
    ],
)
def test_errors(tmp_path, capsys, argv, match):
    rc = main(["diffuse", "--size", "16", "--steps", "2", "--out", str(tmp_path), *argv])
    assert rc == 2
    assert match in capsys.readouterr().err


def test_drop_with_image_refused(tmp_path, capsys):
    assert main(["diffuse", "camera", "--drop", "--out", str(tmp_path)]) == 2
    assert "either IMAGE or --drop" in capsys.readouterr().err


def test_helpers():
    assert parse_steps("0, 10,100") == [0, 10, 100]
    s = gif_steps([0, 7, 1000], 12)
    assert s[0] == 0 and s[-1] == 1000 and 7 in s and s == sorted(set(s)) and len(s) >= 10
    assert gif_steps([0], 30) == [0]

"""`convscope kernels` and `convscope conv`: smoke tests that also open what was written."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from convscope.cli import main


def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_kernels_lists_every_kernel_with_values(capsys):
    rc, out, _ = run(capsys, "kernels")
    assert rc == 0
    for name in ("laplacian8", "sobel_x", "gaussian", "gabor", "box"):
        assert name in out
    assert "[[-1. -1. -1.]" in out and "[-1.  8. -1.]" in out  # the lecture notes' kernel, printed


@pytest.fixture
def small_image(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "img.png"
    Image.fromarray((rng.random((24, 20, 3)) * 255).astype(np.uint8)).save(path)
    return path


def test_conv_writes_maps_npy_and_panel(capsys, tmp_path, small_image):
    out_dir = tmp_path / "out"
    rc, out, err = run(
        capsys, "conv", str(small_image), "--kernel", "laplacian8", "--kernel", "sobel_x",
        "--boundary", "reflect", "--pool", "max:2", "--size", "0", "--out", str(out_dir), "--quiet",
    )  # fmt: skip
    assert rc == 0, err
    assert f"to {out_dir.resolve()}" in out and out.startswith("wrote ")
    pngs = sorted(out_dir.glob("*.png"))
    assert len(pngs) == 2 * 3 + 1  # one map per kernel and channel (RGB) + the panel
    for p in pngs:
        with Image.open(p) as im:
            im.verify()  # a real, readable PNG
    with Image.open(out_dir / "panel.png") as im:
        assert im.size[0] > 400 and im.size[1] > 200
    fmap = np.load(out_dir / "featuremap_laplacian8.npy")
    assert fmap.shape == (3, 24, 20) and fmap.dtype == np.float32
    pooled = np.load(out_dir / "pooled_sobel_x.npy")
    assert pooled.shape == (3, 12, 10)
    # the saved feature map is the convolution of the image with the kernel
    from convscope import convolve2d, get_kernel
    from convscope.data.images import load_image

    img = load_image(small_image)
    np.testing.assert_allclose(fmap, convolve2d(img.astype(np.float64), get_kernel("laplacian8"), boundary="reflect"), atol=1e-5)


def test_conv_defaults_to_a_bundled_photo_and_seed_kernel(capsys, tmp_path):
    rc, _, err = run(capsys, "conv", "--gray", "--size", "64", "--out", str(tmp_path), "--quiet")
    assert rc == 0, err
    assert (tmp_path / "featuremap_laplacian8.npy").exists() and (tmp_path / "panel.png").exists()
    assert np.load(tmp_path / "featuremap_laplacian8.npy").shape == (64, 64)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["conv", "{missing}"], "convscope: error:"),
        (["conv", "{corrupt}"], "convscope: error:"),
        (["conv", "--kernel", "blurry"], "name must be one of"),
        (["conv", "--pool", "median:2"], "--pool must be max:N or avg:N"),
        (["conv", "--mode", "sideways"], "mode must be one of 'full', 'same', 'valid'"),
    ],
)
def test_errors_are_one_line_with_exit_code_2(capsys, tmp_path, args, message):
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    args = [a.format(missing=tmp_path / "nope.png", corrupt=corrupt) for a in args]
    rc, _, err = run(capsys, *args, "--size", "32", "--out", str(tmp_path / "o"), "--quiet")
    assert rc == 2
    assert message in err and len(err.strip().splitlines()) == 1


def test_exit_code_from_a_real_process(tmp_path):
    p = subprocess.run(
        [sys.executable, "-m", "convscope", "conv", str(tmp_path / "missing.png"), "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert p.returncode == 2
    assert len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr

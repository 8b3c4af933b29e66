"""The CLI as a hostile or careless user tries it: one line, exit code 2, nothing lost.

One representative per group: 3 (images misread), 4 (numeric options), 5 (resource bombs),
7 (colliding output names). Groups 1, 2 and 6 (run folders, run metadata, devices) live with
the training engine's tests.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from convscope.cli import main


def _refused(capsys, argv, *needles) -> str:
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "Traceback" not in err and "internal error" not in err
    assert len(err.strip().splitlines()) == 1, err
    for n in needles:
        assert n in err, err
    return err


@pytest.fixture
def saved(tmp_path):
    """An output folder that already holds a result a refused command must not touch."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.npy").write_bytes(b"earlier result")
    yield out
    assert (out / "keep.npy").read_bytes() == b"earlier result"


# ---------------------------------------------------------------- group 3: images


def test_filter_on_small_images(tmp_path, capsys, saved):
    img32 = tmp_path / "i32.png"
    Image.fromarray((np.random.default_rng(0).random((32, 32)) * 255).astype(np.uint8)).save(img32)
    assert main(["filter", str(img32), "--out", str(tmp_path / "f32"), "--quiet"]) == 0  # was: argmax of empty
    assert np.load(tmp_path / "f32" / "result.npy").shape == (32, 32)
    img1 = tmp_path / "i1.png"
    Image.fromarray(np.full((1, 1), 9, np.uint8)).save(img1)
    _refused(capsys, ["filter", str(img1), "--out", str(saved)], "1x1 pixels", "at least 8x8")


def test_16bit_png_scaled_through_the_cli(tmp_path):
    ramp = np.tile(np.arange(0, 65536, 257, dtype=np.uint16), (256, 1))
    p = tmp_path / "r16.png"
    Image.fromarray(ramp).save(p)
    assert main(["conv", str(p), "--kernel", "identity", "--size", "0", "--out", str(tmp_path / "o"), "--quiet"]) == 0
    fmap = np.load(tmp_path / "o" / "featuremap_identity.npy")
    np.testing.assert_allclose(fmap[0], np.arange(256) / 255, atol=1e-6)


def test_diffuse_non_utf8_file_name(tmp_path):
    name = os.fsdecode(os.fsencode(str(tmp_path)) + b"/caf\xe9.png")  # Latin-1 bytes: not UTF-8
    Image.fromarray((np.random.default_rng(1).random((16, 16)) * 255).astype(np.uint8)).save(name)
    out = tmp_path / "d"
    assert main(["diffuse", name, "--size", "16", "--steps", "0,2", "--gif-frames", "2", "--out", str(out),
                 "--quiet"]) == 0
    assert (out / "strip.png").is_file()


# ---------------------------------------------------------------- group 4: numeric options

BAD_OPTIONS = [
    (["conv", "--size", "-5"], "--size must be an integer >= 0"),
    (["gan", "train", "--time-limit", "-1"], "--time-limit must be a finite number > 0"),
    (["gan", "interpolate", "--checkpoint", "x", "--rows", "-5"], "--rows must be an integer in [1, 100]"),
    (["gan", "spectrum", "--checkpoint", "x", "-n", "-5"], "-n must be an integer in [2,"),
    (["gan", "spectrum", "--checkpoint", "x", "-n", "0"], "-n must be an integer in [2,"),
    (["gan", "evaluate", "--checkpoint", "x", "--data", "d", "--classifier", "c", "-n", "0"], "-n must be"),
    (["--seed", str(2**70), "kernels"], "--seed must be an integer in [0, 4,294,967,295]"),
    (["diffuse", "--steps", "1e20"], "--steps must be comma-separated integers"),
    (["diffuse", "--steps", str(10**20)], "--steps must be comma-separated integers"),
    (["gan", "sample", "--checkpoint", "x", "--nrow", "-1"], "--nrow must be an integer in [1, 256]"),
    (["gan", "sample", "--checkpoint", "x", "--nrow", "1000000000"], "--nrow must be an integer in [1, 256]"),
    (["gan", "arithmetic", "--checkpoint", "x", "--classifier", "c", "--pool", "-1"], "--pool must be"),
    (["gan", "train", "--preset", "foo"], "--preset must be one of 'quick', 'mnist', got 'foo'"),
    (["classify", "filters", "--max-filters", "0"], "--max-filters must be an integer in [1,"),
    (["classify", "filters", "--max-filters", "-1"], "--max-filters must be an integer in [1,"),
    (["classify", "train", "--lr", "nan"], "--lr must be a finite number > 0"),
    (["diffuse", "--temperature", "inf"], "--temperature must be a finite number > 0"),
    (["conv", "--kernel", "gaussian::1e308"], "sigma must be <= 10000"),
    (["conv", "--kernel", "log::1e308"], "sigma must be <= 10000"),
]


@pytest.mark.parametrize("argv, message", BAD_OPTIONS, ids=[" ".join(a) for a, _ in BAD_OPTIONS])
def test_bad_numeric_option(capsys, saved, argv, message):
    _refused(capsys, [*argv, "--out", str(saved)] if argv[0] != "--seed" else argv, message)


def test_preset_names_match_the_trainer():
    from convscope.cli.gan import PRESET_NAMES
    from convscope.train.gan import PRESETS

    assert set(PRESET_NAMES) == set(PRESETS)


# ---------------------------------------------------------------- group 5: resource bombs


@pytest.mark.parametrize("argv", [
    ["conv", "--size", "100000"],
    ["spectrum", "--size", "100000"],
    ["diffuse", "--drop", "--size", "100000"],
])
def test_huge_sizes_refused_before_allocating(capsys, saved, argv):
    _refused(capsys, [*argv, "--out", str(saved)], "size would need", "memory limit", "CONVSCOPE_MAX_MEMORY")


def test_slow_iteration_refused_with_the_fast_alternative(capsys, saved):
    err = _refused(capsys, ["diffuse", "--kernel", "sobel_x", "--steps", "0,100000000", "--size", "32",
                            "--out", str(saved)], "would take about", "--allow-slow", "circular")
    assert "100,000,000 steps" in err


def test_long_strip_resized_within_bound(tmp_path):
    p = tmp_path / "strip.png"
    Image.fromarray((np.arange(20000) % 256).astype(np.uint8)[None]).save(p)
    out = tmp_path / "o"
    assert main(["conv", str(p), "--kernel", "identity", "--out", str(out), "--quiet"]) == 0
    assert np.load(out / "featuremap_identity.npy").shape == (1, 2048)  # not 256 x 5,120,000


# ---------------------------------------------------------------- group 7: colliding output names


def test_kernels_with_colliding_names_both_kept(tmp_path):
    long = "k" * 45
    paths = []
    for d, k in (("a", np.eye(3)), ("b", np.ones((3, 3)) / 9)):
        folder = tmp_path / long / d
        folder.mkdir(parents=True)
        np.save(folder / "blur.npy", k)
        paths.append(str(folder / "blur.npy"))
    out = tmp_path / "o"
    argv = ["conv", "camera", "--gray", "--size", "32", "--out", str(out), "--quiet"]
    assert main([*argv, "--kernel", paths[0], "--kernel", paths[1]]) == 0
    maps = sorted(out.glob("featuremap_*.npy"))
    assert len(maps) == 2
    a, b = (np.load(m) for m in maps)
    assert not np.allclose(a, b)  # neither overwrote the other


@pytest.mark.parametrize("argv, seed, quiet", [
    (["classify", "--seed", "2", "train"], 2, False),  # was silently reset to 0 by the sub-command's default
    (["classify", "train", "--seed", "3"], 3, False),
    (["--seed", "5", "gan", "train"], 5, False),
    (["--quiet", "gan", "train"], 0, True),
    (["gan", "train", "--quiet"], 0, True),
    (["classify", "train"], 0, False),
])
def test_common_options_count_at_every_level(argv, seed, quiet):
    from convscope.cli import build_parser

    args = build_parser().parse_args(argv)
    assert (args.seed, args.quiet, args.debug) == (seed, quiet, False)


@pytest.mark.parametrize(("argv", "match"), [
    (["spectrum", "--bins", "1000000000", "--size", "32"], "bins must be at most 1024"),
    (["conv", "--pool", "max:1000", "--size", "32"], "pool size must be at most the image's smaller side, 32 px"),
])
def test_user_sized_work_is_refused_by_its_size(argv, match, tmp_path, capsys):
    from convscope.cli import main

    assert main([*argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and match in err, err

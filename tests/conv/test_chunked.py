"""Images larger than memory: convolve2d / correlate2d on dask arrays, and `conv --chunks`."""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import pytest
import torch

da = pytest.importorskip("dask.array")

from convscope._checks import ArgumentError, ArgumentTypeError
from convscope.cli import main
from convscope.conv import convolve2d, correlate2d
from convscope.conv.chunked import axis_plan, is_dask_array
from convscope.conv.padding import BOUNDARIES
from convscope.kernels import kernel_from_spec

MODES = ("full", "same", "valid")
FUNCS = (convolve2d, correlate2d)
# uneven chunks, some smaller than the kernels' halo
CHUNKS = ((5, 7, 2, 9), (3, 9, 5))


def rel_err(got, ref) -> float:
    return float(np.abs(got - ref).max() / max(np.abs(ref).max(), 1e-300))


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(0).standard_normal((23, 17))


@pytest.mark.parametrize("fn", FUNCS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_identical_to_in_memory_f64(image, fn, mode, boundary):
    rng = np.random.default_rng(1)
    x = da.from_array(image, chunks=CHUNKS)
    # odd, even, 1-wide, and taller than every chunk (halo from beyond the next chunk)
    for shape in ((3, 3), (4, 6), (1, 6), (8, 2), (13, 9)):
        k = rng.standard_normal(shape)
        ref = fn(image, k, mode=mode, boundary=boundary)
        y = fn(x, k, mode=mode, boundary=boundary)
        assert isinstance(y, da.Array)
        got = y.compute()
        assert got.shape == ref.shape and got.dtype == np.float64
        assert rel_err(got, ref) < 1e-10, (shape, rel_err(got, ref))


@pytest.mark.parametrize("fn", FUNCS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("mode", MODES)
def test_row_strips_inside_a_chunk_change_nothing(monkeypatch, fn, mode):
    """A chunk cut into row strips (to bound the engine's temporaries) gives the same result."""
    import convscope.conv.chunked as C

    rng = np.random.default_rng(5)
    img = rng.standard_normal((3, 61, 40))  # channels, and strips of a few rows with uneven last strip
    k = rng.standard_normal((7, 5))
    ref = fn(img, k, mode=mode, boundary="reflect")
    monkeypatch.setattr(C, "STRIP_PIXELS", 10 * 44)  # about 4 output rows per strip
    got = fn(da.from_array(img, chunks=(3, 30, 21)), k, mode=mode, boundary="reflect").compute()
    assert got.shape == ref.shape and rel_err(got, ref) < 1e-10


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_pads_wider_than_the_image(boundary):
    # 'same' and 'full' with a kernel larger than the image: the boundary pattern repeats
    img = np.random.default_rng(2).standard_normal((5, 4))
    k = np.random.default_rng(3).standard_normal((9, 11))
    x = da.from_array(img, chunks=(2, 3))
    for mode in ("same", "full"):
        ref = convolve2d(img, k, mode=mode, boundary=boundary)
        assert rel_err(convolve2d(x, k, mode=mode, boundary=boundary).compute(), ref) < 1e-10


def test_float32_channels_batch_and_per_channel_kernels():
    rng = np.random.default_rng(4)
    img = rng.standard_normal((2, 3, 40, 33)).astype(np.float32)
    x = da.from_array(img, chunks=(1, 1, 11, 16))  # channels split: a per-channel kernel joins them
    for k in (rng.standard_normal((5, 4)).astype(np.float32), rng.standard_normal((3, 7, 6)).astype(np.float32)):
        for mode, boundary in (("same", "reflect"), ("full", "symmetric"), ("valid", "zeros")):
            ref = convolve2d(img, k, mode=mode, boundary=boundary)
            got = convolve2d(x, k, mode=mode, boundary=boundary).compute()
            assert got.dtype == np.float32 and got.shape == ref.shape
            assert rel_err(got, ref) < 1e-4


def test_large_kernel_and_every_method_agree():
    # k=31 on 96-pixel chunks: auto may pick FFT or overlap-add per chunk; any method matches
    rng = np.random.default_rng(5)
    img = rng.standard_normal((200, 150)).astype(np.float32)
    k = torch.from_numpy(rng.standard_normal((31, 31)).astype(np.float32))  # a tensor kernel too
    x = da.from_array(img, chunks=96)
    ref = correlate2d(img, k, mode="same", boundary="circular")
    for method in ("auto", "direct", "fft", "overlap_add"):
        got = correlate2d(x, k, mode="same", boundary="circular", method=method).compute()
        assert rel_err(got, ref) < 1e-4, method


def test_integer_image_and_same_chunks_as_input():
    img = np.random.default_rng(6).integers(0, 255, (30, 20), dtype=np.uint8)
    x = da.from_array(img, chunks=(8, 7))
    y = convolve2d(x, np.ones((3, 3)) / 9, mode="same", boundary="replicate")
    assert y.dtype == np.float32 and y.chunks == x.chunks  # 'same' keeps the input's chunks
    assert rel_err(y.compute(), convolve2d(img, np.ones((3, 3)) / 9, boundary="replicate")) < 1e-4


def test_output_chunk_grid_follows_the_input():
    x = da.zeros((300, 260), chunks=64)  # last chunks 44 and 4: the 4 is merged to compute, then split back
    k = np.ones((31, 31))
    assert convolve2d(x, k, mode="same", boundary="reflect").chunks == x.chunks
    full = convolve2d(x, k, mode="full")
    assert full.shape == (330, 290) and full.chunks == ((64,) * 5 + (10,), (64,) * 4 + (34,))
    valid = correlate2d(x, k, mode="valid")
    assert valid.shape == (270, 230) and valid.chunks == ((64,) * 4 + (14,), (64,) * 3 + (38,))


def test_valid_kernel_larger_than_image_swaps_as_scipy():
    img = np.random.default_rng(7).standard_normal((4, 5))
    k = np.random.default_rng(8).standard_normal((6, 7))
    x = da.from_array(img, chunks=2)
    for fn in FUNCS:
        ref = fn(img, k, mode="valid")
        assert rel_err(fn(x, k, mode="valid").compute(), ref) < 1e-10


def test_non_finite_stays_local_as_in_memory():
    img = np.random.default_rng(9).standard_normal((64, 64))
    img[10, 40] = np.nan
    x = da.from_array(img, chunks=20)
    k = np.random.default_rng(10).standard_normal((15, 15))
    ref = convolve2d(img, k)
    got = convolve2d(x, k).compute()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    assert np.isnan(got).sum() == 15 * 15  # one NaN spreads over the kernel's footprint only
    assert rel_err(np.nan_to_num(got), np.nan_to_num(ref)) < 1e-10


def test_lazy_nothing_computed_until_compute():
    calls = []

    def source(block):
        calls.append(block.shape)
        return block

    img = np.random.default_rng(11).standard_normal((40, 30))
    x = da.from_array(img, chunks=10).map_blocks(source, dtype=img.dtype, meta=np.empty((0, 0)))
    y = convolve2d(x, np.ones((5, 5)), mode="full", boundary="reflect")
    assert is_dask_array(y) and calls == []
    assert y.shape == (44, 34)
    got = y.compute()
    assert calls  # the chunks were read only now
    assert rel_err(got, convolve2d(img, np.ones((5, 5)), mode="full", boundary="reflect")) < 1e-10


def test_bad_arguments_fail_before_any_graph_runs():
    x = da.zeros((20, 20), chunks=5)
    with pytest.raises(ArgumentError, match="mode must be one of"):
        convolve2d(x, np.ones((3, 3)), mode="sideways")
    with pytest.raises(ArgumentError, match="boundary must be one of"):
        convolve2d(x, np.ones((3, 3)), boundary="mirror")
    with pytest.raises(ArgumentError, match="method must be one of"):
        convolve2d(x, np.ones((3, 3)), method="magic")
    with pytest.raises(ArgumentError, match="kernel must be"):
        convolve2d(da.zeros((3, 20, 20), chunks=5), np.ones((2, 3, 3)))
    with pytest.raises(ArgumentError, match="image must be of shape"):
        convolve2d(da.zeros((20,), chunks=5), np.ones((3, 3)))
    with pytest.raises(ArgumentTypeError, match="kernel must be"):
        convolve2d(x, "laplacian")


def test_axis_plan_output_sizes():
    for chunks in ((4, 4, 2), (1, 1, 1, 9), (10,), (3, 3, 3, 3, 3)):
        n = sum(chunks)
        for k in (1, 2, 5, 12):
            for lo, hi in ((k - 1, k - 1), ((k - 1) // 2, k // 2), (0, 0)):
                if n + lo + hi < k:
                    continue
                out, padded, (a, b) = axis_plan(chunks, k, lo, hi)
                assert sum(out) == n + lo + hi - k + 1
                assert sum(padded) == n + lo + hi and a + b == k - 1
                assert len(out) == 1 or min(out) >= max(a, b, 1)


def test_numpy_and_torch_inputs_do_not_touch_dask():
    assert not is_dask_array(np.ones(3)) and not is_dask_array(torch.ones(3))


# --------------------------------------------------------------------------------------
# the CLI


def _read_zarr(path):
    zarr = pytest.importorskip("zarr")
    return zarr.open_array(str(path), mode="r")[...]


def test_cli_npy_memmapped(tmp_path, capsys):
    img = np.random.default_rng(12).standard_normal((70, 50)).astype(np.float32)
    np.save(tmp_path / "big.npy", img)
    out = tmp_path / "out"
    rc = main(["conv", str(tmp_path / "big.npy"), "--chunks", "16", "--kernel", "gaussian:9", "--kernel",
               "sobel_x", "--mode", "full", "--boundary", "symmetric", "--out", str(out), "--quiet"])
    assert rc == 0
    assert "wrote 2 files" in capsys.readouterr().out
    for spec in ("gaussian:9", "sobel_x"):
        got = _read_zarr(out / f"featuremap_{spec.replace(':', '_')}.zarr")
        ref = convolve2d(img, kernel_from_spec(spec).numpy(), mode="full", boundary="symmetric")
        assert got.dtype == np.float32 and got.shape == ref.shape
        assert rel_err(got, ref) < 1e-4
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporaries left
    # run again over the existing output: replaced, not mixed
    assert main(["conv", str(tmp_path / "big.npy"), "--chunks", "32", "--kernel", "sobel_x", "--out", str(out), "--quiet"]) == 0
    assert _read_zarr(out / "featuremap_sobel_x.zarr").shape == img.shape


def test_cli_zarr_channels(tmp_path):
    zarr = pytest.importorskip("zarr")
    img = np.random.default_rng(13).standard_normal((2, 40, 30)).astype(np.float32)
    z = zarr.open_array(str(tmp_path / "big.zarr"), mode="w", shape=img.shape, chunks=(1, 16, 16), dtype="f4")
    z[...] = img
    out = tmp_path / "out"
    assert main(["conv", str(tmp_path / "big.zarr"), "--chunks", "12", "--boundary", "reflect", "--out", str(out), "--quiet"]) == 0
    got = _read_zarr(out / "featuremap_laplacian8.zarr")
    assert rel_err(got, convolve2d(img, kernel_from_spec("laplacian8").numpy(), boundary="reflect")) < 1e-4


def test_cli_chunks_errors(tmp_path, capsys):
    np.save(tmp_path / "a.npy", np.zeros((8, 8), np.float32))
    (tmp_path / "a.png").write_bytes(b"")
    pytest.importorskip("zarr").open_group(str(tmp_path / "group.zarr"), mode="w")
    cases = [
        (["conv", str(tmp_path / "a.npy"), "--chunks", "0"], "--chunks must be an integer >= 1"),
        (["conv", str(tmp_path / "a.png"), "--chunks", "4"], "a .npy file or a .zarr folder"),
        (["conv", str(tmp_path / "missing.npy"), "--chunks", "4"], "existing .npy file"),
        (["conv", str(tmp_path / "a.npy"), "--chunks", "4", "--pool", "max:2"], "do not apply"),
        (["conv", str(tmp_path / "group.zarr"), "--chunks", "4"], "must be a zarr array"),
    ]
    for argv, message in cases:
        assert main([*argv, "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("missing", ["dask.array", "zarr"])
def test_cli_without_scale_extra_says_what_to_install(tmp_path, capsys, monkeypatch, missing):
    np.save(tmp_path / "a.npy", np.zeros((8, 8), np.float32))
    monkeypatch.setitem(sys.modules, missing, None)  # `import missing` now raises ImportError
    assert main(["conv", str(tmp_path / "a.npy"), "--chunks", "4", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install -e '.[scale]'" in err and missing in err


# --------------------------------------------------------------------------------------
# a real cluster: two worker processes


@pytest.mark.xdist_group(name="dask_cluster")
def test_distributed_local_cluster_two_processes():
    distributed = pytest.importorskip("distributed")
    rng = np.random.default_rng(14)
    img = rng.standard_normal((120, 90)).astype(np.float32)
    k = rng.standard_normal((9, 9)).astype(np.float32)
    x = da.from_array(img, chunks=(50, 40))
    y = convolve2d(x, k, mode="same", boundary="reflect")
    t0 = time.perf_counter()
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None, memory_limit="1GiB"
    ) as cluster, distributed.Client(cluster) as client:
        got = client.compute(y).result()
        pids = set(client.run(os.getpid).values())
    assert len(pids) == 2 and os.getpid() not in pids  # two separate worker processes
    assert rel_err(got, convolve2d(img, k, mode="same", boundary="reflect")) < 1e-4
    assert time.perf_counter() - t0 < 120


def test_convscope_works_without_dask(tmp_path):
    # dask stays optional: with it unimportable, the package, the numpy path and the CLI all work
    import subprocess

    code = (
        "import sys; sys.modules['dask'] = None; sys.modules['zarr'] = None\n"
        "import numpy as np, convscope\n"
        "from convscope.conv import convolve2d\n"
        "assert convolve2d(np.ones((5, 5)), np.ones((3, 3)))[2, 2] == 9\n"
        "from convscope.cli import main\n"
        f"np.save({str(tmp_path / 'a.npy')!r}, np.zeros((8, 8)))\n"
        f"sys.exit(main(['conv', {str(tmp_path / 'a.npy')!r}, '--chunks', '4', '--out', {str(tmp_path)!r}]))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2, r.stderr
    assert "pip install -e '.[scale]'" in r.stderr and "Traceback" not in r.stderr


def test_a_chunking_that_would_take_minutes_is_refused_with_a_fast_one_named(tmp_path, capsys):
    from convscope._checks import ResourceError
    from convscope.cli import main
    from convscope.experiments.feature_maps import chunked_feature_maps

    p = tmp_path / "img.npy"
    np.save(p, np.random.default_rng(0).random((256, 256)))
    with pytest.raises(ResourceError, match=r"chunks must be larger: 1 cuts the 256x256 image into 65,536 chunks"):
        chunked_feature_maps(p, chunks=1)
    with pytest.raises(ResourceError, match="chunks=16 takes about"):
        chunked_feature_maps(p, chunks=2)
    assert chunked_feature_maps(p, chunks=64).maps[0].shape == (256, 256)  # no estimate refuses this
    assert chunked_feature_maps(p, chunks=1, max_seconds=None).maps[0].numblocks == (256, 256)  # lazily allowed
    assert main(["conv", str(p), "--chunks", "1", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "chunks must be larger" in err

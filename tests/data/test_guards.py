"""Hostile data files are refused before anything large is built."""

from __future__ import annotations

import gzip
import pickle
import time

import numpy as np
import pytest

from convscope._checks import DataError, ResourceError, check_alloc, memory_limit, parse_bytes
from convscope.data import load_dataset
from convscope.data.cifar import safe_unpickle
from convscope.data.mnist import read_idx


class TestMemoryGuard:
    def test_limit_from_env(self, monkeypatch):
        monkeypatch.setenv("CONVSCOPE_MAX_MEMORY", "3M")
        assert memory_limit() == 3 * 2**20
        monkeypatch.delenv("CONVSCOPE_MAX_MEMORY")
        assert 0 < memory_limit() < 2**62

    def test_parse_bytes(self):
        assert parse_bytes("2G") == 2 * 2**30 and parse_bytes("10") == 10 and parse_bytes("1.5KiB") == 1536
        with pytest.raises(ValueError, match="CONVSCOPE_MAX_MEMORY must be a positive number"):
            parse_bytes("lots")

    def test_check_alloc_refuses_above_limit_without_overflow(self, monkeypatch):
        monkeypatch.setenv("CONVSCOPE_MAX_MEMORY", "1M")
        assert check_alloc("x", (256, 512), "float64") == 2**20
        with pytest.raises(ResourceError, match=r"x would need .* above the memory limit of 1.0 MiB"):
            check_alloc("x", (256, 513), "float64")
        with pytest.raises(ResourceError):  # big Python ints: no overflow, no allocation
            check_alloc("x", (10**12, 10**12), "uint8")


class _Bomb:
    """Pickles to numpy.ndarray((10**6, 10**6), uint8): 931 GiB declared in a few bytes."""

    def __reduce__(self):
        return (np.ndarray, ((10**6, 10**6), np.dtype("uint8")))


class TestCifar:
    def test_declared_giant_array_refused_before_allocating(self):
        data = pickle.dumps({b"data": _Bomb(), b"labels": [0]}, protocol=2)
        t = time.perf_counter()
        with pytest.raises(DataError, match=r"declares an array of shape \(1000000, 1000000\).*10000x3072"):
            safe_unpickle(data, name="data_batch_1")
        assert time.perf_counter() - t < 1.0

    def test_genuine_batch_still_reads(self):
        d = {b"data": np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072), b"labels": [3, 4]}
        out = safe_unpickle(pickle.dumps(d, protocol=2))
        np.testing.assert_array_equal(out[b"data"], d[b"data"])


class TestNpz:
    def test_one_huge_label_gives_the_classes_present(self, tmp_path):
        x = np.zeros((6, 4, 4), np.uint8)
        y = np.array([0, 0, 5, 5, 10**9, 10**9])
        np.savez(tmp_path / "d.npz", x=x, y=y)
        t = time.perf_counter()
        ds = load_dataset(tmp_path / "d.npz", split="all")
        assert time.perf_counter() - t < 5.0
        assert ds.classes == ["0", "5", "1000000000"]
        assert ds.y.tolist() == [0, 0, 1, 1, 2, 2]

    def test_small_label_range_is_dense(self, tmp_path):
        np.savez(tmp_path / "d.npz", x=np.zeros((2, 4, 4), np.uint8), y=np.array([0, 3]))
        assert load_dataset(tmp_path / "d.npz", split="all").classes == ["0", "1", "2", "3"]

    def test_compressed_giant_array_refused_before_inflating(self, tmp_path, monkeypatch):
        monkeypatch.setenv("CONVSCOPE_MAX_MEMORY", "1M")
        np.savez_compressed(tmp_path / "z.npz", x=np.zeros((80, 128, 128), np.uint8), y=np.zeros(80, np.int64))
        with pytest.raises(ResourceError, match="array 'x'"):
            load_dataset(tmp_path / "z.npz")


def _idx_header(shape) -> bytes:
    return bytes([0, 0, 8, len(shape)]) + b"".join(int(d).to_bytes(4, "big") for d in shape)


class TestIdx:
    def test_gz_header_declaring_more_than_the_stream_holds(self, tmp_path):
        p = tmp_path / "train-images-idx3-ubyte.gz"
        p.write_bytes(gzip.compress(_idx_header((100_000, 300, 300)) + bytes(1000)))
        with pytest.raises(DataError, match=r"declares .* but the gzip trailer says"):
            read_idx(p)

    def test_gz_bomb_read_with_a_bound(self, tmp_path, monkeypatch):
        # a header that tells the truth about a huge body: refused by the memory limit, not inflated
        monkeypatch.setenv("CONVSCOPE_MAX_MEMORY", "1M")
        p = tmp_path / "train-images-idx3-ubyte.gz"
        with gzip.open(p, "wb") as f:
            f.write(_idx_header((50, 200, 200)))
            f.write(bytes(50 * 200 * 200))
        with pytest.raises(ResourceError, match="idx file"):
            read_idx(p)

    def test_trailing_bytes_found_without_reading_them_all(self, tmp_path):
        p = tmp_path / "t10k-labels-idx1-ubyte.gz"
        p.write_bytes(gzip.compress(_idx_header((3,)) + bytes([1, 2, 3]) + bytes(10_000_000)))
        with pytest.raises(DataError, match=r"declares|trailing"):
            read_idx(p)

    def test_plain_idx_reads(self, tmp_path):
        p = tmp_path / "t10k-labels-idx1-ubyte"
        p.write_bytes(_idx_header((3,)) + bytes([1, 2, 3]))
        assert read_idx(p).tolist() == [1, 2, 3]
        p.write_bytes(_idx_header((3,)) + bytes([1, 2]))
        with pytest.raises(DataError, match="truncated"):
            read_idx(p)

"""convscope.data: every source, the splits, the transforms, and malformed files."""

from __future__ import annotations

import gzip
import pickle
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from convscope.data import load_dataset, split_indices
from convscope.data import transforms as T
from convscope.data.cifar import read_batch, safe_unpickle
from convscope.data.mnist import load_mnist_5k, read_idx
from helpers import cifar_batch, write_cifar_dir

# ---------------------------------------------------------------- helpers writing standard files


def idx_bytes(arr: np.ndarray) -> bytes:
    arr = np.asarray(arr, dtype=np.uint8)
    head = struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + b"".join(struct.pack(">I", d) for d in arr.shape)
    return head + arr.tobytes()


def write_mnist_dir(d, x_tr, y_tr, x_te, y_te, gz: bool):
    d.mkdir(parents=True, exist_ok=True)
    names = {"train-images-idx3-ubyte": x_tr, "train-labels-idx1-ubyte": y_tr,
             "t10k-images-idx3-ubyte": x_te, "t10k-labels-idx1-ubyte": y_te}
    for name, a in names.items():
        data = idx_bytes(a)
        if gz:
            (d / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (d / name).write_bytes(data)
    return d


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned",))


@pytest.fixture(scope="module")
def small_mnist():
    x, y = load_mnist_5k()
    return np.array(x[:60]), np.array(y[:60]), np.array(x[60:80]), np.array(y[60:80])


# ---------------------------------------------------------------- named sources


class TestNamedSources:
    def test_mnist_5k_is_500_per_class_28x28(self):
        x, y = load_mnist_5k()
        assert x.shape == (5000, 28, 28) and x.dtype == np.uint8
        assert np.bincount(y).tolist() == [500] * 10
        # same numbers as an independent reader of the shipped file (csv module, first rows)
        import csv
        import itertools

        from convscope.data.mnist import mnist_5k_path

        with gzip.open(mnist_5k_path(), "rt") as f:
            rows = [list(map(int, r)) for r in itertools.islice(csv.reader(f), 50)]
        ref = np.array(rows)
        assert np.array_equal(ref[:, :784].reshape(-1, 28, 28), x[:50]) and np.array_equal(ref[:, 784], y[:50])

    def test_mnist_5k_dataset(self):
        ds = load_dataset("mnist-5k", split="test", normalize=None)
        x, y = ds.tensors()
        assert ds.image_shape == (1, 28, 28) and ds.classes == [str(i) for i in range(10)]
        assert x.dtype == torch.float32 and y.dtype == torch.int64
        assert len(ds) == 1000 and float(x.min()) == 0.0 and float(x.max()) == 1.0
        img, lab = ds[3]
        assert img.shape == (1, 28, 28) and lab.dtype == torch.int64

    def test_digits(self):
        ds = load_dataset("digits", split="all")
        assert len(ds) == 1797 and ds.image_shape == (1, 8, 8) and ds.source == "digits"

    def test_unknown_source(self):
        with pytest.raises(ValueError, match="source must be 'digits', 'mnist-5k'"):
            load_dataset("imagenet-22k")

    def test_bad_split_and_normalize(self):
        with pytest.raises(ValueError, match="split must be one of 'train', 'val', 'test', 'all'"):
            load_dataset("digits", split="holdout")
        with pytest.raises(ValueError, match="normalize must be one of 'gan', 'standard', 'none'"):
            load_dataset("digits", normalize="zscore")
        with pytest.raises(ValueError, match="val_fraction \\+ test_fraction must be < 1"):
            load_dataset("digits", val_fraction=0.5, test_fraction=0.6)


# ---------------------------------------------------------------- splits and transforms


class TestSplits:
    def test_disjoint_cover_and_stratified(self):
        y = np.repeat(np.arange(10), 50)
        s = split_indices(y, val_fraction=0.1, test_fraction=0.2, seed=3)
        allidx = np.concatenate([s["train"], s["val"], s["test"]])
        assert np.array_equal(np.sort(allidx), np.arange(500))
        assert np.bincount(y[s["test"]]).tolist() == [10] * 10
        assert np.bincount(y[s["val"]]).tolist() == [5] * 10

    def test_deterministic_by_seed(self):
        y = np.repeat(np.arange(3), 30)
        a = split_indices(y, val_fraction=0.1, test_fraction=0.2, seed=1)
        b = split_indices(y, val_fraction=0.1, test_fraction=0.2, seed=1)
        c = split_indices(y, val_fraction=0.1, test_fraction=0.2, seed=2)
        assert all(np.array_equal(a[k], b[k]) for k in a)
        assert not np.array_equal(a["test"], c["test"])

    def test_dataset_splits_are_the_split_indices(self):
        x_all, y_all = load_dataset("digits", split="all").tensors()
        idx = split_indices(y_all.numpy(), val_fraction=0.1, test_fraction=0.2, seed=5)
        for name in ("train", "val", "test"):
            x, y = load_dataset("digits", split=name, seed=5).tensors()
            assert torch.equal(x, x_all[idx[name]]) and torch.equal(y, y_all[idx[name]])
        assert sum(len(v) for v in idx.values()) == 1797

    def test_standard_uses_train_statistics_for_every_split(self):
        tr = load_dataset("digits", split="train", normalize="standard")
        te = load_dataset("digits", split="test", normalize="standard")
        assert tr.mean == te.mean and tr.std == te.std
        x = tr.tensors()[0]
        assert abs(float(x.mean())) < 1e-5 and abs(float(x.std()) - 1) < 1e-3

    def test_gan_range(self):
        x = load_dataset("digits", split="val", normalize="gan").tensors()[0]
        assert float(x.min()) == -1.0 and float(x.max()) == 1.0


class TestTransforms:
    def test_mnist_28_to_32_for_the_dcgan(self):
        ds = load_dataset("mnist-5k", split="val", image_size=32, normalize="gan", channels=3)
        assert ds.image_shape == (3, 32, 32)
        x = ds.tensors()[0]
        assert float(x.min()) >= -1.0 and float(x.max()) <= 1.0
        assert torch.equal(x[:, 0], x[:, 2])  # grey repeated into RGB

    def test_resize_against_pillow_like_mean(self):
        x = torch.rand(3, 1, 28, 28, dtype=torch.float64)
        up = T.resize(x, 32)
        assert up.shape == (3, 1, 32, 32) and abs(float(up.mean() - x.mean())) < 1e-2
        down = T.resize(x, 14)
        # antialiased 2x shrink of a constant image stays constant
        c = torch.full((1, 1, 28, 28), 0.3)
        assert torch.allclose(T.resize(c, 14), torch.full((1, 1, 14, 14), 0.3))
        assert down.shape == (3, 1, 14, 14)

    def test_pad_and_channels(self):
        x = torch.rand(2, 3, 5, 5)
        p = T.pad(x, 2)
        assert p.shape == (2, 3, 9, 9) and float(p[..., 0, :].abs().max()) == 0.0
        g = T.to_channels(x, 1)
        ref = 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]
        assert torch.allclose(g[:, 0], ref)
        with pytest.raises(ValueError, match="channels must be 1, 3 or None"):
            T.to_channels(x, 2)

    def test_normalize_inverse(self):
        x = torch.rand(2, 3, 4, 4)
        m, s = T.channel_stats(x)
        for kind in ("gan", "standard", None):
            assert torch.allclose(T.denormalize(T.normalize(x, kind, m, s), kind, m, s), x, atol=1e-6)

    def test_pad_option_in_load_dataset(self):
        ds = load_dataset("mnist-5k", split="val", pad=2, normalize=None)
        assert ds.image_shape == (1, 32, 32)


# ---------------------------------------------------------------- MNIST idx


class TestMnistIdx:
    @pytest.mark.parametrize("gz", [False, True])
    def test_reads_standard_folder(self, tmp_path, small_mnist, gz):
        d = write_mnist_dir(tmp_path / "mnist", *small_mnist, gz=gz)
        te = load_dataset(d, split="test", normalize=None)
        assert len(te) == 20 and te.image_shape == (1, 28, 28)
        assert np.array_equal((te.tensors()[0][:, 0].numpy() * 255).round().astype(np.uint8), small_mnist[2])
        tr = load_dataset(d, split="train", val_fraction=0.0)
        assert len(tr) == 60
        assert load_dataset(d, split="all").tensors()[0].shape[0] == 80

    def test_fashion_names(self, tmp_path, small_mnist):
        d = write_mnist_dir(tmp_path / "fashion-mnist", *small_mnist, gz=True)
        assert load_dataset(d, split="test").classes[0] == "T-shirt/top"

    def test_wrong_magic(self, tmp_path):
        p = tmp_path / "train-images-idx3-ubyte"
        p.write_bytes(b"\x12\x34\x08\x03" + b"\x00" * 20)
        with pytest.raises(ValueError, match=r"train-images-idx3-ubyte has a wrong magic number 0x12340803"):
            read_idx(p)

    def test_labels_file_where_images_expected(self, tmp_path, small_mnist):
        x, y, xt, yt = small_mnist
        d = write_mnist_dir(tmp_path / "m", x, y, xt, yt, gz=False)
        (d / "train-images-idx3-ubyte").write_bytes(idx_bytes(y))
        with pytest.raises(ValueError, match=r"has magic number 0x00000801, expected 0x00000803"):
            load_dataset(d)

    def test_truncated(self, tmp_path, small_mnist):
        d = write_mnist_dir(tmp_path / "m", *small_mnist, gz=False)
        p = d / "t10k-images-idx3-ubyte"
        p.write_bytes(p.read_bytes()[:-100])
        with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte is truncated: header says \(20, 28, 28\)"):
            load_dataset(d, split="test")

    def test_truncated_gzip(self, tmp_path, small_mnist):
        d = write_mnist_dir(tmp_path / "m", *small_mnist, gz=True)
        p = d / "train-images-idx3-ubyte.gz"
        p.write_bytes(p.read_bytes()[:200])
        with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.gz is truncated"):
            load_dataset(d)

    def test_count_mismatch(self, tmp_path, small_mnist):
        x, y, xt, yt = small_mnist
        d = write_mnist_dir(tmp_path / "m", x, y[:-1], xt, yt, gz=False)
        with pytest.raises(ValueError, match=r"label count 59 in .*train-labels-idx1-ubyte does not match image count 60"):
            load_dataset(d)

    def test_missing_file(self, tmp_path, small_mnist):
        d = write_mnist_dir(tmp_path / "m", *small_mnist, gz=False)
        (d / "t10k-labels-idx1-ubyte").unlink()
        with pytest.raises(ValueError, match=r"lacks the idx file\(s\) test-labels"):
            load_dataset(d)


# ---------------------------------------------------------------- CIFAR-10


class TestCifar:
    def test_reads_batches(self, tmp_path):
        d = write_cifar_dir(tmp_path / "cifar-10-batches-py")
        tr = load_dataset(tmp_path, split="train", val_fraction=0.0, normalize=None)  # parent folder works too
        assert len(tr) == 30 and tr.image_shape == (3, 32, 32) and tr.classes[1] == "automobile"
        te = load_dataset(d, split="test", normalize=None)
        b = cifar_batch(6, 9)
        ref = b[b"data"].reshape(6, 3, 32, 32)
        assert np.array_equal((te.tensors()[0].numpy() * 255).round().astype(np.uint8), ref)
        assert te.tensors()[1].tolist() == b[b"labels"]

    def test_numpy1_module_path_is_admitted(self):
        # genuine CIFAR files name numpy.core.multiarray._reconstruct
        arr = np.arange(6, dtype=np.uint8)
        data = pickle.dumps({b"data": arr}, protocol=2).replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
        assert np.array_equal(safe_unpickle(data)[b"data"], arr)

    def test_malicious_pickle_rejected(self, tmp_path):
        d = write_cifar_dir(tmp_path / "c")
        evil = {b"data": np.zeros((1, 3072), np.uint8), b"labels": [0], b"x": _Evil()}
        (d / "data_batch_3").write_bytes(pickle.dumps(evil, protocol=2))
        with pytest.raises(ValueError, match=r"data_batch_3 is rejected: it asks for the global (posix|nt|os)\.system"):
            load_dataset(d)

    def test_wrong_contents(self, tmp_path):
        p = tmp_path / "data_batch_1"
        p.write_bytes(pickle.dumps({b"data": np.zeros((2, 10), np.uint8), b"labels": [0, 1]}))
        with pytest.raises(ValueError, match=r"'data' must be a uint8 array of shape \(N, 3072\)"):
            read_batch(p)

    def test_count_mismatch(self, tmp_path):
        p = tmp_path / "data_batch_1"
        p.write_bytes(pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}))
        with pytest.raises(ValueError, match=r"label count 1 does not match image count 2"):
            read_batch(p)

    def test_truncated(self, tmp_path):
        d = write_cifar_dir(tmp_path / "c")
        p = d / "test_batch"
        p.write_bytes(p.read_bytes()[:500])
        with pytest.raises(ValueError, match=r"test_batch is corrupt or truncated"):
            load_dataset(d, split="test")


# ---------------------------------------------------------------- image folders and npz


def write_folder(root, sizes=((8, 8),) * 3, mode="L"):
    rng = np.random.default_rng(0)
    for c in ("cat", "dog"):
        (root / c).mkdir(parents=True)
        for i, (h, w) in enumerate(sizes):
            a = rng.integers(0, 256, (h, w) if mode == "L" else (h, w, 3), dtype=np.uint8)
            Image.fromarray(a).save(root / c / f"{i}.png")
    return root


class TestFolders:
    def test_reads_classes(self, tmp_path):
        root = write_folder(tmp_path / "imgs")
        ds = load_dataset(root, split="all", normalize=None)
        assert ds.classes == ["cat", "dog"] and len(ds) == 6 and ds.image_shape == (1, 8, 8)
        ref = np.asarray(Image.open(root / "dog" / "1.png"), dtype=np.float32) / 255
        assert np.allclose(ds.tensors()[0][4, 0].numpy(), ref)
        assert ds.tensors()[1].tolist() == [0, 0, 0, 1, 1, 1]

    def test_rgb_and_resize(self, tmp_path):
        root = write_folder(tmp_path / "imgs", sizes=((8, 8), (10, 12), (8, 8)), mode="RGB")
        with pytest.raises(ValueError, match="have different sizes"):
            load_dataset(root, split="all")
        ds = load_dataset(root, split="all", image_size=16)
        assert ds.image_shape == (3, 16, 16)

    def test_empty_folder(self, tmp_path):
        (tmp_path / "empty" / "cat").mkdir(parents=True)
        with pytest.raises(ValueError, match=r"image folder .*empty is empty: expected one subfolder per class"):
            load_dataset(tmp_path / "empty")

    def test_unreadable_image(self, tmp_path):
        root = write_folder(tmp_path / "imgs")
        (root / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
        with pytest.raises(ValueError, match=r"image .*broken.png could not be read"):
            load_dataset(root, split="all")

    def test_decompression_bomb_guard(self, tmp_path, monkeypatch):
        import convscope.data.images as images

        root = write_folder(tmp_path / "imgs")
        monkeypatch.setattr(images, "MAX_IMAGE_PIXELS", 10)
        with pytest.raises(ValueError, match="decompression-bomb guard"):
            load_dataset(root, split="all", channels=1)


class TestNpz:
    def test_reads_x_y_and_optional_test(self, tmp_path):
        rng = np.random.default_rng(0)
        x = rng.integers(0, 256, (40, 6, 6, 3), dtype=np.uint8)  # (N, H, W, C)
        y = np.repeat(np.arange(4), 10)
        p = tmp_path / "d.npz"
        np.savez(p, x=x, y=y, x_test=x[:8], y_test=y[:8], classes=np.array(["a", "b", "c", "d"]))
        te = load_dataset(p, split="test", normalize=None)
        assert te.image_shape == (3, 6, 6) and te.classes == ["a", "b", "c", "d"] and len(te) == 8
        assert np.allclose(te.tensors()[0][0].numpy(), x[0].transpose(2, 0, 1) / 255)

    def test_object_arrays_refused(self, tmp_path):
        p = tmp_path / "bad.npz"
        np.savez(p, x=np.array([object()], dtype=object), y=np.zeros(1, int))
        with pytest.raises(ValueError, match="could not be read without pickle"):
            load_dataset(p)

    def test_missing_key_and_mismatch(self, tmp_path):
        p = tmp_path / "a.npz"
        np.savez(p, x=np.zeros((3, 4, 4)))
        with pytest.raises(ValueError, match="must contain arrays 'x' and 'y'"):
            load_dataset(p)
        np.savez(p, x=np.zeros((3, 4, 4)), y=np.zeros(2, int))
        with pytest.raises(ValueError, match=r"label count 2 \('y'\) does not match image count 3"):
            load_dataset(p)

    def test_truncated(self, tmp_path):
        p = tmp_path / "t.npz"
        np.savez(p, x=np.zeros((30, 4, 4)), y=np.zeros(30, int))
        p.write_bytes(p.read_bytes()[:100])
        with pytest.raises(ValueError, match=r"t.npz is corrupt or truncated"):
            load_dataset(p)

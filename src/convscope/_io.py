"""Atomic file writing: temporary file in the same folder, fsync, rename.

A crash (even SIGKILL) mid-write leaves the previous file intact.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_text", "atomic_save", "display_name", "json_safe",
           "make_folder"]


def _umask() -> int:
    """The process umask (read once: ``os.umask`` can only be read by setting it)."""
    um = os.umask(0o022)
    os.umask(um)
    return um


_UMASK = _umask()


def _file_mode(path: Path) -> int:
    """What ``open(path, "w")`` would give: the existing file's mode, else 0o666 less the umask
    (``mkstemp`` makes its files 0o600, which would leave outputs unreadable to anyone else)."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return 0o666 & ~_UMASK


def make_folder(folder: str | os.PathLike) -> Path:
    """``folder`` and its parents, or an error naming the file that stands where a folder must be
    (``mkdir`` says only "[Errno 17] File exists", naming neither). Returns the folder."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), folder)
        raise NotADirectoryError(errno.ENOTDIR, f"{folder} must be a folder, but {blocker} is a file") from None
    return folder


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Context manager yielding a file object; the file appears only on success, with the
    permissions a plain ``open`` would have given it."""
    path = Path(path)
    make_folder(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            with contextlib.suppress(OSError):
                os.fchmod(f.fileno(), _file_mode(path))
            os.fsync(f.fileno())
        os.replace(tmp, path)
        with contextlib.suppress(OSError):  # persist the rename itself
            dfd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_write(path, "wb") as f:
        f.write(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    with atomic_write(path, "w") as f:
        f.write(text)
    return Path(path)


def atomic_save(path: str | os.PathLike, writer: Callable[[IO], None]) -> Path:
    """Call ``writer(fileobj)`` (e.g. ``lambda f: torch.save(obj, f)``) atomically."""
    with atomic_write(path, "wb") as f:
        writer(f)
    return Path(path)

def display_name(name: object) -> str:
    """A file name fit for a title or a message: bytes that are not valid UTF-8 become U+FFFD.

    Python keeps such bytes of ``sys.argv`` as lone surrogates, which text renderers
    (matplotlib, a UTF-8 terminal) refuse.
    """
    s = os.fsdecode(name) if isinstance(name, bytes | os.PathLike) else str(name)
    try:
        raw = s.encode("utf-8", "surrogateescape")  # the original bytes, where they came from argv
    except UnicodeEncodeError:
        raw = s.encode("utf-8", "replace")  # other lone surrogates
    return raw.decode("utf-8", "replace")


def json_safe(obj):
    """``obj`` with NaN/Inf as ``None`` and numpy/torch scalars as Python numbers, for strict JSON.

    ``json.dumps`` writes NaN as the invalid token ``NaN`` (and its ``default`` hook never sees
    floats), so clean first and dump with ``allow_nan=False``.

    >>> json_safe({"a": float("nan"), "b": [1.5, float("inf")], "c": (2,)})
    {'a': None, 'b': [1.5, None], 'c': [2]}
    """
    import math

    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if hasattr(obj, "item") and getattr(obj, "ndim", 1) == 0:  # numpy / torch scalars
        obj = obj.item()
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, int | str | bool) or obj is None:
        return obj
    if hasattr(obj, "tolist"):
        return json_safe(obj.tolist())
    return str(obj)

"""Arrays larger than memory: open a memory-mapped ``.npy`` or a zarr array as a lazy dask
array, and write a dask array to zarr atomically. Needs the ``scale`` extra
(``pip install -e '.[scale]'``); importing this module without it is fine, calling it is not.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .._checks import ArgumentError, check_regular_file, unreadable

__all__ = ["SCALE_HINT", "require_scale", "open_chunked", "save_zarr"]

SCALE_HINT = "pip install -e '.[scale]'"


def require_scale(what: str = "this") -> None:
    """Raise a one-line :class:`ArgumentError` saying what to install when dask or zarr is missing."""
    try:
        import dask.array  # noqa: F401
        import zarr  # noqa: F401
    except ImportError as e:
        missing = e.name or "a module"
        raise ArgumentError(f"{what} needs dask and zarr ({missing} is missing): {SCALE_HINT}") from None


def open_chunked(path: str | os.PathLike, chunks: int):
    """A memory-mapped ``.npy`` or a zarr array as a dask array in ``chunks x chunks`` tiles.

    Nothing is read until the result is computed. Leading axes are kept in ones
    (batch) or whole (channels): ``(H, W)``, ``(C, H, W)`` or ``(B, C, H, W)``.
    """
    require_scale("a chunked image")
    import dask.array as da

    path = Path(path)
    if not path.exists():
        raise ArgumentError(f"image must be an existing .npy file or .zarr folder, got {str(path)!r}")
    if path.suffix.lower() == ".npy":
        check_regular_file("image", path)  # a named pipe would block np.load for ever
        try:
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
        except ValueError as e:  # a pickled object array, or a damaged header
            raise unreadable("image", repr(str(path)), "is not a plain .npy array", e) from None
    elif path.suffix.lower() == ".zarr":
        import zarr

        try:
            arr = zarr.open_array(str(path), mode="r")
        except Exception as e:  # a group, or not zarr at all: zarr's error types vary across versions
            raise ArgumentError(f"image must be a zarr array (not a group), got {str(path)!r}: {type(e).__name__}") from None
    else:
        raise ArgumentError(f"image must be a .npy file or a .zarr folder with --chunks, got {str(path)!r}")
    if arr.ndim not in (2, 3, 4) or arr.dtype.kind not in "biuf":
        raise ArgumentError(f"image must be a real (H, W), (C, H, W) or (B, C, H, W) array, "
                            f"got shape {arr.shape} dtype {arr.dtype}")
    lead = tuple(-1 if i == arr.ndim - 3 else 1 for i in range(arr.ndim - 2))  # batch in ones, channels whole
    return da.from_array(arr, chunks=(*lead, chunks, chunks), asarray=False)


def save_zarr(array, final: str | os.PathLike, *, progress: Callable[[int], object] | None = None) -> Path:
    """Compute ``array`` chunk by chunk into ``final`` (a ``.zarr`` folder), atomically.

    The result goes to a temporary folder beside ``final`` and is renamed over it at the
    end, so an interrupted run never leaves a half-written array under the final name.
    ``progress(total)`` returns a bar with ``update(n)`` and ``close()`` (e.g. tqdm).
    """
    from dask.callbacks import Callback

    final = Path(final)

    class _Bar(Callback):
        def _start_state(self, dsk, state):
            total = sum(len(state[k]) for k in ("ready", "waiting", "running", "finished"))
            self.bar = progress(total) if progress else None

        def _posttask(self, key, result, dsk, state, worker_id):
            if self.bar is not None:
                self.bar.update(1)

        def _finish(self, dsk, state, errored):
            if self.bar is not None:
                self.bar.close()

    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")  # same folder: the rename is atomic
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        with _Bar():
            array.to_zarr(str(tmp), overwrite=True)
        old = None
        if final.exists():
            old = final.with_name(f".{final.name}.old-{os.getpid()}")
            os.replace(final, old)
        os.replace(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final

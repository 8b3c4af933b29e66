"""Small helpers shared by the experiments and their ``save_*`` functions."""

from __future__ import annotations

import functools
import json
import os
import random
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_save, atomic_write_text, json_safe, make_folder

Progress = Callable[[Iterable], Iterable] | None


def out_folder(out_dir: str | os.PathLike) -> Path:
    d = Path(out_dir)
    make_folder(d)
    return d


def save_npy(path: Path, arr, written: list[Path]) -> Path:
    atomic_save(path, lambda f: np.save(f, np.asarray(arr)))
    written.append(path)
    return path


def save_json(path: Path, obj: Any, written: list[Path], **kw) -> Path:
    atomic_write_text(path, json.dumps(json_safe(obj), indent=2, allow_nan=False, **kw) + "\n")
    written.append(path)
    return path


def as_image(image) -> np.ndarray:
    """An image (a path, a bundled name or an array) as a float64 array."""
    if isinstance(image, str | os.PathLike):
        from ..data.images import load_image

        image = load_image(image)
    return np.asarray(image, dtype=np.float64)


def named_kernel(spec) -> tuple[str, np.ndarray]:
    """``(name, (kH, kW) array)`` of a kernel spec (``'gaussian:15'``), a ``(name, array)`` pair,
    or a bare array or tensor (named by its shape), the one reading every experiment shares.

    >>> float(named_kernel("laplacian8")[1][1, 1]), named_kernel(np.ones((2, 3)))[0]
    (8.0, '2x3')
    """
    from ..kernels import kernel_from_spec

    if isinstance(spec, str):
        return spec, kernel_from_spec(spec).numpy()
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str):
        name, spec = spec
    else:
        name = None
    k = np.asarray(spec.detach().cpu().numpy() if hasattr(spec, "detach") else spec, dtype=np.float64)
    return (name or "x".join(str(n) for n in k.shape)), k


def keeps_global_rng(fn):
    """Run ``fn`` with Python's, NumPy's and torch's global generators restored afterwards.

    Building a model (default initialisation) or a library call that seeds torch globally
    would otherwise leave the caller's random state changed behind its back.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        import torch

        py, np_state = random.getstate(), np.random.get_state()
        try:
            with torch.random.fork_rng(devices=[]):
                return fn(*args, **kwargs)
        finally:
            random.setstate(py)
            np.random.set_state(np_state)

    return wrapper

"""Small helpers shared by the experiments and their ``save_*`` functions."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_save, atomic_write_text

Progress = Callable[[Iterable], Iterable] | None


def out_folder(out_dir: str | os.PathLike) -> Path:
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    return d


def save_npy(path: Path, arr, written: list[Path]) -> Path:
    atomic_save(path, lambda f: np.save(f, np.asarray(arr)))
    written.append(path)
    return path


def save_json(path: Path, obj: Any, written: list[Path], **kw) -> Path:
    atomic_write_text(path, json.dumps(obj, indent=2, **kw) + "\n")
    written.append(path)
    return path


def as_image(image) -> np.ndarray:
    """An image (a path, a bundled name or an array) as a float64 array."""
    if isinstance(image, str | os.PathLike):
        from ..data.images import load_image

        image = load_image(image)
    return np.asarray(image, dtype=np.float64)

"""Image folders: ``root/<class name>/<image>.png|.jpg``, one subfolder per class.

Images are read with Pillow through :func:`convscope.data.images.load_image`,
which carries the decompression-bomb guard and names any unreadable file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .._checks import DataError, unreadable
from .images import _GREY_MODES, load_image

__all__ = ["IMAGE_SUFFIXES", "scan_image_folder", "load_image_folder"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def scan_image_folder(root: str | os.PathLike) -> tuple[list[str], list[tuple[Path, int]]]:
    """Class names (sorted subfolder names) and ``(file, label)`` pairs, sorted.

    Raises ``ValueError`` naming the folder when it has no class subfolder
    holding at least one PNG or JPEG.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"image folder {root} does not exist or is not a folder")
    classes, items = [], []
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(
            f for f in sub.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES and not f.name.startswith(".")
        )
        if not files:
            continue
        label = len(classes)
        classes.append(sub.name)
        items.extend((f, label) for f in files)
    if not items:
        raise DataError(
            f"image folder {root} is empty: expected one subfolder per class holding "
            f"{', '.join(IMAGE_SUFFIXES)} files"
        )
    return classes, items


def load_image_folder(
    root: str | os.PathLike, *, image_size: tuple[int, int] | None = None, channels: int | None = None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read every image: float32 ``(N, C, H, W)`` in [0, 1], int64 labels, class names.

    ``channels`` 1 reads grey, 3 reads RGB; ``None`` keeps grey if every image
    is grey, RGB otherwise. Images of different sizes need ``image_size``
    ``(H, W)``, to which each is resized (Pillow, Lanczos).
    """
    from PIL import Image

    classes, items = scan_image_folder(root)
    gray = channels == 1
    if channels is None:
        gray = True
        for f, _ in items:
            try:
                with Image.open(f) as im:
                    if im.mode not in _GREY_MODES:
                        gray = False
                        break
            except (OSError, SyntaxError, ValueError) as e:
                raise unreadable("image", f, "could not be read", e) from e
    imgs = []
    for f, _ in items:
        a = load_image(f, gray=gray)
        if not gray and a.ndim == 2:
            a = np.repeat(a[None], 3, axis=0)
        if a.ndim == 2:
            a = a[None]
        if image_size is not None and a.shape[-2:] != tuple(image_size):
            a = _resize(a, image_size)
        imgs.append(a)
    shapes = {a.shape for a in imgs}
    if len(shapes) > 1:
        raise DataError(
            f"images in {root} have different sizes {sorted(s[-2:] for s in shapes)[:4]}...; pass image_size"
        )
    x = np.stack(imgs).astype(np.float32)
    y = np.array([lab for _, lab in items], dtype=np.int64)
    return x, y, classes


def _resize(a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    h, w = size
    planes = [
        np.asarray(Image.fromarray(np.ascontiguousarray(p, dtype=np.float32)).resize((w, h), Image.Resampling.LANCZOS))
        for p in a
    ]
    return np.clip(np.stack(planes), 0.0, 1.0)

"""Image files in and out, and the bundled photographs (scikit-image's shipped data)."""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from .._checks import DataError, check_option, fail
from .._io import atomic_write_bytes

__all__ = ["BUNDLED_IMAGES", "load_image", "save_image", "bundled_image_path", "MAX_IMAGE_PIXELS"]

# skimage ships these in skimage/data; no download needed.
BUNDLED_IMAGES = {
    "camera": "camera.png",
    "astronaut": "astronaut.png",
    "coffee": "coffee.png",
    "chelsea": "chelsea.png",
    "coins": "coins.png",
    "moon": "moon.png",
    "brick": "brick.png",
    "grass": "grass.png",
    "rocket": "rocket.jpg",
}
# Decompression-bomb guard: refuse images above this many pixels.
MAX_IMAGE_PIXELS = 64_000_000


def bundled_image_path(name: str) -> Path:
    import skimage.data

    key = check_option("image", name, BUNDLED_IMAGES)
    return Path(skimage.data.__file__).parent / BUNDLED_IMAGES[key]


def load_image(path_or_name: str | os.PathLike | None = None, *, gray: bool = False, size: int | None = None) -> np.ndarray:
    """Read an image as float32 in [0, 1], shape (H, W) for grey or (C, H, W) for colour.

    ``path_or_name`` is a file path or a bundled name (``camera``, ``astronaut``,
    ``coffee``, ...); ``None`` gives ``camera``. ``size`` resizes the short side.
    A missing, corrupt or oversized file raises ``ValueError`` naming the file.
    """
    if path_or_name is None:
        path_or_name = "camera"
    s = os.fspath(path_or_name)
    p = Path(s)
    if not p.exists() and s.lower() in BUNDLED_IMAGES:
        p = bundled_image_path(s)
    if not p.is_file():
        raise fail("image", "an existing image file or one of " + ", ".join(BUNDLED_IMAGES), s)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            old = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
            try:
                with Image.open(p) as im:
                    im.load()
                    im = im.convert("L" if gray else ("RGB" if im.mode not in ("L", "I;16", "I", "F") else "L"))
            finally:
                Image.MAX_IMAGE_PIXELS = old
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise DataError(f"image {p} is too large (decompression-bomb guard, > {MAX_IMAGE_PIXELS} pixels)") from e
    except (OSError, SyntaxError, ValueError) as e:
        raise DataError(f"image {p} could not be read: {e}") from e
    if size is not None:
        w, h = im.size
        scale = size / min(w, h)
        im = im.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS)
    arr = np.asarray(im, dtype=np.float32) / 255.0
    if arr.ndim == 3:
        arr = np.ascontiguousarray(arr.transpose(2, 0, 1))
    return arr


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    a = np.asarray(arr, dtype=np.float64)
    if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[-1] not in (1, 3, 4):
        a = a.transpose(1, 2, 0)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    return (np.clip(np.nan_to_num(a), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def save_image(path: str | os.PathLike, arr: np.ndarray) -> Path:
    """Write a [0, 1] float image ((H, W), (C, H, W) or (H, W, C)) as PNG/JPEG, atomically."""
    p = Path(path)
    fmt = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}.get(p.suffix.lower())
    if fmt is None:
        raise fail("path", "a .png or .jpg file name", str(p))
    buf = io.BytesIO()
    Image.fromarray(_to_uint8(arr)).save(buf, format=fmt)
    return atomic_write_bytes(p, buf.getvalue())

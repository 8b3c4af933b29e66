"""Image files in and out, and the bundled photographs (scikit-image's shipped data)."""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from .._checks import DataError, check_alloc, check_int, check_option, fail, unreadable
from .._io import atomic_write_bytes

__all__ = [
    "BUNDLED_IMAGES",
    "load_image",
    "save_image",
    "bundled_image_path",
    "resized_shape",
    "MAX_IMAGE_PIXELS",
    "MAX_RESIZE_RATIO",
]

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


# A resize keeps the aspect ratio; the long side is capped at this many times ``size``, so that a
# 1x20000 strip asked for a short side of 256 becomes 1x2048, not 256x5,120,000.
MAX_RESIZE_RATIO = 8

# Pillow modes that are one grey channel (alpha, where present, is dropped).
_GREY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F")


def _bits(im: Image.Image, default: int) -> int:
    """Bits per sample of a 32-bit-integer ('I') image: TIFF's BitsPerSample tag, else ``default``."""
    tags = getattr(im, "tag_v2", None)
    if tags is not None:
        b = tags.get(258)
        b = b[0] if isinstance(b, tuple) and b else b
        if isinstance(b, int) and 1 <= b <= 32:
            return b
    return default


def _decode(im: Image.Image, gray: bool, name: str) -> np.ndarray:
    """Any Pillow image -> float32 in [0, 1], (H, W) grey or (H, W, 3) colour.

    The rules, by Pillow mode:

    * ``1`` (bilevel): 0 or 1.
    * ``L``, ``P``, ``RGB``, ``CMYK``, ``YCbCr``, ...: 8-bit, divided by 255 (palette images are
      looked up; colour spaces converted to RGB).
    * ``I;16``, ``I;16B``, ``I;16L`` (16-bit PNG/TIFF): divided by 65535.
    * ``I`` (32-bit signed integer): divided by ``2**bits - 1``, where ``bits`` is the TIFF's
      BitsPerSample, else 16 when every value fits 0..65535 (Pillow's older 16-bit PNGs), else 31;
      negative values are clipped to 0.
    * ``F`` (32-bit float): values inside [0, 1] are kept as they are; an image whose values leave
      [0, 1] is rescaled by its own minimum and maximum (a constant image becomes 0). NaN or Inf
      is a :class:`DataError`.
    * Alpha (``LA``, ``RGBA``, ``PA``, palette transparency) is dropped: the stored colour is kept,
      not composited onto a background.
    * Grey images stay 2-D unless colour is asked for elsewhere; ``gray=True`` turns colour into
      luma (ITU-R 601, Pillow's ``L``).
    """
    mode = im.mode
    if mode == "1":
        return np.asarray(im, dtype=np.float32)
    if mode.startswith("I;16"):
        return np.asarray(im).astype(np.float32) / 65535.0
    if mode == "I":
        a = np.asarray(im).astype(np.float64)
        default = 16 if a.size == 0 or (a.min() >= 0 and a.max() <= 65535) else 31
        bits = min(_bits(im, default), 31)
        return (np.clip(a, 0, None) / (2.0**bits - 1)).clip(0.0, 1.0).astype(np.float32)
    if mode == "F":
        a = np.asarray(im, dtype=np.float32)
        if not np.isfinite(a).all():
            raise DataError(f"image {name} holds NaN or Inf values")
        lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 1.0)
        if lo < 0.0 or hi > 1.0:
            a = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
        return a
    if mode in ("L", "LA", "La"):
        return np.asarray(im.convert("L"), dtype=np.float32) / 255.0
    if mode in ("P", "PA") and not gray:
        rgb = im.convert("RGB")
        a = np.asarray(rgb, dtype=np.float32) / 255.0
        if np.array_equal(a[..., 0], a[..., 1]) and np.array_equal(a[..., 1], a[..., 2]):
            return np.ascontiguousarray(a[..., 0])  # a grey palette: one channel, as for L
        return a
    conv = im.convert("L" if gray else "RGB")
    return np.asarray(conv, dtype=np.float32) / 255.0


def _to_grey(a: np.ndarray) -> np.ndarray:
    """Luma of a (H, W, 3) float image, the weights of Pillow's convert('L')."""
    return (a[..., 0] * 0.299 + a[..., 1] * 0.587 + a[..., 2] * 0.114).astype(np.float32)


def resized_shape(h: int, w: int, size: int) -> tuple[int, int]:
    """(H, W) after resizing the short side to ``size``, aspect ratio kept, long side capped.

    The long side is at most ``MAX_RESIZE_RATIO * size``; a very elongated image is scaled
    so that its long side meets that cap (its short side then comes out below ``size``).

    >>> resized_shape(512, 1024, 256), resized_shape(1, 20000, 256)
    ((256, 512), (1, 2048))
    """
    scale = min(size / min(h, w), MAX_RESIZE_RATIO * size / max(h, w))
    return max(1, round(h * scale)), max(1, round(w * scale))


def _resize_planes(a: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Lanczos resize of a float (H, W) or (H, W, C) image, plane by plane in Pillow's 'F' mode."""
    h, w = hw
    planes = a[..., None] if a.ndim == 2 else a
    out = [
        np.asarray(Image.fromarray(np.ascontiguousarray(planes[..., c])).resize((w, h), Image.Resampling.LANCZOS))
        for c in range(planes.shape[-1])
    ]
    res = np.stack(out, axis=-1)
    res = res[..., 0] if a.ndim == 2 else res
    return np.clip(res, 0.0, 1.0).astype(np.float32)  # Lanczos overshoots a little at edges


def _reduced(im: Image.Image, size: int | None) -> Image.Image:
    """``im`` shrunk by the largest whole factor that keeps its short side at least twice ``size``.

    A box reduction of the 8-bit (or 16-bit) pixels costs a fraction of the
    float conversion and Lanczos resize that follow, and bounds their memory:
    a 64-Mpx upload resized to 256 px is reduced to about 512 px first. The
    final Lanczos step still sets the size, so images less than 4x the target
    are untouched and keep their exact result.
    """
    if size is None:
        return im
    factor = min(im.size) // (2 * max(1, int(size)))
    if factor < 2:
        return im
    try:
        return im.reduce(factor)
    except (ValueError, NotImplementedError):  # a mode Pillow cannot reduce (bilevel, palette): decode as is
        return im


def load_image(
    path_or_name: str | os.PathLike | None = None,
    *,
    gray: bool = False,
    size: int | None = None,
    min_size: int = 1,
) -> np.ndarray:
    """Read an image as float32 in [0, 1], shape (H, W) for grey or (C, H, W) for colour.

    ``path_or_name`` is a file path or a bundled name (``camera``, ``astronaut``,
    ``coffee``, ...); ``None`` gives ``camera``. Every bit depth Pillow reads is
    scaled to [0, 1] (8- and 16-bit integers, 32-bit integers and floats, palette,
    bilevel; alpha dropped): see :func:`_decode` for the rules.

    ``size`` resizes the short side (Lanczos), keeping the aspect ratio, with the
    long side capped at ``MAX_RESIZE_RATIO * size`` (see :func:`resized_shape`).
    The result must be at least ``min_size`` pixels on each side. A missing,
    corrupt, too small or oversized file raises a ``ValueError`` naming the file;
    a result larger than :func:`convscope._checks.memory_limit` a ``ResourceError``.
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
                    if size is not None:  # JPEG decodes at 1/2, 1/4 or 1/8 scale for free
                        im.draft(im.mode, (2 * size, 2 * size))
                    im.load()
                    arr = _decode(_reduced(im, size), gray, str(p))
            finally:
                Image.MAX_IMAGE_PIXELS = old
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise DataError(f"image {p} is too large (decompression-bomb guard, > {MAX_IMAGE_PIXELS} pixels)") from e
    except (OSError, SyntaxError, ValueError) as e:
        if isinstance(e, DataError):
            raise
        raise unreadable("image", p, "could not be read", e) from e
    if gray and arr.ndim == 3:
        arr = _to_grey(arr)
    if size is not None:
        size = check_int("size", size, min_value=1)
        hw = resized_shape(arr.shape[0], arr.shape[1], size)
        chans = 1 if arr.ndim == 2 else arr.shape[2]
        check_alloc("size", (chans, *hw), "float64", what=f"image {p} resized to {hw[0]}x{hw[1]}")
        if hw != arr.shape[:2]:
            arr = _resize_planes(arr, hw)
    h, w = arr.shape[:2]
    if min(h, w) < min_size:
        raise DataError(f"image {p} is {h}x{w} pixels; this needs at least {min_size}x{min_size}")
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

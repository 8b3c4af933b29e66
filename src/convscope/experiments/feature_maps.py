"""Step 1 of the story: image ⊛ kernel = feature map, one per channel (and pooled)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._checks import ArgumentError, ResourceError
from .._io import display_name
from ._common import as_image, named_kernel, out_folder, save_npy

__all__ = ["FeatureMaps", "feature_maps", "parse_pool", "save_feature_maps", "safe_name", "file_stems",
           "ChunkedFeatureMaps", "chunked_feature_maps", "save_chunked_feature_maps",
           "PixelComputation", "pixel_computation"]


@dataclass(frozen=True)
class FeatureMaps:
    """What :func:`feature_maps` computed.

    Attributes:
        image: the input, float64 ``(H, W)`` or ``(C, H, W)``.
        names: one label per kernel.
        kernels: the kernels, ``(kH, kW)`` float arrays.
        maps: one ``(C, H', W')`` feature map per kernel (a grey image has ``C = 1``).
        pooled: the pooled maps (``(C, H'/s, W'/s)``) per kernel, or ``None`` each when not pooled.
        pool: ``(kind, size)`` or ``None``.
        kernel_sums: each kernel's sum of weights (0: detects change; 1: averages).
        flat_responses: ``max |kernel ⊛ ones|`` (``valid``): a zero-sum kernel ignores flat regions.
    """

    image: np.ndarray
    names: tuple[str, ...]
    kernels: tuple[np.ndarray, ...]
    maps: tuple[np.ndarray, ...]
    pooled: tuple[np.ndarray | None, ...]
    pool: tuple[str, int] | None
    kernel_sums: tuple[float, ...]
    flat_responses: tuple[float, ...]


def parse_pool(spec: str | None) -> tuple[str, int] | None:
    """``'max:2'`` -> ``('max', 2)``; ``None`` stays ``None``."""
    if spec is None:
        return None
    kind, _, size = spec.partition(":")
    kind = kind.strip().lower()
    if kind not in ("max", "avg") or not size.strip().isdigit() or int(size) < 1:
        raise ArgumentError(f"--pool must be max:N or avg:N with N >= 1, got {spec!r}")
    return kind, int(size)


def feature_maps(
    image,
    kernels: Sequence = ("laplacian8",),
    *,
    mode: str = "same",
    boundary: str = "zeros",
    method: str = "auto",
    pool: tuple[str, int] | str | None = None,
    pool_magnitude: bool = False,
) -> FeatureMaps:
    """Convolve ``image`` with each kernel (true convolution) and optionally pool the maps.

    Args:
        image: ``(H, W)`` or ``(C, H, W)`` array, or a bundled name / image path.
        kernels: kernel specs (``'gaussian:7'``), ``(name, array)`` pairs or arrays.
        mode, boundary, method: as :func:`convscope.conv.convolve2d`.
        pool: ``('max' | 'avg', size)`` or ``'max:2'``; ``None`` pools nothing.
        pool_magnitude: pool ``|feature map|`` rather than the signed map.
    """
    import torch
    import torch.nn.functional as F

    from ..conv import convolve2d

    pool = parse_pool(pool) if isinstance(pool, str) else pool
    img = as_image(image)
    named = [named_kernel(k) for k in kernels]
    if not named:
        raise ArgumentError("kernels must name at least one kernel, got none")
    if pool and pool[1] > min(img.shape[-2:]):
        raise ArgumentError(f"pool size must be at most the image's smaller side, {min(img.shape[-2:])} px, "
                            f"got {pool[1]}")
    maps, pooled, sums, flats = [], [], [], []
    for _, k in named:
        fmap = np.asarray(convolve2d(img, k, mode=mode, boundary=boundary, method=method))
        chans = fmap[None] if fmap.ndim == 2 else fmap
        maps.append(chans)
        p = None
        if pool:
            src = np.abs(chans) if pool_magnitude else chans
            t = torch.from_numpy(np.ascontiguousarray(src))[None]
            fn = F.max_pool2d if pool[0] == "max" else F.avg_pool2d
            p = fn(t, pool[1]).numpy()[0]
        pooled.append(p)
        sums.append(float(np.sum(k)))
        kh, kw = k.shape
        flat = np.asarray(convolve2d(np.ones((kh + 7, kw + 7)), k, mode="valid"))
        flats.append(float(np.abs(flat).max()))
    return FeatureMaps(img, tuple(n for n, _ in named), tuple(k for _, k in named), tuple(maps), tuple(pooled),
                       pool, tuple(sums), tuple(flats))


@dataclass(frozen=True)
class PixelComputation:
    """How one output pixel of a feature map is made (CNN Explainer's click on a neuron).

    Attributes:
        channel, row, col: the pixel.
        patch: the input patch under the kernel ``(kH, kW)``, border included as ``boundary`` gives it.
        kernel_flipped: the kernel turned by 180° (true convolution flips it; correlation would not).
        products: ``patch * kernel_flipped``, elementwise.
        total: the sum of the products.
        feature_value: the same pixel of the whole feature map (``convolve2d``, ``same``): equal to ``total``.
    """

    channel: int
    row: int
    col: int
    patch: np.ndarray
    kernel_flipped: np.ndarray
    products: np.ndarray
    total: float
    feature_value: float


def pixel_computation(image, kernel, *, channel: int = 0, row: int, col: int,
                      boundary: str = "zeros") -> PixelComputation:
    """The patch, flipped kernel, products and sum behind output pixel ``(row, col)`` of ``channel``
    of ``convolve2d(image, kernel, mode="same", boundary=boundary)``, checked against that map.

    Args:
        image: ``(H, W)`` or ``(C, H, W)`` array, or a bundled name / image path.
        kernel: a kernel spec or an odd-sized ``(kH, kW)`` array.
    """
    import torch

    from .._checks import check_int, fail
    from ..conv import convolve2d, pad2d

    img = as_image(image)
    chans = img[None] if img.ndim == 2 else img
    _, k = named_kernel(kernel)
    k = np.asarray(k, dtype=np.float64)
    if k.ndim != 2 or k.shape[0] % 2 == 0 or k.shape[1] % 2 == 0:
        raise fail("kernel", "a 2-D kernel of odd height and width", f"shape {k.shape}")
    H, W = chans.shape[-2:]
    channel, row, col = (check_int(n, v, min_value=0) for n, v in (("channel", channel), ("row", row), ("col", col)))
    if channel >= chans.shape[0]:
        raise fail("channel", f"below the image's {chans.shape[0]} channels", channel)
    if row >= H or col >= W:
        raise fail("pixel", f"inside the {H}×{W} map", (row, col))
    rh, rw = k.shape[0] // 2, k.shape[1] // 2
    padded = pad2d(torch.from_numpy(np.ascontiguousarray(chans[channel])), (rh, rh, rw, rw), boundary).numpy()
    patch = padded[row:row + k.shape[0], col:col + k.shape[1]].copy()
    flipped = k[::-1, ::-1].copy()
    products = patch * flipped
    fmap = np.asarray(convolve2d(chans[channel], k, mode="same", boundary=boundary))
    return PixelComputation(channel, row, col, patch, flipped, products, float(products.sum()),
                            float(fmap[row, col]))


def safe_name(spec: str) -> str:
    """A kernel spec made safe for a file name (at most 40 characters)."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in spec)[:40]


def file_stems(specs) -> list[str]:
    """One file-name stem per kernel spec, unique: specs that shorten to the same stem
    (``DIR1/blur.npy`` and ``DIR2/blur.npy``, or long paths sharing 40 characters) get the
    kernel's 1-based position appended (``..._k2``), so no output overwrites another.

    >>> file_stems(["a/blur.npy", "b/blur.npy", "sobel_x"])
    ['a_blur.npy', 'b_blur.npy', 'sobel_x']
    >>> file_stems(["x" * 50, "x" * 45])
    ['xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx_k2']
    """
    used: set[str] = set()
    out = []
    for i, spec in enumerate(specs):
        safe = safe_name(spec)
        stem, n = safe, i + 1
        while stem in used:
            stem, n = f"{safe}_k{n}", n + 1
        used.add(stem)
        out.append(stem)
    return out


def save_feature_maps(result: FeatureMaps, out_dir: str | os.PathLike, *, panel: str = "panel.png",
                      data: bool = True) -> list[Path]:
    """``featuremap_<kernel>.npy`` (+ a PNG per channel, + ``pooled_<kernel>.npy``) and the panel."""
    from ..data.images import save_image
    from ..viz.panels import conv_panel, feature_display

    out = out_folder(out_dir)
    written: list[Path] = []
    if data:
        for safe, chans, pooled in zip(file_stems(result.names), result.maps, result.pooled):
            fmap = chans[0] if result.image.ndim == 2 else chans
            save_npy(out / f"featuremap_{safe}.npy", fmap.astype(np.float32), written)
            for c, ch in enumerate(chans):
                written.append(save_image(out / f"featuremap_{safe}_ch{c}.png", feature_display(ch)[0]))
            if pooled is not None:
                save_npy(out / f"pooled_{safe}.npy", pooled.astype(np.float32), written)
    maps = list(zip(map(display_name, result.names), result.kernels, result.maps, result.pooled))
    written.append(conv_panel(result.image, maps, out / panel, pool=result.pool))
    return written


# --------------------------------------------------------------------------------------
# images larger than memory: the same feature maps, lazily, chunk by chunk (dask + zarr)


@dataclass(frozen=True)
class ChunkedFeatureMaps:
    """Lazy feature maps of an image that may not fit in memory.

    ``maps[i]`` is a float32 dask array (nothing computed yet) in regular
    ``chunks x chunks`` tiles, so it can be written straight to zarr.
    """

    names: tuple[str, ...]
    kernels: tuple[np.ndarray, ...]
    maps: tuple  # dask arrays
    chunks: int


# what one chunk costs dask beyond its arithmetic (scheduling, halo exchange, assembly), measured:
# 65,536 chunks of a 256² image took 4 min 19 s, 64² chunks 2 s (benchmarks/RESULTS.md, dask section)
TASK_SECONDS = 0.004


def chunked_feature_maps(image, kernels: Sequence = ("laplacian8",), *, chunks: int = 2048, mode: str = "same",
                         boundary: str = "zeros", method: str = "auto",
                         max_seconds: float | None = 60.0) -> ChunkedFeatureMaps:
    """Feature maps of a memory-mapped ``.npy``, a zarr array (a path) or a dask array, lazily.

    Each chunk plus its halo goes through :func:`convscope.convolve2d` with ``method``;
    the result equals the in-memory call, outer edges included. Needs the ``scale`` extra.
    ``max_seconds``: refuse (``ResourceError``, naming a ``chunks`` that would be fast) a chunking
    whose per-chunk overhead alone is estimated to take longer; ``None`` never refuses.
    """
    from .._checks import check_int
    from ..conv import convolve2d
    from ..conv.chunked import is_dask_array
    from ..data.chunked import open_chunked, require_scale

    chunks = check_int("chunks", chunks, min_value=1)
    require_scale("chunked filtering")
    x = image if is_dask_array(image) else open_chunked(image, chunks)
    named = [named_kernel(k) for k in kernels]
    tasks = int(np.prod(x.numblocks)) * max(1, len(named))
    if max_seconds is not None and tasks * TASK_SECONDS > max_seconds:
        side = max(x.shape[-2:])
        fast = 1 << max(0, math.ceil(math.log2(max(1.0, side / 16))))  # about 256 chunks per plane
        raise ResourceError(f"chunks must be larger: {chunks} cuts the {x.shape[-2]}x{x.shape[-1]} image into "
                            f"{tasks:,} chunks, about {tasks * TASK_SECONDS:.0f} s of overhead alone "
                            f"(limit {max_seconds:g} s); chunks={fast} takes about "
                            f"{math.ceil(x.shape[-2] / fast) * math.ceil(x.shape[-1] / fast) * len(named) * TASK_SECONDS:.1f} s")
    maps = []
    for _, k in named:
        y = convolve2d(x, k, mode=mode, boundary=boundary, method=method).astype(np.float32)
        maps.append(y.rechunk((*y.chunks[:-2], chunks, chunks)))  # zarr stores regular chunks
    return ChunkedFeatureMaps(tuple(n for n, _ in named), tuple(k for _, k in named), tuple(maps), chunks)


def save_chunked_feature_maps(result: ChunkedFeatureMaps, out_dir: str | os.PathLike, *,
                              progress=None) -> list[Path]:
    """``featuremap_<kernel>.zarr`` per kernel, computed chunk by chunk (memory stays bounded).

    ``progress(total, desc)`` returns a bar with ``update``/``close`` (e.g. a tqdm factory).
    """
    from ..data.chunked import save_zarr

    out = out_folder(out_dir)
    written = []
    for stem, y in zip(file_stems(result.names), result.maps):
        path = out / f"featuremap_{stem}.zarr"
        bar = (lambda total, p=path: progress(total, p.name)) if progress else None
        written.append(save_zarr(y, path, progress=bar))
    return written

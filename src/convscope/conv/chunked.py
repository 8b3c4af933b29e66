"""Images larger than memory: ``convolve2d`` / ``correlate2d`` over a chunked dask array.

The in-memory engine does the work, one chunk at a time, through
``dask.array.map_overlap``; dask schedules the chunks on threads, processes or a
``dask.distributed`` cluster. dask is optional: this module imports it only
when a dask array arrives, so ``import convscope`` works without it.

How the result stays identical to the in-memory call, outer edges included:

1. The whole image is extended lazily by the pads of ``mode`` with *our*
   ``boundary`` (the same index rule as :func:`convscope.conv.padding.pad2d`,
   for any pad width), since dask's own boundary options mean other things.
2. The extended image is a plain "valid" problem. Its chunks are laid out so
   that chunk ``j``, grown by a halo of ``a`` rows before and ``b = kH-1-a``
   after (``map_overlap`` with ``boundary='none'``), holds exactly the input
   of output chunk ``j``; no trimming is needed afterwards.
3. Each grown chunk is filtered by the in-memory function in ``valid`` mode
   with ``method`` (``auto`` picks direct, OpenCV, FFT or overlap-add per chunk).

Chunks smaller than the halo (a kernel larger than a chunk) are merged with a
neighbour for the computation. The result is handed back on the input's chunk
grid: the very same chunks for ``same``, and for ``full`` / ``valid`` regular
chunks of the input's first chunk size (what zarr needs to store it).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import partial

import numpy as np

from .._arrays import as_tensor
from .._checks import check_ndim, check_option, fail
from .padding import BOUNDARIES, MODES, boundary_index, mode_pads

__all__ = ["is_dask_array", "filter_dask", "axis_plan"]



def is_dask_array(x) -> bool:
    """True for a ``dask.array.Array``; never imports dask (none can exist unless it is loaded)."""
    da = sys.modules.get("dask.array")
    return da is not None and isinstance(x, da.Array)


def axis_plan(chunks: tuple[int, ...], k: int, lo: int, hi: int):
    """The layout of one spatial axis: ``(out_chunks, padded_chunks, (a, b))``.

    ``chunks``: the input's chunks along the axis; ``k``: kernel extent; ``lo``/``hi``:
    the boundary extension. The padded axis ``lo + sum(chunks) + hi`` is split into
    ``padded_chunks`` such that chunk ``j`` grown by ``a`` before and ``b = k-1-a``
    after gives exactly output chunk ``j`` in a valid correlation. ``a`` is chosen
    so that the padded chunks start where the input's do (cheap rechunk).

    >>> axis_plan((4, 4, 2), 3, 1, 1)  # 'same', k=3: output chunks = input chunks
    ((4, 4, 2), (5, 4, 3), (1, 1))
    >>> axis_plan((8, 8, 6), 5, 0, 0)  # 'valid', k=5: the last chunk shrinks by 4, then merges
    ((8, 10), (8, 14), (0, 4))
    >>> axis_plan((4, 4, 4, 4), 7, 6, 6)  # 'full', halo (6) larger than a chunk: merged
    ((8, 14), (14, 14), (6, 0))
    """
    a = min(lo, k - 1)
    b = k - 1 - a
    out = list(chunks)
    out[0] += lo - a
    out[-1] += hi - b
    while out[-1] <= 0:  # 'valid' eats the last chunk(s)
        short = out.pop()
        out[-1] += short  # (pop first: out[-1] then names the new last chunk)
    m = max(a, b, 1)  # map_overlap takes a halo from the direct neighbour only
    merged: list[int] = []
    for c in out:
        if merged and merged[-1] < m:
            merged[-1] += c
        else:
            merged.append(c)
    if len(merged) > 1 and merged[-1] < m:
        last = merged.pop()
        merged[-1] += last
    padded = list(merged)
    padded[0] += a
    padded[-1] += b
    return tuple(merged), tuple(padded), (a, b)


def _pad_axis(x, axis: int, lo: int, hi: int, boundary: str):
    """Extend dask array ``x`` along ``axis`` by ``lo``/``hi`` with the numpy.pad meaning of ``boundary``."""
    import dask.array as da

    if lo == hi == 0:
        return x
    if boundary == "zeros":
        widths = [(0, 0)] * x.ndim
        widths[axis] = (lo, hi)
        return da.pad(x, widths, mode="constant")
    n = x.shape[axis]
    idx = boundary_index(n, lo, hi, boundary).numpy()
    parts = [da.take(x, idx[:lo], axis=axis)] if lo else []
    parts.append(x)
    if hi:
        parts.append(da.take(x, idx[lo + n :], axis=axis))
    return da.concatenate(parts, axis=axis)


# Input pixels (per plane) filtered at once inside one chunk. A 2048² chunk is cut into row strips of
# about this many pixels, each with its own halo, so the engine's temporaries (FFT and overlap-add
# buffers run to several times their input) scale with a strip, not the chunk. Measured at 8192²,
# k = 31, 2048² chunks (benchmarks/dask_bench.py): peak RSS 942 MB whole, 782 MB with strips of 2**20
# pixels, 650 MB with 2**18 (about 128 rows), at the same speed.
STRIP_PIXELS = 1 << 18


def _filter_block(block: np.ndarray, *, inner: Callable, kernel: np.ndarray, method: str) -> np.ndarray:
    # the block already carries its halo and the outer boundary: a plain 'valid' problem
    kH = kernel.shape[-2]
    h, w = block.shape[-2:]
    out_h = h - kH + 1
    rows = max(1, STRIP_PIXELS // max(w, 1) - kH + 1)  # output rows per strip
    if out_h <= rows:
        return inner(block, kernel, mode="valid", boundary="zeros", method=method)
    parts = []
    for r in range(0, out_h, rows):
        n = min(rows, out_h - r)
        parts.append(inner(block[..., r : r + n + kH - 1, :], kernel, mode="valid", boundary="zeros", method=method))
    return np.concatenate(parts, axis=-2)


def _as_numpy_kernel(kernel) -> np.ndarray:
    import torch

    if isinstance(kernel, torch.Tensor):
        return kernel.detach().cpu().numpy()
    return np.asarray(kernel)


def filter_dask(image, kernel, mode: str, boundary: str, method: str, *, inner: Callable, flip: bool):
    """``inner(image, kernel, ...)`` over a dask array, lazily, chunk by chunk.

    ``inner`` is the in-memory :func:`convscope.conv.convolve2d` (``flip=True``) or
    :func:`convscope.conv.correlate2d` (``flip=False``); the dask array's last two
    axes are (H, W), leading axes are channels/batch as in the in-memory call.
    Returns a dask array; nothing is computed until ``.compute()`` (or ``to_zarr``).
    """
    import dask.array as da

    mode = check_option("mode", mode, MODES)
    boundary = check_option("boundary", boundary, BOUNDARIES)
    x = image
    nd = check_ndim("image", x, (2, 3, 4), "(H, W), (C, H, W) or (B, C, H, W)")
    if any(np.isnan(c) for cs in x.chunks for c in cs):
        raise fail("image", "a dask array with known chunk sizes (call .compute_chunk_sizes())", x)
    k, _ = as_tensor(kernel, "kernel")
    check_ndim("kernel", k, (2, 3), "(kH, kW) or (C, kH, kW)")
    H, W = x.shape[-2:]
    kH, kW = k.shape[-2:]
    if min(H, W, kH, kW) == 0:
        raise fail("image and kernel", "non-empty", f"image {tuple(x.shape)}, kernel {tuple(k.shape)}")
    kernel = _as_numpy_kernel(kernel)

    if mode == "valid" and (kH > H or kW > W):
        # the kernel is in memory and larger than the image, so the image fits: one chunk,
        # and the in-memory rules (scipy's swap, or its error) apply; the probe raises early
        probe = inner(np.zeros(x.shape, x.dtype), kernel, mode="valid", method=method)
        return x.rechunk(-1).map_blocks(
            partial(_filter_block, inner=inner, kernel=kernel, method=method),
            chunks=tuple((s,) for s in probe.shape),
            dtype=probe.dtype,
            meta=np.empty((0,) * probe.ndim, probe.dtype),
        )

    # the in-memory call on a kernel-sized probe checks method, kernel/channel match
    # and dtypes with its own messages, before any graph is built
    probe_shape = (*(1 if i < nd - 3 else s for i, s in enumerate(x.shape[:-2])), kH, kW)
    dtype = inner(np.zeros(probe_shape, x.dtype), kernel, mode="valid", method=method).dtype

    if kernel.ndim == 3:  # one kernel per channel: every chunk holds all channels
        x = x.rechunk({nd - 3: -1})
    pt, pb, pl, pr = mode_pads(mode, kH, kW, flip)
    out_h, pad_h, depth_h = axis_plan(x.chunks[-2], kH, pt, pb)
    out_w, pad_w, depth_w = axis_plan(x.chunks[-1], kW, pl, pr)
    xp = _pad_axis(_pad_axis(x, nd - 2, pt, pb, boundary), nd - 1, pl, pr, boundary)
    xp = xp.rechunk((*x.chunks[:-2], pad_h, pad_w))
    y = da.map_overlap(
        partial(_filter_block, inner=inner, kernel=kernel, method=method),
        xp,
        depth={nd - 2: depth_h, nd - 1: depth_w},
        boundary="none",
        trim=False,
        allow_rechunk=False,
        chunks=(*x.chunks[:-2], out_h, out_w),
        dtype=dtype,
        meta=np.empty((0,) * nd, dtype),
    )
    final = (*x.chunks[:-2], *(_grid_like(c, n) for c, n in zip(x.chunks[-2:], y.shape[-2:])))
    return y if final == y.chunks else y.rechunk(final)


def _grid_like(chunks: tuple[int, ...], n: int) -> tuple[int, ...]:
    """The input's chunks when the length is unchanged, else a regular grid of its first chunk size."""
    if sum(chunks) == n:
        return chunks
    c = chunks[0]
    return (c,) * (n // c) + ((n % c,) if n % c else ())

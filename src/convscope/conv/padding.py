"""Boundary extension with the numpy.pad meanings, for any pad width.

``zeros`` is constant 0; ``reflect`` mirrors without repeating the edge
(numpy ``reflect``, OpenCV BORDER_REFLECT_101); ``symmetric`` mirrors with the
edge repeated (numpy ``symmetric``, scipy ``symm``, OpenCV BORDER_REFLECT);
``replicate`` repeats the edge (numpy ``edge``); ``circular`` wraps (numpy ``wrap``).

Unlike ``torch.nn.functional.pad``, pads may exceed the image size (the pattern
repeats as numpy's does), and ``symmetric`` is supported. It is an index gather,
so it is differentiable and device-agnostic.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .._checks import ArgumentError, check_option

BOUNDARIES = ("zeros", "reflect", "symmetric", "replicate", "circular")
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")  # conv2d's padding_mode, as torch.nn.Conv2d

# numpy.pad mode for each boundary (used by tests and docs).
NUMPY_PAD_MODE = {
    "zeros": "constant",
    "reflect": "reflect",
    "symmetric": "symmetric",
    "replicate": "edge",
    "circular": "wrap",
}


def boundary_index(n: int, lo: int, hi: int, boundary: str, device=None) -> torch.Tensor:
    """Source indices for positions ``-lo .. n+hi-1`` of a length-``n`` axis."""
    p = torch.arange(-lo, n + hi, device=device)
    if boundary == "circular":
        return p.remainder(n)
    if boundary == "replicate":
        return p.clamp(0, n - 1)
    if boundary == "symmetric":
        q = p.remainder(2 * n)
        return torch.where(q >= n, 2 * n - 1 - q, q)
    if boundary == "reflect":
        if n == 1:
            return torch.zeros_like(p)
        per = 2 * n - 2
        q = p.remainder(per)
        return torch.where(q >= n, per - q, q)
    raise ArgumentError(f"boundary must be one of {BOUNDARIES}, got {boundary!r}")


def pad2d(x: torch.Tensor, pads: tuple[int, int, int, int], boundary: str = "zeros") -> torch.Tensor:
    """Pad the last two dims of ``x`` by ``(top, bottom, left, right)``.

    Negative pads crop. ``boundary`` is one of :data:`BOUNDARIES`.

    >>> x = torch.arange(3.).reshape(1, 3)
    >>> pad2d(x, (0, 0, 2, 2), "symmetric")
    tensor([[1., 0., 0., 1., 2., 2., 1.]])
    >>> pad2d(x, (0, 0, 2, 2), "reflect")
    tensor([[2., 1., 0., 1., 2., 1., 0.]])
    """
    boundary = check_option("boundary", boundary, BOUNDARIES)
    top, bottom, left, right = pads
    if min(pads) < 0:  # crop first, then pad the rest
        h, w = x.shape[-2:]
        x = x[..., max(-top, 0) : h - max(-bottom, 0), max(-left, 0) : w - max(-right, 0)]
        top, bottom, left, right = (max(v, 0) for v in pads)
    if top == bottom == left == right == 0:
        return x
    if boundary == "zeros":
        return F.pad(x, (left, right, top, bottom))
    h, w = x.shape[-2:]
    if (
        boundary in ("reflect", "replicate", "circular")
        and x.ndim in (3, 4)
        and max(top, bottom) < h
        and max(left, right) < w
    ):
        # torch's native kernels are faster; only valid for pads smaller than the image.
        return F.pad(x, (left, right, top, bottom), mode=boundary)
    iy = boundary_index(h, top, bottom, boundary, x.device)
    ix = boundary_index(w, left, right, boundary, x.device)
    return x.index_select(-2, iy).index_select(-1, ix)


# scipy.signal's vocabulary (design.md): output sizes N+M-1, N and max(N,M)-min(N,M)+1
MODES = ("full", "same", "valid")


def mode_pads(mode: str, kH: int, kW: int, flip: bool) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) extension of the input that ``mode`` asks for.

    ``same`` is centred on the full output as scipy does: offset ``(M-1)//2`` for
    convolution (``flip``), ``M//2`` for correlation (they differ only for even sizes).

    >>> mode_pads("same", 4, 3, True), mode_pads("same", 4, 3, False), mode_pads("full", 3, 3, True)
    ((2, 1, 1, 1), (1, 2, 1, 1), (2, 2, 2, 2))
    """
    if mode == "full":
        return (kH - 1, kH - 1, kW - 1, kW - 1)
    if mode == "valid":
        return (0, 0, 0, 0)
    if flip:
        return (kH // 2, (kH - 1) // 2, kW // 2, (kW - 1) // 2)
    return ((kH - 1) // 2, kH // 2, (kW - 1) // 2, kW // 2)

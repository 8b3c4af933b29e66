"""Step 5 of the story: fractionally-strided (transposed) convolution, 3×3 → 5×5, built by hand."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._checks import ArgumentError

__all__ = ["FractionalStride", "fractional_stride", "example_inputs", "save_fractional_stride"]

_SEED_INPUT = np.arange(1.0, 10.0).reshape(3, 3)
_SEED_KERNEL = np.array([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]])


@dataclass(frozen=True)
class FractionalStride:
    """Each stage of the construction and the check against torch.

    Attributes:
        input: ``(h, w)``.
        zero_inserted: zeros between samples (``stride - 1`` each).
        padded: after ``kernel - 1 - padding`` zeros of border.
        kernel: the transposed convolution's weight.
        kernel_flipped: the kernel the full convolution slides (the transposed convolution's weight, flipped).
        output: ``conv_transpose2d(input, kernel)``.
        reference: torch's.
        max_abs_diff: ``max |output - reference|``.
        stride, padding: the layer's.
    """

    input: np.ndarray
    zero_inserted: np.ndarray
    padded: np.ndarray
    kernel: np.ndarray
    kernel_flipped: np.ndarray
    output: np.ndarray
    reference: np.ndarray
    max_abs_diff: float
    stride: int
    padding: int


def example_inputs(size: int = 3, kernel_size: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """The lecture notes' example at any size: input ``1..size²`` row by row, and the tent kernel
    (``[1 2 1]ᵀ[1 2 1]`` at 3, its outer product of ``1 + (k-1)/2 - |i - (k-1)/2|`` at ``k``).

    >>> x, w = example_inputs()
    >>> bool((x == _SEED_INPUT).all() and (w == _SEED_KERNEL).all())
    True
    """
    from .._checks import check_int

    size = check_int("size", size, min_value=1)
    kernel_size = check_int("kernel_size", kernel_size, min_value=1)
    g = np.arange(kernel_size) - (kernel_size - 1) / 2
    w1 = 1.0 + (kernel_size - 1) / 2 - np.abs(g)
    return np.arange(1.0, size * size + 1).reshape(size, size), np.outer(w1, w1)


def fractional_stride(x=None, kernel=None, *, stride: int = 2, padding: int = 1) -> FractionalStride:
    """Zero insertion, padding and a full convolution equal ``conv_transpose2d``.

    Args:
        x: ``(h, w)`` input (default the lecture notes' 3×3 ``1..9``).
        kernel: ``(k, k)`` weight (default the 3×3 binomial ``[1 2 1]ᵀ[1 2 1]``).
        stride, padding: as :func:`torch.nn.functional.conv_transpose2d`.
    """
    import torch
    import torch.nn.functional as F

    from ..conv import conv_transpose2d, pad2d, zero_insert

    x = torch.as_tensor(_SEED_INPUT if x is None else np.asarray(x), dtype=torch.float64)
    w = torch.as_tensor(_SEED_KERNEL if kernel is None else np.asarray(kernel), dtype=torch.float64)
    if x.ndim != 2 or w.ndim != 2:
        raise ArgumentError(f"x and kernel must be 2-D, got {tuple(x.shape)} and {tuple(w.shape)}")
    x4, w4 = x.reshape(1, 1, *x.shape), w.reshape(1, 1, *w.shape)
    p = w.shape[-1] - 1 - padding
    if p < 0:
        raise ArgumentError(f"padding must be <= kernel size - 1 = {w.shape[-1] - 1}, got {padding}")
    xz = zero_insert(x4, (stride, stride))
    xp = pad2d(xz, (p, p, p, p), "zeros")
    ours = conv_transpose2d(x4, w4, stride=stride, padding=padding)
    ref = F.conv_transpose2d(x4, w4, stride=stride, padding=padding)
    return FractionalStride(x.numpy(), xz[0, 0].numpy(), xp[0, 0].numpy(), w.numpy(), w.flip(-2, -1).numpy(),
                            ours[0, 0].numpy(), ref[0, 0].numpy(), float((ours - ref).abs().max()), stride, padding)


def save_fractional_stride(result: FractionalStride, path: str | os.PathLike, *, window=(1, 1)) -> list[Path]:
    """The five stages in one PNG; ``window`` marks where the kernel sits for that output pixel."""
    from ..viz.tour import fractional_stride_figure

    return [fractional_stride_figure(result.input, result.zero_inserted, result.padded, result.kernel_flipped,
                                     result.output, path, window=window)]

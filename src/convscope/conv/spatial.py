"""The direct (spatial) path: torch's conv2d, and OpenCV's filter2D where it is faster.

``torch.nn.functional.conv2d`` (oneDNN on CPU, cuDNN on CUDA) is exact,
differentiable and handles channels, groups, stride and dilation.

``cv2.filter2D`` is much faster for single-image filtering with small kernels
(it vectorises one 2-D plane; oneDNN is built for many channels). Mapping it
exactly onto our semantics:

* cv2 computes **correlation**: ``dst(y, x) = sum k(j, i) * src(y + j - ay, x + i - ax)``
  with the anchor ``(ax, ay)``; so the anchor is our top/left pad. For even
  kernels the default anchor ``k // 2`` is scipy's convolution offset but not its
  correlation offset, so the anchor is always passed explicitly.
* borders: ``zeros`` = BORDER_CONSTANT (0), ``reflect`` = BORDER_REFLECT_101,
  ``symmetric`` = BORDER_REFLECT, ``replicate`` = BORDER_REPLICATE. filter2D has
  no wrap mode, so ``circular`` is padded explicitly with ``copyMakeBorder``
  (BORDER_WRAP) and then filtered in valid mode.
* float32 and float64 only; for kernels with ``kH*kW >= 130`` (float32) or
  ``>= 50`` (float64) filter2D internally switches to a DFT, which, like every
  FFT, smears NaN/Inf over the image; see :func:`opencv_uses_dft`.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["direct_correlate", "opencv_border", "opencv_correlate", "opencv_eligible", "opencv_ok", "opencv_uses_dft"]

try:  # OpenCV is a dependency, but keep the engine importable without it
    import cv2

    _BORDER = {
        "zeros": cv2.BORDER_CONSTANT,
        "reflect": cv2.BORDER_REFLECT_101,
        "symmetric": cv2.BORDER_REFLECT,
        "replicate": cv2.BORDER_REPLICATE,
        "circular": cv2.BORDER_WRAP,
    }
except ImportError:  # pragma: no cover
    cv2 = None
    _BORDER = {}


def direct_correlate(x: torch.Tensor, w: torch.Tensor, groups: int = 1, pads=(0, 0, 0, 0)) -> torch.Tensor:
    """Valid cross-correlation of ``x`` zero-padded by ``(top, bottom, left, right)``."""
    pt, pb, pl, pr = pads
    if pt == pb and pl == pr and pt >= 0 and pl >= 0:
        return F.conv2d(x, w, None, 1, (pt, pl), 1, groups)
    return F.conv2d(F.pad(x, (pl, pr, pt, pb)), w, None, 1, 0, 1, groups)


def opencv_uses_dft(kH: int, kW: int, dtype) -> bool:
    """Whether cv2.filter2D switches to its internal DFT (OpenCV's own thresholds)."""
    return kH * kW >= (130 if dtype in (torch.float32, np.float32) else 50)


def opencv_eligible(device: str, dtype, H: int, W: int, pads, boundary: str) -> bool:
    """Can cv2.filter2D compute this exactly? CPU, float32/64, pads < image (unless zeros).

    Described by shapes, so the method choice can ask before any data exist;
    autograd is the caller's check (OpenCV has none).
    """
    if cv2 is None or device != "cpu" or dtype not in (torch.float32, torch.float64):
        return False
    if boundary != "zeros":
        if max(pads[0], pads[1]) >= H or max(pads[2], pads[3]) >= W or min(H, W) < 2:
            return False
    return min(pads) >= 0


def opencv_ok(x: torch.Tensor, H: int, W: int, pads, boundary: str) -> bool:
    """:func:`opencv_eligible` for the tensor ``x``, and no gradient flows to it."""
    if x.requires_grad and torch.is_grad_enabled():
        return False
    return opencv_eligible(x.device.type, x.dtype, H, W, pads, boundary)


def opencv_border(boundary: str) -> int:
    """OpenCV's border flag for one of our boundaries."""
    return _BORDER[boundary]


def opencv_correlate(x: np.ndarray, k: np.ndarray, pads, boundary: str = "zeros") -> np.ndarray:
    """Valid correlation of each plane of ``x`` (N, H, W), extended by ``pads`` with ``boundary``.

    ``k`` is the (kH, kW) correlation kernel, same dtype as ``x``.
    """
    N, H, W = x.shape
    kH, kW = k.shape
    pt, pb, pl, pr = pads
    oH, oW = H + pt + pb - kH + 1, W + pl + pr - kW + 1
    border = _BORDER[boundary]
    out = np.empty((N, oH, oW), dtype=x.dtype)
    same_size = (oH, oW) == (H, W) and boundary != "circular"
    for n in range(N):
        plane = x[n]
        if same_size:  # anchor = top/left pad, cv2 extends the border itself
            cv2.filter2D(plane, -1, k, dst=out[n], anchor=(pl, pt), borderType=border)
            continue
        if any(pads):
            plane = cv2.copyMakeBorder(plane, pt, pb, pl, pr, border, value=0)
        if (kH, kW) == (1, 1):
            out[n] = plane * k[0, 0]
            continue
        # valid: anchor at the kernel's corner, keep the rows/columns it fully covers
        full = cv2.filter2D(plane, -1, k, anchor=(0, 0), borderType=cv2.BORDER_CONSTANT)
        out[n] = full[:oH, :oW]
    return out

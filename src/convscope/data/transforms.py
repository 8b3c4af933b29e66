"""Batch transforms on image tensors ``(N, C, H, W)``: resize, pad, channels, normalise.

Every function takes and returns a float tensor; they are applied once, when a
dataset is loaded, so training reads ready-made tensors.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .._checks import DataError, check_int, check_option, check_pair, fail

__all__ = [
    "NORMALIZATIONS",
    "LUMA",
    "resize",
    "pad",
    "to_channels",
    "normalize",
    "denormalize",
    "channel_stats",
]

NORMALIZATIONS = ("gan", "standard", "none")
# ITU-R BT.601 luma weights, the same Pillow uses for "RGB" -> "L".
LUMA = (0.299, 0.587, 0.114)
_CHUNK = 4096  # resize in chunks so 60k MNIST images never need a second full copy


def _size(image_size) -> tuple[int, int]:
    return check_pair("image_size", image_size, min_value=1)


def resize(x: torch.Tensor, image_size: int | tuple[int, int]) -> torch.Tensor:
    """Bilinear resize (antialiased when shrinking) of ``(N, C, H, W)`` to ``image_size``.

    >>> resize(torch.zeros(2, 1, 28, 28), 32).shape
    torch.Size([2, 1, 32, 32])
    """
    h, w = _size(image_size)
    if tuple(x.shape[-2:]) == (h, w):
        return x
    shrink = h < x.shape[-2] or w < x.shape[-1]
    parts = [
        F.interpolate(x[i : i + _CHUNK], size=(h, w), mode="bilinear", align_corners=False, antialias=shrink)
        for i in range(0, x.shape[0], _CHUNK)
    ]
    # bilinear weights are a convex combination: [0, 1] stays in [0, 1]
    return torch.cat(parts) if parts else x.new_zeros(0, x.shape[1], h, w)


def pad(x: torch.Tensor, amount: int) -> torch.Tensor:
    """Zero-pad every side by ``amount`` pixels (classic LeNet: MNIST 28 + 2*2 = 32).

    >>> pad(torch.ones(1, 1, 28, 28), 2).shape
    torch.Size([1, 1, 32, 32])
    """
    amount = check_int("pad", amount, min_value=0)
    return F.pad(x, (amount,) * 4) if amount else x


def to_channels(x: torch.Tensor, channels: int | None) -> torch.Tensor:
    """Grey <-> RGB: 1 -> 3 repeats the plane, 3 -> 1 takes BT.601 luma.

    >>> to_channels(torch.ones(1, 1, 4, 4), 3).shape
    torch.Size([1, 3, 4, 4])
    """
    if channels is None or channels == x.shape[1]:
        return x
    if channels not in (1, 3):
        raise fail("channels", "1, 3 or None", channels)
    if x.shape[1] == 1:
        return x.expand(-1, 3, -1, -1).contiguous()
    if x.shape[1] in (3, 4):
        w = torch.tensor(LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        return (x[:, :3] * w).sum(1, keepdim=True)
    raise fail("images", "1- or 3-channel to convert", tuple(x.shape))


def channel_stats(x: torch.Tensor) -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation of ``(N, C, H, W)`` (float64 accumulation)."""
    xd = x.transpose(0, 1).reshape(x.shape[1], -1).double()
    return xd.mean(1).tolist(), xd.std(1).clamp_min(1e-6).tolist()


def normalize(x: torch.Tensor, kind: str | None, mean=None, std=None) -> torch.Tensor:
    """Map [0, 1] images for a network.

    ``"gan"``: to [-1, 1] (a tanh generator's range); ``"standard"``: ``(x - mean) / std``
    per channel; ``None``/``"none"``: unchanged.

    >>> normalize(torch.tensor([0.0, 0.5, 1.0]).view(1, 1, 1, 3), "gan").flatten().tolist()
    [-1.0, 0.0, 1.0]
    """
    kind = "none" if kind is None else check_option("normalize", kind, NORMALIZATIONS)
    if kind == "gan":
        return x * 2.0 - 1.0
    if kind == "standard":
        if mean is None or std is None:
            raise DataError("normalize='standard' needs mean and std")
        m = torch.as_tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        s = torch.as_tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        return (x - m) / s
    return x


def denormalize(x: torch.Tensor, kind: str | None, mean=None, std=None) -> torch.Tensor:
    """Inverse of :func:`normalize`: back to [0, 1] for display."""
    kind = "none" if kind is None else check_option("normalize", kind, NORMALIZATIONS)
    if kind == "gan":
        return (x + 1.0) / 2.0
    if kind == "standard":
        m = torch.as_tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        s = torch.as_tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        return x * s + m
    return x

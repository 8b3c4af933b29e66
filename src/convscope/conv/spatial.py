"""The direct path: torch's conv2d (oneDNN on CPU, cuDNN on CUDA)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["direct_correlate_valid"]


def direct_correlate_valid(
    x: torch.Tensor, w: torch.Tensor, groups: int = 1, stride=1, dilation=1
) -> torch.Tensor:
    """Valid cross-correlation, x: (B, Cin, H, W), w: (Cout, Cin/groups, kH, kW)."""
    return F.conv2d(x, w, None, stride, 0, dilation, groups)

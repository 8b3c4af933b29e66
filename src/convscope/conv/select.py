"""Choosing the method: a cost model, or measurement (like cudnn.benchmark)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .spectral import fast_len

__all__ = ["choose_method", "MethodChoice"]

METHODS = ("direct", "fft", "overlap_add")


@dataclass(frozen=True)
class MethodChoice:
    method: str
    costs: dict[str, float] = field(default_factory=dict)


def _costs(B: int, Cin: int, Cout: int, groups: int, H: int, W: int, kH: int, kW: int) -> dict[str, float]:
    """Predicted seconds (rough, CPU) for each method on a valid correlation."""
    oH, oW = max(H - kH + 1, 1), max(W - kW + 1, 1)
    cpg = Cin // groups
    macs = B * Cout * cpg * oH * oW * kH * kW
    direct = macs / 4e9
    fH, fW = fast_len(H), fast_len(W)
    nfft = fH * fW
    ffts = (B * Cin + Cout * cpg + B * Cout) * 2.5 * nfft * math.log2(max(nfft, 2))
    mix = 4 * B * Cout * cpg * nfft / 2
    fft = (ffts + mix) / 1.5e9
    return {"direct": direct, "fft": fft, "overlap_add": fft * 1.3}


def choose_method(B, Cin, Cout, groups, H, W, kH, kW) -> MethodChoice:
    costs = _costs(B, Cin, Cout, groups, H, W, kH, kW)
    return MethodChoice(min(costs, key=costs.get), costs)

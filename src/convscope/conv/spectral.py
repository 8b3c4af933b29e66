"""The frequency path: the convolution theorem done right.

Linear (not circular) correlation via real FFTs zero-padded to fast lengths.
Channel mixing is one batched complex matmul per frequency.

All functions here compute a *valid* cross-correlation of an already padded
input (torch semantics, stride 1, no dilation); ``api`` builds every mode,
boundary, stride and dilation on top of them.
"""

from __future__ import annotations

import math

import torch
from scipy.fft import next_fast_len

__all__ = ["fast_len", "fft_correlate_valid", "oa_correlate_valid", "mix_channels"]


def fast_len(n: int) -> int:
    """Smallest 2,3,5-smooth length >= n (fast for pocketfft and cuFFT)."""
    return int(next_fast_len(int(n), real=True))


def mix_channels(X: torch.Tensor, Wf: torch.Tensor, groups: int) -> torch.Tensor:
    """Per-frequency channel mixing.

    X: (B, Cin, *F) spectra, Wf: (Cout, Cin/groups, *F) -> (B, Cout, *F),
    ``Y[b, o] = sum_i X[b, i] * Wf[o, i]`` within each group.
    """
    B, Cin = X.shape[:2]
    Cout, cpg = Wf.shape[:2]
    fshape = X.shape[2:]
    if cpg == 1 and Cout == Cin == groups:  # depthwise: elementwise
        return X * Wf[:, 0]
    if Cin == 1 and cpg == 1:  # one input channel fanned out
        return X * Wf[:, 0].unsqueeze(0)
    opg = Cout // groups
    nf = math.prod(fshape)
    Xg = X.reshape(B, groups, cpg, nf).permute(1, 3, 0, 2)  # (g, F, B, cpg)
    Wg = Wf.reshape(groups, opg, cpg, nf).permute(0, 3, 2, 1)  # (g, F, cpg, opg)
    Y = torch.matmul(Xg, Wg)  # (g, F, B, opg)
    return Y.permute(2, 0, 3, 1).reshape(B, Cout, *fshape)


def fft_correlate_valid(x: torch.Tensor, w: torch.Tensor, groups: int = 1) -> torch.Tensor:
    """Valid cross-correlation by FFT.

    x: (B, Cin, H, W), w: (Cout, Cin/groups, kH, kW) -> (B, Cout, H-kH+1, W-kW+1).

    Only the valid part is kept, so a circular FFT of length >= H is enough:
    no output ever wraps. Correlation uses the conjugate kernel spectrum.
    """
    H, W = x.shape[-2:]
    kH, kW = w.shape[-2:]
    fH, fW = fast_len(H), fast_len(W)
    X = torch.fft.rfft2(x, s=(fH, fW))  # (B, Cin, fH, fW//2+1)
    Wf = torch.fft.rfft2(w, s=(fH, fW)).conj()  # (Cout, cpg, fH, fW//2+1)
    Y = mix_channels(X, Wf, groups)
    y = torch.fft.irfft2(Y, s=(fH, fW))
    return y[..., : H - kH + 1, : W - kW + 1]


def oa_correlate_valid(
    x: torch.Tensor, w: torch.Tensor, groups: int = 1, block: int | None = None
) -> torch.Tensor:
    """Valid cross-correlation by overlap-add, like ``scipy.signal.oaconvolve``.

    The input is cut into non-overlapping blocks; each block is convolved with
    the (flipped) kernel by a small FFT, and the block results are summed where
    they overlap (``F.fold``). Memory per FFT stays bounded by the block size.
    """
    B, Cin, H, W = x.shape
    Cout, _, kH, kW = w.shape
    if block is None:
        # scipy's rule of thumb: blocks a few times the kernel, FFT length fast.
        block = max(32, 4 * max(kH, kW))
    tH, tW = min(block, H), min(block, W)
    nbh, nbw = -(-H // tH), -(-W // tW)
    xp = torch.nn.functional.pad(x, (0, nbw * tW - W, 0, nbh * tH - H))
    # (B, Cin, nbh, tH, nbw, tW) -> (B*nbh*nbw, Cin, tH, tW)
    blocks = xp.reshape(B, Cin, nbh, tH, nbw, tW).permute(0, 2, 4, 1, 3, 5).reshape(-1, Cin, tH, tW)
    pH, pW = tH + kH - 1, tW + kW - 1  # full-convolution size of one block
    fH, fW = fast_len(pH), fast_len(pW)
    Xb = torch.fft.rfft2(blocks, s=(fH, fW))
    Wf = torch.fft.rfft2(w.flip(-2, -1), s=(fH, fW))  # convolution with the flipped kernel
    yb = torch.fft.irfft2(mix_channels(Xb, Wf, groups), s=(fH, fW))[..., :pH, :pW]
    # (B*nbh*nbw, Cout, pH, pW) -> fold: (B, Cout*pH*pW, nbh*nbw)
    cols = yb.reshape(B, nbh * nbw, Cout * pH * pW).transpose(1, 2)
    full = torch.nn.functional.fold(
        cols, output_size=(nbh * tH + kH - 1, nbw * tW + kW - 1), kernel_size=(pH, pW), stride=(tH, tW)
    )
    return full[..., kH - 1 : H, kW - 1 : W]

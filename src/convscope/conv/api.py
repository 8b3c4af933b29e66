"""Public convolution functions.

Two families share one engine:

* ``convolve2d`` / ``correlate2d``: image filtering with scipy.signal semantics
  (``mode``, ``boundary``), true convolution flips the kernel.
* ``conv2d`` / ``conv_transpose2d``: CNN layers with torch.nn.functional
  semantics (cross-correlation, stride, padding, dilation, groups).

Every ``method`` (``direct``, ``fft``, ``overlap_add``) gives the same answer
within floating-point tolerance; ``auto`` picks the fastest.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from .._arrays import as_tensor, restore
from .._checks import check_ndim, check_option, check_pair, fail
from .padding import BOUNDARIES, pad2d
from .select import choose_method
from .spatial import direct_correlate_valid
from .spectral import fft_correlate_valid, oa_correlate_valid

__all__ = ["convolve2d", "correlate2d", "conv2d", "conv_transpose2d", "MODES", "BOUNDARIES", "METHODS"]

MODES = ("full", "same", "valid")
METHODS = ("auto", "direct", "fft", "overlap_add")
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _valid_correlate(x: torch.Tensor, w: torch.Tensor, groups: int, method: str) -> torch.Tensor:
    """Stride-1 valid cross-correlation through the chosen method."""
    if method == "auto":
        if not bool(torch.isfinite(x).all()) or not bool(torch.isfinite(w).all()):
            method = "direct"  # an FFT would smear one NaN/Inf over the whole output
        else:
            B, Cin, H, W = x.shape
            Cout, _, kH, kW = w.shape
            method = choose_method(B, Cin, Cout, groups, H, W, kH, kW).method
    elif method in ("fft", "overlap_add"):
        if not bool(torch.isfinite(x).all()) or not bool(torch.isfinite(w).all()):
            raise ValueError(
                f"method={method!r} needs finite input and kernel (an FFT spreads one NaN/Inf over "
                "the whole output), got non-finite values; use method='direct' or 'auto'"
            )
    if method == "direct":
        return direct_correlate_valid(x, w, groups)
    if method == "fft":
        return fft_correlate_valid(x, w, groups)
    return oa_correlate_valid(x, w, groups)


# --------------------------------------------------------------------------------------
# image filtering: scipy semantics


def _filter(image, kernel, mode, boundary, method, *, flip: bool):
    mode = check_option("mode", mode, MODES)
    boundary = check_option("boundary", boundary, BOUNDARIES)
    method = check_option("method", method, METHODS)
    x, origin = as_tensor(image, "image")
    nd = check_ndim("image", x, (2, 3, 4), "(H, W), (C, H, W) or (B, C, H, W)")
    k, _ = as_tensor(kernel, "kernel", dtype=x.dtype)
    k = k.to(x.device)
    check_ndim("kernel", k, (2, 3), "(kH, kW) or (C, kH, kW)")
    x4 = x.reshape((1,) * (4 - nd) + tuple(x.shape))
    B, C, H, W = x4.shape
    if k.ndim == 3 and k.shape[0] != C:
        raise fail("kernel", f"(kH, kW) or ({C}, kH, kW) to match the image's {C} channels", k)
    if min(x4.shape[-2:]) == 0 or min(k.shape[-2:]) == 0:
        raise fail("image and kernel", "non-empty", f"image {tuple(x.shape)}, kernel {tuple(k.shape)}")
    kH, kW = k.shape[-2:]
    if flip:
        k = k.flip(-2, -1)  # true convolution = correlation with the flipped kernel
    swap = False
    if mode == "valid" and (kH > H or kW > W):
        if kH >= H and kW >= W and k.ndim == 2 and B * C == 1:
            swap = True  # scipy swaps the inputs; convolution is commutative
        else:
            raise fail("kernel", f"no larger than the image ({H}, {W}) in 'valid' mode", k)
    if swap:
        # conv(x, k) == conv(k, x): correlate the (unflipped) kernel with the flipped image.
        a = (k.flip(-2, -1) if flip else k).reshape(1, 1, kH, kW)
        b = x4.reshape(1, 1, H, W)
        if flip:
            out = _valid_correlate(a, b.flip(-2, -1), 1, method)
        else:  # scipy: correlate2d(in1, in2) with in2 bigger = correlate2d(in2, in1) rotated
            out = _valid_correlate(a, b, 1, method).flip(-2, -1)
        return restore(out.reshape(tuple(x.shape[:-2]) + tuple(out.shape[-2:])), origin)
    if mode == "full":
        pads = (kH - 1, kH - 1, kW - 1, kW - 1)
    elif mode == "same":
        # centred on the full output as scipy does: offset (M-1)//2 for convolution,
        # M//2 for correlation (they differ only for even kernel sizes)
        if flip:
            pads = (kH // 2, (kH - 1) // 2, kW // 2, (kW - 1) // 2)
        else:
            pads = ((kH - 1) // 2, kH // 2, (kW - 1) // 2, kW // 2)
    else:
        pads = (0, 0, 0, 0)
    xp = pad2d(x4, pads, boundary)
    if k.ndim == 2:  # one kernel for every channel: fold channels into the batch
        out = _valid_correlate(xp.reshape(B * C, 1, *xp.shape[-2:]), k[None, None], 1, method)
        out = out.reshape(B, C, *out.shape[-2:])
    else:  # one kernel per channel: depthwise
        out = _valid_correlate(xp, k[:, None], C, method)
    return restore(out.reshape(tuple(x.shape[:-2]) + tuple(out.shape[-2:])), origin)


def convolve2d(image, kernel, *, mode: str = "same", boundary: str = "zeros", method: str = "auto"):
    """True 2-D convolution of every channel with a kernel (scipy semantics).

    ``feature_map = input ⊛ kernel``, one feature map per channel.

    Args:
        image: (H, W), (C, H, W) or (B, C, H, W); numpy array or torch tensor.
            uint8/int are promoted to float32; float32/float64 are kept.
        kernel: (kH, kW) applied to every channel, or (C, kH, kW), one per channel.
        mode: ``full`` (N+M-1), ``same`` (N, centred as scipy) or ``valid`` (N-M+1).
        boundary: ``zeros``, ``reflect``, ``symmetric``, ``replicate`` or ``circular``
            (numpy.pad meanings); applies to ``same`` and ``full``.
        method: ``auto``, ``direct``, ``fft`` or ``overlap_add``.

    Returns:
        The feature map(s), same kind (numpy/torch) and layout as ``image``.

    Example:
        >>> import numpy as np
        >>> from convscope.kernels import get_kernel
        >>> out = convolve2d(np.ones((5, 5)), get_kernel("laplacian8"))
        >>> float(out[2, 2])  # the seed's Laplacian is 0 on a flat image
        0.0
    """
    return _filter(image, kernel, mode, boundary, method, flip=True)


def correlate2d(image, kernel, *, mode: str = "same", boundary: str = "zeros", method: str = "auto"):
    """2-D cross-correlation (kernel not flipped), scipy.signal.correlate2d semantics.

    Arguments as :func:`convolve2d`.
    """
    return _filter(image, kernel, mode, boundary, method, flip=False)


# --------------------------------------------------------------------------------------
# CNN layers: torch semantics


def _dilate(w: torch.Tensor, d: tuple[int, int]) -> torch.Tensor:
    """Insert d-1 zeros between kernel taps (dilation as a bigger, sparse kernel)."""
    if d == (1, 1):
        return w
    kH, kW = w.shape[-2:]
    out = w.new_zeros(*w.shape[:-2], (kH - 1) * d[0] + 1, (kW - 1) * d[1] + 1)
    out[..., :: d[0], :: d[1]] = w
    return out


def _strided_valid(x: torch.Tensor, w: torch.Tensor, groups: int, stride: tuple[int, int], method: str):
    """Valid correlation with stride, computing no output that is thrown away.

    Polyphase: with stride s, ``y[i] = sum_p sum_j x[s*i + s*j + p] w[s*j + p]``, so the
    s*s phases of input and kernel become extra input channels of a stride-1 problem
    on an s-times smaller grid.
    """
    sH, sW = stride
    if (sH, sW) == (1, 1):
        return _valid_correlate(x, w, groups, method)
    B, Cin, H, W = x.shape
    Cout, cpg, kH, kW = w.shape
    oH, oW = (H - kH) // sH + 1, (W - kW) // sW + 1
    # pad kernel to a multiple of the stride; input to cover every phase
    kHp, kWp = -(-kH // sH) * sH, -(-kW // sW) * sW
    wp = F.pad(w, (0, kWp - kW, 0, kHp - kH))
    Hn, Wn = (oH - 1 + kHp // sH) * sH, (oW - 1 + kWp // sW) * sW
    xp = F.pad(x[..., : min(H, Hn), : min(W, Wn)], (0, max(Wn - W, 0), 0, max(Hn - H, 0)))
    # (B, Cin, Hn/s, sH, Wn/s, sW) -> (B, Cin*sH*sW, Hn/s, Wn/s), phases grouped by channel
    xs = xp.reshape(B, Cin, Hn // sH, sH, Wn // sW, sW).permute(0, 1, 3, 5, 2, 4)
    xs = xs.reshape(B, Cin * sH * sW, Hn // sH, Wn // sW)
    ws = wp.reshape(Cout, cpg, kHp // sH, sH, kWp // sW, sW).permute(0, 1, 3, 5, 2, 4)
    ws = ws.reshape(Cout, cpg * sH * sW, kHp // sH, kWp // sW)
    return _valid_correlate(xs, ws, groups, method)[..., :oH, :oW]


def _check_weight(input: torch.Tensor, weight: torch.Tensor, groups: int, transposed: bool):
    if input.ndim not in (3, 4):
        raise fail("input", "of shape (B, C, H, W) or (C, H, W)", input)
    if weight.ndim != 4:
        raise fail("weight", "of shape (C_out, C_in/groups, kH, kW)", weight)
    if groups < 1:
        raise fail("groups", "a positive integer", groups)
    C = input.shape[-3]
    if transposed:
        if weight.shape[0] != C or C % groups:
            raise fail("weight", f"of shape ({C}, C_out/groups, kH, kW) with {C} divisible by groups={groups}", weight)
    else:
        if C % groups or weight.shape[0] % groups or weight.shape[1] * groups != C:
            raise fail(
                "weight", f"of shape (C_out, {C}/groups={C // groups if C % groups == 0 else '?'}, kH, kW) with C_out divisible by groups={groups}", weight
            )


def conv2d(
    input,
    weight,
    bias=None,
    stride=1,
    padding: Any = 0,
    dilation=1,
    groups: int = 1,
    *,
    padding_mode: str = "zeros",
    method: str = "auto",
):
    """Drop-in for ``torch.nn.functional.conv2d`` with a choice of ``method``.

    Cross-correlation, as in torch. ``padding`` is an int, a pair, ``"same"`` or
    ``"valid"``; ``padding_mode`` is ``zeros``, ``reflect``, ``replicate`` or
    ``circular`` (as ``torch.nn.Conv2d``).

    Shape:
        input (B, C_in, H, W) or (C_in, H, W); weight (C_out, C_in/groups, kH, kW);
        output (B, C_out, H_out, W_out).

    Example:
        >>> x, w = torch.randn(2, 4, 16, 16), torch.randn(8, 4, 5, 5)
        >>> torch.allclose(conv2d(x, w, method="fft"), F.conv2d(x, w), atol=1e-4)
        True
    """
    method = check_option("method", method, METHODS)
    padding_mode = check_option("padding_mode", padding_mode, PADDING_MODES)
    x, origin = as_tensor(input, "input")
    w, _ = as_tensor(weight, "weight", dtype=x.dtype)
    w = w.to(x.device)
    _check_weight(x, w, groups, False)
    unbatched = x.ndim == 3
    if unbatched:
        x = x.unsqueeze(0)
    stride = check_pair("stride", stride, min_value=1)
    dilation = check_pair("dilation", dilation, min_value=1)
    kH, kW = w.shape[-2:]
    if isinstance(padding, str):
        p = check_option("padding", padding, ("same", "valid"))
        if p == "same" and stride != (1, 1):
            raise fail("padding", "'valid' or numeric when stride > 1 ('same' needs stride 1)", padding)
        if p == "valid":
            pads = (0, 0, 0, 0)
        else:
            tH, tW = dilation[0] * (kH - 1), dilation[1] * (kW - 1)
            pads = (tH // 2, tH - tH // 2, tW // 2, tW - tW // 2)
    else:
        ph, pw = check_pair("padding", padding, min_value=0)
        pads = (ph, ph, pw, pw)
    xp = pad2d(x, pads, padding_mode) if any(pads) else x
    if xp.shape[-2] < dilation[0] * (kH - 1) + 1 or xp.shape[-1] < dilation[1] * (kW - 1) + 1:
        raise fail("input", "at least the dilated kernel size after padding", tuple(xp.shape))
    if method == "direct":
        out = F.conv2d(xp, w, None, stride, 0, dilation, groups)
    else:
        out = _strided_valid(xp, _dilate(w, dilation), groups, stride, method)
    if bias is not None:
        b, _ = as_tensor(bias, "bias", dtype=x.dtype)
        out = out + b.to(x.device).reshape(1, -1, 1, 1)
    if unbatched:
        out = out.squeeze(0)
    return restore(out, origin)


def zero_insert(x: torch.Tensor, stride: tuple[int, int]) -> torch.Tensor:
    """Insert ``stride-1`` zeros between input samples (the 'fractional stride').

    >>> zero_insert(torch.ones(1, 1, 2, 2), (2, 2))[0, 0]
    tensor([[1., 0., 1.],
            [0., 0., 0.],
            [1., 0., 1.]])
    """
    sH, sW = stride
    if (sH, sW) == (1, 1):
        return x
    H, W = x.shape[-2:]
    out = x.new_zeros(*x.shape[:-2], (H - 1) * sH + 1, (W - 1) * sW + 1)
    out[..., ::sH, ::sW] = x
    return out


def conv_transpose2d(
    input,
    weight,
    bias=None,
    stride=1,
    padding=0,
    output_padding=0,
    groups: int = 1,
    dilation=1,
    *,
    method: str = "auto",
):
    """Drop-in for ``torch.nn.functional.conv_transpose2d``: the fractionally-strided convolution.

    Written out as the seed describes it: insert ``stride-1`` zeros between the
    input samples, then run a full convolution with the kernel (equivalently, a
    correlation with the spatially flipped, channel-transposed weight).

    Shape:
        input (B, C_in, H, W); weight (C_in, C_out/groups, kH, kW);
        output H_out = (H-1)*stride - 2*padding + dilation*(kH-1) + output_padding + 1.

    Example (the seed: a 3x3 input, a 3x3 kernel, stride 2 gives 5x5):
        >>> conv_transpose2d(torch.ones(1, 1, 3, 3), torch.ones(1, 1, 3, 3), stride=2, padding=1).shape
        torch.Size([1, 1, 5, 5])
    """
    method = check_option("method", method, METHODS)
    x, origin = as_tensor(input, "input")
    w, _ = as_tensor(weight, "weight", dtype=x.dtype)
    w = w.to(x.device)
    _check_weight(x, w, groups, True)
    unbatched = x.ndim == 3
    if unbatched:
        x = x.unsqueeze(0)
    stride = check_pair("stride", stride, min_value=1)
    padding = check_pair("padding", padding, min_value=0)
    output_padding = check_pair("output_padding", output_padding, min_value=0)
    dilation = check_pair("dilation", dilation, min_value=1)
    for i in range(2):
        if output_padding[i] >= max(stride[i], dilation[i]):
            raise fail("output_padding", "smaller than either stride or dilation", output_padding)
    if method == "direct":
        out = F.conv_transpose2d(x, w, None, stride, padding, output_padding, groups, dilation)
    else:
        out = _transpose_by_zero_insertion(x, w, stride, padding, output_padding, groups, dilation, method)
    if bias is not None:
        b, _ = as_tensor(bias, "bias", dtype=x.dtype)
        out = out + b.to(x.device).reshape(1, -1, 1, 1)
    if unbatched:
        out = out.squeeze(0)
    return restore(out, origin)


def transposed_weight(w: torch.Tensor, groups: int) -> torch.Tensor:
    """(C_in, C_out/g, kH, kW) -> (C_out, C_in/g, kH, kW), spatially flipped."""
    Cin, opg, kH, kW = w.shape
    wt = w.reshape(groups, Cin // groups, opg, kH, kW).transpose(1, 2).reshape(groups * opg, Cin // groups, kH, kW)
    return wt.flip(-2, -1)


def _transpose_by_zero_insertion(x, w, stride, padding, output_padding, groups, dilation, method):
    """Reference construction: zero insertion + full convolution."""
    kH, kW = w.shape[-2:]
    xz = zero_insert(x, stride)
    fullH, fullW = dilation[0] * (kH - 1), dilation[1] * (kW - 1)
    pads = (fullH - padding[0], fullH - padding[0] + output_padding[0], fullW - padding[1], fullW - padding[1] + output_padding[1])
    xp = pad2d(xz, pads, "zeros")
    wt = _dilate(transposed_weight(w, groups), dilation)
    return _valid_correlate(xp, wt, groups, method)

"""The fractionally-strided (transposed) convolution.

**The reference, as the seed describes it** (:func:`conv_transpose2d_reference`):
insert ``stride-1`` zeros between the input samples (:func:`zero_insert`), pad by
``dilation*(k-1) - padding``, then run a full convolution with the kernel, i.e. a
valid correlation with the spatially flipped, channel-transposed weight. A 3x3
input with a 3x3 kernel and stride 2 gives ``(3-1)*2 + 3 = 7`` full outputs, 5x5
with ``padding=1``:

>>> x, w = torch.ones(1, 1, 3, 3), torch.ones(1, 1, 3, 3)
>>> zero_insert(x, (2, 2)).shape
torch.Size([1, 1, 5, 5])
>>> conv_transpose2d_reference(x, w, stride=2, padding=1)[0, 0]
tensor([[1., 2., 1., 2., 1.],
        [2., 4., 2., 4., 2.],
        [1., 2., 1., 2., 1.],
        [2., 4., 2., 4., 2.],
        [1., 2., 1., 2., 1.]])

Three quarters of that zero-inserted input are zeros (for stride 2), so the fast
path never builds it. **Sub-pixel (polyphase) form**: output sample
``n = s*q + r`` only meets the kernel taps ``j = r + s*m``, so each of the
``s*s`` output phases is an ordinary stride-1 convolution of the *original*
input with a ``ceil(k/s)``-tap sub-kernel. All phases are one convolution with
``C_out*s*s`` output channels, whose results are interleaved (pixel shuffle).
That inner convolution runs through the same engine, direct or FFT, so large
kernels go to the frequency domain without the ``s²``-times larger transform.
Dilation is handled by dilating the kernel first.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .._arrays import as_tensor, restore
from .._checks import check_option, check_pair, fail
from .core import (
    METHODS,
    correlate_padded,
    dilate_kernel,
    layer_inputs,
    pick_method,
    problem,
    spectrum_cache_for,
)

__all__ = ["conv_transpose2d", "conv_transpose2d_reference", "zero_insert", "transposed_weight", "subpixel_weight"]


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


def transposed_weight(w: torch.Tensor, groups: int) -> torch.Tensor:
    """(C_in, C_out/g, kH, kW) -> (C_out, C_in/g, kH, kW), spatially flipped."""
    Cin, opg, kH, kW = w.shape
    wt = w.reshape(groups, Cin // groups, opg, kH, kW).transpose(1, 2).reshape(groups * opg, Cin // groups, kH, kW)
    return wt.flip(-2, -1)


def subpixel_weight(w: torch.Tensor, groups: int, stride: tuple[int, int]) -> torch.Tensor:
    """The ``s*s`` phase sub-kernels as one correlation weight.

    (C_in, C_out/g, kH, kW) -> (C_out*sH*sW, C_in/g, ceil(kH/sH), ceil(kW/sW)), output
    channels ordered (group, out channel, row phase, column phase):
    ``wc[(o, r), i, t] = w[i, o, r + s*(M-1-t)]``.
    """
    sH, sW = stride
    Cin, opg, kH, kW = w.shape
    MH, MW = -(-kH // sH), -(-kW // sW)
    wp = F.pad(w, (0, sW * MW - kW, 0, sH * MH - kH))  # taps beyond k are zero
    wp = wp.reshape(groups, Cin // groups, opg, MH, sH, MW, sW).flip(3, 5)  # tap j = m*s + r
    wp = wp.permute(0, 2, 4, 6, 1, 3, 5)  # (g, opg, sH, sW, cin/g, MH, MW)
    return wp.reshape(groups * opg * sH * sW, Cin // groups, MH, MW)


def _out_size(H, s, p, op, d, k):
    return (H - 1) * s - 2 * p + d * (k - 1) + op + 1


def _subpixel(x, w, stride, padding, output_padding, groups, dilation, method, spectrum_cache=None):
    """Sub-pixel fast path: one stride-1 correlation, then interleave the phases."""
    B, _Cin, H, W = x.shape
    sH, sW = stride
    wd = dilate_kernel(w, dilation)
    kH, kW = wd.shape[-2:]
    Cout = w.shape[1] * groups
    oH = _out_size(H, sH, padding[0], output_padding[0], 1, kH)
    oW = _out_size(W, sW, padding[1], output_padding[1], 1, kW)
    wc = subpixel_weight(wd, groups, stride)
    MH, MW = wc.shape[-2:]
    y = correlate_padded(x, wc, groups, (MH - 1, MH - 1, MW - 1, MW - 1), "zeros", method, spectrum_cache=spectrum_cache)
    QH, QW = y.shape[-2:]
    if (sH, sW) != (1, 1):  # (B, Cout*sH*sW, QH, QW) -> (B, Cout, QH*sH, QW*sW)
        y = y.reshape(B, Cout, sH, sW, QH, QW).permute(0, 1, 4, 2, 5, 3).reshape(B, Cout, QH * sH, QW * sW)
    # keep rows padding .. padding+oH of the full output; output_padding may need zeros past its end
    return F.pad(y, (-padding[1], oW + padding[1] - QW * sW, -padding[0], oH + padding[0] - QH * sH))


def conv_transpose2d_reference(
    input, weight, bias=None, stride=1, padding=0, output_padding=0, groups: int = 1, dilation=1, *, method: str = "direct"
):
    """The lecture notes' construction: zero insertion, then a full convolution with the kernel.

    Slow by design (it multiplies every inserted zero); it documents the
    definition and checks the fast paths. ``method`` runs the full convolution
    (``direct``, ``fft`` or ``overlap_add``).
    """
    x, origin, w, stride, padding, output_padding, dilation, unbatched = _prepare(
        input, weight, stride, padding, output_padding, groups, dilation
    )
    method = check_option("method", method, ("direct", "fft", "overlap_add"))
    kH, kW = w.shape[-2:]
    xz = zero_insert(x, stride)
    fullH, fullW = dilation[0] * (kH - 1), dilation[1] * (kW - 1)
    pads = (fullH - padding[0], fullH - padding[0] + output_padding[0], fullW - padding[1], fullW - padding[1] + output_padding[1])
    if min(pads) < 0:  # padding beyond the kernel crops the zero-inserted input
        xz = F.pad(xz, (min(pads[2], 0), min(pads[3], 0), min(pads[0], 0), min(pads[1], 0)))
        pads = tuple(max(p, 0) for p in pads)
    wt = dilate_kernel(transposed_weight(w, groups), dilation)
    out = correlate_padded(xz, wt, groups, pads, "zeros", method)
    return _finish(out, bias, x, origin, unbatched)


def _prepare(input, weight, stride, padding, output_padding, groups, dilation):
    x, w, origin, unbatched = layer_inputs(input, weight, groups, transposed=True)
    stride = check_pair("stride", stride, min_value=1)
    padding = check_pair("padding", padding, min_value=0)
    output_padding = check_pair("output_padding", output_padding, min_value=0)
    dilation = check_pair("dilation", dilation, min_value=1)
    for i in range(2):
        if output_padding[i] >= max(stride[i], dilation[i]):
            raise fail("output_padding", "smaller than either stride or dilation", output_padding)
    kH, kW = w.shape[-2:]
    oH = _out_size(x.shape[-2], stride[0], padding[0], output_padding[0], dilation[0], kH)
    oW = _out_size(x.shape[-1], stride[1], padding[1], output_padding[1], dilation[1], kW)
    if oH < 1 or oW < 1:
        raise fail("padding", f"small enough for a non-empty output (it would be {oH}x{oW})", padding)
    return x, origin, w, stride, padding, output_padding, dilation, unbatched


def _finish(out, bias, x, origin, unbatched):
    if bias is not None:
        b, _ = as_tensor(bias, "bias", dtype=x.dtype)
        out = out + b.to(x.device).reshape(1, -1, 1, 1)
    if unbatched:
        out = out.squeeze(0)
    return restore(out, origin)


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
    spectrum_cache: dict | None = None,
):
    """Drop-in for ``torch.nn.functional.conv_transpose2d``: the fractionally-strided convolution.

    Same result as :func:`conv_transpose2d_reference` (zero insertion + full
    convolution, the lecture notes' construction); ``direct`` runs torch's kernel, ``fft``
    and ``overlap_add`` the sub-pixel form with that inner method, never
    multiplying the inserted zeros. ``auto`` picks torch's kernel or the sub-pixel
    FFT (large kernels) with the cost model.

    Shape:
        input (B, C_in, H, W); weight (C_in, C_out/groups, kH, kW);
        output H_out = (H-1)*stride - 2*padding + dilation*(kH-1) + output_padding + 1.

    Example (the seed: a 3x3 input, a 3x3 kernel, stride 2 gives 5x5):
        >>> conv_transpose2d(torch.ones(1, 1, 3, 3), torch.ones(1, 1, 3, 3), stride=2, padding=1).shape
        torch.Size([1, 1, 5, 5])
    """
    method = check_option("method", method, METHODS)
    x, origin, w, stride, padding, output_padding, dilation, unbatched = _prepare(
        input, weight, stride, padding, output_padding, groups, dilation
    )
    if method == "auto":
        # torch's kernel, or the sub-pixel form with a spectral inner correlation (large kernels).
        # The sub-pixel form with a *direct* inner correlation is never a candidate: measured
        # here it loses to torch on DCGAN shapes (its full-size phase outputs and the
        # interleave cost more than the zeros it skips).
        p = problem(x, w, groups, (0, 0, 0, 0), cout=w.shape[1] * groups, stride=stride, dilation=dilation, transposed=True)
        method = pick_method("auto", p, x, w)
    else:
        method = pick_method(method, None, x, w)
    if method == "direct":
        out = F.conv_transpose2d(x, w, None, stride, padding, output_padding, groups, dilation)
    else:
        cache = spectrum_cache_for(spectrum_cache, w, stride, dilation)
        out = _subpixel(x, w, stride, padding, output_padding, groups, dilation, method, cache)
    return _finish(out, bias, x, origin, unbatched)


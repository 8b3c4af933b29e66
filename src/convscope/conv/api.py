"""Public convolution functions.

Two families share one engine:

* ``convolve2d`` / ``correlate2d``: image filtering with scipy.signal semantics
  (``mode``, ``boundary``), true convolution flips the kernel.
* ``conv2d`` / ``conv_transpose2d``: CNN layers with torch.nn.functional
  semantics (cross-correlation, stride, padding, dilation, groups).

Every ``method`` (``direct``, ``fft``, ``overlap_add``) gives the same answer
within floating-point tolerance; ``auto`` picks the fastest with the calibrated
cost model of :mod:`convscope.conv.select` (which may also pick OpenCV's
filter2D for image filtering), and uses a spatial method whenever the input or
kernel holds NaN/Inf (an FFT would smear them over the whole output).

Everything reduces to one primitive, :func:`correlate_padded`: a stride-1 valid
cross-correlation of an input extended by ``pads`` with a ``boundary``.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .._arrays import as_tensor, restore
from .._checks import check_ndim, check_option, check_pair, fail
from .padding import BOUNDARIES, pad2d
from .select import cached_choice
from .spatial import direct_correlate, opencv_correlate, opencv_ok, opencv_uses_dft
from .spectral import fft_correlate, fft_lengths, kernel_spectrum, oa_correlate_valid

__all__ = [
    "convolve2d",
    "correlate2d",
    "conv2d",
    "conv_transpose2d",
    "correlate_padded",
    "zero_insert",
    "MODES",
    "BOUNDARIES",
    "METHODS",
]

MODES = ("full", "same", "valid")
METHODS = ("auto", "direct", "fft", "overlap_add")
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
_SPECTRAL = ("fft", "overlap_add")


def all_finite(*ts: torch.Tensor) -> bool:
    """True when no tensor holds NaN/Inf; a sum (~20x cheaper than isfinite) decides most cases."""
    for t in ts:
        t = t.detach()
        if not math.isfinite(float(t.sum())) and not bool(torch.isfinite(t).all()):
            return False
    return True


def _nonfinite_error(method: str) -> ValueError:
    return ValueError(
        f"method must be 'direct' or 'auto' for non-finite input or kernel (an FFT spreads one "
        f"NaN/Inf over the whole output), got {method!r}"
    )


def _spatial_fallback(costs: dict[str, float], kH: int, kW: int, dtype) -> str:
    """The cheapest method that keeps NaN/Inf local."""
    ok = {m: c for m, c in costs.items() if m == "direct" or (m == "opencv" and not opencv_uses_dft(kH, kW, dtype))}
    return min(ok, key=ok.get)


def correlate_padded(
    x: torch.Tensor,
    w: torch.Tensor,
    groups: int = 1,
    pads: tuple[int, int, int, int] = (0, 0, 0, 0),
    boundary: str = "zeros",
    method: str = "auto",
    *,
    allow_opencv: bool = False,
    spectrum_cache: tuple[dict, tuple] | None = None,
) -> torch.Tensor:
    """Stride-1 valid cross-correlation of ``x`` extended by ``pads`` (top, bottom, left, right).

    x: (B, Cin, H, W), w: (Cout, Cin/groups, kH, kW) -> (B, Cout, H+pt+pb-kH+1, W+pl+pr-kW+1).
    ``allow_opencv``: the problem is a single kernel per plane (w is (1, 1, kH, kW)),
    so cv2.filter2D may be picked by ``auto``. ``spectrum_cache`` is ``(dict, key)``
    for reusing the kernel spectrum across calls (see :class:`convscope.conv.Conv2d`).
    """
    B, Cin, H, W = x.shape
    Cout, _, kH, kW = w.shape
    if method == "auto":
        training = torch.is_grad_enabled() and (x.requires_grad or w.requires_grad)
        ocv = allow_opencv and not training and opencv_ok(x, H, W, pads, boundary)
        choice = cached_choice(B, Cin, Cout, groups, H, W, kH, kW, pads, x.dtype, ocv, training)
        method = choice.method
        if (method in _SPECTRAL or (method == "opencv" and opencv_uses_dft(kH, kW, x.dtype))) and not all_finite(x, w):
            method = _spatial_fallback(choice.costs, kH, kW, x.dtype)
    elif method in _SPECTRAL and not all_finite(x, w):
        raise _nonfinite_error(method)
    if method == "opencv":
        xn = x.detach().reshape(B * Cin, H, W).numpy()
        out = opencv_correlate(xn, w.detach()[0, 0].contiguous().numpy(), pads, boundary)
        return torch.from_numpy(out).reshape(B, Cin, *out.shape[-2:])
    if boundary != "zeros":
        x, pads = pad2d(x, pads, boundary), (0, 0, 0, 0)
    if method == "direct":
        return direct_correlate(x, w, groups, pads)
    if method == "fft":
        spectrum = None
        if spectrum_cache is not None:
            store, key = spectrum_cache
            lengths = fft_lengths(H, W, kH, kW, pads)
            key = (*key, lengths, tuple(w.shape))
            spectrum = store.get(key)
            if spectrum is None:
                spectrum = kernel_spectrum(w, lengths)
                store.clear()  # one entry: bounded memory
                store[key] = spectrum
        return fft_correlate(x, w, groups, pads, spectrum=spectrum)
    pt, pb, pl, pr = pads
    return oa_correlate_valid(F.pad(x, (pl, pr, pt, pb)) if any(pads) else x, w, groups)


# --------------------------------------------------------------------------------------
# image filtering: scipy semantics


_NP_FLOAT = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


def _same_pads(kH: int, kW: int, flip: bool) -> tuple[int, int, int, int]:
    # centred on the full output as scipy does: offset (M-1)//2 for convolution,
    # M//2 for correlation (they differ only for even kernel sizes)
    if flip:
        return (kH // 2, (kH - 1) // 2, kW // 2, (kW - 1) // 2)
    return ((kH - 1) // 2, kH // 2, (kW - 1) // 2, kW // 2)


def _numpy_fast_path(image, kernel, mode, boundary, flip):
    """NumPy image + 2-D kernel that OpenCV can filter: no torch round trip (~5 us, not ~40 us).

    Returns None when the general path must run (the choice is not OpenCV,
    non-finite data with OpenCV's internal DFT, shapes OpenCV cannot map...).
    """
    tdt = _NP_FLOAT.get(image.dtype)
    if tdt is None or image.ndim not in (2, 3, 4) or mode == "valid" or 0 in image.shape:
        return None
    if isinstance(kernel, torch.Tensor):
        if kernel.requires_grad or kernel.device.type != "cpu":
            return None
        kernel = kernel.numpy()
    elif not isinstance(kernel, np.ndarray):
        return None
    if kernel.ndim != 2 or 0 in kernel.shape or kernel.dtype.kind != "f":
        return None
    H, W = image.shape[-2:]
    kH, kW = kernel.shape
    pads = (kH - 1, kH - 1, kW - 1, kW - 1) if mode == "full" else _same_pads(kH, kW, flip)
    if boundary != "zeros" and (max(pads[0], pads[1]) >= H or max(pads[2], pads[3]) >= W or min(H, W) < 2):
        return None
    N = image.size // (H * W)
    choice = cached_choice(N, 1, 1, 1, H, W, kH, kW, pads, tdt, True)
    if choice.method != "opencv":
        return None
    k = np.ascontiguousarray(kernel[::-1, ::-1] if flip else kernel, dtype=image.dtype)
    if opencv_uses_dft(kH, kW, tdt) and not (
        math.isfinite(float(image.sum())) and math.isfinite(float(k.sum()))
    ):
        return None  # NaN/Inf: the general path falls back to a spatial method
    out = opencv_correlate(np.ascontiguousarray(image).reshape(N, H, W), k, pads, boundary)
    return out.reshape(*image.shape[:-2], *out.shape[-2:])


def _filter(image, kernel, mode, boundary, method, *, flip: bool):
    mode = mode if mode in MODES else check_option("mode", mode, MODES)
    boundary = boundary if boundary in BOUNDARIES else check_option("boundary", boundary, BOUNDARIES)
    method = method if method in METHODS else check_option("method", method, METHODS)
    if method == "auto" and type(image) is np.ndarray:
        out = _numpy_fast_path(image, kernel, mode, boundary, flip)
        if out is not None:
            return out
    x, origin = as_tensor(image, "image")
    nd = check_ndim("image", x, (2, 3, 4), "(H, W), (C, H, W) or (B, C, H, W)")
    k, _ = as_tensor(kernel, "kernel", dtype=x.dtype)
    if k.device != x.device:
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
    if mode == "valid" and (kH > H or kW > W):
        if kH >= H and kW >= W and k.ndim == 2 and B * C == 1:
            # scipy swaps the inputs; convolution is commutative
            a = (k.flip(-2, -1) if flip else k).reshape(1, 1, kH, kW)
            b = x4.reshape(1, 1, H, W)
            if flip:
                out = correlate_padded(a, b.flip(-2, -1), 1, method=method)
            else:  # scipy: correlate2d(in1, in2) with in2 bigger = correlate2d(in2, in1) rotated
                out = correlate_padded(a, b, 1, method=method).flip(-2, -1)
            return restore(out.reshape(tuple(x.shape[:-2]) + tuple(out.shape[-2:])), origin)
        raise fail("kernel", f"no larger than the image ({H}, {W}) in 'valid' mode", k)
    if mode == "full":
        pads = (kH - 1, kH - 1, kW - 1, kW - 1)
    elif mode == "same":
        pads = _same_pads(kH, kW, flip)
    else:
        pads = (0, 0, 0, 0)
    if k.ndim == 2:  # one kernel for every channel: fold channels into the batch
        out = correlate_padded(x4.reshape(B * C, 1, H, W), k[None, None], 1, pads, boundary, method, allow_opencv=True)
        out = out.reshape(B, C, *out.shape[-2:])
    else:  # one kernel per channel: depthwise
        out = correlate_padded(x4, k[:, None], C, pads, boundary, method)
    return restore(out.reshape(tuple(x.shape[:-2]) + tuple(out.shape[-2:])), origin)


def convolve2d(image, kernel, *, mode: str = "same", boundary: str = "zeros", method: str = "auto"):
    """True 2-D convolution of every channel with a kernel (scipy semantics).

    ``feature_map = input ⊛ kernel``, one feature map per channel.

    Args:
        image: (H, W), (C, H, W) or (B, C, H, W); numpy array or torch tensor.
            uint8/int are promoted to float32; float32/float64 are kept. A dask array
            gives a dask array, lazily, chunk by chunk (:mod:`convscope.conv.chunked`).
        kernel: (kH, kW) applied to every channel, or (C, kH, kW), one per channel.
        mode: ``full`` (N+M-1), ``same`` (N, centred as scipy) or ``valid`` (N-M+1).
        boundary: ``zeros``, ``reflect``, ``symmetric``, ``replicate`` or ``circular``
            (numpy.pad meanings); applies to ``same`` and ``full``.
        method: ``auto``, ``direct``, ``fft`` or ``overlap_add``. ``auto`` may also use
            OpenCV's filter2D (CPU, no autograd); ``fft``/``overlap_add`` raise
            ``ValueError`` on non-finite input.

    Returns:
        The feature map(s), same kind (numpy/torch) and layout as ``image``.

    Example:
        >>> import numpy as np
        >>> from convscope.kernels import get_kernel
        >>> out = convolve2d(np.ones((5, 5)), get_kernel("laplacian8"))
        >>> float(out[2, 2])  # the seed's Laplacian is 0 on a flat image
        0.0
    """
    if type(image).__module__.startswith("dask."):  # larger than memory: chunk by chunk, lazily
        from .chunked import filter_dask
        return filter_dask(image, kernel, mode, boundary, method, inner=convolve2d, flip=True)
    return _filter(image, kernel, mode, boundary, method, flip=True)


def correlate2d(image, kernel, *, mode: str = "same", boundary: str = "zeros", method: str = "auto"):
    """2-D cross-correlation (kernel not flipped), scipy.signal.correlate2d semantics.

    Arguments as :func:`convolve2d`.

    Example:
        >>> import numpy as np
        >>> correlate2d(np.eye(3), np.array([[1.0, 2.0]]), mode="valid")
        array([[1., 0.],
               [2., 1.],
               [0., 2.]])
    """
    if type(image).__module__.startswith("dask."):  # larger than memory: chunk by chunk, lazily
        from .chunked import filter_dask
        return filter_dask(image, kernel, mode, boundary, method, inner=correlate2d, flip=False)
    return _filter(image, kernel, mode, boundary, method, flip=False)


# --------------------------------------------------------------------------------------
# CNN layers: torch semantics


def _pair(arg: str, v, min_value: int) -> tuple[int, int]:
    """check_pair with a fast path for the common plain-int / int-tuple cases (hot in CNNs)."""
    if type(v) is int and v >= min_value:
        return (v, v)
    if type(v) is tuple and len(v) == 2 and type(v[0]) is int and type(v[1]) is int and min(v) >= min_value:
        return v
    return check_pair(arg, v, min_value=min_value)


def dilate_kernel(w: torch.Tensor, d: tuple[int, int]) -> torch.Tensor:
    """Insert d-1 zeros between kernel taps (dilation as a bigger, sparse kernel)."""
    if d == (1, 1):
        return w
    kH, kW = w.shape[-2:]
    out = w.new_zeros(*w.shape[:-2], (kH - 1) * d[0] + 1, (kW - 1) * d[1] + 1)
    out[..., :: d[0], :: d[1]] = w
    return out


_dilate = dilate_kernel  # old private name


def polyphase(x: torch.Tensor, w: torch.Tensor, stride: tuple[int, int]):
    """Rewrite a strided valid correlation as a stride-1 one on an s-times smaller grid.

    With stride s, ``y[i] = sum_p sum_j x[s*i + s*j + p] w[s*j + p]``: the ``s*s``
    phases of input and kernel become extra input channels, so no output is
    computed only to be thrown away. Returns ``(xs, ws, (oH, oW))``.
    """
    sH, sW = stride
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
    return xs, ws, (oH, oW)


def _check_weight(input: torch.Tensor, weight: torch.Tensor, groups: int, transposed: bool):
    if input.ndim not in (3, 4):
        raise fail("input", "of shape (B, C, H, W) or (C, H, W)", input)
    if weight.ndim != 4:
        raise fail("weight", "of shape (C_out, C_in/groups, kH, kW)", weight)
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
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


@functools.lru_cache(maxsize=4096)
def _auto_conv2d(B, Cin, Cout, groups, H, W, kH, kW, pads, stride, dilation, dtype, training) -> tuple[str, dict]:
    """The model's choice for a conv2d signature (polyphase shapes when strided)."""
    kdH, kdW = dilation[0] * (kH - 1) + 1, dilation[1] * (kW - 1) + 1
    sH, sW = stride
    if stride == (1, 1):
        choice = cached_choice(B, Cin, Cout, groups, H, W, kdH, kdW, pads, dtype, False, training)
    else:
        Hp, Wp = H + pads[0] + pads[1], W + pads[2] + pads[3]
        choice = cached_choice(
            B, Cin * sH * sW, Cout, groups, -(-Hp // sH), -(-Wp // sW), -(-kdH // sH), -(-kdW // sW), (0, 0, 0, 0), dtype, False,
            training,
        )  # fmt: skip
    costs = dict(choice.costs)
    costs["direct"] = costs["direct"] * (kH * kW) / (kdH * kdW)  # torch skips the dilation holes
    return min(costs, key=costs.get), costs


def layer_inputs(input, weight, groups: int, *, transposed: bool):
    """The shared front of conv2d / conv_transpose2d: tensors, weight on the input's
    device and dtype, shape checks, and a batch dimension added to (C, H, W) input.

    Returns ``(x, w, origin, unbatched)``.
    """
    x, origin = as_tensor(input, "input")
    w, _ = as_tensor(weight, "weight", dtype=x.dtype)
    if w.device != x.device:
        w = w.to(x.device)
    _check_weight(x, w, groups, transposed)
    unbatched = x.ndim == 3
    if unbatched:
        x = x.unsqueeze(0)
    return x, w, origin, unbatched


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
    spectrum_cache: dict | None = None,
):
    """Drop-in for ``torch.nn.functional.conv2d`` with a choice of ``method``.

    Cross-correlation, as in torch. ``padding`` is an int, a pair, ``"same"`` or
    ``"valid"``; ``padding_mode`` is ``zeros``, ``reflect``, ``replicate`` or
    ``circular`` (as ``torch.nn.Conv2d``). ``fft`` multiplies spectra (the kernel
    dilated, strides as polyphase channels, so no discarded output is computed).
    ``spectrum_cache`` (a dict, used by :class:`convscope.conv.Conv2d`) keeps the
    kernel's spectrum between calls while the weight is unchanged and no gradient
    flows to it.

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
    x, w, origin, unbatched = layer_inputs(input, weight, groups, transposed=False)
    stride = _pair("stride", stride, 1)
    dilation = _pair("dilation", dilation, 1)
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
        ph, pw = _pair("padding", padding, 0)
        pads = (ph, ph, pw, pw)
    if padding_mode != "zeros" and any(pads):
        x, pads = pad2d(x, pads, padding_mode), (0, 0, 0, 0)
    B, Cin, H, W = x.shape
    kdH, kdW = dilation[0] * (kH - 1) + 1, dilation[1] * (kW - 1) + 1
    if H + pads[0] + pads[1] < kdH or W + pads[2] + pads[3] < kdW:
        raise fail("input", "at least the dilated kernel size after padding", (B, Cin, H + pads[0] + pads[1], W + pads[2] + pads[3]))
    b = None
    if bias is not None:
        b, _ = as_tensor(bias, "bias", dtype=x.dtype)
        if b.device != x.device:
            b = b.to(x.device)
    if method == "auto":
        training = torch.is_grad_enabled() and (x.requires_grad or w.requires_grad)
        method, _costs = _auto_conv2d(B, Cin, w.shape[0], groups, H, W, kH, kW, pads, stride, dilation, x.dtype, training)
        if method in _SPECTRAL and not all_finite(x, w):
            method = "direct"
    if method == "direct":
        if pads[0] == pads[1] and pads[2] == pads[3]:
            out = F.conv2d(x, w, b, stride, (pads[0], pads[2]), dilation, groups)
        else:
            out = F.conv2d(F.pad(x, (pads[2], pads[3], pads[0], pads[1])), w, b, stride, 0, dilation, groups)
    else:
        if not all_finite(x, w):
            raise _nonfinite_error(method)
        wd = dilate_kernel(w, dilation)
        cache = None
        if spectrum_cache is not None and not (torch.is_grad_enabled() and w.requires_grad):
            cache = (spectrum_cache, (w.data_ptr(), w._version, w.dtype, w.device, stride, dilation))
        if stride == (1, 1):
            out = correlate_padded(x, wd, groups, pads, "zeros", method, spectrum_cache=cache)
        else:
            xp = F.pad(x, (pads[2], pads[3], pads[0], pads[1])) if any(pads) else x
            xs, ws, (oH, oW) = polyphase(xp, wd, stride)
            out = correlate_padded(xs, ws, groups, (0, 0, 0, 0), "zeros", method, spectrum_cache=cache)[..., :oH, :oW]
        if b is not None:
            out = out + b.reshape(1, -1, 1, 1)
    if unbatched:
        out = out.squeeze(0)
    return restore(out, origin)


# the transposed convolution lives in its own module; re-exported here (it uses correlate_padded)
from .transposed import conv_transpose2d, zero_insert

"""Public convolution functions.

Two families share one engine:

* ``convolve2d`` / ``correlate2d``: image filtering with scipy.signal semantics
  (``mode``, ``boundary``), true convolution flips the kernel.
* ``conv2d``: the CNN layer with torch.nn.functional semantics
  (cross-correlation, stride, padding, dilation, groups); the transposed layer is
  in :mod:`convscope.conv.transposed`.

Every ``method`` (``direct``, ``fft``, ``overlap_add``) gives the same answer
within floating-point tolerance; ``auto`` picks the fastest with the planner of
:mod:`convscope.conv.planner` and the cost model of :mod:`convscope.conv.select`
(which may also pick OpenCV's filter2D for image filtering, and measures when the
model is unsure). The method rules and the one
primitive, :func:`~convscope.conv.core.correlate_padded`, live in
:mod:`convscope.conv.core`.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from .._arrays import as_tensor, restore
from .._checks import check_ndim, check_option, check_pair, fail
from .chunked import is_dask_array
from .core import (
    METHODS,
    ConvProblem,
    correlate_padded,
    dilate_kernel,
    layer_inputs,
    pick_method,
    problem,
    spectrum_cache_for,
)
from .padding import BOUNDARIES, MODES, PADDING_MODES, mode_pads, pad2d
from .planner import PLANNER, decide
from .spatial import cv2 as _cv2
from .spatial import opencv_border, opencv_correlate, opencv_uses_dft

__all__ = ["convolve2d", "correlate2d", "conv2d", "MODES", "BOUNDARIES", "METHODS"]


# --------------------------------------------------------------------------------------
# image filtering: scipy semantics


_NP_FLOAT = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}
_UNPLANNED = object()  # a key not planned yet (None is a plan: "not OpenCV")


class FastPlan(NamedTuple):
    """How OpenCV takes a numpy image-filtering call, decided once per key (see :func:`_fast_plan`)."""

    N: int  # planes: the product of the image's leading dimensions
    pads: tuple[int, int, int, int]  # (top, bottom, left, right) extension that mode asks for
    one_call: bool  # a single filter2D on the image itself gives the answer (one plane, same size, no wrap)
    anchor: tuple[int, int]  # filter2D's (x, y) anchor: the left and top pads
    border: int  # OpenCV's border flag for the boundary
    convert: bool  # the kernel's dtype differs from the image's: cast the (tiny) kernel
    dft: bool  # filter2D switches to its internal DFT, which spreads NaN/Inf


def _fast_plan(image, kernel, mode, boundary, flip, threads) -> FastPlan | None:
    """Decide once per (shapes, dtypes, mode, boundary, threads) whether OpenCV takes the call.

    Returns the :class:`FastPlan`, or None when the general path must run (the
    choice is not OpenCV, or shapes and dtypes OpenCV cannot map).
    """
    tdt = _NP_FLOAT.get(image.dtype)
    if tdt is None or image.ndim not in (2, 3, 4) or mode == "valid" or 0 in image.shape:
        return None
    if kernel.ndim != 2 or 0 in kernel.shape or kernel.dtype.kind != "f":
        return None
    H, W = image.shape[-2:]
    kH, kW = kernel.shape
    pads = mode_pads(mode, kH, kW, flip)
    if boundary != "zeros" and (max(pads[0], pads[1]) >= H or max(pads[2], pads[3]) >= W or min(H, W) < 2):
        return None
    N = image.size // (H * W)
    p = ConvProblem(N, 1, 1, 1, H, W, kH, kW, pads=pads, dtype=tdt, threads=threads, opencv=True)
    if decide(p).method != "opencv":
        return None
    return FastPlan(
        N=N,
        pads=pads,
        one_call=N == 1 and mode == "same" and boundary != "circular",
        anchor=(pads[2], pads[0]),
        border=opencv_border(boundary),
        convert=kernel.dtype != image.dtype,
        dft=opencv_uses_dft(kH, kW, tdt),
    )


def _numpy_fast_path(image, kernel, mode, boundary, flip):
    """NumPy image + 2-D kernel that OpenCV can filter: no torch round trip, no pass over the image.

    The decision and every check on shapes and dtypes are made once per key; a
    call then costs a dict lookup and filter2D itself (which copies the reversed
    view of the tiny kernel). Returns None when the general path must run (the
    choice is not OpenCV, non-finite data with OpenCV's internal DFT, shapes
    OpenCV cannot map...).
    """
    if type(kernel) is not np.ndarray:
        if not isinstance(kernel, torch.Tensor) or kernel.requires_grad or kernel.device.type != "cpu":
            return None
        kernel = kernel.numpy()
    key = (image.shape, image.dtype, kernel.shape, kernel.dtype, mode, boundary, flip, torch.get_num_threads())
    plans = PLANNER.opencv_plans
    plan = plans.get(key, _UNPLANNED)
    if plan is _UNPLANNED:
        plan = plans[key] = _fast_plan(image, kernel, mode, boundary, flip, key[-1])
        if len(plans) > 4096:
            plans.clear()
    if plan is None:
        return None
    k = kernel[::-1, ::-1] if flip else kernel
    if plan.convert:
        k = k.astype(image.dtype)  # the kernel only: tiny
    if plan.dft and not (math.isfinite(float(image.sum())) and math.isfinite(float(k.sum()))):
        return None  # NaN/Inf: the general path falls back to a spatial method
    if plan.one_call and image.flags.c_contiguous:  # filter2D on the plane as is
        anchor, border = plan.anchor, plan.border
        if image.ndim == 2:
            return _cv2.filter2D(image, -1, k, anchor=anchor, borderType=border)
        return _cv2.filter2D(image.reshape(image.shape[-2:]), -1, k, anchor=anchor, borderType=border).reshape(image.shape)
    H, W = image.shape[-2:]
    out = opencv_correlate(np.ascontiguousarray(image).reshape(plan.N, H, W), np.ascontiguousarray(k), plan.pads, boundary)
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
        pads = mode_pads("same", kH, kW, flip)
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
            ``ValueError`` on non-finite input. When the cost model is unsure between
            two methods for a shape, ``auto`` times both once (the first call of that
            shape is slower) and remembers the winner; ``CONVSCOPE_MEASURE=0`` turns
            that off.

    Returns:
        The feature map(s), same kind (numpy/torch) and layout as ``image``.

    See Also:
        correlate2d: the same without flipping the kernel.
        conv2d: the CNN layer (torch semantics: cross-correlation, channels, stride, groups).
        choose_method: which method ``auto`` picks for a problem, and the predicted seconds of each.
        filter_image: :func:`convscope.fourier.filter_image`, filtering by a mask in frequency.
        convolution_theorem: :func:`convscope.fourier.convolution_theorem`, space and frequency agree.

    Example:
        >>> import numpy as np
        >>> from convscope.kernels import get_kernel
        >>> out = convolve2d(np.ones((5, 5)), get_kernel("laplacian8"))
        >>> float(out[2, 2])  # the lecture notes' Laplacian is 0 on a flat image
        0.0
    """
    if is_dask_array(image):  # larger than memory: chunk by chunk, lazily
        from .chunked import filter_dask
        return filter_dask(image, kernel, mode, boundary, method, inner=convolve2d, flip=True)
    return _filter(image, kernel, mode, boundary, method, flip=True)


def correlate2d(image, kernel, *, mode: str = "same", boundary: str = "zeros", method: str = "auto"):
    """2-D cross-correlation (kernel not flipped), scipy.signal.correlate2d semantics.

    Arguments as :func:`convolve2d`.

    See Also:
        convolve2d: true convolution (the kernel flipped).
        conv2d: the CNN layer (torch semantics).
        choose_method: which method ``auto`` picks.

    Example:
        >>> import numpy as np
        >>> correlate2d(np.eye(3), np.array([[1.0, 2.0]]), mode="valid")
        array([[1., 0.],
               [2., 1.],
               [0., 2.]])
    """
    if is_dask_array(image):  # larger than memory: chunk by chunk, lazily
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

    See Also:
        convolve2d: image filtering, true convolution (scipy.signal semantics).
        conv_transpose2d: the fractionally-strided layer.
        choose_method: which method ``auto`` picks for a problem, and the predicted seconds of each.
        filter_image: :func:`convscope.fourier.filter_image`, filtering by a mask in frequency.
        convolution_theorem: :func:`convscope.fourier.convolution_theorem`, why the FFT path is exact.

    Example:
        >>> x, w = torch.randn(2, 4, 16, 16), torch.randn(8, 4, 5, 5)
        >>> torch.allclose(conv2d(x, w, method="fft"), F.conv2d(x, w), atol=1e-4)
        True
    """
    method = method if method in METHODS else check_option("method", method, METHODS)
    if padding_mode not in PADDING_MODES:
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
        method = pick_method("auto", problem(x, w, groups, pads, stride=stride, dilation=dilation), x, w)
    else:
        method = pick_method(method, None, x, w)
    if method == "direct":
        if pads[0] == pads[1] and pads[2] == pads[3]:
            out = F.conv2d(x, w, b, stride, (pads[0], pads[2]), dilation, groups)
        else:
            out = F.conv2d(F.pad(x, (pads[2], pads[3], pads[0], pads[1])), w, b, stride, 0, dilation, groups)
    else:
        wd = dilate_kernel(w, dilation)
        cache = spectrum_cache_for(spectrum_cache, w, stride, dilation)
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


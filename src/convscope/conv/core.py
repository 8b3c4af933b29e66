"""The engine's core: one primitive, one problem description, the method rules written once.

Every public function of :mod:`convscope.conv` (``convolve2d``, ``conv2d``,
``conv_transpose2d``) reduces to :func:`correlate_padded`: a stride-1 valid
cross-correlation of an input extended by ``pads`` with a ``boundary``. Both
:mod:`~convscope.conv.api` and :mod:`~convscope.conv.transposed` import this
module; it imports neither of them.

The method rules, in one place (:func:`pick_method`):

* ``auto`` asks :func:`convscope.conv.planner.decide` for the
  :class:`~convscope.conv.problem.ConvProblem` (the model, measured when unsure);
* while a gradient flows (``training``), the problem says so and the model adds
  the backward pass; OpenCV is never eligible then (it has no autograd);
* NaN/Inf in the input or the weight: an FFT (or OpenCV's internal DFT) would
  smear one bad value over the whole output, so ``auto`` falls back to the
  cheapest spatial method and an explicitly requested spectral method raises;
* the kernel-spectrum cache (:func:`spectrum_cache_for`) is keyed on the weight's
  storage, version counter, dtype, device, stride and dilation, and is never
  used while a gradient flows to the weight.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .._arrays import Origin, as_tensor
from .._checks import fail
from .padding import pad2d
from .planner import decide
from .problem import ConvProblem
from .spatial import direct_correlate, opencv_correlate, opencv_ok, opencv_uses_dft
from .spectral import fft_correlate, fft_lengths, kernel_spectrum, oa_correlate_valid

__all__ = [
    "METHODS",
    "SPECTRAL",
    "ConvProblem",
    "all_finite",
    "correlate_padded",
    "dilate_kernel",
    "is_training",
    "layer_inputs",
    "nonfinite_error",
    "pick_method",
    "problem",
    "spectrum_cache_for",
]

METHODS = ("auto", "direct", "fft", "overlap_add")
SPECTRAL = ("fft", "overlap_add")
_FLOATS = (torch.float32, torch.float64)
_TENSOR = Origin(False, None)  # "a tensor came in": restore() hands the tensor back as is


def is_training(x: torch.Tensor, w: torch.Tensor) -> bool:
    """A backward pass will follow: grad mode is on and the input or weight needs a gradient."""
    return torch.is_grad_enabled() and (x.requires_grad or w.requires_grad)


def all_finite(*ts: torch.Tensor) -> bool:
    """True when no tensor holds NaN/Inf; a sum (~20x cheaper than isfinite) decides most cases."""
    for t in ts:
        t = t.detach()
        if not math.isfinite(float(t.sum())) and not bool(torch.isfinite(t).all()):
            return False
    return True


def nonfinite_error(method: str) -> ValueError:
    return fail(
        "method",
        "'direct' or 'auto' for non-finite input or kernel (an FFT spreads one NaN/Inf over the whole output)",
        method,
    )


def _spreads_nonfinite(method: str, p: ConvProblem) -> bool:
    return method in SPECTRAL or (method == "opencv" and opencv_uses_dft(p.kH, p.kW, p.dtype))


def pick_method(method: str, problem: ConvProblem | None, *tensors: torch.Tensor) -> str:
    """The method rules: ``auto`` -> the choice for ``problem``, made safe for NaN/Inf.

    ``problem`` is only read for ``auto`` (pass None otherwise). A spectral method
    on non-finite data falls back to the cheapest spatial candidate under ``auto``
    and raises ``ValueError`` when it was asked for by name.
    """
    if method == "auto":
        choice = decide(problem)
        method = choice.method
        if _spreads_nonfinite(method, problem) and not all_finite(*tensors):
            ok = {m: c for m, c in choice.costs.items() if m == "direct" or (m == "opencv" and not _spreads_nonfinite(m, problem))}
            method = min(ok, key=ok.get) if ok else "direct"
        return method
    if method in SPECTRAL and not all_finite(*tensors):
        raise nonfinite_error(method)
    return method


def spectrum_cache_for(store: dict | None, w: torch.Tensor, stride=(1, 1), dilation=(1, 1)) -> tuple[dict, tuple] | None:
    """``(store, key)`` for reusing ``w``'s spectrum, or None while a gradient flows to ``w``."""
    if store is None or (torch.is_grad_enabled() and w.requires_grad):
        return None
    return store, (w.data_ptr(), w._version, w.dtype, w.device, tuple(stride), tuple(dilation))


def problem(x: torch.Tensor, w: torch.Tensor, groups: int, pads, *, cout: int | None = None, opencv: bool = False, **kw) -> ConvProblem:
    """The :class:`ConvProblem` of correlating ``x`` (B, Cin, H, W) with ``w`` (Cout, Cin/groups, kH, kW).

    ``cout`` overrides the output channels (a transposed weight is (Cin, Cout/groups, kH, kW)).
    """
    B, Cin, H, W = x.shape
    Cout, _, kH, kW = w.shape
    if cout is not None:
        Cout = cout
    return ConvProblem(
        B, Cin, Cout, groups, H, W, kH, kW, pads=pads, dtype=x.dtype, device=x.device.type,
        threads=torch.get_num_threads(), opencv=opencv, training=is_training(x, w), **kw,
    )  # fmt: skip


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
    from :func:`spectrum_cache_for`, for reusing the kernel spectrum across calls.
    """
    B, Cin, H, W = x.shape
    kH, kW = w.shape[-2:]
    if method == "auto":
        ocv = allow_opencv and not is_training(x, w) and opencv_ok(x, H, W, pads, boundary)
        method = pick_method("auto", problem(x, w, groups, tuple(pads), opencv=ocv), x, w)
    else:
        method = pick_method(method, None, x, w)
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
            lengths = fft_lengths(x.shape[-2], x.shape[-1], kH, kW, pads)
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
# the shared front of the CNN layers


def dilate_kernel(w: torch.Tensor, d: tuple[int, int]) -> torch.Tensor:
    """Insert d-1 zeros between kernel taps (dilation as a bigger, sparse kernel)."""
    if d == (1, 1):
        return w
    kH, kW = w.shape[-2:]
    out = w.new_zeros(*w.shape[:-2], (kH - 1) * d[0] + 1, (kW - 1) * d[1] + 1)
    out[..., :: d[0], :: d[1]] = w
    return out


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


def layer_inputs(input, weight, groups: int, *, transposed: bool):
    """The shared front of conv2d / conv_transpose2d: tensors, weight on the input's
    device and dtype, shape checks, and a batch dimension added to (C, H, W) input.

    Returns ``(x, w, origin, unbatched)``.
    """
    if (
        type(input) is torch.Tensor
        and type(weight) is torch.Tensor
        and input.dtype in _FLOATS
        and weight.dtype == input.dtype
        and weight.device == input.device
    ):  # the common case in a network: nothing to convert (saves two as_tensor calls)
        x, w, origin = input, weight, _TENSOR
    else:
        x, origin = as_tensor(input, "input")
        w, _ = as_tensor(weight, "weight", dtype=x.dtype)
        if w.device != x.device:
            w = w.to(x.device)
    _check_weight(x, w, groups, transposed)
    unbatched = x.ndim == 3
    if unbatched:
        x = x.unsqueeze(0)
    return x, w, origin, unbatched

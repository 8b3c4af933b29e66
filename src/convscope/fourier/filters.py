"""Frequency-domain filtering: masks (transfer functions) and filtering an image with one.

Filtering multiplies the image's spectrum by a real, radially symmetric mask
``H(f)`` and transforms back. By the convolution theorem that is a convolution
with the mask's inverse transform; without padding it is a *circular*
convolution, so what leaves one edge comes back at the opposite edge. Padding
(the lecture notes' "zero padding") gives the filter room so nothing wraps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import torch

from .._arrays import as_tensor, restore
from .._checks import check_float, check_option, fail
from ..conv import pad2d
from ._common import as_image, fast_len, radius_grid

__all__ = [
    "FILTER_KINDS",
    "FILTER_PROFILES",
    "PADS",
    "FilterSpec",
    "filter_image",
    "frequency_mask",
    "parse_filter",
    "transform_shape",
]

FILTER_KINDS = ("lowpass", "highpass", "bandpass", "bandstop")
FILTER_PROFILES = ("ideal", "gaussian", "butterworth")
PADS = ("zeros", "reflect", "none")


@dataclass(frozen=True)
class FilterSpec:
    """A mask described by its parameters, so it can be built for any grid.

    ``cutoff`` is one number (lowpass/highpass, or a band's centre with
    ``width``) or a ``(low, high)`` band, in cycles per pixel. See
    :func:`frequency_mask` for the meaning of each field.
    """

    kind: str
    cutoff: float | tuple[float, float]
    profile: str = "gaussian"
    order: float = 2.0
    width: float | None = None

    def __post_init__(self):
        kind, profile, order, center, width = _normalise(self.kind, self.cutoff, self.profile, self.order, self.width)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "profile", profile)
        object.__setattr__(self, "order", order)
        if kind in ("bandpass", "bandstop"):
            # store the band as its (low, high) edges: low*high = center**2, high-low = width
            if isinstance(self.cutoff, tuple | list):
                lo, hi = float(self.cutoff[0]), float(self.cutoff[1])
            else:
                lo = (math.sqrt(width**2 + 4 * center**2) - width) / 2
                hi = lo + width
            object.__setattr__(self, "cutoff", (lo, hi))
            object.__setattr__(self, "width", None)
        else:
            object.__setattr__(self, "cutoff", center)

    def mask(self, shape, *, shift: bool = True, dtype=torch.float64, device=None) -> torch.Tensor:
        """The mask on an ``(H, W)`` grid (see :func:`frequency_mask`)."""
        return frequency_mask(shape, self.kind, self.cutoff, profile=self.profile, order=self.order,
                              shift=shift, dtype=dtype, device=device)


def _normalise(kind, cutoff, profile, order, width):
    """Check and normalise once -> (kind, profile, order, center, width-or-None)."""
    kind = check_option("kind", kind, FILTER_KINDS)
    profile = check_option("profile", profile, FILTER_PROFILES)
    order = check_float("order", order, min_value=0.0, strict_min=True)
    band = kind in ("bandpass", "bandstop")
    if isinstance(cutoff, tuple | list):
        if not band:
            raise fail("cutoff", f"one number in (0, 0.5] for a {kind}", cutoff)
        if width is not None:
            raise fail("width", "None when cutoff is a (low, high) pair", width)
        if len(cutoff) != 2:
            raise fail("cutoff", "a (low, high) pair", cutoff)
        lo = check_float("cutoff[0]", cutoff[0], min_value=0.0, strict_min=True)
        hi = check_float("cutoff[1]", cutoff[1], min_value=0.0, max_value=0.5, strict_min=True)
        if lo >= hi:
            raise fail("cutoff", "a (low, high) pair with low < high", cutoff)
        return kind, profile, order, math.sqrt(lo * hi), hi - lo
    if isinstance(cutoff, torch.Tensor) and cutoff.numel() == 1:
        cutoff = float(cutoff)
    c = check_float("cutoff", cutoff, min_value=0.0, max_value=0.5, strict_min=True)
    if band:
        if width is None:
            raise fail("width", f"given (the band's width in cycles per pixel) when cutoff is one number for a {kind}", width)
        width = check_float("width", width, min_value=0.0, strict_min=True)
        return kind, profile, order, c, width
    if width is not None:
        raise fail("width", f"None for a {kind} (it sets a band's width)", width)
    return kind, profile, order, c, None


def _mask_from_radius(D: torch.Tensor, kind: str, profile: str, order: float, center: float, width: float | None):
    """H(D) in float64 for radius D (cycles per pixel)."""
    if kind in ("lowpass", "highpass"):
        u = D / center
    else:
        # the band variable of Gonzalez & Woods: |u| = 1 exactly at the band edges
        # D = low, high (low*high = center**2, high-low = width); u = 0 at the centre.
        if center == 0:
            u = D / width
        else:
            u = torch.where(D > 0, (D * D - center * center) / (D * width).clamp_min(1e-300),
                            torch.full_like(D, -math.inf))
    if profile == "ideal":
        H = (u.abs() <= 1 + 1e-12).to(torch.float64)
    elif profile == "gaussian":
        H = torch.exp(-0.5 * u * u)
    else:
        H = 1.0 / (1.0 + (u * u) ** order)
    if kind in ("highpass", "bandstop"):
        H = 1.0 - H
    return H


def frequency_mask(
    shape,
    kind: str,
    cutoff,
    *,
    profile: str = "gaussian",
    order: float = 2.0,
    width: float | None = None,
    shift: bool = True,
    dtype=torch.float64,
    device=None,
) -> torch.Tensor:
    """A radially symmetric transfer function ``H(|f|)`` on an ``(H, W)`` frequency grid.

    ``D = |f| = sqrt(fy**2 + fx**2)`` in cycles per pixel (0 to ~0.707 in the
    corners), ``D0 = cutoff``. Low-pass masks (Gonzalez & Woods conventions):

    ============ ================================ ===================
    profile      lowpass H(D)                     gain at D = D0
    ============ ================================ ===================
    ideal        1 if D <= D0 else 0              1 (edge included)
    gaussian     exp(-D**2 / (2 D0**2))           exp(-1/2) ≈ 0.6065
    butterworth  1 / (1 + (D/D0)**(2*order))      1/2
    ============ ================================ ===================

    ``highpass = 1 - lowpass`` for the same profile and cutoff (so the two sum
    to exactly 1; the ideal high-pass has gain 0 at D0, the Gaussian 0.3935,
    the Butterworth 1/2). Every low-pass has gain 1 at DC, every high-pass 0.
    The Butterworth is the *squared* form (``skimage.filters.butterworth``
    with ``squared_butterworth=True``); its amplitude form would be the square root.

    Bands use the variable ``u = (D**2 - C**2) / (D * Wb)`` with centre ``C``
    and width ``Wb``: ``bandpass`` is the low-pass formula with ``D/D0``
    replaced by ``u`` (ideal: ``|u| <= 1``), and ``bandstop = 1 - bandpass``.
    ``|u| = 1`` exactly at the edges ``low`` and ``high`` with
    ``high - low = Wb`` and ``low * high = C**2``, so both edges have the same
    gain as the low-pass at its cutoff, and the gain is 1 (bandpass) or 0
    (bandstop) at ``D = C``.

    Args:
        shape: ``(H, W)`` of the frequency grid (an image's last two dims).
        kind: ``lowpass``, ``highpass``, ``bandpass`` or ``bandstop``.
        cutoff: cycles per pixel, in (0, 0.5]. For bands, a ``(low, high)`` pair,
            or the centre ``C`` with ``width``.
        profile: ``ideal``, ``gaussian`` or ``butterworth``.
        order: the Butterworth order ``n`` (> 0; ignored by the other profiles).
        width: a band's width when ``cutoff`` is its centre.
        shift: centre zero frequency (for display); ``False`` gives numpy's FFT order.
        dtype, device: of the returned tensor.

    Returns:
        A real ``(H, W)`` tensor with values in [0, 1].

    Example:
        >>> m = frequency_mask((64, 64), "lowpass", 0.25, profile="butterworth")
        >>> float(m[32, 32]), float(m[32, 48])  # DC, and |f| = 16/64 = the cutoff
        (1.0, 0.5)
    """
    if isinstance(shape, int) or not hasattr(shape, "__len__") or len(shape) < 2:
        raise fail("shape", "an (H, W) pair of positive ints", shape, TypeError)
    H, W = (int(s) for s in tuple(shape)[-2:])
    if H < 1 or W < 1:
        raise fail("shape", "an (H, W) pair of positive ints", shape)
    kind, profile, order, center, width = _normalise(kind, cutoff, profile, order, width)
    D = radius_grid(H, W, shift=shift, device=device)
    return _mask_from_radius(D, kind, profile, order, center, width).to(dtype)


def parse_filter(text: str) -> FilterSpec:
    """Parse ``KIND:CUTOFF[:PROFILE[:ORDER]]``; bands take two numbers ``KIND:LOW:HIGH[:...]``.

    >>> parse_filter("lowpass:0.08:ideal")
    FilterSpec(kind='lowpass', cutoff=0.08, profile='ideal', order=2.0, width=None)
    >>> parse_filter("bandpass:0.05:0.15").cutoff
    (0.05, 0.15)
    """
    if not isinstance(text, str):
        raise fail("filter", "a string like 'lowpass:0.08' or 'bandpass:0.05:0.15:butterworth:4'", text, TypeError)
    parts = [p.strip() for p in text.split(":")]
    kind = check_option("filter kind", parts[0], FILTER_KINDS)
    nnum = 2 if kind in ("bandpass", "bandstop") else 1
    try:
        nums = [float(p) for p in parts[1 : 1 + nnum]]
        order = float(parts[2 + nnum]) if len(parts) > 2 + nnum else 2.0
    except ValueError as e:
        raise fail("filter", f"{kind}:" + ("LOW:HIGH" if nnum == 2 else "CUTOFF") + "[:PROFILE[:ORDER]] with numbers", text) from e
    if len(nums) != nnum or len(parts) > 3 + nnum:
        raise fail("filter", f"{kind}:" + ("LOW:HIGH" if nnum == 2 else "CUTOFF") + "[:PROFILE[:ORDER]]", text)
    profile = parts[1 + nnum] if len(parts) > 1 + nnum else "gaussian"
    cutoff = (nums[0], nums[1]) if nnum == 2 else nums[0]
    return FilterSpec(kind, cutoff, profile, order)


def transform_shape(shape, pad: str = "zeros") -> tuple[int, int]:
    """The ``(Hp, Wp)`` grid :func:`filter_image` transforms on for an image of ``shape``.

    ``pad="none"``: the image's own ``(H, W)``. Otherwise at least doubled
    (half the image on each side) and rounded up to a fast FFT length, so any
    filter whose spatial response decays within half the image cannot wrap.

    >>> transform_shape((100, 64)), transform_shape((100, 64), "none")
    ((200, 128), (100, 64))
    """
    pad = check_option("pad", pad, PADS)
    H, W = (int(s) for s in tuple(shape)[-2:])
    if pad == "none":
        return H, W
    return fast_len(2 * H), fast_len(2 * W)


@lru_cache(maxsize=32)
def _half_mask(spec: FilterSpec, Hp: int, Wp: int, dtype: torch.dtype, device: str) -> torch.Tensor:
    """The mask on the rfft half grid (Hp, Wp//2+1), unshifted, complex, cached per grid/dtype/device."""
    D = radius_grid(Hp, Wp, half=True, device=torch.device(device))
    if spec.kind in ("bandpass", "bandstop"):
        lo, hi = spec.cutoff
        center, width = math.sqrt(lo * hi), hi - lo
    else:
        center, width = spec.cutoff, None
    # stored complex: complex * complex is a plain vectorised loop, whereas
    # complex * real makes torch cast the mask element by element on every call
    return _mask_from_radius(D, spec.kind, spec.profile, spec.order, center, width).to(_complex(dtype))


def _complex(dtype: torch.dtype) -> torch.dtype:
    return torch.complex64 if dtype == torch.float32 else torch.complex128


def _half_from_full(mask: torch.Tensor) -> torch.Tensor:
    """Centred full (Hp, Wp) mask -> unshifted rfft half (Hp, Wp//2+1)."""
    return torch.fft.ifftshift(mask, dim=(-2, -1))[..., : mask.shape[-1] // 2 + 1]


def filter_image(image, mask_or_spec: Any, *, pad: str = "zeros"):
    """Filter every channel in the frequency domain: ``F⁻¹(F[image] · mask)``.

    Args:
        image: (H, W), (C, H, W) or (B, C, H, W); numpy array or torch tensor on
            any device. float32 stays float32 (complex64 spectra), float64 stays
            float64; integers are promoted to float32.
        mask_or_spec: what to multiply the spectrum by:

            * a :class:`FilterSpec`, or a string for :func:`parse_filter` such as
              ``"lowpass:0.08:ideal"`` — the mask is built (and cached) on the
              transform grid, so it means the same whatever the padding;
            * an array: a real, centred mask (as :func:`frequency_mask` returns)
              of shape :func:`transform_shape` ``(image.shape, pad)`` — the
              image's own ``(H, W)`` for ``pad="none"``. It should be symmetric
              (``H(f) == H(-f)``) for a real result; only its half is used.

        pad: ``zeros`` (linear convolution with a zero border: the lecture notes' zero
            padding, nothing wraps), ``reflect`` (mirror the image first, no dark
            border, nothing wraps) or ``none`` (circular: what leaves one edge
            comes back at the other).

    Returns:
        The filtered image, same shape, dtype and kind as ``image``.

    Example:
        >>> import numpy as np
        >>> x = np.random.default_rng(0).standard_normal((32, 32))
        >>> low = filter_image(x, "lowpass:0.1", pad="none")
        >>> high = filter_image(x, "highpass:0.1", pad="none")
        >>> bool(np.allclose(low + high, x))  # complementary masks
        True
    """
    pad = check_option("pad", pad, PADS)
    x, origin = as_image(image)
    H, W = x.shape[-2:]
    Hp, Wp = transform_shape((H, W), pad)
    real_dtype = x.dtype
    if isinstance(mask_or_spec, str):
        mask_or_spec = parse_filter(mask_or_spec)
    if isinstance(mask_or_spec, FilterSpec):
        half = _half_mask(mask_or_spec, Hp, Wp, real_dtype, str(x.device))
    else:
        try:
            m, _ = as_tensor(mask_or_spec, "mask_or_spec", dtype=real_dtype)
        except TypeError as e:
            raise fail("mask_or_spec", "a FilterSpec, a spec string like 'lowpass:0.08', or a real mask array",
                       type(mask_or_spec).__name__, TypeError) from e
        if tuple(m.shape[-2:]) != (Hp, Wp) or m.ndim > x.ndim:
            raise fail("mask_or_spec", f"a mask of shape {(Hp, Wp)} (transform_shape of the image with pad={pad!r})", m)
        half = _half_from_full(m.to(x.device)).to(_complex(real_dtype))
    if pad == "reflect":
        top, left = (Hp - H) // 2, (Wp - W) // 2
        xp = pad2d(x, (top, Hp - H - top, left, Wp - W - left), "reflect")
        X = torch.fft.rfft2(xp)
        X = X.mul_(half) if not X.requires_grad else X * half  # in place saves one spectrum-sized buffer
        y = torch.fft.irfft2(X, s=(Hp, Wp))[..., top : top + H, left : left + W]
    else:
        # zero padding at the bottom/right only: on a circular grid the gap
        # between the image and its periodic copy is the same wherever it sits.
        X = torch.fft.rfft2(x, s=(Hp, Wp))  # (..., Hp, Wp//2+1)
        X = X.mul_(half) if not X.requires_grad else X * half
        y = torch.fft.irfft2(X, s=(Hp, Wp))[..., :H, :W]
    return restore(y.contiguous(), origin)

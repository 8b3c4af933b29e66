"""Many steps of diffusion: literal repeated convolution, or exactly in the spectral domain.

One step moves the salt by a random jump with probability ``P(j)``:

    u_{n+1}(x) = sum_j P(j) u_n(x - j)

a *true* convolution (the kernel is flipped): salt at ``x - j`` arrives at
``x`` by the jump ``j``. With ``P`` from :func:`~convscope.diffusion.propagator`
the total salt is conserved wherever the boundary conserves it.

Boundaries (the engine's names, see ``convscope.conv``), and what they mean
for the salt:

* ``circular``: periodic; salt leaving one side enters the opposite one.
  Conserving, for any propagator.
* ``symmetric``: a mirror with the edge repeated (numpy ``symmetric``): a
  no-flux wall. Conserving when the propagator is symmetric in each axis
  (then every jump across the wall is matched by its mirror image).
* ``zeros``: absorbing; salt that jumps off the image is removed (the walk is
  killed on leaving), so the mass decreases monotonically.

Methods:

* ``iterate``: ``steps`` literal convolutions through the engine
  (:func:`convscope.conv.convolve2d`, ``mode="same"``, the chosen boundary).
  The reference; cost grows linearly with ``steps``.
* ``spectral``: exact, with a cost that does not depend on ``steps``. The
  step operator is diagonal in a known basis, so ``n`` steps are one
  multiplication by its eigenvalues to the power ``n``:

  - ``circular``: the DFT. Eigenvalues ``P̂(k) = sum_j P(j) e^{-2πi k·j/N}``
    (the propagator wrapped onto the image grid, so kernels larger than the
    image are handled as the engine's wrap-around padding does). Any propagator.
  - ``symmetric``: the DCT-II. Symmetric padding is the even, 2N-periodic
    extension of the image; a propagator with ``P(j_y, j_x) = P(-j_y, j_x) =
    P(j_y, -j_x)`` maps even extensions to even extensions, so iterating
    equals circular convolution of the extension, which the DCT-II
    diagonalises with eigenvalues ``sum_j P(j) cos(π k_y j_y / H) cos(π k_x j_x / W)``.
    Exact for such propagators of **any** size (the engine extends the mirror
    pattern periodically for pads wider than the image). A propagator that is
    not symmetric in each axis has no such basis (one step is then not even
    mass-conserving): ``spectral`` raises, ``auto`` iterates.
  - ``zeros``: the DST-I. Zero padding of width 1 equals the odd extension
    about the points ``-1`` and ``N`` (where it is 0), so for a propagator that
    is symmetric in each axis **and at most 3 wide in each axis** the step is
    diagonal in the DST-I basis ``sin(π k (x + 1) / (N + 1))`` with eigenvalues
    ``sum_j P(j) cos(π k_y j_y / (H + 1)) cos(π k_x j_x / (W + 1))``. For wider
    propagators the odd extension puts ``-u`` where zero padding puts ``0``,
    and absorbing boundaries are not a convolution power on any padded
    domain: one free-space convolution with the n-step propagator (then
    cropping) lets salt that stepped outside come back, so it equals the
    absorbing walk only while no salt can have reached the outside before the
    last step (the initial support widened by ``(steps - 1)`` jump radii stays
    inside the image); repeated squaring fails for the same reason. There is
    no exact fast form in general: ``spectral`` raises, ``auto`` iterates.

  The eigenvalue powers are formed in float64 as ``exp(steps log λ)`` (moduli
  below 1e-200 set to 0, so no slow subnormal numbers; relative error of a kept
  eigenvalue at most about ``460 eps = 1e-13`` whatever ``steps`` is) and the
  result is cast back to the image's dtype. ``circular`` runs on the image's
  device (torch FFT); ``symmetric`` and ``zeros`` go through ``scipy.fft`` on the CPU.
* ``auto``: ``spectral`` where it is exact (see :func:`spectral_exact`), else ``iterate``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import NamedTuple

import numpy as np
import scipy.fft
import torch

from .._arrays import as_tensor, restore
from .._checks import ArgumentError, ResourceError, check_int, check_ndim, check_option, fail
from .propagator import check_propagator, jump_grid

__all__ = ["BOUNDARIES", "METHODS", "diffuse", "spectral_exact", "mass", "entropy", "axis_symmetric"]

BOUNDARIES = ("circular", "symmetric", "zeros")
METHODS = ("auto", "iterate", "spectral")


def axis_symmetric(P, *, rtol: float = 1e-12) -> bool:
    """True when ``P`` equals its flip along each axis (to ``rtol`` of its largest entry)."""
    p = torch.as_tensor(np.asarray(P) if not isinstance(P, torch.Tensor) else P).to(torch.float64)
    tol = rtol * float(p.abs().max()) if p.numel() else 0.0
    return bool((p - p.flip(0)).abs().max() <= tol) and bool((p - p.flip(1)).abs().max() <= tol)


def spectral_exact(propagator, boundary: str) -> tuple[bool, str]:
    """Whether ``method="spectral"`` is exact for this propagator and boundary, and why.

    Example:
        >>> import numpy as np
        >>> P = np.full((5, 5), 1 / 25)
        >>> spectral_exact(P, "symmetric")[0], spectral_exact(P, "zeros")[0]
        (True, False)
    """
    boundary = check_option("boundary", boundary, BOUNDARIES)
    p = check_propagator(propagator)
    if boundary == "circular":
        return True, "circular: the DFT diagonalises every circular convolution"
    sym = axis_symmetric(p)
    if boundary == "symmetric":
        if sym:
            return True, "symmetric: propagator symmetric in each axis, so the DCT-II is exact"
        return False, (
            "symmetric boundary needs a propagator symmetric in each axis (P(-jy, jx) = P(jy, -jx) = P(jy, jx)) "
            "for the DCT to be exact"
        )
    kH, kW = p.shape
    if sym and kH <= 3 and kW <= 3:
        return True, "zeros: propagator symmetric in each axis and at most 3x3, so the DST-I is exact"
    return False, (
        "zeros (absorbing) boundary is exact spectrally (DST-I) only for a propagator symmetric in each axis "
        f"and at most 3x3, got shape {tuple(p.shape)}{'' if sym else ' and not symmetric in each axis'}"
    )


def _steps_list(steps) -> tuple[list[int], bool]:
    if isinstance(steps, Iterable) and not isinstance(steps, str | bytes | torch.Tensor | np.ndarray):
        lst = [check_int("steps", s, min_value=0) for s in steps]
        if not lst:
            raise fail("steps", "an int >= 0 or a non-empty list of them", steps)
        return lst, True
    if isinstance(steps, np.ndarray | torch.Tensor) and np.ndim(steps) == 1:
        return _steps_list([int(s) for s in steps.tolist()])
    return [check_int("steps", steps, min_value=0)], False


def diffuse(
    image,
    propagator,
    steps,
    *,
    boundary: str = "circular",
    method: str = "auto",
    progress: Callable[[Iterable], Iterable] | None = None,
    max_seconds: float | None = None,
):
    """Let the salt (pixel intensity) diffuse for ``steps`` steps of the propagator.

    ``u_{n+1}(x) = sum_j P(j) u_n(x - j)`` on every channel; see the module
    docstring for the exact meaning of each boundary and method.

    Args:
        image: (H, W), (C, H, W) or (B, C, H, W) concentrations (numpy or torch);
            float32/float64 are kept, integers become float32.
        propagator: (kH, kW), odd sizes, non-negative, summing to 1
            (from :func:`~convscope.diffusion.propagator`).
        steps: an int >= 0, or a list of them: then one frame per entry, in
            the order given, stacked along a new first axis. The spectral
            method transforms the image once and each frame costs one inverse
            transform; ``iterate`` records the frames in one pass.
        boundary: ``circular`` (periodic), ``symmetric`` (no-flux mirror,
            conserving) or ``zeros`` (absorbing).
        method: ``auto`` (spectral where exact, else iterate), ``iterate`` or
            ``spectral`` (raises ``ValueError`` where it would not be exact).
        progress: optional wrapper for the iterate loop (e.g. a tqdm factory).
        max_seconds: when iterating, time the first step, estimate the whole run and
            raise ``ResourceError`` (naming the exact fast alternative) if the estimate
            exceeds this; ``None`` (default) never refuses.

    Returns:
        Same kind, dtype and shape as ``image``; with a list of steps,
        ``(len(steps), *image.shape)``.

    Example:
        >>> import numpy as np
        >>> u = np.zeros((9, 9)); u[4, 4] = 1.0           # a drop of salt
        >>> P = np.zeros((3, 3)); P[1, 1] = 0.5; P[1, 0] = P[1, 2] = 0.25
        >>> v = diffuse(u, P, 2)
        >>> np.round(v[4, 2:7], 4), float(v.sum())
        (array([0.0625, 0.25  , 0.375 , 0.25  , 0.0625]), 1.0)
    """
    boundary = check_option("boundary", boundary, BOUNDARIES)
    method = check_option("method", method, METHODS)
    step_list, many = _steps_list(steps)
    x, origin = as_tensor(image, "image")
    check_ndim("image", x, (2, 3, 4), "(H, W), (C, H, W) or (B, C, H, W)")
    if min(x.shape[-2:]) == 0:
        raise fail("image", "non-empty", x)
    if not bool(torch.isfinite(x).all()):
        raise fail("image", "finite (concentrations)", x)
    p = check_propagator(propagator, dtype=torch.float64)
    if method in ("auto", "spectral"):
        ok, why = spectral_exact(p, boundary)
        if method == "spectral" and not ok:
            raise ArgumentError(f"method='spectral' is not exact here: {why}; use method='iterate' or 'auto'")
        method = "spectral" if ok else "iterate"
    if method == "spectral":
        frames = _spectral(x, p, step_list, boundary)
    else:
        frames = _iterate(x, p, step_list, boundary, progress, max_seconds)
    out = torch.stack(frames) if many else frames[0]
    return restore(out, origin)


def _too_slow(x: torch.Tensor, p: torch.Tensor, n: int, boundary: str, one_step_s: float, limit: float) -> Exception:
    est = one_step_s * n
    when = f"{est / 3600:.1f} hours" if est > 5400 else f"{est / 60:.1f} minutes" if est > 90 else f"{est:.0f} s"
    if boundary != "circular" and not axis_symmetric(p):
        fast = ("boundary='circular' is exact by FFT for any propagator, at a cost independent of the steps; "
                "with walls, a propagator symmetric in each axis (e.g. from a gaussian kernel) is exact by DCT/DST")
    else:
        fast = "method='spectral' (or 'auto') is exact here, at a cost independent of the steps"
    return ResourceError(
        f"steps: iterating {n:,} steps on {tuple(x.shape[-2:])} would take about {when} "
        f"(one step took {1e3 * one_step_s:.2f} ms), above the limit of {limit:g} s; {fast}; "
        "or allow the slow run (max_seconds=None; the CLI's --allow-slow)"
    )


def _iterate(x: torch.Tensor, p: torch.Tensor, steps: list[int], boundary: str, progress,
             max_seconds: float | None = None) -> list[torch.Tensor]:
    import time

    from ..conv import convolve2d

    k = p.to(dtype=x.dtype, device=x.device)
    shape = x.shape
    u = x.reshape(-1, *shape[-2:])  # (N, H, W): every channel diffuses on its own
    want: dict[int, torch.Tensor] = {}
    todo = sorted(set(steps))
    if 0 in todo:
        want[0] = u.clone()
    top = max(todo)
    start = 1
    if max_seconds is not None and top > 0:  # estimate from the first steps before committing to all
        dt = float("inf")
        for n in range(1, min(top, 2) + 1):  # the faster of two: the first may carry one-off set-up
            t0 = time.perf_counter()
            u = convolve2d(u, k, mode="same", boundary=boundary)
            dt = min(dt, time.perf_counter() - t0)
            if n in todo:
                want[n] = u
        if top * dt > max_seconds:
            raise _too_slow(x, p, top, boundary, dt, max_seconds)
        start = min(top, 2) + 1
    rng = range(start, top + 1)
    for n in progress(rng) if progress is not None else rng:
        u = convolve2d(u, k, mode="same", boundary=boundary)
        if n in todo:
            want[n] = u
    return [want[s].reshape(shape) for s in steps]


# |λ|^s below e^-460 (1e-200) is flushed to 0: it is negligible next to any result, and left
# alone it (or its products inside the inverse transform) could become a subnormal number,
# which the CPU handles ~100x slower.
_FLUSH = -460.0


class _LogEigen(NamedTuple):
    """``log λ`` of the step operator in its eigenbasis, ready for any power."""

    log: np.ndarray  # real log|λ| (real λ) or complex log λ
    negative: np.ndarray | None  # where a real λ < 0 (its odd powers are negative)


def _power(le: _LogEigen, s: int) -> np.ndarray:
    """``λ ** s`` as ``exp(s log λ)``; moduli below 1e-200 become exactly 0.

    numpy's exp is vectorised (SIMD), several times faster than ``numpy.power``.
    Relative error of each kept entry: about ``|s log|λ|| eps <= 460 eps`` (1e-13)
    however large ``s`` is, plus ``s |arg λ| eps`` in the phase of a complex
    entry (a propagator with ``P(j) != P(-j)``).
    """
    e = le.log * s
    np.putmask(e, (e.real if np.iscomplexobj(e) else e) < _FLUSH, -np.inf)  # exp(-inf) = 0
    with np.errstate(under="ignore"):
        np.exp(e, out=e)
    if le.negative is not None and s % 2 == 1:
        np.negative(e, out=e, where=le.negative)
    return e


def _sandwich(a: np.ndarray, p: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ p @ b.T`` for a small ``p``, without BLAS.

    A sum of ``kW`` outer products: multi-threaded BLAS on a thin (H, kW) x (kW, W)
    product gains nothing and, on a shared machine, loses tens of milliseconds
    to thread hand-offs.
    """
    left = np.einsum("ha,ab->hb", a, p)  # (H, kW), tiny
    out = np.multiply.outer(left[:, 0], b[:, 0])
    for j in range(1, p.shape[1]):
        out += np.multiply.outer(left[:, j], b[:, j])
    return out


def _eigenvalues(p: np.ndarray, H: int, W: int, boundary: str) -> np.ndarray:
    """Eigenvalues of one step on an H x W image, on the grid of the matching transform.

    * circular: ``P̂(k) = sum_j P(j) exp(-2πi k·j / N)`` on the ``rfft2`` grid
      ``(H, W // 2 + 1)`` (equal to ``rfft2`` of P wrapped onto the periodic
      grid); real when ``P(j) = P(-j)``.
    * symmetric (DCT-II): ``sum_j P(j) cos(π k_y j_y / H) cos(π k_x j_x / W)``, k from 0.
    * zeros (DST-I): ``sum_j P(j) cos(π k_y j_y / (H+1)) cos(π k_x j_x / (W+1))``, k from 1.
    """
    dy, dx = jump_grid(p.shape)
    jy, jx = dy[:, 0], dx[0]
    if boundary == "circular":
        ey = np.exp(-2j * np.pi * np.outer(np.arange(H), jy % H) / H)  # (H, kH)
        ex = np.exp(-2j * np.pi * np.outer(np.arange(W // 2 + 1), jx % W) / W)  # (W//2+1, kW)
        lam = _sandwich(ey, p.astype(np.complex128), ex)
        return lam.real.copy() if np.abs(p - p[::-1, ::-1]).max() <= 1e-12 * p.max() else lam
    p = (p + p[::-1] + p[:, ::-1] + p[::-1, ::-1]) / 4  # exactly axis-symmetric
    if boundary == "symmetric":
        ky, kx, ny, nx = np.arange(H), np.arange(W), H, W
    else:
        ky, kx, ny, nx = np.arange(1, H + 1), np.arange(1, W + 1), H + 1, W + 1
    cy = np.cos(np.pi * np.outer(ky, jy) / ny)  # (H, kH)
    cx = np.cos(np.pi * np.outer(kx, jx) / nx)  # (W, kW)
    return _sandwich(cy, p, cx)


@functools.lru_cache(maxsize=4)
def _log_eigen(key: bytes, shape: tuple[int, int], H: int, W: int, boundary: str) -> _LogEigen:
    """``log λ``, cached like an FFT plan: frames and repeated calls reuse it."""
    p = np.frombuffer(key, dtype=np.float64).reshape(shape)
    lam = _eigenvalues(p, H, W, boundary)
    with np.errstate(divide="ignore"):
        if np.iscomplexobj(lam):
            return _LogEigen(np.log(lam), None)
        return _LogEigen(np.log(np.abs(lam)), lam < 0)


def _spectral(x: torch.Tensor, p: torch.Tensor, steps: list[int], boundary: str) -> list[torch.Tensor]:
    H, W = x.shape[-2:]
    pn = np.ascontiguousarray(p.detach().cpu().numpy(), dtype=np.float64)
    le = _log_eigen(pn.tobytes(), pn.shape, H, W, boundary)
    frames = []
    if boundary == "circular":  # torch FFT on the image's device
        uh = torch.fft.rfft2(x.to(torch.float64))  # (..., H, W//2+1)
        for s in steps:
            if s == 0:
                frames.append(x.clone())
                continue
            mult = torch.from_numpy(_power(le, s)).to(uh.device)
            frames.append(torch.fft.irfft2(uh * mult, s=(H, W)).to(x.dtype))
        return frames
    # real, separable-in-cosines bases on the CPU (scipy.fft)
    kind = 2 if boundary == "symmetric" else 1  # DCT-II / DST-I
    fwd, inv = (scipy.fft.dctn, scipy.fft.idctn) if boundary == "symmetric" else (scipy.fft.dstn, scipy.fft.idstn)
    uh = fwd(x.detach().cpu().to(torch.float64).numpy(), type=kind, norm="ortho", axes=(-2, -1))
    for s in steps:
        if s == 0:
            frames.append(x.clone())
            continue
        mult = _power(le, s)  # (H, W), a fresh array
        spec = np.multiply(mult, uh, out=mult) if uh.ndim == 2 else uh * mult
        v = inv(spec, type=kind, norm="ortho", axes=(-2, -1), overwrite_x=True)
        frames.append(torch.from_numpy(v).to(device=x.device, dtype=x.dtype))
    return frames


def mass(u) -> np.ndarray | float:
    """Total salt: the sum over the last two axes (a float for a single 2-D field)."""
    t, _ = as_tensor(u, "u")
    m = t.to(torch.float64).sum(dim=(-2, -1)).cpu().numpy()
    return float(m) if m.ndim == 0 else m


def entropy(u) -> np.ndarray | float:
    """Shannon entropy (nats) of a concentration field seen as a distribution over pixels.

    ``-sum p log p`` with ``p = u / sum(u)`` over the last two axes; entries
    <= 0 (round-off) contribute 0. It never decreases under a doubly
    stochastic step: a propagator symmetric in each axis with a conserving
    boundary. ``log(H W)`` is the maximum (uniform salt).

    >>> import numpy as np
    >>> round(entropy(np.ones((4, 4))), 6) == round(float(np.log(16)), 6)
    True
    """
    t, _ = as_tensor(u, "u")
    t = t.to(torch.float64).clamp_min(0)
    m = t.sum(dim=(-2, -1), keepdim=True)
    p = t / torch.where(m > 0, m, torch.ones_like(m))
    h = -torch.where(p > 0, p * torch.log(torch.where(p > 0, p, torch.ones_like(p))), torch.zeros_like(p))
    e = h.sum(dim=(-2, -1)).cpu().numpy()
    return float(e) if e.ndim == 0 else e

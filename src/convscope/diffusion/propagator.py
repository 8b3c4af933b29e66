"""The propagator: a kernel made into a probability density by softmax.

The lecture notes' picture of convolution as diffusion: pixel intensity is a salt
concentration, and one convolution step moves every grain of salt by a random
jump ``j`` drawn with probability ``P(j)``. ``P`` is the *propagator*,
``softmax(kernel / temperature)`` over all the kernel's entries, so it is
non-negative and sums to 1. Entry ``P[a, b]`` is the probability of the jump
``j = (a - kH // 2, b - kW // 2)`` (rows down, columns right).

The lecture notes' 3x3 Laplacian (8 in the centre, -1 around it) gives a centre of
``e^8 / (e^8 + 8 e^-1) = 0.99901...`` and neighbours of ``0.0001233...``:

>>> from convscope.kernels import get_kernel
>>> P = propagator(get_kernel("laplacian8"))
>>> round(float(P[1, 1]), 5), round(float(P[0, 0]), 7)
(0.99901, 0.0001233)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .._arrays import as_tensor, restore
from .._checks import check_float, check_int, check_ndim, fail

__all__ = ["Moments", "propagator", "moments", "propagator_power", "check_propagator", "jump_grid"]


def propagator(kernel, *, temperature: float = 1.0):
    """``softmax(kernel / temperature)`` over all entries: a probability density of jumps.

    Args:
        kernel: (kH, kW) real array or tensor; odd sizes, so the centre is the
            zero jump. Integer kernels are promoted to float64 (exact values).
        temperature: > 0. Higher spreads the probability more evenly over the
            entries, so each step diffuses further; as it tends to 0 the
            propagator becomes the arg-max indicator (for the lecture notes' kernel, the
            identity: no diffusion at all).

    Returns:
        (kH, kW) non-negative, summing to 1; numpy in, numpy out.

    Example:
        >>> import numpy as np
        >>> P = propagator(np.zeros((3, 3)))   # a flat kernel: a uniform 3x3 jump
        >>> bool(np.allclose(P, 1 / 9))
        True
    """
    temperature = check_float("temperature", temperature, min_value=0.0, strict_min=True)
    k, origin = as_tensor(kernel, "kernel")
    raw = kernel.dtype if isinstance(kernel, torch.Tensor | np.ndarray) else None
    if raw not in (torch.float32, torch.float64, np.float32, np.float64):
        k = k.to(torch.float64)  # integer kernels and lists: exact float64
    check_ndim("kernel", k, (2,), "(kH, kW)")
    _check_odd("kernel", k)
    if not bool(torch.isfinite(k).all()):
        raise fail("kernel", "finite", k)
    p = torch.softmax((k / temperature).reshape(-1), dim=0).reshape(k.shape)
    return restore(p, origin)


def _check_odd(arg: str, k: torch.Tensor) -> None:
    if k.numel() == 0 or k.shape[0] % 2 == 0 or k.shape[1] % 2 == 0:
        raise fail(arg, "of odd size in both axes, so its centre is the zero jump", k)


def check_propagator(P, arg: str = "propagator", *, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Validate a propagator: 2-D, odd sizes, finite, non-negative, summing to 1 (1e-6)."""
    p, _ = as_tensor(P, arg, dtype=dtype)
    check_ndim(arg, p, (2,), "(kH, kW)")
    _check_odd(arg, p)
    if not bool(torch.isfinite(p).all()) or bool((p < 0).any()):
        raise fail(arg, "finite and non-negative (a probability density; use propagator(kernel))", p)
    s = float(p.double().sum())
    if abs(s - 1.0) > 1e-6:
        raise fail(arg, "a probability density summing to 1 (use propagator(kernel))", f"entries summing to {s:.9g}")
    return p


def jump_grid(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Jump coordinates ``(dy, dx)`` of each propagator entry, as two (kH, kW) int arrays."""
    kH, kW = shape
    return np.meshgrid(np.arange(kH) - kH // 2, np.arange(kW) - kW // 2, indexing="ij")


@dataclass(frozen=True)
class Moments:
    """The statistics of one jump; n steps have n times the drift and covariance.

    Attributes:
        drift: mean jump ``(dy, dx)`` in pixels per step.
        covariance: 2x2 covariance of the jump, pixels^2 per step.
        variance: per-axis variance ``(var_y, var_x)`` = the covariance diagonal.
        D_axes: ``(var_y / 2, var_x / 2)``: n steps match the heat equation
            ``u_t = D u_yy`` (resp. ``u_xx``) at time ``t = n``, variance ``2 D t``.
        D: the isotropic diffusion coefficient ``trace(covariance) / 4``
            (equal to both ``D_axes`` when the jump is isotropic).
        entropy: Shannon entropy ``-sum P log P`` in nats (0 for a delta,
            ``log(kH kW)`` for a uniform jump).
    """

    drift: tuple[float, float]
    covariance: np.ndarray
    variance: tuple[float, float]
    D_axes: tuple[float, float]
    D: float
    entropy: float

    def __str__(self) -> str:
        c = [[_r(float(v)) for v in row] for row in self.covariance]
        return (
            f"drift (dy, dx) = ({_r(self.drift[0]):.6g}, {_r(self.drift[1]):.6g}) px/step\n"
            f"covariance = [[{c[0][0]:.6g}, {c[0][1]:.6g}], [{c[1][0]:.6g}, {c[1][1]:.6g}]] px^2/step\n"
            f"variance per axis (y, x) = ({self.variance[0]:.6g}, {self.variance[1]:.6g}) px^2/step\n"
            f"D = {self.D:.6g} px^2/step (per axis {self.D_axes[0]:.6g}, {self.D_axes[1]:.6g}); "
            "n steps ~ heat equation at t = n, variance 2Dt per axis\n"
            f"entropy = {self.entropy:.6g} nats"
        )


def _r(v: float) -> float:
    """Round-off below 1e-12 shown as 0 (printing only)."""
    return 0.0 if abs(v) < 1e-12 else v


def moments(P) -> Moments:
    """Drift, covariance, per-axis variance, diffusion coefficient and entropy of a propagator.

    Example:
        >>> import numpy as np
        >>> P = np.zeros((3, 3)); P[1, 0] = P[1, 2] = 0.5   # left or right, 1 px
        >>> m = moments(P)
        >>> m.drift, m.variance, m.D_axes
        ((0.0, 0.0), (0.0, 1.0), (0.0, 0.5))
    """
    p = check_propagator(P).to(torch.float64).cpu().numpy()
    dy, dx = jump_grid(p.shape)
    my, mx = float((p * dy).sum()), float((p * dx).sum())
    cy, cx = dy - my, dx - mx
    cov = np.array([[(p * cy * cy).sum(), (p * cy * cx).sum()], [(p * cx * cy).sum(), (p * cx * cx).sum()]])
    var = (float(cov[0, 0]), float(cov[1, 1]))
    nz = p[p > 0]
    ent = float(-(nz * np.log(nz)).sum())
    return Moments(
        drift=(my + 0.0, mx + 0.0),
        covariance=cov,
        variance=var,
        D_axes=(var[0] / 2, var[1] / 2),
        D=(var[0] + var[1]) / 4,
        entropy=ent,
    )


def propagator_power(P, n: int):
    """The n-fold convolution ``P * P * ... * P`` on the free (unbounded) lattice.

    The exact n-step propagator: the distribution of the sum of n jumps. Its
    shape is ``(n (kH - 1) + 1, n (kW - 1) + 1)`` with the zero jump in the
    centre. Computed exactly through an FFT of that full size (no wrap-around,
    since the support fits), with ``P̂^n`` formed in float64; round-off below 0
    is set to 0 and the result renormalised to sum 1.

    Example:
        >>> import numpy as np
        >>> P = np.zeros((3, 3)); P[1, 0] = P[1, 2] = 0.5
        >>> np.round(propagator_power(P, 2)[2], 12)   # the middle row: binomial(2, 1/2)
        array([0.25, 0.  , 0.5 , 0.  , 0.25])
    """
    n = check_int("n", n, min_value=0)
    p, origin = as_tensor(P, "propagator")
    p = check_propagator(p).to(torch.float64)
    kH, kW = p.shape
    H, W = n * (kH - 1) + 1, n * (kW - 1) + 1
    if n == 0:
        out = torch.ones((1, 1), dtype=torch.float64)
    elif n == 1:
        out = p.clone()
    else:
        spec = torch.fft.rfft2(p, s=(H, W)) ** n
        out = torch.fft.irfft2(spec, s=(H, W))
        out = out.clamp_min(0)
        out = out / out.sum()
    return restore(out, origin)

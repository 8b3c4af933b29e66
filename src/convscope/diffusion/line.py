"""Diffusion on a line: the 1-D counterpart of the propagator, many steps and the heat equation.

A 1-D kernel such as the second difference ``[-1, 2, -1]`` (the 1-D cousin of the lecture notes'
Laplacian) becomes a propagator by softmax; one convolution with it moves every grain of salt
by a jump of ``-1``, ``0`` or ``+1`` with those probabilities, and ``n`` steps spread a drop
into the ``n``-fold convolution of the propagator, which tends to the Gaussian of variance
``n σ²`` (``σ²`` the variance of one jump): the heat equation ``u_t = D u_xx`` at ``t = n``
with ``D = σ² / 2``.

Everything here is the 2-D machinery of :mod:`convscope.diffusion` run on a ``(1, N)`` image
with a ``(1, k)`` propagator, so the boundaries, the methods and the exactness rules are the
same: in particular ``method="spectral"`` takes any number of steps exactly, as one
multiplication by the ``n``-th power of the propagator's transfer function.

>>> P = propagator1d([-1.0, 2.0, -1.0])
>>> np.round(P, 4), round(moments1d(P).variance, 4)
(array([0.0453, 0.9094, 0.0453]), 0.0906)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .._arrays import as_tensor, restore
from .._checks import check_float, check_int, fail
from .evolve import diffuse
from .heat import heat_kernel, heat_solution
from .propagator import moments, propagator, propagator_power

__all__ = [
    "Moments1d",
    "diffuse1d",
    "heat_kernel1d",
    "heat_solution1d",
    "moments1d",
    "propagator1d",
    "propagator_power1d",
]


def _row(arg: str, k) -> tuple[torch.Tensor, object]:
    t, origin = as_tensor(k, arg)
    if t.ndim != 1:
        raise fail(arg, "a 1-D array (k,)", t)
    return t, origin


def propagator1d(kernel, *, temperature: float = 1.0):
    """``softmax(kernel / temperature)``: a probability density of jumps ``j = i − k // 2``.

    Args:
        kernel: ``(k,)`` with ``k`` odd (the centre is the zero jump).
        temperature: > 0; higher spreads further per step.

    Returns:
        ``(k,)`` non-negative, summing to 1; numpy in, numpy out (lists give numpy).
    """
    t, origin = _row("kernel", kernel)
    return restore(propagator(t[None, :], temperature=temperature)[0], origin)


@dataclass(frozen=True)
class Moments1d:
    """One jump's statistics: ``drift`` (mean, samples per step), ``variance`` (samples² per step),
    ``D = variance / 2`` (n steps ~ the heat equation at ``t = n``) and ``entropy`` (nats)."""

    drift: float
    variance: float
    D: float
    entropy: float


def moments1d(P) -> Moments1d:
    """Drift, variance, diffusion coefficient and entropy of a 1-D propagator."""
    t, _ = _row("propagator", P)
    m = moments(t[None, :])
    return Moments1d(m.drift[1], m.variance[1], m.D_axes[1], m.entropy)


def propagator_power1d(P, n: int):
    """The ``n``-fold convolution ``P * ... * P`` on the free line: ``(n (k − 1) + 1,)``, centred.

    The distribution of the sum of ``n`` jumps, by one FFT of the ``n``-th power of ``P``'s
    transform (exact, see :func:`convscope.diffusion.propagator_power`).
    """
    t, origin = _row("propagator", P)
    return restore(propagator_power(t[None, :], n)[0], origin)


def _line(u, arg: str = "u"):
    """(N,) or (C, N) -> a (1, N) or (C, 1, N) image tensor and how to hand it back."""
    x, origin = as_tensor(u, arg)
    if x.ndim not in (1, 2) or x.shape[-1] == 0:
        raise fail(arg, "a non-empty (N,) or (C, N) array", x)
    return (x[None, :] if x.ndim == 1 else x[:, None, :]), x.ndim, origin


def _unline(y: torch.Tensor, nd: int, many: bool) -> torch.Tensor:
    if many:  # (S, 1, N) or (S, C, 1, N)
        return y[:, 0, :] if nd == 1 else y[:, :, 0, :]
    return y[0] if nd == 1 else y[:, 0, :]


def diffuse1d(u, P, steps, *, boundary: str = "circular", method: str = "auto"):
    """``steps`` steps of ``u_{n+1}[x] = Σ_j P[j] u_n[x − j]`` on a line of ``N`` cells.

    Args:
        u: ``(N,)`` or ``(C, N)`` concentrations.
        P: ``(k,)`` propagator, ``k`` odd (:func:`propagator1d`).
        steps: an int >= 0, or a list of them (one frame per entry, stacked first).
        boundary: ``circular`` (a ring), ``symmetric`` (no-flux walls) or ``zeros``
            (absorbing ends), as :func:`convscope.diffusion.diffuse`.
        method: ``auto``, ``iterate`` (literal convolutions through the engine) or ``spectral``
            (exact for any number of steps where the boundary allows it).

    Example:
        >>> u = np.zeros(9); u[4] = 1.0
        >>> np.round(diffuse1d(u, np.array([0.25, 0.5, 0.25]), 2), 4)
        array([0.    , 0.    , 0.0625, 0.25  , 0.375 , 0.25  , 0.0625, 0.    , 0.    ])
    """
    x, nd, origin = _line(u)
    p, _ = _row("propagator", P)
    many = not isinstance(steps, int | np.integer)
    y = diffuse(x, p[None, :].to(torch.float64), steps, boundary=boundary, method=method)
    return restore(_unline(y, nd, many), origin)


def heat_kernel1d(n: int, D: float, t: float) -> np.ndarray:
    """The periodic heat kernel on ``n`` cells, centred at ``n // 2``: variance ``2 D t``, sum 1."""
    n = check_int("n", n, min_value=1)
    return heat_kernel((1, n), (0.0, check_float("D", D, min_value=0.0)), t)[0]


def heat_solution1d(u0, D: float, t: float, *, boundary: str = "circular"):
    """Exact solution of ``u_t = D u_xx`` at time ``t`` from ``u0`` (``(N,)`` or ``(C, N)``)."""
    x, nd, origin = _line(u0, "u0")
    y = heat_solution(x, (0.0, check_float("D", D, min_value=0.0)), t, boundary=boundary)
    return restore(_unline(y, nd, False), origin)

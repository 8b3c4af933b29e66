"""Monte Carlo cross-check: particles that really jump with the propagator's probabilities.

After ``n`` steps the particles' displacements are distributed as the n-fold
convolution of the propagator (:func:`~convscope.diffusion.propagator_power`),
so their histogram converges to it as the number of particles grows.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_int, check_option
from .propagator import check_propagator, jump_grid

__all__ = ["random_walk", "walk_histogram", "WALK_METHODS"]

WALK_METHODS = ("multinomial", "steps")


def random_walk(n_particles: int, propagator, steps: int, *, seed: int | None = None, method: str = "multinomial") -> np.ndarray:
    """Displacements ``(dy, dx)`` of ``n_particles`` independent walkers after ``steps`` jumps.

    Every particle starts at 0 on the free (unbounded) lattice and at each step
    jumps by ``j`` with probability ``P(j)``.

    Args:
        n_particles: >= 1.
        propagator: (kH, kW), odd sizes, non-negative, summing to 1.
        steps: >= 0.
        seed: seed for ``numpy.random.default_rng`` (reproducible).
        method: ``multinomial`` (default): each particle's jump counts over the
            ``kH kW`` jump types are one multinomial draw (exactly the
            distribution of ``steps`` independent jumps), so the cost is
            independent of ``steps``; ``steps``: the literal walk, one
            categorical draw per particle per step, vectorised over particles.

    Returns:
        int64 numpy array ``(n_particles, 2)``.

    Example:
        >>> P = np.zeros((3, 3)); P[1, 0] = P[1, 2] = 0.5
        >>> d = random_walk(4, P, 3, seed=0)
        >>> d.shape, bool((d[:, 0] == 0).all()), bool((np.abs(d[:, 1]) % 2 == 1).all())
        ((4, 2), True, True)
    """
    n_particles = check_int("n_particles", n_particles, min_value=1)
    steps = check_int("steps", steps, min_value=0)
    method = check_option("method", method, WALK_METHODS)
    p = check_propagator(propagator).double().cpu().numpy()
    pv = p.ravel() / p.sum()
    dy, dx = jump_grid(p.shape)
    jumps = np.stack([dy.ravel(), dx.ravel()], axis=1).astype(np.int64)  # (K, 2)
    rng = np.random.default_rng(seed)
    if method == "multinomial":
        counts = rng.multinomial(steps, pv, size=n_particles)  # (n, K)
        return counts @ jumps
    pos = np.zeros((n_particles, 2), dtype=np.int64)
    cdf = np.cumsum(pv)
    cdf[-1] = 1.0
    for _ in range(steps):
        idx = np.searchsorted(cdf, rng.random(n_particles), side="right")
        pos += jumps[np.minimum(idx, len(pv) - 1)]
    return pos


def walk_histogram(displacements: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Counts of displacements on an ``(H, W)`` grid whose centre ``(H // 2, W // 2)`` is 0.

    Matches the layout of :func:`~convscope.diffusion.propagator_power`
    (shape ``(n (kH - 1) + 1, n (kW - 1) + 1)``); displacements outside are dropped.
    """
    H, W = shape
    d = np.asarray(displacements)
    y, x = d[:, 0] + H // 2, d[:, 1] + W // 2
    ok = (y >= 0) & (y < H) & (x >= 0) & (x < W)
    out = np.zeros((H, W), dtype=np.int64)
    np.add.at(out, (y[ok], x[ok]), 1)
    return out

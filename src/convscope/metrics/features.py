"""Feature-space statistics of generated vs real images.

All functions take two feature matrices ``(N, d)`` (rows are images, e.g. the
penultimate layer of a classifier) and return plain floats.

- :func:`frechet_distance`: ‖μ₁-μ₂‖² + Tr(Σ₁ + Σ₂ - 2(Σ₁Σ₂)^½), the FID
  formula, computed by torchmetrics' ``FrechetInceptionDistance`` fed with our
  own features (no Inception weights exist here).
- :func:`kernel_distance`: KID, the unbiased MMD² with the cubic polynomial
  kernel, by torchmetrics' ``KernelInceptionDistance``.
- :func:`precision_recall`: Kynkäänniemi et al. 2019 (k = 3): precision is the
  share of generated samples inside the real manifold (union of k-NN balls
  around the real samples), recall the share of real samples inside the
  generated manifold.
- :func:`density_coverage`: Naeem et al. 2020 coverage (share of real k-NN balls
  holding at least one generated sample) and density.
- :func:`class_histogram_kl`: KL(predicted class histogram ‖ uniform) and the
  number of classes covered.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
from torch import nn

from .._checks import fail

__all__ = [
    "class_histogram_kl",
    "density_coverage",
    "frechet_distance",
    "kernel_distance",
    "precision_recall",
]


def _feats(x, arg: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    if t.ndim != 2 or t.shape[0] < 2:
        raise fail(arg, "a (N, d) feature matrix with N >= 2", t)
    return t.detach().to(torch.float64).cpu()


class _Given(nn.Module):
    """Identity 'feature extractor': we hand torchmetrics features, not images."""

    def __init__(self, d: int):
        super().__init__()
        self.num_features = d

    def forward(self, x):
        return x


def frechet_distance(real, fake) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets.

    >>> g = torch.Generator().manual_seed(0)
    >>> a = torch.randn(500, 4, generator=g, dtype=torch.float64)
    >>> round(frechet_distance(a, a + 1.0), 2)  # a pure shift by 1 in 4 dims: |mu|^2 = 4
    4.0
    """
    from torchmetrics.image.fid import FrechetInceptionDistance

    r, f = _feats(real, "real"), _feats(fake, "fake")
    if r.shape[1] != f.shape[1]:
        raise fail("fake", f"features of dimension {r.shape[1]} (as real)", f)
    m = FrechetInceptionDistance(feature=_Given(r.shape[1]), normalize=True)
    m.update(r, real=True)
    m.update(f, real=False)
    return max(float(m.compute()), 0.0)


def kernel_distance(real, fake, *, subsets: int = 50, subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """KID (mean, std over random subsets) with the polynomial kernel (x·y/d + 1)³."""
    from torchmetrics.image.kid import KernelInceptionDistance

    r, f = _feats(real, "real"), _feats(fake, "fake")
    size = min(subset_size, r.shape[0], f.shape[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "will save all extracted features": we hand it features
        m = KernelInceptionDistance(feature=_Given(r.shape[1]), subsets=subsets, subset_size=size, normalize=True)
    m.update(r, real=True)
    m.update(f, real=False)
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)  # torchmetrics draws the subsets from the global generator
    try:
        mean, std = m.compute()
    finally:
        torch.random.set_rng_state(state)
    return float(mean), float(std)


def _kth_radius(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each row to its k-th nearest other row."""
    d = torch.cdist(x, x)
    # the 0-th neighbour is the point itself
    return d.kthvalue(k + 1, dim=1).values


def _in_balls(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
    """For each point, whether it lies in any ball (centre, radius); also the count of balls."""
    counts = []
    for i in range(0, points.shape[0], chunk):
        d = torch.cdist(points[i:i + chunk], centres)
        counts.append((d <= radii[None, :]).sum(1))
    return torch.cat(counts)


def precision_recall(real, fake, *, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) with k nearest neighbours.

    >>> g = torch.Generator().manual_seed(0)
    >>> a = torch.randn(400, 2, generator=g)
    >>> p, r = precision_recall(a, a[:, :1].repeat(1, 2) * 0 + a * 0.1)  # fake collapsed near the mode
    >>> p > 0.9 and r < 0.5
    True
    """
    r, f = _feats(real, "real"), _feats(fake, "fake")
    if min(r.shape[0], f.shape[0]) <= k:
        raise fail("k", f"smaller than the number of samples ({min(r.shape[0], f.shape[0])})", k)
    precision = (_in_balls(f, r, _kth_radius(r, k)) > 0).double().mean()
    recall = (_in_balls(r, f, _kth_radius(f, k)) > 0).double().mean()
    return float(precision), float(recall)


def density_coverage(real, fake, *, k: int = 3) -> tuple[float, float]:
    """Density and coverage (Naeem et al. 2020): (density, coverage)."""
    r, f = _feats(real, "real"), _feats(fake, "fake")
    radii = _kth_radius(r, k)
    density = _in_balls(f, r, radii).double().sum() / (k * f.shape[0])
    # coverage: share of real balls that contain a generated sample = nearest fake within the radius
    nearest = torch.cat([torch.cdist(r[i:i + 2048], f).min(1).values for i in range(0, r.shape[0], 2048)])
    coverage = (nearest <= radii).double().mean()
    return float(density), float(coverage)


def class_histogram_kl(labels, num_classes: int) -> dict:
    """KL divergence (nats) of the class histogram from uniform, the histogram and the classes covered.

    >>> class_histogram_kl([0, 1, 2, 3] * 5, 4)["kl"]
    0.0
    >>> class_histogram_kl([0] * 8, 2)["covered"]
    1
    """
    lab = np.asarray(labels).astype(np.int64).ravel()
    hist = np.bincount(lab, minlength=num_classes)[:num_classes].astype(np.float64)
    p = hist / max(hist.sum(), 1)
    nz = p > 0
    kl = float(np.sum(p[nz] * np.log(p[nz] * num_classes)))
    return {"kl": round(kl, 12) + 0.0, "histogram": hist.astype(int).tolist(), "covered": int(nz.sum()),
            "max_kl": math.log(num_classes)}

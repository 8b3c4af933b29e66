"""Metrics: feature statistics of generated images and spectral diagnostics.

``evaluate`` is the one entry point for a trained generator (see :mod:`.evaluate`).
"""

from .features import (
    class_histogram_kl,
    density_coverage,
    frechet_distance,
    kernel_distance,
    precision_recall,
)

__all__ = [
    "class_histogram_kl",
    "density_coverage",
    "frechet_distance",
    "kernel_distance",
    "precision_recall",
]

"""Metrics: classification (accuracy, confusion), feature statistics of generated images, spectral diagnostics.

``evaluate_gan`` is the one entry point for a trained generator (see :mod:`.evaluate`);
``evaluate_classifier`` for a trained classifier (see :mod:`.classification`).
"""

from .classification import accuracy, confusion_matrix, evaluate_classifier
from .evaluate import evaluate_gan
from .features import (
    class_histogram_kl,
    density_coverage,
    frechet_distance,
    kernel_distance,
    precision_recall,
)

__all__ = [
    "accuracy",
    "class_histogram_kl",
    "confusion_matrix",
    "density_coverage",
    "evaluate_classifier",
    "evaluate_gan",
    "frechet_distance",
    "kernel_distance",
    "precision_recall",
]

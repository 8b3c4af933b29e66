"""Data: bundled sets, standard formats (MNIST idx, CIFAR-10, image folders), image IO.

The science layer (see docs/ARCHITECTURE.md): loaders and transforms only; the trainers in
:mod:`convscope.train` and the experiments read through it.

:func:`load_dataset` turns any supported source into an in-memory torch
``Dataset``; see :mod:`convscope.data.datasets` for the sources and splits.
"""

from .datasets import SPLITS, ImageDataset, load_dataset, split_indices
from .images import BUNDLED_IMAGES, load_image, save_image
from .transforms import denormalize, normalize

__all__ = [
    "BUNDLED_IMAGES",
    "SPLITS",
    "ImageDataset",
    "denormalize",
    "load_dataset",
    "load_image",
    "normalize",
    "save_image",
    "split_indices",
]

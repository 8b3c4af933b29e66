"""Data: bundled sets, standard formats (MNIST idx, CIFAR-10, image folders), image IO."""

from .images import BUNDLED_IMAGES, load_image, save_image

__all__ = ["BUNDLED_IMAGES", "load_image", "save_image"]

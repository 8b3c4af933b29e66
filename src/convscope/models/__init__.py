"""Models built from frozen dataclass configs, and what a trained one is used for.

* :mod:`.cnn`: CNN classifiers (LeNet- and AlexNet-style), :func:`load_classifier`,
  :func:`prepare_images` (new images -> what a trained classifier expects).
* :mod:`.dcgan`: the DCGAN's generator and discriminator, their losses,
  :func:`load_generator` and :func:`generate` (sampling a trained generator).
"""

from .cnn import CNN, CNNConfig, kernel_spectra, load_classifier, prepare_images
from .dcgan import (
    DCGANConfig,
    Discriminator,
    Generator,
    generate,
    get_loss,
    load_discriminator,
    load_generator,
    make_optimizers,
)

__all__ = [
    "CNN",
    "CNNConfig",
    "DCGANConfig",
    "Discriminator",
    "Generator",
    "generate",
    "get_loss",
    "kernel_spectra",
    "load_classifier",
    "load_discriminator",
    "load_generator",
    "make_optimizers",
    "prepare_images",
]

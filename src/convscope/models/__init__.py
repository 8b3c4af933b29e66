"""Models built from frozen dataclass configs: CNN classifiers (and the DCGAN)."""

from .cnn import CNN, CNNConfig, load_classifier

__all__ = ["CNN", "CNNConfig", "load_classifier"]

"""The convolution engine: space (direct, OpenCV), frequency (FFT, overlap-add), one API."""

from .api import (
    BOUNDARIES,
    METHODS,
    MODES,
    conv2d,
    convolve2d,
    correlate2d,
)
from .modules import Conv2d, ConvTranspose2d
from .padding import pad2d
from .select import MethodChoice, choose_method
from .transposed import conv_transpose2d, conv_transpose2d_reference, zero_insert

__all__ = [
    "BOUNDARIES",
    "METHODS",
    "MODES",
    "Conv2d",
    "ConvTranspose2d",
    "MethodChoice",
    "choose_method",
    "conv2d",
    "conv_transpose2d",
    "conv_transpose2d_reference",
    "convolve2d",
    "correlate2d",
    "pad2d",
    "zero_insert",
]

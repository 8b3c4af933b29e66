"""The convolution engine: space (direct) and frequency (FFT, overlap-add), one API."""

from .api import (
    BOUNDARIES,
    METHODS,
    MODES,
    conv2d,
    conv_transpose2d,
    convolve2d,
    correlate2d,
    zero_insert,
)
from .padding import pad2d
from .select import choose_method

__all__ = [
    "BOUNDARIES",
    "METHODS",
    "MODES",
    "choose_method",
    "conv2d",
    "conv_transpose2d",
    "convolve2d",
    "correlate2d",
    "pad2d",
    "zero_insert",
]

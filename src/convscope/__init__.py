"""convscope: convolution in space, in frequency and as diffusion, put to work in a CNN and a DCGAN.

The public API; subpackages (``convscope.fourier``, ``convscope.diffusion``,
``convscope.data``, ``convscope.models``, ``convscope.train``,
``convscope.metrics``, ``convscope.viz``) are imported on demand.
"""

from .conv import (
    BOUNDARIES,
    METHODS,
    MODES,
    Conv2d,
    ConvTranspose2d,
    choose_method,
    conv2d,
    conv_transpose2d,
    convolve2d,
    correlate2d,
    pad2d,
    zero_insert,
)
from .kernels import get_kernel, list_kernels, parse_kernel

__version__ = "0.2.0"

__all__ = [
    "BOUNDARIES",
    "METHODS",
    "MODES",
    "Conv2d",
    "ConvTranspose2d",
    "__version__",
    "choose_method",
    "conv2d",
    "conv_transpose2d",
    "convolve2d",
    "correlate2d",
    "get_kernel",
    "list_kernels",
    "pad2d",
    "parse_kernel",
    "zero_insert",
]

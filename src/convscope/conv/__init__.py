"""The convolution engine: space (direct, OpenCV), frequency (FFT, overlap-add), one API.

Layers inside (each imports only those below it): ``problem`` (the one problem
description) -> ``padding``, ``spatial``, ``spectral`` (the candidates) ->
``wisdom`` (what is remembered about this machine) -> ``select`` (the cost
model, no state) -> ``calibration`` (the timing harness and the least-squares
fit) -> ``planner`` (the choice and every cache of ``auto``, ``choose_method``)
-> ``core`` (the primitive and the method rules) -> ``api`` (image filtering,
``conv2d``) and ``transposed`` -> ``modules`` (``nn.Module`` drop-ins).
"""

from .api import MODES, conv2d, convolve2d, correlate2d
from .calibration import calibrate
from .core import METHODS, correlate_padded
from .modules import Conv2d, ConvTranspose2d
from .padding import BOUNDARIES, pad2d
from .planner import choose_method, predict_costs
from .problem import ConvProblem
from .select import MethodChoice
from .transposed import conv_transpose2d, conv_transpose2d_reference, zero_insert

__all__ = [
    "BOUNDARIES",
    "METHODS",
    "MODES",
    "Conv2d",
    "ConvProblem",
    "ConvTranspose2d",
    "MethodChoice",
    "calibrate",
    "choose_method",
    "conv2d",
    "conv_transpose2d",
    "conv_transpose2d_reference",
    "convolve2d",
    "correlate2d",
    "correlate_padded",
    "pad2d",
    "predict_costs",
    "zero_insert",
]

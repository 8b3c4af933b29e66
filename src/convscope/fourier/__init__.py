"""Convolution in frequency: spectra, frequency filtering, the convolution theorem, spectral derivatives.

The science layer (see docs/ARCHITECTURE.md): it builds on :mod:`convscope.conv` and is used
by :mod:`convscope.experiments`; it draws nothing and writes nothing.

:mod:`.continuous` is the continuous transform behind the lecture notes' ``√(2π)``: the conventions,
the DFT as an approximation of the integral, Fourier pairs known in closed form.

Everything works on torch tensors (any device) and accepts numpy arrays at the
boundary (numpy in, numpy out). Images are (H, W), (C, H, W) or (B, C, H, W);
frequencies are in cycles per pixel (0 = DC, 0.5 = Nyquist).
"""

from .calculus import Gradient, spectral_derivative, spectral_gradient, spectral_laplacian
from .continuous import (
    CONVENTIONS,
    PAIRS,
    Convention,
    FourierPair,
    TheoremCheck,
    analytic_convolution,
    check_theorem,
    continuous_transform,
    dft_theorem,
    fourier_pair,
    frequencies,
    inverse_continuous_transform,
)
from .filters import (
    FILTER_KINDS,
    FILTER_PROFILES,
    PADS,
    FilterSpec,
    filter_image,
    frequency_mask,
    parse_filter,
    transform_shape,
)
from .spectrum import (
    PowerLaw,
    RadialProfile,
    Spectrum,
    fit_power_law,
    power_spectrum,
    radial_profile,
    spectrum,
)
from .theorem import TheoremResult, convolution_theorem, wrap_region

__all__ = [
    "CONVENTIONS",
    "FILTER_KINDS",
    "FILTER_PROFILES",
    "PADS",
    "PAIRS",
    "Convention",
    "FilterSpec",
    "FourierPair",
    "Gradient",
    "PowerLaw",
    "RadialProfile",
    "Spectrum",
    "TheoremCheck",
    "TheoremResult",
    "analytic_convolution",
    "check_theorem",
    "continuous_transform",
    "convolution_theorem",
    "dft_theorem",
    "filter_image",
    "fit_power_law",
    "fourier_pair",
    "frequencies",
    "frequency_mask",
    "inverse_continuous_transform",
    "parse_filter",
    "power_spectrum",
    "radial_profile",
    "spectral_derivative",
    "spectral_gradient",
    "spectral_laplacian",
    "spectrum",
    "transform_shape",
    "wrap_region",
]

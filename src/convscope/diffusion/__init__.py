"""Convolution as diffusion: the softmax propagator, exact many-step diffusion, the heat equation.

The science layer (see docs/ARCHITECTURE.md): it builds on :mod:`convscope.conv`; the
step of the story that draws it is :mod:`convscope.experiments.diffusion`.

Pixel intensity is a salt concentration; a kernel made into a probability
density by softmax is the *propagator*, the probability of each jump; one
convolution with it is one step of a random walk of the salt, and many steps
tend to the heat equation ``∂u/∂t = D ∇²u`` (the central limit theorem). :mod:`.line` is the
same on a line of cells (``propagator1d``, ``diffuse1d``, ``heat_solution1d``).

>>> from convscope.kernels import get_kernel
>>> P = propagator(get_kernel("laplacian8"), temperature=4.0)
>>> m = moments(P)
>>> round(m.D, 6)
0.171549
"""

from .evolve import BOUNDARIES, METHODS, axis_symmetric, diffuse, entropy, mass, spectral_exact
from .heat import heat_kernel, heat_solution
from .line import (
    Moments1d,
    diffuse1d,
    heat_kernel1d,
    heat_solution1d,
    moments1d,
    propagator1d,
    propagator_power1d,
)
from .propagator import Moments, check_propagator, jump_grid, moments, propagator, propagator_power
from .walk import WALK_METHODS, random_walk, walk_histogram

__all__ = [
    "BOUNDARIES",
    "METHODS",
    "WALK_METHODS",
    "Moments",
    "Moments1d",
    "axis_symmetric",
    "check_propagator",
    "diffuse",
    "diffuse1d",
    "entropy",
    "heat_kernel",
    "heat_kernel1d",
    "heat_solution",
    "heat_solution1d",
    "jump_grid",
    "mass",
    "moments",
    "moments1d",
    "propagator",
    "propagator1d",
    "propagator_power",
    "propagator_power1d",
    "random_walk",
    "spectral_exact",
    "walk_histogram",
]

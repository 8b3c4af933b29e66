"""The continuous convolution theorem and its √(2π): where the factor comes from, and where it goes.

The seed writes the theorem as

    h(x) = f ⊛ g = ∫ f(x − u) g(u) du = F⁻¹( √(2π) F[f] F[g] ).

The √(2π) is not part of convolution; it belongs to the *convention* for F.
Write every convention as ``F[f](k) = c ∫ f(x) e^{−i s k x} dx`` with its inverse
``f(x) = c' ∫ F(k) e^{+i s k x} dk`` (``c c' 2π / s = 1``). Substituting shows
``F[f ⊛ g] = (1/c) F[f] F[g]``:

==================  =============  ====  =================  ==================
convention          c (forward)    s     c' (inverse)       theorem factor 1/c
==================  =============  ====  =================  ==================
``unitary_angular``  1/√(2π)        1     1/√(2π)            √(2π)  (the lecture notes')
``ordinary``         1              2π    1                  1      (k = ξ, Hz)
``angular``          1              1     1/(2π)             1
``angular_forward``  1/(2π)         1     1                  2π
==================  =============  ====  =================  ==================

So the ordinary-frequency and the non-unitary angular conventions drop the
factor, and putting the 1/(2π) on the forward transform moves it to 2π.

The DFT has a theorem of its own, ``DFT[f ⊛_N g] = DFT[f] · DFT[g]`` for the
circular convolution ``(f ⊛_N g)[n] = Σ_m f[m] g[(n − m) mod N]``, with no
factor at all (:func:`dft_theorem`): numpy's (and torch's) forward DFT carries
no normalisation, and the circular sum carries no ``dx``.

Samples ``f(x0 + n dx)`` approximate the continuous transform by a Riemann sum,
which is the DFT scaled by ``c dx`` and turned by the phase of the grid origin
(:func:`continuous_transform`):

    F[f](k_m) ≈ c dx Σ_n f(x0 + n dx) e^{−i s k_m (x0 + n dx)} = c dx e^{−i s k_m x0} DFT[f][m],

on the DFT's frequencies ``s k_m dx = 2π m / N``. For a smooth function that
decays within the grid the error is spectrally small; a kink costs ``O(dx²)``
and a jump ``O(dx)`` unless the jump is sampled at the mean of its two sides
(then ``O(dx²)`` again, the trapezoid rule): see :func:`fourier_pair`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.special
import torch

from .._arrays import as_tensor, restore
from .._checks import check_float, check_int, check_option, fail
from ..conv import convolve2d

__all__ = [
    "CONVENTIONS",
    "PAIRS",
    "Convention",
    "FourierPair",
    "TheoremCheck",
    "analytic_convolution",
    "check_theorem",
    "continuous_transform",
    "dft_theorem",
    "fourier_pair",
    "frequencies",
    "inverse_continuous_transform",
]

_TWO_PI = 2.0 * math.pi


@dataclass(frozen=True)
class Convention:
    """``F[f](k) = forward ∫ f(x) e^{−i scale k x} dx``; ``f(x) = inverse ∫ F(k) e^{+i scale k x} dk``.

    Attributes:
        name: the key in :data:`CONVENTIONS`.
        forward, inverse: the constants in front of the two integrals.
        scale: ``1`` for angular frequency ``ω`` (rad per unit of x), ``2π`` for ordinary frequency ``ξ``.
        variable: ``"ω"`` or ``"ξ"``, for labels.
        factor: the convolution theorem's ``F[f ⊛ g] = factor · F[f] F[g]``, equal to ``1 / forward``.
    """

    name: str
    forward: float
    inverse: float
    scale: float
    variable: str

    @property
    def factor(self) -> float:
        return 1.0 / self.forward


CONVENTIONS: dict[str, Convention] = {
    "unitary_angular": Convention("unitary_angular", 1 / math.sqrt(_TWO_PI), 1 / math.sqrt(_TWO_PI), 1.0, "ω"),
    "ordinary": Convention("ordinary", 1.0, 1.0, _TWO_PI, "ξ"),
    "angular": Convention("angular", 1.0, 1 / _TWO_PI, 1.0, "ω"),
    "angular_forward": Convention("angular_forward", 1 / _TWO_PI, 1.0, 1.0, "ω"),
}


def _convention(convention) -> Convention:
    if isinstance(convention, Convention):
        return convention
    return CONVENTIONS[check_option("convention", convention, CONVENTIONS)]


def _grid_args(dx, x0) -> tuple[float, float]:
    return check_float("dx", dx, min_value=0.0, strict_min=True), check_float("x0", x0)


def frequencies(n: int, dx: float, *, convention="unitary_angular") -> np.ndarray:
    """The ``n`` frequencies ``k`` a DFT of ``n`` samples spaced ``dx`` lands on, ascending (centred).

    ``k = 2π ν / scale`` for ``ν = fftshift(fftfreq(n, dx))`` in cycles per unit of x.

    >>> frequencies(4, 0.5, convention="ordinary")
    array([-1. , -0.5,  0. ,  0.5])
    """
    n = check_int("n", n, min_value=1)
    dx, _ = _grid_args(dx, 0.0)
    conv = _convention(convention)
    return np.fft.fftshift(np.fft.fftfreq(n, dx)) * (_TWO_PI / conv.scale)


def continuous_transform(samples, dx: float, *, x0: float = 0.0, convention="unitary_angular", n: int | None = None):
    """Approximate the continuous Fourier transform of ``f`` from its samples ``f(x0 + j dx)``.

    ``F(k_m) = c dx e^{−i s k_m x0} DFT[f][m]`` (the Riemann sum of the integral; see the
    module docstring), returned on the ascending grid :func:`frequencies` ``(n, dx)``.

    Args:
        samples: ``(..., N)`` real samples on a uniform grid (numpy or torch); the last axis is x.
        dx: the grid spacing (> 0).
        x0: the position of the first sample; its phase ``e^{−i s k x0}`` is what turns the
            DFT (which puts the origin at the first sample) into the transform about ``x = 0``.
        convention: a key of :data:`CONVENTIONS` (default the lecture notes' ``unitary_angular``).
        n: transform length ``>= N`` (zero padded at the end: a finer frequency grid);
            default ``N``.

    Returns:
        ``(k, F)``: ``k`` the ``(n,)`` frequencies and ``F`` the ``(..., n)`` complex
        transform; numpy in, numpy out.

    Example:
        >>> import math
        >>> x = np.arange(-400, 400) * 0.05
        >>> pdf = np.exp(-x**2 / 2) / np.sqrt(2 * np.pi)       # the standard normal density
        >>> k, F = continuous_transform(pdf, 0.05, x0=x[0])
        >>> round(float(F[k == 0].real[0]), 12), round(1 / math.sqrt(2 * math.pi), 12)   # F(0) = 1/√(2π)
        (0.398942280401, 0.398942280401)
    """
    dx, x0 = _grid_args(dx, x0)
    conv = _convention(convention)
    f, origin = as_tensor(samples, "samples", dtype=torch.float64)
    if f.ndim < 1 or f.shape[-1] == 0:
        raise fail("samples", "a non-empty (..., N) array", f)
    N = f.shape[-1]
    n = N if n is None else check_int("n", n, min_value=N)
    k = torch.from_numpy(frequencies(n, dx, convention=conv)).to(f.device)
    X = torch.fft.fftshift(torch.fft.fft(f, n=n), dim=-1)
    F = (conv.forward * dx) * torch.exp(-1j * conv.scale * k * x0) * X
    k_out = k.cpu().numpy() if origin.numpy else k
    return k_out, restore(F, origin)


def inverse_continuous_transform(F, dx: float, *, x0: float = 0.0, convention="unitary_angular",
                                 n_samples: int | None = None, real: bool = True):
    """The inverse of :func:`continuous_transform`: samples ``f(x0 + j dx)`` from ``F`` on its grid.

    ``F`` is ``(..., n)`` on the ascending grid :func:`frequencies` ``(n, dx)``. Exact
    inverse of the discrete approximation (the inverse DFT, divided by ``c dx``).

    Args:
        F: ``(..., n)`` complex transform (numpy or torch).
        dx, x0, convention: the grid and the convention ``F`` was computed with.
        n_samples: keep the first ``n_samples`` samples (default all ``n``).
        real: return the real part (the samples of a real function).

    Example:
        >>> f = np.exp(-np.linspace(-5, 5, 101) ** 2)
        >>> k, F = continuous_transform(f, 0.1, x0=-5.0, n=256)
        >>> bool(np.allclose(inverse_continuous_transform(F, 0.1, x0=-5.0, n_samples=101), f))
        True
    """
    dx, x0 = _grid_args(dx, x0)
    conv = _convention(convention)
    if isinstance(F, np.ndarray):
        t, numpy_in = torch.from_numpy(np.asarray(F, dtype=np.complex128)), True
    elif isinstance(F, torch.Tensor):
        t, numpy_in = F.to(torch.complex128), False
    else:
        raise fail("F", "a complex numpy array or torch tensor", type(F).__name__, TypeError)
    if t.ndim < 1 or t.shape[-1] == 0:
        raise fail("F", "a non-empty (..., n) array", t)
    n = t.shape[-1]
    k = torch.from_numpy(frequencies(n, dx, convention=conv)).to(t.device)
    X = torch.fft.ifftshift(t * torch.exp(1j * conv.scale * k * x0), dim=-1) / (conv.forward * dx)
    f = torch.fft.ifft(X, dim=-1)
    if n_samples is not None:
        f = f[..., : check_int("n_samples", n_samples, min_value=1)]
    if real:
        f = f.real
    return f.cpu().numpy() if numpy_in else f


# ---------------------------------------------------------------- analytic pairs

PAIRS = ("gaussian", "box", "one_sided_exponential", "two_sided_exponential")


@dataclass(frozen=True)
class FourierPair:
    """A function with a known transform: ``pair.f(x)`` and ``pair.transform(k, convention)``.

    ============================  ==========================================  ==============================
    name                          f(x)                                        ordinary transform Φ(ξ)
    ============================  ==========================================  ==============================
    ``gaussian``                  N(mu, sigma²) density                        e^{−2π²σ²ξ²} e^{−2πiξμ}
    ``box``                       1 on abs(x) < a (the edges: ``edge``)         2a sinc(2aξ) (numpy's sinc)
    ``one_sided_exponential``     e^{−λx} for x > 0, 0 below (x = 0: ``edge``)  1 / (λ + 2πiξ)
    ``two_sided_exponential``     e^{−λ abs(x)}                                2λ / (λ² + 4π²ξ²)
    ============================  ==========================================  ==============================

    Any convention follows from the ordinary one: ``F(k) = c Φ(s k / 2π)``.

    Attributes:
        name: one of :data:`PAIRS`.
        sigma, mu: the Gaussian's spread and centre.
        width: the box's half-width ``a``.
        rate: the exponentials' ``λ``.
        edge: the value sampled exactly at a jump (box edges, the exponential's 0). The mean
            of the two sides, ``0.5``, is the value Fourier inversion converges to and makes
            the Riemann sum second order; ``1.0`` makes it first order (one extra half-cell).
    """

    name: str
    sigma: float = 1.0
    mu: float = 0.0
    width: float = 1.0
    rate: float = 1.0
    edge: float = 0.5

    def f(self, x) -> np.ndarray:
        """The function on the points ``x`` (float64 numpy)."""
        x = np.asarray(x, dtype=np.float64)
        if self.name == "gaussian":
            return np.exp(-0.5 * ((x - self.mu) / self.sigma) ** 2) / (self.sigma * math.sqrt(_TWO_PI))
        if self.name == "box":
            a = np.abs(x)
            return np.where(a < self.width, 1.0, np.where(a == self.width, self.edge, 0.0))
        if self.name == "one_sided_exponential":
            pos = np.exp(-self.rate * np.maximum(x, 0.0))
            return np.where(x > 0, pos, np.where(x == 0, self.edge, 0.0))
        return np.exp(-self.rate * np.abs(x))

    def ordinary(self, xi) -> np.ndarray:
        """Φ(ξ) = ∫ f(x) e^{−2πiξx} dx, complex128."""
        xi = np.asarray(xi, dtype=np.float64)
        if self.name == "gaussian":
            return np.exp(-2 * math.pi**2 * self.sigma**2 * xi**2) * np.exp(-2j * math.pi * xi * self.mu)
        if self.name == "box":
            return (2 * self.width * np.sinc(2 * self.width * xi)).astype(np.complex128)
        if self.name == "one_sided_exponential":
            return 1.0 / (self.rate + 2j * math.pi * xi)
        return (2 * self.rate / (self.rate**2 + 4 * math.pi**2 * xi**2)).astype(np.complex128)

    def transform(self, k, convention="unitary_angular") -> np.ndarray:
        """``F[f](k)`` in ``convention``: ``c Φ(s k / 2π)``."""
        conv = _convention(convention)
        return conv.forward * self.ordinary(np.asarray(k, dtype=np.float64) * conv.scale / _TWO_PI)


def fourier_pair(name: str, *, sigma: float = 1.0, mu: float = 0.0, width: float = 1.0, rate: float = 1.0,
                 edge: float = 0.5) -> FourierPair:
    """A :class:`FourierPair` by name, its parameters checked.

    Example:
        >>> g = fourier_pair("gaussian", sigma=2.0)
        >>> round(float(g.transform(0.0).real * np.sqrt(2 * np.pi)), 12)   # unit area: √(2π) F(0) = 1
        1.0
    """
    name = check_option("name", name, PAIRS)
    return FourierPair(
        name,
        sigma=check_float("sigma", sigma, min_value=0.0, strict_min=True),
        mu=check_float("mu", mu),
        width=check_float("width", width, min_value=0.0, strict_min=True),
        rate=check_float("rate", rate, min_value=0.0, strict_min=True),
        edge=check_float("edge", edge, min_value=0.0, max_value=1.0),
    )


def analytic_convolution(f: FourierPair, g: FourierPair, x) -> np.ndarray | None:
    """``(f ⊛ g)(x)`` in closed form where this module knows it, else ``None``.

    * Gaussian ⊛ Gaussian: the Gaussian of ``mu = mu_f + mu_g``, ``sigma² = sigma_f² + sigma_g²``.
    * Gaussian ⊛ one-sided exponential (either order): ``½ e^{λ²σ²/2 − λ(x−μ)} erfc((λσ² − (x−μ)) / (σ√2))``,
      the exponentially modified Gaussian (times ``1/λ``), evaluated without overflow.
    * box ⊛ box: the overlap of ``[−a, a]`` and ``[x − b, x + b]``, a trapezoid (a triangle when ``a = b``).
    """
    x = np.asarray(x, dtype=np.float64)
    names = {f.name, g.name}
    if f.name == g.name == "gaussian":
        return FourierPair("gaussian", sigma=math.hypot(f.sigma, g.sigma), mu=f.mu + g.mu).f(x)
    if names == {"gaussian", "one_sided_exponential"}:
        gs, ex = (f, g) if f.name == "gaussian" else (g, f)
        lam, s, y = ex.rate, gs.sigma, x - gs.mu
        z = (lam * s * s - y) / (s * math.sqrt(2.0))
        # z >= 0: erfc(z) = erfcx(z) e^{-z²} keeps the product finite; z < 0: erfc(z) is in (1, 2)
        zp = np.maximum(z, 0.0)
        a = 0.5 * np.exp(lam * lam * s * s / 2 - lam * y - zp * zp) * scipy.special.erfcx(zp)
        b = 0.5 * np.exp(np.minimum(lam * lam * s * s / 2 - lam * y, 700.0)) * scipy.special.erfc(np.minimum(z, 0.0))
        return np.where(z >= 0, a, b)
    if f.name == g.name == "box":
        a, b = f.width, g.width
        return np.maximum(0.0, np.minimum(a, x + b) - np.maximum(-a, x - b))
    return None


# ---------------------------------------------------------------- the theorems


@dataclass(frozen=True)
class TheoremCheck:
    """Both sides of ``F[f ⊛ g] = factor · F[f] F[g]`` from samples, in one convention.

    Attributes:
        convention: the :class:`Convention`.
        factor: its theorem factor (``√(2π)`` for the lecture notes').
        x: the grid of ``h`` (``x0_f + x0_g + j dx``).
        h: ``dx · (f * g)``: the Riemann sum of ``∫ f(x − u) g(u) du``, the full linear convolution.
        k: the frequencies (ascending), ``Fh``, ``Ff``, ``Fg`` the transforms of h, f and g there.
        product: ``factor · Ff · Fg``.
        max_error: ``max |Fh − product| / max |Fh|`` (rounding: the discrete sides agree exactly).
        max_error_without_factor: the same with the factor left out.
        ratio: ``Fh / (Ff Fg)`` at the frequency where ``|Ff Fg|`` is largest: the factor itself.
    """

    convention: Convention
    factor: float
    x: np.ndarray
    h: np.ndarray
    k: np.ndarray
    Fh: np.ndarray
    Ff: np.ndarray
    Fg: np.ndarray
    product: np.ndarray
    max_error: float
    max_error_without_factor: float
    ratio: complex


def _samples_1d(arg: str, a) -> np.ndarray:
    t, _ = as_tensor(a, arg, dtype=torch.float64)
    if t.ndim != 1 or t.shape[0] == 0:
        raise fail(arg, "a non-empty 1-D array of samples", t)
    return t.cpu().numpy()


def _linear(f: np.ndarray, g: np.ndarray) -> np.ndarray:
    """The full linear convolution, directly (the engine's own sum, not an FFT)."""
    return np.asarray(convolve2d(f[None, :], g[None, :], mode="full", method="direct"))[0]


def check_theorem(f, g, dx: float, *, x0_f: float = 0.0, x0_g: float = 0.0,
                  convention="unitary_angular") -> TheoremCheck:
    """Convolve in space, transform, and compare with ``factor · F[f] F[g]``.

    ``h = dx · (f * g)`` is computed directly (a sum, no FFT). On a transform grid of
    ``n >= len(f) + len(g) − 1`` points the two sides agree to rounding exactly when the
    factor is the convention's ``1/c`` — and differ by exactly that factor without it.

    Args:
        f, g: 1-D samples on grids of the same spacing ``dx``, starting at ``x0_f`` and ``x0_g``.
        dx: the spacing.
        x0_f, x0_g: where each grid starts (``h``'s starts at their sum).
        convention: a key of :data:`CONVENTIONS`.

    Example:
        >>> import math
        >>> x = np.arange(-200, 200) * 0.05
        >>> g = np.exp(-x**2)
        >>> c = check_theorem(g, g, 0.05, x0_f=x[0], x0_g=x[0])
        >>> c.max_error < 1e-12, round(abs(c.ratio), 10) == round(math.sqrt(2 * math.pi), 10)
        (True, True)
    """
    conv = _convention(convention)
    dx, x0_f = _grid_args(dx, x0_f)
    x0_g = check_float("x0_g", x0_g)
    fa, ga = _samples_1d("f", f), _samples_1d("g", g)
    h = dx * _linear(fa, ga)
    n = h.shape[0]
    x0_h = x0_f + x0_g
    k, Fh = continuous_transform(h, dx, x0=x0_h, convention=conv)
    _, Ff = continuous_transform(fa, dx, x0=x0_f, convention=conv, n=n)
    _, Fg = continuous_transform(ga, dx, x0=x0_g, convention=conv, n=n)
    bare = Ff * Fg
    product = conv.factor * bare
    scale = max(float(np.abs(Fh).max()), 1e-300)
    i = int(np.argmax(np.abs(bare)))
    return TheoremCheck(
        convention=conv, factor=conv.factor, x=x0_h + dx * np.arange(n), h=h, k=k, Fh=Fh, Ff=Ff, Fg=Fg,
        product=product, max_error=float(np.abs(Fh - product).max() / scale),
        max_error_without_factor=float(np.abs(Fh - bare).max() / scale), ratio=complex(Fh[i] / bare[i]),
    )


def dft_theorem(f, g) -> tuple[float, np.ndarray, np.ndarray]:
    """The DFT's own theorem, with no factor: ``DFT[f ⊛_N g] = DFT[f] · DFT[g]``.

    The circular convolution is summed directly (no FFT): the full linear sum, folded
    back onto one period. Both arrays must have the same length ``N``.

    Returns:
        ``(max relative difference, DFT of the circular convolution, DFT[f] · DFT[g])``.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> err, _, _ = dft_theorem(rng.random(64), rng.random(64))
        >>> err < 1e-12
        True
    """
    fa, ga = _samples_1d("f", f), _samples_1d("g", g)
    if fa.shape != ga.shape:
        raise fail("g", f"as long as f ({fa.shape[0]} samples)", ga)
    N = fa.shape[0]
    # circular convolution by the definition, aligned to start at n = 0: one period of the
    # full linear convolution folded back onto [0, N)
    full = _linear(fa, ga)
    circ = full[:N].copy()
    circ[: N - 1] += full[N:]
    lhs = np.fft.fft(circ)
    rhs = np.fft.fft(fa) * np.fft.fft(ga)
    return float(np.abs(lhs - rhs).max() / max(float(np.abs(lhs).max()), 1e-300)), lhs, rhs

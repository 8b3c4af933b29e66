"""Diffusion on a line: the 1-D propagator, exact many-step diffusion and the 1-D heat equation."""

from __future__ import annotations

import numpy as np
import pytest

from convscope._checks import ArgumentError
from convscope.diffusion import (
    diffuse1d,
    heat_kernel1d,
    heat_solution1d,
    moments1d,
    propagator1d,
    propagator_power1d,
)

SECOND_DIFFERENCE = [-1.0, 2.0, -1.0]


@pytest.fixture
def P():
    return propagator1d(SECOND_DIFFERENCE)


def _drop(n: int = 257) -> np.ndarray:
    u = np.zeros(n)
    u[n // 2] = 1.0
    return u


def test_propagator_is_the_softmax(P):
    e = np.exp(SECOND_DIFFERENCE)
    assert np.allclose(P, e / e.sum(), rtol=1e-15) and P.sum() == pytest.approx(1.0, abs=1e-15)
    hot = propagator1d(SECOND_DIFFERENCE, temperature=100.0)
    assert moments1d(hot).variance > moments1d(P).variance  # a higher temperature spreads further
    m = moments1d(P)
    assert m.drift == pytest.approx(0.0, abs=1e-15) and m.variance == pytest.approx(2 * P[0]) and m.D == m.variance / 2
    with pytest.raises(ArgumentError, match=r"kernel must be of odd size"):
        propagator1d([1.0, 2.0])
    with pytest.raises(ArgumentError, match=r"kernel must be a 1-D array"):
        propagator1d(np.ones((3, 3)))


@pytest.mark.parametrize("boundary", ["circular", "symmetric"])
def test_mass_is_conserved(P, rng, boundary):
    u = rng.random(64)
    for method in ("iterate", "spectral"):
        v = diffuse1d(u, P, 200, boundary=boundary, method=method)
        assert v.sum() == pytest.approx(u.sum(), rel=1e-12)
    absorbed = diffuse1d(u, P, [0, 50, 200], boundary="zeros")
    assert np.all(np.diff(absorbed.sum(1)) < 0)  # absorbing ends: salt leaves


def test_n_steps_are_one_convolution_with_the_n_fold_propagator(P, rng):
    n = 40
    Pn = propagator_power1d(P, n)
    assert Pn.shape == (2 * n + 1,) and Pn.sum() == pytest.approx(1.0, abs=1e-12)
    # the free line: salt never reaches the ends, so absorbing walls change nothing
    u = np.zeros(301)
    u[100:200] = rng.random(100)
    stepped = diffuse1d(u, P, n, boundary="zeros", method="iterate")
    assert np.abs(stepped - np.convolve(u, Pn, mode="same")).max() <= 1e-10 * u.max()
    # literal repeated convolution
    w = u.copy()
    for _ in range(n):
        w = np.convolve(w, P, mode="same")
    assert np.abs(stepped - w).max() <= 1e-10 * u.max()


def test_spectral_takes_any_number_of_steps_exactly(P, rng):
    u = rng.random(128)
    it = diffuse1d(u, P, 300, method="iterate")
    sp = diffuse1d(u, P, 300, method="spectral")
    assert np.abs(sp - it).max() <= 1e-10 * np.abs(it).max()
    far = diffuse1d(u, P, 10**6, method="spectral")  # a million steps, one multiplication
    # evenly spread; the DC eigenvalue is ΣP = 1 to an ulp, so n steps cost n ulps of the mean
    assert np.allclose(far, u.mean(), rtol=1e-9, atol=0)


def test_variance_grows_linearly(P):
    u = _drop(401)
    x = np.arange(401) - 200
    frames = diffuse1d(u, P, [10, 20, 40, 80], boundary="zeros")
    var = (frames * x**2).sum(1) / frames.sum(1)
    assert np.allclose(var, np.array([10, 20, 40, 80]) * moments1d(P).variance, rtol=1e-10)


def test_matches_the_heat_equation(P):
    D = moments1d(P).D
    errs = []
    for n in (50, 200, 800):
        v = diffuse1d(_drop(), P, n)
        g = heat_kernel1d(257, D, n)
        errs.append(np.abs(v - g).max() / g.max())
    assert errs[-1] < 2e-3 and errs[0] > errs[1] > errs[2]  # the central limit: closer with every step
    # and the heat solution itself spreads a drop into the kernel, variance 2 D t
    h = heat_solution1d(_drop(), D, 800.0)
    x = np.arange(257) - 128
    assert np.abs(h - g).max() < 1e-12 and (h * x**2).sum() == pytest.approx(2 * D * 800, rel=1e-9)


def test_channels_and_lists(P, rng):
    u = rng.random((3, 50))
    v = diffuse1d(u, P, [1, 5])
    assert v.shape == (2, 3, 50)
    assert np.allclose(v[1, 2], diffuse1d(u[2], P, 5), rtol=1e-12)

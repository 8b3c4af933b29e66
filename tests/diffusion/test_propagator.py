"""convscope.diffusion: the softmax propagator, many-step diffusion, the heat equation, random walks."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.ndimage as ndi
import scipy.stats
import torch

from conftest import assert_close
from convscope.conv import convolve2d
from convscope.diffusion import (
    diffuse,
    entropy,
    heat_kernel,
    heat_solution,
    mass,
    moments,
    propagator,
    propagator_power,
    random_walk,
    spectral_exact,
    walk_histogram,
)
from convscope.kernels import get_kernel

SEED_KERNEL = np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], dtype=np.float64)


def axis_symmetric_kernel(rng, kH: int, kW: int) -> np.ndarray:
    """A random kernel equal to its flip along each axis."""
    hy, hx = kH // 2 + 1, kW // 2 + 1
    q = rng.normal(size=(hy, hx))
    k = np.concatenate([q, q[-2::-1]], axis=0) if kH > 1 else q
    return np.concatenate([k, k[:, -2::-1]], axis=1) if kW > 1 else k


def drop(shape, at=None, dtype=np.float64) -> np.ndarray:
    u = np.zeros(shape, dtype=dtype)
    u[at if at is not None else (shape[0] // 2, shape[1] // 2)] = 1.0
    return u


def centred_moments(u: np.ndarray):
    """Mean and covariance of a 2-D field seen as a density over pixel coordinates."""
    p = u / u.sum()
    y, x = np.meshgrid(np.arange(u.shape[0]), np.arange(u.shape[1]), indexing="ij")
    my, mx = (p * y).sum(), (p * x).sum()
    cyy, cxx, cyx = (p * (y - my) ** 2).sum(), (p * (x - mx) ** 2).sum(), (p * (y - my) * (x - mx)).sum()
    return np.array([my, mx]), np.array([[cyy, cyx], [cyx, cxx]])


# --------------------------------------------------------------------------------------------
class TestPropagator:
    def test_seed_numbers_exact(self):
        # computed independently of softmax: e^8 / (e^8 + 8 e^-1) and e^-1 / (e^8 + 8 e^-1)
        z = math.exp(8) + 8 * math.exp(-1)
        centre, side = math.exp(8) / z, math.exp(-1) / z
        P = propagator(SEED_KERNEL)
        assert abs(P[1, 1] - centre) <= 1e-15
        mask = np.ones((3, 3), bool)
        mask[1, 1] = False
        assert np.all(np.abs(P[mask] - side) <= 1e-18)
        # the lecture notes' rounded figures, to the digits they really have
        assert round(centre, 5) == 0.99901 and round(side, 7) == 0.0001233
        assert f"{P[1, 1]:.4f}" == "0.9990"  # the lecture notes' 0.9992 is a rounding slip

    def test_named_kernel_torch_in_torch_out(self):
        P = propagator(get_kernel("laplacian8"))
        assert isinstance(P, torch.Tensor) and P.dtype == torch.float64
        assert_close(P, propagator(SEED_KERNEL))

    @pytest.mark.parametrize("shape", [(1, 1), (3, 3), (5, 3), (7, 9)])
    @pytest.mark.parametrize("temperature", [0.1, 1.0, 4.0, 100.0])
    def test_density(self, rng, shape, temperature):
        P = propagator(rng.normal(size=shape) * 5, temperature=temperature)
        assert P.shape == shape and (P >= 0).all()
        assert abs(P.sum() - 1) <= 1e-14

    def test_float32_kept(self, rng):
        P = propagator(rng.normal(size=(3, 3)).astype(np.float32))
        assert P.dtype == np.float32 and abs(float(P.sum()) - 1) < 1e-6

    def test_integer_kernel_is_exact_float64(self):
        P = propagator(SEED_KERNEL.astype(np.int64))
        assert P.dtype == np.float64
        assert_close(P, propagator(SEED_KERNEL))

    def test_temperature_controls_spread(self):
        var = [moments(propagator(SEED_KERNEL, temperature=t)).variance[0] for t in (0.5, 1, 2, 4, 8, 1e6)]
        assert all(a < b for a, b in itertools.pairwise(var))
        assert abs(var[-1] - 6 / 9) < 1e-5  # infinite temperature: uniform 3x3 jump
        assert_close(propagator(SEED_KERNEL, temperature=1e-3), drop((3, 3)))  # frozen: no jump

    def test_matches_torch_softmax(self, rng):
        k = rng.normal(size=(5, 5))
        ref = torch.softmax(torch.from_numpy(k).flatten() / 2.5, 0).reshape(5, 5).numpy()
        assert_close(propagator(k, temperature=2.5), ref)

    @pytest.mark.parametrize(
        "kernel, kw, match",
        [
            (np.zeros((2, 3)), {}, "odd size"),
            (np.zeros((3, 3, 3)), {}, r"kernel must be of shape \(kH, kW\)"),
            (np.array([[0, np.nan, 0]]), {}, "kernel must be finite"),
            (np.zeros((3, 3)), {"temperature": 0}, "temperature must be a finite number > 0"),
            (np.zeros((3, 3)), {"temperature": -1.0}, "temperature must be a finite number > 0"),
        ],
    )
    def test_errors(self, kernel, kw, match):
        with pytest.raises(ValueError, match=match):
            propagator(kernel, **kw)

    def test_type_errors(self):
        with pytest.raises(TypeError, match="kernel must be"):
            propagator("laplacian8")
        with pytest.raises(TypeError, match="temperature must be a real number"):
            propagator(SEED_KERNEL, temperature="hot")


class TestMoments:
    def test_lazy_walk_by_hand(self):
        P = np.zeros((3, 3))
        P[1, 1], P[0, 1], P[2, 1], P[1, 0], P[1, 2] = 0.6, 0.1, 0.1, 0.1, 0.1
        m = moments(P)
        assert m.drift == (0.0, 0.0)
        assert_close(m.covariance, np.diag([0.2, 0.2]))
        assert m.variance == pytest.approx((0.2, 0.2), rel=1e-14)
        assert m.D_axes == pytest.approx((0.1, 0.1), rel=1e-14) and m.D == pytest.approx(0.1, rel=1e-14)
        assert m.entropy == pytest.approx(-(0.6 * math.log(0.6) + 4 * 0.1 * math.log(0.1)), rel=1e-14)

    def test_drift_and_correlation(self):
        P = np.zeros((3, 5))
        P[2, 4] = 0.5  # jump (+1, +2)
        P[1, 2] = 0.5  # stay
        m = moments(P)
        assert m.drift == pytest.approx((0.5, 1.0), rel=1e-14)
        # each axis is a Bernoulli scaled by the jump: var = a b p (1 - p)
        assert_close(m.covariance, np.array([[0.25, 0.5], [0.5, 1.0]]))

    def test_seed_propagator(self):
        m = moments(propagator(SEED_KERNEL))
        z = math.exp(8) + 8 * math.exp(-1)
        var = 6 * math.exp(-1) / z  # 6 of the 8 neighbours are one row (column) away
        assert m.variance == pytest.approx((var, var), rel=1e-12)
        assert m.D == pytest.approx(var / 2, rel=1e-12)
        assert abs(m.covariance[0, 1]) < 1e-15
        assert "D = " in str(m) and "entropy" in str(m)

    def test_uniform_entropy(self):
        assert moments(np.full((3, 5), 1 / 15)).entropy == pytest.approx(math.log(15), rel=1e-14)

    def test_not_a_density(self):
        with pytest.raises(ValueError, match="propagator must be a probability density summing to 1"):
            moments(np.ones((3, 3)))
        with pytest.raises(ValueError, match="non-negative"):
            moments(np.array([[0.5, 1.0, -0.5]]))


# --------------------------------------------------------------------------------------------
def case(boundary: str, rng) -> np.ndarray:
    """A propagator for which the spectral method is exact under ``boundary``."""
    if boundary == "circular":
        return propagator(rng.normal(size=(5, 3)))  # any propagator, drift included
    if boundary == "symmetric":
        return propagator(axis_symmetric_kernel(rng, 5, 7))
    return propagator(axis_symmetric_kernel(rng, 3, 3))


class TestDiffuse:
    @pytest.mark.parametrize("boundary", ["circular", "symmetric", "zeros"])
    @pytest.mark.parametrize("steps", [1, 7, 50])
    def test_iterate_equals_spectral(self, rng, boundary, steps):
        P = case(boundary, rng)
        u = rng.random((2, 3, 19, 24))
        it = diffuse(u, P, steps, boundary=boundary, method="iterate")
        sp = diffuse(u, P, steps, boundary=boundary, method="spectral")
        assert sp.shape == u.shape and sp.dtype == np.float64
        assert_close(sp, it, np.float64)  # 1e-10 relative

    @pytest.mark.parametrize("boundary", ["circular", "symmetric"])
    def test_kernel_larger_than_image(self, rng, boundary):
        P = propagator(axis_symmetric_kernel(rng, 9, 11) if boundary == "symmetric" else rng.normal(size=(9, 11)))
        u = rng.random((4, 5))
        assert_close(diffuse(u, P, 7, boundary=boundary, method="spectral"),
                     diffuse(u, P, 7, boundary=boundary, method="iterate"))

    def test_zeros_thin_propagator(self, rng):
        P = propagator(np.array([[0.3], [1.0], [0.3]]))  # 3x1: vertical only
        u = rng.random((6, 5))
        assert_close(diffuse(u, P, 7, boundary="zeros", method="spectral"),
                     diffuse(u, P, 7, boundary="zeros", method="iterate"))

    def test_one_step_is_one_engine_convolution(self, rng):
        P = propagator(rng.normal(size=(3, 5)))
        u = rng.random((10, 12))
        for b in ("circular", "symmetric", "zeros"):
            assert_close(diffuse(u, P, 1, boundary=b, method="iterate"), convolve2d(u, P, boundary=b))

    def test_true_convolution_direction(self):
        # P(j) is the probability of the jump j: salt at x moves to x + j.
        P = np.zeros((3, 3))
        P[2, 1] = 1.0  # always jump (+1, 0): one row down
        u = drop((7, 7), (2, 3))
        for method in ("iterate", "spectral"):
            v = diffuse(u, P, 3, method=method)
            assert_close(v, drop((7, 7), (5, 3)))

    def test_float32_and_torch(self, rng):
        P = case("circular", rng)
        u = rng.random((16, 16))
        ref = diffuse(u, P, 20)
        t = diffuse(torch.from_numpy(u.astype(np.float32)), torch.from_numpy(P), 20, method="iterate")
        assert isinstance(t, torch.Tensor) and t.dtype == torch.float32
        assert_close(t, ref, np.float32)
        s = diffuse(u.astype(np.float32), P, 20, method="spectral")
        assert s.dtype == np.float32
        assert_close(s, ref, np.float32)

    def test_non_contiguous(self, rng):
        P = case("circular", rng)
        u = rng.random((20, 16)).T  # (16, 20), Fortran order
        assert_close(diffuse(u, P, 5, method="spectral"), diffuse(np.ascontiguousarray(u), P, 5, method="iterate"))

    @pytest.mark.parametrize("method", ["iterate", "spectral"])
    def test_steps_list_frames(self, rng, method):
        P = case("symmetric", rng)
        u = rng.random((12, 10))
        steps = [5, 0, 12, 5]
        frames = diffuse(u, P, steps, boundary="symmetric", method=method)
        assert frames.shape == (4, 12, 10)
        assert_close(frames[1], u)
        for f, s in zip(frames, steps):
            assert_close(f, diffuse(u, P, s, boundary="symmetric", method="iterate"))

    def test_auto(self, rng):
        u = rng.random((9, 9))
        Pa = propagator(rng.normal(size=(3, 3)))  # not axis-symmetric
        assert not spectral_exact(Pa, "symmetric")[0]
        assert_close(diffuse(u, Pa, 4, boundary="symmetric"), diffuse(u, Pa, 4, boundary="symmetric", method="iterate"))
        P5 = propagator(axis_symmetric_kernel(rng, 5, 5))
        assert spectral_exact(P5, "symmetric")[0] and not spectral_exact(P5, "zeros")[0]
        assert_close(diffuse(u, P5, 4, boundary="zeros"), diffuse(u, P5, 4, boundary="zeros", method="iterate"))

    def test_spectral_refuses_when_not_exact(self, rng):
        u = rng.random((9, 9))
        with pytest.raises(ValueError, match="symmetric in each axis"):
            diffuse(u, propagator(rng.normal(size=(3, 3))), 3, boundary="symmetric", method="spectral")
        with pytest.raises(ValueError, match="at most 3x3"):
            diffuse(u, propagator(axis_symmetric_kernel(rng, 5, 5)), 3, boundary="zeros", method="spectral")

    @pytest.mark.parametrize(
        "kw, match",
        [
            ({"boundary": "reflect"}, "boundary must be one of 'circular', 'symmetric', 'zeros', got 'reflect'"),
            ({"method": "fft"}, "method must be one of 'auto', 'iterate', 'spectral', got 'fft'"),
            ({"steps": -1}, "steps must be an integer >= 0"),
            ({"steps": []}, "steps must be an int >= 0 or a non-empty list"),
            ({"propagator": np.ones((3, 3))}, "propagator must be a probability density"),
            ({"propagator": np.full((2, 2), 0.25)}, "odd size"),
            ({"image": np.zeros(5)}, "image must be of shape"),
        ],
    )
    def test_errors(self, kw, match):
        args = {"image": np.zeros((5, 5)), "propagator": np.full((3, 3), 1 / 9), "steps": 2} | kw
        with pytest.raises(ValueError, match=match):
            diffuse(args.pop("image"), args.pop("propagator"), args.pop("steps"), **args)

    def test_steps_type_error(self):
        with pytest.raises(TypeError, match="steps must be an integer"):
            diffuse(np.zeros((5, 5)), np.full((3, 3), 1 / 9), 2.5)


class TestConservation:
    @pytest.mark.parametrize("boundary", ["circular", "symmetric"])
    @pytest.mark.parametrize("method", ["iterate", "spectral"])
    def test_mass_conserved(self, rng, boundary, method):
        P = case(boundary, rng)
        u = rng.random((3, 21, 17))
        frames = diffuse(u, P, [1, 7, 50, 400], boundary=boundary, method=method)
        m0 = mass(u)
        for f in frames:
            assert np.all(np.abs(mass(f) - m0) <= 1e-12 * m0)

    @pytest.mark.parametrize("method", ["iterate", "spectral"])
    def test_zeros_absorbs(self, rng, method):
        P = propagator(SEED_KERNEL, temperature=3)
        u = rng.random((15, 13))
        steps = list(range(0, 60, 3))
        m = mass(diffuse(u, P, steps, boundary="zeros", method=method))
        assert np.all(np.diff(m) < 0) and m[-1] < 0.5 * m[0]

    @pytest.mark.parametrize("boundary", ["circular", "symmetric"])
    def test_entropy_never_decreases(self, rng, boundary):
        P = propagator(axis_symmetric_kernel(rng, 3, 5))
        u = rng.random((14, 18)) ** 4  # uneven salt
        h = entropy(diffuse(u, P, list(range(0, 80)), boundary=boundary))
        assert np.all(np.diff(h) >= -1e-12)
        assert h[-1] > h[0] and h[-1] <= math.log(14 * 18) + 1e-12

    @pytest.mark.parametrize("kernel", [SEED_KERNEL, np.array([[0.0, 1.0, 2.5], [0.5, 2.0, 1.0], [0.0, 0.0, 0.3]])])
    def test_variance_grows_linearly(self, kernel):
        P = propagator(kernel, temperature=2.0)
        m = moments(P)
        u0 = drop((100, 100), (50, 50))  # 40 steps reach at most 40 px: no wrap-around, exact moments
        steps = [0, 1, 5, 10, 20, 40]
        frames = diffuse(u0, P, steps)
        for n, f in zip(steps, frames):
            mean, cov = centred_moments(f)
            assert_close(mean, np.array([50, 50]) + n * np.array(m.drift), rtol=1e-10)
            if n == 0:
                assert np.abs(cov).max() < 1e-12
            else:
                assert_close(cov, n * m.covariance, rtol=1e-9)  # slope = per-step covariance
        var = np.array([centred_moments(f)[1][1, 1] for f in frames])
        slope = np.polyfit(steps, var, 1)[0]
        assert slope == pytest.approx(m.variance[1], rel=1e-9)


# --------------------------------------------------------------------------------------------
class TestHeat:
    @pytest.mark.parametrize("D, t", [(0.5, 4.0), (0.3, 20.0), (1.0, 2.5)])
    def test_equals_gaussian_blur_wrap(self, rng, D, t):
        u = rng.random((48, 40))
        sigma = math.sqrt(2 * D * t)
        ref = ndi.gaussian_filter(u, sigma, mode="wrap", truncate=12)
        assert np.abs(heat_solution(u, D, t) - ref).max() <= 1e-6

    def test_symmetric_equals_gaussian_blur_reflect(self, rng):
        u = rng.random((33, 30))
        ref = ndi.gaussian_filter(u, math.sqrt(2 * 0.7 * 3), mode="reflect", truncate=12)  # scipy reflect = symmetric
        assert np.abs(heat_solution(u, 0.7, 3.0, boundary="symmetric") - ref).max() <= 1e-6

    def test_zeros_is_odd_extension_blur(self, rng):
        H, W = 20, 17
        u = rng.random((H, W))
        # Dirichlet walls at -1 and N: the odd, 2(N+1)-periodic extension, blurred with wrap-around
        ext = np.zeros((2 * H + 2, 2 * W + 2))
        ext[1 : H + 1, 1 : W + 1] = u
        ext[H + 2 :, 1 : W + 1] = -u[::-1]
        ext[1 : H + 1, W + 2 :] = -u[:, ::-1]
        ext[H + 2 :, W + 2 :] = u[::-1, ::-1]
        ref = ndi.gaussian_filter(ext, math.sqrt(2 * 0.5 * 4), mode="wrap", truncate=12)[1 : H + 1, 1 : W + 1]
        assert np.abs(heat_solution(u, 0.5, 4.0, boundary="zeros") - ref).max() <= 1e-6

    def test_anisotropic_and_drift(self, rng):
        u = rng.random((40, 36))
        ref = ndi.gaussian_filter(u, (math.sqrt(2 * 0.2 * 10), math.sqrt(2 * 0.9 * 10)), mode="wrap", truncate=12)
        assert np.abs(heat_solution(u, (0.2, 0.9), 10.0) - ref).max() <= 1e-6
        moved = heat_solution(u, 0.5, 4.0, drift=(0.5, -0.25))  # moves (2, -1) px by t = 4
        assert_close(moved, np.roll(heat_solution(u, 0.5, 4.0), (2, -1), axis=(0, 1)), rtol=1e-9)

    def test_kernel(self):
        g = heat_kernel((65, 64), 0.5, 9.0)
        assert g.shape == (65, 64) and abs(g.sum() - 1) < 1e-12
        mean, cov = centred_moments(np.clip(g, 0, None))
        assert_close(mean, np.array([32, 32]), rtol=1e-8)
        assert_close(cov, np.diag([9.0, 9.0]), rtol=1e-6)  # variance 2 D t
        assert_close(heat_kernel((8, 8), 1.0, 0.0), drop((8, 8)), rtol=1e-12)

    def test_preserves_kind(self, rng):
        t = heat_solution(torch.rand(2, 8, 8, dtype=torch.float32), 0.5, 1.0, boundary="symmetric")
        assert isinstance(t, torch.Tensor) and t.dtype == torch.float32 and t.shape == (2, 8, 8)

    def test_errors(self):
        with pytest.raises(ValueError, match="D must be a finite number >= 0"):
            heat_solution(np.zeros((4, 4)), -1.0, 1.0)
        with pytest.raises(ValueError, match="t must be a finite number >= 0"):
            heat_kernel((4, 4), 1.0, -2.0)
        with pytest.raises(ValueError, match="drift must be None unless boundary='circular'"):
            heat_solution(np.zeros((4, 4)), 1.0, 1.0, boundary="zeros", drift=(1, 0))
        with pytest.raises(ValueError, match="boundary must be one of"):
            heat_solution(np.zeros((4, 4)), 1.0, 1.0, boundary="wrap")


class TestCentralLimit:
    def test_n_step_propagator_tends_to_heat_kernel_as_one_over_n(self):
        P = propagator(SEED_KERNEL, temperature=4.0)
        m = moments(P)
        errs = []
        for n in (10, 100, 1000):
            Pn = propagator_power(P, n)
            errs.append(np.abs(Pn - heat_kernel(Pn.shape, m.D, float(n))).sum())  # total variation x 2
        assert errs[0] < 0.05
        for a, b in itertools.pairwise(errs):
            assert 5 < a / b < 20  # ~ 1/n: ten times the steps, a tenth of the error

    def test_propagator_power_is_diffused_drop(self, rng):
        P = propagator(rng.normal(size=(3, 5)))
        Pn = propagator_power(P, 6)
        assert Pn.shape == (13, 25)
        assert_close(Pn, diffuse(drop((13, 25)), P, 6), rtol=1e-12)


class TestRandomWalk:
    @pytest.mark.parametrize("method", ["multinomial", "steps"])
    def test_histogram_matches_n_step_propagator(self, method):
        P = propagator(SEED_KERNEL, temperature=4.0)
        n, N = 20, 100_000
        d = random_walk(N, P, n, seed=7, method=method)
        assert d.shape == (N, 2) and d.dtype == np.int64
        expected = N * propagator_power(P, n)
        observed = walk_histogram(d, expected.shape)
        assert observed.sum() == N
        big = expected >= 5
        obs = np.append(observed[big], observed[~big].sum())
        exp = np.append(expected[big], expected[~big].sum())
        chi2 = float(((obs - exp) ** 2 / exp).sum())
        assert chi2 < scipy.stats.chi2.ppf(0.999, len(obs) - 1)

    def test_drift_and_spread(self):
        P = np.zeros((3, 3))
        P[1, 1], P[1, 2] = 0.25, 0.75  # stay, or one step right
        m = moments(P)
        d = random_walk(100_000, P, 50, seed=1)
        assert d[:, 0].max() == 0
        assert d[:, 1].mean() == pytest.approx(50 * m.drift[1], abs=5 * math.sqrt(50 * m.variance[1] / 1e5))

    def test_reproducible(self):
        P = propagator(SEED_KERNEL, temperature=2.0)
        assert np.array_equal(random_walk(100, P, 9, seed=3), random_walk(100, P, 9, seed=3))
        assert not np.array_equal(random_walk(100, P, 9, seed=3), random_walk(100, P, 9, seed=4))

    def test_errors(self):
        P = np.full((3, 3), 1 / 9)
        with pytest.raises(ValueError, match="n_particles must be an integer >= 1"):
            random_walk(0, P, 3)
        with pytest.raises(ValueError, match="method must be one of 'multinomial', 'steps'"):
            random_walk(10, P, 3, method="exact")

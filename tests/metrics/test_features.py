"""GAN metrics: feature statistics against reference formulas, spectral diagnostics on known spectra."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from convscope.metrics import (
    class_histogram_kl,
    density_coverage,
    frechet_distance,
    kernel_distance,
    precision_recall,
)
from convscope.metrics.spectral import (
    checkerboard_frequencies,
    mean_power,
    radial_profile,
    spectral_report,
)


def _fd_reference(a, b):
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


class TestFrechet:
    def test_against_scipy_formula(self, rng):
        a = rng.standard_normal((400, 6))
        b = rng.standard_normal((300, 6)) @ rng.standard_normal((6, 6)) * 0.5 + 0.3
        assert frechet_distance(a, b) == pytest.approx(_fd_reference(a, b), rel=1e-6)

    def test_identical_is_zero_and_symmetric(self, rng):
        a, b = rng.standard_normal((200, 4)), rng.standard_normal((200, 4)) + 1
        assert frechet_distance(a, a) == pytest.approx(0, abs=1e-6)
        assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), rel=1e-6)

    def test_bad_input(self):
        with pytest.raises(ValueError, match=r"real must be a \(N, d\) feature matrix"):
            frechet_distance(np.zeros(5), np.zeros((5, 2)))
        with pytest.raises(ValueError, match="fake must be features of dimension 3"):
            frechet_distance(np.zeros((5, 3)), np.zeros((5, 2)))


def test_kid_matches_unbiased_mmd(rng):
    a, b = rng.standard_normal((60, 5)), rng.standard_normal((60, 5)) + 0.5
    kid, std = kernel_distance(a, b, subsets=3, subset_size=60)  # full sets: every subset is everything
    d = a.shape[1]

    def k(x, y):
        return (x @ y.T / d + 1) ** 3

    m = a.shape[0]
    kxx, kyy, kxy = k(a, a), k(b, b), k(a, b)
    mmd = ((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
           - 2 * kxy.mean())
    assert kid == pytest.approx(mmd, rel=1e-5) and std == pytest.approx(0, abs=1e-6)


class TestPrecisionRecall:
    def test_same_distribution_is_high(self, rng):
        a, b = rng.standard_normal((500, 2)), rng.standard_normal((500, 2))
        p, r = precision_recall(a, b, k=3)
        assert p > 0.9 and r > 0.9

    def test_mode_collapse_keeps_precision_loses_recall(self, rng):
        real = rng.standard_normal((500, 2))
        fake = 0.05 * rng.standard_normal((500, 2))  # all samples at the centre
        p, r = precision_recall(real, fake, k=3)
        assert p > 0.95 and r < 0.2

    def test_off_manifold_has_no_precision(self, rng):
        real, fake = rng.standard_normal((300, 2)), rng.standard_normal((300, 2)) + 20
        assert precision_recall(real, fake) == (0.0, 0.0)
        dens, cov = density_coverage(real, fake)
        assert dens == 0.0 and cov == 0.0

    def test_k_too_large(self, rng):
        with pytest.raises(ValueError, match="k must be smaller than the number of samples"):
            precision_recall(rng.standard_normal((3, 2)), rng.standard_normal((3, 2)), k=3)


def test_coverage_of_same_distribution(rng):
    dens, cov = density_coverage(rng.standard_normal((500, 2)), rng.standard_normal((500, 2)))
    # Naeem et al.: for identical distributions E[coverage] = 1 - 2**-k (N = M)
    assert 0.8 < dens < 1.2 and abs(cov - (1 - 2**-3)) < 0.05


def test_class_histogram_kl():
    r = class_histogram_kl([0, 0, 1, 1], 2)
    assert r["kl"] == 0.0 and r["covered"] == 2 and r["histogram"] == [2, 2]
    one = class_histogram_kl([3] * 10, 10)
    assert one["kl"] == pytest.approx(np.log(10)) and one["covered"] == 1
    p = np.array([0.5, 0.3, 0.2])
    labels = np.repeat([0, 1, 2], (p * 10).astype(int))
    assert class_histogram_kl(labels, 3)["kl"] == pytest.approx(float(np.sum(p * np.log(p * 3))))


class TestSpectral:
    @pytest.fixture
    def smooth(self):
        g = torch.Generator().manual_seed(0)
        return torch.nn.functional.avg_pool2d(torch.randn(64, 1, 36, 36, generator=g, dtype=torch.float64), 5, 1)[:, :, :32, :32]

    def test_checkerboard_is_flagged(self, smooth):
        cb = ((torch.arange(32)[:, None] + torch.arange(32)[None]) % 2 * 2 - 1).double() * 0.3
        rep = spectral_report(smooth, smooth + cb)
        assert rep["checkerboard"] and [(p["fy"], p["fx"]) for p in rep["flagged"]] == [(16, 16)]
        stripes = (torch.arange(32) % 4 < 2).double()[None, :] * 0.4  # period 4: (0, 8)
        rep = spectral_report(smooth, smooth + stripes)
        assert (0, 8) in [(p["fy"], p["fx"]) for p in rep["flagged"]]

    def test_clean_is_not_flagged(self, smooth):
        rep = spectral_report(smooth[:32], smooth[32:])
        assert not rep["checkerboard"] and rep["discrepancy"] < 0.2

    def test_discrepancy_grows_with_blur(self, smooth):
        blurred = torch.nn.functional.avg_pool2d(torch.nn.functional.pad(smooth, (1, 1, 1, 1), mode="circular"), 3, 1)
        assert spectral_report(smooth, blurred)["discrepancy"] > spectral_report(smooth, smooth * 1.01)["discrepancy"]
        assert spectral_report(smooth, blurred)["high_freq_ratio"] < 0.5

    def test_white_noise_is_flat(self):
        x = torch.randn(200, 1, 16, 16, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
        prof = radial_profile(mean_power(x))
        assert prof.shape == (9,)
        assert torch.allclose(prof[1:], torch.ones(8, dtype=torch.float64), rtol=0.15)

    def test_mean_power_parseval(self):
        x = torch.randn(3, 2, 8, 8, dtype=torch.float64)
        xc = x - x.mean(dim=(-2, -1), keepdim=True)
        assert float(mean_power(x).sum()) == pytest.approx(float((xc**2).sum(dim=(-2, -1)).mean()), rel=1e-10)

    def test_candidate_frequencies(self):
        f32 = checkerboard_frequencies(32)
        assert (16, 16) in f32 and (0, 16) in f32 and (16, 0) in f32 and (8, 8) in f32
        assert all(fy % 4 == 0 and fx % 4 == 0 for fy, fx in f32)
        assert len(set(f32)) == len(f32) and (0, 0) not in f32
        assert checkerboard_frequencies(64, n_up=2) == [(0, 16), (0, 32), (16, -16), (16, 0), (16, 16), (16, 32),
                                                       (32, 0), (32, 16), (32, 32)]

    def test_bad_input(self):
        with pytest.raises(ValueError, match="real must be square images"):
            spectral_report(torch.zeros(2, 1, 8, 6), torch.zeros(2, 1, 8, 6))

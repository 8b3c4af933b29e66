"""1-D filters: FFT masks (the image filters' profiles) and FIR kernels, against scipy references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal

from convscope._checks import ArgumentError
from convscope.fourier import FILTER_PROFILES, frequency_mask
from convscope.signals import (
    convolution_reverb,
    fft_filter,
    fir_design,
    fir_filter,
    fir_from_spec,
    fir_response,
    mask,
)
from convscope.signals import filters as filters_mod

RATE = 8000.0
GAIN_AT_CUTOFF = {"ideal": 1.0, "gaussian": math.exp(-0.5), "butterworth": 0.5}


def _rel(a, b) -> float:
    return float(np.abs(np.asarray(a) - np.asarray(b)).max() / max(np.abs(np.asarray(b)).max(), 1e-300))


@pytest.fixture
def two_tones():
    t = np.arange(int(RATE)) / RATE
    low, high = np.sin(2 * np.pi * 200 * t), 0.5 * np.sin(2 * np.pi * 3000 * t)
    return low, high


class TestMask:
    @pytest.mark.parametrize("profile", FILTER_PROFILES)
    def test_dc_and_cutoff_gains(self, profile):
        f, g = mask(8000, RATE, "lowpass", 1000.0, profile=profile)
        assert f[1000] == 1000.0
        assert g[0] == 1.0 and g[1000] == pytest.approx(GAIN_AT_CUTOFF[profile], rel=1e-12)
        _, h = mask(8000, RATE, "highpass", 1000.0, profile=profile)
        assert h[0] == 0.0 and np.allclose(g + h, 1.0, rtol=0, atol=1e-15)  # complementary

    def test_butterworth_formula(self):
        f, g = mask(4000, RATE, "lowpass", 500.0, profile="butterworth", order=3)
        assert _rel(g, 1 / (1 + (f / 500.0) ** 6)) < 1e-12

    def test_the_image_masks_on_one_axis(self):
        # the same transfer function as convscope.fourier, cutoff in cycles per sample
        _, g = mask(64, 64.0, "bandpass", (4.0, 12.0), profile="gaussian")
        ref = frequency_mask((1, 64), "bandpass", (4 / 64, 12 / 64), profile="gaussian", shift=False)[0, :33]
        assert np.array_equal(g, ref.numpy())

    @pytest.mark.parametrize("profile", FILTER_PROFILES)
    def test_band_edges(self, profile):
        _f, g = mask(8000, RATE, "bandpass", (500.0, 2000.0), profile=profile)
        assert g[1000] == pytest.approx(1.0)  # the centre sqrt(500 * 2000)
        assert g[500] == pytest.approx(GAIN_AT_CUTOFF[profile], rel=1e-9)
        assert g[2000] == pytest.approx(GAIN_AT_CUTOFF[profile], rel=1e-9)
        _, s = mask(8000, RATE, "bandstop", (500.0, 2000.0), profile=profile)
        assert np.allclose(g + s, 1.0, rtol=0, atol=1e-15)

    def test_cutoffs_are_checked_in_hertz(self):
        with pytest.raises(ArgumentError, match=r"cutoff must be a finite number > 0.0 and <= 4000"):
            mask(100, RATE, "lowpass", 5000.0)
        with pytest.raises(ArgumentError, match=r"cutoff must be a \(low, high\) pair of frequencies in Hz for a bandpass"):
            mask(100, RATE, "bandpass", 500.0)
        with pytest.raises(ArgumentError, match=r"cutoff must be a \(low, high\) pair with low < high"):
            mask(100, RATE, "bandstop", (900.0, 300.0))
        with pytest.raises(ArgumentError, match=r"profile must be one of 'ideal', 'gaussian', 'butterworth'"):
            mask(100, RATE, "lowpass", 500.0, profile="chebyshev")


class TestFftFilter:
    @pytest.mark.parametrize("profile", FILTER_PROFILES)
    def test_energy_in_and_out_of_band(self, two_tones, profile):
        low, high = two_tones
        y = fft_filter(low + high, RATE, "lowpass", 1000.0, profile=profile, pad="none")
        # on the circle every tone is a whole number of periods: each is scaled by its gain exactly
        _, g = mask(int(RATE), RATE, "lowpass", 1000.0, profile=profile)
        assert _rel(y, g[200] * low + g[3000] * high) < 1e-10
        assert (y**2).sum() / (low**2).sum() == pytest.approx(g[200] ** 2 * (1 + 0.25 * (g[3000] / g[200]) ** 2), rel=1e-9)
        hp = fft_filter(low + high, RATE, "highpass", 1000.0, profile=profile, pad="none")
        assert _rel(hp, (1 - g[200]) * low + (1 - g[3000]) * high) < 1e-10

    @pytest.mark.parametrize("pad", ["zeros", "none"])
    def test_complementary_filters_sum_to_the_input(self, rng, pad):
        x = rng.standard_normal(5001)
        lo = fft_filter(x, RATE, "lowpass", 700.0, pad=pad)
        hi = fft_filter(x, RATE, "highpass", 700.0, pad=pad)
        assert _rel(lo + hi, x) < 1e-10
        bp = fft_filter(x, RATE, "bandpass", (300.0, 1200.0), profile="ideal", pad=pad)
        bs = fft_filter(x, RATE, "bandstop", (300.0, 1200.0), profile="ideal", pad=pad)
        assert _rel(bp + bs, x) < 1e-10

    def test_zero_padding_does_not_wrap(self):
        x = np.zeros(2000)
        x[-1] = 1.0  # an impulse at the very end
        wrapped = fft_filter(x, RATE, "lowpass", 200.0, profile="gaussian", pad="none")
        linear = fft_filter(x, RATE, "lowpass", 200.0, profile="gaussian", pad="zeros")
        assert abs(wrapped[0]) > 1e-3 and abs(linear[0]) < 1e-12  # the response leaks round only on the circle

    def test_channels_are_filtered_alike(self, rng):
        x = rng.standard_normal((1000, 2))
        y = fft_filter(x, RATE, "lowpass", 900.0)
        assert y.shape == x.shape
        assert _rel(y[:, 1], fft_filter(x[:, 1], RATE, "lowpass", 900.0)) < 1e-12


class TestFir:
    def test_design_is_firwin(self):
        h = fir_design(RATE, "bandpass", (300.0, 3000.0), numtaps=255, window="blackman")
        ref = scipy.signal.firwin(255, [300.0, 3000.0], window="blackman", pass_zero="bandpass", fs=RATE)
        assert np.array_equal(h, ref)
        assert fir_design(RATE, "lowpass", 1000.0).shape[0] % 2 == 1  # the default length is odd

    def test_full_is_convolution_and_lfilter(self, rng):
        x, h = rng.standard_normal(3000), fir_design(RATE, "lowpass", 1000.0, numtaps=101)
        full = fir_filter(x, h, mode="full")
        assert full.shape == (3100,)
        assert _rel(full, np.convolve(x, h)) < 1e-10
        assert _rel(full[:3000], scipy.signal.lfilter(h, 1.0, x)) < 1e-10
        same = fir_filter(x, h)  # centred: the 50-sample delay removed
        assert _rel(same, scipy.signal.convolve(x, h, mode="same", method="direct")) < 1e-10
        assert _rel(same, full[50:3050]) < 1e-12
        assert fir_filter(x, h, mode="valid").shape == (2900,)

    def test_gains(self):
        h = fir_design(RATE, "lowpass", 1000.0, numtaps=201)
        assert h.sum() == pytest.approx(1.0, rel=1e-12)  # DC gain 1
        f, g = fir_response(h, RATE, n=4000)
        assert g[np.argmin(np.abs(f - 1000))] == pytest.approx(0.5, abs=0.01)  # -6 dB at the cutoff
        assert g[f >= 1300].max() < 3e-3  # stop band
        hp = fir_design(RATE, "highpass", 1000.0, numtaps=201)
        _, gh = fir_response(hp, RATE, n=4000)
        assert gh[0] < 3e-3 and gh[f >= 1300].min() > 0.99  # Hamming: about -53 dB in the stop band

    def test_energy_in_and_out_of_band(self, two_tones):
        low, high = two_tones
        y = fir_filter(low + high, fir_design(RATE, "lowpass", 1000.0, numtaps=401))
        mid = slice(500, -500)  # away from the edges, where the kernel reaches past the signal
        assert _rel(y[mid], low[mid]) < 2e-3

    def test_refusals(self):
        with pytest.raises(ArgumentError, match=r"numtaps must be odd"):
            fir_design(RATE, "highpass", 1000.0, numtaps=100)
        with pytest.raises(ArgumentError, match=r"cutoff must be below the Nyquist frequency 4000 Hz"):
            fir_design(RATE, "lowpass", 4000.0)
        with pytest.raises(ArgumentError, match=r"window must be one of 'hamming'"):
            fir_design(RATE, "lowpass", 1000.0, window="box")
        with pytest.raises(ArgumentError, match=r"taps must be a non-empty finite 1-D kernel"):
            fir_filter(np.ones(10), np.ones((3, 3)))

    def test_from_spec(self, tmp_path):
        label, h = fir_from_spec("bandstop:300:3000:301:kaiser", RATE)
        assert h.shape == (301,) and label == "bandstop 300-3000 Hz, 301 taps, kaiser"
        assert np.array_equal(h, fir_design(RATE, "bandstop", (300.0, 3000.0), numtaps=301, window="kaiser"))
        np.save(tmp_path / "k.npy", np.array([[0.2], [0.6], [0.2]]))
        assert np.allclose(fir_from_spec(str(tmp_path / "k.npy"), RATE)[1], [0.2, 0.6, 0.2])
        with pytest.raises(ArgumentError, match=r"spec must be a FIR design KIND:HZ\[:TAPS\[:WINDOW\]\] or a kernel of one row"):
            fir_from_spec("gaussian:5", RATE)
        with pytest.raises(ArgumentError, match=r"spec must be lowpass:HZ\[:TAPS\[:WINDOW\]\] with numbers"):
            fir_from_spec("lowpass:fast", RATE)


def test_one_convolution_for_the_whole_package(monkeypatch, rng):
    """Every 1-D convolution goes through filters._convolve: the one line to change for convolve1d."""
    calls = []
    real = filters_mod._convolve

    def spy(x, k, mode):
        calls.append(mode)
        return real(x, k, mode)

    monkeypatch.setattr(filters_mod, "_convolve", spy)
    x = rng.standard_normal(500)
    fir_filter(x, np.ones(5) / 5)
    convolution_reverb(x, np.array([1.0, 0.3, 0.1]))
    assert calls == ["same", "full"]

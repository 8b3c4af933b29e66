"""convscope.fourier: spectra, radial profiles, masks and frequency filtering — properties, not snapshots."""

from __future__ import annotations

import math

import numpy as np
import pytest
import skimage.filters
import torch

from conftest import assert_close
from convscope import convolve2d, get_kernel
from convscope.data.images import load_image
from convscope.fourier import (
    FilterSpec,
    filter_image,
    fit_power_law,
    frequency_mask,
    parse_filter,
    power_spectrum,
    radial_profile,
    spectrum,
    transform_shape,
)

SHAPES = [(17, 20), (3, 16, 15), (2, 3, 12, 18)]
PROFILES = ["ideal", "gaussian", "butterworth"]
# gain of each low-pass profile at its cutoff (the documented definitions)
CUTOFF_GAIN = {"ideal": 1.0, "gaussian": math.exp(-0.5), "butterworth": 0.5}


def _close_complex(a, e, **kw):
    assert_close(np.real(a), np.real(e), np.float64, **kw)
    assert_close(np.imag(a), np.imag(e), np.float64, **kw)


@pytest.fixture(scope="module")
def camera():
    return load_image("camera").astype(np.float64)


# ------------------------------------------------------------------ spectrum


class TestSpectrum:
    @pytest.mark.parametrize("shape", SHAPES)
    @pytest.mark.parametrize("shift", [True, False])
    def test_matches_numpy(self, rng, shape, shift):
        x = rng.standard_normal(shape)
        F = np.fft.fft2(x)
        if shift:
            F = np.fft.fftshift(F, axes=(-2, -1))
        mag, phase = spectrum(x, shift=shift, log=False)
        assert_close(mag, np.abs(F), np.float64)
        # compare phases on the unit circle (pi and -pi are the same angle)
        _close_complex(np.exp(1j * phase), np.exp(1j * np.angle(F)), atol_scale=1e3)
        logmag, phase2 = spectrum(x, shift=shift)
        assert_close(logmag, np.log1p(np.abs(F)), np.float64)
        np.testing.assert_array_equal(phase, phase2)

    @pytest.mark.parametrize("shape", [*SHAPES, (31, 31), (64, 64)])
    def test_parseval_float64(self, rng, shape):
        x = rng.standard_normal(shape)
        P = power_spectrum(x)
        energy = (x**2).sum(axis=(-2, -1))
        np.testing.assert_allclose(P.sum(axis=(-2, -1)), energy, rtol=1e-10)
        mag, _ = spectrum(x, log=False)
        H, W = shape[-2:]
        np.testing.assert_allclose((mag**2).sum(axis=(-2, -1)), H * W * energy, rtol=1e-10)

    def test_hermitian_symmetry_of_real_image(self, camera):
        x = camera[:96, 40:141]  # odd width, even height
        mag, phase = spectrum(x, shift=False, log=False)
        F = mag * np.exp(1j * phase)
        # F(-k) = conj(F(k)): index -k is (-i mod H, -j mod W)
        Fneg = np.roll(F[::-1, ::-1], shift=(1, 1), axis=(0, 1))
        _close_complex(Fneg, np.conj(F), atol_scale=100)

    def test_hann_window_removes_the_edge_cross(self):
        ramp = np.tile(np.linspace(0, 1, 64), (64, 1))  # one jump from the right edge back to the left
        plain = power_spectrum(ramp, shift=False)
        hann = power_spectrum(ramp, shift=False, window="hann")
        # high frequencies along fy = 0 come only from the edge-to-edge jump
        assert hann[0, 16:33].max() < 1e-3 * plain[0, 16:33].min()
        noise = np.random.default_rng(3).standard_normal((8, 64, 64))
        mean_power = power_spectrum(noise, window="hann").mean()
        assert mean_power == pytest.approx(1.0, rel=0.05)  # scaled so average power is kept
        with pytest.raises(ValueError, match="window must be None or 'hann', got 'kaiser'"):
            spectrum(ramp, window="kaiser")
        with pytest.raises(ValueError, match="window must be None with is_power=True"):
            radial_profile(plain, is_power=True, window="hann")

    def test_torch_in_torch_out_and_float32(self):
        x = torch.rand(2, 1, 16, 16)
        mag, phase = spectrum(x)
        assert isinstance(mag, torch.Tensor) and mag.dtype == torch.float32 and mag.shape == x.shape
        assert isinstance(phase, torch.Tensor)
        ref = torch.log1p(torch.fft.fftshift(torch.fft.fft2(x.double()), dim=(-2, -1)).abs())
        assert_close(mag, ref.float(), torch.float32)

    def test_uint8_is_promoted(self):
        x = (np.arange(64).reshape(8, 8) % 7).astype(np.uint8)
        mag, _ = spectrum(x, log=False)
        assert mag.dtype == np.float32
        assert mag[4, 4] == pytest.approx(float(x.sum()))

    @pytest.mark.parametrize("bad, match", [(np.zeros(5), "image must be of shape"),
                                            (np.zeros((2, 2, 2, 2, 2)), "image must be of shape"),
                                            (np.zeros((0, 4)), "image must be non-empty")])
    def test_bad_image(self, bad, match):
        with pytest.raises(ValueError, match=match):
            spectrum(bad)

    def test_complex_rejected(self):
        with pytest.raises(TypeError, match="image must be a real numeric array"):
            spectrum(np.ones((4, 4), complex))


# ------------------------------------------------------------------ radial profile


class TestRadialProfile:
    def test_white_noise_is_flat_within_statistical_error(self):
        g = np.random.default_rng(7)
        x = g.standard_normal((4, 128, 128)) * 0.5  # variance 0.25 -> expected power 0.25 per ring
        prof = radial_profile(x, reduce="mean")
        f, P, n = prof
        sel = f > 0
        # each ring averages n samples of an exponential(0.25) variable over 4 images,
        # half of them independent (Hermitian pairs): std of the ring mean ~ 0.25*sqrt(2/(4n))
        sd = 0.25 * np.sqrt(2.0 / (4 * n[sel]))
        z = (P[sel] - 0.25) / sd
        assert np.all(np.abs(z) < 5), np.abs(z).max()
        assert np.mean(z**2) < 2.0  # chi-square per degree of freedom about 1
        assert abs(fit_power_law(prof).slope) < 0.1

    def test_camera_slope_is_natural(self, camera):
        slope = fit_power_law(radial_profile(camera)).slope
        assert -3 < slope < -1
        # and with equal-width rings
        assert -3 < fit_power_law(radial_profile(camera, bins=64)).slope < -1
        assert -3 < fit_power_law(radial_profile(camera, window="hann")).slope < -1

    def test_butterworth_noise_has_the_filter_slope(self, rng):
        # white noise through a Butterworth low-pass of order n: power ~ f**(-4n) well above the cutoff
        x = rng.standard_normal((256, 256))
        for n in (1, 2):
            y = filter_image(x, FilterSpec("lowpass", 0.02, "butterworth", n), pad="none")
            slope = fit_power_law(radial_profile(y), fmin=0.1, fmax=0.4).slope
            assert slope == pytest.approx(-4 * n, abs=0.3)

    def test_frequency_axis_in_cycles_per_pixel(self):
        f, _P, n = radial_profile(np.zeros((64, 48)))
        assert f.shape == (25,) and f[0] == 0 and f[-1] == pytest.approx(0.5)
        np.testing.assert_allclose(np.diff(f), 1 / 48)
        assert n[0] == 1  # DC alone
        f2, _, n2 = radial_profile(np.zeros((64, 64)), bins=8)
        assert f2.shape == (9,) and f2[1] == pytest.approx(1 / 32) and f2[-1] == pytest.approx(0.5 - 1 / 32)
        # every sample with |f| <= 0.5 lands in exactly one ring
        fy, fx = np.meshgrid(np.fft.fftfreq(64), np.fft.fftfreq(64), indexing="ij")
        assert n2.sum() == np.count_nonzero(np.hypot(fy, fx) <= 0.5)

    def test_sinusoid_peaks_at_its_frequency(self):
        i = np.arange(64)
        x = np.cos(2 * np.pi * 8 / 64 * i)[None, :] * np.ones((64, 1))
        f, P, _ = radial_profile(x)
        assert f[np.nanargmax(P[1:]) + 1] == pytest.approx(8 / 64)

    def test_batch_per_image_and_mean(self, rng):
        x = rng.standard_normal((3, 2, 32, 32))
        _f, P, _ = radial_profile(x)
        assert P.shape == (3, 2, 17)
        _, Pm, _ = radial_profile(x, reduce="mean")
        assert_close(Pm, P.reshape(-1, 17).mean(0), np.float64)
        for b in range(3):
            _, Pb, _ = radial_profile(x[b, 1])
            assert_close(P[b, 1], Pb, np.float64)

    @pytest.mark.parametrize("shifted", [True, False])
    def test_power_input_equals_image_input(self, rng, shifted):
        x = rng.standard_normal((2, 30, 36))
        _, P, _ = radial_profile(x, bins=10)
        _, Q, _ = radial_profile(power_spectrum(x, shift=shifted), bins=10, is_power=True, shifted=shifted)
        assert_close(Q, P, np.float64)

    def test_torch_device_agnostic(self):
        x = torch.randn(2, 1, 32, 32, dtype=torch.float64)
        _f, P, _n = radial_profile(x)
        assert isinstance(P, torch.Tensor) and P.shape == (2, 1, 17)
        _, Pn, _ = radial_profile(x.numpy())
        assert_close(P, Pn, np.float64)

    def test_errors(self):
        with pytest.raises(ValueError, match="bins must be an integer >= 1"):
            radial_profile(np.ones((8, 8)), bins=0)
        with pytest.raises(ValueError, match="reduce must be one of 'none', 'mean'"):
            radial_profile(np.ones((8, 8)), reduce="median")
        with pytest.raises(ValueError, match="image_or_power must be of shape"):
            radial_profile(np.ones(8))


class TestFitPowerLaw:
    def test_exact_recovery_and_batch(self):
        f = np.linspace(0, 0.5, 40)
        with np.errstate(divide="ignore"):
            P = np.stack([2.0 * f**-2.0, 0.1 * f**-1.0, 5.0 * f**0.0])
        fit = fit_power_law((f, P))
        np.testing.assert_allclose(fit.slope, [-2, -1, 0], atol=1e-12)
        np.testing.assert_allclose(fit.intercept, np.log10([2, 0.1, 5]), atol=1e-12)
        t = fit_power_law((torch.from_numpy(f), torch.from_numpy(P)))
        assert isinstance(t.slope, torch.Tensor) and t.slope.shape == (3,)

    def test_range_restricts_the_fit(self):
        f = np.linspace(0.0, 0.5, 51)
        with np.errstate(divide="ignore"):
            P = np.where(f < 0.2, f**-2.0, 0.04**-1.0 * f**0)  # -2 below 0.2, flat above
        P[0] = 1.0
        assert fit_power_law((f, P), fmax=0.19).slope == pytest.approx(-2.0)
        assert fit_power_law((f, P), fmin=0.21).slope == pytest.approx(0.0, abs=1e-12)

    def test_errors(self):
        f = np.linspace(0, 0.5, 10)
        with pytest.raises(TypeError, match="profile must be a RadialProfile or a"):
            fit_power_law(f)
        with pytest.raises(ValueError, match="profile must be frequency"):
            fit_power_law((f, np.ones(9)))
        with pytest.raises(ValueError, match="fmin must be below fmax"):
            fit_power_law((f, np.ones(10)), fmin=0.3, fmax=0.2)
        with pytest.raises(ValueError, match="at least 2 positive bins"):
            fit_power_law((f, np.zeros(10)))


# ------------------------------------------------------------------ masks


def _at_radius(mask, px):
    """Mask value px pixels to the right of the centre of a centred square mask."""
    c = mask.shape[0] // 2
    return float(mask[c, c + px])


class TestFrequencyMask:
    @pytest.mark.parametrize("profile", PROFILES)
    def test_dc_gain(self, profile):
        gains = {"lowpass": 1, "highpass": 0, "bandpass": 0, "bandstop": 1}
        for kind, g in gains.items():
            cutoff = 0.2 if kind in ("lowpass", "highpass") else (0.1, 0.3)
            m = frequency_mask((32, 32), kind, cutoff, profile=profile)
            assert float(m[16, 16]) == pytest.approx(g, abs=1e-15), kind

    @pytest.mark.parametrize("profile", PROFILES)
    @pytest.mark.parametrize("order", [1, 2, 5])
    def test_gain_at_cutoff(self, profile, order):
        N = 200  # cutoff 0.25 = 50 px from the centre, exactly on the grid
        g = CUTOFF_GAIN[profile]
        low = frequency_mask((N, N), "lowpass", 0.25, profile=profile, order=order)
        high = frequency_mask((N, N), "highpass", 0.25, profile=profile, order=order)
        assert _at_radius(low, 50) == pytest.approx(g, abs=1e-12)
        assert _at_radius(high, 50) == pytest.approx(1 - g, abs=1e-12)
        # monotone: more than the cutoff gain inside, less outside
        assert _at_radius(low, 49) >= g and _at_radius(low, 51) <= g
        if profile == "ideal":
            assert _at_radius(low, 51) == 0 and _at_radius(low, 49) == 1

    @pytest.mark.parametrize("profile", PROFILES)
    def test_band_gains_at_edges_and_centre(self, profile):
        N = 200  # band (0.05, 0.2): edges at 10 and 40 px, geometric centre 0.1 = 20 px
        g = CUTOFF_GAIN[profile]
        bp = frequency_mask((N, N), "bandpass", (0.05, 0.2), profile=profile)
        bs = frequency_mask((N, N), "bandstop", (0.05, 0.2), profile=profile)
        for px in (10, 40):
            assert _at_radius(bp, px) == pytest.approx(g, abs=1e-12)
            assert _at_radius(bs, px) == pytest.approx(1 - g, abs=1e-12)
        assert _at_radius(bp, 20) == pytest.approx(1.0, abs=1e-12)
        assert _at_radius(bs, 20) == pytest.approx(0.0, abs=1e-12)
        # centre + width spelling of the same band
        same = frequency_mask((N, N), "bandpass", 0.1, width=0.15, profile=profile)
        assert_close(same, bp, torch.float64)

    @pytest.mark.parametrize("profile", PROFILES)
    @pytest.mark.parametrize("shape", [(32, 32), (33, 40)])
    def test_complementary(self, profile, shape):
        low = frequency_mask(shape, "lowpass", 0.13, profile=profile, order=3)
        high = frequency_mask(shape, "highpass", 0.13, profile=profile, order=3)
        assert torch.equal(low + high, torch.ones(shape, dtype=torch.float64))
        bp = frequency_mask(shape, "bandpass", (0.1, 0.3), profile=profile)
        bs = frequency_mask(shape, "bandstop", (0.1, 0.3), profile=profile)
        assert_close(bp + bs, torch.ones(shape, dtype=torch.float64), torch.float64)
        assert float(low.min()) >= 0 and float(low.max()) <= 1

    def test_radially_symmetric_and_unshifted_layout(self):
        m = frequency_mask((33, 33), "lowpass", 0.2)
        assert torch.equal(m, m.flip(0)) and torch.equal(m, m.T)
        u = frequency_mask((33, 33), "lowpass", 0.2, shift=False)
        assert torch.equal(torch.fft.fftshift(u), m)
        assert frequency_mask((8, 8), "lowpass", 0.2, dtype=torch.float32).dtype == torch.float32

    def test_butterworth_order_sharpens(self):
        m2 = frequency_mask((100, 100), "lowpass", 0.2, profile="butterworth", order=2)
        m8 = frequency_mask((100, 100), "lowpass", 0.2, profile="butterworth", order=8)
        assert _at_radius(m8, 30) < _at_radius(m2, 30) and _at_radius(m8, 10) > _at_radius(m2, 10)

    @pytest.mark.parametrize(
        "args, kw, exc, match",
        [
            (("sideways", 0.1), {}, ValueError, "kind must be one of 'lowpass', 'highpass', 'bandpass', 'bandstop', got 'sideways'"),
            (("lowpass", 0.1), {"profile": "box"}, ValueError, "profile must be one of 'ideal', 'gaussian', 'butterworth'"),
            (("lowpass", 0.6), {}, ValueError, r"cutoff must be a finite number > 0.0 and <= 0.5, got 0.6"),
            (("lowpass", 0.0), {}, ValueError, "cutoff must be a finite number > 0.0"),
            (("lowpass", "x"), {}, TypeError, "cutoff must be a real number"),
            (("lowpass", (0.1, 0.2)), {}, ValueError, "cutoff must be one number in"),
            (("lowpass", 0.1), {"width": 0.1}, ValueError, "width must be None for a lowpass"),
            (("bandpass", 0.1), {}, ValueError, "width must be given"),
            (("bandpass", (0.3, 0.2)), {}, ValueError, "low < high"),
            (("bandpass", (0.1, 0.2, 0.3)), {}, ValueError, r"cutoff must be a \(low, high\) pair"),
            (("lowpass", 0.1), {"order": 0}, ValueError, "order must be a finite number > 0.0"),
        ],
    )
    def test_errors(self, args, kw, exc, match):
        with pytest.raises(exc, match=match):
            frequency_mask((16, 16), *args, **kw)

    def test_bad_shape(self):
        with pytest.raises(TypeError, match="shape must be an"):
            frequency_mask(16, "lowpass", 0.1)
        with pytest.raises(ValueError, match="shape must be an"):
            frequency_mask((0, 16), "lowpass", 0.1)


class TestFilterSpec:
    def test_parse(self):
        assert parse_filter("lowpass:0.08:ideal") == FilterSpec("lowpass", 0.08, "ideal")
        assert parse_filter("HIGHPASS:0.05:butterworth:4") == FilterSpec("highpass", 0.05, "butterworth", 4)
        assert parse_filter("bandstop:0.05:0.15").cutoff == (0.05, 0.15)
        assert FilterSpec("bandpass", 0.1, width=0.15).cutoff == pytest.approx((0.05, 0.2))

    @pytest.mark.parametrize("text, match", [
        ("lowpass", "filter must be lowpass:CUTOFF"),
        ("bandpass:0.1", "filter must be bandpass:LOW:HIGH"),
        ("lowpass:abc", "with numbers"),
        ("lowpass:0.1:ideal:2:9", "filter must be lowpass:CUTOFF"),
        ("notch:0.1", "filter kind must be one of"),
    ])
    def test_parse_errors(self, text, match):
        with pytest.raises(ValueError, match=match):
            parse_filter(text)


# ------------------------------------------------------------------ filtering


def _band_energy(x, y, lo, hi):
    """Spectral energy of y over that of x for lo < |f| <= hi."""
    fy, fx = np.meshgrid(np.fft.fftfreq(x.shape[-2]), np.fft.fftfreq(x.shape[-1]), indexing="ij")
    r = np.hypot(fy, fx)
    sel = (r > lo) & (r <= hi)
    X, Y = np.abs(np.fft.fft2(x)) ** 2, np.abs(np.fft.fft2(y)) ** 2
    return Y[..., sel].sum() / X[..., sel].sum()


class TestFilterImage:
    @pytest.mark.parametrize("profile", PROFILES)
    def test_energy_in_and_out_of_band(self, rng, profile):
        x = rng.standard_normal((128, 128))
        fc = 0.1
        y = filter_image(x, FilterSpec("lowpass", fc, profile, 4), pad="none")
        g = CUTOFF_GAIN[profile]
        # pass band keeps at least the cutoff gain squared, stop band beyond 2fc keeps little
        assert _band_energy(x, y, -1, fc) >= g**2 * (1 - 1e-12)
        out = _band_energy(x, y, 2 * fc, 1)
        stop = {"ideal": 1e-28, "gaussian": math.exp(-4), "butterworth": 1 / (1 + 2**8) ** 2}[profile]
        assert out <= stop
        if profile == "ideal":
            assert _band_energy(x, y, -1, fc) == pytest.approx(1, rel=1e-12)
        # high-pass keeps the complement
        z = filter_image(x, FilterSpec("highpass", fc, profile, 4), pad="none")
        assert_close(y + z, x, np.float64)

    @pytest.mark.parametrize("pad, boundary", [("zeros", "zeros"), ("reflect", "reflect"), ("none", "circular")])
    @pytest.mark.parametrize("shape", [(96, 120), (3, 64, 80)])
    def test_gaussian_lowpass_is_gaussian_blur(self, camera, pad, boundary, shape):
        x = camera[: shape[-2], : shape[-1]] if len(shape) == 2 else np.stack(
            [camera[i * 40 : i * 40 + shape[-2], : shape[-1]] for i in range(shape[0])]
        )
        fc = 0.05
        sigma = 1 / (2 * np.pi * fc)  # the Gaussian's width in pixels
        k = get_kernel("gaussian", 2 * math.ceil(6 * sigma) + 1, sigma)
        freq = filter_image(x, FilterSpec("lowpass", fc, "gaussian"), pad=pad)
        space = convolve2d(x, k, mode="same", boundary=boundary)
        b = 20  # away from the border
        assert_close(freq[..., b:-b, b:-b], space[..., b:-b, b:-b], rtol=1e-3)
        # in fact the two agree everywhere, to the sampling error of the kernel
        assert_close(freq, space, rtol=1e-8)

    @pytest.mark.parametrize("order", [1, 2, 4])
    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_butterworth_matches_skimage(self, camera, order, dtype):
        x = camera[:100, :90].astype(dtype)
        for high in (False, True):
            kind = "highpass" if high else "lowpass"
            ours = filter_image(x, FilterSpec(kind, 0.1, "butterworth", order), pad="none")
            ref = skimage.filters.butterworth(x, 0.1, high_pass=high, order=order)
            assert ours.dtype == dtype
            assert_close(ours, ref, dtype, atol_scale=10 if dtype == np.float32 else 1)

    def test_padding_prevents_wrap_around(self):
        x = np.zeros((64, 64))
        x[:, :4] = 1.0  # bright left edge, dark right edge
        spec = FilterSpec("lowpass", 0.05, "gaussian")
        circ = filter_image(x, spec, pad="none")
        lin = filter_image(x, spec, pad="zeros")
        assert circ[:, -1].min() > 0.05  # light leaked across from the left edge
        assert np.abs(lin[:, -8:]).max() < 1e-6
        refl = filter_image(x, spec, pad="reflect")
        assert np.abs(refl[:, -8:]).max() < 1e-6

    def test_reflect_has_no_dark_border(self):
        x = np.ones((40, 50))
        assert_close(filter_image(x, "lowpass:0.1", pad="reflect"), x, np.float64)
        assert filter_image(x, "lowpass:0.1", pad="zeros")[0, 0] < 0.9  # zeros darken the edge

    def test_mask_array_equals_spec(self, rng):
        x = rng.standard_normal((2, 30, 41))
        spec = FilterSpec("bandpass", (0.05, 0.2), "butterworth", 3)
        for pad in ("none", "zeros", "reflect"):
            m = spec.mask(transform_shape(x.shape, pad))
            assert_close(filter_image(x, m, pad=pad), filter_image(x, spec, pad=pad), np.float64)
            assert_close(filter_image(x, m.numpy(), pad=pad), filter_image(x, spec, pad=pad), np.float64)

    def test_kinds_of_input(self):
        t = torch.rand(2, 3, 20, 24)
        y = filter_image(t, "lowpass:0.2")
        assert isinstance(y, torch.Tensor) and y.dtype == torch.float32 and y.shape == t.shape
        ref = filter_image(t.double().numpy(), "lowpass:0.2")
        assert_close(y, ref.astype(np.float32), torch.float32)
        nc = torch.rand(24, 20).T  # non-contiguous
        assert_close(filter_image(nc, "highpass:0.1"), filter_image(nc.contiguous(), "highpass:0.1"), torch.float32)

    def test_gradcheck(self):
        x = torch.rand(1, 1, 6, 7, dtype=torch.float64, requires_grad=True)
        for pad in ("zeros", "reflect", "none"):
            assert torch.autograd.gradcheck(lambda a, p=pad: filter_image(a, "lowpass:0.2:butterworth", pad=p), (x,))

    def test_errors(self):
        x = np.ones((16, 16))
        with pytest.raises(ValueError, match="pad must be one of 'zeros', 'reflect', 'none', got 'wrap'"):
            filter_image(x, "lowpass:0.1", pad="wrap")
        with pytest.raises(ValueError, match=r"mask_or_spec must be a mask of shape \(32, 32\)"):
            filter_image(x, np.ones((16, 16)), pad="zeros")
        with pytest.raises(TypeError, match="mask_or_spec must be a FilterSpec"):
            filter_image(x, object())
        with pytest.raises(ValueError, match="image must be of shape"):
            filter_image(np.ones(16), "lowpass:0.1")


# ------------------------------------------------------------------ devices


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    from convscope.fourier import convolution_theorem, spectral_laplacian

    x = torch.rand(2, 3, 40, 36, dtype=torch.float64)
    xc = x.cuda()
    for fn in (
        lambda a: spectrum(a)[0],
        lambda a: power_spectrum(a),
        lambda a: radial_profile(a).power,
        lambda a: filter_image(a, "bandpass:0.05:0.2:butterworth", pad="reflect"),
        lambda a: filter_image(a, "lowpass:0.1:ideal", pad="zeros"),
        lambda a: spectral_laplacian(a, boundary="reflect"),
        lambda a: convolution_theorem(a, get_kernel("gaussian", 5)).frequency,
    ):
        got = fn(xc)
        assert got.is_cuda
        assert_close(got.cpu(), fn(x), torch.float64, rtol=1e-9)
    prof = radial_profile(xc)
    slope = fit_power_law(prof).slope
    assert slope.is_cuda and slope.shape == (2, 3)

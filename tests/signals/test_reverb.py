"""Convolution reverb: the synthetic room's RT60 read back by Schroeder integration, the mix, measured rooms."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from convscope._checks import ArgumentError
from convscope.signals import (
    convolution_reverb,
    load_impulse_response,
    measure_rt60,
    room_impulse_response,
    save_wav,
    schroeder_decay,
)

RATE = 16000


@pytest.mark.parametrize("rt60", [0.3, 1.0, 2.0])
@pytest.mark.parametrize("seed", [0, 7])
def test_rt60_by_schroeder_within_ten_percent(rt60, seed):
    h = room_impulse_response(rt60, RATE, seed=seed)
    assert h.shape == (round(1.5 * rt60 * RATE),) and (h**2).sum() == pytest.approx(1.0, rel=1e-12)
    assert measure_rt60(h, RATE) == pytest.approx(rt60, rel=0.10)
    assert measure_rt60(h, RATE, fit_db=(-5, -25)) == pytest.approx(rt60, rel=0.10)  # T20 agrees


def test_the_seed_is_the_room():
    a, b = room_impulse_response(0.5, RATE, seed=3), room_impulse_response(0.5, RATE, seed=3)
    assert np.array_equal(a, b) and not np.array_equal(a, room_impulse_response(0.5, RATE, seed=4))


def test_schroeder_curve():
    h = room_impulse_response(0.6, RATE)
    _t, edc = schroeder_decay(h, RATE)
    assert edc[0] == 0.0 and np.all(np.diff(edc) <= 1e-12)
    # the envelope falls 60 dB in rt60: the curve is near -30 dB half way there
    assert edc[int(0.3 * RATE)] == pytest.approx(-30.0, abs=2.0)
    # a pure exponential decay has exactly the slope
    pure = np.exp(-3 * np.log(10) * np.arange(RATE) / RATE / 0.5)
    assert measure_rt60(pure, RATE) == pytest.approx(0.5, rel=1e-3)


class TestMix:
    def test_wet_is_the_convolution(self, rng):
        x, h = rng.standard_normal(2000) * 0.1, room_impulse_response(0.2, RATE)
        y, gain = convolution_reverb(x, h, wet=1.0, peak=1.0)
        ref = scipy.signal.convolve(x, h, mode="full", method="direct")
        g = np.sqrt((x**2).sum() / (ref**2).sum())
        assert y.shape == (2000 + h.shape[0] - 1,)
        assert np.abs(y - gain * g * ref).max() <= 1e-10 * np.abs(ref).max() * g
        assert (y**2).sum() / gain**2 == pytest.approx((x**2).sum(), rel=1e-10)  # the wet matches the dry's energy

    def test_dry_is_the_song(self, rng):
        x = rng.uniform(-0.5, 0.5, 500)
        y, gain = convolution_reverb(x, room_impulse_response(0.1, RATE), wet=0.0)
        assert gain == 1.0 and np.array_equal(y[:500], x) and not y[500:].any()

    def test_no_clipping(self):
        # a square wave through a room ringing at its pitch comes out a sine of the same energy,
        # whose peak (above √2 × RMS = 1.27) would clip
        t = np.arange(RATE) / RATE
        x = 0.9 * np.sign(np.sin(2 * np.pi * 100 * t + 0.1))
        room = np.sin(2 * np.pi * 100 * t) * np.exp(-4 * t)
        y, gain = convolution_reverb(x, room, wet=1.0, peak=0.99)
        assert np.abs(y).max() == pytest.approx(0.99, rel=1e-12) and 0.5 < gain < 0.9

    def test_stereo_through_one_room(self, rng):
        x = rng.standard_normal((800, 2)) * 0.1
        h = room_impulse_response(0.05, RATE)
        y, _ = convolution_reverb(x, h, wet=0.5, peak=1.0)
        assert y.shape == (800 + h.shape[0] - 1, 2)

    def test_refusals(self):
        with pytest.raises(ArgumentError, match=r"wet must be a finite number >= 0.0 and <= 1.0"):
            convolution_reverb(np.ones(10), np.ones(3), wet=1.5)
        with pytest.raises(ArgumentError, match=r"rt60 must be a finite number > 0.0"):
            room_impulse_response(0.0, RATE)
        with pytest.raises(ArgumentError, match=r"ir must be an impulse response whose energy decays below -35 dB"):
            measure_rt60(np.ones(1000), RATE)


def test_measured_room_is_resampled(tmp_path):
    h8 = room_impulse_response(0.4, 8000, seed=2)
    p = save_wav(tmp_path / "room.wav", 0.9 * h8 / np.abs(h8).max(), 8000, subtype="float")
    h = load_impulse_response(p, RATE)
    assert h.shape == (2 * h8.shape[0],) and (h**2).sum() == pytest.approx(1.0, rel=1e-12)
    assert measure_rt60(h, RATE) == pytest.approx(0.4, rel=0.10)  # the same room at the new rate

"""Every bit depth and sample format Pillow reads comes in scaled to [0, 1]."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from convscope._checks import DataError, ResourceError
from convscope.data.images import MAX_RESIZE_RATIO, load_image, resized_shape

RAMP8 = np.tile(np.arange(256, dtype=np.uint8), (4, 1))  # (4, 256): 0..255
RAMP16 = np.tile(np.arange(0, 65536, 257, dtype=np.uint16), (4, 1))  # 0..65535 in steps of 257
WANT = np.tile(np.arange(256) / 255.0, (4, 1))  # the [0, 1] ramp every format must give back


def _save(tmp_path, im: Image.Image, name: str, **kw):
    p = tmp_path / name
    im.save(p, **kw)
    return p


@pytest.mark.parametrize("name", ["ramp.png", "ramp.tif"])
def test_8bit_grey(tmp_path, name):
    a = load_image(_save(tmp_path, Image.fromarray(RAMP8), name))
    np.testing.assert_allclose(a, WANT, atol=1e-6)


@pytest.mark.parametrize("name", ["ramp16.png", "ramp16.tif"])
def test_16bit_scaled_not_clipped(tmp_path, name):
    p = _save(tmp_path, Image.fromarray(RAMP16), name)
    a = load_image(p)
    assert a.dtype == np.float32 and a.shape == (4, 256)
    np.testing.assert_allclose(a, WANT, atol=1e-6)
    assert (a == 1.0).mean() < 0.01  # once 99.6 % of the pixels came out as 1.0


def test_16bit_big_endian(tmp_path):
    im = Image.frombytes("I;16B", (256, 4), RAMP16.astype(">u2").tobytes())
    p = _save(tmp_path, im, "ramp16b.tif")
    with Image.open(p) as check:
        assert check.mode == "I;16B"
    np.testing.assert_allclose(load_image(p), WANT, atol=1e-6)


def test_32bit_int_tiff_uses_bits_per_sample(tmp_path):
    ramp = (np.arange(256, dtype=np.int64) * ((2**31 - 1) // 255)).astype(np.int32)
    p = _save(tmp_path, Image.fromarray(np.tile(ramp, (4, 1))), "ramp32.tif")
    np.testing.assert_allclose(load_image(p), WANT, atol=1e-6)


@pytest.mark.filterwarnings("ignore:Saving I mode:DeprecationWarning")
def test_int_mode_in_16_bit_range(tmp_path):
    # Pillow's "I" mode holding 0..65535 (how older Pillows hand over 16-bit PNGs) is 16-bit
    im = Image.fromarray(RAMP16.astype(np.int32))
    assert im.mode == "I"
    np.testing.assert_allclose(load_image(_save(tmp_path, im, "ramp_i.png")), WANT, atol=1e-6)


def test_float_tiff_in_unit_range_kept(tmp_path):
    p = _save(tmp_path, Image.fromarray(WANT.astype(np.float32)), "rampf.tif")
    a = load_image(p)
    np.testing.assert_allclose(a, WANT, atol=1e-7)
    assert a.max() == pytest.approx(1.0)  # once read as max 0.0039


def test_float_tiff_outside_unit_range_is_min_max_scaled(tmp_path):
    p = _save(tmp_path, Image.fromarray((WANT * 500 - 100).astype(np.float32)), "rampf2.tif")
    np.testing.assert_allclose(load_image(p), WANT, atol=1e-6)


def test_float_tiff_with_nan_refused(tmp_path):
    f = WANT.astype(np.float32)
    f[0, 0] = np.nan
    with pytest.raises(DataError, match="NaN"):
        load_image(_save(tmp_path, Image.fromarray(f), "nan.tif"))


def test_palette_grey_and_colour(tmp_path):
    grey = _save(tmp_path, Image.fromarray(RAMP8).convert("P"), "p_grey.png")
    a = load_image(grey)
    assert a.ndim == 2
    np.testing.assert_allclose(a, WANT, atol=1e-6)
    rgb = np.zeros((4, 256, 3), np.uint8)
    rgb[..., 0] = RAMP8
    im = Image.fromarray(rgb).quantize(256, dither=Image.Dither.NONE)
    c = load_image(_save(tmp_path, im, "p_red.png"))
    assert c.shape == (3, 4, 256)
    np.testing.assert_allclose(c[0], WANT, atol=1.5 / 255)  # a 256-colour palette holds the red ramp
    assert c[1].max() < 2 / 255


@pytest.mark.parametrize("mode", ["LA", "RGBA"])
def test_alpha_dropped(tmp_path, mode):
    grey = Image.fromarray(RAMP8)
    alpha = Image.fromarray(np.full_like(RAMP8, 7))  # nearly transparent: the colour is kept, not composited
    im = Image.merge(mode, [grey, alpha] if mode == "LA" else [grey, grey, grey, alpha])
    a = load_image(_save(tmp_path, im, f"alpha_{mode}.png"))
    chans = a if a.ndim == 3 else a[None]
    assert chans.shape[0] in (1, 3)
    for ch in chans:
        np.testing.assert_allclose(ch, WANT, atol=1e-6)


def test_bilevel(tmp_path):
    bits = (RAMP8 >= 128)
    a = load_image(_save(tmp_path, Image.fromarray(bits), "bits.png"))
    np.testing.assert_array_equal(a, bits.astype(np.float32))


def test_gray_of_colour_is_luma(tmp_path):
    rgb = np.zeros((4, 256, 3), np.uint8)
    rgb[..., 1] = RAMP8
    a = load_image(_save(tmp_path, Image.fromarray(rgb), "g.png"), gray=True)
    np.testing.assert_allclose(a, np.round(WANT * 255 * 0.587) / 255, atol=1 / 255)


def test_16bit_resize_keeps_scale(tmp_path):
    p = _save(tmp_path, Image.fromarray(np.tile(RAMP16, (64, 1))), "big16.png")  # (256, 256)
    a = load_image(p, size=64)
    assert a.shape == (64, 64)
    assert 0.0 <= a.min() < 0.02 and 0.98 < a.max() <= 1.0


def test_resize_keeps_aspect_ratio_within_bound(tmp_path):
    strip = np.tile(np.arange(20000) % 256, (1, 1)).astype(np.uint8)  # 1 x 20000
    a = load_image(_save(tmp_path, Image.fromarray(strip), "strip.png"), size=256)
    assert a.shape == (1, MAX_RESIZE_RATIO * 256)  # once 256 x 5,120,000 and a MemoryError
    assert resized_shape(300, 400, 150) == (150, 200)


def test_resize_beyond_memory_limit_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVSCOPE_MAX_MEMORY", "1M")
    p = _save(tmp_path, Image.fromarray(RAMP8), "r.png")
    with pytest.raises(ResourceError, match="CONVSCOPE_MAX_MEMORY"):
        load_image(p, size=1000)


def test_min_size_named(tmp_path):
    p = _save(tmp_path, Image.fromarray(np.zeros((1, 1), np.uint8)), "one.png")
    with pytest.raises(DataError, match=r"1x1 pixels; this needs at least 8x8"):
        load_image(p, min_size=8)

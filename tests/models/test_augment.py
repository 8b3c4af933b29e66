"""DiffAugment and ADA (convscope.models.augment)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from torch import nn

from convscope._checks import ArgumentError, ArgumentTypeError
from convscope.models.augment import (
    POLICIES,
    AdaptiveAugment,
    Augmenter,
    AugmentSpec,
    apply_params,
    augment,
    augment_pair,
    parse_augment,
    sample_params,
)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _images(b=6, c=1, s=16, dtype=torch.float32, seed=0):
    return torch.rand(b, c, s, s, generator=_gen(seed), dtype=dtype) * 2 - 1


class TestParse:
    def test_defaults_and_round_trip(self):
        spec = parse_augment("diffaug")
        assert spec.mode == "diffaug" and spec.policies == ("translation", "cutout")
        for text in ("diffaug:translation", "diffaug:cutout=0.2,translation=0.1,color", "ada:translation,target=0.5",
                     "diffaug:translation,boundary=zeros", "ada:cutout=0.3,images=5000,interval=2,p=0.2,fill=-1"):
            s = parse_augment(text)
            assert parse_augment(s.to_spec()) == s
        # application order is canonical whatever the order written
        assert parse_augment("diffaug:cutout,colour,translation").policies == POLICIES

    def test_strengths_and_settings(self):
        s = parse_augment("ada:translation=0.0625,cutout=0.3,target=0.55,images=20000")
        assert (s.translation, s.cutout, s.target, s.ada_images) == (0.0625, 0.3, 0.55, 20000)
        assert s.mode == "ada" and s.policies == ("translation", "cutout")

    @pytest.mark.parametrize("off", [None, "", "none", "OFF"])
    def test_none(self, off):
        assert parse_augment(off) is None

    def test_unknown_policy_lists_the_allowed(self):
        with pytest.raises(ArgumentError, match=r"augment policy must be one of 'color', 'translation', 'cutout'.*got 'rotate'"):
            parse_augment("diffaug:translation,rotate")

    def test_bad_mode_and_values(self):
        with pytest.raises(ArgumentError, match=r"augment must be one of 'diffaug', 'ada', got 'flip'"):
            parse_augment("flip:translation")
        with pytest.raises(ArgumentError, match=r"augment must be .*target="):
            parse_augment("diffaug:translation,target=0.6")  # an ADA setting without ada
        with pytest.raises(ArgumentError, match=r"cutout=NUMBER"):
            parse_augment("diffaug:cutout=big")
        with pytest.raises(ArgumentError, match=r"translation must be a finite number > 0.0 and <= 0.5"):
            parse_augment("diffaug:translation=0.9")
        with pytest.raises(ArgumentError, match=r"boundary must be one of"):
            parse_augment("diffaug:translation,boundary=wrap")
        with pytest.raises(ArgumentError, match=r"empty items"):
            parse_augment("diffaug:translation,,cutout")
        with pytest.raises(ArgumentTypeError):
            parse_augment(3)

    def test_spec_from_dict_after_json(self):
        d = parse_augment("diffaug:translation,cutout").to_dict()
        d["policies"] = list(d["policies"])  # what a JSON round trip gives back
        assert AugmentSpec.from_dict(d) == parse_augment("diffaug:translation,cutout")


class TestTransforms:
    @pytest.mark.parametrize("device", DEVICES)
    @pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
    @pytest.mark.parametrize("text", ["diffaug:translation", "diffaug:cutout", "diffaug:color,translation,cutout"])
    def test_shape_dtype_device(self, text, dtype, device):
        x = _images(dtype=dtype).to(device)
        y = augment(x, text, generator=_gen())
        assert y.shape == x.shape and y.dtype == dtype and y.device == x.device
        assert not torch.equal(y, x)  # it did something

    def test_channels_last_input(self):
        x = _images(c=3).contiguous(memory_format=torch.channels_last)
        ref = augment(x.contiguous(), "diffaug:color,translation,cutout", generator=_gen(1))
        got = augment(x, "diffaug:color,translation,cutout", generator=_gen(1))
        torch.testing.assert_close(got, ref)

    @pytest.mark.parametrize("boundary,np_mode", [("reflect", "reflect"), ("replicate", "edge"), ("zeros", "constant")])
    def test_translation_matches_numpy_pad(self, boundary, np_mode):
        spec = AugmentSpec(policies=("translation",), translation=0.25, boundary=boundary)
        x = _images(b=8, c=2, s=8, dtype=torch.float64)
        params = sample_params(spec, 8, 8, 8, generator=_gen(3))
        y = apply_params(x, spec, params).numpy()
        xn = x.numpy()
        for b, (dy, dx) in enumerate(params["translation"].tolist()):
            padded = np.pad(xn[b], ((0, 0), (2, 2), (2, 2)), mode=np_mode)
            ref = padded[:, 2 - dy:2 - dy + 8, 2 - dx:2 - dx + 8]  # out[i] = x[i - dy]
            np.testing.assert_allclose(y[b], ref, rtol=0, atol=0)
        assert params["translation"].abs().max() <= 2  # 1/4 of 8 pixels

    def test_cutout_square(self):
        spec = AugmentSpec(policies=("cutout",), cutout=0.25, cutout_fill=7.0)
        x = torch.zeros(50, 1, 16, 16)
        y = augment(x, spec, generator=_gen(2))
        cut = (y == 7.0).sum((1, 2, 3))
        assert int(cut.max()) == 16  # a 4x4 square when it lies inside the image
        assert bool((cut > 0).all()) and bool((cut <= 16).all())  # clipped by the border at times

    def test_color_formula_and_grey_saturation_is_a_no_op(self):
        spec = AugmentSpec(policies=("color",))
        x = _images(b=4, c=1, dtype=torch.float64)
        params = sample_params(spec, 4, 16, 16, generator=_gen(5))
        y = apply_params(x, spec, params)
        b = params["brightness"].double().view(-1, 1, 1, 1)
        c = params["contrast"].double().view(-1, 1, 1, 1)
        z = x + b  # saturation leaves a single channel alone
        ref = (z - z.mean((1, 2, 3), keepdim=True)) * c + z.mean((1, 2, 3), keepdim=True)
        torch.testing.assert_close(y, ref, rtol=1e-10, atol=1e-12)
        assert float(params["brightness"].abs().max()) <= 0.5
        assert 0.5 <= float(params["contrast"].min()) and float(params["contrast"].max()) <= 1.5

    def test_p_zero_is_the_identity_and_draws_alike(self):
        spec = parse_augment("ada:color,translation,cutout")
        x = _images()
        g = _gen(4)
        assert torch.equal(augment(x, spec, p=0.0, generator=g), x)
        # the number of draws does not depend on p: the next draw is the same either way
        g1, g2 = _gen(4), _gen(4)
        sample_params(spec, 6, 16, 16, p=0.0, generator=g1)
        sample_params(spec, 6, 16, 16, p=1.0, generator=g2)
        assert torch.equal(torch.rand(3, generator=g1), torch.rand(3, generator=g2))

    def test_p_applies_per_image(self):
        spec = parse_augment("ada:translation")
        params = sample_params(spec, 4000, 32, 32, p=0.3, generator=_gen(6))
        moved = (params["translation"] != 0).any(1).double().mean()
        # applied to ~30% of the images, minus the 1/81 draws that are a zero shift anyway
        assert abs(float(moved) - 0.3 * 80 / 81) < 0.03

    def test_deterministic_given_generator(self):
        x = _images()
        a = augment(x, "diffaug:color,translation,cutout", generator=_gen(9))
        b = augment(x, "diffaug:color,translation,cutout", generator=_gen(9))
        c = augment(x, "diffaug:color,translation,cutout", generator=_gen(10))
        assert torch.equal(a, b) and not torch.equal(a, c)

    def test_gradcheck(self):
        spec = parse_augment("diffaug:color,translation,cutout,boundary=zeros")
        params = sample_params(spec, 2, 6, 6, generator=_gen(0))
        x = torch.rand(2, 3, 6, 6, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda t: apply_params(t, spec, params), (x,))

    def test_bad_input(self):
        with pytest.raises(ArgumentError, match=r"x must be of shape \(B, C, H, W\)"):
            augment(torch.zeros(3, 8, 8), "diffaug")
        with pytest.raises(ArgumentTypeError, match="floating-point"):
            augment(torch.zeros(2, 1, 8, 8, dtype=torch.int64), "diffaug")
        spec = parse_augment("diffaug")
        params = sample_params(spec, 3, 8, 8, generator=_gen())
        with pytest.raises(ArgumentError, match="parameters for a batch of 2 images"):
            apply_params(torch.zeros(2, 1, 8, 8), spec, params)


class _G(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 16 * 8 * 8)
        self.up = nn.ConvTranspose2d(16, 1, 4, 2, 1)  # (B, 1, 16, 16)

    def forward(self, z):
        return torch.tanh(self.up(torch.relu(self.fc(z).view(-1, 16, 8, 8))))


class TestGradientsReachG:
    @pytest.mark.parametrize("text", ["diffaug:translation", "diffaug:cutout", "diffaug:color,translation,cutout",
                                      "ada:translation,cutout,p=1"])
    def test_backprop_through_augment(self, text):
        torch.manual_seed(0)
        G, D = _G(), nn.Sequential(nn.Conv2d(1, 8, 3, 2, 1), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(8 * 8 * 8, 1))
        aug = Augmenter(text, seed=1)
        loss = nn.functional.softplus(-D(aug(G(torch.randn(8, 4))))).mean()  # non-saturating G loss
        loss.backward()
        for name, p in G.named_parameters():
            assert p.grad is not None and float(p.grad.abs().sum()) > 0, name

    def test_cutout_blocks_gradient_inside_the_square_only(self):
        spec = AugmentSpec(policies=("cutout",), cutout=0.5)
        x = torch.rand(1, 1, 8, 8, requires_grad=True)
        params = sample_params(spec, 1, 8, 8, generator=_gen(0))
        apply_params(x, spec, params).sum().backward()
        cut = apply_params(torch.zeros(1, 1, 8, 8), AugmentSpec(policies=("cutout",), cutout=0.5, cutout_fill=1.0),
                           params) == 1.0
        assert torch.equal(x.grad == 0, cut)


class TestSameParams:
    def test_same_params_on_both_halves(self):
        spec = parse_augment("diffaug:color,translation,cutout")
        real, fake = _images(seed=1), _images(seed=2)
        ra, fa = augment_pair(real, fake, spec, generator=_gen(7), same_params=True)
        params = sample_params(spec, 6, 16, 16, generator=_gen(7))
        assert torch.equal(ra, apply_params(real, spec, params))
        assert torch.equal(fa, apply_params(fake, spec, params))
        # the same image in both halves comes out the same
        r2, f2 = augment_pair(real, real.clone(), spec, generator=_gen(7), same_params=True)
        assert torch.equal(r2, f2)

    def test_independent_by_default(self):
        real = _images(seed=1)
        r2, f2 = augment_pair(real, real.clone(), "diffaug:translation,cutout", generator=_gen(7))
        assert not torch.equal(r2, f2)

    def test_same_params_needs_equal_batches(self):
        with pytest.raises(ArgumentError, match="a batch of 6 images"):
            augment_pair(_images(), _images(b=4), "diffaug", same_params=True)

    def test_augmenter_pair(self):
        aug = Augmenter("diffaug:translation,cutout", seed=3)
        real = _images()
        ra, fa = aug.pair(real, real.clone(), same_params=True)
        assert torch.equal(ra, fa) and not torch.equal(ra, real)


class TestADA:
    def test_p_rises_when_D_is_overconfident_on_reals(self):
        ada = AdaptiveAugment(target=0.6, images=1000, interval=4)
        for _ in range(8):
            ada.observe(torch.full((64,), 3.0))  # r_t = 1 > 0.6
        assert ada.p == pytest.approx(2 * 4 * 64 / 1000) and ada.rt == 1.0

    def test_p_falls_otherwise_and_is_clamped(self):
        ada = AdaptiveAugment(target=0.6, images=1000, interval=1, p=0.3)
        logits = torch.tensor([1.0, 1.0, -1.0, -1.0] * 16)  # r_t = 0 < 0.6
        ada.observe(logits)
        assert ada.p == pytest.approx(0.3 - 64 / 1000)
        for _ in range(10):
            ada.observe(logits)
        assert ada.p == 0.0
        for _ in range(40):
            ada.observe(torch.ones(64))
        assert ada.p == 1.0

    def test_only_at_the_interval(self):
        ada = AdaptiveAugment(images=1000, interval=4)
        for _ in range(3):
            assert ada.observe(torch.ones(10)) == 0.0
        assert ada.observe(torch.ones(10)) == pytest.approx(0.04)

    def test_reduce_hook(self):
        ada = AdaptiveAugment(images=1000, interval=1)
        ada.observe(-torch.ones(10), reduce=lambda s: s * 0 + torch.tensor([20.0, 20.0], dtype=s.dtype))
        assert ada.p == pytest.approx(0.02)  # the reduced (all-rank) numbers decide

    def test_state_round_trip(self):
        a = AdaptiveAugment(images=500, interval=3)
        gen = _gen(0)
        outs = [torch.randn(32, generator=gen) + 0.8 for _ in range(10)]
        for o in outs[:5]:
            a.observe(o)
        buf = io.BytesIO()
        torch.save(a.state_dict(), buf)
        b = AdaptiveAugment(images=500, interval=3)
        b.load_state_dict(torch.load(io.BytesIO(buf.getvalue()), weights_only=True))
        for o in outs[5:]:
            assert a.observe(o) == b.observe(o)
        assert a.state_dict() == b.state_dict() and a.p > 0
        with pytest.raises(ArgumentError, match="ada images must match"):
            AdaptiveAugment(images=600, interval=3).load_state_dict(a.state_dict())

    def test_augmenter_resume_is_exact(self):
        spec = "ada:color,translation,cutout,images=2000,interval=1"
        a = Augmenter(spec, seed=5)
        x = _images()
        for i in range(4):
            a(x)
            a.observe(torch.full((6,), 1.0 if i % 3 else -1.0))
        buf = io.BytesIO()
        torch.save(a.state_dict(), buf)
        b = Augmenter(spec, seed=99)
        b.load_state_dict(torch.load(io.BytesIO(buf.getvalue()), weights_only=True))
        assert b.p == a.p > 0
        for _ in range(3):
            assert torch.equal(a(x), b(x))
            assert a.observe(torch.ones(6)) == b.observe(torch.ones(6))
        with pytest.raises(ArgumentError, match="augment must match"):
            Augmenter("diffaug:translation", seed=5).load_state_dict(a.state_dict())

    def test_diffaug_p_is_one_and_observe_is_a_no_op(self):
        aug = Augmenter("diffaug:translation")
        assert aug.observe(torch.ones(8)) == 1.0 and aug.ada is None
        assert aug.state_dict()["ada"] is None
        with pytest.raises(ArgumentError, match="an augmentation"):
            Augmenter("none")

"""DCGAN models: the five guidelines checked on the module tree, shapes, losses, engine equivalence."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from convscope.models.dcgan import (
    ADAM_BETAS,
    ADAM_LR,
    LEAKY_SLOPE,
    DCGANConfig,
    Discriminator,
    Generator,
    d_loss,
    g_loss,
    get_loss,
    make_optimizers,
)

CONFIGS = [
    DCGANConfig(image_size=16, channels=1, nz=8, ngf=4, ndf=4),
    DCGANConfig(image_size=32, channels=3, nz=8, ngf=4, ndf=4, upsample="resize_conv"),
    DCGANConfig(image_size=64, channels=1, nz=8, ngf=2, ndf=2),
]


def _convs(m):
    return [x for x in m.modules() if isinstance(x, nn.Conv2d | nn.ConvTranspose2d)]


def _flat(m):
    """Leaf modules in forward order."""
    return [x for x in m.modules() if not list(x.children())]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"{c.image_size}-{c.upsample}")
class TestGuidelines:
    def test_1_no_pooling_strided_convs(self, cfg):
        G, D = Generator(cfg), Discriminator(cfg)
        for net in (G, D):
            assert not any(isinstance(x, nn.MaxPool2d | nn.AvgPool2d | nn.AdaptiveAvgPool2d | nn.AdaptiveMaxPool2d)
                           for x in net.modules())
        # D halves the size with stride-2 convolutions: log2(S) - 2 of them, then a 4x4 head
        strided = [c for c in _convs(D) if c.stride == (2, 2)]
        assert len(strided) == cfg.n_up
        # G doubles it with fractionally-strided convolutions (or resize + conv)
        if cfg.upsample == "transposed":
            up = [c for c in _convs(G) if isinstance(c, nn.ConvTranspose2d) and c.stride == (2, 2)]
        else:
            up = [x for x in G.modules() if isinstance(x, nn.Upsample)]
            assert all(u.mode == "nearest" and u.scale_factor == 2 for u in up)
        assert len(up) == cfg.n_up

    def test_2_batchnorm_except_g_output_and_d_input(self, cfg):
        G, D = Generator(cfg), Discriminator(cfg)
        gl, dl = _flat(G), _flat(D)
        g_convs = [i for i, x in enumerate(gl) if isinstance(x, nn.Conv2d | nn.ConvTranspose2d)]
        d_convs = [i for i, x in enumerate(dl) if isinstance(x, nn.Conv2d | nn.ConvTranspose2d)]
        # every G conv but the last is followed by BN; the last by Tanh
        for i in g_convs[:-1]:
            assert isinstance(gl[i + 1], nn.BatchNorm2d)
        assert isinstance(gl[g_convs[-1] + 1], nn.Tanh)
        # D: the input conv has no BN, the hidden ones do, the head is a bare conv (logit)
        assert isinstance(dl[d_convs[0] + 1], nn.LeakyReLU)
        for i in d_convs[1:-1]:
            assert isinstance(dl[i + 1], nn.BatchNorm2d)
        assert d_convs[-1] == len(dl) - 1
        assert sum(isinstance(x, nn.BatchNorm2d) for x in gl) == cfg.n_up
        assert sum(isinstance(x, nn.BatchNorm2d) for x in dl) == cfg.n_up - 1

    def test_3_no_fully_connected(self, cfg):
        for net in (Generator(cfg), Discriminator(cfg)):
            assert not any(isinstance(x, nn.Linear | nn.Bilinear) for x in net.modules())

    def test_4_relu_in_g_tanh_output(self, cfg):
        G = Generator(cfg)
        acts = [x for x in _flat(G) if isinstance(x, nn.ReLU | nn.LeakyReLU | nn.Tanh | nn.Sigmoid | nn.ELU)]
        assert all(type(a) is nn.ReLU for a in acts[:-1]) and len(acts) == cfg.n_up + 1
        assert isinstance(acts[-1], nn.Tanh) and isinstance(_flat(G)[-1], nn.Tanh)
        z = torch.randn(4, cfg.nz) * 100
        assert G(z).abs().max() <= 1.0

    def test_5_leaky_relu_in_d(self, cfg):
        D = Discriminator(cfg)
        acts = [x for x in _flat(D) if isinstance(x, nn.ReLU | nn.LeakyReLU | nn.Tanh | nn.Sigmoid)]
        assert len(acts) == cfg.n_up
        assert all(type(a) is nn.LeakyReLU and a.negative_slope == LEAKY_SLOPE == 0.2 for a in acts)
        assert not any(isinstance(x, nn.Sigmoid) for x in D.modules())  # logits out

    def test_init(self, cfg):
        torch.manual_seed(0)
        big = cfg.replace(ngf=32, ndf=32)  # enough channels for the statistics to be tight
        for net in (Generator(big), Discriminator(big)):
            ws = torch.cat([c.weight.detach().flatten() for c in _convs(net)])
            assert abs(float(ws.mean())) < 0.003 and 0.017 < float(ws.std()) < 0.023
            for c in _convs(net):
                assert c.bias is None or torch.all(c.bias == 0)
            bns = [x for x in net.modules() if isinstance(x, nn.BatchNorm2d)]
            g = torch.cat([b.weight.detach().flatten() for b in bns])
            assert abs(float(g.mean()) - 1) < 0.005 and 0.015 < float(g.std()) < 0.025
            assert all(torch.all(b.bias == 0) for b in bns)

    def test_shapes(self, cfg):
        G, D = Generator(cfg), Discriminator(cfg)
        x = G(torch.randn(3, cfg.nz, 1, 1))
        assert x.shape == (3, cfg.channels, cfg.image_size, cfg.image_size)
        assert D(x).shape == (3,)
        assert D.features(x).ndim == 2


def test_optimizers_are_the_papers():
    cfg = CONFIGS[0]
    oG, oD = make_optimizers(Generator(cfg), Discriminator(cfg))
    for o in (oG, oD):
        assert isinstance(o, torch.optim.Adam)
        assert o.defaults["lr"] == ADAM_LR == 2e-4 and tuple(o.defaults["betas"]) == ADAM_BETAS == (0.5, 0.999)


class TestConfig:
    @pytest.mark.parametrize("size", [8, 24, 31, 0, "32"])
    def test_bad_size(self, size):
        with pytest.raises(ValueError, match="image_size must be a power of two >= 16"):
            DCGANConfig(image_size=size)

    def test_bad_options(self):
        with pytest.raises(ValueError, match="channels must be 1 or 3, got 2"):
            DCGANConfig(channels=2)
        with pytest.raises(ValueError, match="upsample must be one of 'transposed', 'resize_conv', got 'bilinear'"):
            DCGANConfig(upsample="bilinear")
        with pytest.raises(ValueError, match="loss must be one of"):
            DCGANConfig(loss="wgan")
        with pytest.raises(ValueError, match="nz must be a positive int"):
            DCGANConfig(nz=0)

    def test_normalised_and_frozen(self):
        c = DCGANConfig(upsample="Resize-Conv", loss="HINGE")
        assert (c.upsample, c.loss) == ("resize_conv", "hinge")
        assert DCGANConfig.from_dict(c.to_dict()) == c
        with pytest.raises(AttributeError):
            c.nz = 3  # type: ignore[misc]

    def test_depth_follows_size(self):
        for s, n in ((16, 2), (32, 3), (64, 4), (128, 5)):
            assert DCGANConfig(image_size=s).n_up == n


class TestLosses:
    def test_bce_is_bce_with_logits(self):
        r, f = torch.randn(16), torch.randn(16)
        ref_d = nn.BCEWithLogitsLoss()(r, torch.ones(16)) + nn.BCEWithLogitsLoss()(f, torch.zeros(16))
        torch.testing.assert_close(d_loss("bce", r, f), ref_d)
        # non-saturating: -log sigmoid(f), not log(1 - sigmoid(f))
        torch.testing.assert_close(g_loss("bce", f), -torch.nn.functional.logsigmoid(f).mean())

    def test_bce_stable_at_extreme_logits(self):
        big = torch.tensor([200.0, -200.0])
        assert torch.isfinite(d_loss("bce", big, -big)) and torch.isfinite(g_loss("bce", -big))
        x = torch.tensor([-100.0], requires_grad=True)
        g_loss("bce", x).backward()
        assert abs(float(x.grad) + 1) < 1e-6  # non-saturating: gradient stays -1 when D rejects the fake

    def test_hinge(self):
        r, f = torch.tensor([2.0, 0.0]), torch.tensor([-2.0, 0.5])
        assert float(d_loss("hinge", r, f)) == pytest.approx((0 + 1) / 2 + (0 + 1.5) / 2)
        assert float(g_loss("hinge", f)) == pytest.approx(0.75)

    def test_unknown_loss(self):
        with pytest.raises(ValueError, match="loss must be one of 'bce', 'hinge', got 'lsgan'"):
            get_loss("lsgan")


@pytest.mark.parametrize("upsample", ["transposed", "resize_conv"])
@pytest.mark.parametrize("method", ["direct", "fft"])
def test_engine_layers_equal_torch(upsample, method):
    base = DCGANConfig(image_size=16, channels=1, nz=6, ngf=4, ndf=4, upsample=upsample)
    eng = base.replace(conv_method=method)
    G, D = Generator(base).double(), Discriminator(base).double()
    G2, D2 = Generator(eng).double(), Discriminator(eng).double()
    G2.load_state_dict(G.state_dict())
    D2.load_state_dict(D.state_dict())
    assert any(type(m).__module__.startswith("convscope.conv") for m in G2.modules())
    z = torch.randn(3, 6, 1, 1, dtype=torch.float64)
    x = G(z)
    torch.testing.assert_close(G2(z), x, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(D2(x), D(x), rtol=1e-9, atol=1e-9)

"""DCGAN (Radford et al. 2015): a generator and a discriminator built from the five guidelines.

The lecture notes' architecture guidelines for stable deep convolutional GANs, and
where each one lives in this file:

1. Pooling is replaced by strided convolutions in D (``Conv2d(stride=2)``)
   and fractionally-strided convolutions in G (``ConvTranspose2d(stride=2)``:
   zero insertion followed by a full convolution, see
   :func:`convscope.conv.conv_transpose2d`).
2. Batch norm in both networks, except on G's output layer and D's input
   layer (the paper found that normalising those made training unstable).
3. No fully connected hidden layers: G starts with a 4x4 transposed
   convolution of the ``(nz, 1, 1)`` noise and D ends with a 4x4 convolution
   to a single logit.
4. ReLU in G for every layer but the output, which is Tanh.
5. LeakyReLU (slope 0.2) in D for every layer.

Weights start from N(0, 0.02), batch-norm scales from N(1, 0.02) and biases
at 0; both networks are trained with Adam(lr 2e-4, betas (0.5, 0.999)). The
losses are pure functions chosen by name and always take *logits* (D has no
Sigmoid): ``bce`` is the non-saturating loss computed with
``binary_cross_entropy_with_logits``, ``hinge`` the hinge loss.

Example:
    >>> cfg = DCGANConfig(image_size=16, channels=1, nz=8, ngf=4, ndf=4)
    >>> G, D = Generator(cfg), Discriminator(cfg)
    >>> x = G(torch.randn(2, 8, 1, 1))
    >>> tuple(x.shape), tuple(D(x).shape)
    ((2, 1, 16, 16), (2,))
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._checkpoint import read_checkpoint
from .._checks import DataError, check_int, check_option, fail
from .._config import ConfigMixin

__all__ = [
    "ADAM_BETAS",
    "ADAM_LR",
    "LEAKY_SLOPE",
    "LOSSES",
    "UPSAMPLES",
    "DCGANConfig",
    "Discriminator",
    "Generator",
    "d_loss",
    "g_loss",
    "generate",
    "generator_label",
    "get_loss",
    "init_weights",
    "load_data",
    "load_discriminator",
    "load_generator",
    "make_optimizers",
]

UPSAMPLES = ("transposed", "resize_conv")
LOSSES = ("bce", "hinge")
CONV_METHODS = (None, "direct", "fft", "auto", "overlap_add")
LEAKY_SLOPE = 0.2
ADAM_LR = 2e-4
ADAM_BETAS = (0.5, 0.999)
INIT_STD = 0.02


@dataclass(frozen=True)
class DCGANConfig(ConfigMixin):
    """Everything that fixes the architecture and the loss (saved in every checkpoint).

    Args:
        image_size: side of the square images, a power of two >= 16; it sets
            the depth: ``log2(image_size) - 2`` stride-2 layers in each network.
        channels: 1 (grey, MNIST) or 3 (colour).
        nz: length of the noise vector z.
        ngf: width of G's last hidden layer (widths double towards the input).
        ndf: width of D's first layer (widths double towards the output).
        upsample: ``transposed`` (fractionally-strided convolution, the paper)
            or ``resize_conv`` (nearest-neighbour x2 then a 3x3 convolution,
            Odena et al. 2016, the cure for checkerboard artifacts).
        loss: ``bce`` (non-saturating, with logits) or ``hinge``.
        conv_method: None uses torch.nn layers (fast); ``direct``/``fft``/
            ``auto`` routes every convolution through convscope's engine.
    """

    image_size: int = 32
    channels: int = 1
    nz: int = 100
    ngf: int = 64
    ndf: int = 64
    upsample: str = "transposed"
    loss: str = "bce"
    conv_method: str | None = None

    def __post_init__(self):
        s = self.image_size
        if not isinstance(s, int) or isinstance(s, bool) or s < 16 or s & (s - 1):
            raise fail("image_size", "a power of two >= 16", s)
        if self.channels not in (1, 3) or isinstance(self.channels, bool):
            raise fail("channels", "1 or 3", self.channels)
        for name in ("nz", "ngf", "ndf"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise fail(name, "a positive int", v)
        object.__setattr__(self, "upsample", check_option("upsample", self.upsample, UPSAMPLES))
        object.__setattr__(self, "loss", check_option("loss", self.loss, LOSSES))
        if self.conv_method is not None:
            m = check_option("conv_method", self.conv_method, [m for m in CONV_METHODS if m])
            object.__setattr__(self, "conv_method", m)

    @property
    def n_up(self) -> int:
        """Number of stride-2 layers in each network: 4 -> image_size."""
        return int(math.log2(self.image_size)) - 2

# ---------------------------------------------------------------- layers


def _engine_layers():
    """convscope's drop-in modules (subclasses of torch.nn's, same parameter names)."""
    from ..conv.modules import Conv2d, ConvTranspose2d

    return Conv2d, ConvTranspose2d


def _conv(cfg: DCGANConfig, *a, **kw) -> nn.Module:
    if cfg.conv_method is None:
        return nn.Conv2d(*a, **kw)
    return _engine_layers()[0](*a, method=cfg.conv_method, **kw)


def _convT(cfg: DCGANConfig, *a, **kw) -> nn.Module:
    if cfg.conv_method is None:
        return nn.ConvTranspose2d(*a, **kw)
    return _engine_layers()[1](*a, method=cfg.conv_method, **kw)


def _up(cfg: DCGANConfig, cin: int, cout: int) -> list[nn.Module]:
    """One x2 upsampling convolution (no bias: BN or Tanh-free bias handled by caller)."""
    if cfg.upsample == "transposed":
        return [_convT(cfg, cin, cout, 4, 2, 1, bias=False)]  # fractionally strided, stride 1/2
    return [nn.Upsample(scale_factor=2, mode="nearest"), _conv(cfg, cin, cout, 3, 1, 1, bias=False)]


def init_weights(m: nn.Module) -> None:
    """The paper's init: conv weights N(0, 0.02), BN scale N(1, 0.02), BN shift 0."""
    if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
        nn.init.normal_(m.weight, 0.0, INIT_STD)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, INIT_STD)
        nn.init.zeros_(m.bias)


class Generator(nn.Module):
    """z (B, nz, 1, 1) or (B, nz) -> image (B, channels, S, S) in [-1, 1].

    For S = 32, ngf = 64: z -> 256x4x4 -> 128x8x8 -> 64x16x16 -> Cx32x32.
    """

    def __init__(self, config: DCGANConfig):
        super().__init__()
        self.config = cfg = config
        mult = 2 ** (cfg.n_up - 1)
        layers: list[nn.Module] = [
            # projection of the noise: a stride-1 transposed conv, not a fully connected layer
            _convT(cfg, cfg.nz, cfg.ngf * mult, 4, 1, 0, bias=False),  # (ngf*mult) x 4 x 4
            nn.BatchNorm2d(cfg.ngf * mult),
            nn.ReLU(True),
        ]
        for _ in range(cfg.n_up - 1):
            layers += [*_up(cfg, cfg.ngf * mult, cfg.ngf * mult // 2),  # spatial size doubles
                       nn.BatchNorm2d(cfg.ngf * mult // 2), nn.ReLU(True)]
            mult //= 2
        # output layer: no batch norm, Tanh
        if cfg.upsample == "transposed":
            layers += [_convT(cfg, cfg.ngf, cfg.channels, 4, 2, 1, bias=True)]
        else:
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), _conv(cfg, cfg.ngf, cfg.channels, 3, 1, 1, bias=True)]
        layers += [nn.Tanh()]  # channels x S x S
        self.main = nn.Sequential(*layers)
        self.apply(init_weights)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim == 2:
            z = z[:, :, None, None]
        return self.main(z)


class Discriminator(nn.Module):
    """image (B, channels, S, S) -> one logit per image (B,). No Sigmoid: losses take logits.

    For S = 32, ndf = 64: Cx32x32 -> 64x16x16 -> 128x8x8 -> 256x4x4 -> 1.
    """

    def __init__(self, config: DCGANConfig):
        super().__init__()
        self.config = cfg = config
        # input layer: strided conv, no batch norm
        blocks = [nn.Sequential(_conv(cfg, cfg.channels, cfg.ndf, 4, 2, 1, bias=False),
                                nn.LeakyReLU(LEAKY_SLOPE, inplace=True))]  # ndf x S/2 x S/2
        mult = 1
        for _ in range(cfg.n_up - 1):
            blocks.append(nn.Sequential(
                _conv(cfg, cfg.ndf * mult, cfg.ndf * mult * 2, 4, 2, 1, bias=False),  # halves H, W
                nn.BatchNorm2d(cfg.ndf * mult * 2),
                nn.LeakyReLU(LEAKY_SLOPE, inplace=True),
            ))
            mult *= 2
        self.blocks = nn.Sequential(*blocks)  # (ndf*mult) x 4 x 4
        self.head = _conv(cfg, cfg.ndf * mult, 1, 4, 1, 0, bias=True)  # 1 x 1 x 1: the logit
        self.apply(init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(x)).flatten()

    @torch.no_grad()
    def features(self, x: torch.Tensor, pool: int = 4) -> torch.Tensor:
        """The paper's representation: every hidden layer max-pooled to ``pool x pool``, flattened, concatenated.

        Shape: (B, C, S, S) -> (B, sum_l C_l * pool * pool).
        """
        out = []
        h = x
        for block in self.blocks:
            h = block(h)
            p = F.adaptive_max_pool2d(h, min(pool, h.shape[-1]))
            out.append(p.flatten(1))
        return torch.cat(out, 1)


# ---------------------------------------------------------------- losses (pure functions of logits)


def _bce_d(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    ones, zeros = torch.ones_like(real_logits), torch.zeros_like(fake_logits)
    return (F.binary_cross_entropy_with_logits(real_logits, ones)
            + F.binary_cross_entropy_with_logits(fake_logits, zeros))


def _bce_g(fake_logits: torch.Tensor) -> torch.Tensor:
    # non-saturating: maximise log D(G(z)) rather than minimise log(1 - D(G(z)))
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def _hinge_d(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def _hinge_g(fake_logits: torch.Tensor) -> torch.Tensor:
    return -fake_logits.mean()


_LOSSES: dict[str, tuple[Callable, Callable]] = {"bce": (_bce_d, _bce_g), "hinge": (_hinge_d, _hinge_g)}


def get_loss(name: str) -> tuple[Callable, Callable]:
    """``(d_loss(real_logits, fake_logits), g_loss(fake_logits))`` for a loss name.

    >>> d, g = get_loss("bce")
    >>> round(float(g(torch.zeros(4))), 4)  # -log(sigmoid(0)) = log 2
    0.6931
    >>> get_loss("wasserstein")
    Traceback (most recent call last):
    ...
    convscope._checks.ArgumentError: loss must be one of 'bce', 'hinge', got 'wasserstein'
    """
    return _LOSSES[check_option("loss", name, LOSSES)]


def d_loss(name: str, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Discriminator loss ``name`` from the logits of real and generated images."""
    return get_loss(name)[0](real_logits, fake_logits)


def g_loss(name: str, fake_logits: torch.Tensor) -> torch.Tensor:
    """Generator loss ``name`` from the discriminator's logits on generated images."""
    return get_loss(name)[1](fake_logits)


def make_optimizers(G: nn.Module, D: nn.Module, *, lr: float = ADAM_LR, betas=ADAM_BETAS,
                    fused: bool | None = None) -> tuple[torch.optim.Adam, torch.optim.Adam]:
    """The paper's optimisers: Adam(lr 2e-4, betas (0.5, 0.999)) for each network."""
    kw = {"lr": lr, "betas": tuple(betas)}
    if fused:
        kw["fused"] = True
    return torch.optim.Adam(G.parameters(), **kw), torch.optim.Adam(D.parameters(), **kw)


# ---------------------------------------------------------------- a trained DCGAN: loading and sampling


def generator_label(ema_decay: float | None) -> str:
    """How captions and reports name the generator that drew an image.

    >>> generator_label(0.999), generator_label(None)
    ('EMA of G (decay 0.999)', 'G')
    """
    return "G" if ema_decay is None else f"EMA of G (decay {float(ema_decay):g})"


def load_generator(path: str | os.PathLike, device: str | torch.device = "cpu", *,
                   ema: bool = True) -> tuple[Generator, dict]:
    """The generator of a run (run folder, its checkpoints folder or a checkpoint file), in eval mode, and metadata.

    A run trained with ``ema`` (an exponential moving average of G's weights) gives
    its EMA generator unless ``ema=False`` asks for the raw G.

    Metadata: ``model_config`` (a :class:`DCGANConfig`), ``fixed_noise``, ``step``,
    ``epoch``, ``data``, ``classes``, ``train_config``, ``version`` (the convscope
    that wrote it), ``path``, ``ema`` (True when the EMA generator was loaded) and
    ``generator`` (for captions: ``"EMA of G (decay 0.999)"`` or ``"G"``);
    :func:`load_discriminator` builds D from it. A schema-1 checkpoint (the layout before the one engine) loads too.
    """
    if not isinstance(ema, bool):
        raise fail("ema", "a bool", ema, TypeError)
    ck, file = read_checkpoint(path, "dcgan", map_location="cpu")
    use_ema = ema and "G_ema" in ck["models"]
    try:
        cfg = DCGANConfig.from_dict(ck["configs"]["model"])
        G = Generator(cfg)
        G.load_state_dict(ck["models"]["G_ema" if use_ema else "G"])
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise DataError(f"checkpoint {file} is damaged: its generator does not fit its config ({first})") from None
    G.to(device).eval()
    extra = ck["extra"]
    tcfg = ck["configs"].get("train") or {}
    decay = (extra.get("ema") or {}).get("decay", tcfg.get("ema")) if use_ema else None
    meta = {"fixed_noise": extra.get("fixed_noise"), "step": ck["step"], "epoch": ck["epoch"],
            "data": extra.get("data"), "classes": extra.get("classes"), "train_config": ck["configs"].get("train"),
            "version": ck["version"], "model_config": cfg, "path": file, "D": ck["models"].get("D"),
            "ema": use_ema, "generator": generator_label(decay) if use_ema else "G"}
    return G, meta


def load_discriminator(meta: dict, device: str | torch.device = "cpu") -> Discriminator:
    """The discriminator of the run :func:`load_generator` loaded ``meta`` from, in eval mode."""
    D = Discriminator(meta["model_config"])
    D.load_state_dict(meta["D"])
    return D.to(device).eval()


@torch.no_grad()
def generate(G: Generator, n: int, *, seed: int = 0, batch_size: int = 500, z: torch.Tensor | None = None,
             device: str | torch.device = "cpu") -> torch.Tensor:
    """``n`` images from ``G`` (eval mode) with seeded noise (or the given ``z``), in [-1, 1], on the CPU."""
    G.eval()
    batch_size = check_int("batch_size", batch_size, min_value=1)
    if z is None:
        n = check_int("n", n, min_value=0)
        z = torch.randn(n, G.config.nz, 1, 1, generator=torch.Generator().manual_seed(seed))
    out = [G(z[i:i + batch_size].to(device)).float().cpu() for i in range(0, z.shape[0], batch_size)]
    return torch.cat(out) if out else torch.empty(0, G.config.channels, G.config.image_size, G.config.image_size)


def load_data(data, *, image_size: int, channels: int | None = None, split: str = "train",
              seed: int = 0) -> tuple[torch.Tensor, torch.Tensor | None, list[str] | None, str]:
    """Images (N, C, S, S) in [-1, 1] (a DCGAN's range), labels or None, class names or None, a source label.

    ``data`` is anything :func:`convscope.data.load_dataset` takes, or a tensor/array
    of images already in [-1, 1] (then ``split`` is ignored).

    A GAN needs no validation split, so its splits are two: ``test`` is the
    source's test split (the official one, or the seeded stratified 20% of a set
    without one: the same images a classifier holds out), and ``train`` is every
    other image (``load_dataset(..., val_fraction=0)``: all 4,000 non-test images
    of ``mnist-5k``). The GAN trains on ``train``; the evaluation compares with
    ``train`` and takes its real-vs-real floors from ``test``.
    """
    if isinstance(data, torch.Tensor | np.ndarray):
        x = torch.as_tensor(np.asarray(data) if isinstance(data, np.ndarray) else data).float()
        if x.ndim == 3:
            x = x[:, None]
        if x.ndim != 4 or x.shape[-1] != image_size or x.shape[-2] != image_size:
            raise fail("data", f"images (N, C, {image_size}, {image_size})", x)
        return x, None, None, "tensor"
    from ..data import load_dataset

    split = check_option("split", split, ("train", "test", "all"))
    ds = load_dataset(data, split=split, image_size=image_size, channels=channels, normalize="gan", seed=seed,
                      val_fraction=0.0)
    x, y = ds.tensors()
    return x.float().contiguous(), y, list(ds.classes), str(ds.source)

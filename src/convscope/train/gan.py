"""Training a DCGAN: the GAN's steps, plugged into :mod:`.engine` (exact resume, SIGINT/SIGTERM save, DDP).

One step is the paper's alternating update (pytorch/examples' loop):

1. D step: ``d_loss(D(x), D(G(z).detach()))``, Adam on D;
2. G step: ``g_loss(D(G(z)))`` on the same ``G(z)``, Adam on G. D's weights are
   frozen for this backward pass (their gradients would be thrown away).

Three options for little data, none of which changes the architecture:

- ``augment`` (:mod:`convscope.models.augment`): DiffAugment or ADA. Every image
  D sees, real and fake, in both steps, is augmented with torch ops (so the
  gradient of ``D(T(G(z)))`` reaches G): ``D(T(x))`` and ``D(T(G(z)))``. The
  random draws come from the augmenter's own seeded generator, in a fixed order
  (fake, then real), outside ``torch.compile``; ADA's probability ``p`` follows
  the sign of D's logits on the augmented real images and is logged as ``ada_p``.
- ``ema`` (:mod:`convscope.models.ema`): an exponential moving average of G's
  weights (decay ramped up from 0), updated after every G step and saved as
  ``models["G_ema"]``; sampling, evaluation and the per-epoch grids use it.
- ``r1`` and ``r1_every``: Mescheder et al.'s R1 penalty ``gamma/2 E[|grad_x D(x)|^2]``
  on D's (augmented) real images, lazily every ``r1_every``-th step (StyleGAN2).
  On mnist-5k it is the change that counts: D stops growing steep around the
  4,000 training images, and Fréchet distance, recall and class balance reach
  the preset's targets (benchmarks/RESULTS.md, "gan-preset"). ``--preset mnist``
  uses gamma 1 every 4th step with an EMA of G.

The GAN trains on every image the evaluation does not hold out
(:func:`convscope.models.dcgan.load_data`'s ``train`` split: all but the test split).

A run folder holds ``checkpoints/ckpt-<step>.pt`` in the engine's one schema
(G, D, both optimisers, the data-order and noise generators, the global RNG
states, the fixed noise, the configs, the step, the epoch, the epoch's
permutation and the batch reached), ``metrics.jsonl`` and ``metrics.csv``,
``samples/epoch_NNN.png`` (the same fixed noise every epoch), ``curves.png``
(losses, D(x), D(G(z))) and ``run.json`` (kind, configs, data source, final metrics).
Loading and sampling a trained generator live with the model
(:func:`convscope.models.dcgan.load_generator`, :func:`~convscope.models.dcgan.generate`).

``train_gan(preset="quick")`` trains on the bundled digits in about a minute.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .._checkpoint import set_rng_state
from .._checks import check_float, check_option, fail
from .._config import ConfigMixin
from ..models.augment import Augmenter, parse_augment
from ..models.dcgan import (
    LOSSES,
    DCGANConfig,
    Discriminator,
    Generator,
    generator_label,
    get_loss,
    load_data,
    make_optimizers,
)
from ..models.ema import EMA
from . import distributed as dist_
from .engine import (
    Context,
    EpochEnd,
    Plugin,
    TrainingError,
    TrainRun,
    check_finite_images,
    check_resume,
    run_training,
)

__all__ = [
    "PRESETS",
    "GANRun",
    "GANTrainConfig",
    "GANTrainingError",
    "RESUME_MAY_CHANGE",
    "make_train_step",
    "train_gan",
]

CHECKPOINT_KIND = "dcgan"
# what train_gan returned before the engine: the same TrainRun every trainer returns
GANRun = TrainRun
# training failures (non-finite loss, D winning completely) are the engine's one TrainingError
GANTrainingError = TrainingError


@dataclass(frozen=True)
class GANTrainConfig(ConfigMixin):
    """How to train (the architecture is :class:`DCGANConfig`).

    Args:
        epochs: passes over the training images.
        batch_size: images per step (per process under DDP).
        lr, beta1, beta2: Adam; the paper's 2e-4, 0.5, 0.999.
        n_fixed: size of the fixed-noise sample grid.
        d_win_steps: stop when D wins completely (D(x) > 1 - d_win_eps and
            D(G(z)) < d_win_eps, batch means) for this many consecutive steps.
        max_steps: stop after this many steps in total (``--dry-run`` uses 1).
        time_limit_s: stop (and save) after this much training time.
        channels_last, fused_adam, compile: speed options (see benchmarks/gan_bench.py); the
            first two are on by default because they measured faster, compile is off (slower on CPU).
        keep_last: step checkpoints kept (plus the latest epoch's).
        plots: write the sample grid and the curves every epoch.
        device: "cpu", "cuda", or "auto".
        augment: None (off) or a DiffAugment/ADA spec such as ``"diffaug:translation,cutout"``
            or ``"ada"`` (:func:`convscope.models.augment.parse_augment`); stored in its
            canonical form. May not change on resume.
        ema: None (off) or the decay of an EMA of G's weights, in [0, 1) (e.g. 0.999,
            ramped up from 0). May not change on resume.
        r1: None (off) or gamma of the R1 gradient penalty on D's real images
            (:func:`make_train_step`). May not change on resume.
        r1_every: apply R1 (scaled up by this) every this many steps (lazy
            regularisation, StyleGAN2's 16); 1 is every step.
    """

    epochs: int = 5
    batch_size: int = 64
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    n_fixed: int = 64
    d_win_steps: int = 200
    d_win_eps: float = 0.01
    max_steps: int | None = None
    time_limit_s: float | None = None
    channels_last: bool = True  # measured: 1.07-1.17x on CPU (benchmarks/gan_bench.py)
    fused_adam: bool = True  # measured: 1.03-1.05x
    compile: bool = False
    keep_last: int = 2
    plots: bool = True
    device: str = "cpu"
    augment: str | None = None
    ema: float | None = None
    r1: float | None = None
    r1_every: int = 1

    def __post_init__(self):
        for name in ("epochs", "batch_size", "n_fixed", "d_win_steps", "keep_last", "r1_every"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise fail(name, "a positive int", v)
        if self.max_steps is not None and self.max_steps < 1:
            raise fail("max_steps", "a positive int or None", self.max_steps)
        if not (self.lr > 0):
            raise fail("lr", "> 0", self.lr)
        spec = parse_augment(self.augment)
        object.__setattr__(self, "augment", None if spec is None else spec.to_spec())
        if self.ema is not None:
            decay = check_float("ema", self.ema, min_value=0.0, max_value=1.0)
            if decay >= 1.0:
                raise fail("ema", "a decay in [0, 1) or None", self.ema)
            object.__setattr__(self, "ema", decay)
        if self.r1 is not None:
            gamma = check_float("r1", self.r1, min_value=0.0)
            object.__setattr__(self, "r1", gamma or None)

# The tour's quick run, and the real one. Each preset: data source, model and training overrides.
PRESETS: dict[str, dict[str, Any]] = {
    "quick": {
        "data": "digits",
        "model": {"image_size": 16, "nz": 32, "ngf": 32, "ndf": 32},
        # EMA of G: a parameter copy per step, no measurable cost inside the 90 s cap; lazy R1 costs 11% of the
        # throughput and, on the digits, takes FD from 20.7 to 8.3, recall from 0.65 to 0.92, class KL from 0.16 to
        # 0.012 (seed 0, a digits LeNet's features; benchmarks/RESULTS.md "gan-preset")
        "train": {"epochs": 60, "batch_size": 64, "n_fixed": 64, "time_limit_s": 90, "ema": 0.999,
                  "r1": 1.0, "r1_every": 4},
    },
    # the preset's recipe (benchmarks/RESULTS.md, "gan-preset" and "gan-ablation"): the five guidelines unchanged,
    # plus lazy R1 on D (gamma 1, every 4th step) and an EMA of G; trained on all 4,000 non-test images
    "mnist": {
        "data": "mnist-5k",
        "model": {"image_size": 32, "nz": 64, "ngf": 32, "ndf": 32},
        "train": {"epochs": 180, "batch_size": 64, "n_fixed": 64, "time_limit_s": 15 * 60, "ema": 0.999,
                  "r1": 1.0, "r1_every": 4},
    },
}


# ---------------------------------------------------------------- the GAN's half of the engine


def _build(model_cfg: DCGANConfig, tcfg: GANTrainConfig, device: torch.device):
    G, D = Generator(model_cfg).to(device), Discriminator(model_cfg).to(device)
    if tcfg.channels_last:
        G = G.to(memory_format=torch.channels_last)
        D = D.to(memory_format=torch.channels_last)
    optG, optD = make_optimizers(G, D, lr=tcfg.lr, betas=(tcfg.beta1, tcfg.beta2), fused=tcfg.fused_adam)
    return G, D, optG, optD


def _merge_preset(preset, config, train, data):
    if preset is None:
        return config, train, data
    p = PRESETS[check_option("preset", preset, tuple(PRESETS))]
    cfg = config or DCGANConfig(**p["model"])
    tcfg = train or GANTrainConfig(**p["train"])
    return cfg, tcfg, data if data is not None else p["data"]


# settings that may differ on resume; the rest (architecture, loss, batch size, lr, seed, data) must not
RESUME_MAY_CHANGE = ("epochs", "max_steps", "time_limit_s", "plots", "device", "d_win_steps", "d_win_eps",
                     "channels_last", "fused_adam", "compile", "keep_last")


class GANPlugin(Plugin):
    """The DCGAN's steps: the alternating D/G update on one batch, pictures at the end of each epoch."""

    kind = CHECKPOINT_KIND
    may_change = RESUME_MAY_CHANGE
    log_steps = True

    def __init__(self, config, tcfg, data, seed, ck: dict | None, ctx: Context):
        if ck is not None:  # the saved run's settings, unless given (then they must match)
            saved_m = ck["configs"]["model"]
            saved_t = GANTrainConfig.from_dict(ck["configs"]["train"]).to_dict()  # keys added since: defaults
            extra = ck["extra"]
            saved_seed = int(extra.get("seed", 0))
            config = config or DCGANConfig.from_dict(saved_m)
            tcfg = tcfg or GANTrainConfig.from_dict(saved_t).replace(device=ctx.device.type)
            now_t = {**tcfg.to_dict(), "seed": saved_seed if seed is None else seed}
            saved_t = {**saved_t, "seed": saved_seed}
            if isinstance(data, str):
                now_t["data"], saved_t["data"] = data, extra.get("data_arg", data)
            check_resume({"model": saved_m, "train": saved_t}, {"model": config.to_dict(), "train": now_t},
                         self.may_change, path=ctx.resume_from)
            seed = saved_seed
            if data is None:
                data = extra.get("data_arg")
        config, tcfg = config or DCGANConfig(), tcfg or GANTrainConfig()
        seed = 0 if seed is None else int(seed)
        data = "digits" if data is None else data
        self.config, self.tcfg, self.seed, self.ctx = config, tcfg, seed, ctx
        self.epochs, self.max_steps, self.time_limit_s = tcfg.epochs, tcfg.max_steps, tcfg.time_limit_s
        self.keep_last = tcfg.keep_last
        world, rank, device = ctx.world, ctx.rank, ctx.device
        x, _y, classes, source = load_data(data, image_size=config.image_size, channels=config.channels, seed=0)
        if x.shape[1] != config.channels:
            raise fail("config.channels", f"the data's channel count {x.shape[1]}", config.channels)
        check_finite_images(x, source if isinstance(data, str) else "(in-memory images)")
        n, bs = x.shape[0], tcfg.batch_size
        if n < bs * world:
            raise fail("batch_size", f"<= the number of training images per process ({n // world})", bs)
        self.x, self.n, self.steps_per_epoch = x, n, n // (bs * world)
        self.classes, self.source = classes, source
        self.data_arg = data if isinstance(data, str) else source

        torch.manual_seed(seed)
        G, D, self.optG, self.optD = _build(config, tcfg, device)
        self.G, self.D = G, D
        # data order: same on every rank; noise: one stream per rank
        self.order_gen = torch.Generator().manual_seed(seed)
        self.noise_gen = torch.Generator().manual_seed(seed * 1000 + 1 + rank)
        self.fixed_noise = torch.randn(tcfg.n_fixed, config.nz, 1, 1,
                                       generator=torch.Generator().manual_seed(seed + 12345))
        self.perm: torch.Tensor | None = None
        self.history: dict[str, list[float]] = {"step": [], "loss_d": [], "loss_g": [], "d_real": [], "d_fake": []}
        if ck is not None:
            G.load_state_dict(ck["models"]["G"])
            D.load_state_dict(ck["models"]["D"])
            self.optG.load_state_dict(ck["optimizers"]["G"])
            self.optD.load_state_dict(ck["optimizers"]["D"])
            gens = ck["rng"]["generators"]
            self.order_gen.set_state(gens["order"])
            noise = gens["noise"]
            self.noise_gen.set_state(noise[rank] if rank < len(noise) else noise[0])
            set_rng_state(ck["rng"]["global"])
            extra = ck["extra"]
            self.fixed_noise = extra["fixed_noise"]
            perm = extra.get("perm")
            self.perm = perm if perm is not None and perm.numel() and ck["batch_in_epoch"] else None
            self.history = {k: list(v) for k, v in extra.get("history", self.history).items()}
        # DiffAugment/ADA: its own random stream per rank (independent of the noise and the data order)
        self.aug = Augmenter(tcfg.augment, seed=seed * 1000 + 500 + rank) if tcfg.augment else None
        if self.aug is not None and self.aug.ada is not None:
            self.history.setdefault("ada_p", [])
        self.ema = EMA(G, tcfg.ema) if tcfg.ema is not None else None
        if ck is not None:
            extra = ck["extra"]
            if self.aug is not None:
                states = extra.get("augment")
                if not states:
                    raise fail("augment", "off to resume a run trained without augmentation", tcfg.augment)
                self.aug.load_state_dict(states[rank] if rank < len(states) else states[0])
            if self.ema is not None:
                if "G_ema" not in ck["models"] or not extra.get("ema"):
                    raise fail("ema", "off to resume a run trained without an EMA of G", tcfg.ema)
                self.ema.load_state_dict({**extra["ema"], "module": ck["models"]["G_ema"]})
        self.G_ddp, self.D_ddp = dist_.wrap_ddp(G, device), dist_.wrap_ddp(D, device)
        self.memfmt = torch.channels_last if tcfg.channels_last else torch.contiguous_format
        self.train_step = self._make_step()
        self.win_streak = 0
        self.sums: dict[str, float] = {}

    def set_hyperparameters(self, *, lr_g: float | None = None, lr_d: float | None = None,
                            loss: str | None = None) -> None:
        """Change the learning rates (each optimizer's groups) and the loss between steps (a live session)."""
        for opt, lr in ((self.optG, lr_g), (self.optD, lr_d)):
            if lr is not None:
                for group in opt.param_groups:
                    group["lr"] = float(lr)
        if loss is not None and loss != self.config.loss:
            self.config = self.config.replace(loss=check_option("loss", loss, LOSSES))
            self.train_step = self._make_step()  # same networks (DDP-wrapped), augmentation and compile

    def _make_step(self):
        return make_train_step(self.G_ddp, self.D_ddp, self.optG, self.optD, self.config.loss,
                               compile=self.tcfg.compile, D_plain=self.D, augment=self.aug, r1=self.tcfg.r1,
                               r1_every=self.tcfg.r1_every)

    def begin_epoch(self, epoch: int, first_batch: int) -> int:
        if self.perm is None or first_batch == 0:
            self.perm = torch.randperm(self.n, generator=self.order_gen)
        self.mine = self.perm[self.ctx.rank::self.ctx.world] if self.ctx.world > 1 else self.perm
        self.G.train()
        self.D.train()
        self.sums = {"loss_d": 0.0, "loss_g": 0.0, "d_real": 0.0, "d_fake": 0.0, "n": 0}
        return self.steps_per_epoch

    def step(self, epoch: int, batch: int, step: int) -> tuple[dict, int]:
        bs, tcfg = self.tcfg.batch_size, self.tcfg
        real = self.x[self.mine[batch * bs:(batch + 1) * bs]].to(self.ctx.device, non_blocking=True)
        if tcfg.channels_last:
            real = real.contiguous(memory_format=self.memfmt)
        z = torch.randn(bs, self.config.nz, 1, 1, generator=self.noise_gen).to(self.ctx.device)
        loss_d, loss_g, logit_real, logit_fake = self.train_step(real, z, step)
        if self.aug is not None:  # ADA: p follows D's logits on the (augmented) real images, the same on every rank
            self.aug.observe(logit_real, reduce=dist_.all_reduce_sum if self.ctx.world > 1 else None)
        if self.ema is not None:  # right after G's update
            self.ema.update(self.G)
        ld, lg = float(loss_d.detach()), float(loss_g.detach())
        dr, df = _d_outputs(logit_real, logit_fake)
        out = {"loss_d": ld, "loss_g": lg, "d_real": dr, "d_fake": df}
        if self.aug is not None and self.aug.ada is not None:
            out["ada_p"] = self.aug.p
        if all(map(math.isfinite, out.values())):
            self.win_streak = _d_win_streak(self.win_streak, dr, df, tcfg.d_win_eps)
            if self.win_streak >= tcfg.d_win_steps:
                raise TrainingError(
                    f"the discriminator won completely for {self.win_streak} steps (D(x)={dr:.3f}, D(G(z))={df:.4f}): "
                    "G gets no gradient and training has failed. Try --loss hinge, a smaller ndf or a new --seed")
            for k, v in out.items():
                self.sums[k] = self.sums.get(k, 0.0) + v
                self.history[k].append(v)
            self.history["step"].append(float(step))
            self.sums["n"] += 1
        return out, bs

    def end_epoch(self, epoch: int, completed: bool) -> EpochEnd:
        if completed:
            self.perm = None
        label = epoch + 1
        if self.ctx.main and self.tcfg.plots:
            G = self.G if self.ema is None else self.ema.module
            who = generator_label(None if self.ema is None else self.ema.decay)
            _epoch_pictures(self.ctx.run_dir, G, self.fixed_noise, self.history, label, self.ctx.device, who)
        m = _means(self.sums)
        steps = int(self.history["step"][-1]) if self.history["step"] else 0  # the step reached
        return EpochEnd(message=f"epoch {label}: step {steps} loss_d {m.get('loss_d', 0):.3f} "
                                f"loss_g {m.get('loss_g', 0):.3f} D(x) {m.get('d_real', 0):.2f} "
                                f"D(G(z)) {m.get('d_fake', 0):.2f}")

    def _gather(self, obj) -> list:
        """``obj`` of every rank (``[obj]`` without DDP)."""
        if self.ctx.world == 1:
            return [obj]
        gathered: list = [None] * self.ctx.world
        torch.distributed.all_gather_object(gathered, obj)
        return gathered

    def state(self) -> dict:
        # every rank's noise (and augmentation) stream, so that a resumed DDP run continues exactly
        noise_states = self._gather(self.noise_gen.get_state())
        models = {"G": dist_.unwrap(self.G).state_dict(), "D": dist_.unwrap(self.D).state_dict()}
        extra = {}
        if self.aug is not None:
            extra["augment"] = self._gather(self.aug.state_dict())
        if self.ema is not None:
            ema_state = self.ema.state_dict()
            models["G_ema"] = ema_state.pop("module")
            extra["ema"] = ema_state
        return {
            "models": models,
            "optimizers": {"G": self.optG.state_dict(), "D": self.optD.state_dict()},
            "schedulers": {},
            "generators": {"order": self.order_gen.get_state(), "noise": noise_states},
            "configs": {"model": self.config.to_dict(), "train": self.tcfg.to_dict()},
            "metrics": _means(self.sums),
            "extra": {"data": self.source, "data_arg": self.data_arg, "classes": self.classes or [], "seed": self.seed,
                      "fixed_noise": self.fixed_noise,
                      "perm": self.perm if self.perm is not None else torch.empty(0, dtype=torch.long),
                      "history": self.history, **extra},
        }

    def final_metrics(self) -> dict:
        return _means(self.sums)

    def run_info(self) -> dict:
        return {"model": self.config.to_dict(), "train": self.tcfg.to_dict(), "data": self.data_arg,
                "classes": self.classes, "seed": self.seed}

    def nonfinite_cause(self) -> str:
        return (f"the likely cause is the learning rate (lr={self.tcfg.lr:g}): lower it "
                "(the input images were checked and are finite)")

    def models(self) -> dict:
        out = {"G": self.G, "D": self.D}
        if self.ema is not None:
            out["G_ema"] = self.ema.module
        return out


def train_gan(
    config: DCGANConfig | None = None,
    data=None,
    out: str | os.PathLike = "runs/gan",
    *,
    preset: str | None = None,
    train: GANTrainConfig | None = None,
    resume: bool = False,
    overwrite: bool = False,
    dry_run: bool = False,
    seed: int | None = None,
    quiet: bool = False,
    progress: Callable | None = None,
    log: Callable[[str], None] | None = None,
) -> TrainRun:
    """Train a DCGAN and return the run (its folder, checkpoint, final metrics).

    Args:
        config: the architecture (default: the preset's, the saved run's on resume, or :class:`DCGANConfig`()).
        data: a source for :func:`convscope.data.load_dataset` ("digits", "mnist-5k",
            folders, npz) or a (N, C, S, S) tensor in [-1, 1]; default the preset's.
        out: the run folder (one run of one kind; see :class:`~convscope.train.engine.RunFolder`).
        preset: "quick" (bundled digits, 16x16, about a minute) or "mnist" (mnist-5k, 32x32).
        train: how to train (default: the preset's, the saved run's on resume, or :class:`GANTrainConfig`()).
        resume: continue from the newest checkpoint in ``out``; a given ``config``, ``train``
            (except :data:`RESUME_MAY_CHANGE`), ``seed`` or data name must match the saved run's.
        overwrite: move a run already in ``out`` aside and start anew.
        dry_run: one step, in a temporary folder (nothing kept).
        seed: seeds the weights, the noise and the data order (default 0, or the saved run's).
        quiet, progress, log: see :func:`~convscope.train.engine.run_training`.

    Returns:
        :class:`~convscope.train.engine.TrainRun`; ``metrics`` holds the last epoch's means
        (loss_d, loss_g, d_real, d_fake). An interrupt (Ctrl-C, SIGTERM) saves and
        returns with ``stopped == "interrupted"``.

    Raises:
        TrainingError: on a non-finite loss, or when D wins completely for
            ``d_win_steps`` steps; the last good checkpoint is kept.
    """
    config, tcfg, data = _merge_preset(preset, config, train, data)
    device = (tcfg or GANTrainConfig()).device
    return run_training(CHECKPOINT_KIND, lambda ck, ctx: GANPlugin(config, tcfg, data, seed, ck, ctx), out,
                        device=device, resume=resume, overwrite=overwrite, dry_run=dry_run, quiet=quiet, log=log,
                        progress=progress)


def make_train_step(G, D, optG, optD, loss: str = "bce", *, compile: bool = False, D_plain=None,
                    augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
                    r1: float | None = None, r1_every: int = 1) -> Callable:
    """One alternating DCGAN update as a function ``step(real, z) -> (loss_d, loss_g, logit_real, logit_fake)``.

    1. D step: ``d_loss(D(x), D(G(z).detach()))``; Adam on D.
    2. G step: ``g_loss(D(G(z)))`` on the same G(z); D's parameters are frozen for this
       backward (pytorch/examples computes their gradients and throws them away).

    ``augment`` (e.g. an :class:`~convscope.models.augment.Augmenter`) transforms every
    image D sees: ``T(G(z))`` then ``T(x)`` are drawn once per step (in that order) and
    used in both steps, so ``D(T(G(z)))`` in the G step passes its gradient through
    ``T`` to G; the logits returned are those of the augmented images. ``D_plain`` is
    D without a DDP wrapper (used for the G step so no gradient sync is triggered for
    frozen weights); ``compile`` wraps the networks (not the augmentation) in ``torch.compile``.

    ``r1`` (gamma) adds Mescheder et al.'s R1 penalty to D's loss,
    ``gamma / 2 * E[||grad_x D(x)||^2]`` on the (augmented) real images: D is kept
    from growing steep around the training images, the regulariser StyleGAN2 and
    ADA train with. ``r1_every = k`` is StyleGAN2's lazy regularisation: the
    penalty, times ``k``, only in the D steps whose number (``step(..., index=)``,
    1-based; every step when not given) is a multiple of ``k``; the double
    backward then costs a ``k``-th as much.
    """
    d_loss_fn, g_loss_fn = get_loss(loss)
    D_plain = D if D_plain is None else D_plain
    G_f, D_f, D_g = (torch.compile(G), torch.compile(D), torch.compile(D_plain)) if compile else (G, D, D_plain)

    def step(real: torch.Tensor, z: torch.Tensor, index: int | None = None):
        penalise = bool(r1) and (r1_every == 1 or index is None or index % r1_every == 0)
        # --- D step: real up, fake down
        fake = G_f(z)
        if augment is not None:  # the same order of random draws every step: fake, then real
            fake = augment(fake)
            real = augment(real)
        optD.zero_grad(set_to_none=True)
        if penalise:
            real = real.detach().requires_grad_(True)
        logit_real = D_f(real)
        logit_fake = D_f(fake.detach())
        loss_d = d_loss_fn(logit_real, logit_fake)
        if penalise:
            (grad,) = torch.autograd.grad(logit_real.sum(), real, create_graph=True)
            (loss_d + 0.5 * r1 * r1_every * grad.square().sum(dim=(1, 2, 3)).mean()).backward()
        else:
            loss_d.backward()
        optD.step()
        # --- G step: fool the (frozen) D
        D_plain.requires_grad_(False)
        optG.zero_grad(set_to_none=True)
        loss_g = g_loss_fn(D_g(fake))
        loss_g.backward()
        optG.step()
        D_plain.requires_grad_(True)
        return loss_d, loss_g, logit_real, logit_fake

    return step


def _d_outputs(logit_real: torch.Tensor, logit_fake: torch.Tensor) -> tuple[float, float]:
    """Batch means of D(x) and D(G(z)) as probabilities (sigmoid of the logits)."""
    return float(torch.sigmoid(logit_real.detach()).mean()), float(torch.sigmoid(logit_fake.detach()).mean())


def _d_win_streak(streak: int, d_real: float, d_fake: float, eps: float) -> int:
    """Consecutive steps in which D wins completely: D(x) > 1 - eps and D(G(z)) < eps.

    >>> s = 0
    >>> for dr, df in [(0.999, 0.001), (0.999, 0.002), (0.9, 0.2), (0.995, 0.0)]:
    ...     s = _d_win_streak(s, dr, df, 0.01)
    >>> s
    1
    """
    return streak + 1 if (d_real > 1 - eps and d_fake < eps) else 0


def _means(sums: dict) -> dict:
    n = sums.get("n", 0)
    return {k: v / n for k, v in sums.items() if k != "n"} if n else {}


@torch.no_grad()
def _epoch_pictures(run_dir: Path, G, fixed_noise, history, epoch: int, device, who: str = "G") -> None:
    from ..viz.gan import save_curves, save_grid

    was = G.training
    G.eval()
    imgs = G(fixed_noise.to(device)).float().cpu()
    G.train(was)
    title = f"epoch {epoch}" + ("" if who == "G" else f" ({who})")
    save_grid(imgs, run_dir / "samples" / f"epoch_{epoch:03d}.png", title=title)
    with contextlib.suppress(ValueError):
        save_curves(history, run_dir / "curves.png")

"""Training a DCGAN: exact resume, Ctrl-C saves, failure detection, DDP, per-epoch pictures.

One step is the paper's alternating update (pytorch/examples' loop):

1. D step: ``d_loss(D(x), D(G(z).detach()))``, Adam on D;
2. G step: ``g_loss(D(G(z)))`` on the same ``G(z)``, Adam on G. D's weights are
   frozen for this backward pass (their gradients would be thrown away).

A run directory holds ``checkpoints/ckpt-<step>.pt`` (G, D, both optimisers,
the noise generator's state, the global RNG states, the fixed noise, the
configs, the step, the epoch, the epoch's permutation and the batch reached),
``metrics.jsonl`` and ``metrics.csv``, ``samples/epoch_NNN.png`` (the same
fixed noise every epoch), ``curves.png`` (losses, D(x), D(G(z))) and
``run.json`` (configs, data source, final metrics).

``train_gan(preset="quick")`` trains on the bundled digits in about a minute.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._checks import ArgumentError, check_option, fail
from .._config import ConfigMixin
from .._io import atomic_write_text
from ..models.dcgan import DCGANConfig, Discriminator, Generator, get_loss, make_optimizers

__all__ = [
    "PRESETS",
    "GANRun",
    "GANTrainConfig",
    "GANTrainingError",
    "generate",
    "load_data",
    "load_discriminator",
    "load_generator",
    "make_train_step",
    "train_gan",
]


class GANTrainingError(RuntimeError):
    """Training stopped because it failed (non-finite loss, D winning completely)."""


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

    def __post_init__(self):
        for name in ("epochs", "batch_size", "n_fixed", "d_win_steps", "keep_last"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise fail(name, "a positive int", v)
        if self.max_steps is not None and self.max_steps < 1:
            raise fail("max_steps", "a positive int or None", self.max_steps)
        if not (self.lr > 0):
            raise fail("lr", "> 0", self.lr)

# The tour's quick run, and the real one. Each preset: data source, model and training overrides.
PRESETS: dict[str, dict[str, Any]] = {
    "quick": {
        "data": "digits",
        "model": {"image_size": 16, "nz": 32, "ngf": 32, "ndf": 32},
        "train": {"epochs": 60, "batch_size": 64, "n_fixed": 64, "time_limit_s": 90},
    },
    "mnist": {
        "data": "mnist-5k",
        "model": {"image_size": 32, "nz": 64, "ngf": 32, "ndf": 32},
        "train": {"epochs": 190, "batch_size": 64, "n_fixed": 64, "time_limit_s": 15 * 60},
    },
}


@dataclass
class GANRun:
    """What :func:`train_gan` returns."""

    run_dir: Path
    checkpoint: Path | None
    step: int
    epoch: int
    stopped: str  # "done" | "max_steps" | "time_limit" | "interrupted"
    metrics: dict = field(default_factory=dict)
    images_per_s: float = 0.0


# ---------------------------------------------------------------- data


def load_data(data, *, image_size: int, channels: int | None = None, split: str = "train",
              seed: int = 0) -> tuple[torch.Tensor, torch.Tensor | None, list[str] | None, str]:
    """Images (N, C, S, S) in [-1, 1], labels or None, class names or None, a source label.

    ``data`` is anything :func:`convscope.data.load_dataset` takes, or a tensor/array
    of images already in [-1, 1] (then ``split`` is ignored).
    """
    if isinstance(data, torch.Tensor | np.ndarray):
        x = torch.as_tensor(np.asarray(data) if isinstance(data, np.ndarray) else data).float()
        if x.ndim == 3:
            x = x[:, None]
        if x.ndim != 4 or x.shape[-1] != image_size or x.shape[-2] != image_size:
            raise fail("data", f"images (N, C, {image_size}, {image_size})", x)
        return x, None, None, "tensor"
    from ..data import load_dataset

    ds = load_dataset(data, split=split, image_size=image_size, channels=channels, normalize="gan", seed=seed)
    x, y = ds.tensors()
    return x.float().contiguous(), y, list(ds.classes), str(ds.source)


# ---------------------------------------------------------------- checkpoint <-> models


def _build(model_cfg: DCGANConfig, tcfg: GANTrainConfig, device: torch.device):
    G, D = Generator(model_cfg).to(device), Discriminator(model_cfg).to(device)
    if tcfg.channels_last:
        G = G.to(memory_format=torch.channels_last)
        D = D.to(memory_format=torch.channels_last)
    optG, optD = make_optimizers(G, D, lr=tcfg.lr, betas=(tcfg.beta1, tcfg.beta2), fused=tcfg.fused_adam)
    return G, D, optG, optD


def _resolve_checkpoint(path: str | os.PathLike) -> Path:
    """A run directory, its checkpoints folder, or a checkpoint file -> the newest checkpoint file."""
    from .checkpoint import CheckpointManager

    p = Path(path)
    if p.is_file():
        return p
    for d in (p / "checkpoints", p):
        latest = CheckpointManager(d).latest_path() if d.is_dir() else None
        if latest is not None:
            return latest
    raise ArgumentError(f"checkpoint must be a GAN run folder or checkpoint file, got {str(path)!r} (no checkpoint found)")


def load_generator(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[Generator, dict]:
    """The generator of a run (folder or checkpoint file), in eval mode, and the checkpoint's metadata.

    Metadata: ``model_config`` (a :class:`DCGANConfig`), ``fixed_noise``, ``step``, ``epoch``,
    ``data``, ``classes``, ``path``; ``discriminator`` is built on demand with
    :func:`load_discriminator`.
    """
    from .checkpoint import load_checkpoint

    file = _resolve_checkpoint(path)
    ck = load_checkpoint(file, map_location="cpu")
    if ck.get("kind") != "convscope-dcgan":
        raise ArgumentError(f"checkpoint must be a convscope DCGAN checkpoint, got {str(file)!r} (kind {ck.get('kind')!r})")
    cfg = DCGANConfig.from_dict(ck["model_config"])
    G = Generator(cfg)
    G.load_state_dict(ck["G"])
    G.to(device).eval()
    meta = {k: ck.get(k) for k in ("fixed_noise", "step", "epoch", "data", "classes", "train_config")}
    meta.update(model_config=cfg, path=file, D=ck["D"])
    return G, meta


def load_discriminator(meta: dict, device: str | torch.device = "cpu") -> Discriminator:
    D = Discriminator(meta["model_config"])
    D.load_state_dict(meta["D"])
    return D.to(device).eval()


# ---------------------------------------------------------------- the loop


class _Interrupt:
    """SIGINT sets a flag; the loop saves after the current step and stops."""

    def __init__(self):
        self.hit = False
        self._old = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._old = signal.getsignal(signal.SIGINT)

            def handler(signum, frame):
                if self.hit:  # second Ctrl-C: give up at once
                    raise KeyboardInterrupt
                self.hit = True

            signal.signal(signal.SIGINT, handler)
        return self

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


def _device(name: str) -> torch.device:
    name = check_option("device", name, ("cpu", "cuda", "auto"))
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def _merge_preset(preset, config, train, data):
    if preset is None:
        return config or DCGANConfig(), train or GANTrainConfig(), data
    p = PRESETS[check_option("preset", preset, tuple(PRESETS))]
    cfg = config or DCGANConfig(**p["model"])
    tcfg = train or GANTrainConfig(**p["train"])
    return cfg, tcfg, data if data is not None else p["data"]


# settings that may differ on --resume; the rest (batch size, lr, ...) come from the checkpoint
_RESUME_MAY_CHANGE = ("epochs", "max_steps", "time_limit_s", "plots", "device", "d_win_steps", "d_win_eps",
                      "channels_last", "fused_adam", "compile", "keep_last")


def train_gan(
    config: DCGANConfig | None = None,
    data=None,
    out: str | os.PathLike = "runs/gan",
    *,
    preset: str | None = None,
    train: GANTrainConfig | None = None,
    resume: bool = False,
    seed: int = 0,
    progress: Callable | None = None,
    log: Callable[[str], None] | None = None,
) -> GANRun:
    """Train a DCGAN and return the run (its folder, checkpoint, final metrics).

    Args:
        config: the architecture (default: the preset's, or :class:`DCGANConfig`()).
        data: a source for :func:`convscope.data.load_dataset` ("digits", "mnist-5k",
            folders, npz) or a (N, C, S, S) tensor in [-1, 1]; default the preset's.
        out: the run folder.
        preset: "quick" (bundled digits, 16x16, about a minute) or "mnist" (mnist-5k, 32x32).
        train: how to train (default: the preset's, or :class:`GANTrainConfig`()).
        resume: continue from the newest checkpoint in ``out``; the saved configs are used
            and a differing ``config`` is refused.
        seed: seeds the weights, the noise and the data order.
        progress: ``progress(iterable, total=, desc=)`` -> iterable (e.g. tqdm); default none.
        log: called with one-line messages (default silent).

    Returns:
        :class:`GANRun`; ``metrics`` holds the last epoch's means (loss_d, loss_g, d_real, d_fake).

    Raises:
        GANTrainingError: on a non-finite loss, or when D wins completely for
            ``d_win_steps`` steps; the last good checkpoint is kept.
    """
    from . import distributed as dist_
    from .checkpoint import (
        CheckpointManager,
        config_diff,
        load_checkpoint,
        rng_state,
        set_rng_state,
    )
    from .logging import MetricLogger

    config_given = config
    config, tcfg, data = _merge_preset(preset, config, train, data)
    if data is None:
        data = "digits"
    say = log or (lambda _msg: None)
    run_dir = Path(out)
    ckdir = run_dir / "checkpoints"
    info = dist_.setup_distributed(device=None if tcfg.device == "auto" else tcfg.device)
    main = dist_.is_main_process()
    world, rank = dist_.world_size(), dist_.rank()
    device = info.device if info.backend is not None else _device(tcfg.device)

    manager = CheckpointManager(ckdir, keep_last=tcfg.keep_last)
    ck = None
    if resume:
        latest = manager.latest_path()
        if latest is None:
            say(f"no checkpoint in {ckdir}: starting a new run")
        else:
            ck = load_checkpoint(latest, map_location="cpu")
            saved = DCGANConfig.from_dict(ck["model_config"])
            if config_given is not None and config_given != saved:
                diffs = config_diff(saved.to_dict(), config_given.to_dict())
                raise ArgumentError(f"config must match the checkpoint's to resume, got changes: {'; '.join(diffs)}")
            config = saved
            # training settings may change on resume (more epochs, time limit), the rest must not
            saved_t = GANTrainConfig.from_dict(ck["train_config"])
            tcfg = dataclasses.replace(saved_t, **{k: getattr(tcfg, k) for k in _RESUME_MAY_CHANGE})
            data = ck.get("data_arg", data) if isinstance(data, str) or data is None else data
            seed = int(ck.get("seed", seed))  # the run keeps its seed (weights and streams come from the checkpoint)
            say(f"resuming from {latest} (step {ck['step']}, epoch {ck['epoch']})")

    x, _y, classes, source = load_data(data, image_size=config.image_size,
                                       channels=config.channels, seed=0)
    if x.shape[1] != config.channels:
        raise fail("config.channels", f"the data's channel count {x.shape[1]}", config.channels)
    n = x.shape[0]
    bs = tcfg.batch_size
    if n < bs * world:
        raise fail("batch_size", f"<= the number of training images per process ({n // world})", bs)
    steps_per_epoch = n // (bs * world)

    torch.manual_seed(seed)
    G, D, optG, optD = _build(config, tcfg, device)
    G_ddp, D_ddp = dist_.wrap_ddp(G, device), dist_.wrap_ddp(D, device)
    # data order: same on every rank; noise: one stream per rank
    order_gen = torch.Generator().manual_seed(seed)
    noise_gen = torch.Generator().manual_seed(seed * 1000 + 1 + rank)
    fixed_noise = torch.randn(tcfg.n_fixed, config.nz, 1, 1, generator=torch.Generator().manual_seed(seed + 12345))
    step, epoch, batch_in_epoch, perm = 0, 0, 0, None
    history: dict[str, list[float]] = {"step": [], "loss_d": [], "loss_g": [], "d_real": [], "d_fake": []}
    if ck is not None:
        G.load_state_dict(ck["G"])
        D.load_state_dict(ck["D"])
        optG.load_state_dict(ck["optG"])
        optD.load_state_dict(ck["optD"])
        order_gen.set_state(ck["order_gen"])
        noise_gen.set_state(ck["noise_gen"][rank] if rank < len(ck["noise_gen"]) else ck["noise_gen"][0])
        set_rng_state(ck["rng"])
        fixed_noise = ck["fixed_noise"]
        step, epoch, batch_in_epoch = int(ck["step"]), int(ck["epoch"]), int(ck["batch_in_epoch"])
        perm = ck["perm"] if ck["perm"].numel() else None
        history = {k: list(v) for k, v in ck["history"].items()}

    memfmt = torch.channels_last if tcfg.channels_last else torch.contiguous_format
    train_step = make_train_step(G_ddp, D_ddp, optG, optD, config.loss, compile=tcfg.compile, D_plain=D)

    logger = MetricLogger(run_dir, enabled=main, tensorboard=False)
    if ck is not None:
        logger.truncate_after(step)
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        _write_run_json(run_dir, config, tcfg, data, source, classes, seed, None)

    def state() -> dict:
        noise_states = [noise_gen.get_state()]
        if world > 1:  # every rank's noise stream, so that a resumed DDP run continues exactly
            gathered: list = [None] * world
            torch.distributed.all_gather_object(gathered, noise_states[0])
            noise_states = gathered
        return {
            "kind": "convscope-dcgan", "version": 1,
            "model_config": config.to_dict(), "train_config": tcfg.to_dict(),
            "data": source, "data_arg": data if isinstance(data, str) else source,
            "classes": classes or [], "seed": seed,
            "G": dist_.unwrap(G).state_dict(), "D": dist_.unwrap(D).state_dict(),
            "optG": optG.state_dict(), "optD": optD.state_dict(),
            "order_gen": order_gen.get_state(), "noise_gen": noise_states, "rng": rng_state(),
            "fixed_noise": fixed_noise, "step": step, "epoch": epoch, "batch_in_epoch": batch_in_epoch,
            "perm": perm if perm is not None else torch.empty(0, dtype=torch.long),
            "history": history,
        }

    def save() -> Path | None:
        st = state()  # every rank joins the gather
        if not main:
            return None
        return manager.save(st, step)

    last_ckpt = manager.latest_path()
    win_streak = 0
    stopped = "done"
    t_start = time.perf_counter()
    images_done = 0
    train_time = 0.0
    epoch_sums: dict[str, float] = {}
    bar_factory = progress if (progress is not None and main) else None
    with _Interrupt() as intr:
        while epoch < tcfg.epochs:
            if perm is None:
                perm = torch.randperm(n, generator=order_gen)
                batch_in_epoch = 0
            my = perm[rank::world] if world > 1 else perm
            G.train()
            D.train()
            epoch_sums = {"loss_d": 0.0, "loss_g": 0.0, "d_real": 0.0, "d_fake": 0.0, "n": 0}
            rng = range(batch_in_epoch, steps_per_epoch)
            it = bar_factory(rng, total=steps_per_epoch, initial=batch_in_epoch, desc=f"epoch {epoch + 1}/{tcfg.epochs}") if bar_factory else rng
            for b in it:
                t0 = time.perf_counter()
                real = x[my[b * bs:(b + 1) * bs]].to(device, non_blocking=True)
                if tcfg.channels_last:
                    real = real.contiguous(memory_format=memfmt)
                z = torch.randn(bs, config.nz, 1, 1, generator=noise_gen).to(device)
                loss_d, loss_g, logit_real, logit_fake = train_step(real, z)
                train_time += time.perf_counter() - t0
                images_done += bs * world

                ld, lg = float(loss_d.detach()), float(loss_g.detach())
                dr, df = _d_outputs(logit_real, logit_fake)
                if not (math.isfinite(ld) and math.isfinite(lg)):
                    msg = (f"training diverged at step {step + 1} (epoch {epoch + 1}): loss_d={ld}, loss_g={lg} "
                           f"are not finite; kept the last good checkpoint {last_ckpt}")
                    _fail(run_dir, main, msg, logger)
                win_streak = _d_win_streak(win_streak, dr, df, tcfg.d_win_eps)
                if win_streak >= tcfg.d_win_steps:
                    msg = (f"the discriminator won completely for {win_streak} steps (D(x)={dr:.3f}, "
                           f"D(G(z))={df:.4f}) at step {step + 1}: G gets no gradient and training has failed; "
                           f"kept the last good checkpoint {last_ckpt}. Try --loss hinge, a smaller ndf or a new --seed")
                    _fail(run_dir, main, msg, logger)
                step += 1
                batch_in_epoch = b + 1
                for k, v in (("loss_d", ld), ("loss_g", lg), ("d_real", dr), ("d_fake", df)):
                    epoch_sums[k] += v
                    history[k].append(v)
                history["step"].append(float(step))
                epoch_sums["n"] += 1
                logger.log(step, epoch=epoch + 1, loss_d=ld, loss_g=lg, d_real=dr, d_fake=df)
                if hasattr(it, "set_postfix") and step % 10 == 0:
                    it.set_postfix(loss_d=f"{ld:.3f}", loss_g=f"{lg:.3f}", Dx=f"{dr:.2f}", DGz=f"{df:.2f}")
                if intr.hit:
                    stopped = "interrupted"
                    break
                if tcfg.max_steps is not None and step >= tcfg.max_steps:
                    stopped = "max_steps"
                    break
                if tcfg.time_limit_s is not None and time.perf_counter() - t_start >= tcfg.time_limit_s:
                    stopped = "time_limit"
                    break
            if hasattr(it, "close"):
                it.close()
            if stopped == "done":  # epoch completed
                epoch += 1
                perm, batch_in_epoch = None, 0
            if main and tcfg.plots:
                _epoch_pictures(run_dir, G, fixed_noise, history, epoch if stopped == "done" else epoch + 1, device)
            last_ckpt = save() or last_ckpt
            if main:
                m = _means(epoch_sums)
                say(f"epoch {epoch if stopped == 'done' else epoch + 1}: step {step} loss_d {m.get('loss_d', 0):.3f} "
                    f"loss_g {m.get('loss_g', 0):.3f} D(x) {m.get('d_real', 0):.2f} D(G(z)) {m.get('d_fake', 0):.2f}")
            if stopped != "done":
                break
    ips = images_done / train_time if train_time > 0 else 0.0
    metrics = {**_means(epoch_sums), "images_per_s": ips, "train_time_s": train_time}
    if main:
        _write_run_json(run_dir, config, tcfg, data, source, classes, seed,
                        {"step": step, "epoch": epoch, "stopped": stopped, **metrics})
    logger.close()
    dist_.barrier()
    return GANRun(run_dir=run_dir, checkpoint=last_ckpt, step=step, epoch=epoch, stopped=stopped,
                  metrics=metrics, images_per_s=ips)


def make_train_step(G, D, optG, optD, loss: str = "bce", *, compile: bool = False, D_plain=None) -> Callable:
    """One alternating DCGAN update as a function ``step(real, z) -> (loss_d, loss_g, logit_real, logit_fake)``.

    1. D step: ``d_loss(D(x), D(G(z).detach()))``; Adam on D.
    2. G step: ``g_loss(D(G(z)))`` on the same G(z); D's parameters are frozen for this
       backward (pytorch/examples computes their gradients and throws them away).

    ``D_plain`` is D without a DDP wrapper (used for the G step so no gradient sync is
    triggered for frozen weights); ``compile`` wraps the networks in ``torch.compile``.
    """
    d_loss_fn, g_loss_fn = get_loss(loss)
    D_plain = D if D_plain is None else D_plain
    G_f, D_f, D_g = (torch.compile(G), torch.compile(D), torch.compile(D_plain)) if compile else (G, D, D_plain)

    def step(real: torch.Tensor, z: torch.Tensor):
        # --- D step: real up, fake down
        fake = G_f(z)
        optD.zero_grad(set_to_none=True)
        logit_real = D_f(real)
        logit_fake = D_f(fake.detach())
        loss_d = d_loss_fn(logit_real, logit_fake)
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


def _fail(run_dir: Path, main: bool, msg: str, logger) -> None:
    if main:
        atomic_write_text(run_dir / "failure.txt", msg + "\n")
    logger.close()
    raise GANTrainingError(msg)


def _write_run_json(run_dir, config, tcfg, data, source, classes, seed, final) -> None:
    d = {"model_config": config.to_dict(), "train_config": tcfg.to_dict(),
         "data": data if isinstance(data, str) else source, "classes": classes, "seed": seed, "final": final}
    atomic_write_text(run_dir / "run.json", json.dumps(d, indent=2, default=str) + "\n")


@torch.no_grad()
def _epoch_pictures(run_dir: Path, G, fixed_noise, history, epoch: int, device) -> None:
    from ..viz.gan import save_curves, save_grid

    was = G.training
    G.eval()
    imgs = G(fixed_noise.to(device)).float().cpu()
    G.train(was)
    save_grid(imgs, run_dir / "samples" / f"epoch_{epoch:03d}.png", title=f"epoch {epoch}")
    with contextlib.suppress(ValueError):
        save_curves(history, run_dir / "curves.png")


@torch.no_grad()
def generate(G: Generator, n: int, *, seed: int = 0, batch_size: int = 500, z: torch.Tensor | None = None,
             device: str | torch.device = "cpu") -> torch.Tensor:
    """``n`` images from ``G`` (eval mode) with seeded noise (or the given ``z``), in [-1, 1], on the CPU."""
    G.eval()
    if z is None:
        z = torch.randn(n, G.config.nz, 1, 1, generator=torch.Generator().manual_seed(seed))
    out = [G(z[i:i + batch_size].to(device)).float().cpu() for i in range(0, z.shape[0], batch_size)]
    return torch.cat(out) if out else torch.empty(0, G.config.channels, G.config.image_size, G.config.image_size)

"""Training a CNN classifier: the classifier's steps, plugged into :mod:`.engine`.

:func:`train_classifier` trains on in-memory batches shuffled per
``(seed, epoch)``, with optional random-affine augmentation and per-epoch
evaluation on the ``val`` split. The engine writes the run folder: metrics to
JSONL/CSV (and TensorBoard when installed), a checkpoint after every epoch
(last ``keep_last`` plus the best by validation loss: on a few hundred
validation images accuracy moves in steps of one image and picks noise, the
loss does not) and one more when interrupted (SIGINT or SIGTERM). Under
``torchrun`` it trains with DDP; only rank 0 writes files or shows progress.

Resume (``resume=True``) continues from the newest checkpoint; on the CPU,
2 epochs then 2 resumed epochs give bit-identical weights to 4 straight
epochs (also after an interrupt mid-epoch). Resuming with a different
architecture or data/optimisation setting is refused with the list of
differences; only ``epochs``, ``keep_last`` and ``device`` may change
(cosine and one-cycle schedules then continue as if planned over the new ``epochs``).

**The defaults are the measured recipe** (benchmarks/classify_recipe.py's
``reference``): AdamW (lr 3e-3 at the one-cycle peak, weight decay 5e-4), the
one-cycle schedule stepped every batch, label smoothing 0.05, the random affine,
30 epochs of batches of 64; with the CLI's LeNet of 32/64 channels, FC 256 and
batch norm. :func:`train_final_classifier` (``classify train --final``) picks
the epoch count on the validation split, then trains on every non-test image.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from .._checkpoint import set_rng_state
from .._checks import ArgumentError, check_float, check_int, check_option, fail
from .._config import ConfigMixin
from ..data import load_dataset
from ..data import transforms as T
from ..metrics.classification import evaluate_classifier
from ..models.cnn import CNN, CNNConfig
from . import distributed as D
from .engine import (
    Context,
    EpochEnd,
    Plugin,
    RunFolder,
    TrainRun,
    check_finite_images,
    check_resume,
    run_training,
)
from .loop import epoch_batches, set_seed

__all__ = [
    "TrainConfig",
    "RESUMABLE_CHANGES",
    "SELECTION_DIR",
    "FINAL_ENSEMBLE",
    "choose_epochs",
    "recipe_model",
    "select_epochs",
    "train_classifier",
    "train_final_classifier",
    "train_ensemble",
    "augment_batch",
    "CHECKPOINT_KIND",
]

CHECKPOINT_KIND = "classifier"
# the recipe network (benchmarks/classify_recipe.py "reference", RESULTS.md classify-recipe): LeNet + batch norm with wider
# convolutions and one hidden layer; CNNConfig's own defaults stay LeNet-5's 6/16, FC 120/84
RECIPE_CONV_CHANNELS = (32, 64)
RECIPE_FC_UNITS = (256,)


def recipe_model(**overrides) -> CNNConfig:
    """The recipe's network as a :class:`~convscope.models.cnn.CNNConfig` (``classify train``'s default model).

    ``overrides`` are CNNConfig fields. For LeNet without an explicit ``width``,
    ``conv_channels`` and ``fc_units`` default to the recipe's 32/64 and 256;
    any other architecture keeps its own widths.

    >>> recipe_model().conv_channels, recipe_model().fc_units, recipe_model(width=2.0).conv_channels
    ((32, 64), (256,), None)
    """
    m = dict(overrides)
    if m.get("arch", "lenet") == "lenet" and "width" not in m:
        m.setdefault("conv_channels", RECIPE_CONV_CHANNELS)
        m.setdefault("fc_units", RECIPE_FC_UNITS)
    return CNNConfig(**m)

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULERS = ("none", "step", "cosine", "onecycle")
# the defaults before the measured recipe: what a saved config that lacks these keys was trained with
LEGACY_DEFAULTS = {"epochs": 10, "optimizer": "adam", "lr": 2e-3, "weight_decay": 0.0, "scheduler": "step",
                   "label_smoothing": 0.0}
# the members ``classify train --final`` ships when --ensemble is not given (benchmarks/RESULTS.md, classify-cv)
FINAL_ENSEMBLE = 3
SELECTION_DIR = "selection"  # train_final_classifier's first pass, inside the final run's folder
# TrainConfig fields that may differ when resuming
RESUMABLE_CHANGES = ("epochs", "keep_last", "device")


@dataclass(frozen=True)
class TrainConfig(ConfigMixin):
    """How to train (saved in every checkpoint as a dict).

    ``scheduler="step"`` multiplies the learning rate by ``gamma`` every
    ``step_size`` epochs; ``"cosine"`` anneals to 0 over ``epochs`` (so
    extending ``epochs`` on resume re-targets it at the new last epoch;
    ``step`` and ``none`` do not depend on ``epochs``); ``"onecycle"``
    (torch's ``OneCycleLR``: warm-up over 30% of the steps to ``lr``, then
    cosine annealing to ``lr``/25e4, momentum cycled) is stepped every batch
    and planned over all ``epochs`` (re-planned, like cosine, when they change on resume).

    ``final=True`` trains on every non-test image: the ``val`` split (and, for a
    source without an official test split, the ``test`` split) are folded into
    training, so nothing is held out; ``val_fraction``/``test_fraction`` still
    describe the split the epoch count was chosen on. The defaults are the measured
    recipe (see the module docs); configs saved before keys were added load with
    the keys' defaults.
    """

    data: str = "mnist-5k"
    image_size: int | None = None
    channels: int | None = None
    pad: int = 0
    normalize: str = "standard"
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    split_seed: int = 0
    epochs: int = 30
    batch_size: int = 64
    optimizer: str = "adamw"
    lr: float = 3e-3
    momentum: float = 0.9
    weight_decay: float = 5e-4
    scheduler: str = "onecycle"
    step_size: int = 4
    gamma: float = 0.5
    augment: bool = True
    label_smoothing: float = 0.05
    seed: int = 0
    keep_last: int = 3
    device: str = "auto"
    final: bool = False

    def __post_init__(self):
        s = object.__setattr__
        s(self, "data", str(self.data))
        if self.image_size is not None:
            s(self, "image_size", check_int("image_size", self.image_size, min_value=1))
        if self.channels not in (None, 1, 3):
            raise fail("channels", "1, 3 or None", self.channels)
        s(self, "pad", check_int("pad", self.pad, min_value=0))
        s(self, "normalize", check_option("normalize", self.normalize, T.NORMALIZATIONS))
        s(self, "epochs", check_int("epochs", self.epochs, min_value=1))
        s(self, "batch_size", check_int("batch_size", self.batch_size, min_value=1))
        s(self, "optimizer", check_option("optimizer", self.optimizer, OPTIMIZERS))
        s(self, "lr", check_float("lr", self.lr, min_value=0.0, strict_min=True))
        s(self, "weight_decay", check_float("weight_decay", self.weight_decay, min_value=0.0))
        s(self, "scheduler", check_option("scheduler", self.scheduler, SCHEDULERS))
        s(self, "step_size", check_int("step_size", self.step_size, min_value=1))
        s(self, "gamma", check_float("gamma", self.gamma, min_value=0.0, max_value=1.0, strict_min=True))
        s(self, "label_smoothing", check_float("label_smoothing", self.label_smoothing, min_value=0.0, max_value=0.5))
        s(self, "seed", check_int("seed", self.seed, min_value=0))
        s(self, "keep_last", check_int("keep_last", self.keep_last, min_value=1))
        if not isinstance(self.final, bool):
            raise fail("final", "a bool", self.final, TypeError)

    @classmethod
    def from_saved(cls, d) -> TrainConfig:
        """A config read back from a checkpoint: keys it lacks take the values it was trained with
        (:data:`LEGACY_DEFAULTS` for those whose default changed, the default for keys added since)."""
        return cls.from_dict({**LEGACY_DEFAULTS, **dict(d)})

# ---------------------------------------------------------------- pieces


def augment_batch(x: torch.Tensor, *, rotate_deg: float = 10.0, scale: float = 0.1, shift: float = 0.1) -> torch.Tensor:
    """Random affine per image (rotation, scale, shift as a fraction of the half-size).

    Draws from torch's global RNG (checkpointed, so resume stays exact); the
    border is replicated so the background stays background after normalising.
    """
    B = x.shape[0]
    r = torch.rand(B, 4, device=x.device, dtype=x.dtype) * 2 - 1
    ang = r[:, 0] * (rotate_deg * math.pi / 180)
    sc = 1 + r[:, 1] * scale
    cos, sin = torch.cos(ang) / sc, torch.sin(ang) / sc
    theta = torch.stack([torch.stack([cos, -sin, r[:, 2] * shift], 1),
                         torch.stack([sin, cos, r[:, 3] * shift], 1)], 1)  # (B, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)  # (B, H, W, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _optimizer(params, tc: TrainConfig) -> torch.optim.Optimizer:
    if tc.optimizer == "sgd":
        return torch.optim.SGD(params, lr=tc.lr, momentum=tc.momentum, weight_decay=tc.weight_decay, nesterov=True)
    cls = torch.optim.AdamW if tc.optimizer == "adamw" else torch.optim.Adam
    return cls(params, lr=tc.lr, weight_decay=tc.weight_decay)


def _scheduler(opt, tc: TrainConfig, steps_per_epoch: int):
    if tc.scheduler == "onecycle":  # stepped every batch
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=tc.lr, total_steps=tc.epochs * max(steps_per_epoch, 1))
    if tc.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=tc.step_size, gamma=tc.gamma)
    if tc.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=tc.epochs)
    return None


def _replan_onecycle(sched, opt, tc: TrainConfig, total: int) -> None:
    """A resumed one-cycle run whose ``epochs`` changed continues as if planned this long (as cosine does):
    the same peak, the phases stretched to ``total`` steps, the learning rate and momentum of the step reached."""
    import warnings

    if sched.last_epoch >= total:  # already past the new end: nothing left to train
        return
    probe = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=tc.lr, momentum=0.9)
    sched.total_steps = total
    sched._schedule_phases = torch.optim.lr_scheduler.OneCycleLR(probe, max_lr=tc.lr,
                                                                 total_steps=total)._schedule_phases
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lrs = sched.get_lr()  # also sets the cycled momentum of each group
    for g, lr in zip(opt.param_groups, lrs):
        g["lr"] = lr
    sched._last_lr = list(lrs)


def load_data(tc: TrainConfig, split: str, *, normalize: str | bool | None = True):
    """``split`` of the training source as ``tc`` describes it; with ``tc.final`` nothing but an official
    test split is held out (``train`` is every other image, ``val`` is empty)."""
    held = (0.0, 0.0) if tc.final else (tc.val_fraction, tc.test_fraction)
    return load_dataset(tc.data, split=split, image_size=tc.image_size, channels=tc.channels,
                        normalize=tc.normalize if normalize is True else normalize, pad=tc.pad,
                        val_fraction=held[0], test_fraction=held[1], seed=tc.split_seed)


# ---------------------------------------------------------------- the classifier's half of the engine


class ClassifierPlugin(Plugin):
    """The classifier's steps: data, model, optimiser, scheduler; one batch; the epoch's validation."""

    kind = CHECKPOINT_KIND
    may_change = RESUMABLE_CHANGES

    def __init__(self, model_config: CNNConfig, tc: TrainConfig, ck: dict | None, ctx: Context,
                 selection: dict | None = None):
        self.tc, self.ctx, dev = tc, ctx, ctx.device
        self.selection = selection
        self.epochs, self.keep_last = tc.epochs, tc.keep_last
        set_seed(tc.seed + ctx.rank)
        ds_train, self.ds_val = load_data(tc, "train"), load_data(tc, "val")
        C, H, W = ds_train.image_shape
        if H != W:
            raise fail("image_size", "square images (pass image_size to resize)", (H, W))
        self.cfg = model_config.replace(in_channels=C, image_size=H, num_classes=len(ds_train.classes))
        self.data_meta = {**ds_train.meta(), "pad": tc.pad, "image_size": tc.image_size}
        if tc.final:  # what remains held out: only an official test split
            official_test = len(load_data(tc, "test", normalize=None)) > 0
            self.data_meta.update(final=True, n_train=len(ds_train), official_test=official_test)
        if ck is not None:
            saved = {"model": ck["configs"]["model"],
                     "train": TrainConfig.from_saved(ck["configs"]["train"]).to_dict()}
            check_resume(saved, {"model": self.cfg.to_dict(), "train": tc.to_dict()}, self.may_change,
                         path=ctx.resume_from)
        self.Xtr, self.Ytr = (t.to(dev) for t in ds_train.tensors())
        self.Xva, self.Yva = self.ds_val.tensors()
        if not bool(torch.isfinite(self.Xtr).all()):  # count the bad images before normalisation smeared them
            raw = load_data(tc, "train", normalize=None)
            check_finite_images(raw.tensors()[0], str(ds_train.source))
            check_finite_images(self.Xtr, str(ds_train.source))
        self.model = CNN(self.cfg).to(dev)
        self.opt = _optimizer(self.model.parameters(), tc)
        self.sampler = D.make_sampler(ds_train, shuffle=True, seed=tc.seed)
        per_rank = len(self.sampler) if self.sampler is not None else self.Xtr.shape[0]
        self.total_steps = tc.epochs * math.ceil(per_rank / tc.batch_size)
        self.sched = _scheduler(self.opt, tc, math.ceil(per_rank / tc.batch_size))
        self.sched_per_batch = tc.scheduler == "onecycle"
        self.sums = {"loss": 0.0, "correct": 0, "seen": 0}
        if ck is not None:
            self._load(ck)
        self.net = D.wrap_ddp(self.model, dev)
        self.loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=tc.label_smoothing)

    def _load(self, ck: dict) -> None:
        tc = self.tc
        self.model.load_state_dict(ck["models"]["model"])
        self.opt.load_state_dict(ck["optimizers"]["model"])
        if self.sched is not None and ck["schedulers"].get("model"):
            self.sched.load_state_dict(ck["schedulers"]["model"])
            if tc.scheduler == "cosine" and self.sched.T_max != tc.epochs:
                # extended (or shortened) run: continue as if it had been planned this long
                self.sched.T_max = tc.epochs
                for g, base in zip(self.opt.param_groups, self.sched.base_lrs):
                    g["lr"] = base * (1 + math.cos(math.pi * self.sched.last_epoch / tc.epochs)) / 2
                self.sched._last_lr = [g["lr"] for g in self.opt.param_groups]
            if tc.scheduler == "onecycle" and self.sched.total_steps != self.total_steps:
                _replan_onecycle(self.sched, self.opt, tc, self.total_steps)
        set_rng_state(ck["rng"]["global"])
        if self.ctx.rank:  # other ranks draw their own augmentation/dropout streams
            torch.manual_seed(tc.seed * 7919 + self.ctx.rank * 104729 + int(ck["step"]))
        self.sums = dict(ck["extra"].get("epoch_sums") or self.sums)

    def begin_epoch(self, epoch: int, first_batch: int) -> int:
        self.net.train()
        self.batches = epoch_batches(self.Xtr.shape[0], self.tc.batch_size, epoch=epoch, seed=self.tc.seed,
                                     sampler=self.sampler)
        if first_batch == 0:
            self.sums = {"loss": 0.0, "correct": 0, "seen": 0}
        self.t0, self.n_imgs = time.perf_counter(), 0
        return len(self.batches)

    def step(self, epoch: int, batch: int, step: int) -> tuple[dict, int]:
        idx = self.batches[batch].to(self.ctx.device)
        xb, yb = self.Xtr[idx], self.Ytr[idx]
        if self.tc.augment:
            xb = augment_batch(xb)
        logits = self.net(xb)
        loss = self.loss_fn(logits, yb)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        if self.sched_per_batch:
            self.sched.step()
        n = yb.shape[0]
        value = float(loss.detach())
        self.sums = {"loss": self.sums["loss"] + value * n,
                     "correct": self.sums["correct"] + int((logits.argmax(1) == yb).sum()),
                     "seen": self.sums["seen"] + n}
        self.n_imgs += n
        return {"loss": value}, n

    def finish(self, run_dir: Path, history: list[dict]) -> None:
        """``curves.png``: loss and accuracy per epoch, written by the trainer as the GAN's are."""
        from ..viz.curves import classifier_curves

        if history:
            classifier_curves(history, run_dir / "curves.png")

    def end_epoch(self, epoch: int, completed: bool) -> EpochEnd:
        tc, seen = self.tc, max(self.sums["seen"], 1)
        if self.ctx.dry_run:
            n = min(len(self.ds_val), 256)
            acc = evaluate_classifier(self.model, self.Xva[:n], self.Yva[:n])["accuracy"] if n else float("nan")
            return EpochEnd(message=f"dry run: one batch of {tc.batch_size}, loss {self.sums['loss'] / seen:.4f}, "
                                    f"val accuracy {acc:.3f} on {n} images; nothing kept")
        if not completed:
            return EpochEnd()
        train_time = time.perf_counter() - self.t0
        if self.sched is not None and not self.sched_per_batch:
            self.sched.step()
        # validation on rank 0; the numbers are shared so every rank agrees on "best"
        val = torch.tensor([math.nan, math.nan])
        if self.ctx.main and len(self.ds_val):
            ev = evaluate_classifier(self.model, self.Xva, self.Yva)
            val = torch.tensor([ev["loss"], ev["accuracy"]])
        if D.is_distributed():
            val = D.broadcast_object(val)
        m = self.metrics = {
            "epoch": epoch + 1,
            "train_loss": self.sums["loss"] / seen,
            "train_acc": self.sums["correct"] / seen,
            "val_loss": float(val[0]), "val_acc": float(val[1]), "val_n": len(self.Xva),
            "lr": self.opt.param_groups[0]["lr"],
            "images_per_s": self.n_imgs * self.ctx.world / max(train_time, 1e-9),
            "epoch_time_s": train_time,
        }
        if tc.final:  # nothing held out: no validation numbers to log
            del m["val_loss"], m["val_acc"], m["val_n"]
            msg = (f"epoch {epoch + 1}/{tc.epochs} (final, nothing held out): train loss {m['train_loss']:.4f} "
                   f"acc {m['train_acc']:.4f}, {m['images_per_s']:.0f} img/s")
            return EpochEnd(record=m, metric=None, message=msg)
        msg = (f"epoch {epoch + 1}/{tc.epochs}: train loss {m['train_loss']:.4f} acc {m['train_acc']:.4f}, "
               f"val loss {m['val_loss']:.4f} acc {m['val_acc']:.4f}, {m['images_per_s']:.0f} img/s")
        return EpochEnd(record=m, metric=None if math.isnan(m["val_loss"]) else m["val_loss"], message=msg)

    def state(self) -> dict:
        return {"models": {"model": self.model.state_dict()}, "optimizers": {"model": self.opt.state_dict()},
                "schedulers": {"model": self.sched.state_dict()} if self.sched is not None else {},
                "configs": {"model": self.cfg.to_dict(), "train": self.tc.to_dict()},
                "metrics": dict(getattr(self, "metrics", {})),
                "extra": {"data": self.data_meta, "epoch_sums": dict(self.sums), "held_out": not self.tc.final,
                          **({"selection": self.selection} if self.selection else {})}}

    def final_metrics(self) -> dict:
        return dict(getattr(self, "metrics", {}))

    def run_info(self) -> dict:
        info = {"model": self.cfg.to_dict(), "train": self.tc.to_dict(), "data": self.data_meta,
                "held_out": not self.tc.final}
        if self.selection:
            info["selection"] = self.selection
        return info

    def nonfinite_cause(self) -> str:
        return (f"the likely cause is the learning rate (lr={self.tc.lr:g}, {self.tc.optimizer}): lower it "
                "(the input images were checked and are finite)")

    def models(self) -> dict:
        return {"model": self.model}


# ---------------------------------------------------------------- the entry point


def train_classifier(
    model_config: CNNConfig,
    train_config: TrainConfig,
    out: str | Path,
    *,
    resume: bool = False,
    overwrite: bool = False,
    quiet: bool = False,
    dry_run: bool = False,
    log: Callable[[str], None] | None = None,
    progress: Callable | None = None,
) -> TrainRun:
    """Train a :class:`~convscope.models.CNN` and write its run folder ``out``.

    ``model_config``'s ``in_channels``, ``image_size`` and ``num_classes`` are
    taken from the data. ``resume`` continues the run in ``out`` (its settings
    must match, except :data:`RESUMABLE_CHANGES`); ``overwrite`` moves a run
    already there aside; ``dry_run`` trains one batch in a temporary folder.
    An interrupt (Ctrl-C, SIGTERM) saves a checkpoint and returns with
    ``stopped == "interrupted"``. Returns a :class:`~convscope.train.engine.TrainRun`
    (``.model`` is the trained network, ``.history`` the per-epoch records).
    """
    tc = train_config
    return run_training(CHECKPOINT_KIND, lambda ck, ctx: ClassifierPlugin(model_config, tc, ck, ctx), out,
                        device=tc.device, resume=resume, overwrite=overwrite, dry_run=dry_run, quiet=quiet,
                        log=log, progress=progress)


OVERFIT_Z = 2.0  # choose_epochs: how many binomial standard errors below its best the last epoch may read


def choose_epochs(history: list[dict], *, z: float = OVERFIT_Z) -> dict:
    """How many epochs ``--final`` trains, read from a selection run's per-epoch records.

    **The whole schedule, unless the validation accuracy clearly fell before its
    end**; then the epoch with the lowest validation loss (the earliest on ties).
    "Clearly" is ``z`` binomial standard errors of the best accuracy on the
    ``val_n`` validation images (at least one image): a few hundred images
    resolve one image, and a fall inside the noise is no evidence of overfitting.

    Why not simply the lowest validation loss: the recipe's one-cycle schedule
    anneals to its last epoch, and with label smoothing the loss bottoms out
    before the accuracy does. A 5-fold study of mnist-5k through this trainer
    (``benchmarks/classify_cv.py``, RESULTS.md ``classify-cv``) measured the
    lowest-loss rule at 20.9 of 30 epochs on average and 99.09% out-of-fold for
    one network, against 99.18% for the whole schedule.

    Returns ``{"epochs", "val_loss", "val_acc", "rule"}`` with the validation
    numbers of the chosen epoch; ``rule`` is ``"schedule"`` or ``"val-loss"``.

    >>> choose_epochs([{"epoch": 1, "val_loss": 0.3, "val_acc": 0.9, "val_n": 500},
    ...                {"epoch": 2, "val_loss": 0.35, "val_acc": 0.91, "val_n": 500}])
    {'epochs': 2, 'val_loss': 0.35, 'val_acc': 0.91, 'rule': 'schedule'}
    """
    z = check_float("z", z, min_value=0.0)
    rows = [h for h in history if "val_loss" in h and math.isfinite(float(h["val_loss"]))
            and math.isfinite(float(h.get("val_acc", math.nan)))]
    if not rows:
        raise ArgumentError("--final must choose the epoch count on a validation split, got no validation numbers "
                            "(val_fraction must be > 0)")
    rows = sorted(rows, key=lambda h: int(h["epoch"]))
    last, best_acc = rows[-1], max(float(h["val_acc"]) for h in rows)
    n = int(last.get("val_n") or 0)
    tol = max(z * math.sqrt(best_acc * (1 - best_acc) / n), 1 / n) if n > 0 else 0.0
    if float(last["val_acc"]) >= best_acc - tol - 1e-12:
        pick, rule = last, "schedule"
    else:
        pick, rule = min(rows, key=lambda h: (float(h["val_loss"]), int(h["epoch"]))), "val-loss"
    return {"epochs": int(pick["epoch"]), "val_loss": float(pick["val_loss"]), "val_acc": float(pick["val_acc"]),
            "rule": rule}


def _check_selectable(tc: TrainConfig) -> None:
    if tc.val_fraction <= 0:
        raise fail("val_fraction", "> 0 with --final (the epoch count is chosen on the val split)", tc.val_fraction)


def select_epochs(
    model_config: CNNConfig,
    train_config: TrainConfig,
    sel_dir: str | Path,
    *,
    resume: bool = False,
    quiet: bool = False,
    dry_run: bool = False,
    log: Callable[[str], None] | None = None,
    progress: Callable | None = None,
) -> tuple[TrainRun, dict | None]:
    """``--final``'s first pass: ``train_config`` (``final=False``) trains in ``sel_dir`` and
    :func:`choose_epochs` reads its validation history.

    Returns the run and ``{"epochs", "val_loss", "val_acc", "of_epochs", "run"}`` (None when the run
    stopped early; ``run`` is ``sel_dir``'s name, the folder beside the final model(s)).
    """
    sel_tc = train_config.replace(final=False)
    _check_selectable(sel_tc)
    sel = train_classifier(model_config, sel_tc, sel_dir, resume=resume, quiet=quiet, dry_run=dry_run,
                           log=log, progress=progress)
    if sel.stopped not in ("done", "dry_run"):
        return sel, None
    if dry_run:
        chosen = {"epochs": sel_tc.epochs, "val_loss": None, "val_acc": None, "rule": "schedule"}
    else:
        chosen = choose_epochs(sel.history)
    if not quiet and log is None and D.is_main_process():
        why = ("val accuracy held to the end" if chosen.get("rule") == "schedule"
               else "val accuracy fell, so the lowest val loss")
        print(f"--final: {chosen['epochs']} of {sel_tc.epochs} epochs chosen on the val split ({why}); training on "
              "every non-test image", file=sys.stderr, flush=True)
    return sel, {**chosen, "of_epochs": sel_tc.epochs, "run": Path(sel_dir).name}


def _train_chosen(model_config: CNNConfig, train_config: TrainConfig, out: Path, selection: dict, *, resume: bool,
                  quiet: bool, dry_run: bool, log, progress, keep=()) -> TrainRun:
    """``--final``'s second pass: the recipe with ``final=True`` and the chosen epochs, in ``out``."""
    fin_tc = train_config.replace(final=True, epochs=selection["epochs"])
    return run_training(CHECKPOINT_KIND, lambda ck, ctx: ClassifierPlugin(model_config, fin_tc, ck, ctx, selection),
                        out, device=fin_tc.device, resume=resume, dry_run=dry_run, quiet=quiet, log=log,
                        progress=progress, keep=keep)


def train_final_classifier(
    model_config: CNNConfig,
    train_config: TrainConfig,
    out: str | Path,
    *,
    resume: bool = False,
    overwrite: bool = False,
    quiet: bool = False,
    dry_run: bool = False,
    log: Callable[[str], None] | None = None,
    progress: Callable | None = None,
) -> TrainRun:
    """``classify train --final --ensemble 1``: choose the epoch count on ``val``, then train the shipped model on
    every non-test image.

    1. **Selection** (:func:`select_epochs`): ``train_config`` (``final=False``) trains on the ``train``
       split in ``out/selection/`` (a complete run folder of its own: logs,
       checkpoints, resumable), evaluating on ``val`` every epoch; :func:`choose_epochs` picks the count.
    2. **Final**: the same recipe with ``final=True`` and that many epochs trains
       in ``out`` on all images but an official test split (all 5,000 of
       ``mnist-5k``: nothing is held out), with the same logs and checkpoints.
       The checkpoint records ``extra["held_out"] = False``, ``extra["data"]["final"]
       = True`` and ``extra["selection"]`` (the chosen epochs and their validation numbers).

    ``resume`` continues whichever pass was interrupted; ``overwrite`` moves both
    aside first. Returns the final pass's run, or the selection's when it stopped
    early (interrupted).
    """
    out = Path(out)
    _check_selectable(train_config)  # before the folder is touched
    if not dry_run:  # refuse (or move aside) a run already in out before the first pass trains
        with RunFolder(out, CHECKPOINT_KIND, resume=resume, overwrite=overwrite, say=log or (lambda m: None),
                       keep=() if overwrite else (SELECTION_DIR,), main=D.is_main_process()):
            pass
    sel, selection = select_epochs(model_config, train_config, out / SELECTION_DIR, resume=resume, quiet=quiet,
                                   dry_run=dry_run, log=log, progress=progress)
    if selection is None:
        return sel
    return _train_chosen(model_config, train_config, out, selection, resume=resume, quiet=quiet, dry_run=dry_run,
                         log=log, progress=progress, keep=(SELECTION_DIR,))


MEMBERS_DIR = "members"  # train_ensemble's run folders, inside the ensemble's folder


def train_ensemble(
    model_config: CNNConfig,
    train_config: TrainConfig,
    out: str | Path,
    n: int,
    *,
    final: bool = False,
    resume: bool = False,
    overwrite: bool = False,
    quiet: bool = False,
    dry_run: bool = False,
    log: Callable[[str], None] | None = None,
    progress: Callable | None = None,
) -> TrainRun:
    """``classify train --ensemble N``: ``n`` classifiers of the same recipe from seeds ``seed .. seed + n - 1``.

    Member ``k`` is a complete run folder, ``out/members/k``, trained by
    :func:`train_classifier`; with ``final``, one selection pass (seed ``seed``, in
    ``out/selection``, :func:`select_epochs`) chooses the epoch count once and every member
    then trains on every non-test image for that many epochs. ``out/ensemble.json`` lists them, and :func:`convscope.models.cnn.load_classifier`
    on ``out`` gives their :class:`~convscope.models.cnn.Ensemble` (mean of the
    softmax), which ``classify eval``/``predict`` and the GAN evaluation use as
    they use one network. ``resume`` continues the member that was interrupted
    (finished members are kept); ``overwrite`` moves the whole folder aside first.
    Returns the last member's run (``run_dir`` is ``out``).
    """
    import json

    from .._io import atomic_write_text
    from ..models.cnn import ENSEMBLE_FILE

    n = check_int("ensemble", n, min_value=1)
    out = Path(out)
    if final:
        _check_selectable(train_config)  # before the folder is touched
    if not dry_run and not resume:  # the engine's folder rules: refuse a run already there, or move it aside
        with RunFolder(out, CHECKPOINT_KIND, overwrite=overwrite, say=log or (lambda m: None),
                       main=D.is_main_process()):
            pass
    elif resume and out.is_dir() and any(out.iterdir()) and not (out / MEMBERS_DIR).is_dir() \
            and not (out / ENSEMBLE_FILE).is_file():
        raise ArgumentError(f"{out} holds no ensemble to resume (no {ENSEMBLE_FILE} or {MEMBERS_DIR}/ folder)")
    names = [f"{MEMBERS_DIR}/{k}" for k in range(n)]

    def write_spec(complete: bool, selection: dict | None = None) -> None:
        # written before the first member trains (so a resume knows the plan) and again when all have finished
        if dry_run or not D.is_main_process():
            return
        spec = {"kind": "classifier-ensemble", "members": names, "seeds": [train_config.seed + k for k in range(n)],
                "final": bool(final), "combine": "mean of the members' softmax", "complete": complete,
                **({"selection": {**selection, "run": SELECTION_DIR}} if selection else {})}
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / ENSEMBLE_FILE, json.dumps(spec, indent=1) + "\n")

    write_spec(False)
    selection = None
    if final:  # one selection pass (seed ``seed``) chooses the epoch count for every member
        sel_dir = out / SELECTION_DIR
        sel, selection = select_epochs(model_config, train_config, sel_dir,
                                       resume=resume and sel_dir.is_dir() and any(sel_dir.iterdir()),
                                       quiet=quiet, dry_run=dry_run, log=log, progress=progress)
        if selection is None:
            return dataclasses.replace(sel, run_dir=out)
        selection = {**selection, "run": f"../../{SELECTION_DIR}"}  # as seen from out/members/k
    run = None
    for k in range(n):
        member = out / MEMBERS_DIR / str(k)
        if resume and _finished(member):
            continue
        tc = train_config.replace(seed=train_config.seed + k)
        if not quiet and log is None and D.is_main_process():
            print(f"ensemble member {k + 1}/{n} (seed {tc.seed})", file=sys.stderr, flush=True)
        again = resume and member.exists() and any(member.iterdir())
        if final:
            run = _train_chosen(model_config, tc, member, selection, resume=again, quiet=quiet, dry_run=dry_run,
                                log=log, progress=progress)
        else:
            run = train_classifier(model_config, tc, member, resume=again, quiet=quiet, dry_run=dry_run, log=log,
                                   progress=progress)
        if run.stopped not in ("done", "dry_run"):
            return dataclasses.replace(run, run_dir=out)
    write_spec(True, selection)
    if run is None:  # every member was already finished
        from ..models.cnn import load_classifier

        _, meta = load_classifier(out / names[-1])
        return TrainRun(CHECKPOINT_KIND, out, int(meta["step"]), int(meta["epoch"]), "done")
    return dataclasses.replace(run, run_dir=out)


def _finished(run_dir: Path) -> bool:
    """A member's run finished (its run.json says so)."""
    import json

    try:
        final = json.loads((run_dir / "run.json").read_text()).get("final") or {}
    except (OSError, ValueError):
        return False
    return final.get("stopped") == "done"

"""Training and evaluating a CNN classifier, with checkpoints that never lose work.

:func:`train_classifier` runs the loop: in-memory batches shuffled per
``(seed, epoch)``, optional random-affine augmentation, per-epoch evaluation
on the ``val`` split, metrics to JSONL/CSV (and TensorBoard when installed),
a checkpoint after every epoch (last ``keep_last`` plus the best by
validation loss: on a few hundred validation images accuracy moves in steps
of one image and picks noise, the loss does not) and one more when interrupted. Under ``torchrun`` it
trains with DDP; only rank 0 writes files or shows progress.

Resume (``resume=True``) continues from the newest checkpoint; on the CPU,
2 epochs then 2 resumed epochs give bit-identical weights to 4 straight
epochs (also after an interrupt mid-epoch). Resuming with a different
architecture or data/optimisation setting is refused with the list of
differences; only ``epochs``, ``keep_last`` and ``device`` may change.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from .._checks import ArgumentError, check_float, check_int, check_option, fail
from .._config import ConfigMixin
from .._io import atomic_write_text
from ..data import load_dataset
from ..data import transforms as T
from ..models.cnn import CNN, CNNConfig
from . import distributed as D
from .checkpoint import CheckpointManager, config_diff, rng_state, set_rng_state
from .logging import MetricLogger, read_jsonl
from .loop import InterruptFlag, epoch_batches, progress_bar, resolve_device, set_seed

__all__ = [
    "TrainConfig",
    "RESUMABLE_CHANGES",
    "train_classifier",
    "evaluate",
    "confusion_matrix",
    "prepare_images",
    "augment_batch",
    "CHECKPOINT_KIND",
]

CHECKPOINT_KIND = "convscope-classifier"
OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULERS = ("none", "step", "cosine")
# TrainConfig fields that may differ when resuming
RESUMABLE_CHANGES = ("epochs", "keep_last", "device")


@dataclass(frozen=True)
class TrainConfig(ConfigMixin):
    """How to train (saved in every checkpoint as a dict).

    ``scheduler="step"`` multiplies the learning rate by ``gamma`` every
    ``step_size`` epochs; ``"cosine"`` anneals to 0 over ``epochs`` (so
    extending ``epochs`` on resume re-targets it at the new last epoch;
    ``step`` and ``none`` do not depend on ``epochs``).
    """

    data: str = "mnist-5k"
    image_size: int | None = None
    channels: int | None = None
    pad: int = 0
    normalize: str = "standard"
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    split_seed: int = 0
    epochs: int = 10
    batch_size: int = 64
    optimizer: str = "adam"
    lr: float = 2e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    scheduler: str = "step"
    step_size: int = 4
    gamma: float = 0.5
    augment: bool = True
    label_smoothing: float = 0.0
    seed: int = 0
    keep_last: int = 3
    device: str = "auto"

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


def prepare_images(x: torch.Tensor, meta: dict) -> torch.Tensor:
    """Turn [0, 1] images ``(N, C, H, W)`` into what a trained classifier expects.

    ``meta`` is :func:`convscope.models.load_classifier`'s: channels converted,
    resized to the training size (before padding), padded, then normalised with
    the training statistics.
    """
    C, H, W = meta["image_shape"]
    pad = int(meta.get("pad") or 0)
    x = T.to_channels(x, C)
    x = T.resize(x, (H - 2 * pad, W - 2 * pad))
    x = T.pad(x, pad)
    return T.normalize(x, meta.get("normalize"), meta.get("mean"), meta.get("std"))


@torch.no_grad()
def evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 500,
             num_classes: int | None = None) -> dict:
    """Mean cross-entropy, accuracy and predictions of ``model`` (put in eval mode) on ``(x, y)``."""
    was = model.training
    model.eval()
    dev = next(model.parameters()).device
    loss_sum, preds = 0.0, []
    for i in range(0, x.shape[0], batch_size):
        xb, yb = x[i : i + batch_size].to(dev), y[i : i + batch_size].to(dev)
        logits = model(xb)
        loss_sum += float(F.cross_entropy(logits, yb, reduction="sum"))
        preds.append(logits.argmax(1).cpu())
    model.train(was)
    n = x.shape[0]
    p = torch.cat(preds) if preds else torch.zeros(0, dtype=torch.int64)
    acc = int((p == y.cpu()).sum()) / n if n else float("nan")
    return {"loss": loss_sum / n if n else float("nan"), "accuracy": acc, "predictions": p}


def confusion_matrix(y_true: torch.Tensor, y_pred: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``cm[i, j]`` = images of class ``i`` predicted as ``j``.

    >>> confusion_matrix(torch.tensor([0, 0, 1]), torch.tensor([0, 1, 1]), 2).tolist()
    [[1, 1], [0, 1]]
    """
    idx = y_true.to(torch.int64) * num_classes + y_pred.to(torch.int64)
    return torch.bincount(idx, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def _optimizer(params, tc: TrainConfig) -> torch.optim.Optimizer:
    if tc.optimizer == "sgd":
        return torch.optim.SGD(params, lr=tc.lr, momentum=tc.momentum, weight_decay=tc.weight_decay, nesterov=True)
    cls = torch.optim.AdamW if tc.optimizer == "adamw" else torch.optim.Adam
    return cls(params, lr=tc.lr, weight_decay=tc.weight_decay)


def _scheduler(opt, tc: TrainConfig):
    if tc.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=tc.step_size, gamma=tc.gamma)
    if tc.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=tc.epochs)
    return None


def _say(msg: str, quiet: bool) -> None:
    if not quiet and D.is_main_process():
        print(msg, file=sys.stderr, flush=True)


def load_data(tc: TrainConfig, split: str):
    return load_dataset(tc.data, split=split, image_size=tc.image_size, channels=tc.channels,
                        normalize=tc.normalize, pad=tc.pad, val_fraction=tc.val_fraction,
                        test_fraction=tc.test_fraction, seed=tc.split_seed)


def _check_resume(state: dict, cfg: CNNConfig, tc: TrainConfig, path) -> None:
    diffs = config_diff(dict(state.get("config", {})), cfg.to_dict())
    saved_tc = {k: v for k, v in dict(state.get("train", {})).items() if k not in RESUMABLE_CHANGES}
    now_tc = {k: v for k, v in tc.to_dict().items() if k not in RESUMABLE_CHANGES}
    diffs += config_diff(saved_tc, now_tc)
    if diffs:
        raise ArgumentError(
            f"cannot resume from {path}: the settings differ from the checkpoint's ({'; '.join(diffs)}); "
            "use the saved settings or a new --out"
        )


# ---------------------------------------------------------------- the loop


def train_classifier(
    model_config: CNNConfig,
    train_config: TrainConfig,
    out: str | Path,
    *,
    resume: bool = False,
    quiet: bool = False,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Train a :class:`~convscope.models.CNN` and write its run folder ``out``.

    ``model_config``'s ``in_channels``, ``image_size`` and ``num_classes`` are
    taken from the data. Returns ``{"model", "history", "best_metric",
    "best_path", "latest_path", "out", "interrupted", "epoch", "step", "rank"}``.
    ``KeyboardInterrupt`` (Ctrl-C) saves a checkpoint, then propagates.
    """
    tc = train_config
    out = Path(out)
    own_group = not D.is_distributed() and D.launched_by_torchrun()
    info = D.setup_distributed(device=None if tc.device == "auto" else tc.device)
    device = info.device if info.backend else resolve_device(tc.device)
    main = D.is_main_process()
    try:
        set_seed(tc.seed + info.rank)
        ds_train = load_data(tc, "train")
        ds_val = load_data(tc, "val")
        C, H, W = ds_train.image_shape
        if H != W:
            raise fail("image_size", "square images (pass image_size to resize)", (H, W))
        cfg = model_config.replace(in_channels=C, image_size=H, num_classes=len(ds_train.classes))
        data_meta = {**ds_train.meta(), "pad": tc.pad, "image_size": tc.image_size}
        Xtr, Ytr = (t.to(device) for t in ds_train.tensors())
        Xva, Yva = ds_val.tensors()

        model = CNN(cfg).to(device)
        opt = _optimizer(model.parameters(), tc)
        sched = _scheduler(opt, tc)
        manager = CheckpointManager(out, keep_last=tc.keep_last)
        step, start_epoch, skip, sums = 0, 0, 0, {"loss": 0.0, "correct": 0, "seen": 0}
        if manager.paths() and not resume and not dry_run:
            raise ArgumentError(f"{out} already holds checkpoints; pass --resume to continue that run or choose another --out")
        if resume and not dry_run:
            state = manager.load_latest(map_location=device)
            if state is None:
                _say(f"no checkpoint in {out}; starting a new run", quiet)
            else:
                _check_resume(state, cfg, tc, manager.latest_path())
                model.load_state_dict(state["model"])
                opt.load_state_dict(state["optimizer"])
                if sched is not None and state.get("scheduler"):
                    sched.load_state_dict(state["scheduler"])
                    if tc.scheduler == "cosine" and sched.T_max != tc.epochs:
                        # extended (or shortened) run: continue as if it had been planned this long
                        sched.T_max = tc.epochs
                        for g, base in zip(opt.param_groups, sched.base_lrs):
                            g["lr"] = base * (1 + math.cos(math.pi * sched.last_epoch / tc.epochs)) / 2
                        sched._last_lr = [g["lr"] for g in opt.param_groups]
                set_rng_state(state["rng"])
                if info.rank:  # other ranks draw their own augmentation/dropout streams
                    torch.manual_seed(tc.seed * 7919 + info.rank * 104729 + int(state["step"]))
                step, start_epoch = int(state["step"]), int(state["epoch"])
                skip = int(state.get("batch_in_epoch", 0))
                sums = dict(state.get("epoch_sums") or sums)
                _say(f"resuming {out} from step {step} (epoch {start_epoch}"
                     + (f", batch {skip}" if skip else "") + ")", quiet)
        logger = MetricLogger(out, enabled=main and not dry_run)
        if resume and not dry_run:
            logger.truncate_after(step)
        if main and not dry_run:
            atomic_write_text(out / "config.json", json.dumps(
                {"model": cfg.to_dict(), "train": tc.to_dict(), "data": data_meta}, indent=2) + "\n")
        net = D.wrap_ddp(model, device)
        sampler = D.make_sampler(ds_train, shuffle=True, seed=tc.seed)
        loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=tc.label_smoothing)

        def state_dict(epoch: int, batch: int, sums: dict, interrupted: bool = False, metrics=None,
                       best=None) -> dict:
            from .. import __version__

            return {
                "kind": CHECKPOINT_KIND, "version": __version__,
                "model": model.state_dict(), "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict() if sched is not None else None,
                "rng": rng_state(), "step": step, "epoch": epoch, "batch_in_epoch": batch,
                "epoch_sums": dict(sums), "config": cfg.to_dict(), "train": tc.to_dict(), "data": data_meta,
                "best_metric": manager.best_metric if best is None else best, "metrics": metrics or {},
                "interrupted": interrupted,
            }

        def fold(sums: dict, acc: torch.Tensor, n: int) -> dict:
            a = acc.tolist()
            return {"loss": sums["loss"] + a[0], "correct": sums["correct"] + int(a[1]), "seen": sums["seen"] + n}

        interrupted = False
        epoch = start_epoch
        with InterruptFlag() as flag:
            for epoch in range(start_epoch, tc.epochs):
                net.train()
                batches = epoch_batches(Xtr.shape[0], tc.batch_size, epoch=epoch, seed=tc.seed, sampler=sampler)
                first = skip if epoch == start_epoch else 0
                if first == 0:
                    sums = {"loss": 0.0, "correct": 0, "seen": 0}
                bar = progress_bar(total=len(batches), initial=first, quiet=quiet, desc=f"epoch {epoch + 1}/{tc.epochs}")
                t0 = time.perf_counter()
                n_imgs = 0
                acc = torch.zeros(2, dtype=torch.float64, device=device)
                for bi in range(first, len(batches)):
                    idx = batches[bi].to(device)
                    xb, yb = Xtr[idx], Ytr[idx]
                    if tc.augment:
                        xb = augment_batch(xb)
                    logits = net(xb)
                    loss = loss_fn(logits, yb)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    step += 1
                    n_imgs += yb.shape[0]
                    with torch.no_grad():  # running sums stay on the device: no sync per step
                        acc += torch.stack([loss.detach().double() * yb.shape[0],
                                            (logits.argmax(1) == yb).sum().double()])
                    bar.update(1)
                    if not bar.disable and bi % 20 == 0:
                        bar.set_postfix(loss=f"{float(acc[0]) / max(sums['seen'] + n_imgs, 1):.4f}")
                    if dry_run:
                        break
                    if flag.check():
                        interrupted = True
                        sums = fold(sums, acc, n_imgs)
                        if main:
                            manager.save(state_dict(epoch, bi + 1, sums, interrupted=True), step)
                        break
                bar.close()
                train_time = time.perf_counter() - t0
                if not interrupted:
                    sums = fold(sums, acc, n_imgs)
                if interrupted:
                    break
                if dry_run:
                    ev = evaluate(model, Xva[:256], Yva[:256]) if len(ds_val) else {"loss": float("nan"), "accuracy": float("nan")}
                    _say(f"dry run: one batch of {tc.batch_size}, loss {sums['loss'] / max(sums['seen'], 1):.4f}, "
                         f"val accuracy {ev['accuracy']:.3f} on {min(len(ds_val), 256)} images; nothing written", quiet)
                    return {"model": model, "history": [], "best_metric": None, "best_path": None,
                            "latest_path": None, "out": out, "interrupted": False, "epoch": 0, "step": step,
                            "rank": info.rank}
                if sched is not None:
                    sched.step()
                # validation on rank 0; the number is shared so every rank agrees on "best"
                val = torch.tensor([math.nan, math.nan])
                if main and len(ds_val):
                    ev = evaluate(model, Xva, Yva)
                    val = torch.tensor([ev["loss"], ev["accuracy"]])
                if D.is_distributed():
                    val = D.broadcast_object(val)
                metrics = {
                    "epoch": epoch + 1,
                    "train_loss": sums["loss"] / max(sums["seen"], 1),
                    "train_acc": sums["correct"] / max(sums["seen"], 1),
                    "val_loss": float(val[0]), "val_acc": float(val[1]),
                    "lr": opt.param_groups[0]["lr"],
                    "images_per_s": n_imgs * info.world_size / max(train_time, 1e-9),
                    "epoch_time_s": train_time,
                }
                metric = None if math.isnan(metrics["val_loss"]) else metrics["val_loss"]
                if main:
                    logger.log(step, **metrics)
                    best = metric if metric is not None and manager.is_better(metric, False, True) else None
                    manager.save(state_dict(epoch + 1, 0, sums, metrics=metrics, best=best), step, metric=metric,
                                 higher_is_better=False, ties=True)
                    _say(f"epoch {epoch + 1}/{tc.epochs}: train loss {metrics['train_loss']:.4f} "
                         f"acc {metrics['train_acc']:.4f}, val loss {metrics['val_loss']:.4f} "
                         f"acc {metrics['val_acc']:.4f}, {metrics['images_per_s']:.0f} img/s", quiet)
                if flag.check():
                    interrupted = True
                    break
        history = read_jsonl(logger.jsonl) if main else []
        logger.close()
        D.barrier()
        if interrupted:
            _say(f"interrupted: checkpoint saved in {out}; continue with --resume", quiet)
            raise KeyboardInterrupt
        return {"model": model, "history": history, "best_metric": manager.best_metric,
                "best_path": manager.best_path(), "latest_path": manager.latest_path(), "out": out,
                "interrupted": False, "epoch": tc.epochs, "step": step, "rank": info.rank}
    finally:
        if own_group:
            D.cleanup()

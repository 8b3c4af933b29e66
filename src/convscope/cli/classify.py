"""``convscope classify train|eval|predict|filters``: a CNN that does the feature engineering."""

from __future__ import annotations

import sys
from pathlib import Path

from .common import (
    CLIError,
    add_out,
    float_type,
    int_list_type,
    int_type,
    out_dir,
    positive_int,
    report,
)

DATA_HELP = ("digits | mnist-5k | DIR with MNIST/Fashion-MNIST idx files | cifar-10-batches-py DIR | "
             "DIR/<class>/*.png|jpg | FILE.npz with x, y")


def register(sub, common) -> None:
    grp = sub.add_parser("classify", parents=[common], help="train, evaluate and inspect a CNN classifier",
                         description="Image recognition with a CNN: train, evaluate, predict, and look at the "
                                     "learned filters in space and frequency.")
    cs = grp.add_subparsers(dest="classify_command", metavar="SUBCOMMAND", parser_class=type(grp))
    cs.required = True

    p = cs.add_parser("train", parents=[common], help="train a classifier (checkpoints, logs, --resume, DDP)",
                      description="Train a CNN. Every epoch: evaluate on the val split, log to metrics.jsonl/.csv, "
                                  "checkpoint (last N + best by val loss). Ctrl-C saves before exiting; --resume continues. "
                                  "Under torchrun it trains with DDP (gloo on CPU, nccl on CUDA).")
    p.add_argument("--data", default=None, help=f"{DATA_HELP} (default mnist-5k)")
    p.add_argument("--model", default=None, help="lenet | alexnet (default lenet)")
    p.add_argument("--final", action="store_true",
                   help="choose the epoch count on the val split (a first pass in OUT/selection keeps the whole "
                        "schedule unless val accuracy clearly falls), then train the "
                        "shipped model on every non-test image (all 5,000 of mnist-5k: nothing held out)")
    p.add_argument("--ensemble", type=int_type(1, 100), default=None, metavar="N",
                   help="train N members of the recipe from seeds SEED..SEED+N-1 (each a run folder in "
                        "OUT/members/); eval, predict and the GAN evaluation average their softmax "
                        "(default 3 with --final, else 1; on --resume, what the run was started with)")
    p.add_argument("--epochs", type=positive_int, default=None, help="total epochs (default 30)")
    p.add_argument("--batch-size", type=positive_int, default=None, help="default 64")
    p.add_argument("--lr", type=float_type(0.0, strict_lo=True), default=None,
                   help="learning rate, one-cycle's peak (default 3e-3)")
    p.add_argument("--optimizer", default=None, help="adamw | adam | sgd (default adamw)")
    p.add_argument("--scheduler", default=None,
                   help="onecycle | cosine | step | none (default onecycle, stepped every batch; step: x0.5 every 4 epochs)")
    p.add_argument("--weight-decay", type=float_type(0.0), default=None, help="default 5e-4")
    p.add_argument("--label-smoothing", type=float_type(0.0, 0.5), default=None, help="default 0.05")
    p.add_argument("--width", type=float_type(0.0, 64.0, strict_lo=True), default=None,
                   help="channel multiplier of the arch's own widths (LeNet-5's 6/16, FC 120/84; AlexNet's)")
    p.add_argument("--conv-channels", type=int_list_type(1, 4096), default=None, metavar="C1,C2",
                   help="the convolutions' output channels (2 for lenet, 5 for alexnet; default lenet: 32,64)")
    p.add_argument("--fc-units", type=int_list_type(1, 65536), default=None, metavar="N,...",
                   help="hidden fully connected widths (default lenet: 256)")
    p.add_argument("--dropout", type=float_type(0.0, 0.95), default=None, help="default 0.25")
    p.add_argument("--batch-norm", default=None, choices=["on", "off"], help="default on")
    p.add_argument("--conv-method", default=None,
                   help="torch | auto | direct | fft | overlap_add: convolutions from torch or convscope's engine")
    p.add_argument("--image-size", type=int_type(1, 4096), default=None, help="resize images to SxS (e.g. 32)")
    p.add_argument("--channels", type=int, default=None, choices=[1, 3], help="convert to grey (1) or RGB (3)")
    p.add_argument("--pad", type=int_type(0, 1024), default=None, help="zero border in pixels (default 0)")
    p.add_argument("--normalize", default=None, help="standard | gan | none (default standard)")
    p.add_argument("--val-fraction", type=float_type(0.0, 0.9), default=None, help="held out for per-epoch evaluation (default 0.1)")
    p.add_argument("--test-fraction", type=float_type(0.0, 0.9), default=None,
                   help="held out as test for sets without a test split (default 0.2)")
    p.add_argument("--no-augment", action="store_true", default=None, help="no random affine augmentation")
    p.add_argument("--keep-last", type=positive_int, default=None, help="checkpoints kept besides the best (default 3)")
    p.add_argument("--device", default=None, help="auto | cpu | cuda (default auto)")
    p.add_argument("--threads", type=int_type(1, 1024), default=None,
                   help="torch CPU threads (default: torch's; 1 is often fastest on a busy shared machine)")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    p.add_argument("--overwrite", action="store_true",
                   help="--out already holds a run: move it aside (to OUT.old-<time>) and start anew")
    p.add_argument("--dry-run", action="store_true",
                   help="run one batch and one evaluation in a temporary folder; nothing is kept")
    add_out(p, "classify")
    p.set_defaults(func=cmd_train)

    p = cs.add_parser("eval", parents=[common], help="accuracy, per-class accuracy and confusion matrix")
    p.add_argument("--checkpoint", default="convscope-out/classify", help="run folder or .pt file")
    p.add_argument("--data", default=None, help=f"{DATA_HELP} (default: the training source)")
    p.add_argument("--split", default="test", help="train | val | test | all (default test)")
    p.add_argument("--tta", action="store_true",
                   help="test-time augmentation: average the softmax over the image and its 1-pixel shifts "
                        "(up, down, left, right)")
    add_out(p, "classify-eval")
    p.set_defaults(func=cmd_eval)

    p = cs.add_parser("predict", parents=[common], help="top-3 classes with probabilities for images")
    p.add_argument("images", nargs="*", metavar="IMAGE",
                   help="image files (default: 8 images spread over the training source's test split)")
    p.add_argument("--checkpoint", default="convscope-out/classify", help="run folder or .pt file")
    p.add_argument("--top", type=positive_int, default=3, help="how many classes to list (default 3)")
    add_out(p, "classify-predict")
    p.set_defaults(func=cmd_predict)

    p = cs.add_parser("filters", parents=[common],
                      help="learned first-layer kernels, their Fourier spectra and feature maps")
    p.add_argument("image", nargs="?", default=None,
                   help="input image (default: the first test image of the training source)")
    p.add_argument("--checkpoint", default="convscope-out/classify", help="run folder or .pt file")
    p.add_argument("--max-filters", type=int_type(1, 1024), default=16, help="show at most this many kernels (default 16)")
    add_out(p, "classify-filters")
    p.set_defaults(func=cmd_filters)


# ---------------------------------------------------------------- train

_MODEL_ARGS = {"model": "arch", "width": "width", "dropout": "dropout", "conv_method": "conv_method",
               "conv_channels": "conv_channels", "fc_units": "fc_units"}
_TRAIN_ARGS = {
    "data": "data", "epochs": "epochs", "batch_size": "batch_size", "lr": "lr", "optimizer": "optimizer",
    "scheduler": "scheduler", "weight_decay": "weight_decay", "label_smoothing": "label_smoothing",
    "image_size": "image_size",
    "channels": "channels", "pad": "pad", "normalize": "normalize", "val_fraction": "val_fraction",
    "test_fraction": "test_fraction", "keep_last": "keep_last", "device": "device",
}


def _configs(args, saved: dict | None):
    from ..models.cnn import CNNConfig
    from ..train.classify import TrainConfig, recipe_model

    m = dict(saved["model"]) if saved else {}
    t = dict(saved["train"]) if saved else {}
    for a, k in _MODEL_ARGS.items():
        if getattr(args, a) is not None:
            m[k] = getattr(args, a)
    if args.batch_norm is not None:
        m["batch_norm"] = args.batch_norm == "on"
    for a, k in _TRAIN_ARGS.items():
        if getattr(args, a) is not None:
            t[k] = getattr(args, a)
    if args.no_augment:
        t["augment"] = False
    if not saved or args.seed != 0:
        t["seed"] = args.seed
    model = CNNConfig(**m) if saved else recipe_model(**m)  # a resumed run keeps the network it was built with
    return model, (TrainConfig.from_saved(t) if saved else TrainConfig.from_dict(t))


def _ensemble_size(args, out: Path) -> int:
    """``--ensemble``, or its default: the size a resumed run was started with, else
    :data:`~convscope.train.classify.FINAL_ENSEMBLE` with ``--final`` and 1 without."""
    import json

    from ..models.cnn import ENSEMBLE_FILE
    from ..train.classify import FINAL_ENSEMBLE, MEMBERS_DIR

    if args.ensemble is not None:
        return args.ensemble
    if args.resume and out.is_dir():
        try:
            return max(1, len(json.loads((out / ENSEMBLE_FILE).read_text())["members"]))
        except (OSError, ValueError, KeyError, TypeError):
            pass  # no (readable) plan: the folder's layout says which kind of run it is
        if any(out.iterdir()) and not (out / MEMBERS_DIR).is_dir():
            return 1  # a single network's run (an ensemble writes its plan before anything else)
    return FINAL_ENSEMBLE if args.final else 1


def cmd_train(args) -> int:
    import torch

    from ..train.classify import (
        CHECKPOINT_KIND,
        MEMBERS_DIR,
        SELECTION_DIR,
        train_classifier,
        train_ensemble,
        train_final_classifier,
    )
    from ..train.engine import saved_settings

    if args.threads is not None:
        if args.threads < 1:
            raise CLIError(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    out = Path(args.out or args._out_default)
    # --final --resume: the recipe is the selection pass's (the final pass's epochs are chosen, not given)
    saved = None
    if args.resume:
        # an ensemble's recipe: its selection pass's (--final), else its first member's
        base = out / MEMBERS_DIR / "0" if (out / MEMBERS_DIR).is_dir() else out
        saved = saved_settings(out / SELECTION_DIR, CHECKPOINT_KIND) if args.final else None
        saved = saved or (saved_settings(base / SELECTION_DIR, CHECKPOINT_KIND) if args.final else None)
        saved = saved or saved_settings(base, CHECKPOINT_KIND)
    mcfg, tcfg = _configs(args, saved)
    args.ensemble = _ensemble_size(args, out)
    if args.ensemble > 1:
        res = train_ensemble(mcfg, tcfg, out, args.ensemble, final=args.final, resume=args.resume,
                             overwrite=args.overwrite, quiet=args.quiet, dry_run=args.dry_run)
        if args.dry_run or res.rank != 0:
            return 0
        if res.stopped == "done":
            print(f"ensemble of {args.ensemble} (seeds {tcfg.seed}..{tcfg.seed + args.ensemble - 1}) in {out}; "
                  "classify eval/predict --checkpoint on it average the members' softmax")
        report([out / "ensemble.json"] if (out / "ensemble.json").exists() else [], out, args)
        return res.exit_code
    trainer = train_final_classifier if args.final else train_classifier
    res = trainer(mcfg, tcfg, out, resume=args.resume, overwrite=args.overwrite, quiet=args.quiet,
                  dry_run=args.dry_run)
    if args.dry_run or res.rank != 0:  # only rank 0 reports (the group may be gone by now)
        return 0
    written = [p for p in (res.checkpoint, res.best_checkpoint) if p]
    written += [out / "metrics.jsonl", out / "metrics.csv", out / "run.json"]
    if res.history and (out / "curves.png").exists():
        written.append(out / "curves.png")
    if res.history and not res.interrupted:
        last = res.history[-1]
        best = res.best_metric
        if args.final or (saved and saved["train"].get("final")):
            print(f"final model: {res.epoch} epochs on every non-test image (nothing held out), train loss "
                  f"{last['train_loss']:.4f} acc {last['train_acc']:.4f}; the epoch count was chosen on the val "
                  f"split in {out / SELECTION_DIR}")
        else:
            print(f"final: val accuracy {last['val_acc']:.4f}, val loss {last['val_loss']:.4f}, "
                  f"train loss {last['train_loss']:.4f}"
                  + (f"; best.pt has the lowest val loss, {best:.4f}" if best is not None else ""))
    report(written, out, args)
    return res.exit_code


# ---------------------------------------------------------------- eval / predict / filters


def cmd_eval(args) -> int:
    from ..experiments.classify import evaluate_classifier, save_classifier_evaluation

    res = evaluate_classifier(args.checkpoint, args.data, args.split, tta=args.tta)
    cm, classes = res.confusion, res.classes
    if not res.held_out:
        print(f"warning: {res.note}", file=sys.stderr)
    print(f"{res.source} [{res.split}], {res.n} images{' (TTA: 5 views)' if res.tta else ''}: accuracy "
          f"{res.accuracy:.4f}, loss {res.loss:.4f}" + ("" if res.held_out else " (NOT held-out)"))
    print("per-class accuracy:")
    for c, a, n in zip(classes, res.per_class, cm.sum(1)):
        print(f"  {c:>12}: {a:.4f}  ({n} images)")
    w = max(4, max(len(str(v)) for v in cm.ravel()) + 1)
    print("confusion matrix (rows: true, columns: predicted):")
    print(" " * 13 + "".join(f"{str(c)[:w - 1]:>{w}}" for c in classes))
    for c, row in zip(classes, cm):
        print(f"  {str(c)[:10]:>10} " + "".join(f"{v:>{w}}" for v in row))
    out = out_dir(args)
    report(save_classifier_evaluation(res, out), out, args)
    return 0


def cmd_predict(args) -> int:
    from ..experiments.classify import predict, save_predictions

    res = predict(args.checkpoint, args.images, top=args.top)
    for name, top in zip(res.names, res.top):
        print(f"{name}: " + ", ".join(f"{c} ({q:.3f})" for c, q in top))
    out = out_dir(args)
    report(save_predictions(res, out), out, args)
    return 0


def cmd_filters(args) -> int:
    from ..experiments.classify import learned_filters, save_learned_filters

    res = learned_filters(args.checkpoint, args.image)
    out = out_dir(args)
    report(save_learned_filters(res, out, max_filters=args.max_filters), out, args)
    return 0

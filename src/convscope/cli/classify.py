"""``convscope classify train|eval|predict|filters``: a CNN that does the feature engineering."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .common import (
    CLIError,
    add_out,
    float_type,
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
    p.add_argument("--epochs", type=positive_int, default=None, help="total epochs (default 10)")
    p.add_argument("--batch-size", type=positive_int, default=None, help="default 64")
    p.add_argument("--lr", type=float_type(0.0, strict_lo=True), default=None, help="learning rate (default 2e-3)")
    p.add_argument("--optimizer", default=None, help="adam | adamw | sgd (default adam)")
    p.add_argument("--scheduler", default=None, help="step | cosine | none (default step: x0.5 every 4 epochs)")
    p.add_argument("--weight-decay", type=float_type(0.0), default=None, help="default 0")
    p.add_argument("--width", type=float_type(0.0, 64.0, strict_lo=True), default=None, help="channel multiplier (default 1.0)")
    p.add_argument("--dropout", type=float_type(0.0, 0.99), default=None, help="default 0.25")
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
    p.add_argument("--dry-run", action="store_true", help="run one batch and one evaluation, write nothing")
    add_out(p, "classify")
    p.set_defaults(func=cmd_train)

    p = cs.add_parser("eval", parents=[common], help="accuracy, per-class accuracy and confusion matrix")
    p.add_argument("--checkpoint", default="convscope-out/classify", help="run folder or .pt file")
    p.add_argument("--data", default=None, help=f"{DATA_HELP} (default: the training source)")
    p.add_argument("--split", default="test", help="train | val | test | all (default test)")
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

_MODEL_ARGS = {"model": "arch", "width": "width", "dropout": "dropout", "conv_method": "conv_method"}
_TRAIN_ARGS = {
    "data": "data", "epochs": "epochs", "batch_size": "batch_size", "lr": "lr", "optimizer": "optimizer",
    "scheduler": "scheduler", "weight_decay": "weight_decay", "image_size": "image_size",
    "channels": "channels", "pad": "pad", "normalize": "normalize", "val_fraction": "val_fraction",
    "test_fraction": "test_fraction", "keep_last": "keep_last", "device": "device",
}


def _configs(args, saved: dict | None):
    from ..models.cnn import CNNConfig
    from ..train.classify import TrainConfig

    m = dict(saved["config"]) if saved else {}
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
    return CNNConfig(**m), TrainConfig.from_dict(t)


def cmd_train(args) -> int:
    import torch

    from ..train.checkpoint import CheckpointManager
    from ..train.classify import train_classifier
    from ..viz.classify import training_curves

    if args.threads is not None:
        if args.threads < 1:
            raise CLIError(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    out = Path(args.out or args._out_default)
    saved = None
    if args.resume:
        saved = CheckpointManager(out).load_latest()
    mcfg, tcfg = _configs(args, saved)
    res = train_classifier(mcfg, tcfg, out, resume=args.resume, quiet=args.quiet, dry_run=args.dry_run)
    if args.dry_run or res["rank"] != 0:  # only rank 0 reports (the group may be gone by now)
        return 0
    written = [p for p in (res["latest_path"], res["best_path"]) if p]
    written += [out / "metrics.jsonl", out / "metrics.csv", out / "config.json"]
    if res["history"]:
        written.append(training_curves(res["history"], out / "curves.png"))
        last = res["history"][-1]
        best = res["best_metric"]
        print(f"final: val accuracy {last['val_acc']:.4f}, val loss {last['val_loss']:.4f}, "
              f"train loss {last['train_loss']:.4f}"
              + (f"; best.pt has the lowest val loss, {best:.4f}" if best is not None else ""))
    report(written, out, args)
    return 0


# ---------------------------------------------------------------- eval / predict / filters


def _load(args):
    from ..models.cnn import load_classifier

    return load_classifier(args.checkpoint)


def _source_images(meta: dict, data: str | None, split: str):
    """[0, 1] images of ``data`` (or the training source) and labels, with the training split settings."""
    from ..data import load_dataset

    tr = meta.get("train") or {}
    same = data is None or str(data) == str(tr.get("data", meta.get("source")))
    src = tr.get("data", meta.get("source")) if data is None else data
    if src is None:
        raise CLIError("the checkpoint does not record its data source; pass --data")
    kw = {"split": split}
    if same:
        kw.update(val_fraction=tr.get("val_fraction", 0.1), test_fraction=tr.get("test_fraction", 0.2),
                  seed=tr.get("split_seed", 0))
    return load_dataset(src, normalize=None, **kw)


def cmd_eval(args) -> int:
    from ..train.classify import confusion_matrix, evaluate, prepare_images
    from ..viz.classify import confusion_figure

    model, meta = _load(args)
    ds = _source_images(meta, args.data, args.split)
    classes = meta["classes"]
    if len(ds.classes) != len(classes):
        raise CLIError(f"--data has {len(ds.classes)} classes but the model was trained on {len(classes)}")
    x, y = ds.tensors()
    if len(y) == 0:
        raise CLIError(f"split {args.split!r} of {ds.source} is empty")
    ev = evaluate(model, prepare_images(x, meta), y)
    cm = confusion_matrix(y, ev["predictions"], len(classes)).numpy()
    per = cm.diagonal() / np.maximum(cm.sum(1), 1)
    print(f"{ds.source} [{args.split}], {len(y)} images: accuracy {ev['accuracy']:.4f}, loss {ev['loss']:.4f}")
    print("per-class accuracy:")
    for c, a, n in zip(classes, per, cm.sum(1)):
        print(f"  {c:>12}: {a:.4f}  ({n} images)")
    w = max(4, max(len(str(v)) for v in cm.ravel()) + 1)
    print("confusion matrix (rows: true, columns: predicted):")
    print(" " * 13 + "".join(f"{str(c)[:w - 1]:>{w}}" for c in classes))
    for c, row in zip(classes, cm):
        print(f"  {str(c)[:10]:>10} " + "".join(f"{v:>{w}}" for v in row))
    out = out_dir(args)
    np.save(out / "confusion.npy", cm)
    png = confusion_figure(cm, classes, out / "confusion.png",
                           title=f"{Path(ds.source).name} [{args.split}]: accuracy {ev['accuracy']:.4f}")
    res = {"source": ds.source, "split": args.split, "n": len(y), "accuracy": ev["accuracy"], "loss": ev["loss"],
           "per_class": {str(c): float(a) for c, a in zip(classes, per)}, "checkpoint": meta["path"]}
    from .._io import atomic_write_text

    atomic_write_text(out / "eval.json", json.dumps(res, indent=2) + "\n")
    report([out / "eval.json", out / "confusion.npy", png], out, args)
    return 0


def _read_inputs(paths, meta, n_default: int = 8):
    """[(name, image (C,H,W) in [0,1])] for IMAGE arguments or the source's test images."""
    import torch

    from ..data.images import load_image

    C = meta["image_shape"][0]
    if paths:
        out = []
        for p in paths:
            a = load_image(p, gray=C == 1)
            a = a[None] if a.ndim == 2 else a
            out.append((str(p), torch.from_numpy(np.ascontiguousarray(a))))
        return out
    ds = _source_images(meta, None, "test")
    if len(ds) == 0:
        ds = _source_images(meta, None, "all")
    x, y = ds.tensors()
    picks = np.unique(np.linspace(0, len(ds) - 1, min(n_default, len(ds))).round().astype(int))  # spread out
    return [(f"{Path(ds.source).name}[test #{i}] (true: {ds.classes[int(y[i])]})", x[i]) for i in picks]


def cmd_predict(args) -> int:
    import torch

    from ..train.classify import prepare_images
    from ..viz.classify import predictions_grid

    if args.top < 1:
        raise CLIError(f"--top must be >= 1, got {args.top}")
    model, meta = _load(args)
    classes = meta["classes"]
    items = _read_inputs(args.images, meta)
    rows, pics, labels = [], [], []
    with torch.no_grad():
        for name, img in items:
            x = prepare_images(img[None].float(), meta)
            prob = torch.softmax(model(x), 1)[0]
            k = min(args.top, len(classes))
            p, i = prob.topk(k)
            top = [(classes[int(j)], float(q)) for q, j in zip(p, i)]
            print(f"{name}: " + ", ".join(f"{c} ({q:.3f})" for c, q in top))
            rows.append({"image": name, "top": [{"class": c, "probability": q} for c, q in top]})
            pics.append(img.numpy())
            labels.append("\n".join(f"{c}: {q:.2f}" for c, q in top[:3]))
    out = out_dir(args)
    from .._io import atomic_write_text

    atomic_write_text(out / "predictions.json", json.dumps(rows, indent=2) + "\n")
    png = predictions_grid(pics, labels, out / "predictions.png")
    report([out / "predictions.json", png], out, args)
    return 0


def cmd_filters(args) -> int:
    import torch

    from ..models.cnn import kernel_spectra
    from ..train.classify import prepare_images
    from ..viz.classify import filters_panel

    model, meta = _load(args)
    name, img = _read_inputs([args.image] if args.image else [], meta, 1)[0]
    w = model.first_conv.weight.detach()  # (C_out, C_in, kH, kW)
    spectra = kernel_spectra(w, 32)
    with torch.no_grad():
        maps = model.first_layer_maps(prepare_images(img[None].float(), meta))[0]  # (C_out, H, W)
    out = out_dir(args)
    np.save(out / "kernels.npy", w.numpy())
    np.save(out / "kernel_spectra.npy", spectra.numpy())
    np.save(out / "feature_maps.npy", maps.numpy())
    arch = meta["config"]["arch"]
    png = filters_panel(img.numpy(), w.numpy(), spectra.numpy(), maps.numpy(), out / "filters.png",
                        max_filters=args.max_filters,
                        title=f"{arch}: the learned first-layer filters, their Fourier magnitudes (centred, log)\n"
                              f"and the feature maps they make of {Path(name).name}")
    report([out / "kernels.npy", out / "kernel_spectra.npy", out / "feature_maps.npy", png], out, args)
    return 0

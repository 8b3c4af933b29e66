"""``convscope gan ...``: train a DCGAN, use it, evaluate it offline, diagnose it in the Fourier domain."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from .common import (
    CLIError,
    add_out,
    float_type,
    int_type,
    out_dir,
    positive_int,
    progress,
    quiet,
    report,
    seed_type,
)

# bounds on the options that size an array: beyond them the run is a typo, not an experiment
MAX_SAMPLES = 100_000  # -n of sample, evaluate, spectrum, compare
MAX_NROW = 256  # images per grid row
PRESET_NAMES = ("quick", "mnist")  # train.gan.PRESETS (kept here so --help needs no torch import)


def register(sub, common) -> None:
    g = sub.add_parser("gan", parents=[common], help="DCGAN: train, sample, interpolate, arithmetic, evaluate, spectrum, compare",
                       description="A DCGAN built from the five guidelines, trained, evaluated offline and "
                                   "diagnosed with the power spectrum.")
    gs = g.add_subparsers(dest="gan_command", metavar="SUBCOMMAND")
    gs.required = True
    g.set_defaults(func=lambda a: g.print_help())

    p = gs.add_parser("train", parents=[common], help="train a DCGAN (resumable, Ctrl-C saves)")
    _train_args(p)
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    p.add_argument("--dry-run", action="store_true", help="one step, one checkpoint: a smoke test")
    p.set_defaults(func=cmd_train, out=None, _out_default="runs/gan")

    p = gs.add_parser("sample", parents=[common], help="a grid and individual PNGs from a trained generator")
    p.add_argument("--checkpoint", required=True, help="GAN run folder or checkpoint file")
    p.add_argument("-n", type=int_type(1, MAX_SAMPLES), default=64, help="number of samples (default 64)")
    p.add_argument("--nrow", type=int_type(1, MAX_NROW), default=None, help="images per grid row")
    add_out(p, "gan-sample")
    p.set_defaults(func=cmd_sample)

    p = gs.add_parser("interpolate", parents=[common], help="walk the latent space (strip PNG + GIF)")
    p.add_argument("--checkpoint", required=True, help="GAN run folder or checkpoint file")
    p.add_argument("--mode", default="slerp", help="slerp (default) or linear")
    p.add_argument("--steps", type=int_type(2, 1000), default=10, help="frames per walk (default 10)")
    p.add_argument("--rows", type=int_type(1, 100), default=6, help="random walks, one per row (default 6)")
    p.add_argument("--points", type=seed_type, nargs="+", default=None, metavar="SEED",
                   help="chosen points: noise seeds; the walk visits them in order (one row)")
    add_out(p, "gan-interpolate")
    p.set_defaults(func=cmd_interpolate)

    p = gs.add_parser("arithmetic", parents=[common], help="latent vector arithmetic A - B + C with classifier-chosen z's")
    p.add_argument("--checkpoint", required=True, help="GAN run folder or checkpoint file")
    p.add_argument("--classifier", required=True, help="classifier run folder (convscope classify train)")
    p.add_argument("--expr", default=None, help="e.g. '7-1+4' in class names (default: three classes at random)")
    p.add_argument("--pool", type=int_type(3, MAX_SAMPLES), default=2000, help="z's drawn to find three confident ones per class")
    add_out(p, "gan-arithmetic")
    p.set_defaults(func=cmd_arithmetic)

    p = gs.add_parser("evaluate", parents=[common], help="Fréchet distance, KID, precision/recall, coverage, class balance, linear probe")
    p.add_argument("--checkpoint", required=True, help="GAN run folder or checkpoint file")
    p.add_argument("--data", required=True, help="the real images (train split reference, test split floor)")
    p.add_argument("--classifier", required=True, help="classifier run folder: the feature network")
    p.add_argument("-n", type=int_type(2, MAX_SAMPLES), default=10_000, help="generated images (default 10000)")
    p.add_argument("--no-probe", action="store_true", help="skip the linear probes")
    add_out(p, "gan-evaluate")
    p.set_defaults(func=cmd_evaluate)

    p = gs.add_parser("spectrum", parents=[common], help="power spectra of real vs generated; checkerboard peaks")
    p.add_argument("--checkpoint", required=True, help="GAN run folder or checkpoint file")
    p.add_argument("--data", default=None, help="the real images (default: the run's training data)")
    p.add_argument("-n", type=int_type(2, MAX_SAMPLES), default=2000, help="images of each kind (default 2000)")
    add_out(p, "gan-spectrum")
    p.set_defaults(func=cmd_spectrum)

    p = gs.add_parser("compare", parents=[common], help="train transposed vs resize_conv identically; grids, spectra, scores")
    _train_args(p)
    p.add_argument("-n", type=int_type(2, MAX_SAMPLES), default=2000, help="images for the spectra (default 2000)")
    p.add_argument("--classifier", default=None, help="also evaluate both with this classifier")
    p.set_defaults(func=cmd_compare, out=None, _out_default="runs/gan-compare")


def _train_args(p) -> None:
    p.add_argument("--data", default=None, help="digits, mnist-5k, an MNIST/CIFAR folder, an image folder or .npz "
                                                "(default: the preset's, else digits)")
    p.add_argument("--preset", default=None, choices=PRESET_NAMES, help="quick (bundled digits, about a minute) or mnist (the real run)")
    p.add_argument("--image-size", type=int_type(16, 1024), default=None, help="power of two >= 16 (default 32, quick 16)")
    p.add_argument("--channels", type=int, choices=(1, 3), default=None, help="1 or 3 (default: the data's)")
    p.add_argument("--epochs", type=positive_int, default=None, help="passes over the data")
    p.add_argument("--batch-size", type=positive_int, default=None)
    p.add_argument("--nz", type=int_type(1, 4096), default=None, help="latent size")
    p.add_argument("--ngf", type=int_type(1, 4096), default=None, help="generator width")
    p.add_argument("--ndf", type=int_type(1, 4096), default=None, help="discriminator width")
    p.add_argument("--upsample", default=None, help="transposed (default) or resize_conv")
    p.add_argument("--loss", default=None, help="bce (non-saturating, with logits; default) or hinge")
    p.add_argument("--conv-method", default=None, help="route convolutions through convscope's engine: direct|fft|auto")
    p.add_argument("--time-limit", type=float_type(0.0, strict_lo=True), default=None, metavar="MIN", help="stop (and save) after MIN minutes")
    p.add_argument("--d-win-steps", type=positive_int, default=None, help="stop when D wins completely this many steps")
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                   help="channels_last memory format (default on: measured faster)")
    p.add_argument("--fused-adam", action=argparse.BooleanOptionalAction, default=None,
                   help="fused Adam (default on: measured faster)")
    p.add_argument("--compile", action="store_true", help="torch.compile both networks (slower on CPU)")
    p.add_argument("--out", metavar="DIR", default=None, help="run folder")


def _configs(args, *, upsample: str | None = None):
    from ..data import load_dataset
    from ..models.dcgan import DCGANConfig
    from ..train.gan import PRESETS, GANTrainConfig

    preset = PRESETS[args.preset] if args.preset else None
    if args.preset and args.preset not in PRESETS:
        raise CLIError(f"--preset must be one of {', '.join(PRESETS)}, got {args.preset!r}")
    model = dict(preset["model"]) if preset else {}
    train = dict(preset["train"]) if preset else {}
    data = args.data or (preset["data"] if preset else "digits")
    for key in ("image_size", "nz", "ngf", "ndf", "upsample", "loss", "conv_method", "channels"):
        v = getattr(args, key)
        if v is not None:
            model[key] = v
    if upsample:
        model["upsample"] = upsample
    model.setdefault("image_size", 32)
    if "channels" not in model:
        try:
            ds = load_dataset(data, split="train", image_size=model["image_size"])
            model["channels"] = 3 if ds.image_shape[0] >= 3 else 1
        except (ValueError, OSError):
            model["channels"] = 1
    for key, name in (("epochs", "epochs"), ("batch_size", "batch_size"), ("d_win_steps", "d_win_steps")):
        v = getattr(args, key)
        if v is not None:
            train[name] = v
    if args.time_limit is not None:
        train["time_limit_s"] = args.time_limit * 60
    elif args.gan_command == "compare":
        train["time_limit_s"] = None  # identical training means identical steps, not identical minutes
    train.update(device=args.device, compile=args.compile)
    for key in ("channels_last", "fused_adam"):
        if getattr(args, key) is not None:
            train[key] = getattr(args, key)
    if getattr(args, "dry_run", False):
        train["max_steps"] = 1
        train["epochs"] = 1
    return DCGANConfig(**model), GANTrainConfig(**train), data


def _bar(args):
    def bar(it, total=None, initial=0, desc=None):
        return progress(it, args=args, total=total, initial=initial, desc=desc)

    return bar


def _log(args):
    return (lambda _m: None) if quiet(args) else print


def _run_train(args, out: Path, *, upsample: str | None = None, resume: bool = False):
    from ..train.gan import GANTrainingError, train_gan

    config, tcfg, data = _configs(args, upsample=upsample)
    try:
        run = train_gan(None if resume else config, data, out, train=tcfg, resume=resume, seed=args.seed,
                        progress=_bar(args), log=_log(args))
    except GANTrainingError as e:
        raise CLIError(str(e)) from None
    return run


def cmd_train(args) -> int:
    from ..train import distributed as dist_

    out = Path(args.out or args._out_default)
    try:
        run = _run_train(args, out, resume=args.resume)
        if not dist_.is_main_process():  # under torchrun only rank 0 reports
            return 0
    finally:
        dist_.cleanup()
    files = sorted(p for p in out.rglob("*") if p.is_file() and p.suffix in (".png", ".pt", ".jsonl", ".csv", ".json"))
    if run.stopped == "interrupted":
        print(f"interrupted at step {run.step}: saved {run.checkpoint}; continue with --resume")
        report(files, out, args)
        return 130
    if not quiet(args):
        m = run.metrics
        print(f"{run.stopped}: step {run.step}, epoch {run.epoch}, {run.images_per_s:.0f} images/s; "
              f"last epoch loss_d {m.get('loss_d', float('nan')):.3f} loss_g {m.get('loss_g', float('nan')):.3f}")
    report(files, out, args)
    return 0


def cmd_sample(args) -> int:
    import numpy as np

    from ..train.gan import generate, load_generator
    from ..viz.gan import save_grid, save_individual

    if args.n < 1:
        raise CLIError(f"-n must be >= 1, got {args.n}")
    G, _meta = load_generator(args.checkpoint)
    imgs = generate(G, args.n, seed=args.seed)
    out = out_dir(args)
    paths = [save_grid(imgs, out / "grid.png", nrow=args.nrow)]
    np.save(out / "samples.npy", imgs.numpy())
    paths.append(out / "samples.npy")
    paths += save_individual(imgs, out / "samples")
    report(paths, out, args)
    return 0


def slerp(a, b, t):
    """Spherical interpolation between latent vectors (falls back to linear when parallel)."""
    import torch

    a_n, b_n = a / a.norm(), b / b.norm()
    omega = torch.acos((a_n * b_n).sum().clamp(-1, 1))
    if float(omega) < 1e-6:
        return (1 - t) * a + t * b
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


def latent_walk(points, steps: int, mode: str):
    """(P, nz) points -> (F, nz) frames visiting each in turn, ``steps`` frames per leg."""
    import torch

    from .._checks import check_option

    mode = check_option("mode", mode, ("linear", "slerp"))
    frames = []
    for i in range(len(points) - 1):
        a, b = points[i], points[i + 1]
        for j in range(steps if i < len(points) - 2 else steps + 1):
            t = torch.tensor(j / steps, dtype=a.dtype)
            frames.append((1 - t) * a + t * b if mode == "linear" else slerp(a, b, t))
    return torch.stack(frames)


def cmd_interpolate(args) -> int:
    import numpy as np
    import torch

    from ..train.gan import generate, load_generator
    from ..viz.gan import save_strip

    if args.steps < 2:
        raise CLIError(f"--steps must be >= 2, got {args.steps}")
    G, _ = load_generator(args.checkpoint)
    nz = G.config.nz
    if args.points:
        if len(args.points) < 2:
            raise CLIError(f"--points must name at least two seeds, got {args.points}")
        pts = torch.stack([torch.randn(nz, generator=torch.Generator().manual_seed(s)) for s in args.points])
        walks = [latent_walk(pts, args.steps, args.mode)]
    else:
        g = torch.Generator().manual_seed(args.seed)
        walks = [latent_walk(torch.randn(2, nz, generator=g), args.steps, args.mode) for _ in range(max(1, args.rows))]
    frames = torch.stack([generate(G, 0, z=w[:, :, None, None]) for w in walks])  # (R, T, C, H, W)
    out = out_dir(args)
    np.save(out / "walk.npy", frames.numpy())
    paths = save_strip(frames, out / "interpolation.png", gif_path=out / "interpolation.gif")
    report([*paths, out / "walk.npy"], out, args)
    return 0


def cmd_arithmetic(args) -> int:
    import random

    import torch

    from ..metrics.evaluate import classifier_adapter
    from ..models.cnn import load_classifier
    from ..train.gan import generate, load_generator
    from ..viz.gan import save_arithmetic

    G, _ = load_generator(args.checkpoint)
    clf, cmeta = load_classifier(args.classifier)
    classes = [str(c) for c in cmeta["classes"]]
    z = torch.randn(args.pool, G.config.nz, 1, 1, generator=torch.Generator().manual_seed(args.seed))
    imgs = generate(G, 0, z=z)
    with torch.no_grad():
        logits = clf(classifier_adapter(cmeta)(imgs))
    conf, pred = torch.softmax(logits, 1).max(1)
    present = sorted({int(p) for p in pred.tolist() if int((pred == p).sum()) >= 3})
    if args.expr:
        terms = _parse_expr(args.expr, classes)
    else:
        if len(present) < 3:
            raise CLIError(f"the generator must produce at least three classes with >= 3 samples each to pick an expression, got {len(present)}")
        a, b, c = random.Random(args.seed).sample(present, 3)
        terms = [(+1, a), (-1, b), (+1, c)]
    rows, total, expr = [], torch.zeros_like(z[0]), ""
    for sign, k in terms:
        idx = torch.nonzero(pred == k).flatten()
        if len(idx) < 3:
            raise CLIError(f"class {classes[k]!r} must appear at least 3 times among {args.pool} samples "
                           f"(try a larger --pool), got {len(idx)}")
        best = idx[conf[idx].argsort(descending=True)[:3]]  # three most confident z's of the concept
        mean_z = z[best].mean(0)
        total = total + sign * mean_z
        ims = torch.cat([imgs[best], generate(G, 0, z=mean_z[None])])
        rows.append({"label": f"{'+' if sign > 0 else '-'} {classes[k]}", "images": ims,
                     "titles": [f"z{i + 1}" for i in range(3)] + ["mean z"]})
        expr += f"{' + ' if sign > 0 and expr else (' - ' if sign < 0 else '')}{classes[k]}"
    # the result, plus the result with small noise added (the paper shows a 3x3 of these)
    g = torch.Generator().manual_seed(args.seed + 1)
    zs = torch.stack([total] + [total + 0.25 * torch.randn(total.shape, generator=g) for _ in range(3)])
    res = generate(G, 0, z=zs)
    with torch.no_grad():
        res_pred = clf(classifier_adapter(cmeta)(res)).argmax(1).tolist()
    rows.append({"label": "= result", "images": res,
                 "titles": [f"pred {classes[p]}" for p in res_pred]})
    out = out_dir(args)
    paths = [save_arithmetic(rows, out / "arithmetic.png")]
    (out / "arithmetic.json").write_text(json.dumps({"expr": expr, "result_predicted": [classes[p] for p in res_pred]}, indent=2))
    paths.append(out / "arithmetic.json")
    if not quiet(args):
        print(f"{expr} -> predicted {', '.join(classes[p] for p in res_pred)}")
    report(paths, out, args)
    return 0


def _parse_expr(expr: str, classes: list[str]) -> list[tuple[int, int]]:
    import re

    toks = re.findall(r"([+-]?)\s*([^+\-\s]+)", expr.strip())
    if not toks:
        raise CLIError(f"--expr must look like 'A-B+C' with class names, got {expr!r}")
    terms = []
    for sign, name in toks:
        if name not in classes:
            raise CLIError(f"--expr terms must be class names ({', '.join(classes)}), got {name!r}")
        terms.append((-1 if sign == "-" else 1, classes.index(name)))
    return terms


def cmd_evaluate(args) -> int:
    from ..metrics.evaluate import evaluate_gan, format_table

    res = evaluate_gan(args.checkpoint, args.data, args.classifier, n_samples=args.n, probe=not args.no_probe,
                       seed=args.seed)
    out = out_dir(args)
    (out / "metrics.json").write_text(json.dumps(res, indent=2, default=float) + "\n")
    table = format_table(res)
    (out / "metrics.md").write_text(table + "\n")
    print(table)
    report([out / "metrics.json", out / "metrics.md"], out, args)
    return 0


def _spectrum_of(checkpoint, data, n: int, seed: int):
    from ..metrics.spectral import spectral_report
    from ..train.gan import generate, load_data, load_generator

    G, meta = load_generator(checkpoint)
    cfg = meta["model_config"]
    src = data or meta.get("data")
    if not src or src == "tensor":
        raise CLIError("--data must be given: the run was trained on in-memory images")
    real, _, _, _ = load_data(src, image_size=cfg.image_size, channels=cfg.channels, split="train")
    real = real[:n]
    fake = generate(G, len(real), seed=seed + 7)
    rep = spectral_report(real, fake, n_up=cfg.n_up)
    return rep, real, fake, cfg


def _print_spectrum(label: str, rep: dict) -> None:
    flags = ", ".join(f"({p['fy']},{p['fx']}) x{p['fake_over_real']:.1f}" for p in rep["flagged"]) or "none"
    print(f"{label}: spectral discrepancy {rep['discrepancy']:.4f}, high-frequency power ratio "
          f"{rep['high_freq_ratio']:.2f}, checkerboard peaks: {flags}")


def _json_report(rep: dict) -> dict:
    return {k: v for k, v in rep.items() if k not in ("real_power", "fake_power")}


def cmd_spectrum(args) -> int:
    import numpy as np

    from ..viz.gan import save_spectrum

    rep, _real, _fake, cfg = _spectrum_of(args.checkpoint, args.data, args.n, args.seed)
    out = out_dir(args)
    paths = [save_spectrum(rep, out / "spectrum.png", title=f"power spectrum ({cfg.upsample})")]
    (out / "spectrum.json").write_text(json.dumps(_json_report(rep), indent=2) + "\n")
    np.savez(out / "spectrum.npz", real_power=rep["real_power"], fake_power=rep["fake_power"])
    paths += [out / "spectrum.json", out / "spectrum.npz"]
    _print_spectrum(cfg.upsample, rep)
    report(paths, out, args)
    return 0


def cmd_compare(args) -> int:
    from ..viz.gan import save_compare, save_spectrum

    out = Path(args.out or args._out_default)
    out.mkdir(parents=True, exist_ok=True)
    results, grids, reports, real = {}, [], [], None
    for up in ("transposed", "resize_conv"):
        run = _run_train(args, out / up, upsample=up)
        rep, real, fake, _cfg = _spectrum_of(run.run_dir, args.data, args.n, args.seed)
        reports.append((up, rep))
        grids.append((up, fake[:36]))
        results[up] = {"spectrum": _json_report(rep), "train": run.metrics, "steps": run.step}
        if args.classifier:
            from ..metrics.evaluate import evaluate_gan

            ev = evaluate_gan(run.run_dir, args.data or _configs(args)[2], args.classifier, n_samples=2000, probe=False,
                              seed=args.seed)
            results[up]["metrics"] = {k: v["value"] for k, v in ev["metrics"].items()}
            results[up]["floors"] = {k: v["floor"] for k, v in ev["metrics"].items()}
        _print_spectrum(up, rep)
    paths = [save_compare(grids, reports, out / "compare.png", real=real),
             save_spectrum(reports, out / "compare_spectrum.png", title="transposed vs resize_conv")]
    (out / "compare.json").write_text(json.dumps(results, indent=2, default=lambda v: None if isinstance(v, float) and math.isnan(v) else str(v)) + "\n")
    paths.append(out / "compare.json")
    report(paths, out, args)
    return 0

"""``convscope gan ...``: train a DCGAN, use it, evaluate it offline, diagnose it in the Fourier domain."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from .common import (
    CLIError,
    add_out,
    float_type,
    int_type,
    out_dir,
    positive_int,
    quiet,
    report,
    seed_type,
)

# bounds on the options that size an array: beyond them the run is a typo, not an experiment
MAX_SAMPLES = 100_000  # -n of sample, evaluate, spectrum, compare
MAX_NROW = 256  # images per grid row
PRESET_NAMES = ("quick", "mnist")  # train.gan.PRESETS (kept here so --help needs no torch import)
OFF = "none"  # --augment none / --ema none: off, also over a preset's setting


def augment_type(text: str) -> str:
    """``--augment``: a DiffAugment/ADA spec in canonical form, or ``none``; a bad spec is one line, exit 2."""
    from .._checks import ConvscopeError
    from ..models.augment import parse_augment

    try:
        spec = parse_augment(text)
    except ConvscopeError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return OFF if spec is None else spec.to_spec()


def ema_type(text: str) -> float | str:
    """``--ema``: a decay in [0, 1), or ``none``."""
    if str(text).strip().lower() in (OFF, "off"):
        return OFF
    try:
        v = float_type(0.0, 1.0)(text)
    except argparse.ArgumentTypeError:
        v = math.nan
    if not (0.0 <= v < 1.0):
        raise argparse.ArgumentTypeError(f"must be a decay in [0, 1) such as 0.999, or none, got {text!r}")
    return v


def r1_type(text: str) -> float | str:
    """``--r1``: a gamma >= 0, or ``none``."""
    if str(text).strip().lower() in (OFF, "off"):
        return OFF
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not (0.0 <= v < math.inf):
        raise argparse.ArgumentTypeError(f"must be a gamma >= 0 such as 1.0, or none, got {text!r}")
    return v


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
    p.add_argument("--dry-run", action="store_true",
                   help="one step and one checkpoint in a temporary folder (a smoke test); nothing is kept")
    p.set_defaults(func=cmd_train, out=None, _out_default="runs/gan")

    p = gs.add_parser("sample", parents=[common], help="a grid and individual PNGs from a trained generator")
    p.add_argument("--checkpoint", required=True, help="GAN run folder or checkpoint file")
    p.add_argument("-n", type=int_type(1, MAX_SAMPLES), default=64, help="number of samples (default 64)")
    p.add_argument("--nrow", type=int_type(1, MAX_NROW), default=None, help="images per grid row")
    _no_ema(p)
    add_out(p, "gan-sample")
    p.set_defaults(func=cmd_sample)

    p = gs.add_parser("interpolate", parents=[common], help="walk the latent space (strip PNG + GIF)")
    p.add_argument("--checkpoint", required=True, help="GAN run folder or checkpoint file")
    p.add_argument("--mode", default="slerp", help="slerp (default) or linear")
    p.add_argument("--steps", type=int_type(2, 1000), default=10, help="frames per walk (default 10)")
    p.add_argument("--rows", type=int_type(1, 100), default=6, help="random walks, one per row (default 6)")
    p.add_argument("--points", type=seed_type, nargs="+", default=None, metavar="SEED",
                   help="chosen points: noise seeds; the walk visits them in order (one row)")
    _no_ema(p)
    add_out(p, "gan-interpolate")
    p.set_defaults(func=cmd_interpolate)

    p = gs.add_parser("arithmetic", parents=[common], help="latent vector arithmetic A - B + C with classifier-chosen z's")
    p.add_argument("--checkpoint", required=True, help="GAN run folder or checkpoint file")
    p.add_argument("--classifier", required=True, help="classifier run folder (convscope classify train)")
    p.add_argument("--expr", default=None, help="e.g. '7-1+4' in class names (default: three classes at random)")
    p.add_argument("--pool", type=int_type(3, MAX_SAMPLES), default=2000, help="z's drawn to find three confident ones per class")
    _no_ema(p)
    add_out(p, "gan-arithmetic")
    p.set_defaults(func=cmd_arithmetic)

    p = gs.add_parser("evaluate", parents=[common], help="Fréchet distance, KID, precision/recall, coverage, class balance, linear probe")
    p.add_argument("--checkpoint", required=True, help="GAN run folder or checkpoint file")
    p.add_argument("--data", required=True, help="the real images (train split reference, test split floor)")
    p.add_argument("--classifier", required=True, help="classifier run folder: the feature network")
    p.add_argument("-n", type=int_type(2, MAX_SAMPLES), default=10_000, help="generated images (default 10000)")
    p.add_argument("--no-probe", action="store_true", help="skip the linear probes")
    _no_ema(p)
    add_out(p, "gan-evaluate")
    p.set_defaults(func=cmd_evaluate)

    p = gs.add_parser("spectrum", parents=[common], help="power spectra of real vs generated; checkerboard peaks")
    p.add_argument("--checkpoint", required=True, help="GAN run folder or checkpoint file")
    p.add_argument("--data", default=None, help="the real images (default: the run's training data)")
    p.add_argument("-n", type=int_type(2, MAX_SAMPLES), default=2000, help="images of each kind (default 2000)")
    _no_ema(p)
    add_out(p, "gan-spectrum")
    p.set_defaults(func=cmd_spectrum)

    p = gs.add_parser("compare", parents=[common], help="train transposed vs resize_conv identically; grids, spectra, scores")
    _train_args(p)
    p.add_argument("-n", type=int_type(2, MAX_SAMPLES), default=2000, help="images for the spectra (default 2000)")
    p.add_argument("--classifier", default=None, help="also evaluate both with this classifier")
    p.set_defaults(func=cmd_compare, out=None, _out_default="runs/gan-compare")


def _no_ema(p) -> None:
    p.add_argument("--no-ema", action="store_true",
                   help="use the raw G even when the run was trained with --ema (default: the EMA generator)")


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
    p.add_argument("--augment", type=augment_type, default=None, metavar="SPEC",
                   help="augment every image D sees, real and fake (differentiable, so G learns through it): "
                        "diffaug[:translation,cutout,color] (DiffAugment), ada[:...] (ADA: probability steered "
                        "by D's overfitting, target 0.6) or none; strengths and settings as cutout=0.2, "
                        "translation=0.125, boundary=reflect, target=0.6 (default: the preset's, else none)")
    p.add_argument("--ema", type=ema_type, default=None, metavar="DECAY",
                   help="keep an exponential moving average of G's weights (decay ramped up from 0), e.g. 0.999; "
                        "sampling, evaluation and the epoch grids use it; none turns it off "
                        "(default: the preset's, else none)")
    p.add_argument("--r1", type=r1_type, default=None, metavar="GAMMA",
                   help="R1 gradient penalty gamma/2 * E|grad D(x)|^2 on the real images (Mescheder et al. 2018), "
                        "e.g. 1.0; none turns it off (default: the preset's, else none)")
    p.add_argument("--r1-every", type=int_type(1, 10_000), default=None, metavar="K",
                   help="lazy R1: the penalty, times K, every K-th step (StyleGAN2's lazy regularisation; "
                        "default: the preset's, else 1)")
    p.add_argument("--out", metavar="DIR", default=None, help="run folder")
    p.add_argument("--overwrite", action="store_true",
                   help="--out already holds a run: move it aside (to OUT.old-<time>) and start anew")


def _configs(args, *, upsample: str | None = None, saved: dict | None = None):
    """The model and training configs and the data from the options (over the saved run's on --resume)."""
    from ..data import load_dataset
    from ..models.dcgan import DCGANConfig
    from ..train.gan import PRESETS, GANTrainConfig

    if args.preset and args.preset not in PRESETS:
        raise CLIError(f"--preset must be one of {', '.join(PRESETS)}, got {args.preset!r}")
    preset = PRESETS[args.preset] if args.preset else None
    model = {**(saved["model"] if saved else {}), **(preset["model"] if preset else {})}
    train = {**(saved["train"] if saved else {}), **(preset["train"] if preset else {})}
    data = args.data or (preset["data"] if preset else (None if saved else "digits"))
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
    for key, name in (("epochs", "epochs"), ("batch_size", "batch_size"), ("d_win_steps", "d_win_steps"),
                      ("r1_every", "r1_every")):
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
    for key in ("augment", "ema", "r1"):
        v = getattr(args, key)
        if v is not None:
            train[key] = None if v == OFF else v
    return DCGANConfig.from_dict(model), GANTrainConfig.from_dict(train), data


def _run_train(args, out: Path, *, upsample: str | None = None, resume: bool = False):
    from ..train.engine import saved_settings
    from ..train.gan import CHECKPOINT_KIND, train_gan

    saved = saved_settings(out, CHECKPOINT_KIND) if resume else None
    config, tcfg, data = _configs(args, upsample=upsample, saved=saved)
    seed = None if saved and args.seed == 0 else args.seed  # a resumed run keeps its seed unless one is given
    return train_gan(config, data, out, train=tcfg, resume=resume, overwrite=args.overwrite,
                     dry_run=getattr(args, "dry_run", False), seed=seed, quiet=quiet(args))


def cmd_train(args) -> int:
    out = Path(args.out or args._out_default)
    run = _run_train(args, out, resume=args.resume)
    if run.rank != 0:  # under torchrun only rank 0 reports
        return 0
    if run.stopped == "dry_run":
        print(f"dry run: one step, loss_d {run.metrics.get('loss_d', float('nan')):.3f} "
              f"loss_g {run.metrics.get('loss_g', float('nan')):.3f}; nothing kept")
        return 0
    files = sorted(p for p in out.rglob("*") if p.is_file() and p.suffix in (".png", ".pt", ".jsonl", ".csv", ".json"))
    if run.stopped == "interrupted":
        print(f"interrupted at step {run.step}: saved {run.checkpoint}; continue with --resume")
        report(files, out, args)
        return run.exit_code
    if not quiet(args):
        m = run.metrics
        print(f"{run.stopped}: step {run.step}, epoch {run.epoch}, {run.images_per_s:.0f} images/s; "
              f"last epoch loss_d {m.get('loss_d', float('nan')):.3f} loss_g {m.get('loss_g', float('nan')):.3f}")
    report(files, out, args)
    return 0


def cmd_sample(args) -> int:
    from ..experiments.gan import sample, save_samples

    res = sample(args.checkpoint, args.n, seed=args.seed, ema=not args.no_ema)
    print(f"{args.n} samples from {res.generator}")
    out = out_dir(args)
    report(save_samples(res, out, nrow=args.nrow), out, args)
    return 0


def cmd_interpolate(args) -> int:
    from ..experiments.gan import interpolate, save_interpolation

    res = interpolate(args.checkpoint, mode=args.mode, steps=args.steps, rows=args.rows, points=args.points,
                      seed=args.seed, ema=not args.no_ema)
    print(f"latent walks of {res.generator}")
    out = out_dir(args)
    report(save_interpolation(res, out), out, args)
    return 0


def cmd_arithmetic(args) -> int:
    from ..experiments.gan import arithmetic, save_arithmetic

    res = arithmetic(args.checkpoint, args.classifier, expr=args.expr, pool=args.pool, seed=args.seed,
                     ema=not args.no_ema)
    out = out_dir(args)
    paths = save_arithmetic(res, out)
    if not quiet(args):
        print(f"{res.expr} -> predicted {', '.join(res.result_predicted)} ({res.generator})")
    report(paths, out, args)
    return 0


def cmd_evaluate(args) -> int:
    from ..experiments.gan import evaluate_generator, save_gan_evaluation
    from ..metrics.evaluate import format_table

    res = evaluate_generator(args.checkpoint, args.data, args.classifier, n=args.n, probe=not args.no_probe,
                             seed=args.seed, ema=not args.no_ema)
    out = out_dir(args)
    paths = save_gan_evaluation(res, out)
    print(format_table(res.result))
    report(paths, out, args)
    return 0


def _print_spectrum(label: str, rep: dict) -> None:
    flags = ", ".join(f"({p['fy']},{p['fx']}) x{p['fake_over_real']:.1f}" for p in rep["flagged"]) or "none"
    print(f"{label}: spectral discrepancy {rep['discrepancy']:.4f}, high-frequency power ratio "
          f"{rep['high_freq_ratio']:.2f}, checkerboard peaks: {flags}")


def cmd_spectrum(args) -> int:
    from ..experiments.gan import gan_spectrum, save_gan_spectrum

    res = gan_spectrum(args.checkpoint, args.data, n=args.n, seed=args.seed, ema=not args.no_ema)
    out = out_dir(args)
    paths = save_gan_spectrum(res, out)
    _print_spectrum(f"{res.upsample} ({res.generator})", res.report)
    report(paths, out, args)
    return 0


def cmd_compare(args) -> int:
    from ..experiments.gan import compare_upsampling, save_upsampling_comparison

    out = Path(args.out or args._out_default)
    out.mkdir(parents=True, exist_ok=True)
    runs, trained = {}, {}
    for up in ("transposed", "resize_conv"):
        run = _run_train(args, out / up, upsample=up)
        runs[up], trained[up] = run.run_dir, {"train": run.metrics, "steps": run.step}
    res = compare_upsampling(runs, args.data, args.classifier, n=args.n, seed=args.seed)
    for name, sp in zip(res.names, res.spectra):
        _print_spectrum(name, sp.report)
    report(save_upsampling_comparison(res, out, extra=trained), out, args)
    return 0

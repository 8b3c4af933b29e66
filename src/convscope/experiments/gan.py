"""Step 7 of the story: a trained DCGAN sampled, walked, added up, evaluated and diagnosed in frequency.

Training itself lives in :mod:`convscope.train`; these functions take its run folder
(or a checkpoint file). Every random draw comes from a seeded ``torch.Generator``.
A run trained with ``--ema`` is sampled from its EMA generator unless ``ema=False``;
each result's ``generator`` says which one drew it (for captions).
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._checks import ArgumentError
from ._common import keeps_global_rng, out_folder, save_json, save_npy

__all__ = [
    "Samples", "sample", "save_samples",
    "Interpolation", "interpolate", "save_interpolation",
    "Arithmetic", "arithmetic", "save_arithmetic",
    "GANSpectrum", "gan_spectrum", "save_gan_spectrum",
    "GANEvaluation", "evaluate_generator", "save_gan_evaluation",
    "GANSteps", "live_gan", "train_steps",
    "UpsamplingComparison", "compare_upsampling", "save_upsampling_comparison",
]


def _generator(source, ema: bool = True):
    """``(G, meta)`` of a run folder or checkpoint file (its EMA generator when it has one, unless
    ``ema=False``), or of a generator already in memory (a live one)."""
    import torch

    from ..models.dcgan import load_generator

    if isinstance(source, torch.nn.Module):
        return source, {"model_config": source.config, "generator": "G (live)"}
    return load_generator(source, ema=ema)


# ---------------------------------------------------------------- samples


@dataclass(frozen=True)
class Samples:
    """``images`` ``(n, C, S, S)`` in [-1, 1] from seeded noise; ``generator`` names the one that drew them."""

    images: np.ndarray
    seed: int
    generator: str = "G"


@keeps_global_rng
def sample(checkpoint: str | os.PathLike, n: int = 64, *, seed: int = 0, ema: bool = True) -> Samples:
    """``n`` images from the run's generator (its EMA one when trained with it, unless ``ema=False``;
    or a ``Generator`` in memory), noise drawn from ``seed``."""
    from ..models.dcgan import generate

    if n < 1:
        raise ArgumentError(f"-n must be >= 1, got {n}")
    G, meta = _generator(checkpoint, ema)
    return Samples(generate(G, n, seed=seed).numpy(), seed, meta["generator"])


def save_samples(result: Samples, out_dir: str | os.PathLike, *, nrow: int | None = None) -> list[Path]:
    """``grid.png``, ``samples.npy`` and one PNG per image under ``samples/``."""
    from ..viz.gan import save_grid, save_individual

    out = out_folder(out_dir)
    paths = [save_grid(result.images, out / "grid.png", nrow=nrow, title=f"samples from {result.generator}")]
    save_npy(out / "samples.npy", result.images, paths)
    paths += save_individual(result.images, out / "samples")
    return paths


# ---------------------------------------------------------------- interpolation


@dataclass(frozen=True)
class Interpolation:
    """``frames`` ``(rows, T, C, S, S)``: one latent walk per row; ``latents`` ``(rows, T, nz)``."""

    frames: np.ndarray
    latents: np.ndarray
    mode: str
    generator: str = "G"


@keeps_global_rng
def interpolate(checkpoint: str | os.PathLike, *, mode: str = "slerp", steps: int = 10, rows: int = 6,
                points: Sequence[int] | None = None, seed: int = 0, ema: bool = True) -> Interpolation:
    """Walk the latent space: ``rows`` random walks between two points, or one walk visiting ``points``
    (noise seeds) in order; ``steps`` frames per leg. ``checkpoint`` may be a ``Generator`` in memory."""
    import torch

    from ..models.dcgan import generate
    from ..models.latent import latent_walk

    if steps < 2:
        raise ArgumentError(f"--steps must be >= 2, got {steps}")
    G, meta = _generator(checkpoint, ema)
    nz = G.config.nz
    if points:
        if len(points) < 2:
            raise ArgumentError(f"--points must name at least two seeds, got {list(points)}")
        pts = torch.stack([torch.randn(nz, generator=torch.Generator().manual_seed(s)) for s in points])
        walks = [latent_walk(pts, steps, mode)]
    else:
        g = torch.Generator().manual_seed(seed)
        walks = [latent_walk(torch.randn(2, nz, generator=g), steps, mode) for _ in range(max(1, rows))]
    frames = torch.stack([generate(G, 0, z=w[:, :, None, None]) for w in walks])  # (R, T, C, H, W)
    return Interpolation(frames.numpy(), torch.stack(walks).numpy(), mode, meta["generator"])


def save_interpolation(result: Interpolation, out_dir: str | os.PathLike) -> list[Path]:
    """``interpolation.png`` (one strip per walk), ``interpolation.gif`` and ``walk.npy``."""
    from ..viz.gan import save_strip

    out = out_folder(out_dir)
    save_npy(out / "walk.npy", result.frames, [])
    paths = save_strip(result.frames, out / "interpolation.png", gif_path=out / "interpolation.gif")
    return [*paths, out / "walk.npy"]


# ---------------------------------------------------------------- arithmetic


@dataclass(frozen=True)
class Arithmetic:
    """Latent arithmetic ``A - B + C`` on concepts the classifier recognises.

    Attributes:
        expr: the expression in class names; terms: ``(sign, class)`` pairs.
        term_images: per term ``(4, C, S, S)``: its three most confident samples and the image of their mean ``z``.
        result_images: ``(4, C, S, S)``: ``G(sum)``, then with small noise added.
        result_predicted: the classifier's class for each result image.
    """

    expr: str
    terms: tuple[tuple[int, str], ...]
    term_images: tuple[np.ndarray, ...]
    result_images: np.ndarray
    result_predicted: tuple[str, ...]
    generator: str = "G"


@keeps_global_rng
def arithmetic(checkpoint: str | os.PathLike, classifier: str | os.PathLike, *, expr: str | None = None,
               pool: int = 2000, seed: int = 0, ema: bool = True) -> Arithmetic:
    """Pick three confident ``z`` per concept among ``pool`` draws, average them and add/subtract the means.

    ``expr`` (e.g. ``'7-1+4'`` in class names) defaults to three classes at random.
    """
    import torch

    from ..metrics.evaluate import classifier_adapter
    from ..models.cnn import load_classifier
    from ..models.dcgan import generate, load_generator
    from ..models.latent import latent_arithmetic, parse_expression

    G, gmeta = load_generator(checkpoint, ema=ema)
    clf, cmeta = load_classifier(classifier)
    classes = [str(c) for c in cmeta["classes"]]
    z = torch.randn(pool, G.config.nz, 1, 1, generator=torch.Generator().manual_seed(seed))
    imgs = generate(G, 0, z=z)
    with torch.no_grad():
        logits = clf(classifier_adapter(cmeta)(imgs))
    conf, pred = torch.softmax(logits, 1).max(1)
    present = sorted({int(p) for p in pred.tolist() if int((pred == p).sum()) >= 3})
    if expr:
        terms = parse_expression(expr, classes)
    else:
        if len(present) < 3:
            raise ArgumentError("the generator must produce at least three classes with >= 3 samples each to pick "
                                f"an expression, got {len(present)}")
        a, b, c = random.Random(seed).sample(present, 3)
        terms = [(+1, a), (-1, b), (+1, c)]
    term_images, means, text = [], [], ""
    for sign, k in terms:
        idx = torch.nonzero(pred == k).flatten()
        if len(idx) < 3:
            raise ArgumentError(f"class {classes[k]!r} must appear at least 3 times among {pool} samples "
                                f"(try a larger --pool), got {len(idx)}")
        best = idx[conf[idx].argsort(descending=True)[:3]]  # three most confident z's of the concept
        mean_z = z[best].mean(0)
        means.append((sign, mean_z))
        term_images.append(torch.cat([imgs[best], generate(G, 0, z=mean_z[None])]).numpy())
        text += f"{' + ' if sign > 0 and text else (' - ' if sign < 0 else '')}{classes[k]}"
    total = latent_arithmetic(means)
    # the result, plus the result with small noise added (the paper shows a 3x3 of these)
    g = torch.Generator().manual_seed(seed + 1)
    zs = torch.stack([total] + [total + 0.25 * torch.randn(total.shape, generator=g) for _ in range(3)])
    res = generate(G, 0, z=zs)
    with torch.no_grad():
        res_pred = clf(classifier_adapter(cmeta)(res)).argmax(1).tolist()
    return Arithmetic(text, tuple((s, classes[k]) for s, k in terms), tuple(term_images), res.numpy(),
                      tuple(classes[p] for p in res_pred), gmeta["generator"])


def save_arithmetic(result: Arithmetic, out_dir: str | os.PathLike) -> list[Path]:
    """``arithmetic.png`` (one row per term, then the result) and ``arithmetic.json``."""
    from .._io import atomic_write_text
    from ..viz.gan import save_arithmetic as draw

    out = out_folder(out_dir)
    rows = [{"label": f"{'+' if s > 0 else '-'} {c}", "images": ims, "titles": [f"z{i + 1}" for i in range(3)] + ["mean z"]}
            for (s, c), ims in zip(result.terms, result.term_images)]
    rows.append({"label": "= result", "images": result.result_images,
                 "titles": [f"pred {c}" for c in result.result_predicted]})
    paths = [draw(rows, out / "arithmetic.png")]
    text = json.dumps({"expr": result.expr, "result_predicted": list(result.result_predicted),
                       "generator": result.generator}, indent=2)
    paths.append(atomic_write_text(out / "arithmetic.json", text))
    return paths


# ---------------------------------------------------------------- spectrum


@dataclass(frozen=True)
class GANSpectrum:
    """Power spectra of real and generated images (:func:`convscope.metrics.spectral.spectral_report`).

    Attributes:
        report: the spectral report (profiles, discrepancy, peaks, 2-D mean spectra).
        discrepancy, high_freq_ratio: its two summary numbers (0 and 1 would be a perfect match).
        real, fake: the images compared, ``(n, C, S, S)`` in [-1, 1].
        upsample: the generator's upsampling (``transposed`` or ``resize_conv``).
        generator: which generator drew ``fake`` (``"G"`` or ``"EMA of G (decay ...)"``).
    """

    report: dict
    discrepancy: float
    high_freq_ratio: float
    real: np.ndarray
    fake: np.ndarray
    upsample: str
    generator: str = "G"

    def to_json(self) -> dict:
        return {**{k: v for k, v in self.report.items() if k not in ("real_power", "fake_power")},
                "generator": self.generator}


@keeps_global_rng
def gan_spectrum(checkpoint: str | os.PathLike, data=None, *, n: int = 2000, seed: int = 0,
                 ema: bool = True) -> GANSpectrum:
    """Compare the power spectra of ``n`` real images (default: the run's data) and ``n`` generated ones.

    ``checkpoint`` may be a ``Generator`` in memory; then ``data`` must be given.
    """
    import torch

    from ..metrics.spectral import spectral_report
    from ..models.dcgan import generate, load_data

    G, meta = _generator(checkpoint, ema)
    cfg = meta["model_config"]
    src = data or meta.get("data")
    if not src or src == "tensor":
        raise ArgumentError("--data must be given: the run was trained on in-memory images")
    real, _, _, _ = load_data(src, image_size=cfg.image_size, channels=cfg.channels, split="train")
    # a seeded random subset, not the first n: a split is stored class by class (mnist-5k's first 2,000
    # training images are the digits 0-4 only), and the spectra must compare like with like
    pick = torch.randperm(len(real), generator=torch.Generator().manual_seed(seed))[:n]
    real = real[pick.sort().values]
    fake = generate(G, len(real), seed=seed + 7)
    rep = spectral_report(real, fake, n_up=cfg.n_up)
    return GANSpectrum(rep, float(rep["discrepancy"]), float(rep["high_freq_ratio"]), real.numpy(), fake.numpy(),
                       str(cfg.upsample), meta["generator"])


def save_gan_spectrum(result: GANSpectrum, out_dir: str | os.PathLike) -> list[Path]:
    """``spectrum.png``, ``spectrum.json`` and ``spectrum.npz`` (the 2-D mean spectra)."""
    from .._io import atomic_save
    from ..viz.gan import save_spectrum

    out = out_folder(out_dir)
    paths = [save_spectrum(result.report, out / "spectrum.png",
                           title=f"power spectrum ({result.upsample}; {result.generator})")]
    save_json(out / "spectrum.json", result.to_json(), paths)
    atomic_save(out / "spectrum.npz", lambda f: np.savez(f, real_power=result.report["real_power"],
                                                         fake_power=result.report["fake_power"]))
    paths.append(out / "spectrum.npz")
    return paths


# ---------------------------------------------------------------- transposed vs resize_conv


@dataclass(frozen=True)
class UpsamplingComparison:
    """Generators that differ only in their upsampling, side by side (``gan compare``).

    Attributes:
        names: the runs' labels (e.g. ``("transposed", "resize_conv")``).
        spectra: one :class:`GANSpectrum` per run (same real images, same noise seed).
        metrics, floors: per run, every offline metric's value and real-vs-real floor
            (empty when no classifier was given).
    """

    names: tuple[str, ...]
    spectra: tuple[GANSpectrum, ...]
    metrics: tuple[dict, ...]
    floors: tuple[dict, ...]

    def to_json(self) -> dict:
        return {name: {"spectrum": sp.to_json(), "metrics": m, "floors": f}
                for name, sp, m, f in zip(self.names, self.spectra, self.metrics, self.floors)}


def compare_upsampling(runs, data=None, classifier=None, *, n: int = 2000, n_eval: int = 2000,
                       seed: int = 0) -> UpsamplingComparison:
    """Compare trained generators (``{label: run folder}``) by their spectra and, given a classifier
    run, by every offline metric in its feature space."""
    names, spectra, metrics, floors = [], [], [], []
    for name, run in dict(runs).items():
        spectra.append(gan_spectrum(run, data, n=n, seed=seed))
        m = f = {}
        if classifier is not None:
            src = data or _generator(run)[1].get("data")  # default: the data the run was trained on
            if not src or src == "tensor":
                raise ArgumentError(f"data must be given for a run trained on in-memory images, got {data!r}")
            ev = evaluate_generator(run, src, classifier, n=n_eval, probe=False, seed=seed)
            m = {k: v["value"] for k, v in ev.metrics.items()}
            f = {k: v["floor"] for k, v in ev.metrics.items()}
        names.append(str(name))
        metrics.append(m)
        floors.append(f)
    return UpsamplingComparison(tuple(names), tuple(spectra), tuple(metrics), tuple(floors))


def save_upsampling_comparison(result: UpsamplingComparison, out_dir: str | os.PathLike, *,
                               extra: dict | None = None) -> list[Path]:
    """``compare.png`` (samples and 2-D spectra), ``compare_spectrum.png`` (radial profiles) and
    ``compare.json`` (spectra, metrics, floors, plus ``extra[name]`` such as training numbers)."""
    from ..viz.gan import save_compare, save_spectrum

    out = out_folder(out_dir)
    reports = [(n, sp.report) for n, sp in zip(result.names, result.spectra)]
    grids = [(n, sp.fake[:36]) for n, sp in zip(result.names, result.spectra)]
    written = [save_compare(grids, reports, out / "compare.png", real=result.spectra[-1].real),
               save_spectrum(reports, out / "compare_spectrum.png", title=" vs ".join(result.names))]
    body = result.to_json()
    for name, more in (extra or {}).items():
        body.setdefault(name, {}).update(more)
    save_json(out / "compare.json", body, written)
    return written


# ---------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class GANEvaluation:
    """Every offline metric (:func:`convscope.metrics.evaluate.evaluate_gan`): ``result['metrics'][name]``
    has ``value``, ``ideal``, ``floor`` and ``better``."""

    result: dict

    @property
    def metrics(self) -> dict:
        return self.result["metrics"]

    @property
    def generator(self) -> str:
        """Which generator was judged (``"G"`` or ``"EMA of G (decay ...)"``)."""
        return self.result.get("generator", "G")


@keeps_global_rng
def evaluate_generator(checkpoint: str | os.PathLike, data, classifier: str | os.PathLike, *, n: int = 10_000,
                       probe: bool = True, seed: int = 0, ema: bool = True) -> GANEvaluation:
    """Fréchet distance, KID, precision/recall, coverage, class balance and linear probes in the classifier's
    features, of the run's EMA generator when it has one (unless ``ema=False``)."""
    from ..metrics.evaluate import evaluate_gan
    from ..models.dcgan import load_generator

    return GANEvaluation(evaluate_gan(checkpoint, data, classifier, n_samples=n, probe=probe, seed=seed,
                                      generator=load_generator(checkpoint, ema=ema)))


def save_gan_evaluation(result: GANEvaluation, out_dir: str | os.PathLike) -> list[Path]:
    """``metrics.json`` and ``metrics.md`` (the table)."""
    from .._io import atomic_write_text, json_safe
    from ..metrics.evaluate import format_table

    out = out_folder(out_dir)
    paths: list[Path] = []
    atomic_write_text(out / "metrics.json", json.dumps(json_safe(result.result), indent=2, allow_nan=False) + "\n")
    paths.append(out / "metrics.json")
    atomic_write_text(out / "metrics.md", format_table(result.result) + "\n")
    paths.append(out / "metrics.md")
    return paths


# ---------------------------------------------------------------- live training, one step at a time


@dataclass(frozen=True)
class GANSteps:
    """What :func:`train_steps` did: per step its number, both losses, D(x) and D(G(z)) (batch means of the
    sigmoid), and the speed of the whole call in images per second."""

    steps: tuple[int, ...]
    loss_d: tuple[float, ...]
    loss_g: tuple[float, ...]
    d_real: tuple[float, ...]
    d_fake: tuple[float, ...]
    images_per_s: float


@keeps_global_rng
def live_gan(data="digits", *, image_size: int = 16, nz: int = 32, ngf: int = 32, ndf: int = 32,
             batch_size: int = 64, n_fixed: int = 16, seed: int = 0):
    """A small DCGAN ready to train step by step in memory: the training engine's GAN plugin in a
    :class:`~convscope.train.engine.Stepper`. Nothing is written; D may win for ever (a live session shows it).

    ``stepper.plugin.G`` is the generator (:func:`sample`, :func:`interpolate` and
    :func:`gan_spectrum` take it), ``stepper.plugin.fixed_noise`` the fixed noise.
    """
    import torch

    from ..models.dcgan import DCGANConfig
    from ..train.engine import Context, Stepper
    from ..train.gan import GANPlugin, GANTrainConfig

    cfg = DCGANConfig(image_size=image_size, channels=1, nz=nz, ngf=ngf, ndf=ndf)
    tcfg = GANTrainConfig(batch_size=batch_size, n_fixed=n_fixed, plots=False, d_win_steps=2**62, device="cpu")
    # run_dir is never written with plots off; /dev/null makes any write fail loudly rather than land somewhere
    ctx = Context(device=torch.device("cpu"), rank=0, world=1, main=True, run_dir=Path(os.devnull), dry_run=False)
    return Stepper(GANPlugin(cfg, tcfg, data, seed, None, ctx))


def train_steps(stepper, n: int = 1, *, lr_g: float | None = None, lr_d: float | None = None,
                loss: str | None = None) -> GANSteps:
    """``n`` alternating D/G updates of a :func:`live_gan`, with the learning rates and the loss set first
    (``None`` keeps the current one)."""
    import time

    from .._checks import check_float, check_int

    n = check_int("steps", n, min_value=1)
    lr_g = None if lr_g is None else check_float("lr_g", lr_g, min_value=0.0, strict_min=True)
    lr_d = None if lr_d is None else check_float("lr_d", lr_d, min_value=0.0, strict_min=True)
    stepper.plugin.set_hyperparameters(lr_g=lr_g, lr_d=lr_d, loss=loss)
    rows, images = [], 0
    t0 = time.perf_counter()
    for _ in range(n):
        values, k = stepper()
        rows.append((stepper.step, values))
        images += k
    dt = max(time.perf_counter() - t0, 1e-9)
    return GANSteps(tuple(s for s, _ in rows), *(tuple(v[key] for _, v in rows)
                                                 for key in ("loss_d", "loss_g", "d_real", "d_fake")),
                    images_per_s=images / dt)

"""The tour: the seed's story in its order, on bundled data, as an illustrated HTML report.

1. Feature maps  2. The convolution theorem  3. The Fourier domain  4. Diffusion
5. Fractionally-strided convolution  6. Recognition  7. DCGAN

Each step is a function ``step_xxx(ctx)`` that writes its figures into the
report folder and adds text, figures and tables to the :class:`Report`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .viz.report import Report

__all__ = ["run_tour", "STEPS", "TourContext"]


@dataclass
class TourContext:
    out: Path
    report: Report
    quick: bool = True
    image: str | None = None
    seed: int = 0
    quiet: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    results: dict[str, object] = field(default_factory=dict)

    def path(self, *parts: str) -> Path:
        p = self.out.joinpath(*parts)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def log(self, msg: str) -> None:
        if not self.quiet:
            print(msg, flush=True)


def _and_list(items) -> str:
    """``[0, 10, 100]`` -> ``'0, 10 and 100'``."""
    items = [str(i) for i in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _fmt_ms(s: float) -> str:
    return f"{s * 1e3:.2f} ms"


# --------------------------------------------------------------------------------------
# 1. feature maps


def step_feature_maps(ctx: TourContext) -> None:
    from .data.images import load_image
    from .experiments.feature_maps import feature_maps, save_feature_maps
    from .kernels import get_kernel

    r = ctx.report
    r.section("feature-maps", "1. Feature maps: image ⊛ kernel")
    r.paragraph(
        "A convolution mixes information: each output pixel is a weighted sum (an inner product) of its "
        "neighbourhood. The seed's kernel has 8 in the centre and −1 around it; it sums to zero, so flat "
        "regions vanish and only edges survive. Each colour channel gets its own feature map."
    )
    img = load_image(ctx.image or "astronaut", size=192 if ctx.quick else 320).astype(np.float64)
    kernels = [("laplacian8", get_kernel("laplacian8")), ("sobel_x", get_kernel("sobel_x")),
               ("gaussian", get_kernel("gaussian", 7))]
    res = feature_maps(img, kernels, boundary="reflect", pool=("max", 2), pool_magnitude=True)
    (p,) = save_feature_maps(res, ctx.out, panel="1_feature_maps.png", data=False)
    r.figure(
        p,
        "Each row convolves the photograph with one kernel. The seed's Laplacian (top) lights up edges in "
        "every channel and is grey (zero) on flat skin and sky; Sobel responds to vertical edges with a sign "
        "that tells dark-to-light from light-to-dark; the Gaussian only blurs. The last column max-pools "
        "|feature map| 2×2: the edges survive at half the resolution.",
    )
    r.table(
        ["kernel", "sum of weights", "response on a flat image"],
        [["laplacian8 (seed)", f"{res.kernel_sums[0]:g}", f"{res.flat_responses[0]:g}"],
         ["gaussian 7×7", f"{res.kernel_sums[2]:.6f}", "1 (preserves brightness)"]],
        "Zero-sum kernels detect change; unit-sum kernels average.",
    )


def _log_files(ctx: TourContext, what: str, paths: list[Path], d: Path) -> None:
    """tour.log: what each step wrote and where (the tour prints one line per step)."""
    with open(ctx.out / "tour.log", "a") as log:
        print(f"{what}: wrote {len(paths)} file{'s' if len(paths) != 1 else ''} to {d.resolve()}", file=log)


# --------------------------------------------------------------------------------------
# 2. the convolution theorem


def step_theorem(ctx: TourContext) -> None:
    from .data.images import load_image
    from .experiments.theorem import save_theorem, theorem

    r = ctx.report
    r.section("theorem", "2. The convolution theorem")
    r.paragraph(
        "The seed's formula: input ⊛ kernel = F⁻¹(F[input]·F[kernel]). A convolution in space is a "
        "product in frequency. The discrete Fourier transform is periodic, so the product gives a "
        "circular convolution unless both signals are zero-padded to at least N+M−1 samples; then it "
        "equals the linear convolution to rounding error."
    )
    x = load_image(ctx.image or "camera", gray=True, size=192 if ctx.quick else 256).astype(np.float64)
    res = theorem(x, "gaussian:15")
    d = ctx.path("2_theorem", ".keep").parent
    _log_files(ctx, "theorem", save_theorem(res, d, kernel_label="gaussian:15"), d)
    r.figure(
        d / "theorem_panel.png",
        "Spatial and FFT results are indistinguishable; their difference (log scale) is at the level of "
        "floating-point rounding. Without padding the FFT result is circular: light from one edge leaks "
        "into the opposite one, and the wrap-around error is confined to a band as wide as the kernel.",
    )
    r.table(
        ["", "spatial", "FFT", "largest |difference|"],
        [["zero-padded (linear)", _fmt_ms(res.spatial_seconds), _fmt_ms(res.frequency_seconds), f"{res.max_abs_diff:.1e}"],
         ["unpadded (circular)", _fmt_ms(res.circular_spatial_seconds), _fmt_ms(res.circular_frequency_seconds),
          f"{res.max_wrap_error:.3f} (wrap-around)"]],
        "Timings of the two routes on this machine (float64, 15×15 Gaussian) and how far apart they land.",
    )


# --------------------------------------------------------------------------------------
# 3. signals: the continuous theorem, the song and its equaliser bars


def step_signals(ctx: TourContext) -> None:
    from .experiments.signals import (
        continuous_theorem,
        filter_song,
        save_continuous_theorem,
        save_filter_song,
        save_song,
        song,
    )

    r = ctx.report
    r.section("signals", "3. Signals: the song, its equaliser bars, and the continuous theorem")
    ct = continuous_theorem()
    d = ctx.path("3_signals", ".keep").parent
    _log_files(ctx, "continuous theorem", save_continuous_theorem(ct, d / "theorem"), d)
    r.paragraph(
        "The lecture notes write the theorem for functions first: h = f ⊛ g = ∫ f(x−u) g(u) du = "
        "F⁻¹(√(2π) F[f] F[g]). The √(2π) belongs to the unitary angular-frequency transform "
        "F[f](ω) = (2π)^(−1/2) ∫ f(x) e^(−iωx) dx; with the ordinary frequency e^(−2πiξx) it disappears, "
        "and the DFT's own theorem needs no factor at all. Below, the continuous transforms are "
        "approximated by the DFT scaled by dx (with the phase of the grid's origin) and compared with the "
        "exact ones."
    )
    r.figure(d / "theorem" / "continuous_theorem.png",
             f"f, g and f ⊛ g, and their transforms: continuous curves against the DFT's samples. With the factor "
             f"{ct.factor:.4f} = √(2π) the theorem holds to {ct.max_error:.1e}; without it the two sides differ by "
             f"{ct.max_error_without_factor:.2g}.")
    s = song("sax")
    _log_files(ctx, "song", save_song(s, d / "song", gif_seconds=8 if ctx.quick else 16), d)
    if getattr(s.audio, "note", None):
        r.paragraph(s.audio.note)
    r.paragraph(
        "\"If the red signal is a song then the blue values might be the equalizer bars displayed by your mp3 "
        "player.\" Here is a song: a saxophone, 16 seconds at 48 kHz."
    )
    r.audio(d / "song" / "song.wav", "The song (play it).")
    notes = ", ".join(p.label for p in s.peaks)
    r.figure(d / "song" / "time_frequency.png",
             f"The time domain (red) into the frequency domain (blue); the strongest peaks are named as notes: {notes}.")
    r.figure(d / "song" / "equaliser.gif",
             "The equaliser bars: the energy in 16 log-spaced bands, frame by frame, in time with the sound.")
    f = filter_song(s.audio, "lowpass", 800.0)
    _log_files(ctx, "filtered song", save_filter_song(f, d / "filtered"), d)
    r.audio(d / "filtered" / "filtered.wav", f"The same song through a {f.label}: {f.kept_energy:.0%} of its energy kept.")
    r.figure(d / "filtered" / "filtered.png",
             "Frequency filtering is convolution: the spectrum before and after, and the filter's gain.")


# --------------------------------------------------------------------------------------
# 4. the Fourier domain


def step_fourier(ctx: TourContext) -> None:
    from .data.images import load_image
    from .experiments.filtering import filtering, save_filtering
    from .experiments.spectrum import (
        image_spectrum,
        save_spectral_laplacian,
        save_spectrum,
        spectral_laplacian,
    )

    r = ctx.report
    r.section("fourier", "4. The Fourier domain for images")
    x = load_image(ctx.image or "camera", gray=True, size=192 if ctx.quick else 256).astype(np.float64)
    spec = image_spectrum(x)
    d = ctx.path("3_spectrum", ".keep").parent
    _log_files(ctx, "spectrum", save_spectrum(spec, d), d)
    r.paragraph(
        "The centred spectrum puts low frequencies in the middle. Natural photographs carry most of their "
        f"power at low frequencies and fall off roughly as 1/f²: here the radial power spectrum has slope "
        f"{spec.slope:.2f} on log–log axes (white noise would be flat, slope 0)."
    )
    r.figure(d / "spectrum_panel.png",
             "The image, its log magnitude, its phase and the radial power spectrum with the fitted power law. "
             "The bright cross comes from the image's edges, which the DFT sees as jumps (it assumes periodicity).")
    d = ctx.path("3_lowpass", ".keep").parent
    _log_files(ctx, "lowpass", save_filtering(filtering(x, "lowpass", 0.06), d), d)
    r.figure(d / "filter_panel.png",
             "Low-pass filtering: multiply the spectrum by a mask and transform back; 'high frequencies eliminated', "
             "as the seed says. The bottom row compares the ideal (sharp) mask with the Gaussian one: the ideal "
             "mask rings (Gibbs oscillations parallel to edges), the Gaussian does not.")
    d = ctx.path("3_highpass", ".keep").parent
    _log_files(ctx, "highpass", save_filtering(filtering(x, "highpass", 0.05), d), d)
    r.figure(d / "filter_panel.png",
             "High-pass filtering keeps what the low-pass removed: the edges and the texture.")
    # spectral derivative: the Laplacian by multiplication with -(k_x^2 + k_y^2)
    (p,) = save_spectral_laplacian(spectral_laplacian(x, boundary="symmetric"), ctx.path("3_spectral_laplacian.png"))
    r.figure(p, "Fourier transforms simplify differentiation too (the fluid-mechanics remark): multiplying the "
                "spectrum by (ik)ⁿ differentiates. The spectral Laplacian matches the 5-point finite "
                "difference at low frequencies and is sharper at high ones.")


# --------------------------------------------------------------------------------------
# 4. diffusion


def step_diffusion(ctx: TourContext) -> None:
    from .diffusion import moments, propagator
    from .experiments.diffusion import diffusion, drop, save_diffusion
    from .kernels import get_kernel

    r = ctx.report
    r.section("diffusion", "5. Convolution as diffusion")
    P = propagator(get_kernel("laplacian8"))
    r.paragraph(
        "Softmax turns the seed's kernel into a probability density: non-negative and summing to 1. Read as a "
        "propagator, it is the probability that a grain of salt jumps by each offset in one step; pixel "
        "intensity is the salt concentration, and convolving with the propagator again and again lets it "
        "diffuse. By the central limit theorem, n steps tend to the heat equation ∂u/∂t = D∇²u."
    )
    Pn = np.asarray(P)
    r.table(
        ["", "left", "centre", "right"],
        [[row, *(f"{v:.7f}" for v in Pn[i])] for i, row in enumerate(["top", "middle", "bottom"])],
        "softmax of the seed's kernel (8 in the centre, −1 around). The seed prints 0.9992 and 0.0001; the exact "
        f"values are e⁸/(e⁸+8e⁻¹) = {Pn[1, 1]:.6f} and e⁻¹/(e⁸+8e⁻¹) = {Pn[0, 0]:.7f}.",
    )
    m = moments(P)
    steps = [0, 10, 100, 1000] if ctx.quick else [0, 10, 100, 1000, 10000]
    res = diffusion(drop(128, "disc"), "laplacian8", temperature=4.0, steps=steps, compare_heat=True)
    d = ctx.path("4_diffusion", ".keep").parent
    _log_files(ctx, "diffuse", save_diffusion(res, d, kernel_label="laplacian8", what="a drop of salt (disc)",
                                              shared=False), d)
    r.paragraph(
        f"At temperature 1 the salt barely moves (variance {m.variance[0]:.2e} px² per step). At temperature 4 the "
        "propagator spreads further; a disc of salt diffuses as below, with a no-flux (mirror) boundary so no salt is lost."
    )
    for name, cap in [
        ("strip.png", f"A drop of salt after {_and_list(res.steps)} steps of convolution with softmax(laplacian8/4)."),
        ("diffusion.gif", "The same diffusion as an animation."),
        ("profile.png", "Concentration along a line through the drop at each step (solid) against the exact "
                        "heat-equation solution with the propagator's D (dashed): they converge as steps grow."),
        ("mass_entropy.png", "Total salt stays constant (mass is conserved) while the entropy of the "
                             "distribution rises: diffusion only spreads."),
        ("propagator.png", "The propagator softmax(laplacian8/4) as a heat map with its moments."),
    ]:
        if (d / name).exists():
            r.figure(d / name, cap)


# --------------------------------------------------------------------------------------
# 5. fractionally-strided convolution


def step_fractional(ctx: TourContext) -> None:
    from .experiments.fractional_stride import fractional_stride, save_fractional_stride

    r = ctx.report
    r.section("fractional", "6. Fractionally-strided convolution: 3×3 → 5×5")
    r.paragraph(
        "A DCGAN generator grows images with fractionally-strided (transposed) convolutions. The seed "
        "describes the construction: upsample the 3×3 input by inserting a zero between samples (stride 2 "
        "gives 5×5), pad, then run an ordinary full convolution with a 3×3 kernel: the output is 5×5."
    )
    res = fractional_stride()
    (p,) = save_fractional_stride(res, ctx.path("5_fractional_stride.png"), window=(1, 1))
    r.figure(
        p,
        "Step by step: the 3×3 input (1), zeros inserted between samples (2, hatched), one pixel of zero "
        "padding (3; the red window is where the kernel sits for output pixel (1, 1)), the kernel (4), and "
        "the 5×5 output (5). Output pixels on the inserted rows and columns only see the kernel's "
        "off-centre taps: uneven overlap is where GAN checkerboard artefacts come from.",
    )
    r.table(
        ["quantity", "value"],
        [["input", "3×3"], ["after zero insertion", f"{res.zero_inserted.shape[-2]}×{res.zero_inserted.shape[-1]}"],
         ["output", f"{res.output.shape[-2]}×{res.output.shape[-1]}"],
         ["max |ours − torch.conv_transpose2d|", f"{res.max_abs_diff:.1e}"]],
        "The construction equals torch's transposed convolution exactly.",
    )
    ctx.results["fractional_max_diff"] = res.max_abs_diff


# --------------------------------------------------------------------------------------
# 6. recognition


def _train_classifier(ctx: TourContext, run: Path, data: str, size: int, epochs: int) -> None:
    """``convscope classify train --data DATA --image-size SIZE --epochs EPOCHS`` into ``run``."""
    from .models.cnn import CNNConfig
    from .train.classify import TrainConfig, train_classifier

    tcfg = TrainConfig.from_dict({"data": data, "image_size": size, "epochs": epochs, "seed": ctx.seed})
    train_classifier(CNNConfig(), tcfg, run, quiet=True, overwrite=True)  # writes curves.png itself


def _train_gan(ctx: TourContext, run: Path):
    """``convscope gan train --preset quick|mnist`` into ``run``."""
    from .models.dcgan import DCGANConfig
    from .train.gan import PRESETS, GANTrainConfig, train_gan

    preset = PRESETS["quick" if ctx.quick else "mnist"]
    train = {**preset["train"], "device": "cpu", "compile": False}
    if not ctx.quick:
        train["time_limit_s"] = 12 * 60
    return train_gan(DCGANConfig(**{"channels": 1, **preset["model"]}), preset["data"], run,
                     train=GANTrainConfig(**train), seed=ctx.seed, overwrite=True, quiet=True)


def step_recognition(ctx: TourContext) -> None:
    from .experiments.classify import (
        evaluate_classifier,
        learned_filters,
        save_classifier_evaluation,
        save_learned_filters,
    )

    r = ctx.report
    r.section("recognition", "7. Recognition: a CNN does the feature engineering")
    data, size, epochs = ("digits", 16, 6) if ctx.quick else ("mnist-5k", 32, 12)
    r.paragraph(
        "The seed opens with image recognition: AlexNet won ILSVRC-2012 as team SuperVision. The point of a "
        "CNN is that it learns its kernels (the feature engineering) from data instead of having them "
        f"designed. Here a LeNet-5-style network trains for {epochs} epochs on the bundled "
        f"{'8×8 scikit-learn digits (upscaled to 16×16)' if data == 'digits' else '5,000 MNIST digits'}."
    )
    run = ctx.path("6_classifier", ".keep").parent
    _train_classifier(ctx, run, data, size, epochs)
    ctx.results["classifier"] = run
    ev = evaluate_classifier(run, data)
    d = ctx.path("6_eval", ".keep").parent
    _log_files(ctx, "classify eval", save_classifier_evaluation(ev, d), d)
    f = ctx.path("6_filters", ".keep").parent
    _log_files(ctx, "classify filters", save_learned_filters(learned_filters(run), f), f)
    r.figure(f / "filters.png",
             "What the network learned: its first-layer kernels (left), the magnitudes of their Fourier spectra "
             "(middle: most are oriented band-pass filters, edge and stroke detectors like the hand-made Sobel "
             "and Laplacian of step 1) and the feature maps they produce on one digit (right).")
    if (run / "curves.png").exists():
        r.figure(run / "curves.png", "Training and validation loss and accuracy per epoch.")
    r.figure(d / "confusion.png", "Confusion matrix on the held-out test split: the diagonal is what the "
                                  "network got right; off-diagonal cells show which digits it confuses.")
    worst = sorted(zip(ev.classes, ev.per_class), key=lambda kv: kv[1])[:3]
    r.table(
        ["data", "test images", "accuracy", "hardest classes"],
        [[data, ev.n, f"{100 * ev.accuracy:.1f}%", ", ".join(f"{k} ({100 * v:.0f}%)" for k, v in worst)]],
        "Held-out accuracy of the classifier; it is also the feature network that judges the DCGAN below.",
    )
    ctx.results["classifier_accuracy"] = ev.accuracy


# --------------------------------------------------------------------------------------
# 7. DCGAN


def step_dcgan(ctx: TourContext) -> None:
    from PIL import Image

    from .experiments.gan import (
        evaluate_generator,
        gan_spectrum,
        interpolate,
        save_gan_evaluation,
        save_gan_spectrum,
        save_interpolation,
    )
    from .viz.core import new_figure, save_figure

    r = ctx.report
    r.section("dcgan", "8. DCGAN: convolution that generates")
    r.paragraph(
        "A generator turns noise into images with fractionally-strided convolutions (step 5); a discriminator "
        "judges them with strided convolutions. The five guidelines of the DCGAN paper: replace pooling with "
        "strided convolutions (D) and fractionally-strided ones (G); batch norm in both; no fully connected "
        "hidden layers; ReLU in G with Tanh at the output; LeakyReLU in D."
    )
    data = "digits" if ctx.quick else "mnist-5k"
    run = ctx.path("7_gan", ".keep").parent
    _train_gan(ctx, run)
    walk = interpolate(run, seed=ctx.seed)
    who = walk.generator  # the EMA generator when the preset keeps one
    r.paragraph(f"Every picture below is drawn by {who}"
                + (": an exponential moving average of G's weights over the recent steps, which samples "
                   "cleaner images than the latest G at no training cost." if who != "G" else "."))
    # the trainer's per-epoch grids of its fixed noise (the one thing the tour reads back: the
    # trainer keeps no other record of its samples over epochs)
    grids = sorted((run / "samples").glob("epoch_*.png"))
    if grids:
        pick = sorted({0, len(grids) // 3, 2 * len(grids) // 3, len(grids) - 1})
        fig, axes = new_figure(len(pick), ncols=len(pick), size=3.0)
        for ax, i in zip(axes, pick):
            with Image.open(grids[i]) as im:
                ax.imshow(im.convert("L"), cmap="gray")
            ax.set_title(grids[i].stem.replace("_", " "))
            ax.axis("off")
        p = save_figure(fig, ctx.path("7_samples_over_epochs.png"))
        r.figure(p, f"Samples of {who} from the same fixed noise after successive epochs: blobs become strokes, "
                    "strokes become digits. Fixed noise makes the grids comparable across epochs.")
    if (run / "curves.png").exists():
        r.figure(run / "curves.png", "Losses of G and D, and D's mean output on real images D(x) and on "
                                     "generated ones D(G(z)); a healthy run keeps both away from 0 and 1.")
    i = ctx.path("7_interpolate", ".keep").parent
    _log_files(ctx, "gan interpolate", save_interpolation(walk, i), i)
    r.figure(i / "interpolation.png", f"Walking in the latent space of {who} (slerp between random points): the "
                                      "digits morph smoothly, the paper's evidence that G has not memorised its data.")
    r.figure(i / "interpolation.gif", "The same walk, animated.", width=640, pixelated=True)
    cls = ctx.results.get("classifier")
    if cls is not None:
        ev = evaluate_generator(run, data, cls, n=2000 if ctx.quick else 10000, seed=ctx.seed)
        e = ctx.path("7_evaluate", ".keep").parent
        _log_files(ctx, "gan evaluate", save_gan_evaluation(ev, e), e)
        rows = []
        for name, v in ev.metrics.items():
            if name.startswith("frechet_distance_"):  # the same distance on a subset: one row is enough
                continue
            fl = v.get("floor")
            rows.append([name.replace("_", " "), f"{v['value']:.3g}", f"{v['ideal']:.3g}",
                         "–" if fl is None else f"{fl:.3g}", v.get("better", "")])
        r.table(["metric", "generated", "ideal", "real-vs-real floor", "better"], rows,
                f"Offline evaluation of {ev.generator} in the classifier's feature space (there are no Inception "
                "weights here). "
                "The floor is the same metric between two real splits: the best a perfect generator could do.")
    sp = gan_spectrum(run, seed=ctx.seed)
    s = ctx.path("7_spectrum", ".keep").parent
    _log_files(ctx, "gan spectrum", save_gan_spectrum(sp, s), s)
    r.figure(s / "spectrum.png",
             "The Fourier tools turned on the GAN: azimuthally averaged power spectra of real images and of "
             f"images drawn by {sp.generator}. Transposed convolutions with stride 2 leave peaks at the frequencies their zero insertion "
             "folds back (a checkerboard); the score summarises the gap between the two curves.")
    r.table(["spectral discrepancy", "high-frequency power ratio (generated / real)"],
            [[f"{sp.discrepancy:.3f}", f"{sp.high_freq_ratio:.2f}"]],
            "Spectral diagnostics of the generator (0 and 1 would be a perfect match).")


STEPS: list[tuple[str, str, Callable[[TourContext], None]]] = [
    ("feature-maps", "Feature maps", step_feature_maps),
    ("theorem", "The convolution theorem", step_theorem),
    ("signals", "Signals", step_signals),
    ("fourier", "The Fourier domain", step_fourier),
    ("diffusion", "Diffusion", step_diffusion),
    ("fractional", "Fractionally-strided convolution", step_fractional),
    ("recognition", "Recognition", step_recognition),
    ("dcgan", "DCGAN", step_dcgan),
]


def run_tour(out: str | Path, *, quick: bool = True, image: str | None = None, seed: int = 0, quiet: bool = False) -> Path:
    """Run every step and write ``out/index.html``; returns its path."""
    out = Path(out)
    report = Report(
        out,
        "convscope: convolution three ways, then put to work",
        "In space, in frequency, as diffusion; then a CNN that recognises digits and a DCGAN that draws them. "
        "Every number and picture below was computed on this machine from bundled data.",
    )
    ctx = TourContext(out=out, report=report, quick=quick, image=image, seed=seed, quiet=quiet)
    t_all = time.perf_counter()
    for i, (key, title, fn) in enumerate(STEPS, 1):
        ctx.log(f"[{i}/{len(STEPS)}] {title} ...")
        t0 = time.perf_counter()
        fn(ctx)
        ctx.timings[key] = time.perf_counter() - t0
        ctx.log(f"      done in {ctx.timings[key]:.1f} s")
    from . import __version__

    report.footer = (
        f"convscope {__version__} · torch {torch.__version__} · "
        f"{'quick' if quick else 'full'} tour in {time.perf_counter() - t_all:.0f} s · "
        + ", ".join(f"{k} {v:.1f} s" for k, v in ctx.timings.items())
    )
    return report.write()

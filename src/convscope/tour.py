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


def _fmt_ms(s: float) -> str:
    return f"{s * 1e3:.2f} ms"


# --------------------------------------------------------------------------------------
# 1. feature maps


def step_feature_maps(ctx: TourContext) -> None:
    import torch.nn.functional as F

    from .conv import convolve2d
    from .data.images import load_image
    from .kernels import get_kernel
    from .viz.panels import conv_panel

    r = ctx.report
    r.section("feature-maps", "1. Feature maps: image ⊛ kernel")
    r.paragraph(
        "A convolution mixes information: each output pixel is a weighted sum (an inner product) of its "
        "neighbourhood. The seed's kernel has 8 in the centre and −1 around it; it sums to zero, so flat "
        "regions vanish and only edges survive. Each colour channel gets its own feature map."
    )
    img = load_image(ctx.image or "astronaut", size=192 if ctx.quick else 320).astype(np.float64)
    names = ["laplacian8", "sobel_x", "gaussian"]
    maps = []
    for name in names:
        k = get_kernel(name, 7) if name == "gaussian" else get_kernel(name)
        fmap = convolve2d(img, k, mode="same", boundary="reflect")
        pooled = F.max_pool2d(torch.from_numpy(np.abs(fmap))[None], 2).numpy()[0]
        maps.append((name, k.numpy(), fmap, pooled))
    p = conv_panel(img, maps, ctx.path("1_feature_maps.png"), pool=("max", 2))
    r.figure(
        p,
        "Each row convolves the photograph with one kernel. The seed's Laplacian (top) lights up edges in "
        "every channel and is grey (zero) on flat skin and sky; Sobel responds to vertical edges with a sign "
        "that tells dark-to-light from light-to-dark; the Gaussian only blurs. The last column max-pools "
        "|feature map| 2×2: the edges survive at half the resolution.",
    )
    seed = get_kernel("laplacian8").numpy()
    flat = convolve2d(np.ones((8, 8)), seed, mode="valid")
    r.table(
        ["kernel", "sum of weights", "response on a flat image"],
        [["laplacian8 (seed)", f"{seed.sum():g}", f"{np.abs(flat).max():g}"],
         ["gaussian 7×7", f"{get_kernel('gaussian', 7).sum().item():.6f}", "1 (preserves brightness)"]],
        "Zero-sum kernels detect change; unit-sum kernels average.",
    )


# --------------------------------------------------------------------------------------
# 5. fractionally-strided convolution


def step_fractional(ctx: TourContext) -> None:
    import torch.nn.functional as F

    from .conv import conv_transpose2d, pad2d, zero_insert
    from .viz.tour import fractional_stride_figure

    r = ctx.report
    r.section("fractional", "5. Fractionally-strided convolution: 3×3 → 5×5")
    r.paragraph(
        "A DCGAN generator grows images with fractionally-strided (transposed) convolutions. The seed "
        "describes the construction: upsample the 3×3 input by inserting a zero between samples (stride 2 "
        "gives 5×5), pad, then run an ordinary full convolution with a 3×3 kernel: the output is 5×5."
    )
    x = torch.arange(1.0, 10.0, dtype=torch.float64).reshape(1, 1, 3, 3)
    w = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]], dtype=torch.float64).reshape(1, 1, 3, 3)
    xz = zero_insert(x, (2, 2))
    xp = pad2d(xz, (1, 1, 1, 1), "zeros")
    ours = conv_transpose2d(x, w, stride=2, padding=1)
    ref = F.conv_transpose2d(x, w, stride=2, padding=1)
    p = fractional_stride_figure(
        x[0, 0].numpy(), xz[0, 0].numpy(), xp[0, 0].numpy(), w[0, 0].flip(-2, -1).numpy(), ours[0, 0].numpy(),
        ctx.path("5_fractional_stride.png"), window=(1, 1),
    )
    r.figure(
        p,
        "Step by step: the 3×3 input (1), zeros inserted between samples (2, hatched), one pixel of zero "
        "padding (3; the red window is where the kernel sits for output pixel (1, 1)), the kernel (4), and "
        "the 5×5 output (5). Output pixels on the inserted rows and columns only see the kernel's "
        "off-centre taps: uneven overlap is where GAN checkerboard artefacts come from.",
    )
    diff = float((ours - ref).abs().max())
    r.table(
        ["quantity", "value"],
        [["input", "3×3"], ["after zero insertion", f"{xz.shape[-2]}×{xz.shape[-1]}"],
         ["output", f"{ours.shape[-2]}×{ours.shape[-1]}"],
         ["max |ours − torch.conv_transpose2d|", f"{diff:.1e}"]],
        "The construction equals torch's transposed convolution exactly.",
    )
    ctx.results["fractional_max_diff"] = diff


STEPS: list[tuple[str, str, Callable[[TourContext], None]]] = [
    ("feature-maps", "Feature maps", step_feature_maps),
    ("fractional", "Fractionally-strided convolution", step_fractional),
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
        torch.manual_seed(seed)
        np.random.seed(seed)
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

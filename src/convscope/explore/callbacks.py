"""The explorer's callbacks: plain functions of plain values, one per ``api_name``.

Each takes what a Gradio control holds (names, numbers, file paths, small
grids) and returns what a Gradio output shows (uint8 RGB arrays, Markdown or
HTML strings, long-format rows for a line plot). None imports Gradio, so each
is unit-tested as a plain function. Expected failures raise the
:class:`~convscope._checks.ConvscopeError` family; :mod:`.app` turns them into
a message in the page.

Every science step is a call into :mod:`convscope.experiments`; what is left
here is the UI's side: checking a control's value against the page's limits,
turning results into pictures (:mod:`.render`) and Markdown, and the session
state (the classifier, trained once in the background and cached, and the live
DCGAN with its history).
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import experiments as ex
from .._checks import ArgumentError, ConvscopeError, check_float, check_int, check_option, fail
from . import render

__all__ = [
    "API_NAMES",
    "WORK_SIZE",
    "POOLS",
    "KERNEL_CHOICES",
    "image_choices",
    "load_work_image",
    "kernel_grid",
    "grid_kernel",
    "feature_maps",
    "pixel_computation",
    "theorem",
    "spectrum",
    "filter_view",
    "steps_from_slider",
    "diffusion",
    "fractional",
    "Classifier",
    "prepare_digit",
    "predict",
    "first_layer_filters",
    "GanSession",
    "GanSessions",
    "gan_walk",
    "gan_spectrum",
]

# every public endpoint of the app, in the order of the tabs (the README lists them too)
API_NAMES = (
    "kernel_grid", "feature_maps", "pixel",
    "theorem",
    "spectrum", "filter",
    "diffuse",
    "fractional",
    "classifier_status", "predict", "filters",
    "gan_step", "gan_reset", "gan_samples", "gan_walk", "gan_spectrum",
)
WORK_SIZE = 256  # the short side every photograph is resized to (the benchmark's 256²)
POOLS = ("max", "average")
DIFFUSION_BOUNDARIES = ("circular", "symmetric", "zeros")
DIFFUSION_SOURCES = ("drop", "disc", "image")
MAX_STEPS = 1_000_000
# the names offered in the kernel menu; "gaussian" and "log" take sigma, every one takes size
KERNEL_CHOICES = ("laplacian8", "laplacian4", "sobel_x", "sobel_y", "scharr_x", "prewitt_x", "sharpen",
                  "emboss", "box", "identity", "gaussian", "log", "gabor")


def image_choices() -> list[str]:
    from ..data.images import BUNDLED_IMAGES

    return list(BUNDLED_IMAGES)


@functools.lru_cache(maxsize=16)
def _cached_image(path: str, mtime: float, gray: bool, size: int) -> np.ndarray:
    from ..data.images import load_image

    return load_image(path, gray=gray, size=size).astype(np.float64)


def load_work_image(name: str | None, upload: str | os.PathLike | None = None, *, gray: bool = False,
                    size: int = WORK_SIZE) -> np.ndarray:
    """The picture a tab works on: an upload (through ``data.images``' guards) or a bundled name.

    Returns float64 in [0, 1]: (H, W) grey or (3, H, W) colour, short side ``size``.
    """
    from ..data.images import BUNDLED_IMAGES, bundled_image_path

    size = check_int("size", size, min_value=8)
    if upload:
        p = Path(os.fspath(upload))
        if not p.is_file():
            raise fail("upload", "an existing file", str(p))
        key = str(p)
    else:
        key = check_option("image", name or "camera", BUNDLED_IMAGES)
        p = bundled_image_path(key)
    a = _cached_image(str(p), p.stat().st_mtime, bool(gray), size)
    if not gray and a.ndim == 2:
        a = np.repeat(a[None], 3, axis=0)
    # crop the long side to a centred square so every view is size × size
    H, W = a.shape[-2:]
    y0, x0 = (H - min(H, W)) // 2, (W - min(H, W)) // 2
    s = min(H, W)
    return np.ascontiguousarray(a[..., y0:y0 + s, x0:x0 + s])


# ------------------------------------------------------------------ 1. kernels and feature maps


def kernel_grid(name: str, size: int = 3, sigma: float = 1.0) -> list[list[float]]:
    """A named kernel (``gaussian``/``log``/``gabor`` use ``sigma``) as a ``size`` × ``size`` grid of numbers."""
    from ..kernels import get_kernel

    size = check_int("size", int(size) if isinstance(size, float) and float(size).is_integer() else size, min_value=1)
    if size not in (3, 5):
        raise fail("size", "3 or 5", size)
    sigma = check_float("sigma", sigma, min_value=0.0, strict_min=True)
    key = check_option("kernel", name, KERNEL_CHOICES)
    if key in ("gaussian", "log", "gabor"):
        k = get_kernel(key, size, sigma)
    elif key in ("box", "identity"):
        k = get_kernel(key, size)
    else:
        k = get_kernel(key)
        if k.shape[0] != size:  # a fixed 3×3 kernel in a 5×5 grid: centred, zeros around
            pad = (size - k.shape[0]) // 2
            if pad < 0:
                raise fail("size", f"{k.shape[0]} for {key}", size)
            out = np.zeros((size, size))
            out[pad:pad + k.shape[0], pad:pad + k.shape[1]] = k.numpy()
            return np.round(out, 6).tolist()
    return np.round(k.numpy(), 6).tolist()


def grid_kernel(grid: Any) -> np.ndarray:
    """What the editable grid holds (a table of numbers or numeric strings) as a float64 kernel."""
    if hasattr(grid, "to_numpy"):  # a pandas DataFrame
        grid = grid.to_numpy()
    try:
        a = np.array(grid, dtype=object)
        if a.ndim != 2 or a.size == 0:
            raise ValueError
        k = np.array([[float(str(v).strip() or "0") for v in row] for row in a], dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ArgumentError(f"kernel must be a grid of numbers, got {np.asarray(grid, dtype=object).tolist()!r}") from e
    if k.shape[0] != k.shape[1] or k.shape[0] not in (3, 5):
        raise fail("kernel", "a 3×3 or 5×5 grid", f"shape {k.shape}")
    if not np.all(np.isfinite(k)):
        raise fail("kernel", "finite numbers", k.tolist())
    return k


def _kernel_meaning(total: float, scale: float) -> str:
    tol = 1e-5 * max(1.0, scale)  # the grid shows 6 decimals: 9 × 0.111111 is a unit sum
    if abs(total) < tol:
        return (f"**sum = {total:.3g}: zero-sum, a change detector.** A flat region gives exactly 0; only edges "
                "and texture survive (grey = 0, red > 0, blue < 0).")
    if abs(total - 1) < tol:
        return (f"**sum = {total:.4g}: unit-sum, an average.** Brightness is kept: a flat region comes out "
                "unchanged (a blur, or the identity).")
    return (f"**sum = {total:.4g}:** neither 0 nor 1, so a flat region of brightness b comes out as {total:.3g}·b "
            "(the output is scaled as well as filtered).")


BOUNDARY = "reflect"  # every feature map of the explorer (and its per-pixel breakdown) uses this border
_POOL_NAMES = {"max": "max", "average": "avg"}  # the radio's words -> experiments.feature_maps'


def feature_maps(image: str | None, upload: str | None, grid: Any, pool: str = "max", pool_size: int = 2):
    """Convolve each colour channel with the grid's kernel (:func:`convscope.experiments.feature_maps`).

    Returns ``(maps, pooled, meaning)``: the per-channel maps side by side
    (blue < 0 < red), the same after ``pool``-pooling by ``pool_size``, and
    Markdown on what the kernel's sum means.
    """
    pool = check_option("pool", pool, POOLS)
    pool_size = check_int("pool_size", int(pool_size), min_value=1)
    if pool_size not in (2, 4):
        raise fail("pool_size", "2 or 4", pool_size)
    img = load_work_image(image, upload)
    k = grid_kernel(grid)
    r = ex.feature_maps(img, [("grid", k)], boundary=BOUNDARY, pool=(_POOL_NAMES[pool], pool_size))
    maps, pooled = r.maps[0], r.pooled[0]  # (3, H, W), (3, H/s, W/s)
    tiles = render.tile([render.diverging(m) for m in maps], cols=3, gap=4)
    ptiles = render.tile([render.upscale(render.diverging(m), pool_size) for m in pooled], cols=3, gap=4)
    meaning = _kernel_meaning(r.kernel_sums[0], float(np.abs(k).sum())) + (
        f"\n\nFeature maps R, G, B of a {img.shape[-2]}×{img.shape[-1]} image; "
        f"{pool} pooling {pool_size}×{pool_size} gives {pooled.shape[-2]}×{pooled.shape[-1]}. "
        "Click a pixel of a feature map to see its computation.")
    return tiles, ptiles, meaning


def tile_position(x: int, y: int, size: int = WORK_SIZE, gap: int = 4) -> tuple[int, int, int]:
    """A click at ``(x, y)`` on the three tiled maps -> ``(channel, row, col)``."""
    c = min(2, max(0, int(x) // (size + gap)))
    col = min(size - 1, max(0, int(x) - c * (size + gap)))
    return c, min(size - 1, max(0, int(y))), col


def pixel_computation(image: str | None, upload: str | None, grid: Any, channel: int, row: int, col: int) -> str:
    """HTML: the input patch, the (flipped) kernel, their elementwise products and the sum for one output pixel
    (:func:`convscope.experiments.pixel_computation`)."""
    img = load_work_image(image, upload)
    k = grid_kernel(grid)
    p = ex.pixel_computation(img, k, channel=int(channel), row=int(row), col=int(col), boundary=BOUNDARY)
    n = k.shape[0]
    return (
        f"<div class='cs-pixel'><b>Output pixel ({p.row}, {p.col}) of channel {'RGB'[p.channel]}</b>"
        "<div class='cs-row'>"
        + render.grid_html(p.patch, title=f"input patch ({n}×{n})")
        + "<span class='cs-op'>×</span>"
        + render.grid_html(p.kernel_flipped, title="kernel, flipped (true convolution)")
        + "<span class='cs-op'>=</span>"
        + render.grid_html(p.products, title="elementwise products")
        + "</div>"
        f"<p>sum of the products = <b>{p.total:.6g}</b>; the feature map holds <b>{p.feature_value:.6g}</b> "
        f"(difference {abs(p.total - p.feature_value):.1e}).</p></div>"
    )


# ------------------------------------------------------------------ 2. the convolution theorem


def theorem(image: str | None, upload: str | None, kernel: str = "gaussian:9", pad: bool = True):
    """Spatial against FFT convolution of the grey image (:func:`convscope.experiments.theorem`).

    Returns ``(spatial, fft, difference, wrap, report)``: both results, the
    log |difference|, the wrap-around error (``pad=False``) and Markdown with
    the timings.
    """
    from ..kernels import kernel_from_spec

    img = load_work_image(image, upload, gray=True)
    # text from the browser: a name or a literal, never a path on this machine
    k = kernel_from_spec(str(kernel), files=False).numpy()
    if max(k.shape) > 63:
        raise fail("kernel", "at most 63×63 in the explorer", f"shape {k.shape}")
    r = ex.theorem(img, k, repeat=1)
    if pad:
        s, f, ts, tf = r.spatial, r.frequency, r.spatial_seconds, r.frequency_seconds
        grid = f"{r.fft_shape[0]}×{r.fft_shape[1]}"
        wrap = render.grey(np.zeros_like(s))
        wrap_txt = "Zero padding on: the FFT grid holds the whole linear result, nothing wraps around."
    else:
        s, f, ts, tf = r.circular_spatial, r.circular, r.circular_spatial_seconds, r.circular_frequency_seconds
        grid = f"{img.shape[0]}×{img.shape[1]}"
        wrap = render.diverging(r.wrap_error)
        wrap_txt = (f"Zero padding off: the FFT result is **circular**. Light leaving one edge re-enters at the "
                    f"opposite one; the error against the zero-bordered linear result reaches "
                    f"{r.max_wrap_error:.3g}, confined to a band {k.shape[0] // 2} px wide (right panel).")
    diff = np.abs(s - f)
    report = (
        f"| | time | \n|---|---|\n| spatial (direct) | {ts * 1e3:.2f} ms |\n"
        f"| FFT on {grid} | {tf * 1e3:.2f} ms |\n\n"
        f"max |spatial − FFT| = **{float(diff.max()):.2e}** (rounding). {wrap_txt}"
    )
    lo, hi = float(s.min()), float(s.max())
    return (render.grey(s, lo, hi), render.grey(f, lo, hi), render.heat(diff + 1e-18, log=True), wrap, report)


# ------------------------------------------------------------------ 3. the Fourier domain


def spectrum(image: str | None, upload: str | None):
    """Returns ``(log magnitude, radial profile rows, report)``: the centred spectrum, the
    log-log radial power with its fitted power law, and the slope (:func:`convscope.experiments.image_spectrum`)."""
    r = ex.image_spectrum(load_work_image(image, upload, gray=True))
    lf = np.log10(r.frequency[1:])
    rows = render.rows(lf, {"power": np.log10(np.maximum(r.power[1:], 1e-300)),
                            f"fit, slope {r.slope:.2f}": r.intercept + r.slope * lf},
                       x_name="log10 frequency", y_name="log10 power")
    report = (f"Radial power falls off as f^{r.slope:.2f} (natural photographs: about −2; "
              "white noise: 0). The bright cross is the image's edges, which the DFT sees as jumps.")
    return render.heat(r.log_magnitude), rows, report


def filter_view(image: str | None, upload: str | None, kind: str = "lowpass", cutoff: float = 0.08,
                profile: str = "ideal", width: float = 0.05, order: float = 2.0):
    """Returns ``(mask, result, removed, line rows, report)`` for one frequency mask
    (:func:`convscope.experiments.filtering`); the line profile crosses a clean edge, where ringing shows."""
    from ..fourier import FILTER_KINDS, FILTER_PROFILES

    kind = check_option("kind", kind, FILTER_KINDS)
    profile = check_option("profile", profile, FILTER_PROFILES)
    cutoff = check_float("cutoff", cutoff, min_value=0.0, max_value=0.5, strict_min=True)
    width = check_float("width", width, min_value=0.0, max_value=0.5, strict_min=True)
    order = check_float("order", order, min_value=0.0, strict_min=True)
    img = load_work_image(image, upload, gray=True)
    band = kind in ("bandpass", "bandstop")
    r = ex.filtering(img, kind, cutoff, profile=profile, order=order, width=width if band else None)
    _, _, c0, c1 = r.crop
    x = np.arange(c0, c1)
    rows = render.rows(x, {"original": img[r.edge_row, c0:c1], "filtered": r.result[r.edge_row, c0:c1]},
                       x_name="column", y_name="intensity")
    report = (f"{profile} {kind}, cutoff {cutoff:g} cycles/px{f', width {width:g}' if band else ''}. "
              f"Energy kept: {r.kept_energy:.1%}. The line profile (row {r.edge_row}, across a sharp edge) shows "
              "the Gibbs ringing of the ideal mask next to the edge; the Gaussian mask does not ring.")
    return (render.grey(r.mask, 0.0, 1.0), render.grey(r.result, 0.0, 1.0), render.diverging(r.removed), rows,
            report)


# ------------------------------------------------------------------ 4. diffusion


def steps_from_slider(position: float) -> int:
    """The logarithmic slider (0..6) -> steps: 0 at 0, then 10**position, rounded."""
    position = check_float("steps slider", position, min_value=0.0, max_value=6.0)
    return 0 if position <= 0 else round(10.0**position)


# a literal iteration slower than this is refused with the exact alternative named
MAX_ITERATE_S = 1.0


def diffusion(temperature: float = 4.0, slider: float = 2.0, boundary: str = "symmetric", source: str = "disc",
              image: str | None = None, upload: str | None = None, size: int = 128):
    """Diffuse a drop (or the grey image) with softmax(laplacian8 / T), exactly, for any step count
    (:func:`convscope.experiments.diffusion`).

    Returns ``(frame, propagator heat map, line rows, report)``; the report gives
    the steps, the propagator's moments, mass and entropy.
    """
    temperature = check_float("temperature", temperature, min_value=0.05, max_value=100.0)
    boundary = check_option("boundary", boundary, DIFFUSION_BOUNDARIES)
    source = check_option("source", source, DIFFUSION_SOURCES)
    size = check_int("size", int(size), min_value=8)
    n = steps_from_slider(slider)
    u0 = (load_work_image(image, upload, gray=True, size=size) if source == "image"
          else ex.drop(size, "pixel" if source == "drop" else "disc"))
    r = ex.diffusion(u0, "laplacian8", temperature=temperature, steps=[n], boundary=boundary, gif_frames=2,
                     compare_heat=True, max_seconds=MAX_ITERATE_S)
    u, P, m = r.frames[0], r.propagator, r.moments
    # fixed series names: the plot's legend and colours stay put while the slider moves
    rows = render.rows(np.arange(u.shape[1]), {"start": u0[r.row], "n steps of the propagator": r.profiles[0],
                                               "heat equation at t = n": r.heat[0]},
                       x_name="column", y_name="concentration")
    at = r.all_steps.index(n)
    report = (
        f"**{n:,} steps** (temperature {temperature:g}, boundary {boundary}, {r.method} method).\n\n"
        f"| quantity | value |\n|---|---|\n| mass at step 0 | {float(r.mass[0]):.6g} |\n"
        f"| mass now | {float(r.mass[at]):.6g} |\n"
        f"| entropy now | {float(r.entropy[at]):.4f} nats |\n| propagator centre | {P[1, 1]:.6f} |\n"
        f"| D (px²/step) | {m.D:.6g} |\n| variance per step (y, x) | {m.variance[0]:.4g}, {m.variance[1]:.4g} |\n"
        f"| drift (y, x) | {m.drift[0]:.3g}, {m.drift[1]:.3g} |\n| propagator entropy | {m.entropy:.4f} nats |\n\n"
        + ("Mass is conserved: the walls reflect or wrap the salt." if boundary != "zeros"
           else "Zero boundary: salt that reaches the edge is absorbed, so the mass falls.")
    )
    frame = render.heat(u) if source != "image" else render.grey(u, 0.0, 1.0)
    return frame, render.upscale(render.heat(P), 48), rows, report


# ------------------------------------------------------------------ 5. fractionally-strided convolution


def fractional(size: int = 3, stride: int = 2, padding: int = 1, kernel_size: int = 3):
    """Returns ``(steps HTML, report)``: zero insertion, padding, kernel, output, and the check against torch
    (:func:`convscope.experiments.fractional_stride` on :func:`~convscope.experiments.example_inputs`)."""
    size = check_int("input size", int(size), min_value=1)
    stride = check_int("stride", int(stride), min_value=1)
    kernel_size = check_int("kernel size", int(kernel_size), min_value=1)
    padding = check_int("padding", int(padding), min_value=0)
    if size > 8 or stride > 4 or kernel_size > 7:
        raise fail("sizes", "input <= 8, stride <= 4, kernel <= 7 (a figure you can read)", (size, stride, kernel_size))
    if padding > kernel_size - 1:
        raise fail("padding", f"at most kernel size - 1 = {kernel_size - 1}", padding)
    r = ex.fractional_stride(*ex.example_inputs(size, kernel_size), stride=stride, padding=padding)
    e = (r.padded.shape[-1] - r.zero_inserted.shape[-1]) // 2  # the border the full convolution needs
    out_n = r.output.shape[-1]
    inserted = np.ones(r.zero_inserted.shape, bool)
    inserted[::stride, ::stride] = False
    hatch = np.zeros(r.padded.shape, bool)
    hatch[e:e + inserted.shape[0], e:e + inserted.shape[1]] = inserted
    win = {(i, j) for i in range(kernel_size) for j in range(kernel_size)}
    html = (
        "<div class='cs-row'>"
        + render.grid_html(r.input, title=f"1. input {size}×{size}", fmt="{:.0f}")
        + render.grid_html(r.zero_inserted, title=f"2. zeros inserted (stride {stride})", fmt="{:.0f}", hatch=inserted)
        + render.grid_html(r.padded, title=f"3. padded by k−1−p = {e}", fmt="{:.0f}", hatch=hatch, mark=win)
        + render.grid_html(r.kernel_flipped, title=f"4. kernel {kernel_size}×{kernel_size} (flipped)", fmt="{:.0f}")
        + render.grid_html(r.output, title=f"5. output {out_n}×{out_n}", fmt="{:.0f}", mark={(0, 0)})
        + "</div>"
    )
    report = (
        f"Output size = (N − 1)·s − 2p + k = ({size} − 1)·{stride} − 2·{padding} + {kernel_size} = **{out_n}**.\n\n"
        f"The red window in (3) is where the kernel sits for output pixel (0, 0). "
        f"max |ours − torch.conv_transpose2d| = **{r.max_abs_diff:.1e}**"
        + (" (equal)." if r.max_abs_diff < 1e-12 else " (MISMATCH).")
    )
    return html, report


# ------------------------------------------------------------------ 6. recognition


DIGIT_SIZE = 16


@dataclass
class Classifier:
    """The recognition tab's model: loaded from ``run`` or trained once on the bundled digits and cached.

    ``start()`` begins background training when nothing is cached; ``status()``
    reports the progress; ``ready`` says when ``model`` and ``meta`` can be used.
    """

    cache_dir: Path
    run: str | None = None
    epochs: int = 6
    model: Any = None
    meta: dict | None = None
    error: str | None = None
    progress: float = 0.0
    message: str = "not started"
    # training waits for this (at most ``wait_s``): a first launch serves its page before it trains
    start_after: threading.Event | None = field(default=None, repr=False)
    wait_s: float = 20.0
    _thread: threading.Thread | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def run_dir(self) -> Path:
        return Path(self.run) if self.run else Path(self.cache_dir) / "classifier-digits"

    @property
    def ready(self) -> bool:
        return self.model is not None

    def _load(self) -> None:
        from ..models import load_classifier

        model, meta = load_classifier(self.run_dir)  # weights_only inside
        model.eval()
        self.model, self.meta = model, meta
        self.progress, self.message = 1.0, f"classifier loaded from {self.run_dir}"

    def _cached(self) -> bool:
        d = self.run_dir
        return d.is_dir() and (d / "DONE").is_file() and (d / "checkpoints" / "best.pt").is_file()

    def start(self, *, background: bool = True) -> None:
        """Load ``run`` (or the cached digits classifier), else train it, in a thread when ``background``."""
        with self._lock:
            if self.ready or (self._thread is not None and self._thread.is_alive()):
                return
            if self.run or self._cached():
                self._load()
                return
            self._thread = threading.Thread(target=self._train, name="convscope-explore-classifier", daemon=True)
            if background:
                self._thread.start()
        if not background:
            self._train()

    def _train(self) -> None:
        from .._io import atomic_write_text
        from ..models import CNNConfig
        from ..train.classify import TrainConfig, train_classifier

        out = self.run_dir
        if self.start_after is not None:
            self.message = "training a LeNet on the bundled digits starts once the page is up"
            self.start_after.wait(self.wait_s)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            cfg = CNNConfig(arch="lenet")
            for epoch in range(1, self.epochs + 1):  # one epoch per call: resume gives the progress
                self.message = f"training a LeNet on the bundled digits: epoch {epoch}/{self.epochs}"
                # an epoch-wise schedule (one epoch per call, each a resume that extends the run)
                tc = TrainConfig(data="digits", image_size=DIGIT_SIZE, epochs=epoch, batch_size=64, seed=0,
                                 device="cpu", keep_last=1, optimizer="adam", lr=2e-3, weight_decay=0.0,
                                 scheduler="step", label_smoothing=0.0)
                # epoch 1 starts anew: a launch killed mid-training leaves a partial run behind
                train_classifier(cfg, tc, out, resume=epoch > 1, overwrite=epoch == 1, quiet=True)
                self.progress = epoch / self.epochs
            atomic_write_text(out / "DONE", "trained by convscope explore\n")
            self._load()
        except Exception as e:  # reported in the page by status(); never kills the server
            self.error = f"{type(e).__name__}: {e}"
            self.message = f"training failed: {self.error}"

    def status(self) -> str:
        if self.error:
            return f"⚠ {self.message}"
        if self.ready:
            return f"✔ {self.message}"
        return f"⏳ {self.message} ({self.progress:.0%})"

    def wait(self, timeout: float | None = None) -> bool:
        t = self._thread
        if t is not None:
            t.join(timeout)
        return self.ready


def prepare_digit(sketch: Any = None, upload: str | None = None) -> np.ndarray:
    """A drawing (Sketchpad's dict or an RGBA array) or an uploaded file -> a (H, W) float image, bright digit
    on dark, centred as MNIST's digits are (:func:`convscope.experiments.digit_from_drawing`)."""
    if upload:
        drawing = load_work_image(None, upload, gray=True, size=64)
    else:
        if isinstance(sketch, dict):  # Sketchpad's value: the layers flattened onto the background
            sketch = sketch.get("composite") if sketch.get("composite") is not None else sketch.get("background")
        if sketch is None:
            raise ArgumentError("digit must be drawn on the sketchpad or uploaded, got nothing")
        drawing = sketch
    return ex.digit_from_drawing(drawing)


def _ready(classifier: Classifier) -> tuple:
    if not classifier.ready:
        raise ArgumentError(f"classifier must be ready first: {classifier.status()}")
    return classifier.model, classifier.meta


def predict(classifier: Classifier, sketch: Any = None, upload: str | None = None):
    """Returns ``(top-3 {class: probability}, every layer's feature maps, input as seen)``
    (:func:`convscope.experiments.recognise`)."""
    loaded = _ready(classifier)
    r = ex.recognise(loaded, prepare_digit(sketch, upload), top=3)
    rows = []
    for _name, a in r.layers:
        tiles = [render.upscale(render.grey(c), max(1, 48 // c.shape[-1])) for c in a]
        side = tiles[0].shape[0]
        tiles = [t[:side, :side] for t in tiles]
        rows.append(render.tile(tiles, cols=len(tiles), gap=2))
    width = max(row.shape[1] for row in rows)
    rows = [np.pad(row, ((0, 6), (0, width - row.shape[1]), (0, 0)), constant_values=255) for row in rows]
    return dict(r.top), np.concatenate(rows, axis=0), render.upscale(render.grey(r.prepared[0]), 8)


def first_layer_filters(classifier: Classifier):
    """Returns ``(filters, spectra)``: the learned first-layer kernels and their centred magnitude spectra
    (:func:`convscope.experiments.learned_filters`), averaged over input channels for display."""
    model, meta = _ready(classifier)
    C, H, W = meta["image_shape"]
    r = ex.learned_filters((model, meta), np.zeros((C, H, W), np.float32), spectrum_size=32)
    ks = r.kernels.astype(np.float64).mean(1)  # (C_out, k, k)
    f = render.tile([render.upscale(render.diverging(k), 12) for k in ks], cols=min(8, len(ks)), gap=3)
    sp = r.spectra.astype(np.float64)
    sp = sp.mean(1) if sp.ndim == 4 else sp
    s = render.tile([render.upscale(render.heat(m), 2) for m in sp], cols=min(8, len(sp)), gap=3)
    return f, s


# ------------------------------------------------------------------ 7. DCGAN


GAN_DATA = "digits"
FIXED_SEED = 12345  # the fixed noise of the sample grid: one seed, so grids compare across steps
SPECTRUM_SEED = 7


class GanSession:
    """The DCGAN tab's state: a live DCGAN (:func:`convscope.experiments.live_gan`, the training engine's GAN
    plugin stepped in memory) or a generator loaded with ``--gan``, and the history of the steps taken.

    Learning rates and the loss may change between steps; the sample grid's noise never does.
    """

    def __init__(self, *, run: str | None = None, image_size: int = 16, batch_size: int = 64, seed: int = 0):
        self.run = run
        self.image_size = image_size
        self.batch_size = batch_size
        self.seed = seed
        self.lock = threading.Lock()
        self.stepper = None
        self.G = None
        self.step = 0
        self.history: dict[str, list[float]] = {"step": [], "loss_d": [], "loss_g": [], "d_real": [], "d_fake": []}
        self.images_per_s = float("nan")

    def _build(self) -> None:
        if self.run:
            from ..models import load_generator

            self.G, meta = load_generator(self.run)  # weights_only inside
            self.image_size = meta["model_config"].image_size
            self.step = int(meta.get("step") or 0)
        else:
            self.stepper = ex.live_gan(GAN_DATA, image_size=self.image_size, batch_size=self.batch_size,
                                       seed=self.seed)
            self.G = self.stepper.plugin.G

    @property
    def trainable(self) -> bool:
        return self.run is None

    def ensure(self) -> None:
        with self.lock:
            if self.G is None:
                self._build()

    def train(self, n: int = 1, *, lr_g: float = 2e-4, lr_d: float = 2e-4, loss: str = "bce") -> None:
        """``n`` alternating D/G updates with the given learning rates and loss
        (:func:`convscope.experiments.train_steps`)."""
        from ..models.dcgan import LOSSES

        n = check_int("steps", int(n), min_value=1)
        if n > 200:
            raise fail("steps", "at most 200 per call", n)
        lr_g = check_float("lr_g", lr_g, min_value=0.0, max_value=0.1, strict_min=True)
        lr_d = check_float("lr_d", lr_d, min_value=0.0, max_value=0.1, strict_min=True)
        loss = check_option("loss", loss, LOSSES)
        self.ensure()
        if not self.trainable:
            raise ArgumentError("steps need a live GAN: this explorer shows the generator loaded with --gan")
        with self.lock:
            r = ex.train_steps(self.stepper, n, lr_g=lr_g, lr_d=lr_d, loss=loss)
            self.step = r.steps[-1]
            for key, values in (("step", r.steps), ("loss_d", r.loss_d), ("loss_g", r.loss_g),
                                ("d_real", r.d_real), ("d_fake", r.d_fake)):
                self.history[key].extend(values)
            self.images_per_s = r.images_per_s

    def _tiles(self, imgs: np.ndarray, cols: int) -> np.ndarray:
        tiles = [render.upscale(render.grey(im[0], -1.0, 1.0), max(1, 64 // self.image_size)) for im in imgs]
        return render.tile(tiles, cols=cols, gap=3)

    def samples(self) -> np.ndarray:
        """The 4 × 4 grid of the fixed noise (:func:`convscope.experiments.sample`)."""
        self.ensure()
        with self.lock:
            imgs = ex.sample(self.G, 16, seed=FIXED_SEED).images  # (16, C, S, S) in [-1, 1]
        return self._tiles(imgs, 4)

    def curves(self) -> dict[str, list]:
        h = self.history
        return render.rows(h["step"], {"loss D": h["loss_d"], "loss G": h["loss_g"], "D(x)": h["d_real"],
                                       "D(G(z))": h["d_fake"]}, x_name="step", y_name="value")

    def report(self) -> str:
        h = self.history
        if not h["step"]:
            src = f"generator loaded from {self.run}" if self.run else "untrained DCGAN on the bundled digits"
            return f"**step {self.step}**: {src}."
        return (f"**step {self.step}**: loss D {h['loss_d'][-1]:.3f}, loss G {h['loss_g'][-1]:.3f}, "
                f"D(x) {h['d_real'][-1]:.3f}, D(G(z)) {h['d_fake'][-1]:.3f}; "
                f"{self.images_per_s:.0f} images/s in the last call.")

    def reset(self) -> None:
        with self.lock:
            self.G, self.stepper, self.step = None, None, 0
            for v in self.history.values():
                v.clear()
        self.ensure()


class GanSessions:
    """One live DCGAN per browser session, so that one visitor's steps or reset never touch another's run.

    Sessions are keyed by Gradio's session hash. At most ``max_sessions`` are
    kept (the least recently used is dropped first) and one idle for
    ``idle_s`` seconds is dropped, which bounds the memory a crowd of visitors
    can take. A generator loaded with ``run`` is read-only, so every visitor
    shares one :class:`GanSession` of it.
    """

    def __init__(self, *, run: str | None = None, max_sessions: int = 8, idle_s: float = 3600.0, **session_kw):
        self.run = run
        self.max_sessions = check_int("max_sessions", max_sessions, min_value=1)
        self.idle_s = check_float("idle_s", idle_s, min_value=0.0, strict_min=True)
        self._kw = session_kw
        self._shared = GanSession(run=run, **session_kw) if run else None
        self._live: OrderedDict[str, tuple[GanSession, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str | None) -> GanSession:
        """The session of browser session ``key`` (a new, untrained one on first use)."""
        if self._shared is not None:
            return self._shared
        key = str(key or "")
        now = time.monotonic()
        with self._lock:
            for k in [k for k, (_, t) in self._live.items() if now - t > self.idle_s]:
                del self._live[k]
            s = self._live.pop(key, (None, 0.0))[0] or GanSession(**self._kw)
            self._live[key] = (s, now)
            while len(self._live) > self.max_sessions:
                self._live.popitem(last=False)
        return s

    def drop(self, key: str | None) -> None:
        """Forget browser session ``key`` (its page was closed)."""
        with self._lock:
            self._live.pop(str(key or ""), None)

    def __len__(self) -> int:
        return len(self._live)


def gan_walk(session: GanSession, seed_a: int = 1, seed_b: int = 2, frames: int = 8, mode: str = "slerp") -> np.ndarray:
    """A latent walk from ``z(seed_a)`` to ``z(seed_b)``, linear or spherical, as one strip of images
    (:func:`convscope.experiments.interpolate`)."""
    from ..models.latent import INTERPOLATIONS

    seed_a = check_int("seed_a", int(seed_a), min_value=0)
    seed_b = check_int("seed_b", int(seed_b), min_value=0)
    frames = check_int("frames", int(frames), min_value=2)
    if frames > 16:
        raise fail("frames", "at most 16", frames)
    mode = check_option("mode", mode, INTERPOLATIONS)
    session.ensure()
    with session.lock:
        r = ex.interpolate(session.G, mode=mode, steps=frames - 1, points=[seed_a, seed_b])  # frames - 1 steps, frames images
    return session._tiles(r.frames[0], frames)


def gan_spectrum(session: GanSession, n: int = 256):
    """Returns ``(radial profile rows, report)``: real against generated mean spectra and the checkerboard flag
    (:func:`convscope.experiments.gan_spectrum`)."""
    n = check_int("n", int(n), min_value=8)
    session.ensure()
    with session.lock:
        # a loaded run is compared with its own training data; the live GAN with the bundled digits
        r = ex.gan_spectrum(session.run, None, n=n, seed=SPECTRUM_SEED) if session.run else \
            ex.gan_spectrum(session.G, GAN_DATA, n=n, seed=SPECTRUM_SEED)
    rep = r.report
    f = np.asarray(rep["freqs"][1:], dtype=np.float64)
    rows = render.rows(f, {"real": np.log10(np.maximum(rep["real_profile"][1:], 1e-12)),
                           "generated": np.log10(np.maximum(rep["fake_profile"][1:], 1e-12))},
                       x_name="frequency (cycles per image)", y_name="log10 power")
    flag = ("**checkerboard flagged** at " + ", ".join(f"({p['fy']}, {p['fx']})" for p in rep["flagged"])
            if rep["checkerboard"] else "no checkerboard peak")
    report = (f"{flag}. Slopes: real {rep['slope_real']:.2f}, generated {rep['slope_fake']:.2f}; "
              f"high-frequency power ratio {r.high_freq_ratio:.2f}; discrepancy {r.discrepancy:.3f} "
              f"(mean |log10 ratio|, {len(r.real)} images each).")
    return rows, report


def message(e: BaseException) -> str:
    """The one line a person sees for an error raised by a callback."""
    if isinstance(e, ConvscopeError):
        text = str(e).strip()
        return text.splitlines()[0] if text else type(e).__name__
    return f"internal error: {type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"


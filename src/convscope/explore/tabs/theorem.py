"""Tab 2, the convolution theorem: spatial against FFT convolution, and the wrap-around of a
circular FFT when zero padding is off."""

from __future__ import annotations

import numpy as np

from ... import experiments as ex
from ..._checks import fail
from ...kernels import kernel_from_spec
from .. import render
from ..common import HEAVY, IMAGE_BUTTONS, api, guard, load_work_image

TITLE = "Convolution theorem"
INTRO = ("**Try:** turn zero padding off and see the FFT result wrap around the edges; type another kernel (a name such as `box:15`, or `[[...]]`) and press Enter.")
ID = "theorem"
API_NAMES = ("theorem",)
MAX_KERNEL = 31  # the largest kernel side the tab computes: its direct route holds an im2col buffer of
# (256 + k − 1)² · k² float64 values, about 0.6 GiB at 31 (3 GiB at 63), see benchmarks/explore_load.py
EPS = float(np.finfo(np.float64).eps)
AGREE_ULPS = 64  # differences within this many units of rounding (at the result's scale) are agreement


def theorem(image: str | None, upload: str | None, kernel: str = "gaussian:9", pad: bool = True):
    """Spatial against FFT convolution of the grey image (:func:`convscope.experiments.theorem`).

    Returns ``(spatial, fft, difference, wrap, report)``: both results, the
    log |difference|, the wrap-around error (``pad=False``) and Markdown with
    the timings.
    """
    img = load_work_image(image, upload, gray=True)
    # text from the browser: a name or a literal, never a path on this machine
    k = kernel_from_spec(str(kernel), files=False).numpy()
    if max(k.shape) > MAX_KERNEL:
        raise fail("kernel", f"at most {MAX_KERNEL}×{MAX_KERNEL} in the explorer", f"shape {k.shape}")
    r = ex.theorem(img, k, repeat=1, pad=bool(pad))  # only the variant the page shows
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
    # the difference in units of float64 rounding at the result's scale: a few units is "equal"
    unit = EPS * max(float(np.abs(s).max()), 1e-300)
    ulps = diff / unit
    worst = float(ulps.max())
    verdict = ("**The two routes agree to rounding**" if worst <= AGREE_ULPS else
               "**The two routes differ by more than rounding**")
    report = (
        f"{verdict}: max |spatial − FFT| = {float(diff.max()):.2e}, {worst:.1f} × ε·max|result| "
        f"(ε = 2.2e-16, float64). {wrap_txt}\n\n"
        f"| | time | \n|---|---|\n| spatial (direct) | {ts * 1e3:.2f} ms |\n"
        f"| FFT on {grid} | {tf * 1e3:.2f} ms |"
    )
    lo, hi = float(s.min()), float(s.max())
    top = max(float(AGREE_ULPS), worst)
    dpic = render.heat(ulps, lo=0.0, hi=top)
    dpic = np.concatenate([dpic, render.colorbar(dpic.shape[1], 0.0, top, kind="heat")], axis=0)
    return (render.grey(s, lo, hi), render.grey(f, lo, hi), dpic, wrap, report)


def build(ctx) -> None:
    """Lay out and wire tab 2; it fills when first shown."""
    import gradio as gr

    with gr.Tab(f"{ctx.number}. {TITLE}", id=ID) as tab:
        gr.Markdown(INTRO)
        with gr.Row():
            img = gr.Dropdown(ctx.images, value="camera", label="bundled photograph")
            up = gr.File(label="…or upload", file_types=["image"], type="filepath")
            kspec = gr.Textbox(value="gaussian:9", label="kernel (name[:size[:σ]] or [[...]])")
            padchk = gr.Checkbox(value=True, label="zero padding (linear convolution)")
        md = gr.Markdown(elem_id="theorem-report")
        with gr.Row():
            out = [gr.Image(label=label, format="png", interactive=False, buttons=IMAGE_BUTTONS, **kw)
                   for label, kw in (("spatial", {}), ("FFT", {}), ("|spatial − FFT| in units of ε·max|result|", {}),
                                     ("wrap-around error", {"elem_id": "wrap"}))]
    th_in = [img, up, kspec, padchk]
    gr.on([padchk.change, img.change, up.change, kspec.submit], guard(theorem), th_in, [*out, md],
          api_name="theorem", show_progress="hidden", **HEAVY)
    tab.select(guard(theorem), th_in, [*out, md], **api(None), **HEAVY)

"""Tab 3, the Fourier domain: an image's centred spectrum and radial power law, and frequency
filtering with ideal, Gaussian and Butterworth masks (the Gibbs ringing of the ideal one)."""

from __future__ import annotations

import numpy as np

from ... import experiments as ex
from ..._checks import check_float, check_option
from ...fourier import FILTER_KINDS, FILTER_PROFILES
from .. import render
from ..common import HEAVY, IMAGE_BUTTONS, api, guard, load_work_image, plotted

TITLE = "Fourier domain"
INTRO = ("**Try:** move the cutoff of a low-pass mask and watch the edges blur; switch the profile to `ideal` and look for the ringing beside a sharp edge in the line profile.")
ID = "fourier"
API_NAMES = ("spectrum", "filter")


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


def build(ctx) -> None:
    """Lay out and wire tab 3; it fills when first shown."""
    import gradio as gr

    with gr.Tab(f"{ctx.number}. {TITLE}", id=ID) as tab:
        gr.Markdown(INTRO)
        with gr.Row():
            img = gr.Dropdown(ctx.images, value="camera", label="bundled photograph")
            up = gr.File(label="…or upload", file_types=["image"], type="filepath")
        with gr.Row():
            s_img = gr.Image(label="log |F| (centred)", format="png", interactive=False, buttons=IMAGE_BUTTONS)
            s_plot = gr.LinePlot(x="log10 frequency", y="log10 power", color="series",
                                 label="radial power spectrum")
        s_md = gr.Markdown()
        with gr.Row():
            fkind = gr.Radio(list(FILTER_KINDS), value="lowpass", label="mask")
            fprof = gr.Radio(list(FILTER_PROFILES), value="ideal", label="profile")
            fcut = gr.Slider(0.01, 0.5, value=0.08, step=0.005, label="cutoff (cycles/px; band centre)")
            fwid = gr.Slider(0.01, 0.3, value=0.05, step=0.005, label="band width")
            ford = gr.Slider(0.5, 8, value=2, step=0.5, label="Butterworth order")
        with gr.Row():
            f_out = [gr.Image(label=label, format="png", interactive=False, buttons=IMAGE_BUTTONS)
                     for label in ("mask", "result", "removed")]
        f_plot = gr.LinePlot(x="column", y="intensity", color="series", label="line profile (Gibbs ringing)")
        f_md = gr.Markdown()

    def spec_view(image, upload):
        return plotted(spectrum(image, upload), 1)

    def filt(image, upload, kind, cutoff, profile, width, order):
        return plotted(filter_view(image, upload, kind, cutoff, profile, width, order), 3)

    s_out = [s_img, s_plot, s_md]
    gr.on([img.change, up.change], guard(spec_view), [img, up], s_out, api_name="spectrum", show_progress="hidden",
          **HEAVY)
    fl_in = [img, up, fkind, fcut, fprof, fwid, ford]
    fl_out = [*f_out, f_plot, f_md]
    gr.on([c.change for c in (fcut, img, up, fkind, fprof, fwid, ford)], guard(filt), fl_in, fl_out,
          api_name="filter", show_progress="hidden", **HEAVY)
    tab.select(guard(spec_view), [img, up], s_out, **api(None), **HEAVY)
    tab.select(guard(filt), fl_in, fl_out, **api(None), **HEAVY)

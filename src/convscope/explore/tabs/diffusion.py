"""Tab 4, diffusion: softmax(laplacian8 / T) as a propagator, any number of steps exactly, beside
the heat equation; salt concentration spreads and its total is kept."""

from __future__ import annotations

import numpy as np

from ... import experiments as ex
from ..._checks import check_float, check_option, check_whole
from .. import render
from ..common import HEAVY, IMAGE_BUTTONS, WORK_SIZE, api, guard, load_work_image, plotted

TITLE = "Diffusion"
INTRO = ("**Try:** drag the steps slider from 1 to 10⁶ and watch the salt spread; the total stays the same unless the boundary absorbs it.")
ID = "diffusion"
API_NAMES = ("diffuse",)
DIFFUSION_BOUNDARIES = ("circular", "symmetric", "zeros")
DIFFUSION_SOURCES = ("drop", "disc", "image")
MAX_STEPS = 1_000_000
WHY = ("softmax turns the kernel into non-negative weights that sum to 1, a probability density: one step "
       "hands each pixel's salt to its neighbours in those proportions and keeps the total, a random walk; "
       "many steps of it are the heat equation.")


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
    size = check_whole("size", size, min_value=8, max_value=WORK_SIZE)
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
    # one fixed scale, from 0 to the starting peak: a spread-out field is dim, never re-stretched to full range
    top = max(float(np.max(u0)), 1e-12)
    frame = render.heat(u, lo=0.0, hi=top) if source != "image" else render.grey(u, 0.0, top)
    frame = render.upscale(frame, max(1, 256 // frame.shape[0]))
    frame = np.concatenate([frame, render.colorbar(frame.shape[1], 0.0, top,
                                                   kind="heat" if source != "image" else "grey")], axis=0)
    stencil = render.grid_html(P, title=f"propagator softmax(laplacian8 / {temperature:g})", fmt="{:.4f}")
    spread = (f"The field now ranges from {float(u.min()):.3g} to {float(u.max()):.3g} "
              f"(it started at 0 to {top:.3g}).")
    return frame, stencil, rows, WHY + "\n\n" + report + " " + spread


def build(ctx) -> None:
    """Lay out and wire tab 4; it fills when first shown."""
    import gradio as gr

    with gr.Tab(f"{ctx.number}. {TITLE}", id=ID) as tab:
        gr.Markdown(INTRO)
        with gr.Row():
            with gr.Column(scale=1):
                dtemp = gr.Slider(0.5, 20, value=4, step=0.5, label="temperature T of softmax(laplacian8 / T)")
                dsteps = gr.Slider(0, 6, value=2, step=0.05, label="log10 steps (0 = none, 6 = 10⁶)",
                                   elem_id="steps-slider")
                dbound = gr.Radio(list(DIFFUSION_BOUNDARIES), value="symmetric", label="boundary")
                dsrc = gr.Radio(list(DIFFUSION_SOURCES), value="disc", label="start from")
                img = gr.Dropdown(ctx.images, value="camera", label="image (when starting from an image)")
                d_prop = gr.HTML(elem_id="propagator")
            with gr.Column(scale=2):
                d_frame = gr.Image(label="concentration (fixed scale: 0 to the starting peak)", format="png", interactive=False, buttons=IMAGE_BUTTONS,
                                   elem_id="diffusion-frame")
                d_md = gr.Markdown(elem_id="diffusion-report")
                d_plot = gr.LinePlot(x="column", y="concentration", color="series",
                                     label="line profile through the centre, with the heat equation")

    def diff(temperature, log10_steps, boundary, source, image):
        return plotted(diffusion(temperature, log10_steps, boundary, source, image), 2)

    d_in = [dtemp, dsteps, dbound, dsrc, img]
    d_out = [d_frame, d_prop, d_plot, d_md]
    gr.on([c.change for c in (dsteps, dtemp, dbound, dsrc, img)], guard(diff), d_in, d_out, api_name="diffuse",
          show_progress="hidden", trigger_mode="always_last", **HEAVY)
    tab.select(guard(diff), d_in, d_out, **api(None), **HEAVY)

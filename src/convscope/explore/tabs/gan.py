"""Tab 7, the DCGAN: a live generator and discriminator trained in the page (one per visitor), the
fixed-noise samples, the losses, a latent walk and the spectra of real against generated images."""

from __future__ import annotations

import numpy as np

from ... import experiments as ex
from ..._checks import check_option, check_whole, fail
from ...models.dcgan import LOSSES
from ...models.latent import INTERPOLATIONS
from .. import render
from ..common import IMAGE_BUTTONS, api, frame, guard
from ..session import GAN_DATA, GanSession

TITLE = "DCGAN"
INTRO = ("**Try:** press play and watch digits appear from noise within a minute; reset with another loss and compare the curves.")
ID = "gan"
API_NAMES = ("gan_step", "gan_reset", "gan_samples", "gan_walk", "gan_spectrum")
SPECTRUM_SEED = 7
PLAY_SECONDS = 0.4  # of training per tick of play (the tick is 0.5 s): digits appear within a minute
MAX_SEED = 2**32 - 1  # seeds are 32-bit, as on the command line


def gan_walk(session: GanSession, seed_a: int = 1, seed_b: int = 2, frames: int = 8, mode: str = "slerp") -> np.ndarray:
    """A latent walk from ``z(seed_a)`` to ``z(seed_b)``, linear or spherical, as one strip of images
    (:func:`convscope.experiments.interpolate`)."""
    seed_a = check_whole("seed_a", seed_a, min_value=0, max_value=MAX_SEED)
    seed_b = check_whole("seed_b", seed_b, min_value=0, max_value=MAX_SEED)
    frames = check_whole("frames", frames, min_value=3)  # the two ends and at least one between
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
    n = check_whole("n", n, min_value=8, max_value=4096)
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
    if session.trainable and session.step == 0:  # what an untrained G shows is its initial weights' pattern
        flag = f"untrained generator (step 0), so this says nothing about training yet: {flag}"
    report = (f"{flag}. Slopes: real {rep['slope_real']:.2f}, generated {rep['slope_fake']:.2f}; "
              f"high-frequency power ratio {r.high_freq_ratio:.2f}; discrepancy {r.discrepancy:.3f} "
              f"(mean |log10 ratio|, {len(r.real)} images each).")
    return rows, report


def build(ctx) -> None:
    """Lay out and wire tab 7; every callback works on the visitor's own :class:`GanSession`."""
    import gradio as gr

    gans = ctx.gans
    with gr.Tab(f"{ctx.number}. {TITLE}", id=ID) as tab:
        gr.Markdown(INTRO)
        with gr.Row():
            with gr.Column(scale=1):
                with gr.Row():
                    g_play = gr.Button("play", elem_id="gan-play")
                    g_pause = gr.Button("pause", elem_id="gan-pause")
                    g_step = gr.Button("one step", variant="primary", elem_id="gan-step")
                g_reset = gr.Button("reset")
                g_lrg = gr.Number(2e-4, label="learning rate G")
                g_lrd = gr.Number(2e-4, label="learning rate D")
                g_loss = gr.Radio(list(LOSSES), value="bce", label="loss")
                g_n = gr.Slider(1, 50, value=1, step=1, label="updates per step", elem_id="gan-updates")
            with gr.Column(scale=2):
                g_md = gr.Markdown(elem_id="gan-report")
                with gr.Row():
                    g_grid = gr.Image(label="fixed-noise samples", format="png", interactive=False,
                                      buttons=IMAGE_BUTTONS, elem_id="gan-grid")
                    g_real = gr.Image(label="real digits (what it learns from)", format="png", interactive=False,
                                      buttons=IMAGE_BUTTONS, elem_id="gan-real")
                g_plot = gr.LinePlot(x="step", y="value", color="series", label="losses, D(x), D(G(z))")
        with gr.Row():
            g_a = gr.Number(1, label="seed A", precision=0)
            g_b = gr.Number(2, label="seed B", precision=0)
            g_frames = gr.Slider(3, 16, value=8, step=1, label="frames")
            g_mode = gr.Radio(list(INTERPOLATIONS), value="slerp", label="interpolation")
            g_walk_btn = gr.Button("walk")
        g_walk = gr.Image(label="latent walk", format="png", interactive=False, buttons=IMAGE_BUTTONS)
        g_spec_btn = gr.Button("compare spectra (real vs generated)")
        g_splot = gr.LinePlot(x="frequency (cycles per image)", y="log10 power", color="series",
                              label="radial power spectra")
        g_smd = gr.Markdown()
        g_timer = gr.Timer(0.5, active=False)

    def show(session):
        rows = session.curves()
        # an empty frame would fix the plot's colour scale as continuous before any data arrive
        return session.samples(), (frame(rows) if rows["step"] else None), session.report(), session.real()

    def gan_step(n, lr_g, lr_d, loss, request):
        session = gans.get(request.session_hash)
        session.train(n, lr_g=lr_g, lr_d=lr_d, loss=loss)
        return show(session)

    def gan_play(lr_g, lr_d, loss, request):
        session = gans.get(request.session_hash)
        session.train_for(PLAY_SECONDS, lr_g=lr_g, lr_d=lr_d, loss=loss)
        return show(session)

    def gan_reset(request):
        session = gans.get(request.session_hash)
        session.reset()
        return show(session)

    def gan_samples(request):
        return show(gans.get(request.session_hash))

    def walk(seed_a, seed_b, frames, mode, request):
        return gan_walk(gans.get(request.session_hash), seed_a, seed_b, frames, mode)

    def spec(request):
        rows, text = gan_spectrum(gans.get(request.session_hash))
        return frame(rows), text

    def gan_unload(request):
        gans.drop(request.session_hash)

    for f in (gan_step, gan_play, gan_reset, gan_samples, walk, spec, gan_unload):
        f.__annotations__ = {"request": gr.Request}  # Gradio injects the visitor's session

    g_out = [g_grid, g_plot, g_md, g_real]
    g_in = [g_n, g_lrg, g_lrd, g_loss]
    g_step.click(guard(gan_step), g_in, g_out, api_name="gan_step", show_progress="hidden")
    g_timer.tick(guard(gan_play), g_in[1:], g_out, show_progress="hidden", trigger_mode="once", **api(None))
    g_play.click(lambda: gr.Timer(active=True), None, g_timer, **api(None))
    g_pause.click(lambda: gr.Timer(active=False), None, g_timer, **api(None))
    g_reset.click(guard(gan_reset), None, g_out, api_name="gan_reset")
    tab.select(guard(gan_samples), None, g_out, api_name="gan_samples")  # built when first shown
    g_walk_btn.click(guard(walk), [g_a, g_b, g_frames, g_mode], g_walk, api_name="gan_walk")
    g_spec_btn.click(guard(spec), None, [g_splot, g_smd], api_name="gan_spectrum")
    ctx.demo.unload(gan_unload)

"""The Gradio app: seven tabs, each control wired to a callback of :mod:`.callbacks`.

Offline by construction: analytics off (the environment variable is set before
Gradio is imported, and the Blocks flag), a theme with system fonts only, no
share link unless asked, Gradio's temporary files inside the user cache
directory. Every callback is wrapped so that an expected error is a message in
the page (``gr.Error``) and anything else is logged and shown as one line; the
server keeps running.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
from pathlib import Path

from .._checks import ConvscopeError
from . import callbacks as cb
from .callbacks import API_NAMES

__all__ = ["API_NAMES", "build_app", "launch", "cache_dir", "prepare_environment", "THEME_FONTS"]

THEME_FONTS = ("system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif")
_MONO = ("ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace")
log = logging.getLogger("convscope.explore")

CSS = """
.cs-row { display: flex; flex-wrap: wrap; gap: 14px; align-items: center; }
.cs-grid table { border-collapse: collapse; font: 12px ui-monospace, monospace; }
.cs-grid td { border: 1px solid #999; padding: 3px 6px; text-align: right; min-width: 2.2em; }
.cs-grid-title { font-size: 12px; margin-bottom: 4px; }
.cs-op { font-size: 28px; }
"""


def cache_dir() -> Path:
    """The one folder the explorer writes to: the user cache directory (platformdirs)."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("convscope", appauthor=False)) / "explore"


def prepare_environment(cache: Path) -> None:
    """Analytics off and Gradio's files in ``cache``; call before Gradio is imported."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ["GRADIO_TEMP_DIR"] = str(cache / "gradio")
    (cache / "gradio").mkdir(parents=True, exist_ok=True)


def _guard(fn):
    """A callback as the page sees it: expected errors become ``gr.Error`` messages, never a traceback page."""
    import gradio as gr

    @functools.wraps(fn)
    def run(*args, **kw):
        try:
            return fn(*args, **kw)
        except gr.Error:
            raise
        except ConvscopeError as e:
            raise gr.Error(cb.message(e), print_exception=False) from None
        except Exception as e:  # a bug: logged with its traceback, one line in the page
            log.exception("callback %s failed", fn.__name__)
            raise gr.Error(cb.message(e), print_exception=False) from None

    return run


def _api(name: str | None) -> dict:
    """A public endpoint under ``name``, or a private one (one control of several wired to the same callback)."""
    return {"api_name": name} if name else {"api_visibility": "private"}


def _frame(rows: dict[str, list]):
    import pandas as pd

    return pd.DataFrame(rows)


def build_app(*, classifier: str | None = None, gan: str | None = None, cache: Path | None = None,
              train_classifier: bool = True):
    """The explorer as a ``gr.Blocks`` (not launched).

    ``classifier``/``gan``: run folders to load (weights only); without
    ``classifier`` a LeNet is trained on the bundled digits in the background and
    cached in ``cache`` (default :func:`cache_dir`).
    """
    cache = Path(cache) if cache is not None else cache_dir()
    # the run folders load first: a bad path is one line from the CLI before any server starts
    page_up = threading.Event()  # set once the first tab has been filled
    clf = cb.Classifier(cache_dir=cache, run=classifier, start_after=page_up)
    if train_classifier or classifier:
        clf.start(background=True)  # a given run loads here and now; training goes to a thread
    gans = cb.GanSessions(run=gan)  # one live DCGAN per browser session; a loaded --gan run is shared
    if gan:
        gans.get(None).ensure()
    prepare_environment(cache)
    import gradio as gr

    images = cb.image_choices()
    G = _guard
    with gr.Blocks(title="convscope explore", analytics_enabled=False) as demo:
        gr.Markdown("# convscope explore\nConvolution in space, in frequency and as diffusion, then a CNN and a "
                    "DCGAN, live. Every control updates its outputs.")
        with gr.Tabs():
            # ---------------------------------------------------------------- 1
            with gr.Tab("1. Kernels and feature maps", id="kernels"):
                with gr.Row():
                    with gr.Column(scale=1):
                        img1 = gr.Dropdown(images, value="astronaut", label="bundled photograph")
                        up1 = gr.File(label="…or upload an image", file_types=["image"], type="filepath")
                        kname = gr.Dropdown(list(cb.KERNEL_CHOICES), value="laplacian8", label="named kernel")
                        ksize = gr.Radio([3, 5], value=3, label="grid size")
                        sigma = gr.Slider(0.3, 3.0, value=1.0, step=0.1, label="σ (gaussian, log, gabor)")
                        grid = gr.Dataframe(value=cb.kernel_grid("laplacian8", 3), headers=None, datatype="number",
                                            label="kernel (edit any number)", interactive=True,
                                            elem_id="kernel-grid", type="array", column_count=(3, "dynamic"))
                        pool = gr.Radio(list(cb.POOLS), value="max", label="pooling")
                        psize = gr.Radio([2, 4], value=2, label="pool size")
                    with gr.Column(scale=3):
                        meaning = gr.Markdown(elem_id="kernel-meaning")
                        maps = gr.Image(label="feature maps R, G, B (blue < 0 < red); click a pixel",
                                        elem_id="feature-maps", interactive=False, buttons=["download", "fullscreen"], format="png")
                        pooled = gr.Image(label="pooled", elem_id="pooled", interactive=False, buttons=["download", "fullscreen"], format="png")
                        pix = gr.HTML(elem_id="pixel-computation")
                        pc, pr, pcol = (gr.Number(visible=False, value=v) for v in (0, 128, 128))
                kin = [kname, ksize, sigma]
                for c in kin:
                    c.change(G(cb.kernel_grid), kin, grid, **_api("kernel_grid" if c is kname else None),
                             show_progress="hidden")
                fm_in = [img1, up1, grid, pool, psize]
                for c in (grid, img1, up1, pool, psize):  # the public endpoint first: it keeps its name
                    c.change(G(cb.feature_maps), fm_in, [maps, pooled, meaning],
                             **_api("feature_maps" if c is grid else None), show_progress="hidden")

                def select_pixel(evt):
                    return cb.tile_position(*evt.index[:2])

                select_pixel.__annotations__ = {"evt": gr.SelectData}  # Gradio injects the click
                maps.select(select_pixel, None, [pc, pr, pcol], api_visibility="private").then(
                    G(cb.pixel_computation), [img1, up1, grid, pc, pr, pcol], pix, api_name="pixel")
            # ---------------------------------------------------------------- 2
            with gr.Tab("2. Convolution theorem", id="theorem") as tab2:
                with gr.Row():
                    img2 = gr.Dropdown(images, value="camera", label="bundled photograph")
                    up2 = gr.File(label="…or upload", file_types=["image"], type="filepath")
                    kspec = gr.Textbox(value="gaussian:9", label="kernel (name[:size[:σ]] or [[...]])")
                    padchk = gr.Checkbox(value=True, label="zero padding (linear convolution)")
                with gr.Row():
                    t_sp = gr.Image(label="spatial", format="png", interactive=False, buttons=["download", "fullscreen"])
                    t_ff = gr.Image(label="FFT", format="png", interactive=False, buttons=["download", "fullscreen"])
                    t_df = gr.Image(label="|difference| (log)", format="png", interactive=False, buttons=["download", "fullscreen"])
                    t_wr = gr.Image(label="wrap-around error", format="png", interactive=False, buttons=["download", "fullscreen"], elem_id="wrap")
                t_md = gr.Markdown(elem_id="theorem-report")
                th_in = [img2, up2, kspec, padchk]
                for c in (padchk, img2, up2, kspec):
                    ev = c.submit if c is kspec else c.change
                    ev(G(cb.theorem), th_in, [t_sp, t_ff, t_df, t_wr, t_md],
                       **_api("theorem" if c is padchk else None), show_progress="hidden")
            # ---------------------------------------------------------------- 3
            with gr.Tab("3. Fourier domain", id="fourier") as tab3:
                with gr.Row():
                    img3 = gr.Dropdown(images, value="camera", label="bundled photograph")
                    up3 = gr.File(label="…or upload", file_types=["image"], type="filepath")
                with gr.Row():
                    s_img = gr.Image(label="log |F| (centred)", format="png", interactive=False, buttons=["download", "fullscreen"])
                    s_plot = gr.LinePlot(x="log10 frequency", y="log10 power", color="series",
                                         label="radial power spectrum")
                s_md = gr.Markdown()
                with gr.Row():
                    fkind = gr.Radio(["lowpass", "highpass", "bandpass", "bandstop"], value="lowpass", label="mask")
                    fprof = gr.Radio(["ideal", "gaussian", "butterworth"], value="ideal", label="profile")
                    fcut = gr.Slider(0.01, 0.5, value=0.08, step=0.005, label="cutoff (cycles/px; band centre)")
                    fwid = gr.Slider(0.01, 0.3, value=0.05, step=0.005, label="band width")
                    ford = gr.Slider(0.5, 8, value=2, step=0.5, label="Butterworth order")
                with gr.Row():
                    f_mask = gr.Image(label="mask", format="png", interactive=False, buttons=["download", "fullscreen"])
                    f_out = gr.Image(label="result", format="png", interactive=False, buttons=["download", "fullscreen"])
                    f_rem = gr.Image(label="removed", format="png", interactive=False, buttons=["download", "fullscreen"])
                f_plot = gr.LinePlot(x="column", y="intensity", color="series", label="line profile (Gibbs ringing)")
                f_md = gr.Markdown()
                def spec_view(image, upload):
                    return _plotted(cb.spectrum(image, upload), 1)

                for c in (img3, up3):
                    c.change(G(spec_view), [img3, up3], [s_img, s_plot, s_md],
                             **_api("spectrum" if c is img3 else None), show_progress="hidden")
                fl_in = [img3, up3, fkind, fcut, fprof, fwid, ford]

                def filt(image, upload, kind, cutoff, profile, width, order):
                    return _plotted(cb.filter_view(image, upload, kind, cutoff, profile, width, order), 3)

                for c in (fcut, img3, up3, fkind, fprof, fwid, ford):
                    c.change(G(filt), fl_in, [f_mask, f_out, f_rem, f_plot, f_md],
                             **_api("filter" if c is fcut else None), show_progress="hidden")
            # ---------------------------------------------------------------- 4
            with gr.Tab("4. Diffusion", id="diffusion") as tab4:
                with gr.Row():
                    with gr.Column(scale=1):
                        dtemp = gr.Slider(0.5, 20, value=4, step=0.5, label="temperature T of softmax(laplacian8 / T)")
                        dsteps = gr.Slider(0, 6, value=2, step=0.05, label="log10 steps (0 = none, 6 = 10⁶)",
                                           elem_id="steps-slider")
                        dbound = gr.Radio(["circular", "symmetric", "zeros"], value="symmetric", label="boundary")
                        dsrc = gr.Radio(["drop", "disc", "image"], value="disc", label="start from")
                        img4 = gr.Dropdown(images, value="camera", label="image (when starting from an image)")
                        d_prop = gr.Image(label="propagator (heat map)", format="png", interactive=False, buttons=["download", "fullscreen"])
                    with gr.Column(scale=2):
                        d_frame = gr.Image(label="concentration", format="png", interactive=False, buttons=["download", "fullscreen"], elem_id="diffusion-frame")
                        d_md = gr.Markdown(elem_id="diffusion-report")
                        d_plot = gr.LinePlot(x="column", y="concentration", color="series",
                                             label="line profile through the centre, with the heat equation")

                def diff(temperature, log10_steps, boundary, source, image):
                    return _plotted(cb.diffusion(temperature, log10_steps, boundary, source, image), 2)

                d_in = [dtemp, dsteps, dbound, dsrc, img4]
                for c in (dsteps, dtemp, dbound, dsrc, img4):
                    c.change(G(diff), d_in, [d_frame, d_prop, d_plot, d_md],
                             **_api("diffuse" if c is dsteps else None), show_progress="hidden",
                             trigger_mode="always_last")
            # ---------------------------------------------------------------- 5
            with gr.Tab("5. Fractionally-strided convolution", id="fractional") as tab5:
                with gr.Row():
                    fs_n = gr.Slider(1, 8, value=3, step=1, label="input size N")
                    fs_s = gr.Slider(1, 4, value=2, step=1, label="stride s")
                    fs_p = gr.Slider(0, 6, value=1, step=1, label="padding p")
                    fs_k = gr.Slider(1, 7, value=3, step=1, label="kernel size k")
                fs_html = gr.HTML(elem_id="fractional-steps")
                fs_md = gr.Markdown(elem_id="fractional-report")
                fs_in = [fs_n, fs_s, fs_p, fs_k]
                for c in fs_in:
                    c.change(G(cb.fractional), fs_in, [fs_html, fs_md], **_api("fractional" if c is fs_n else None),
                             show_progress="hidden")
            # ---------------------------------------------------------------- 6
            with gr.Tab("6. Recognition", id="recognition"):
                r_status = gr.Markdown(elem_id="classifier-status")
                with gr.Row():
                    with gr.Column(scale=1):
                        # black ink about a tenth of the canvas wide, as MNIST's strokes are
                        sketch = gr.Sketchpad(label="draw a digit (pick the brush)", type="numpy",
                                              image_mode="RGBA", canvas_size=(280, 280), elem_id="sketchpad",
                                              brush=gr.Brush(default_size=14, colors=["#000000"],
                                                             color_mode="fixed"))
                        up6 = gr.File(label="…or upload a digit image", file_types=["image"], type="filepath",
                                      elem_id="digit-upload")
                        r_btn = gr.Button("recognise", variant="primary", elem_id="recognise")
                    with gr.Column(scale=2):
                        r_top = gr.Label(num_top_classes=3, label="top 3", elem_id="prediction")
                        r_seen = gr.Image(label="what the network sees", format="png", interactive=False, buttons=["download", "fullscreen"])
                        r_maps = gr.Image(label="every layer's feature maps (top to bottom)", format="png",
                                          interactive=False, buttons=["download", "fullscreen"])
                with gr.Row():
                    r_filt = gr.Image(label="learned first-layer filters", format="png", interactive=False, buttons=["download", "fullscreen"])
                    r_spec = gr.Image(label="their magnitude spectra", format="png", interactive=False, buttons=["download", "fullscreen"])
                f_btn = gr.Button("show the learned filters")

                def status():
                    return clf.status()

                def pred(sketch, upload):
                    return cb.predict(clf, sketch, upload)

                def filters():
                    return cb.first_layer_filters(clf)

                r_timer = gr.Timer(1.0)
                r_timer.tick(G(status), None, r_status, api_visibility="private", show_progress="hidden")
                demo.load(G(status), None, r_status, api_name="classifier_status")
                r_in = [sketch, up6]
                r_btn.click(G(pred), r_in, [r_top, r_maps, r_seen], api_name="predict")
                up6.upload(G(pred), r_in, [r_top, r_maps, r_seen], api_visibility="private")
                f_btn.click(G(filters), None, [r_filt, r_spec], api_name="filters")
            # ---------------------------------------------------------------- 7
            with gr.Tab("7. DCGAN", id="gan") as tab7:
                with gr.Row():
                    with gr.Column(scale=1):
                        with gr.Row():
                            g_play = gr.Button("play", elem_id="gan-play")
                            g_pause = gr.Button("pause", elem_id="gan-pause")
                            g_step = gr.Button("one step", variant="primary", elem_id="gan-step")
                        g_reset = gr.Button("reset")
                        g_lrg = gr.Number(2e-4, label="learning rate G")
                        g_lrd = gr.Number(2e-4, label="learning rate D")
                        g_loss = gr.Radio(["bce", "hinge"], value="bce", label="loss")
                        g_n = gr.Slider(1, 50, value=1, step=1, label="updates per step", elem_id="gan-updates")
                    with gr.Column(scale=2):
                        g_md = gr.Markdown(elem_id="gan-report")
                        g_grid = gr.Image(label="fixed-noise samples", format="png", interactive=False, buttons=["download", "fullscreen"],
                                          elem_id="gan-grid")
                        g_plot = gr.LinePlot(x="step", y="value", color="series", label="losses, D(x), D(G(z))")
                with gr.Row():
                    g_a = gr.Number(1, label="seed A", precision=0)
                    g_b = gr.Number(2, label="seed B", precision=0)
                    g_frames = gr.Slider(2, 16, value=8, step=1, label="frames")
                    g_mode = gr.Radio(["linear", "slerp"], value="slerp", label="interpolation")
                    g_walk_btn = gr.Button("walk")
                g_walk = gr.Image(label="latent walk", format="png", interactive=False, buttons=["download", "fullscreen"])
                g_spec_btn = gr.Button("compare spectra (real vs generated)")
                g_splot = gr.LinePlot(x="frequency (cycles per image)", y="log10 power", color="series",
                                      label="radial power spectra")
                g_smd = gr.Markdown()

                def show(session):
                    rows = session.curves()
                    # an empty frame would fix the plot's colour scale as continuous before any data arrive
                    return session.samples(), (_frame(rows) if rows["step"] else None), session.report()

                def gan_step(n, lr_g, lr_d, loss, request):
                    session = gans.get(request.session_hash)
                    session.train(n, lr_g=lr_g, lr_d=lr_d, loss=loss)
                    return show(session)

                def gan_reset(request):
                    session = gans.get(request.session_hash)
                    session.reset()
                    return show(session)

                def gan_samples(request):
                    return show(gans.get(request.session_hash))

                def walk(seed_a, seed_b, frames, mode, request):
                    return cb.gan_walk(gans.get(request.session_hash), seed_a, seed_b, frames, mode)

                def spec(request):
                    rows, text = cb.gan_spectrum(gans.get(request.session_hash))
                    return _frame(rows), text

                def gan_unload(request):
                    gans.drop(request.session_hash)

                for f in (gan_step, gan_reset, gan_samples, walk, spec, gan_unload):
                    f.__annotations__ = {"request": gr.Request}  # Gradio injects the visitor's session

                g_out = [g_grid, g_plot, g_md]
                g_in = [g_n, g_lrg, g_lrd, g_loss]
                g_timer = gr.Timer(0.5, active=False)
                g_step.click(G(gan_step), g_in, g_out, api_name="gan_step", show_progress="hidden")
                g_timer.tick(G(gan_step), g_in, g_out, api_visibility="private", show_progress="hidden",
                             trigger_mode="once")
                g_play.click(lambda: gr.Timer(active=True), None, g_timer, api_visibility="private")
                g_pause.click(lambda: gr.Timer(active=False), None, g_timer, api_visibility="private")
                g_reset.click(G(gan_reset), None, g_out, api_name="gan_reset")
                tab7.select(G(gan_samples), None, g_out, api_name="gan_samples")  # built when first shown
                g_walk_btn.click(G(walk), [g_a, g_b, g_frames, g_mode], g_walk, api_name="gan_walk")
                g_spec_btn.click(G(spec), None, [g_splot, g_smd], api_name="gan_spectrum")
                demo.unload(gan_unload)
        # the first tab fills on load; every other tab when it is shown, so the page is ready sooner
        def first_fill(*args):
            try:
                return cb.feature_maps(*args)
            finally:
                page_up.set()

        demo.load(G(first_fill), fm_in, [maps, pooled, meaning], api_visibility="private")
        tab2.select(G(cb.theorem), th_in, [t_sp, t_ff, t_df, t_wr, t_md], api_visibility="private")
        tab3.select(G(spec_view), [img3, up3], [s_img, s_plot, s_md], api_visibility="private")
        tab3.select(G(filt), fl_in, [f_mask, f_out, f_rem, f_plot, f_md], api_visibility="private")
        tab4.select(G(diff), d_in, [d_frame, d_prop, d_plot, d_md], api_visibility="private")
        tab5.select(G(cb.fractional), fs_in, [fs_html, fs_md], api_visibility="private")
    demo.convscope = {"classifier": clf, "gan": gans, "cache": cache}
    return demo


def _plotted(result: tuple, index: int) -> tuple:
    """Turn the long-format rows at ``index`` of a callback's result into a DataFrame for ``gr.LinePlot``."""
    out = list(result)
    out[index] = _frame(out[index])
    return tuple(out)


def theme():
    import gradio as gr

    return gr.themes.Default(font=list(THEME_FONTS), font_mono=list(_MONO))


def launch(demo, *, host: str = "127.0.0.1", port: int = 7860, share: bool = False, browser: bool = True,
           block: bool = True, quiet: bool = False, allow_hosts: tuple[str, ...] = ()) -> str:
    """Serve ``demo``; returns the local URL (``block=False`` returns at once, for tests).

    Every request passes :class:`~convscope.explore.guard.RequestGuard` first: its ``Host`` must be
    a loopback name, ``host`` or one of ``allow_hosts``, and a browser request must come from this
    server's own pages.
    """
    from starlette.middleware import Middleware

    from .guard import RequestGuard, allowed_names

    names = allowed_names(host, allow_hosts)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"convscope explore: warning: listening on {host}: anyone who can reach this machine can use the "
              f"explorer; it answers requests addressed to {', '.join(sorted(names))}", file=sys.stderr)
    # a share link is served through a gradio.live tunnel, under a name known only once it is up
    guard = Middleware(RequestGuard, names=names, port=port, suffixes=(".gradio.live",) if share else ())
    _, url, _ = demo.queue(default_concurrency_limit=1).launch(
        server_name=host, server_port=port, share=share, inbrowser=browser, prevent_thread_lock=not block,
        quiet=quiet, show_error=True, ssr_mode=False, theme=theme(), css=CSS, max_file_size="20mb",
        footer_links=["api"], mcp_server=False, pwa=False, enable_monitoring=False,
        app_kwargs={"middleware": [guard]},
    )
    return url

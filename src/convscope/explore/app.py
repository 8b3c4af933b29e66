"""The Gradio app: it assembles the tabs of :mod:`.tabs`, each of which lays out and wires itself.

Offline by construction: analytics off (the environment variable is set before
Gradio is imported, and the Blocks flag), a theme with system fonts only, no
share link unless asked, Gradio's temporary files inside the user cache
directory. Every callback is wrapped (:func:`.common.guard`) so that an
expected error is a message in the page and anything else is logged and shown
as one line; the server keeps running. Every request passes the request guard
(:mod:`.guard`) before Gradio sees it.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

from platformdirs import user_cache_dir

from .._io import make_folder
from .common import Context, image_choices, sweep_cache
from .session import Classifier, GanSessions
from .tabs import API_NAMES, TABS

__all__ = ["API_NAMES", "build_app", "launch", "cache_dir", "prepare_environment", "THEME_FONTS"]

THEME_FONTS = ("system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif")
_MONO = ("ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace")

CSS = """
.cs-row { display: flex; flex-wrap: wrap; gap: 14px; align-items: center; }
.cs-grid table { border-collapse: collapse; font: 12px ui-monospace, monospace; }
.cs-grid td { border: 1px solid #999; padding: 3px 6px; text-align: right; min-width: 2.2em; }
.cs-grid-title { font-size: 12px; margin-bottom: 4px; }
.cs-op { font-size: 28px; }
#kernel-grid thead th * { visibility: hidden; }  /* blank: the column numbers read as a row of weights */
"""


def cache_dir() -> Path:
    """The one folder the explorer writes to: the user cache directory (platformdirs)."""
    return Path(user_cache_dir("convscope", appauthor=False)) / "explore"


def prepare_environment(cache: Path) -> None:
    """Analytics off and Gradio's files in ``cache``; call before Gradio is imported."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ["GRADIO_TEMP_DIR"] = str(cache / "gradio")
    make_folder(cache / "gradio")
    sweep_cache(cache / "gradio")  # what earlier launches left: empty files, and the oldest past the bound


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
    clf = Classifier(cache_dir=cache, run=classifier, start_after=page_up)
    if train_classifier or classifier:
        clf.start(background=True)  # a given run loads here and now; training goes to a thread
    gans = GanSessions(run=gan)  # one live DCGAN per browser session; a loaded --gan run is shared
    if gan:
        gans.get(None).ensure()
    prepare_environment(cache)
    import gradio as gr

    # Gradio removes this app's temporary files older than an hour, every ten minutes
    with gr.Blocks(title="convscope explore", analytics_enabled=False, delete_cache=(600, 3600)) as demo:
        gr.Markdown("# convscope explore\nConvolution in space, in frequency and as diffusion, then a CNN and a "
                    "DCGAN, live. Every control updates its outputs.")
        ctx = Context(demo=demo, images=image_choices(), classifier=clf, gans=gans, page_up=page_up)
        with gr.Tabs():
            for ctx.number, tab in enumerate(TABS, start=1):
                tab.build(ctx)
    demo.convscope = {"classifier": clf, "gan": gans, "cache": cache}
    return demo


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

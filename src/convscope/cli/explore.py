"""``convscope explore``: the whole story, live in the browser (a local Gradio app)."""

from __future__ import annotations

import importlib.util
import sys

from .common import int_type

# what `convscope[explore]` adds; the rest of convscope never imports these
EXTRA = ("gradio", "pandas")


def register(sub, common) -> None:
    p = sub.add_parser(
        "explore",
        parents=[common],
        help="serve the live explorer: every step of the story as an interactive local web app",
        description="Kernels and feature maps, the convolution theorem, the Fourier domain, diffusion, "
        "fractionally-strided convolution, recognition and a live DCGAN, in the browser. Works with no "
        "network: no analytics, no external assets, no share link unless --share. Writes only to the "
        "user cache directory.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int_type(1, 65535), default=7860, help="port (default 7860)")
    p.add_argument("--classifier", metavar="RUN", default=None,
                   help="a classifier run folder (classify train --out) for the recognition tab; without it a "
                   "LeNet is trained on the bundled digits in the background once and cached")
    p.add_argument("--gan", metavar="RUN", default=None,
                   help="a GAN run folder (gan train --out) whose generator the DCGAN tab shows instead of live training")
    p.add_argument("--allow-host", metavar="NAME", action="append", default=[],
                   help="also answer requests addressed to NAME (repeatable); by default only 127.0.0.1, "
                   "localhost, ::1 and --host are answered, so a page on another site cannot reach the "
                   "explorer by rebinding its DNS name to this machine")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    p.add_argument("--share", action="store_true",
                   help="also create a public gradio.live link (needs the network; off by default)")
    p.set_defaults(func=cmd_explore)


def _missing(names) -> list[str]:
    """The modules in ``names`` that cannot be imported, found without importing them."""
    out = []
    for name in names:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a broken install, or a module set to None in sys.modules
            found = False
        if not found:
            out.append(name)
    return out


def cmd_explore(args) -> int:
    missing = _missing(EXTRA)
    if missing:
        print(f"convscope: error: explore needs {' and '.join(missing)}, which the plain install leaves out: "
              "pip install 'convscope[explore]'", file=sys.stderr)
        return 2
    from ..explore import build_app, launch

    demo = build_app(classifier=args.classifier, gan=args.gan)
    print(f"convscope explore: files go to {demo.convscope['cache']}; press Ctrl-C to stop", flush=True)
    launch(demo, host=args.host, port=args.port, share=args.share, browser=not args.no_browser,
           block=True, quiet=args.quiet, allow_hosts=tuple(args.allow_host))
    return 0

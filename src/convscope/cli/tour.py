"""``convscope tour``: the whole story on bundled data, as a static HTML report."""

from __future__ import annotations

from .common import add_out, out_dir, quiet


def register(sub, common) -> None:
    p = sub.add_parser(
        "tour",
        parents=[common],
        help="run the whole story on bundled data and write an illustrated HTML report",
        description="Feature maps, the convolution theorem, the Fourier domain, diffusion, "
        "fractionally-strided convolution, recognition and a DCGAN, written to DIR/index.html.",
    )
    p.add_argument("--quick", action="store_true", help="short training runs: about a minute on 2 idle cores, at most about 3 under load")
    p.add_argument("--image", default=None, help="photograph for the image steps (default: bundled astronaut/camera)")
    add_out(p, "tour")
    p.set_defaults(func=cmd_tour)


def cmd_tour(args) -> int:
    from ..tour import run_tour

    out = out_dir(args)
    index = run_tour(out, quick=args.quick, image=args.image, seed=args.seed, quiet=quiet(args))
    print(f"wrote the tour report to {index.resolve()}")
    print(f"open it with: xdg-open {index.resolve()}  (or any browser; no network needed)")
    return 0

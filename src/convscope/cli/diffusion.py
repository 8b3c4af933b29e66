"""``convscope diffuse``: convolution as diffusion. Intensity is salt; the softmaxed kernel moves it."""

from __future__ import annotations

import numpy as np

from .common import (
    CLIError,
    add_out,
    display_name,
    float_type,
    int_list_type,
    int_type,
    nonneg_int,
    out_dir,
    progress,
    report,
)

MAX_STEPS = 10**9  # a larger count is a typo, not an experiment (the spectral method still runs it in one go)
SLOW_SECONDS = 60.0  # a literal iteration estimated above this is refused unless --allow-slow

BOUNDARY_HELP = (
    "circular (periodic: salt leaving one side enters the other), "
    "symmetric (no-flux mirror wall, edge repeated: salt is conserved), "
    "zeros (absorbing: salt that jumps off the image is lost); default symmetric"
)
METHOD_HELP = (
    "auto (spectral where exact, else iterate), iterate (literal repeated convolution through the engine), "
    "spectral (exact in one transform: FFT for circular, DCT for symmetric, DST for zeros; "
    "refuses where not exact)"
)


def register(sub, common) -> None:
    p = sub.add_parser(
        "diffuse",
        parents=[common],
        help="convolution as diffusion: the softmaxed kernel spreads the image's intensity like salt",
        description=(
            "Softmax the kernel into a propagator (the probability of each jump), then let the image's "
            "intensity (a salt concentration) diffuse: each step is u <- P ⊛ u. Writes the propagator with "
            "its moments, the frames (PNGs, an animated GIF, a strip), a concentration profile per step "
            "(with the heat-equation solution when --compare-heat) and mass/entropy against steps."
        ),
    )
    p.add_argument("image", nargs="?", default=None,
                   help="image file or bundled name, read as grey (default: camera)")
    p.add_argument("--kernel", default="laplacian8",
                   help="NAME[:SIZE[:SIGMA]], an inline [[..]] literal or a file; odd sizes "
                        "(default laplacian8, the lecture notes' kernel)")
    p.add_argument("--temperature", type=float_type(0.0, strict_lo=True), default=4.0,
                   help="softmax temperature: higher spreads each step further (default 4; the lecture notes' is 1)")
    p.add_argument("--steps", type=int_list_type(0, MAX_STEPS), default="0,10,100,1000",
                   help="comma-separated step counts (default 0,10,100,1000)")
    p.add_argument("--boundary", default="symmetric", help=BOUNDARY_HELP)
    p.add_argument("--method", default="auto", help=METHOD_HELP)
    p.add_argument("--compare-heat", action="store_true",
                   help="overlay the exact heat-equation solution (D from the propagator, t = steps) on the profiles")
    p.add_argument("--drop", nargs="?", const="pixel", default=None, choices=("pixel", "disc"),
                   help="start from a drop of salt instead of an image: a single bright pixel (default) or a disc")
    p.add_argument("--size", type=nonneg_int, default=128,
                   help="resize the image's short side to this / the drop's square side (default 128; 0 keeps)")
    p.add_argument("--gif-frames", type=int_type(2, 1000), default=30, help="frames in the animation (default 30)")
    p.add_argument("--allow-slow", action="store_true",
                   help="run a literal iteration estimated to take over a minute (refused otherwise)")
    add_out(p, "diffuse")
    p.set_defaults(func=cmd_diffuse)


def start_field(args) -> tuple[np.ndarray, str]:
    from ..data.images import load_image
    from ..experiments.diffusion import drop

    if args.drop is None:
        img = load_image(args.image or "camera", gray=True, size=args.size or None)
        return img.astype(np.float64), f"{display_name(args.image or 'camera')} (grey)"
    if args.image is not None:
        raise CLIError("give either IMAGE or --drop, not both")
    n = args.size or 128
    if n < 3:
        raise CLIError(f"--size must be >= 3 for a drop, got {n}")
    from .._checks import check_alloc

    check_alloc("--size", (n, n), "float64", what=f"a {n}x{n} field")
    return drop(n, args.drop), f"a drop of salt ({args.drop})"


def cmd_diffuse(args) -> int:
    from ..experiments.diffusion import diffusion, parse_steps, save_diffusion

    steps = parse_steps(args.steps)
    u0, what = start_field(args)
    res = diffusion(u0, args.kernel, temperature=args.temperature, steps=steps, boundary=args.boundary,
                    method=args.method, gif_frames=args.gif_frames, compare_heat=args.compare_heat,
                    progress=lambda it: progress(it, args=args, desc="diffusing"),
                    max_seconds=None if args.allow_slow else SLOW_SECONDS)
    print(f"propagator = softmax({display_name(args.kernel)} / {args.temperature:g}), shape {res.propagator.shape}:")
    with np.printoptions(precision=6, suppress=False, linewidth=120):
        print("  " + str(res.propagator).replace("\n", "\n  "))
    print("  " + str(res.moments).replace("\n", "\n  "))
    print(f"method: {res.method} ({res.method_reason})")
    out = out_dir(args)
    # an image fades on one scale; a drop is followed on its own scale
    written = save_diffusion(res, out, kernel_label=display_name(args.kernel), what=what, shared=args.drop is None)
    if args.compare_heat:
        if res.heat_drift_dropped:
            print("note: the propagator drifts; the heat solution with walls is drawn without drift")
        print("max |propagator - heat equation| along the profile: "
              + ", ".join(f"{s} steps: {e:.3g}" for s, e in zip(res.steps, res.heat_errors)))
    ms, hs = res.mass, res.entropy
    print(f"mass: {ms[0]:.6g} at 0 steps, {ms[-1]:.6g} at {res.all_steps[-1]} steps; "
          f"entropy {hs[0]:.4g} -> {hs[-1]:.4g} nats")
    report(written, out, args)
    return 0

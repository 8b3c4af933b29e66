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
                        "(default laplacian8, the seed's kernel)")
    p.add_argument("--temperature", type=float_type(0.0, strict_lo=True), default=4.0,
                   help="softmax temperature: higher spreads each step further (default 4; the seed's is 1)")
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


def parse_steps(text: str | list[int]) -> list[int]:
    if isinstance(text, list):  # already parsed by --steps' argparse type
        return text
    try:
        steps = [int(s) for s in text.replace(" ", "").split(",") if s != ""]
    except ValueError:
        steps = []
    if not steps or any(s < 0 for s in steps):
        raise CLIError(f"--steps must be comma-separated integers >= 0 such as 0,10,100, got {text!r}")
    return steps


def _frames_alloc(args, shape: tuple[int, int]) -> None:
    """Refuse before diffusing when the frames kept (every GIF frame and requested step) would not fit."""
    from .._checks import check_alloc

    steps = args.steps if isinstance(args.steps, list) else parse_steps(args.steps)
    n_frames = len(gif_steps(steps, args.gif_frames)) + len(steps)
    check_alloc("--size", (n_frames, *shape), "float64", what=f"{n_frames} frames of {shape[0]}x{shape[1]}")


def start_field(args) -> tuple[np.ndarray, str]:
    from ..data.images import load_image

    if args.drop is None:
        img = load_image(args.image or "camera", gray=True, size=args.size or None)
        _frames_alloc(args, img.shape)
        return img.astype(np.float64), f"{display_name(args.image or 'camera')} (grey)"
    if args.image is not None:
        raise CLIError("give either IMAGE or --drop, not both")
    n = args.size or 128
    if n < 3:
        raise CLIError(f"--size must be >= 3 for a drop, got {n}")
    _frames_alloc(args, (n, n))
    u = np.zeros((n, n))
    if args.drop == "pixel":
        u[n // 2, n // 2] = 1.0
    else:
        y, x = np.mgrid[:n, :n]
        u[(y - n // 2) ** 2 + (x - n // 2) ** 2 <= (n / 10) ** 2] = 1.0
    return u, f"a drop of salt ({args.drop})"


def gif_steps(steps: list[int], n: int) -> list[int]:
    """About ``n`` step counts from 0 to max(steps), spaced geometrically, plus the requested ones."""
    top = max(steps)
    geo = np.unique(np.round(np.geomspace(1, max(top, 1), max(n - 1, 1))).astype(int)) if top > 0 else []
    return sorted({0, *[int(s) for s in geo if s <= top], *steps})


def cmd_diffuse(args) -> int:
    from ..diffusion import (
        diffuse,
        entropy,
        heat_solution,
        mass,
        moments,
        propagator,
        spectral_exact,
    )
    from ..kernels import kernel_from_spec
    from ..viz.diffusion import (
        diffusion_gif,
        diffusion_strip,
        frame_scale,
        mass_entropy_figure,
        profile_figure,
        propagator_figure,
    )

    steps = parse_steps(args.steps)
    if args.gif_frames < 2:
        raise CLIError(f"--gif-frames must be >= 2, got {args.gif_frames}")
    kernel = kernel_from_spec(args.kernel).numpy()
    P = propagator(kernel, temperature=args.temperature)
    m = moments(P)
    u0, what = start_field(args)
    out = out_dir(args)
    written = []

    print(f"propagator = softmax({display_name(args.kernel)} / {args.temperature:g}), shape {P.shape}:")
    with np.printoptions(precision=6, suppress=False, linewidth=120):
        print("  " + str(P).replace("\n", "\n  "))
    print("  " + str(m).replace("\n", "\n  "))
    exact, why = spectral_exact(P, args.boundary)
    method = args.method.strip().lower()
    used = ("spectral" if exact else "iterate") if method == "auto" else method
    print(f"method: {used} ({why})")

    np.save(out / "propagator.npy", P)
    written.append(out / "propagator.npy")
    written.append(propagator_figure(kernel, P, str(m), out / "propagator.png",
                                     title=f"{display_name(args.kernel)} at temperature {args.temperature:g}"))

    all_steps = gif_steps(steps, args.gif_frames)
    frames_all = diffuse(u0, P, all_steps, boundary=args.boundary, method=args.method,
                         progress=lambda it: progress(it, args=args, desc="diffusing"),
                         max_seconds=None if getattr(args, "allow_slow", False) else SLOW_SECONDS)
    by_step = dict(zip(all_steps, frames_all))
    frames = np.stack([by_step[s] for s in steps])
    np.save(out / "frames.npy", frames)
    written.append(out / "frames.npy")

    shared = args.drop is None  # an image fades on one scale; a drop is followed on its own scale
    gamma = 1.0 if shared else 0.5
    for s, f in zip(steps, frame_scale(frames, shared=shared, gamma=gamma)):
        from ..data.images import save_image

        written.append(save_image(out / f"frame_{s:05d}.png", f))
    written.append(diffusion_gif(frames_all, out / "diffusion.gif", shared=shared, gamma=gamma))
    written.append(diffusion_strip(frames, steps, out / "strip.png", shared=shared, gamma=gamma,
                                   title=f"{what} diffusing under softmax({display_name(args.kernel)} / {args.temperature:g}), "
                                         f"{args.boundary} boundary"
                                         + ("" if shared else "; each frame scaled to its own maximum")))

    row = u0.shape[0] // 2
    profiles = [f[row] for f in frames]
    heat = None
    if args.compare_heat:
        drift = m.drift if args.boundary == "circular" else None
        if drift is None and max(abs(v) for v in m.drift) > 1e-12:
            print("note: the propagator drifts; the heat solution with walls is drawn without drift")
        heat = [heat_solution(u0, m.D_axes, float(s), boundary=args.boundary, drift=drift)[row] for s in steps]
        errs = [float(np.abs(h - p).max()) for h, p in zip(heat, profiles)]
        print("max |propagator - heat equation| along the profile: "
              + ", ".join(f"{s} steps: {e:.3g}" for s, e in zip(steps, errs)))
    written.append(profile_figure(profiles, steps, out / "profile.png", heat=heat,
                                  where=f"row {row} of {what}", D=m.D if heat is not None else None))

    ms, hs = mass(frames_all), entropy(frames_all)
    np.savetxt(out / "mass_entropy.csv", np.column_stack([all_steps, ms, hs]), delimiter=",",
               header="steps,mass,entropy_nats", comments="", fmt=["%d", "%.17g", "%.17g"])
    written.append(out / "mass_entropy.csv")
    written.append(mass_entropy_figure(all_steps, ms, hs, out / "mass_entropy.png",
                                       max_entropy=float(np.log(u0.size)), boundary=args.boundary))
    print(f"mass: {ms[0]:.6g} at 0 steps, {ms[-1]:.6g} at {all_steps[-1]} steps; "
          f"entropy {hs[0]:.4g} -> {hs[-1]:.4g} nats")
    report(written, out, args)
    return 0

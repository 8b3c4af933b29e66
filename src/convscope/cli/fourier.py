"""``convscope spectrum``, ``convscope filter`` and ``convscope theorem``: convolution in frequency."""

from __future__ import annotations

import numpy as np

from .common import CLIError, add_out, float_type, nonneg_int, out_dir, positive_int, report

PAD_HELP = ("reflect (mirror the image first: no dark border, default), zeros (the lecture notes' zero padding: "
            "linear convolution with a black border), none (circular: light leaves one edge and comes back at the other)")


def _image_args(p, default_size: int) -> None:
    p.add_argument("image", nargs="?", default=None, help="image file, or a bundled name (default: camera)")
    p.add_argument("--size", type=nonneg_int, default=default_size,
                   help=f"resize the short side to this (default {default_size}; 0 keeps the original)")


# the smallest image (pixels per side) each command can draw something meaningful from:
# a radial profile needs a few rings to fit a slope; the filter panel needs room for its edge crop
MIN_SIZE = {"spectrum": 4, "filter": 8}


def register(sub, common) -> None:
    p = sub.add_parser(
        "spectrum",
        parents=[common],
        help="an image's Fourier spectrum: log magnitude, phase, radial power law",
        description="Draw IMAGE (converted to grey), its centred log magnitude, its phase and its radial power spectrum on "
        "log-log axes with the fitted slope (natural photographs sit near -2).",
    )
    _image_args(p, 0)
    p.add_argument("--bins", type=positive_int, default=None, help="number of frequency rings (default: one per pixel of radius)")
    p.add_argument("--fmin", type=float_type(0.0, 1.0), default=None, help="fit the slope from this frequency (cycles/pixel)")
    p.add_argument("--fmax", type=float_type(0.0, 1.0, strict_lo=True), default=None, help="fit the slope up to this frequency (cycles/pixel)")
    p.add_argument("--window", default=None, choices=["hann"],
                   help="taper the edges first (removes the bright cross the edge-to-edge jump draws)")
    add_out(p, "spectrum")
    p.set_defaults(func=cmd_spectrum, _min_size=MIN_SIZE["spectrum"])

    p = sub.add_parser(
        "filter",
        parents=[common],
        help="filter an image in the frequency domain (low/high/band pass), Gibbs ringing shown",
        description="Multiply IMAGE's spectrum by a mask and transform back. The panel shows the image, the "
        "mask, the filtered spectrum, the result and the removed part, then the ideal and Gaussian profiles "
        "side by side (the ideal one rings: Gibbs).",
    )
    _image_args(p, 0)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--lowpass", type=float_type(0.0, strict_lo=True), metavar="F", help="keep frequencies below F cycles/pixel (default 0.08)")
    g.add_argument("--highpass", type=float_type(0.0, strict_lo=True), metavar="F", help="keep frequencies above F cycles/pixel")
    g.add_argument("--bandpass", metavar="LO:HI", help="keep LO < |f| < HI cycles/pixel")
    g.add_argument("--bandstop", metavar="LO:HI", help="remove LO < |f| < HI cycles/pixel")
    p.add_argument("--profile", default="gaussian", help="ideal | gaussian | butterworth (default gaussian)")
    p.add_argument("--order", type=float_type(0.0, 100.0, strict_lo=True), default=2.0, help="Butterworth order (default 2)")
    p.add_argument("--pad", default="reflect", help=PAD_HELP)
    p.add_argument("--gray", action="store_true", help="convert the image to grey first")
    add_out(p, "filter")
    p.set_defaults(func=cmd_filter, _min_size=MIN_SIZE["filter"])

    p = sub.add_parser(
        "theorem",
        parents=[common],
        help="the convolution theorem: spatial vs FFT convolution, with and without zero padding",
        description="Convolve IMAGE with KERNEL directly and through FFTs; show they agree when zero padded, "
        "and where the unpadded (circular) result wraps around.",
    )
    _image_args(p, 256)
    p.add_argument("--kernel", default="gaussian:15", help="NAME[:SIZE[:SIGMA]], a literal or a file (default gaussian:15)")
    add_out(p, "theorem")
    p.set_defaults(func=cmd_theorem)


def _load(args, gray: bool = True):
    from ..data.images import load_image

    if args.size is not None and args.size < 0:
        raise CLIError(f"--size must be >= 0, got {args.size}")
    return load_image(args.image or "camera", gray=gray, size=args.size or None,
                      min_size=getattr(args, "_min_size", 1))


# ---------------------------------------------------------------------------- spectrum


def cmd_spectrum(args) -> int:
    from ..experiments.spectrum import image_spectrum, save_spectrum

    res = image_spectrum(_load(args).astype(np.float64), bins=args.bins, window=args.window,
                         fmin=args.fmin, fmax=args.fmax)
    out = out_dir(args)
    written = save_spectrum(res, out)
    print(f"radial power spectrum slope: {res.slope:.3f} (natural images sit near -2; white noise 0)")
    report(written, out, args)
    return 0


# ---------------------------------------------------------------------------- filter


def _band(text: str, flag: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in text.split(":"))
    except ValueError as e:
        raise CLIError(f"{flag} must be LO:HI (two numbers in cycles/pixel), got {text!r}") from e
    return lo, hi


def _kind_cutoff(args) -> tuple[str, float | tuple[float, float]]:
    if args.highpass is not None:
        return "highpass", args.highpass
    if args.bandpass is not None:
        return "bandpass", _band(args.bandpass, "--bandpass")
    if args.bandstop is not None:
        return "bandstop", _band(args.bandstop, "--bandstop")
    return "lowpass", 0.08 if args.lowpass is None else args.lowpass


def cmd_filter(args) -> int:
    from ..experiments.filtering import filter_title, filtering, save_filtering

    kind, cutoff = _kind_cutoff(args)
    res = filtering(_load(args, gray=args.gray).astype(np.float64), kind, cutoff, profile=args.profile,
                    order=args.order, pad=args.pad)
    out = out_dir(args)
    written = save_filtering(res, out)
    print(f"{filter_title(res)}: kept {100 * res.kept_energy:.1f}% of the energy")
    report(written, out, args)
    return 0


# ---------------------------------------------------------------------------- theorem


def cmd_theorem(args) -> int:
    from ..experiments.theorem import save_theorem, theorem

    res = theorem(_load(args).astype(np.float64), args.kernel)
    out = out_dir(args)
    written = save_theorem(res, out, kernel_label=args.kernel)
    print(f"padded (linear):   spatial {1e3 * res.spatial_seconds:8.2f} ms   FFT {1e3 * res.frequency_seconds:8.2f} ms   "
          f"FFT grid {res.fft_shape}   largest difference {res.max_abs_diff:.3e}")
    print(f"unpadded (circular): spatial {1e3 * res.circular_spatial_seconds:6.2f} ms   "
          f"FFT {1e3 * res.circular_frequency_seconds:8.2f} ms   largest difference {res.circular_max_abs_diff:.3e}   "
          f"largest wrap-around error {res.max_wrap_error:.3e}")
    report(written, out, args)
    return 0

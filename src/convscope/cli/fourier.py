"""``convscope spectrum``, ``convscope filter`` and ``convscope theorem``: convolution in frequency."""

from __future__ import annotations

import numpy as np

from .common import CLIError, add_out, float_type, nonneg_int, out_dir, positive_int, report

PAD_HELP = ("reflect (mirror the image first: no dark border, default), zeros (the seed's zero padding: "
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


def _save_npy(out, name, arr, written) -> None:
    from .._io import atomic_save

    path = out / name
    atomic_save(path, lambda f: np.save(f, np.asarray(arr)))
    written.append(path)


# ---------------------------------------------------------------------------- spectrum


def cmd_spectrum(args) -> int:
    from ..fourier import fit_power_law, radial_profile, spectrum
    from ..viz.fourier import spectrum_panel

    img = _load(args).astype(np.float64)
    mag, phase = spectrum(img, window=args.window)
    prof = radial_profile(img, bins=args.bins, window=args.window)
    fit = fit_power_law(prof, fmin=args.fmin, fmax=args.fmax)
    out = out_dir(args)
    written = []
    _save_npy(out, "log_magnitude.npy", mag.astype(np.float32), written)
    _save_npy(out, "phase.npy", phase.astype(np.float32), written)
    _save_npy(out, "radial_profile.npy", np.stack([prof.frequency, prof.power]), written)
    fr = None if args.fmin is None and args.fmax is None else (args.fmin or 0.0, args.fmax or 0.5)
    written.append(spectrum_panel(img, mag, phase, prof.frequency, prof.power, fit.slope, fit.intercept,
                                  out / "spectrum_panel.png", fit_range=fr))
    print(f"radial power spectrum slope: {fit.slope:.3f} (natural images sit near -2; white noise 0)")
    report(written, out, args)
    return 0


# ---------------------------------------------------------------------------- filter


def _band(text: str, flag: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in text.split(":"))
    except ValueError as e:
        raise CLIError(f"{flag} must be LO:HI (two numbers in cycles/pixel), got {text!r}") from e
    return lo, hi


def _spec_from_args(args, profile: str | None = None):
    from ..fourier import FilterSpec

    prof = profile or args.profile
    if args.highpass is not None:
        return FilterSpec("highpass", args.highpass, prof, args.order)
    if args.bandpass is not None:
        return FilterSpec("bandpass", _band(args.bandpass, "--bandpass"), prof, args.order)
    if args.bandstop is not None:
        return FilterSpec("bandstop", _band(args.bandstop, "--bandstop"), prof, args.order)
    return FilterSpec("lowpass", 0.08 if args.lowpass is None else args.lowpass, prof, args.order)


def _clean_edge(gray: np.ndarray, w: int = 12) -> tuple[int, int]:
    """(row, col) of a strong horizontal step with flat sides, where ringing is easiest to see."""
    from scipy.ndimage import uniform_filter1d

    H, W = gray.shape
    m = uniform_filter1d(gray, w, axis=1, mode="nearest")
    s = np.sqrt(np.maximum(uniform_filter1d(gray**2, w, axis=1, mode="nearest") - m**2, 0))
    # left window ends at c-1, right window starts at c
    left_m, right_m = np.roll(m, w // 2 + 1, axis=1), np.roll(m, -(w // 2), axis=1)
    left_s, right_s = np.roll(s, w // 2 + 1, axis=1), np.roll(s, -(w // 2), axis=1)
    score = np.abs(right_m - left_m) - 3 * (left_s + right_s)
    r0, r1, c0, c1 = H // 6, 5 * H // 6, max(W // 8, 2 * w), min(7 * W // 8, W - 2 * w)
    if r1 <= r0:  # a small image: search every row / column
        r0, r1 = 0, H
    if c1 <= c0:
        c0, c1 = 0, W
    sub = score[r0:r1, c0:c1]
    i, j = np.unravel_index(int(np.argmax(sub)), sub.shape)
    return r0 + int(i), c0 + int(j)


def cmd_filter(args) -> int:
    from ..fourier import filter_image, spectrum
    from ..viz.fourier import filter_panel

    img = _load(args, gray=args.gray).astype(np.float64)
    spec = _spec_from_args(args)
    H, W = img.shape[-2:]
    result = filter_image(img, spec, pad=args.pad)
    removed = img - result
    mask = spec.mask((H, W)).numpy()
    mag, _ = spectrum(img, log=False)
    filtered_log = np.log1p(mag * mask)
    # the same kind and cutoff with the ideal and the Gaussian profile: Gibbs ringing vs none
    ideal = filter_image(img, _spec_from_args(args, "ideal"), pad=args.pad)
    gauss = filter_image(img, _spec_from_args(args, "gaussian"), pad=args.pad)
    gray = img.mean(0) if img.ndim == 3 else img
    row, col = _clean_edge(gray)
    half = max(16, min(48, W // 6))
    c0, c1 = max(0, col - half), min(W, col + half)
    r0, r1 = max(0, row - half), min(H, row + half)
    cut = W // 2
    fr = np.arange(W - cut) / W
    profiles = {"ideal": (fr, _spec_from_args(args, "ideal").mask((H, W)).numpy()[H // 2, cut:]),
                "gaussian": (fr, _spec_from_args(args, "gaussian").mask((H, W)).numpy()[H // 2, cut:])}
    if spec.profile == "butterworth":
        profiles[f"butterworth n={spec.order:g}"] = (fr, mask[H // 2, cut:])
    label = spec.kind
    comparison = {"ideal": ideal, "gaussian": gauss, "crop": (r0, r1, c0, c1), "row": row,
                  "line_cols": (c0, c1), "label": label, "mask_profiles": profiles}
    cut_txt = (f"{spec.cutoff[0]:g}–{spec.cutoff[1]:g}" if isinstance(spec.cutoff, tuple) else f"{spec.cutoff:g}")
    title = f"{spec.profile} {spec.kind}, cutoff {cut_txt} cycles/pixel, pad={args.pad}"
    out = out_dir(args)
    written = []
    _save_npy(out, "result.npy", result.astype(np.float32), written)
    _save_npy(out, "removed.npy", removed.astype(np.float32), written)
    _save_npy(out, "mask.npy", mask.astype(np.float32), written)
    _save_npy(out, "ideal_result.npy", ideal.astype(np.float32), written)
    _save_npy(out, "gaussian_result.npy", gauss.astype(np.float32), written)
    written.append(filter_panel(img, mask, filtered_log, result, removed, out / "filter_panel.png",
                                title=title, comparison=comparison))
    kept = float((result**2).sum() / max((img**2).sum(), 1e-300))
    print(f"{title}: kept {100 * kept:.1f}% of the energy")
    report(written, out, args)
    return 0


# ---------------------------------------------------------------------------- theorem


def cmd_theorem(args) -> int:
    from ..fourier import convolution_theorem
    from ..kernels import kernel_from_spec
    from ..viz.fourier import theorem_panel

    img = _load(args).astype(np.float64)
    k = kernel_from_spec(args.kernel)
    if k.shape[0] > img.shape[-2] or k.shape[1] > img.shape[-1]:
        raise CLIError(f"--kernel must be no larger than the image {img.shape[-2:]}, got {tuple(k.shape)}")
    lin = convolution_theorem(img, k, pad=True)
    circ = convolution_theorem(img, k, pad=False)
    diff = np.abs(lin.spatial - lin.frequency)
    logdiff = np.log10(np.maximum(diff, 1e-18))  # exact zeros drawn at 1e-18
    out = out_dir(args)
    written = []
    _save_npy(out, "spatial.npy", lin.spatial, written)
    _save_npy(out, "frequency.npy", lin.frequency, written)
    _save_npy(out, "circular.npy", circ.frequency, written)
    _save_npy(out, "wrap_error.npy", circ.wrap_error, written)
    title = (f"convolution theorem, kernel {args.kernel}: spatial {1e3 * lin.spatial_seconds:.2f} ms, "
             f"FFT {1e3 * lin.frequency_seconds:.2f} ms, largest difference {lin.max_abs_diff:.2e}")
    written.append(theorem_panel(lin.spatial, lin.frequency, logdiff, circ.frequency, circ.wrap_error,
                                 circ.wrap, out / "theorem_panel.png", title=title))
    print(f"padded (linear):   spatial {1e3 * lin.spatial_seconds:8.2f} ms   FFT {1e3 * lin.frequency_seconds:8.2f} ms   "
          f"FFT grid {lin.fft_shape}   largest difference {lin.max_abs_diff:.3e}")
    print(f"unpadded (circular): spatial {1e3 * circ.spatial_seconds:6.2f} ms   FFT {1e3 * circ.frequency_seconds:8.2f} ms   "
          f"largest difference {circ.max_abs_diff:.3e}   largest wrap-around error {np.abs(circ.wrap_error).max():.3e}")
    report(written, out, args)
    return 0

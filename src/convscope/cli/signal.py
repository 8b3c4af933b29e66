"""``convscope signal``: a song from the time domain (red) into the frequency domain (blue).

The seed: "If the red signal is a song then the blue values might be the equalizer bars displayed
by your mp3 player". Writes the song, its spectrum with the peaks named, the spectrogram, the
equaliser as a GIF and the continuous theorem's figure; filters and a room on request.
"""

from __future__ import annotations

from .common import CLIError, add_out, float_type, out_dir, report

CONVENTION_HELP = ("the Fourier convention of the theorem figure: unitary_angular (the lecture notes' √(2π), default), "
                   "ordinary (e^{-2πiξx}: no factor), angular (1/2π on the inverse: no factor), "
                   "angular_forward (1/2π on the forward transform: a factor 2π)")


def register(sub, common) -> None:
    p = sub.add_parser(
        "signal",
        parents=[common],
        help="a song in time and frequency: spectrum with note names, equaliser GIF, spectrogram, filters, reverb",
        description=(
            "Read AUDIO (mixed to mono), draw its waveform in red over its magnitude spectrum in blue with the "
            "peaks named (A4 = 440 Hz), its spectrogram and an mp3 player's equaliser bars as a GIF that keeps "
            "time with the sound; the continuous convolution theorem with its √(2π); optionally filter it "
            "(--lowpass/--highpass by an FFT mask, --fir by a FIR kernel) and put it in a room (--reverb, --ir)."
        ),
    )
    p.add_argument("audio", nargs="?", default="sax", metavar="AUDIO",
                   help="an audio file (WAV, FLAC, OGG), or sax (gradio's bundled recording; a synthesised "
                        "melody when gradio is absent), scale (C4..C5), chord or chirp (default sax)")
    p.add_argument("--lowpass", type=float_type(0.0, strict_lo=True), metavar="HZ",
                   help="keep frequencies below HZ (with --highpass: a band-pass between the two)")
    p.add_argument("--highpass", type=float_type(0.0, strict_lo=True), metavar="HZ", help="keep frequencies above HZ")
    p.add_argument("--profile", default="butterworth",
                   help="the FFT mask's profile: ideal, gaussian or butterworth (default butterworth; gain 1/2 at the cutoff)")
    p.add_argument("--order", type=float_type(0.0, 100.0, strict_lo=True), default=4.0, help="Butterworth order (default 4)")
    p.add_argument("--fir", metavar="KERNEL",
                   help="filter by a FIR kernel: a design KIND:HZ[:TAPS[:WINDOW]] (bands KIND:LOW:HIGH[:TAPS[:WINDOW]], "
                        "e.g. bandpass:300:3000:511) or a one-row kernel literal or file ([[0.25,0.5,0.25]])")
    p.add_argument("--reverb", type=float_type(0.0, 60.0, strict_lo=True), metavar="RT60",
                   help="put the song in a synthetic room that rings for RT60 seconds (60 dB down; seeded by --seed)")
    p.add_argument("--ir", metavar="FILE", help="a measured impulse response (audio file) as the room instead")
    p.add_argument("--wet", type=float_type(0.0, 1.0), default=0.35, help="the reverberant share of the mix (default 0.35)")
    p.add_argument("--convention", default="unitary_angular", help=CONVENTION_HELP)
    add_out(p, "signal")
    p.set_defaults(func=cmd_signal)


def _fft_filter(args):
    lo, hi = args.highpass, args.lowpass  # a high-pass keeps above its cutoff, a low-pass below
    if lo is not None and hi is not None:
        if lo >= hi:
            raise CLIError(f"--highpass must be below --lowpass for a band-pass between them, got {lo:g} and {hi:g} Hz")
        return "bandpass", (lo, hi)
    if hi is not None:
        return "lowpass", hi
    if lo is not None:
        return "highpass", lo
    return None


def cmd_signal(args) -> int:
    from ..experiments.signals import (
        continuous_theorem,
        filter_song,
        reverb,
        save_continuous_theorem,
        save_filter_song,
        save_reverb,
        save_song,
        song,
    )
    from ..signals import load_song

    band = _fft_filter(args)
    audio = load_song(args.audio)
    # everything is computed before anything is written: a bad option leaves no half-filled folder
    res = song(audio)
    fs = None if band is None else filter_song(audio, *band, method="fft", profile=args.profile, order=args.order)
    fr = None if args.fir is None else filter_song(audio, fir=args.fir)
    rv = None
    if args.reverb is not None or args.ir is not None:
        rv = reverb(audio, args.reverb, ir=args.ir, wet=args.wet, seed=args.seed)
    th = continuous_theorem(convention=args.convention)

    out = out_dir(args)
    if audio.note:
        print(f"note: {audio.note}")
    written = save_song(res, out)
    print(f"{audio.name}: {audio.duration:.2f} s at {audio.sample_rate} Hz; peaks "
          + ", ".join(p.label for p in res.peaks))
    if fs is not None:
        written += save_filter_song(fs, out, prefix="filtered")
        print(f"filter: {fs.label}; kept {100 * fs.kept_energy:.1f}% of the energy")
    if fr is not None:
        written += save_filter_song(fr, out, prefix="fir")
        print(f"FIR: {fr.label}; kept {100 * fr.kept_energy:.1f}% of the energy")
    if rv is not None:
        written += save_reverb(rv, out)
        print(f"reverb: {rv.ir_name}; measured RT60 {rv.rt60_measured:.3f} s (Schroeder), wet {rv.wet:g}"
              + (f", scaled by {rv.gain:.3f} to stay below clipping" if rv.gain < 1 else ""))
    written += save_continuous_theorem(th, out)
    print(f"continuous theorem ({th.convention}): F[f ⊛ g] = {th.factor:.6g} · F[f] F[g]; "
          f"sampled sides agree to {th.max_error:.1e}, {th.max_error_without_factor:.2f} off without the factor; "
          f"the DFT's own theorem needs no factor ({th.dft_error:.1e})")
    report(written, out, args)
    return 0

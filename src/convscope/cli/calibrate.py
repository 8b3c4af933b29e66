"""``convscope calibrate``: fit the convolution cost model to this machine, or show what ``auto`` uses."""

from __future__ import annotations

import time

from .common import int_type, progress, report


def register(sub, common) -> None:
    p = sub.add_parser(
        "calibrate",
        parents=[common],
        help="fit method='auto''s cost model to this machine (<= 60 s; --quick <= 15 s)",
        description=(
            "Time the convolution candidates (torch direct, OpenCV, FFT, overlap-add) on a grid of "
            "problems, fit the cost constants, and store them in the user cache directory under "
            "this machine's fingerprint (CPU model, thread count, torch/OpenCV/scipy versions, "
            "device). method='auto' uses them whenever the fingerprint matches."
        ),
    )
    p.add_argument("--threads", type=int_type(1, 4096), default=None, help="thread count for torch and OpenCV alike (default: torch's current)")
    p.add_argument("--quick", action="store_true", help="a smaller grid (<= 15 s)")
    p.add_argument("--show", action="store_true", help="print the constants in use and where they came from; time nothing")
    p.set_defaults(func=cmd_calibrate)


def _show(threads: int) -> None:
    from ..conv import planner, select, wisdom

    consts, origin = planner.constants_for(threads)
    fp = wisdom.fingerprint(threads)
    print(f"fingerprint: {', '.join(f'{k}={v}' for k, v in fp.items())}")
    print(f"constants: {origin}")
    width = max(map(len, consts))
    for k, v in consts.items():
        builtin = select.CONSTANTS[k]
        note = "" if abs(v / builtin - 1) < 5e-3 else f"  (built-in {builtin:.3g})"
        print(f"  {k:<{width}}  {v:.4g}{note}")


def cmd_calibrate(args) -> int:
    import torch

    from ..conv import calibration, planner, spatial, wisdom

    threads = args.threads or torch.get_num_threads()
    if args.show:
        _show(threads)
        return 0
    cv2 = spatial.cv2
    old_torch = torch.get_num_threads()
    old_cv = cv2.getNumThreads() if cv2 is not None else None
    torch.set_num_threads(threads)
    if cv2 is not None:
        cv2.setNumThreads(threads)
    bar = progress(total=len(calibration.calibration_grid(args.quick)), args=args, desc="calibrating", unit="problem")
    t0 = time.perf_counter()
    try:
        consts = calibration.calibrate(quick=args.quick, progress=lambda i, n: bar.update(i - bar.n))
    finally:
        bar.close()
        torch.set_num_threads(old_torch)
        if cv2 is not None:
            cv2.setNumThreads(old_cv)
    seconds = time.perf_counter() - t0
    path = wisdom.store_constants(consts, threads, seconds=seconds)
    planner.reset()
    print(f"calibrated {len(consts)} constants for {threads} thread(s) in {seconds:.1f} s")
    report([path], path.parent, args)
    return 0

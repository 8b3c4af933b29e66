"""Benchmark ``convscope.fourier.filter_image`` against skimage.filters.butterworth and plain numpy.fft.

Two tasks, each on 512² and 2048² images in float32 and float64, all three
computing the same Butterworth low-pass (cutoff 0.1 cycles/pixel, order 2,
gain 1/2 at the cutoff; verified equal before timing):

* **circular** (no padding): ours ``pad="none"``; skimage ``npad=0``; numpy
  ``ifft2(fft2(x) * mask).real`` with the mask built once outside the timing.
* **padded** (no wrap-around): ours ``pad="reflect"`` (to fast lengths >= 2N);
  skimage ``npad=N//2`` (edge padding to 2N); numpy ``np.pad(reflect)`` to 2N
  then the same.

Ratios are ours / the faster peer (target <= 1.0). ``ours, 1 thread`` repeats
our timing with ``torch.set_num_threads(1)``: scipy.fft and numpy.fft use
one thread, so that column compares like with like.

Run: ``.venv/bin/python benchmarks/fourier_bench.py [--quick]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import skimage.filters
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import machine, table, write_section
from convscope.fourier import FilterSpec, filter_image, frequency_mask

CUTOFF, ORDER = 0.1, 2


def interleaved(fns: dict, repeat: int, min_time: float = 0.05) -> dict:
    """Median seconds per call of each function, sampling them in turn.

    On a machine shared with other jobs the load drifts; timing the candidates
    round-robin exposes them to the same drift, so their ratio stays fair.
    """
    calls = {}
    for name, fn in fns.items():
        fn()  # warm-up: plans, caches, allocations
        t0 = time.perf_counter()
        fn()
        calls[name] = max(1, int(min_time / max(time.perf_counter() - t0, 1e-7)))
    samples = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(calls[name]):
                fn()
            samples[name].append((time.perf_counter() - t0) / calls[name])
    return {name: statistics.median(v) for name, v in samples.items()}


class _OneThread:
    def __init__(self, fn):
        self.fn = fn

    def __call__(self):
        n = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return self.fn()
        finally:
            torch.set_num_threads(n)


def numpy_filter(x: np.ndarray, mask: np.ndarray, npad: int) -> np.ndarray:
    """The textbook implementation: full complex FFT, multiply, inverse, real part."""
    if npad:
        xp = np.pad(x, npad, mode="reflect")
        return np.fft.ifft2(np.fft.fft2(xp) * mask).real[npad:-npad, npad:-npad]
    return np.fft.ifft2(np.fft.fft2(x) * mask).real


def run(sizes, repeat: int) -> str:
    rng = np.random.default_rng(0)
    spec = FilterSpec("lowpass", CUTOFF, "butterworth", ORDER)
    rows = []
    threads = torch.get_num_threads()
    for task in ("circular", "padded"):
        for n in sizes:
            for dtype in (np.float32, np.float64):
                x = rng.random((n, n)).astype(dtype)
                npad = n // 2 if task == "padded" else 0
                pad = "reflect" if task == "padded" else "none"
                m = n + 2 * npad
                mask = frequency_mask((m, m), "lowpass", CUTOFF, profile="butterworth", order=ORDER,
                                      shift=False).numpy().astype(dtype)

                def ours(x=x, pad=pad):
                    return filter_image(x, spec, pad=pad)

                def sk(x=x, npad=npad):
                    return skimage.filters.butterworth(x, CUTOFF, high_pass=False, order=ORDER, npad=npad)

                def plain(x=x, mask=mask, npad=npad):
                    return numpy_filter(x, mask, npad)

                a, b, c = ours(), sk(), plain()
                assert a.dtype == dtype
                if task == "circular":  # identical definitions: must agree
                    tol = 1e-4 if dtype == np.float32 else 1e-10
                    assert np.abs(a - b).max() <= tol and np.abs(a - c).max() <= tol
                t = interleaved({"ours": ours, "one": _OneThread(ours), "sk": sk, "np": plain}, repeat)
                t_ours, t_one, t_sk, t_np = t["ours"], t["one"], t["sk"], t["np"]
                best = min(t_sk, t_np)
                rows.append([task, f"{n}²", np.dtype(dtype).name, f"{1e3 * t_ours:.1f}", f"{1e3 * t_one:.1f}",
                             f"{1e3 * t_sk:.1f}", f"{1e3 * t_np:.1f}", f"**{t_ours / best:.2f}**",
                             f"{t_one / best:.2f}"])
                print(" | ".join(rows[-1]), flush=True)
    header = ["task", "size", "dtype", f"ours ms ({threads} thr)", "ours ms (1 thr)", "skimage ms", "numpy ms",
              "ratio ours/faster peer", "ratio, 1 thread"]
    return table(header, rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="512² only, fewer repeats; does not write RESULTS.md")
    args = ap.parse_args(argv)
    sizes = (512,) if args.quick else (512, 2048)
    load0 = os.getloadavg()[0]
    body = run(sizes, repeat=3 if args.quick else 5)
    load1 = os.getloadavg()[0]
    if args.quick:
        return 0
    text = (
        "## fourier: `filter_image` vs skimage.filters.butterworth and plain numpy.fft\n\n"
        f"Butterworth low-pass, cutoff {CUTOFF} cycles/pixel, order {ORDER}; median of 5 samples, the four candidates sampled in turn. "
        "*circular*: no padding (ours `pad='none'`, skimage `npad=0`, numpy fft2 — outputs verified equal); "
        "*padded*: ours `pad='reflect'` (fast lengths >= 2N), skimage `npad=N/2` (edge), numpy reflect to 2N. "
        "Ratio = ours / the faster peer, target <= 1.0. Ours uses rfft2, keeps float32 as complex64, and "
        "caches the half-plane mask per grid; skimage rebuilds its mask on every call, numpy's mask was "
        "built once outside the timing.\n\n"
        f"Machine: {machine()}. 1-minute load "
        f"average {load0:.1f} before and {load1:.1f} after, on {os.cpu_count()} cores. "
        "When the threaded `ours` column is far slower than the `1 thr` column, the cause is contention: "
        "torch's intra-op threads (OpenMP/MKL) stall while another process holds a core. "
        "The `ratio, 1 thread` column compares like with like, since scipy.fft and numpy.fft are single-threaded.\n\n"
        + body
    )
    write_section("fourier", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
